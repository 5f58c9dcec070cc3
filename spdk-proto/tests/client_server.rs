//! `SpdkClient` against an in-process `SpdkRouter` served on a Unix socket:
//! SPDK's param rules and phases on the server side, typed calls, errnos,
//! batches, deadlines and the request-size cap on the client side.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::Profile;
use jsonrpc_transport::{RunningServer, Server};
use serde_json::{json, Value};
use spdk_proto::methods::{
    BdevGetBdevs, BdevGetBdevsParams, BdevMallocCreate, BdevMallocCreateParams, FrameworkStartInit,
    RpcGetMethods, RpcGetMethodsParams, SpdkGetVersion,
};
use spdk_proto::results::Version;
use spdk_proto::server::{Phase, SpdkRouter, When};
use spdk_proto::{ClientOptions, Errno, ErrorKind, SpdkClient, SpdkError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn version() -> Version {
    Version::new(26, 9, 0, "-pre")
}

/// A target with `bdev_malloc_create` (a name taken twice is -17, a delay
/// in ms may be asked for through `num_blocks`), and `bdev_get_bdevs`
/// (-19 for any name), starting in `phase`.
fn router(phase: Phase) -> SpdkRouter {
    let mut spdk = SpdkRouter::new(version(), phase);
    let made = Arc::new(AtomicU32::new(0));
    let taken = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    spdk.method::<BdevMallocCreate, _, _>(When::Runtime, move |p: BdevMallocCreateParams, _| {
        let made = made.clone();
        let taken = taken.clone();
        async move {
            // Later calls can finish first: replies go out as they are ready.
            tokio::time::sleep(Duration::from_millis(p.num_blocks % 50)).await;
            let name = p
                .name
                .unwrap_or_else(|| format!("Malloc{}", made.fetch_add(1, Ordering::SeqCst)));
            let mut taken = taken.lock().unwrap();
            if taken.contains(&name) {
                return Err(Errno::EEXIST.to_error());
            }
            taken.push(name.clone());
            Ok(name)
        }
    });
    spdk.method::<BdevGetBdevs, _, _>(When::Runtime, |p: BdevGetBdevsParams, _| async move {
        match p.name {
            Some(_) => Err(Errno::ENODEV.to_error()),
            None => Ok(Vec::new()),
        }
    });
    spdk
}

struct Target {
    _dir: tempfile::TempDir,
    path: String,
    _server: RunningServer,
}

async fn serve(spdk: SpdkRouter) -> Target {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spdk.sock").display().to_string();
    let server = Server::new(JsonStreamCodec::new().with_newline(true))
        .profile(Profile::spdk())
        .router(spdk.into_router())
        .bind([format!("punix:{path}").parse().unwrap()])
        .await
        .unwrap();
    Target {
        _dir: dir,
        path,
        _server: server,
    }
}

/// Sends raw bytes to the target and reads one reply line.
async fn raw_exchange(path: &str, request: &str) -> Value {
    within(raw_exchange_now(path, request)).await
}

/// Fails the test if `f` hangs.
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("hung")
}

async fn raw_exchange_now(path: &str, request: &str) -> Value {
    let mut stream = tokio::net::UnixStream::connect(path).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while reply.last() != Some(&b'\n') {
        stream.read_exact(&mut byte).await.unwrap();
        reply.push(byte[0]);
    }
    serde_json::from_slice(&reply).unwrap()
}

#[tokio::test]
async fn typed_calls_and_errnos() {
    let target = serve(router(Phase::Running)).await;
    let spdk = SpdkClient::connect(&target.path).await.unwrap();
    assert_eq!(spdk.call::<SpdkGetVersion>(()).await.unwrap(), version());
    let mut params = BdevMallocCreateParams::new(512, 8);
    params.name = Some("Malloc7".into());
    assert_eq!(
        spdk.call::<BdevMallocCreate>(params.clone()).await.unwrap(),
        "Malloc7"
    );
    let again = spdk.call::<BdevMallocCreate>(params).await.unwrap_err();
    assert_eq!(again.errno(), Some(Errno::EEXIST));
    assert_eq!(
        again.to_string(),
        "bdev_malloc_create: EEXIST (-17): File exists"
    );
    let named = BdevGetBdevsParams {
        name: Some("nope".into()),
        ..Default::default()
    };
    let missing = spdk.call::<BdevGetBdevs>(named).await.unwrap_err();
    assert_eq!(missing.errno(), Some(Errno::ENODEV));
    assert_eq!(missing.rpc().unwrap().message, "No such device");
}

