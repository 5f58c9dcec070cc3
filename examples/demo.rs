//! The tour of jsonrpc-core in one process: a small key-value API declared
//! with `api!` (what the client sends and what the server sends back, in one
//! block), a server and a client joined by a TCP loopback connection,
//! and one line of output per feature: typed calls, a typed error, a
//! notification, the server calling back into the client on the same
//! connection, concurrent calls, a call that times out (and is cancelled on
//! the server), and the client's counters.
//!
//! ```text
//! cargo run --example demo
//! ```

use std::collections::HashMap;
use std::error::Error;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::future::join_all;
use jsonrpc_core::codec::LineCodec;
use jsonrpc_core::{api, CallError, ErrorObject, Peer, PeerConfig, RequestContext, WireCancel};
use jsonrpc_transport::{connect, ConnectOptions, Endpoint, ListenEndpoint, Server};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Debug, Serialize, Deserialize)]
pub struct SetParams {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct KeyParams {
    pub key: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SlowGetParams {
    pub key: String,
    /// How long the "slow storage" takes to answer.
    pub delay_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NoteParams {
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ConfirmParams {
    pub action: String,
    pub key: String,
}

/// The store's own errors. On the wire each is a JSON-RPC 2.0 error object
/// with an application code, so clients without this type can read them too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "ErrorObject", try_from = "ErrorObject")]
pub enum KvError {
    NotFound {
        key: String,
    },
    Refused {
        key: String,
    },
    /// Anything else, such as the standard -326xx errors.
    Other(ErrorObject),
}

const NOT_FOUND: i64 = 1;
const REFUSED: i64 = 2;

impl From<KvError> for ErrorObject {
    fn from(e: KvError) -> Self {
        match e {
            KvError::NotFound { key } => {
                ErrorObject::new(NOT_FOUND, format!("no key `{key}`")).with_data(key)
            }
            KvError::Refused { key } => {
                ErrorObject::new(REFUSED, format!("the operator refused to touch `{key}`"))
                    .with_data(key)
            }
            KvError::Other(e) => e,
        }
    }
}

impl TryFrom<ErrorObject> for KvError {
    type Error = String;

    fn try_from(e: ErrorObject) -> Result<Self, String> {
        let key = || -> Result<String, String> {
            let data = e.data.as_ref().ok_or("the error carries no key")?;
            serde_json::from_str(data.get()).map_err(|err| err.to_string())
        };
        match e.code {
            NOT_FOUND => Ok(KvError::NotFound { key: key()? }),
            REFUSED => Ok(KvError::Refused { key: key()? }),
            _ => Ok(KvError::Other(e)),
        }
    }
}

api! {
    /// A key-value store that asks its clients before it deletes anything.
    pub Kv;
    to_server {
        /// Stores a value; returns the one it replaces.
        method set: Set("kv.set", SetParams) -> Option<String>;
        /// Reads a value.
        method get: Get("kv.get", KeyParams) -> String | KvError;
        /// Deletes a key once the caller's operator confirms.
        method delete: Delete("kv.delete", KeyParams) -> bool | KvError;
        /// Reads a value from slow storage.
        method slow_get: SlowGet("kv.slowGet", SlowGetParams) -> String | KvError;
        /// Leaves a note for the server's operator.
        notification note: Note("kv.note", NoteParams);
    }
    to_client {
        /// Asks the client's operator whether to go ahead with `action` on
        /// `key`, on the same connection.
        method confirm: Confirm("operator.confirm", ConfirmParams) -> bool;
    }
}

struct Store {
    data: Mutex<HashMap<String, String>>,
    /// What the server saw, for `main` to print in order.
    events: mpsc::UnboundedSender<String>,
}

impl Store {
    fn data(&self) -> MutexGuard<'_, HashMap<String, String>> {
        // Every update is a single insert or remove, so a panic elsewhere
        // cannot have left the map half-changed.
        jsonrpc_core::sync::lock(&self.data)
    }

    fn event(&self, text: String) {
        // `main` may have stopped listening; the event only feeds the output.
        let _ = self.events.send(text);
    }

    fn lookup(&self, key: String) -> Result<String, KvError> {
        let found = self.data().get(&key).cloned();
        found.ok_or(KvError::NotFound { key })
    }
}

impl KvServer for Store {
    async fn set(&self, p: SetParams, _: RequestContext) -> Result<Option<String>, ErrorObject> {
        Ok(self.data().insert(p.key, p.value))
    }

    async fn get(&self, p: KeyParams, _: RequestContext) -> Result<String, KvError> {
        self.lookup(p.key)
    }

    async fn delete(&self, p: KeyParams, ctx: RequestContext) -> Result<bool, KvError> {
        let peer = ctx.peer().ok_or_else(|| {
            KvError::Other(ErrorObject::internal_error(
                "no connection to ask for confirmation",
            ))
        })?;
        // The call goes back to the client over the connection this request
        // came in on, while the client is still waiting for our reply.
        let operator = KvPush::new(peer.clone());
        let question = ConfirmParams {
            action: "delete".into(),
            key: p.key.clone(),
        };
        match operator.confirm(question).await {
            Ok(true) => Ok(self.data().remove(&p.key).is_some()),
            Ok(false) => Err(KvError::Refused { key: p.key }),
            Err(e) => Err(KvError::Other(ErrorObject::internal_error(format!(
                "could not ask the operator: {e}"
            )))),
        }
    }

    async fn slow_get(&self, p: SlowGetParams, ctx: RequestContext) -> Result<String, KvError> {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(p.delay_ms)) => self.lookup(p.key),
            _ = ctx.cancelled() => {
                self.event(format!("kv.slowGet `{}` cancelled by the client; stopped early", p.key));
                Err(KvError::Other(ErrorObject::new(ErrorObject::REQUEST_CANCELLED, "cancelled")))
            }
        }
    }

