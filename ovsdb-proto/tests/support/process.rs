//! ovsdb-server processes a test kills with SIGKILL and starts again on
//! the same database file, socket and port; standalone, Raft-clustered or
//! a relay, optionally also on TCP or SSL, optionally under a file size
//! limit.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::{tool, Pki};

/// How long a server may take to say which port it listens on.
const STEP_LIMIT: Duration = Duration::from_secs(5);

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

/// An inet remote a [`Server`] listens on besides its Unix socket.
pub enum Inet {
    /// `ptcp:PORT:127.0.0.1`.
    Tcp,
    /// `pssl:PORT:127.0.0.1` with these certificates (see
    /// [`make_pki`](super::server::make_pki)).
    Ssl(Pki),
}

/// One ovsdb-server on database file `db` (or a `relay:DB:REMOTE`),
/// listening on `sock` and, if asked, on a TCP port of 127.0.0.1 that
/// stays the same across restarts.
pub struct Server {
    pub name: String,
    db: String,
    sock: PathBuf,
    dir: PathBuf,
    inet: Option<Inet>,
    /// The inet remote's port, once known.
    port: Option<u16>,
    /// The largest file the process may write, in 512-byte blocks.
    file_limit: Option<u64>,
    child: Option<Child>,
}

impl Server {
    /// Starts a server named `name` (its files are `dir/NAME.*`).
    pub fn start(dir: &Path, name: &str, db: &Path) -> Server {
        Self::spawn(dir, name, db.to_string_lossy().into_owned(), None)
    }

    /// Starts a server of `db` that also listens on `inet`, and waits for
    /// its port (the kernel picks it the first time; restarts keep it).
    pub async fn start_inet(dir: &Path, name: &str, db: &Path, inet: Inet) -> Server {
        let mut server = Self::spawn(dir, name, db.to_string_lossy().into_owned(), Some(inet));
        server.wait_port(STEP_LIMIT).await;
        server
    }

    /// Starts a relay of database [`DB`] whose source is `source` (any
    /// remote ovsdb-server takes: `unix:PATH`, `tcp:IP:PORT`).
    pub fn start_relay(dir: &Path, name: &str, source: &str) -> Server {
        Self::spawn(dir, name, format!("relay:{DB}:{source}"), None)
    }

    fn spawn(dir: &Path, name: &str, db: String, inet: Option<Inet>) -> Server {
        let mut server = Server {
            name: name.to_owned(),
            db,
            sock: dir.join(format!("{name}.sock")),
            dir: dir.to_owned(),
            inet,
            port: None,
            file_limit: None,
            child: None,
        };
        server.restart();
        server
    }

    /// Starts a server of `db` that may not write files larger than
    /// `blocks` 512-byte blocks (`ulimit -f`), with SIGXFSZ ignored: a
    /// write past the limit fails with EFBIG ("File too large") instead of
    /// killing it. Its log file is under the limit too.
    pub fn start_with_file_limit(dir: &Path, name: &str, db: &Path, blocks: u64) -> Server {
        let mut server = Server {
            name: name.to_owned(),
            db: db.to_string_lossy().into_owned(),
            sock: dir.join(format!("{name}.sock")),
            dir: dir.to_owned(),
            inet: None,
            port: None,
            file_limit: Some(blocks),
            child: None,
        };
        server.restart();
        server
    }

    /// `unix:PATH` of its client socket.
    pub fn remote(&self) -> String {
        format!("unix:{}", self.sock.display())
    }

    /// `tcp:127.0.0.1:PORT` or `ssl:127.0.0.1:PORT`, for a server started
    /// with [`start_inet`](Self::start_inet).
    pub fn inet_remote(&self) -> String {
        let port = self.port.expect("a server with an inet remote");
        match self.inet {
            Some(Inet::Tcp) => format!("tcp:127.0.0.1:{port}"),
            Some(Inet::Ssl(_)) => format!("ssl:127.0.0.1:{port}"),
            None => unreachable!("a port without an inet remote"),
        }
    }

    /// Starts the process again (it must not be running).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let file = |ext: &str| self.dir.join(format!("{}.{ext}", self.name));
        let mut command = match self.file_limit {
            None => Command::new(tool("ovsdb-server")),
            Some(blocks) => {
                // An ignored signal stays ignored across exec. POSIX sh
                // counts `ulimit -f` in 512-byte blocks.
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(r#"trap '' XFSZ; ulimit -f "$1" || exit 1; shift; exec "$@""#)
                    .arg("sh")
                    .arg(blocks.to_string())
                    .arg(tool("ovsdb-server"));
                sh
            }
        };
        command
            .arg(&self.db)
            .arg(format!("--remote=punix:{}", self.sock.display()));
        // Port 0 the first time: the kernel picks a free one.
        let port = self.port.unwrap_or(0);
        match &self.inet {
            None => {}
            Some(Inet::Tcp) => {
                command.arg(format!("--remote=ptcp:{port}:127.0.0.1"));
            }
            Some(Inet::Ssl(pki)) => {
                command
                    .arg(format!("--remote=pssl:{port}:127.0.0.1"))
                    .arg(format!("--private-key={}", pki.server_key.display()))
                    .arg(format!("--certificate={}", pki.server_cert.display()))
                    .arg(format!("--ca-cert={}", pki.ca.display()));
            }
        }
        let child = command
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

    /// Reads the inet port the server chose from its log.
    async fn wait_port(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("{} exited ({status}): {}", self.name, self.log());
            }
            let port = self.log().lines().find_map(|line| {
                let (_, rest) = line.split_once("listening on port ")?;
                rest.trim().parse::<u16>().ok()
            });
            if port.is_some() {
                self.port = port;
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} did not say its port: {}", self.name, self.log());
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process with SIGKILL: no goodbye, no cleanup.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the client socket (and the inet port, if any) to accept
    /// connections.
    pub async fn wait_listening(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("{} exited ({status}): {}", self.name, self.log());
            }
            let unix = tokio::net::UnixStream::connect(&self.sock).await.is_ok();
            let inet = match self.port {
                None => true,
                Some(port) => tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok(),
            };
            if unix && inet {
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
    /// Runs `ovs-appctl` on this server's control socket, within 5 s, off
    /// the test's thread (so the session's tasks, on that thread, run
    /// meanwhile).
    pub async fn appctl_async(&self, args: &[&str]) -> String {
        let ctl = self.dir.join(format!("{}.ctl", self.name));
        let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(tool("ovs-appctl"))
                .arg("--timeout=5")
                .arg("-t")
                .arg(&ctl)
                .args(&owned)
                .output()
        })
        .await
        .expect("ovs-appctl ran")
        .expect("ovs-appctl runs");
        assert!(
            out.status.success(),
            "ovs-appctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

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