#[tokio::test]
async fn sixty_four_calls_in_flight_on_one_connection_come_back_matched() {
    let target = serve(router(Phase::Running)).await;
    let spdk = SpdkClient::connect(&target.path).await.unwrap();
    let calls = (0..64u64).map(|i| {
        let spdk = spdk.clone();
        async move {
            let mut params = BdevMallocCreateParams::new(512, 49 - (i % 50));
            params.name = Some(format!("M{i}"));
            spdk.call::<BdevMallocCreate>(params).await
        }
    });
    let names = futures::future::join_all(calls).await;
    for (i, name) in names.into_iter().enumerate() {
        assert_eq!(name.unwrap(), format!("M{i}"));
    }
    assert_eq!(spdk.peer().stats().calls_pending, 0);
}

#[tokio::test]
async fn a_batch_gets_each_typed_reply() {
    let target = serve(router(Phase::Running)).await;
    let spdk = SpdkClient::connect(&target.path).await.unwrap();
    let mut batch = spdk.batch();
    let v = batch.call::<SpdkGetVersion>(()).unwrap();
    let mut p = BdevMallocCreateParams::new(512, 1);
    p.name = Some("B0".into());
    let made = batch.call::<BdevMallocCreate>(p.clone()).unwrap();
    let dup = batch.call::<BdevMallocCreate>(p).unwrap();
    let mut replies = batch.send().await.unwrap();
    assert_eq!(replies.get(v).unwrap().fields.major, 26);
    // The two creates race inside the batch; exactly one wins the name.
    let outcomes = [replies.get(made), replies.get(dup)];
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    let lost = outcomes.iter().find_map(|o| o.as_ref().err()).unwrap();
    assert_eq!(lost.errno(), Some(Errno::EEXIST));
}

#[tokio::test]
async fn a_timed_out_call_is_forgotten_and_the_connection_goes_on() {
    let target = serve(router(Phase::Running)).await;
    let spdk = SpdkClient::connect(&target.path).await.unwrap();
    let mut slow = BdevMallocCreateParams::new(512, 49);
    slow.name = Some("Slow".into());
    let e = spdk
        .call_with_timeout::<BdevMallocCreate>(slow, Some(Duration::from_millis(5)))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SpdkError::Timeout { method, .. } if method == "bdev_malloc_create"),
        "{e}"
    );
    assert_eq!(spdk.peer().stats().calls_pending, 0);
    assert_eq!(
        spdk.call::<SpdkGetVersion>(()).await.unwrap().fields.minor,
        9
    );
}

#[tokio::test]
async fn a_request_over_the_targets_limit_is_refused_before_sending_and_names_the_method() {
    let target = serve(router(Phase::Running)).await;
    let options = ClientOptions::default().max_request(1024);
    let spdk = SpdkClient::connect_with(&target.path, &options)
        .await
        .unwrap();
    let mut params = BdevMallocCreateParams::new(512, 1);
    params.name = Some("x".repeat(2000));
    match spdk.call::<BdevMallocCreate>(params).await {
        Err(SpdkError::RequestTooLarge {
            method,
            size,
            limit,
        }) => {
            assert_eq!(method, "bdev_malloc_create");
            assert!(size > 2000);
            assert_eq!(limit, 1024);
        }
        other => panic!("expected RequestTooLarge, got {other:?}"),
    }
    assert_eq!(spdk.peer().stats().calls_sent, 0);
    assert!(spdk.call::<SpdkGetVersion>(()).await.is_ok());
}

