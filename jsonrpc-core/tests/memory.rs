//! Memory a connection keeps: received messages share the buffer they were
//! read into, so the reader must not let small messages keep large buffers.
//!
//! Its own test binary, with an allocator that counts live bytes.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jsonrpc_core::{ErrorObject, PeerConfig, Router};
use serde_json::Value;
use support::{peer_and_raw, within};
use tokio::sync::Notify;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[tokio::test]
async fn small_requests_after_large_frames_do_not_keep_the_large_buffers() {
    const PAIRS: usize = 200;
    const LARGE: usize = 512 * 1024;
    let release = Arc::new(Notify::new());
    let mut router = Router::new();
    {
        let release = release.clone();
        router.method_fn("slow", move |_: Value, _| {
            let release = release.clone();
            async move {
                release.notified().await;
                Ok::<_, ErrorObject>(0)
            }
        });
    }
    router.method_fn("ping", |_: Value, _| async { Ok::<_, ErrorObject>(1) });
    let config = PeerConfig::default().max_concurrent_requests(4 * PAIRS);
    let (server, mut raw) = peer_and_raw(router, config);
    let late_reply = format!(
        r#"{{"jsonrpc":"2.0","id":999999,"result":"{}"}}"#,
        "x".repeat(LARGE)
    );
    let before = LIVE.load(Ordering::Relaxed);
    for n in 0..PAIRS {
        // A large frame (a reply nobody waits for, dropped at once), then a
        // small request whose handler holds on.
        raw.send(&late_reply).await;
        raw.send(&format!(r#"{{"jsonrpc":"2.0","id":{n},"method":"slow"}}"#))
            .await;
    }
    // Its answer means every frame before it has been read.
    raw.send(r#"{"jsonrpc":"2.0","id":"last","method":"ping"}"#)
        .await;
    assert_eq!(within(raw.recv()).await["id"], "last");
    let kept = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    // Each slow request keeps its own few bytes and task; sharing the
    // buffer a large frame came in would keep about 1 MiB each (200 MiB).
    assert!(
        kept < 16 << 20,
        "{PAIRS} small requests after {PAIRS} frames of {LARGE} bytes keep {kept} bytes"
    );
    assert_eq!(server.stats().late_replies, PAIRS as u64);
    release.notify_waiters();
}
