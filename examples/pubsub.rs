//! Server push and subscriptions, the pattern every push protocol needs:
//! a key-value server where clients `watch` keys and get a `changed`
//! notification when another client `put`s one of them.
//!
//! - Each connection's watches are its own state (`Peer::state`, set by the
//!   server's `on_open` hook), reached from handlers with `with_state`, and
//!   dropped when the connection closes (`on_close`).
//! - A `put` is fanned out to every other connection watching the key: the
//!   notification is serialized once (`SharedNotification`) and queued with
//!   `try_send`, which never waits, so a watcher that stops reading cannot
//!   hold up a writer (its connection's `Overflow` policy deals with it).
//! - A client reads the changes as a typed stream (`PeerHandle::subscribe`),
//!   ordered with its replies: a change sent before a reply is on the
//!   stream when that call returns.
//!
//! ```text
//! cargo run --example pubsub
//! ```

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::{
    api, ConnectionId, ErrorObject, Peer, PeerHandle, RequestContext, SharedNotification,
    TrySendError,
};
use jsonrpc_transport::{connect, ConnectOptions, Endpoint, ListenEndpoint, Server};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PutParams {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyParams {
    pub key: String,
}

/// What a watcher is told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangedParams {
    pub key: String,
    pub value: String,
    /// The connection that made the change.
    pub by: u64,
}

api! {
    /// A key-value store that tells watchers what changed.
    pub Kv;
    to_server {
        /// Stores a value; answers how many watchers were told.
        method put: Put("put", PutParams) -> usize;
        /// Reads a value.
        method get: Get("get", KeyParams) -> Option<String>;
        /// Watches a key: every later change to it by another connection
        /// comes as `changed`.
        method watch: Watch("watch", KeyParams) -> ();
    }
    to_client {
        /// A watched key changed.
        notification changed: Changed("changed", ChangedParams);
    }
}

/// One connection's watches: its state, created when it opens.
#[derive(Default)]
struct Watches(HashSet<String>);

/// The server: the values, and the connections that watch something.
#[derive(Default)]
struct Store {
    values: Mutex<HashMap<String, String>>,
    watchers: Mutex<HashMap<ConnectionId, PeerHandle>>,
}

impl KvServer for Arc<Store> {
    async fn put(&self, p: PutParams, ctx: RequestContext) -> Result<usize, ErrorObject> {
        let by = ctx.connection_id().map_or(0, |id| id.get());
        let changed = ChangedParams {
            key: p.key.clone(),
            value: p.value.clone(),
            by,
        };
        lock(&self.values).insert(p.key.clone(), p.value);
        // Serialized once for every watcher.
        let note =
            SharedNotification::of::<Changed>(&changed).map_err(ErrorObject::internal_error)?;
        let mut told = 0;
        for watcher in lock(&self.watchers).values() {
            let watches = watcher.with_state(|w: &mut Watches| w.0.contains(&p.key));
            if Some(watcher.id()) == ctx.connection_id() || watches != Some(true) {
                continue;
            }
            match watcher.try_send(&note) {
                Ok(()) => told += 1,
                // Closed (it fell behind, or went): it resyncs when it comes back.
                Err(TrySendError::Closed(reason)) => {
                    println!("  (watcher {} closed: {reason})", watcher.id())
                }
                Err(e) => println!("  (watcher {} missed it: {e})", watcher.id()),
            }
        }
        Ok(told)
    }

    async fn get(&self, p: KeyParams, _: RequestContext) -> Result<Option<String>, ErrorObject> {
        Ok(lock(&self.values).get(&p.key).cloned())
    }

