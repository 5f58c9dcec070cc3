//! `examples/ovsdb_client` beside Open vSwitch's own `ovsdb-client`: both
//! run with the same arguments against one real ovsdb-server (Debian's
//! openvswitch-common), and print the same.
//!
//! Each test starts its own server on a Unix socket in a temporary
//! directory, with `ovsdb-proto/schemas/test.ovsschema` and a few rows of
//! every kind of column (sets, maps, references, UUIDs, reals, strings
//! that print quoted). Outputs are compared byte for byte, except where
//! `ovsdb-client` prints rows in its hash table's order (list-tables,
//! list-columns, a monitor's rows): there the lines, or the JSON rows, are
//! compared as sorted.
//!
//! Without ovsdb-server, ovsdb-tool or ovsdb-client these tests fail,
//! saying how to install them. Every wait is bounded.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where Debian puts the tools: ovsdb-server is in /usr/sbin, which a
/// non-root PATH may lack.
const EXTRA_DIRS: [&str; 3] = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

const INSTALL_HINT: &str = "install Debian's openvswitch-common (as root: \
     scripts/install/ovs.sh, or apt-get install openvswitch-common)";

/// The bound on any one command.
const COMMAND_LIMIT: Duration = Duration::from_secs(10);

/// How long to wait for one line of a monitor.
const LINE_LIMIT: Duration = Duration::from_secs(5);

/// The rows every test starts with: two disks, two hosts, one of them
/// with every column set.
const FILL: &str = r#"["Test",
  {"op":"insert","table":"Disk","row":{"size":10,"label":"d1"},"uuid-name":"d1"},
  {"op":"insert","table":"Disk","row":{"size":20},"uuid-name":"d2"},
  {"op":"insert","table":"Host","uuid-name":"h1","row":{
     "name":"web1","address":"10.0.0.1","port":80,"load":0.25,"enabled":true,
     "state":"up","level":2,
     "serial":["uuid","550e8400-e29b-41d4-a716-446655440000"],
     "tags":["set",["a","b c","x\"y","true","café","tab\there",
                    "0b5c4f4e-0000-4000-8000-000000000001"]],
     "scores":["set",[1.5,2,0.1]],
     "options":["map",[["k1","v1"],["k 2","v 2"]]],
     "limits":["map",[["cpu",4],["mem",1024]]],
     "disks":["set",[["named-uuid","d1"],["named-uuid","d2"]]],
     "by_name":["map",[["first",["named-uuid","d1"]]]]}},
  {"op":"insert","table":"Host","row":{
     "name":"db1","address":"10.0.0.2","port":5432,"state":"down",
     "peer":["named-uuid","h1"],"load":1e-5}}
]"#;

/// The path of tool `name`, or a panic saying how to install it.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed; {INSTALL_HINT}"))
}

/// Our example, which `cargo test` builds beside the test binaries:
/// `target/debug/examples/ovsdb_client`.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug/deps")
        .join("examples")
        .join("ovsdb_client");
    assert!(
        path.is_file(),
        "{} is missing: run this test with `cargo test`, which builds the examples",
        path.display()
    );
    path
}

/// Runs `command` to its end, killing it past [`COMMAND_LIMIT`].
fn run_bounded(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let deadline = Instant::now() + COMMAND_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{command:?} ran past {COMMAND_LIMIT:?}");
            }
        }
    }
    child.wait_with_output().expect("the command's output")
}

