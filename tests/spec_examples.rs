//! Every example of the JSON-RPC 2.0 specification's examples section
//! (<https://www.jsonrpc.org/specification#examples>), sent as raw bytes over
//! a real TCP connection to `examples/spec_server.rs`, each reply compared
//! with the spec's as parsed JSON.
//!
//! Error messages are ours (they add detail), so only their presence is
//! checked; `code`, `id`, `jsonrpc` and `result` must match exactly. The spec
//! lets a batch reply come in any order, but this framework promises request
//! order, so batch replies are compared in order.
//!
//! All examples run over one connection per framing, so the connection is
//! also shown to survive every kind of bad input.

#[path = "../examples/spec_server.rs"]
#[allow(dead_code)]
mod spec_server;

use std::time::Duration;

use serde_json::{json, Value};
use spec_server::FramingKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One example of the spec: what the client sends, and what comes back.
struct Example {
    name: &'static str,
    /// Each text is one message as the spec writes it (made single-line so
    /// line framing can carry it).
    requests: &'static [&'static str],
    /// The spec's reply; `None` when the spec says nothing is returned.
    reply: Option<&'static str>,
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "rpc call with positional parameters (1)",
        requests: &[r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#],
        reply: Some(r#"{"jsonrpc": "2.0", "result": 19, "id": 1}"#),
    },
    Example {
        name: "rpc call with positional parameters (2)",
        requests: &[r#"{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}"#],
        reply: Some(r#"{"jsonrpc": "2.0", "result": -19, "id": 2}"#),
    },
    Example {
        name: "rpc call with named parameters (1)",
        requests: &[
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
        ],
        reply: Some(r#"{"jsonrpc": "2.0", "result": 19, "id": 3}"#),
    },
    Example {
        name: "rpc call with named parameters (2)",
        requests: &[
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}"#,
        ],
        reply: Some(r#"{"jsonrpc": "2.0", "result": 19, "id": 4}"#),
    },
    Example {
        name: "a Notification",
        requests: &[
            r#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#,
            r#"{"jsonrpc": "2.0", "method": "foobar"}"#,
        ],
        reply: None,
    },
    Example {
        name: "rpc call of non-existent method",
        requests: &[r#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#],
        reply: Some(
            r#"{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}"#,
        ),
    },
    Example {
        name: "rpc call with invalid JSON",
        requests: &[r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#],
        reply: Some(
            r#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#,
        ),
    },
    Example {
        name: "rpc call with invalid Request object",
        requests: &[r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#],
        reply: Some(
            r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#,
        ),
    },
    Example {
        name: "rpc call Batch, invalid JSON",
        requests: &[
            r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]"#,
        ],
        reply: Some(
            r#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#,
        ),
    },
    Example {
        name: "rpc call with an empty Array",
        requests: &["[]"],
        reply: Some(
            r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#,
        ),
    },
    Example {
        name: "rpc call with an invalid Batch (but not empty)",
        requests: &["[1]"],
        reply: Some(
            r#"[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]"#,
        ),
    },
    Example {
        name: "rpc call with invalid Batch",
        requests: &["[1,2,3]"],
        reply: Some(
            r#"[
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
            ]"#,
        ),
    },
    Example {
        name: "rpc call Batch",
        requests: &[concat!(
            r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},"#,
            r#"{"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},"#,
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},"#,
            r#"{"foo": "boo"},"#,
            r#"{"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},"#,
            r#"{"jsonrpc": "2.0", "method": "get_data", "id": "9"}]"#,
        )],
        reply: Some(
            r#"[
                {"jsonrpc": "2.0", "result": 7, "id": "1"},
                {"jsonrpc": "2.0", "result": 19, "id": "2"},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
                {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
            ]"#,
        ),
    },
    Example {
        name: "rpc call Batch (all notifications)",
        requests: &[concat!(
            r#"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},"#,
            r#"{"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#,
        )],
        reply: None,
    },
];

/// How long a reply may take before the test fails instead of hanging.
const REPLY_DEADLINE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn spec_examples_over_line_framing() {
    run_examples(FramingKind::Line).await;
}

#[tokio::test]
async fn spec_examples_over_raw_stream_framing() {
    run_examples(FramingKind::Stream).await;
}

#[tokio::test]
async fn spec_examples_over_content_length_framing() {
    run_examples(FramingKind::ContentLength).await;
}

/// The line test's own checks, checked: a wrong reply must fail them.
#[test]
fn comparison_catches_wrong_replies() {
    let spec: Value = json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null});
    let ours = json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request: empty batch"}, "id": null});
    assert_eq!(normalize(&ours), normalize(&spec));
    for wrong in [
        json!({"jsonrpc": "2.0", "error": {"code": -32601, "message": "x"}, "id": null}),
        json!({"jsonrpc": "2.0", "error": {"code": -32600}, "id": null}),
        json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": 7}, "id": null}),
        json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "x"}, "id": 0}),
        json!({"error": {"code": -32600, "message": "x"}, "id": null}),
        json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "x"}, "id": null, "result": null}),
        json!([{"jsonrpc": "2.0", "error": {"code": -32600, "message": "x"}, "id": null}]),
    ] {
        assert_ne!(normalize(&wrong), normalize(&spec), "{wrong} passed");
    }
}