    async fn watch(&self, p: KeyParams, ctx: RequestContext) -> Result<(), ErrorObject> {
        let peer = ctx
            .peer()
            .ok_or_else(|| ErrorObject::internal_error("no connection"))?;
        ctx.with_state(|w: &mut Watches| w.0.insert(p.key));
        lock(&self.watchers).insert(peer.id(), peer.clone());
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn client(endpoint: &Endpoint) -> Result<PeerHandle, Box<dyn Error>> {
    let stream = connect(endpoint, &ConnectOptions::default()).await?;
    Ok(stream.into_peer(Peer::new(JsonStreamCodec::new())))
}

/// Runs the whole story; an error says which step did not hold.
pub async fn run() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("pubsub-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("kv.sock");

    // The server: each connection's watches are its state; when it closes,
    // it leaves the watchers and its watches go with it.
    let store = Arc::new(Store::default());
    let on_close_store = store.clone();
    let server = Server::new(JsonStreamCodec::new())
        .router(store.clone().into_router())
        .on_open(|peer| peer.state(Watches::default()))
        .on_close(move |peer, reason| {
            lock(&on_close_store.watchers).remove(&peer.id());
            let watched = peer.take_state::<Watches>().map_or(0, |w| w.0.len());
            println!(
                "server: connection {} closed ({reason}); dropped its {watched} watches",
                peer.id()
            );
        })
        .bind([ListenEndpoint::Unix(socket.clone())])
        .await?;
    let endpoint = Endpoint::Unix(socket);

    // Two watchers and a writer.
    let (alice, bob, writer) = (
        client(&endpoint).await?,
        client(&endpoint).await?,
        client(&endpoint).await?,
    );
    let mut alice_changes = alice.subscribe::<Changed>();
    let mut bob_changes = bob.subscribe::<Changed>();
    KvClient::new(alice.clone())
        .watch(KeyParams {
            key: "color".into(),
        })
        .await?;
    KvClient::new(bob.clone())
        .watch(KeyParams {
            key: "color".into(),
        })
        .await?;
    KvClient::new(bob.clone())
        .watch(KeyParams { key: "size".into() })
        .await?;

    let kv = KvClient::new(writer.clone());
    for (key, value) in [("color", "red"), ("size", "XL"), ("color", "blue")] {
        let told = kv
            .put(PutParams {
                key: key.into(),
                value: value.into(),
            })
            .await?;
        println!("writer: put {key}={value}, {told} watcher(s) told");
    }

    // Alice watches color only; Bob both.
    for _ in 0..2 {
        let c = next(&mut alice_changes).await?;
        println!(
            "alice:  {} is now {} (by connection {})",
            c.key, c.value, c.by
        );
    }
    for _ in 0..3 {
        let c = next(&mut bob_changes).await?;
        println!(
            "bob:    {} is now {} (by connection {})",
            c.key, c.value, c.by
        );
    }

    // Order with replies: Alice's change was queued for Bob before the
    // reply to Bob's next call, so when that call returns the change is on
    // Bob's stream already; no waiting needed.
    KvClient::new(alice.clone())
        .put(PutParams {
            key: "size".into(),
            value: "S".into(),
        })
        .await?;
    let size = KvClient::new(bob.clone())
        .get(KeyParams { key: "size".into() })
        .await?;
    match bob_changes.next().now_or_never() {
        Some(Some(Ok(c))) => println!(
            "bob:    read size={size:?}; the change was there before: {} is now {}",
            c.key, c.value
        ),
        _ => return Err("the change was not on the stream before the reply".into()),
    }

    // Alice leaves: her watches go with her connection.
    alice.close();
    alice.closed().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let told = kv
        .put(PutParams {
            key: "color".into(),
            value: "green".into(),
        })
        .await?;
    println!("writer: put color=green, {told} watcher(s) told");
    let c = next(&mut bob_changes).await?;
    println!("bob:    {} is now {}", c.key, c.value);

    server.shutdown(Duration::from_secs(1)).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The next change on a stream, within a second.
async fn next(
    changes: &mut jsonrpc_core::Subscription<ChangedParams>,
) -> Result<ChangedParams, Box<dyn Error>> {
    match tokio::time::timeout(Duration::from_secs(1), changes.next()).await {
        Ok(Some(Ok(change))) => Ok(change),
        Ok(Some(Err(e))) => Err(e.into()),
        Ok(None) => Err("the connection closed".into()),
        Err(_) => Err("no change within a second".into()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pubsub: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