#[tokio::test]
async fn params_are_decoded_as_spdk_decodes_them() {
    let target = serve(router(Phase::Running)).await;
    let cases = [
        // Unknown key, duplicate key, missing required field, wrong type,
        // a number sent as a string, positional params.
        r#"{"jsonrpc":"2.0","id":1,"method":"bdev_malloc_create","params":{"num_blocks":1,"block_size":512,"bogus":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"bdev_malloc_create","params":{"num_blocks":1,"num_blocks":2,"block_size":512}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"bdev_malloc_create","params":{"num_blocks":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"bdev_malloc_create","params":{"num_blocks":true,"block_size":512}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"bdev_malloc_create","params":{"num_blocks":"1","block_size":512}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"bdev_malloc_create","params":[1,512]}"#,
    ];
    for case in cases {
        let reply = raw_exchange(&target.path, case).await;
        assert_eq!(
            reply,
            json!({"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"spdk_json_decode_object failed"}}),
            "for {case}"
        );
    }
    let reply = raw_exchange(
        &target.path,
        r#"{"jsonrpc":"2.0","id":2,"method":"spdk_get_version","params":{}}"#,
    )
    .await;
    assert_eq!(reply["error"]["code"], -32602);
    assert_eq!(
        reply["error"]["message"],
        "spdk_get_version method requires no parameters"
    );
}

#[tokio::test]
async fn startup_and_runtime_methods_follow_framework_start_init() {
    let target = serve(router(Phase::Startup)).await;
    let spdk = SpdkClient::connect(&target.path).await.unwrap();
    let early = spdk
        .call::<BdevMallocCreate>(BdevMallocCreateParams::new(512, 1))
        .await
        .unwrap_err();
    let error = early.rpc().unwrap();
    assert_eq!(error.kind(), ErrorKind::InvalidState);
    assert_eq!(
        error.message,
        "Method may only be called after framework is initialized using framework_start_init RPC."
    );
    let current = RpcGetMethodsParams {
        current: Some(true),
        ..Default::default()
    };
    let now = spdk.call::<RpcGetMethods>(current.clone()).await.unwrap();
    assert!(now.contains(&"framework_start_init".to_owned()));
    assert!(!now.contains(&"bdev_malloc_create".to_owned()));
    let all = spdk
        .call::<RpcGetMethods>(RpcGetMethodsParams::default())
        .await
        .unwrap();
    assert!(all.contains(&"bdev_malloc_create".to_owned()));

    assert!(spdk.call::<FrameworkStartInit>(()).await.unwrap());
    let later = spdk.call::<RpcGetMethods>(current).await.unwrap();
    assert!(later.contains(&"bdev_malloc_create".to_owned()));
    assert!(!later.contains(&"framework_start_init".to_owned()));
    let again = spdk.call::<FrameworkStartInit>(()).await.unwrap_err();
    assert!(again
        .rpc()
        .unwrap()
        .message
        .starts_with("Method may only be called before framework is initialized."));
    assert!(spdk
        .call::<BdevMallocCreate>(BdevMallocCreateParams::new(512, 1))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_target_that_dies_mid_call_fails_the_call_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dying.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 256];
        // Read the request, then die without answering.
        let _ = conn.read(&mut buf).await;
    });
    let spdk = SpdkClient::connect(path.to_str().unwrap()).await.unwrap();
    match spdk.call::<SpdkGetVersion>(()).await {
        Err(SpdkError::Closed { method, .. }) => assert_eq!(method, "spdk_get_version"),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(spdk.peer().stats().calls_pending, 0);
}

#[tokio::test]
async fn a_bad_reply_fails_its_call_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        let (read, mut write) = conn.into_split();
        let mut lines = tokio::io::BufReader::new(read);
        let mut seen = 0;
        let mut buf = Vec::new();
        // Requests come without delimiters; answer each id once read.
        loop {
            let mut byte = [0u8; 1];
            if lines.read_exact(&mut byte).await.is_err() {
                return;
            }
            buf.push(byte[0]);
            let Ok(request) = serde_json::from_slice::<Value>(&buf) else {
                continue;
            };
            buf.clear();
            seen += 1;
            let id = request["id"].clone();
            let reply = if seen == 1 {
                // Both a result and an error: not a valid reply.
                json!({"jsonrpc": "2.0", "id": id, "result": 1, "error": {"code": 1, "message": "x"}})
            } else {
                json!({"jsonrpc": "2.0", "id": id, "result": version()})
            };
            let mut text = serde_json::to_vec(&reply).unwrap();
            text.push(b'\n');
            write.write_all(&text).await.unwrap();
        }
    });
    let spdk = SpdkClient::connect(path.to_str().unwrap()).await.unwrap();
    let first = within(spdk.call::<SpdkGetVersion>(())).await.unwrap_err();
    assert!(matches!(first, SpdkError::InvalidReply { .. }), "{first}");
    assert_eq!(
        within(spdk.call::<SpdkGetVersion>(())).await.unwrap(),
        version()
    );
}

#[tokio::test]
async fn a_config_naming_an_unknown_method_loads_nothing() {
    let target = serve(router(Phase::Running)).await;
    let spdk = SpdkClient::connect(&target.path).await.unwrap();
    let config = spdk_proto::config::Config::from_json(
        r#"{"subsystems":[{"subsystem":"bdev","config":[
            {"method":"bdev_malloc_create","params":{"name":"C0","num_blocks":8,"block_size":512}},
            {"method":"nope_method"}]}]}"#,
    )
    .unwrap();
    match within(spdk.load_config(&config)).await {
        Err(SpdkError::UnknownConfigMethod { method }) => assert_eq!(method, "nope_method"),
        other => panic!("expected UnknownConfigMethod, got {other:?}"),
    }
    // The known entry before it was not called either.
    let mut params = BdevMallocCreateParams::new(512, 8);
    params.name = Some("C0".into());
    assert_eq!(spdk.call::<BdevMallocCreate>(params).await.unwrap(), "C0");
}