async fn run_examples(framing: FramingKind) {
    let listen = "ptcp:0:127.0.0.1".parse().expect("an endpoint");
    let server = spec_server::start(listen, framing, None)
        .await
        .expect("bind a loopback port");
    let port = match server.local_endpoints() {
        [jsonrpc_transport::ListenEndpoint::Tcp { port, .. }] => *port,
        other => panic!("unexpected endpoints {other:?}"),
    };
    let mut client = Client::connect(([127, 0, 0, 1], port).into(), framing).await;

    let mut probes = 0;
    for example in EXAMPLES {
        match example.reply {
            Some(reply) => {
                client.send(example.requests).await;
                let got = client.recv(example.name).await;
                assert_matches_spec(example.name, &got, &parse(reply));
            }
            None => {
                // Nothing must come back. Send a request in the same write
                // right behind the notifications: the very next reply must
                // be that request's, not anything the notifications caused.
                probes += 1;
                let id = format!("probe-{probes}");
                let probe = json!({"jsonrpc": "2.0", "method": "get_data", "id": id}).to_string();
                let mut texts = example.requests.to_vec();
                texts.push(&probe);
                client.send(&texts).await;
                let got = client.recv(example.name).await;
                let expected = json!({"jsonrpc": "2.0", "result": ["hello", 5], "id": id});
                assert_eq!(
                    got, expected,
                    "{}: the first reply after the notifications is not the probe's",
                    example.name
                );
            }
        }
    }
    // Whatever else the server would still send (a stray reply to a
    // notification, say) arrives before it closes its side.
    client.finish().await;
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

/// Parses JSON the test itself wrote.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad expected JSON {text}: {e}"))
}

fn assert_matches_spec(name: &str, got: &Value, spec: &Value) {
    assert_eq!(
        normalize(got),
        normalize(spec),
        "{name}: reply {got} does not match the spec's {spec}"
    );
}

/// Replaces each error's `message`, when it is a string, by a placeholder:
/// its text is free, its presence and type are not.
fn normalize(reply: &Value) -> Value {
    match reply {
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(members) => {
            let mut members = members.clone();
            if let Some(Value::Object(error)) = members.get_mut("error") {
                if let Some(message @ Value::String(_)) = error.get_mut("message") {
                    *message = Value::String("<any message>".into());
                }
            }
            Value::Object(members)
        }
        other => other.clone(),
    }
}

/// A raw TCP client that frames bytes by hand, independently of the codecs
/// under test.
struct Client {
    stream: TcpStream,
    framing: FramingKind,
    /// Bytes received and not yet taken as a reply.
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, framing: FramingKind) -> Client {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the server");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        Client {
            stream,
            framing,
            buf: Vec::new(),
        }
    }

    /// Sends the texts in one write, each framed on its own.
    async fn send(&mut self, texts: &[&str]) {
        let mut wire = Vec::new();
        for text in texts {
            match self.framing {
                FramingKind::Line => {
                    assert!(!text.contains('\n'), "a line must not hold a newline");
                    wire.extend_from_slice(text.as_bytes());
                    wire.push(b'\n');
                }
                // Back to back, with nothing between them.
                FramingKind::Stream => wire.extend_from_slice(text.as_bytes()),
                FramingKind::ContentLength => {
                    wire.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", text.len()).as_bytes(),
                    );
                    wire.extend_from_slice(text.as_bytes());
                }
            }
        }
        self.stream
            .write_all(&wire)
            .await
            .expect("write to the server");
    }

    /// The next reply, as JSON.
    async fn recv(&mut self, example: &str) -> Value {
        match tokio::time::timeout(REPLY_DEADLINE, self.next_reply()).await {
            Ok(Some(reply)) => reply,
            Ok(None) => panic!("{example}: the server closed the connection instead of replying"),
            Err(_) => panic!("{example}: no reply within {REPLY_DEADLINE:?}"),
        }
    }

    async fn next_reply(&mut self) -> Option<Value> {
        loop {
            if let Some(reply) = self.take_reply() {
                return Some(reply);
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .expect("read from the server");
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Takes one complete reply off the front of `buf`, if there is one.
    fn take_reply(&mut self) -> Option<Value> {
        let (reply, used) = match self.framing {
            FramingKind::Line => {
                let end = self.buf.iter().position(|&b| b == b'\n')?;
                let line = &self.buf[..end];
                let reply = serde_json::from_slice(line).unwrap_or_else(|e| {
                    panic!(
                        "reply line is not JSON ({e}): {}",
                        String::from_utf8_lossy(line)
                    )
                });
                (reply, end + 1)
            }
            FramingKind::Stream => {
                let mut values =
                    serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
                match values.next()? {
                    Ok(reply) => (reply, values.byte_offset()),
                    Err(e) if e.is_eof() => return None,
                    Err(e) => panic!(
                        "the server wrote something that is not JSON ({e}): {}",
                        String::from_utf8_lossy(&self.buf)
                    ),
                }
            }
            FramingKind::ContentLength => {
                let head_end = self.buf.windows(4).position(|w| w == b"\r\n\r\n")?;
                let head = std::str::from_utf8(&self.buf[..head_end]).expect("ASCII headers");
                let length: usize = head
                    .split("\r\n")
                    .find_map(|h| h.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
                let body = head_end + 4..head_end + 4 + length;
                if self.buf.len() < body.end {
                    return None;
                }
                let reply = serde_json::from_slice(&self.buf[body.clone()]).expect("body is JSON");
                (reply, body.end)
            }
        };
        self.buf.drain(..used);
        Some(reply)
    }

    /// Hangs up our side and checks the server sends nothing more before
    /// closing its own.
    async fn finish(mut self) {
        self.stream.shutdown().await.expect("shut down our side");
        let mut rest = std::mem::take(&mut self.buf);
        let read = tokio::time::timeout(REPLY_DEADLINE, self.stream.read_to_end(&mut rest)).await;
        read.expect("the server did not close after we did")
            .expect("read to the end");
        assert!(
            rest.iter().all(u8::is_ascii_whitespace),
            "the server sent more than was asked for: {}",
            String::from_utf8_lossy(&rest)
        );
    }
}
