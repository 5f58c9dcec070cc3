//! ovsdb-server processes a test kills with SIGKILL and starts again on
//! the same database file and socket; standalone or Raft-clustered.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::tool;

/// A schema with one table whose integer `key` is unique, so a
/// transaction inserting a key cannot commit twice.
pub const SCHEMA: &str = r#"{
  "name": "Test",
  "version": "1.0.0",
  "tables": {
    "Item": {
      "isRoot": true,
      "indexes": [["key"]],
      "columns": {"key": {"type": "integer"}}
    }
  }
}"#;

pub const DB: &str = "Test";

/// Writes [`SCHEMA`] into `dir`.
pub fn write_schema(dir: &Path) -> PathBuf {
    let path = dir.join("item.ovsschema");
    std::fs::write(&path, SCHEMA).expect("writing the schema");
    path
}

/// Runs `ovsdb-tool` with `args`, panicking with its stderr on failure.
pub fn ovsdb_tool(args: &[&str]) {
    let out = Command::new(tool("ovsdb-tool"))
        .args(args)
        .output()
        .expect("ovsdb-tool runs");
    assert!(
        out.status.success(),
        "ovsdb-tool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One ovsdb-server on database file `db`, listening on `sock`.
pub struct Server {
    pub name: String,
    db: PathBuf,
    sock: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts a server named `name` (its files are `dir/NAME.*`).
    pub fn start(dir: &Path, name: &str, db: &Path) -> Server {
        let mut server = Server {
            name: name.to_owned(),
            db: db.to_owned(),
            sock: dir.join(format!("{name}.sock")),
            dir: dir.to_owned(),
            child: None,
        };
        server.restart();
        server
    }

    /// `unix:PATH` of its client socket.
    pub fn remote(&self) -> String {
        format!("unix:{}", self.sock.display())
    }

    /// Starts the process again (it must not be running).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let file = |ext: &str| self.dir.join(format!("{}.{ext}", self.name));
        let child = Command::new(tool("ovsdb-server"))
            .arg(&self.db)
            .arg(format!("--remote=punix:{}", self.sock.display()))
            .arg("--no-chdir")
            .arg(format!("--pidfile={}", file("pid").display()))
            .arg(format!("--log-file={}", file("log").display()))
            .arg(format!("--unixctl={}", file("ctl").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting ovsdb-server");
        self.child = Some(child);
    }

    /// Kills the process with SIGKILL: no goodbye, no cleanup.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the client socket to accept connections.
    pub async fn wait_listening(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("{} exited ({status}): {}", self.name, self.log());
            }
            if tokio::net::UnixStream::connect(&self.sock).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} did not listen: {}", self.name, self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.log", self.name))).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `key`s of the `Item` rows that `updates` insert (or list as
/// initial rows), in order.
pub fn keys_added(updates: &ovsdb_proto::client::Updates) -> Vec<i64> {
    use ovsdb_proto::atom::Atom;
    use ovsdb_proto::client::Updates;
    use ovsdb_proto::monitor::RowUpdate2;

    let Updates::Update2(tables) = updates else {
        panic!("expected update2-style changes: {updates:?}");
    };
    let mut keys = Vec::new();
    for update in tables.get("Item").into_iter().flat_map(|t| t.values()) {
        if let RowUpdate2::Initial(row) | RowUpdate2::Insert(row) = update {
            match row.get("key").and_then(|d| d.as_atom()) {
                Some(Atom::Integer(k)) => keys.push(*k),
                // update2 leaves out columns at their default: key 0.
                None if row.get("key").is_none() => keys.push(0),
                other => panic!("an Item row without its key: {other:?}"),
            }
        }
    }
    keys
}

/// Waits until the server at `remote` leads `DB` (at once when
/// standalone).
pub async fn wait_leader(remote: &str, limit: Duration) {
    use ovsdb_proto::client::{leadership, OvsdbClient};

    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(client) = OvsdbClient::connect(remote).await {
            if let Ok(watch) = leadership(&client, DB, limit).await {
                if watch.leads() {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{remote} did not come to lead {DB}");
}

/// A transaction inserting the `Item` with `key`.
pub fn insert_item(
    client: &ovsdb_proto::client::OvsdbClient,
    key: i64,
) -> ovsdb_proto::client::Transaction {
    use ovsdb_proto::atom::Atom;
    use ovsdb_proto::datum::Row;

    let mut row = Row::new();
    row.insert("key".into(), Atom::Integer(key).into());
    client.transact(DB).insert("Item", row)
}

impl Server {
    /// Runs `ovs-appctl` on this server's control socket, within 5 s.
    pub fn appctl(&self, args: &[&str]) -> String {
        let ctl = self.dir.join(format!("{}.ctl", self.name));
        let out = Command::new(tool("ovs-appctl"))
            .arg("--timeout=5")
            .arg("-t")
            .arg(&ctl)
            .args(args)
            .output()
            .expect("ovs-appctl runs");
        assert!(
            out.status.success(),
            "ovs-appctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