    async fn note(&self, p: NoteParams, _: RequestContext) {
        self.event(format!("received note {:?}", p.text));
    }
}

/// The client's side of the callbacks.
struct Console;

impl KvClientHandler for Console {
    async fn confirm(&self, p: ConfirmParams, _: RequestContext) -> Result<bool, ErrorObject> {
        let yes = p.key != "precious";
        println!(
            "             [client] server asks: {} `{}`? -> {}",
            p.action,
            p.key,
            if yes { "yes" } else { "no" }
        );
        Ok(yes)
    }
}

/// How long `main` waits for an event from the server before saying so.
const EVENT_DEADLINE: Duration = Duration::from_secs(2);

async fn server_event(events: &mut mpsc::UnboundedReceiver<String>) -> String {
    match tokio::time::timeout(EVENT_DEADLINE, events.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => "(the server is gone)".into(),
        Err(_) => format!("(nothing within {EVENT_DEADLINE:?})"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    println!("== jsonrpc-core demo: a typed key-value API over TCP loopback ==");

    // Both sides honour LSP-style `$/cancelRequest`, so a call the client
    // gives up on is cancelled on the server too.
    let config = PeerConfig::default().wire_cancel(Some(WireCancel::lsp()));

    let (events_tx, mut events) = mpsc::unbounded_channel();
    let store = Store {
        data: Mutex::new(HashMap::new()),
        events: events_tx,
    };
    let server = Server::new(LineCodec::new())
        .router(store.into_router())
        .peer_config(config.clone())
        .bind(["ptcp:0:127.0.0.1".parse()?])
        .await?;
    let addr = match server.local_endpoints() {
        [ListenEndpoint::Tcp { port, ip }] => Endpoint::Tcp {
            host: ip.to_string(),
            port: *port,
        },
        other => return Err(format!("unexpected endpoints {other:?}").into()),
    };
    // The client serves a router too: the server calls `operator.confirm` on it.
    let stream = connect(&addr, &ConnectOptions::default()).await?;
    let client = KvClient::new(
        stream.into_peer(
            Peer::new(LineCodec::new())
                .router(Console.into_router())
                .config(config),
        ),
    );
    println!("server on {addr}, client connected (newline-delimited JSON)\n");

    // Typed calls.
    for value in ["hello", "hello, world"] {
        let set = SetParams {
            key: "greeting".into(),
            value: value.into(),
        };
        let previous = client.set(set).await?;
        println!("typed call   kv.set(greeting = {value:?}) -> replaced {previous:?}");
    }
    let key = |k: &str| KeyParams { key: k.into() };
    let value = client.get(key("greeting")).await?;
    println!("typed call   kv.get(greeting) -> {value:?}");

    // A typed error: the client gets a `KvError`, not a bag of JSON.
    match client.get(key("missing")).await {
        Err(CallError::Rpc(KvError::NotFound { key })) => {
            println!("typed error  kv.get(missing) -> KvError::NotFound {{ key: {key:?} }}")
        }
        other => println!("typed error  kv.get(missing) -> unexpected {other:?}"),
    }

    // A notification: no reply; the server's handler reports it arrived.
    client
        .note(NoteParams {
            text: "backup at noon".into(),
        })
        .await?;
    println!("notification kv.note sent (no reply expected)");
    println!("             [server] {}", server_event(&mut events).await);

    // The server's handler calls back into the client before it answers.
    for k in ["greeting", "precious"] {
        println!("callback     kv.delete({k}): the server asks the client first");
        match client.delete(key(k)).await {
            Ok(deleted) => println!("             -> deleted: {deleted}"),
            Err(CallError::Rpc(e)) => println!("             -> typed error {e:?}"),
            Err(e) => return Err(e.into()),
        }
    }

    // Concurrent calls: five 200 ms reads take about 200 ms, not a second.
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")] {
        let set = SetParams {
            key: k.into(),
            value: v.into(),
        };
        client.set(set).await?;
    }
    let started = Instant::now();
    let reads = ["a", "b", "c", "d", "e"].map(|k| {
        client.slow_get(SlowGetParams {
            key: k.into(),
            delay_ms: 200,
        })
    });
    let values = join_all(reads)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "concurrent   5 x kv.slowGet (200 ms each) -> {values:?} in {} ms",
        started.elapsed().as_millis()
    );

    // A deadline: the call gives up after 100 ms and the server is told.
    let slow = SlowGetParams {
        key: "a".into(),
        delay_ms: 10_000,
    };
    let limit = Some(Duration::from_millis(100));
    match client
        .caller()
        .call_with_timeout::<SlowGet>(slow, limit)
        .await
    {
        Err(CallError::Timeout(after)) => {
            println!(
                "timeout      kv.slowGet (10 s) with a {after:?} deadline -> CallError::Timeout"
            )
        }
        other => println!("timeout      kv.slowGet -> unexpected {other:?}"),
    }
    println!("             [server] {}", server_event(&mut events).await);

    let s = client.caller().stats();
    println!(
        "\nclient stats: {} calls sent, {} replies received, {} late replies dropped, \
         {} notifications sent, {} callbacks served, {} bytes out, {} bytes in",
        s.calls_sent,
        s.replies_received,
        s.late_replies,
        s.notifications_sent,
        s.requests_handled,
        s.bytes_out,
        s.bytes_in
    );

    client.caller().close();
    let client_end = client.caller().closed().await;
    server.shutdown(Duration::from_secs(2)).await;
    println!("closed: client ({client_end}); server shut down");
    Ok(())
}
