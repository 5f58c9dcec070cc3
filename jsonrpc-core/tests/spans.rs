//! Every call, in either direction, runs in a `tracing` span that names its
//! method and id, so a log of one connection reads call by call.

mod support;

use std::sync::{Arc, Mutex};

use jsonrpc_core::{ErrorObject, PeerConfig, Router};
use support::pair;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span as recorded: its name and its fields' names and values.
type Seen = (String, Vec<(String, String)>);

/// Records each span's name and fields.
#[derive(Clone, Default)]
struct Spans {
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name().to_owned(), value.to_string()));
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        let mut seen = self.seen.lock().unwrap();
        seen.push((span.metadata().name().to_owned(), fields));
        Id::from_u64(seen.len() as u64)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut seen = self.seen.lock().unwrap();
        if let Some((_, fields)) = seen.get_mut(span.into_u64() as usize - 1) {
            values.record(&mut Fields(fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Spans {
    fn find(&self, name: &str, field: &str, value: &str) -> bool {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .any(|(n, fields)| n == name && fields.iter().any(|(f, v)| f == field && v == value))
    }
    fn field(&self, name: &str, field: &str) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, fields)| {
                fields
                    .iter()
                    .filter(|(f, _)| f == field)
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn calls_and_requests_run_in_spans_naming_method_and_id() {
    let spans = Spans::default();
    // The runtime is one thread, so every task of both peers sees this subscriber.
    let _guard = tracing::subscriber::set_default(spans.clone());
    let mut router = Router::new();
    router.method_fn("add", |(a, b): (i64, i64), _| async move {
        Ok::<_, ErrorObject>(a + b)
    });
    router.notification_fn("note", |_: (), _| async {});
    let (_server, client) = pair(
        router,
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    let sum: i64 = client.call_raw_typed("add", (2, 3)).await.unwrap();
    assert_eq!(sum, 5);
    client.notify_raw("note", None).await.unwrap();
    support::within(async {
        while !spans.find("rpc.notification", "method", "note") {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // The caller's span and the handler's span carry the same method and id.
    assert!(spans.find("rpc.call", "method", "add"));
    assert!(spans.find("rpc.request", "method", "add"));
    assert_eq!(spans.field("rpc.call", "id"), vec!["0".to_string()]);
    assert_eq!(spans.field("rpc.request", "id"), vec!["0".to_string()]);
}