/// A configuration saved with batches: each batch is sent whole as one
/// JSON-RPC batch (so a failing call does not stop the calls after it in
/// the same batch, as it stops the entries after it in the file), and an
/// empty batch is skipped.
#[tokio::test]
async fn a_configs_batches_are_replayed_as_batches() {
    let target = serve(router(Phase::Running)).await;
    let spdk = SpdkClient::connect(&target.path).await.unwrap();
    let text = r#"{"subsystems":[{"subsystem":"bdev","config":[
            {"method":"bdev_malloc_create","params":{"name":"B0","num_blocks":8,"block_size":512}},
            [],
            [{"method":"bdev_malloc_create","params":{"name":"B1","num_blocks":30,"block_size":512}},
             {"method":"bdev_malloc_create","params":{"name":"B2","num_blocks":8,"block_size":512}}]]}]}"#;
    let config = spdk_proto::config::Config::from_json(text).unwrap();
    let calls: Vec<_> = config.subsystems[0]
        .calls()
        .map(|c| c.method.as_str())
        .collect();
    assert_eq!(calls.len(), 3);
    // The file writes back with its batches, as SPDK's save_config does.
    let again = spdk_proto::config::Config::from_json(&config.to_json_pretty()).unwrap();
    assert_eq!(again, config);
    let report = within(spdk.load_config(&config)).await.unwrap();
    assert_eq!(report.called, 3);
    assert!(report.skipped.is_empty());

    // B1 taken: the batch fails with -17, yet B3 after it in the batch is made.
    let failing = spdk_proto::config::Config::from_json(
        r#"{"subsystems":[{"subsystem":"bdev","config":[
            [{"method":"bdev_malloc_create","params":{"name":"B1","num_blocks":8,"block_size":512}},
             {"method":"bdev_malloc_create","params":{"name":"B3","num_blocks":8,"block_size":512}}],
            {"method":"bdev_malloc_create","params":{"name":"B4","num_blocks":8,"block_size":512}}]}]}"#,
    )
    .unwrap();
    let err = within(spdk.load_config(&failing)).await.unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EEXIST), "{err}");
    let mut b3 = BdevMallocCreateParams::new(512, 8);
    b3.name = Some("B3".into());
    assert_eq!(
        spdk.call::<BdevMallocCreate>(b3).await.unwrap_err().errno(),
        Some(Errno::EEXIST),
        "B3 was made by the batch"
    );
    // The entry after the failed batch was not called.
    let mut b4 = BdevMallocCreateParams::new(512, 8);
    b4.name = Some("B4".into());
    assert_eq!(spdk.call::<BdevMallocCreate>(b4).await.unwrap(), "B4");
}

/// A socket path with a colon in it is still a path when it starts with
/// `/`, as SPDK's tools take it.
#[tokio::test]
async fn a_socket_path_with_a_colon_is_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spdk:0.sock").display().to_string();
    let _server = Server::new(JsonStreamCodec::new().with_newline(true))
        .profile(Profile::spdk())
        .router(router(Phase::Running).into_router())
        .bind([jsonrpc_transport::ListenEndpoint::Unix(path.clone().into())])
        .await
        .unwrap();
    let spdk = within(SpdkClient::connect(&path)).await.unwrap();
    assert_eq!(
        spdk.call::<BdevGetBdevs>(BdevGetBdevsParams::default())
            .await
            .unwrap(),
        vec![]
    );
}

/// A saved batch larger than the target reads is replayed in parts, every
/// call still made once and in order, instead of failing the load.
#[tokio::test]
async fn a_config_batch_over_the_request_limit_is_sent_in_parts() {
    let target = serve(router(Phase::Running)).await;
    let options = ClientOptions::default().max_request(1024);
    let spdk = SpdkClient::connect_with(&target.path, &options)
        .await
        .unwrap();
    let calls: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"method":"bdev_malloc_create","params":{{"name":"P{i}","num_blocks":100,"block_size":512}}}}"#
            )
        })
        .collect();
    let text = format!(
        r#"{{"subsystems":[{{"subsystem":"bdev","config":[[{}]]}}]}}"#,
        calls.join(",")
    );
    let config = spdk_proto::config::Config::from_json(&text).unwrap();
    let report = within(spdk.load_config(&config)).await.unwrap();
    assert_eq!(report.called, 40);
    for i in [0, 39] {
        let mut again = BdevMallocCreateParams::new(512, 100);
        again.name = Some(format!("P{i}"));
        assert_eq!(
            spdk.call::<BdevMallocCreate>(again)
                .await
                .unwrap_err()
                .errno(),
            Some(Errno::EEXIST),
            "P{i} was made"
        );
    }
}
