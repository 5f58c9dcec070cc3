//! Our schema reader and writer against Open vSwitch's own: `ovsdb-tool`
//! must accept every schema we accept and write, and refuse the broken
//! ones we refuse.
//!
//! These tests need `ovsdb-tool` (Debian's openvswitch-common). Without it
//! they fail, saying how to install it, rather than pass having checked
//! nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ovsdb_proto::error::ErrorKind;
use ovsdb_proto::schema::DatabaseSchema;

const SCHEMAS: [&str; 2] = ["vswitch.ovsschema", "test.ovsschema"];

fn ovsdb_tool() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("ovsdb-tool"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "ovsdb-tool is not installed; install Debian's openvswitch-common \
                 (as root: scripts/install/ovs.sh, or apt-get install openvswitch-common)"
            )
        })
}

fn tool(args: &[&Path]) -> Output {
    Command::new(ovsdb_tool())
        .args(args)
        .output()
        .expect("ovsdb-tool runs")
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ovsdb-proto-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

fn schema_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name)
}

/// Whether `ovsdb-tool create` makes a database from the schema in `text`.
fn creates(dir: &Path, label: &str, text: &str) -> Output {
    let schema = dir.join(format!("{label}.ovsschema"));
    let db = dir.join(format!("{label}.db"));
    std::fs::write(&schema, text).expect("schema written");
    tool(&[Path::new("create"), &db, &schema])
}

fn stdout_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn ovsdb_tool_accepts_our_schemas_as_read_and_as_written() {
    let dir = scratch("accepts");
    for name in SCHEMAS {
        let text = std::fs::read_to_string(schema_path(name)).expect("schema file");
        let schema = DatabaseSchema::from_json(&text).expect("we load it");
        let out = creates(&dir, &format!("orig-{name}"), &text);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let written = serde_json::to_string_pretty(&schema).expect("we write it");
        let out = creates(&dir, &format!("ours-{name}"), &written);
        assert!(
            out.status.success(),
            "{name} as we write it: {}\n{written}",
            String::from_utf8_lossy(&out.stderr)
        );

        let path = dir.join(format!("ours-{name}.ovsschema"));
        let version = tool(&[Path::new("schema-version"), &path]);
        assert_eq!(stdout_line(&version), schema.version.to_string());
        let db_name = tool(&[Path::new("schema-name"), &path]);
        assert_eq!(stdout_line(&db_name), schema.name);
        let cksum = tool(&[Path::new("schema-cksum"), &path]);
        assert_eq!(Some(stdout_line(&cksum)), schema.cksum);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ovsdb_tool_refuses_what_we_refuse() {
    let dir = scratch("refuses");
    let broken = [
        r#"{"T":{"columns":{"c":{"type":{"key":{"type":"uuid","refTable":"Nope"}}}}}}"#,
        r#"{"T":{"columns":{"c":{"type":{"key":{"type":"integer","minInteger":5,"maxInteger":1}}}}}}"#,
        r#"{"T":{"columns":{"c":{"type":{"key":{"type":"string","enum":["set",[1]]}}}}}}"#,
        r#"{"T":{"columns":{"c":{"type":"string"}},"indexes":[["d"]]}}"#,
        r#"{"T":{"columns":{"c":{"type":{"key":"string","min":2,"max":3}}}}}"#,
        r#"{"T":{"columns":{"_c":{"type":"string"}}}}"#,
        r#"{"T":{"columns":{"c":{"type":{"key":{"type":"string","minInteger":1}}}}}}"#,
    ];
    for (i, tables) in broken.iter().enumerate() {
        let text = format!(r#"{{"name":"D","version":"1.0.0","tables":{tables}}}"#);
        assert!(
            DatabaseSchema::from_json(&text).is_err(),
            "we refuse {tables}"
        );
        let out = creates(&dir, &format!("broken{i}"), &text);
        assert!(!out.status.success(), "ovsdb-tool accepted {tables}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// "not supported" is what Open vSwitch answers an unmet `wait` where
/// nothing can wait (ovsdb/execution.c): `ovsdb-tool query` and
/// `transact` run a transaction once, against the file. ovsdb-server never
/// sends it (it waits instead), so this is the one place to see it.
#[test]
fn ovsdb_tool_answers_an_unmet_wait_with_not_supported() {
    use ovsdb_proto::condition::Condition;
    use ovsdb_proto::datum::Row;
    use ovsdb_proto::operation::{Operation, TransactResults, WaitUntil};
    use ovsdb_proto::params::TransactParams;

    let dir = scratch("not-supported");
    let db = dir.join("test.db");
    let out = tool(&[Path::new("create"), &db, &schema_path("test.ovsschema")]);
    assert!(out.status.success(), "{out:?}");
    let mut never = Row::new();
    never.insert("name".into(), ovsdb_proto::atom::Atom::from("never").into());
    let params = TransactParams {
        db: "Test".into(),
        operations: vec![Operation::Wait {
            table: "Host".into(),
            conditions: vec![Condition::Boolean(true)],
            columns: vec!["name".into()],
            until: WaitUntil::Equal,
            rows: vec![never],
            timeout: None,
        }],
    };
    let request = serde_json::to_string(&params).expect("params");
    let out = Command::new(ovsdb_tool())
        .arg("query")
        .arg(&db)
        .arg(&request)
        .output()
        .expect("ovsdb-tool runs");
    assert!(out.status.success(), "{out:?}");
    let results: TransactResults =
        serde_json::from_slice(&out.stdout).expect("ovsdb-tool's results decode");
    let (index, error) = results.first_error().expect("the wait failed");
    assert_eq!(index, 0);
    assert_eq!(error.error, ErrorKind::NotSupported, "{error:?}");
    let _ = std::fs::remove_dir_all(dir);
}
