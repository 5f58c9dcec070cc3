//! The error kinds a real ovsdb-server (3.1) sends only when something
//! outside the request goes wrong, provoked from a test.
//!
//! From the OVS 3.1 source:
//! - "I/O error": a failed read or write of the database file
//!   (`ovsdb_io_error` in ovsdb/log.c); a commit whose write fails gets it
//!   as the commit's extra result. Provoked here with a file size limit.
//! - "not supported": only an unmet `wait` where there are no triggers to
//!   wait with (ovsdb/execution.c), which is `ovsdb-tool transact` and
//!   `query`; ovsdb-server takes that error as "wait longer" and never
//!   sends it (see tests/ovsdb_tool.rs).
//! - "resources exhausted": not in the 3.1 source at all; it cannot come.
//!
//! Without ovsdb-server these tests fail, saying how to install it.

#[allow(dead_code)]
#[path = "support/server.rs"]
mod server;

#[allow(dead_code)]
#[path = "support/process.rs"]
mod process;

use ovsdb_proto::client::{ClientError, ClientOptions, OvsdbClient};
use ovsdb_proto::error::ErrorKind;
use process::{insert_item, ovsdb_tool, write_schema, Server, DB};
use server::{bounded, STEP};

#[tokio::test]
async fn a_commit_the_server_cannot_write_fails_with_io_error() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-errors-")
            .tempdir()
            .expect("a temporary directory");
        let schema = write_schema(dir.path());
        let db = dir.path().join("test.db");
        ovsdb_tool(&["create", &db.to_string_lossy(), &schema.to_string_lossy()]);
        // 64 blocks: 32 KiB (64 KiB where a block is 1 KiB). The new file
        // is a few hundred bytes; the transaction below writes ~200 KiB.
        let mut server = Server::start_with_file_limit(dir.path(), "s", &db, 64);
        server.wait_listening(STEP).await;
        let c = OvsdbClient::connect_with(
            &server.remote(),
            ClientOptions::default()
                .connect_timeout(STEP)
                .call_timeout(Some(STEP)),
        )
        .await
        .expect("connect");

        // The comment goes into the file with the transaction's changes.
        let long = "x".repeat(200 * 1024);
        let err = insert_item(&c, 1)
            .comment(&long)
            .execute()
            .await
            .expect_err("the write fails");
        let ClientError::Transaction(t) = &err else {
            panic!("expected a failed transaction: {err:?}");
        };
        // The file write fails at commit: the extra result after the two
        // operations' own.
        assert!(t.at_commit, "{t:?}");
        assert_eq!((t.index, t.op), (2, "commit"));
        assert_eq!(t.error.error, ErrorKind::IoError, "{t:?}");
        assert_eq!(err.server_error(), Some(&ErrorKind::IoError));
        assert!(
            t.error
                .details
                .as_deref()
                .is_some_and(|d| d.contains("write failed")),
            "{t:?}"
        );

        // The server goes on: a transaction that fits commits, and the one
        // that did not is not there.
        insert_item(&c, 2).execute().await.expect("a small insert");
        let keys = c
            .transact(DB)
            .select("Item", vec![])
            .execute()
            .await
            .expect("select");
        assert_eq!(keys.rows(0).expect("rows").len(), 1);
    })
    .await;
}