/// A real ovsdb-server with the test database, filled, killed when
/// dropped.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
    /// `unix:PATH`
    remote: String,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cli-")
            .tempdir()
            .expect("a temporary directory");
        let db = dir.path().join("test.db");
        let schema =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("ovsdb-proto/schemas/test.ovsschema");
        let out = run_bounded(
            Command::new(tool("ovsdb-tool"))
                .arg("create")
                .arg(&db)
                .arg(&schema),
        );
        assert!(
            out.status.success(),
            "ovsdb-tool create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sock = dir.path().join("db.sock");
        let child = Command::new(tool("ovsdb-server"))
            .arg(&db)
            .arg(format!("--remote=punix:{}", sock.display()))
            .arg("--no-chdir")
            .arg(format!("--pidfile={}", dir.path().join("pid").display()))
            .arg(format!("--log-file={}", dir.path().join("log").display()))
            .arg(format!("--unixctl={}", dir.path().join("ctl").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting ovsdb-server: {e}; {INSTALL_HINT}"));
        let mut server = Server {
            child,
            remote: format!("unix:{}", sock.display()),
            dir,
        };
        let deadline = Instant::now() + COMMAND_LIMIT;
        while !sock.exists() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("ovsdb-server exited at start ({status}): {}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "ovsdb-server did not listen: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let filled = server.ovs(&["transact", &server.remote, FILL]);
        assert!(!filled.contains("error"), "filling the database: {filled}");
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// What `ovsdb-client ARGS` prints, checking that it succeeds.
    fn ovs(&self, args: &[&str]) -> String {
        let out = run_bounded(Command::new(tool("ovsdb-client")).args(args));
        assert!(
            out.status.success(),
            "ovsdb-client {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// The outputs of `ovsdb-client ARGS` and `ovsdb_client ARGS`, in that
    /// order, each with its exit status (and its error output when it
    /// failed).
    fn both(&self, args: &[&str]) -> (String, String) {
        let describe = |out: Output| {
            let mut text = String::from_utf8(out.stdout).expect("UTF-8 output");
            if !out.status.success() {
                text.push_str(&format!(
                    "[exit {:?}] {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            text
        };
        let theirs = describe(run_bounded(Command::new(tool("ovsdb-client")).args(args)));
        let ours = describe(run_bounded(Command::new(example()).args(args)));
        (theirs, ours)
    }

    /// Checks that both print exactly the same, and something.
    fn same(&self, args: &[&str]) -> String {
        let (theirs, ours) = self.both(args);
        assert!(!theirs.is_empty(), "ovsdb-client {args:?} printed nothing");
        assert_eq!(ours, theirs, "ovsdb_client {args:?} (left: ours)");
        ours
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A table printed as text with its rows sorted: the lines up to and
/// including the dashes under the headings stay where they are.
fn rows_sorted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("--") {
            rows.sort();
            out.append(&mut rows);
            out.push(line.to_owned());
        } else {
            rows.push(line.to_owned());
        }
    }
    rows.sort();
    out.append(&mut rows);
    out
}

/// Each line of JSON tables, parsed, with its `data` rows sorted.
fn json_tables_sorted(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let mut table: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if let Some(Value::Array(data)) = table.get_mut("data") {
                data.sort_by_key(|row| row.to_string());
            }
            table
        })
        .collect()
}

/// Replaces every UUID in `text` by `<uuid>`.
fn mask_uuids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let candidate = rest
            .get(..36)
            .filter(|s| ovsdb_proto::atom::Uuid::try_parse(s).is_ok());
        if candidate.is_some() {
            out.push_str("<uuid>");
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[test]
fn list_dbs_is_the_same() {
    let server = Server::start();
    let out = server.same(&["list-dbs", &server.remote]);
    assert_eq!(out, "Test\n_Server\n");
    // --format has no effect on it, in either.
    server.same(&["--format=json", "list-dbs", &server.remote]);
}

#[test]
fn get_schema_is_the_same() {
    let server = Server::start();
    let r = server.remote.as_str();
    let out = server.same(&["get-schema", r]);
    assert!(out.starts_with(r#"{"cksum":"1866728505 2074","name":"Test","#));
    server.same(&["get-schema", r, "Test"]);
    server.same(&["--pretty", "get-schema", r, "Test"]);
    server.same(&["get-schema", r, "_Server"]);
}

#[test]
fn list_tables_and_columns_are_the_same_rows() {
    let server = Server::start();
    let r = server.remote.as_str();
    for args in [
        vec!["list-tables", r],
        vec!["list-tables", r, "_Server"],
        vec!["list-columns", r],
        vec!["list-columns", r, "Test", "Host"],
        vec!["list-columns", r, "Test", "Disk"],
    ] {
        let (theirs, ours) = server.both(&args);
        assert!(!theirs.is_empty(), "{args:?}");
        assert_eq!(rows_sorted(&ours), rows_sorted(&theirs), "{args:?}");
        let mut json = vec!["--format=json"];
        json.extend(&args);
        let (theirs, ours) = server.both(&json);
        assert_eq!(
            json_tables_sorted(&ours),
            json_tables_sorted(&theirs),
            "{json:?}"
        );
    }
}

#[test]
fn transact_prints_the_same_results() {
    let server = Server::start();
    let r = server.remote.as_str();
    let select = r#"["Test",{"op":"select","table":"Host","where":[]},
        {"op":"select","table":"Disk","where":[["size",">",15]],"columns":["size","label"]}]"#;
    server.same(&["transact", r, select]);
    server.same(&["--pretty", "transact", r, select]);
    // Each sets the same thing: one row changed each time.
    server.same(&[
        "transact",
        r,
        r#"["Test",{"op":"update","table":"Host","where":[["name","==","db1"]],"row":{"port":6000}},
            {"op":"mutate","table":"Host","where":[["name","==","db1"]],
             "mutations":[["tags","insert",["set",["m"]]]]},
            {"op":"comment","comment":"cli test"}]"#,
    ]);
    // Errors are results too: an operation's, and those not run after it.
    server.same(&[
        "transact",
        r,
        r#"["Test",{"op":"update","table":"Host","where":[],"row":{"state":"sideways"}},
            {"op":"delete","table":"Host","where":[]}]"#,
    ]);
    // Inserts differ only in the new rows' UUIDs (which a commit's error
    // names).
    let insert = r#"["Test",{"op":"insert","table":"Disk","row":{"size":3}}]"#;
    let (theirs, ours) = server.both(&["transact", r, insert]);
    assert!(theirs.starts_with(r#"[{"uuid":["uuid","#), "{theirs}");
    assert_eq!(mask_uuids(&ours), mask_uuids(&theirs));
    let duplicate = r#"["Test",{"op":"insert","table":"Host",
        "row":{"name":"web1","address":"10.0.0.1","port":80,"state":"up"}}]"#;
    let (theirs, ours) = server.both(&["transact", r, duplicate]);
    assert!(theirs.contains("constraint violation"), "{theirs}");
    assert_eq!(mask_uuids(&ours), mask_uuids(&theirs));
}

#[test]
fn query_prints_the_same_and_changes_nothing() {
    let server = Server::start();
    let r = server.remote.as_str();
    let before = server.ovs(&["dump", r]);
    server.same(&[
        "query",
        r,
        r#"["Test",{"op":"delete","table":"Disk","where":[]},
            {"op":"select","table":"Host","where":[["port","<",100]],"columns":["name","scores"]}]"#,
    ]);
    server.same(&[
        "--pretty",
        "query",
        r,
        r#"["Test",{"op":"select","table":"Host","where":[]}]"#,
    ]);
    // A query whose own operation fails keeps that error.
    server.same(&[
        "query",
        r,
        r#"["Test",{"op":"select","table":"Nope","where":[]}]"#,
    ]);
    let insert = r#"["Test",{"op":"insert","table":"Disk","row":{"size":3}}]"#;
    let (theirs, ours) = server.both(&["query", r, insert]);
    assert_eq!(mask_uuids(&ours), mask_uuids(&theirs));
    assert_eq!(
        server.ovs(&["dump", r]),
        before,
        "a query changed the database"
    );
}

#[test]
fn dump_is_the_same_in_every_format() {
    let server = Server::start();
    let r = server.remote.as_str();
    let table = server.same(&["dump", r]);
    // Sets, maps, references and strings that need quotes, as OVSDB
    // writes them for people.
    for cell in [
        "Disk table",
        "\nHost table",
        r#"[0.1, 1.5, 2]"#,
        r#"{"k 2"="v 2", k1=v1}"#,
        "{cpu=4, mem=1024}",
        r#""0b5c4f4e-0000-4000-8000-000000000001""#,
        r#""tab\there""#,
        "\"true\"",
        "café",
        "1e-05",
    ] {
        assert!(table.contains(cell), "{cell} not in\n{table}");
    }
    for args in [
        vec!["dump", r, "Test"],
        vec!["dump", r, "Test", "Host"],
        vec!["dump", r, "Test", "Host", "tags", "name", "_uuid"],
        vec!["dump", r, "Test", "Disk", "label"],
        vec!["--format=json", "dump", r],
        vec!["--format=json", "--pretty", "dump", r],
        vec![
            "--format=json",
            "dump",
            r,
            "Test",
            "Host",
            "options",
            "limits",
        ],
        vec!["--format=csv", "dump", r],
        vec!["--format=list", "dump", r],
        vec!["--no-headings", "dump", r],
        vec!["dump", r, "_Server"],
        // Options may follow the command, as getopt has them.
        vec!["dump", r, "Test", "Disk", "--format=json", "--pretty"],
    ] {
        server.same(&args);
    }
    // Errors: both fail.
    for args in [
        vec!["dump", r, "Test", "Nope"],
        vec!["dump", r, "Test", "Host", "nope"],
    ] {
        let (theirs, ours) = server.both(&args);
        assert!(theirs.contains("[exit Some(1)]"), "{theirs}");
        assert!(ours.contains("[exit Some(1)]"), "{ours}");
    }
}

/// A running monitor whose lines are read as they come.
struct Monitor {
    child: Child,
    lines: mpsc::Receiver<String>,
    name: String,
}

impl Monitor {
    fn start(program: &Path, args: &[&str]) -> Monitor {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Monitor {
            child,
            lines,
            name: program.display().to_string(),
        }
    }

    /// The next `n` lines, joined, each waited for at most [`LINE_LIMIT`].
    fn read(&self, n: usize) -> String {
        let mut text = String::new();
        for i in 0..n {
            let line = self.lines.recv_timeout(LINE_LIMIT).unwrap_or_else(|e| {
                panic!(
                    "{}: line {i} of {n} did not come ({e}); so far:\n{text}",
                    self.name
                )
            });
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts both monitors with `args`, reads `initial` lines of each, makes
/// each change in `changes` and reads the lines it brings, and returns
/// both transcripts, one piece per step.
fn monitor_both(
    server: &Server,
    args: &[&str],
    initial: usize,
    changes: &[(&str, usize)],
) -> (Vec<String>, Vec<String>) {
    let theirs = Monitor::start(&tool("ovsdb-client"), args);
    let ours = Monitor::start(&example(), args);
    let mut t = vec![theirs.read(initial)];
    let mut o = vec![ours.read(initial)];
    for (change, lines) in changes {
        server.ovs(&["transact", &server.remote, change]);
        t.push(theirs.read(*lines));
        o.push(ours.read(*lines));
    }
    (t, o)
}

const MODIFY: &str = r#"["Test",{"op":"update","table":"Host","where":[["name","==","db1"]],
    "row":{"tags":["set",["x","y"]],"port":5433,"scores":["set",[3]]}}]"#;
const INSERT: &str = r#"["Test",{"op":"insert","table":"Host","row":{
    "name":"n3","address":"a3","port":1,"state":"unknown","options":["map",[["a b","c"]]]}}]"#;
const DELETE: &str = r#"["Test",{"op":"delete","table":"Host","where":[["name","==","n3"]]}]"#;

#[test]
fn monitor_json_prints_the_same_changes() {
    let server = Server::start();
    let r = server.remote.as_str();
    let args = [
        "--format=json",
        "monitor",
        r,
        "Test",
        "Host",
        "name,tags,peer,scores,options",
    ];
    let changes = [(MODIFY, 1), (INSERT, 1), (DELETE, 1)];
    let (theirs, ours) = monitor_both(&server, &args, 1, &changes);
    // The initial rows come in ovsdb-client's hash order.
    assert_eq!(json_tables_sorted(&ours[0]), json_tables_sorted(&theirs[0]));
    assert!(theirs[0].contains(r#""initial","web1""#), "{}", theirs[0]);
    // One row per change: the same, byte for byte.
    assert_eq!(ours[1..], theirs[1..]);
    assert!(theirs[1].contains(r#""old",null"#), "{}", theirs[1]);
    assert!(theirs[2].contains(r#""insert","n3""#), "{}", theirs[2]);
    assert!(theirs[3].contains(r#""delete","n3""#), "{}", theirs[3]);
}

#[test]
fn monitor_table_prints_the_same_changes() {
    let server = Server::start();
    let r = server.remote.as_str();
    // All columns, _version last; the server and database taken by default
    // after the server.
    let args = ["monitor", r, "Host"];
    // Headings, dashes, two rows; then a blank line before each table.
    let changes = [(MODIFY, 5), (INSERT, 4), (DELETE, 4)];
    let (theirs, ours) = monitor_both(&server, &args, 4, &changes);
    assert_eq!(rows_sorted(&ours[0]), rows_sorted(&theirs[0]));
    assert!(theirs[0].starts_with("row "), "{}", theirs[0]);
    assert_eq!(ours[1..], theirs[1..]);
    assert!(theirs[1].contains(" old "), "{}", theirs[1]);

    // Only some columns, and no inserts: the insert prints nothing, so the
    // lines after it are the modification's.
    let args = ["monitor", r, "Test", "Host", "name,port,tags,!insert"];
    // (The first part made MODIFY's change already.)
    let modify = r#"["Test",{"op":"mutate","table":"Host","where":[["name","==","db1"]],
        "mutations":[["port","+=",1],["tags","delete",["set",["x"]]]]}]"#;
    let (theirs, ours) = monitor_both(&server, &args, 4, &[(INSERT, 0), (modify, 5)]);
    assert_eq!(rows_sorted(&ours[0]), rows_sorted(&theirs[0]));
    assert_eq!(ours[1..], theirs[1..]);
    assert!(theirs[2].contains(" new "), "{}", theirs[2]);
}

#[test]
fn monitor_all_tables_has_captions() {
    let server = Server::start();
    let r = server.remote.as_str();
    let args = ["--format=json", "monitor", r, "Test", "ALL"];
    let change = r#"["Test",{"op":"insert","table":"Disk","row":{"size":7},"uuid-name":"d"},
        {"op":"mutate","table":"Host","where":[["name","==","web1"]],
         "mutations":[["disks","insert",["named-uuid","d"]]]}]"#;
    let (theirs, ours) = monitor_both(&server, &args, 2, &[(change, 2)]);
    assert_eq!(json_tables_sorted(&ours[0]), json_tables_sorted(&theirs[0]));
    assert_eq!(ours[1], theirs[1]);
    assert!(theirs[1].contains(r#""caption":"Disk""#), "{}", theirs[1]);
}

#[test]
fn errors_fail_alike() {
    let server = Server::start();
    let r = server.remote.as_str();
    for args in [
        vec!["list-tables", r, "Nope"],
        vec!["monitor", r, "Nope"],
        vec!["monitor", r, "Host", "nope"],
        vec!["frobnicate"],
        vec!["get-schema", "unix:/nonexistent/db.sock"],
    ] {
        let (theirs, ours) = server.both(&args);
        assert!(theirs.starts_with("[exit Some(1)]"), "{args:?}: {theirs}");
        assert!(ours.starts_with("[exit Some(1)]"), "{args:?}: {ours}");
        // The same message, under our own program's name.
        let message = |s: &str| s.split_once(": ").map(|(_, m)| m.to_owned());
        if !args[0].starts_with("get-schema") {
            assert_eq!(message(&ours), message(&theirs), "{args:?}");
        }
    }
}

/// Replaces each line that is a timestamp (`2024-05-01 12:34:56.789`) by
/// `<time>`.
fn mask_times(text: &str) -> String {
    let is_time = |line: &str| {
        line.len() == 23
            && line.bytes().enumerate().all(|(i, c)| match i {
                4 | 7 => c == b'-',
                10 => c == b' ',
                13 | 16 => c == b':',
                19 => c == b'.',
                _ => c.is_ascii_digit(),
            })
    };
    text.lines()
        .map(|line| if is_time(line) { "<time>" } else { line })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn monitor_timestamps_each_table() {
    let server = Server::start();
    let r = server.remote.as_str();
    let args = ["--timestamp", "monitor", r, "Test", "Disk", "size,label"];
    let grow = r#"["Test",{"op":"mutate","table":"Disk","where":[["size","==",20]],
        "mutations":[["size","+=",1]]}]"#;
    // The time, headings, dashes, two rows; then a blank line, the time,
    // headings, dashes, old and new.
    let (theirs, ours) = monitor_both(&server, &args, 5, &[(grow, 6)]);
    assert!(theirs[0].starts_with("20"), "{}", theirs[0]);
    assert_eq!(
        rows_sorted(&mask_times(&ours[0])),
        rows_sorted(&mask_times(&theirs[0]))
    );
    assert_eq!(mask_times(&ours[1]), mask_times(&theirs[1]));
    assert!(
        mask_times(&theirs[1]).starts_with("\n<time>\nrow "),
        "{}",
        theirs[1]
    );
}
