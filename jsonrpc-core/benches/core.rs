//! Throughput of the framing codecs and of an in-memory peer.
//!
//! * `stream_decode`: a corpus of JSON-RPC traffic framed as back-to-back
//!   JSON values ([`JsonStreamCodec`]), decoded several ways over the same
//!   bytes, beside plain `serde_json` parses of the pre-split messages.
//! * `line_decode`, `content_length_decode`: the same corpus under
//!   [`LineCodec`] (compact, newline-joined) and [`ContentLengthCodec`].
//! * `peer_roundtrip`: calls per second between two peers on one
//!   current-thread runtime over an in-memory duplex pipe.
//!
//! Every variant of a codec group reports `Throughput::Bytes` of that group's
//! whole wire corpus, so the MB/s figures of a group compare the same work.
//!
//! Run: `cargo bench -p jsonrpc-core --bench core -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::ops::Range;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use futures::stream::{FuturesUnordered, StreamExt};
use jsonrpc_core::codec::{
    ContentLengthCodec, Frame, FrameParser, Framing, JsonStreamCodec, LineCodec,
};
use jsonrpc_core::{DialectMode, ErrorObject, Incoming, MessageParser, Peer, PeerHandle, Router};
use serde_json::{json, Value};
use tokio_util::codec::{Decoder, Encoder};

/// Size of one simulated socket read.
const CHUNK: usize = 4 * 1024;
/// Calls kept in flight by the pipelined peer benchmark.
const IN_FLIGHT: usize = 64;

// ---------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------

/// A small deterministic generator (64-bit LCG), so the corpus is the same
/// on every run without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn uuid(rng: &mut Lcg) -> String {
    let a = rng.next() << 31 | rng.next();
    let b = rng.next() << 31 | rng.next();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a & 0xffff_ffff,
        (a >> 32) & 0xffff,
        b & 0xffff,
        (b >> 16) & 0xffff,
        (b >> 32) & 0xffff_ffff_ffff
    )
}

/// One bdev as SPDK's `bdev_get_bdevs` describes it, with a description
/// string holding escapes, control characters and non-ASCII text.
fn bdev(rng: &mut Lcg, i: u64) -> Value {
    let id = uuid(rng);
    json!({
        "name": format!("Malloc{i}"),
        "aliases": [id.clone()],
        "product_name": "Malloc disk",
        "block_size": 512,
        "num_blocks": 131_072 + rng.below(1 << 20),
        "uuid": id,
        "assigned_rate_limits": {
            "rw_ios_per_sec": 0,
            "rw_mbytes_per_sec": 0,
            "r_mbytes_per_sec": 0,
            "w_mbytes_per_sec": 0
        },
        "claimed": rng.below(2) == 0,
        "zoned": false,
        "supported_io_types": {
            "read": true, "write": true, "unmap": true, "write_zeroes": true,
            "flush": true, "reset": true, "compare": false,
            "compare_and_write": false, "abort": true,
            "nvme_admin": false, "nvme_io": false
        },
        "driver_specific": {
            "note": format!(
                "disk #{i}: \"fast\" tier\n\tpath C:\\spdk\\bdev\u{1} ünïcödé 漢字 🎉 {}",
                rng.below(1_000_000)
            ),
            "latency_us": [rng.below(100), rng.below(100), rng.below(100)],
            "ratio": 0.25 + rng.below(1000) as f64 / 1000.0
        }
    })
}

fn small_request(id: u64) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"bdev_get_bdevs","params":{{"name":"Malloc{}"}}}}"#,
        id % 16
    )
    .into_bytes()
}

fn reply(id: u64, result: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result})).unwrap()
}

/// A reply of about 1.4-2.1 KB: two or three bdevs.
fn medium_reply(rng: &mut Lcg, id: u64) -> Vec<u8> {
    let n = 2 + rng.below(2);
    let bdevs: Vec<Value> = (0..n).map(|k| bdev(rng, id * 4 + k)).collect();
    reply(id, Value::Array(bdevs))
}

/// A reply of about 64 KB: a long bdev list.
fn large_reply(rng: &mut Lcg, id: u64) -> Vec<u8> {
    let mut bdevs = Vec::new();
    // The envelope around the array, plus one comma per element.
    let mut size = reply(id, Value::Array(Vec::new())).len();
    while size < 64 * 1024 {
        let b = bdev(rng, bdevs.len() as u64);
        size += serde_json::to_vec(&b).unwrap().len() + 1;
        bdevs.push(b);
    }
    reply(id, Value::Array(bdevs))
}

/// A request as SPDK's Python client writes it (`json.dumps(req, indent=2)`).
fn pretty_request(rng: &mut Lcg, id: u64) -> Vec<u8> {
    let req = json!({
        "jsonrpc": "2.0",
        "method": "bdev_malloc_create",
        "id": id,
        "params": {
            "name": format!("Malloc{}", rng.below(64)),
            "num_blocks": 32_768,
            "block_size": 512,
            "uuid": uuid(rng),
            "optimal_io_boundary": 0
        }
    });
    serde_json::to_vec_pretty(&req).unwrap()
}

fn error_reply(id: u64) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"Invalid parameters: bdev \"Malloc{id}\" not found"}}}}"#
    )
    .into_bytes()
}

/// The messages, in wire order: mostly small requests and 1-2 KB replies,
/// some pretty-printed requests, a few error replies and 64 KB results.
/// Built once (criterion runs every group's setup even when filtered).
fn messages() -> &'static [Vec<u8>] {
    static MESSAGES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    MESSAGES.get_or_init(build_messages)
}

fn build_messages() -> Vec<Vec<u8>> {
    let mut rng = Lcg(0x5eed_cafe);
    let mut out = Vec::new();
    let mut large_left = 3;
    for id in 0..520u64 {
        let roll = rng.below(100);
        let msg = match roll {
            0..=54 => small_request(id),
            55..=84 => medium_reply(&mut rng, id),
            85..=94 => pretty_request(&mut rng, id),
            _ => error_reply(id),
        };
        out.push(msg);
        if id % 170 == 85 && large_left > 0 {
            large_left -= 1;
            out.push(large_reply(&mut rng, 10_000 + id));
        }
    }
    out
}

/// A corpus: the wire bytes, and where each message's JSON text is in them.
struct Corpus {
    wire: Vec<u8>,
    texts: Vec<Range<usize>>,
}

impl Corpus {
    fn new(wire: BytesMut, texts: Vec<Range<usize>>) -> Self {
        Corpus {
            wire: wire.to_vec(),
            texts,
        }
    }

    fn text(&self, r: &Range<usize>) -> &[u8] {
        &self.wire[r.clone()]
    }

    fn bytes(&self) -> Throughput {
        Throughput::Bytes(self.wire.len() as u64)
    }
}

/// Back-to-back values as SPDK and OVSDB send them: most with nothing in
/// between, pretty-printed ones followed by a newline.
fn stream_corpus(msgs: &[Vec<u8>]) -> Corpus {
    let mut codec = JsonStreamCodec::new();
    let mut wire = BytesMut::new();
    let mut texts = Vec::new();
    for m in msgs {
        let start = wire.len();
        codec.encode(&m[..], &mut wire).unwrap();
        texts.push(start..start + m.len());
        if m.contains(&b'\n') {
            wire.extend_from_slice(b"\n");
        }
    }
    Corpus::new(wire, texts)
}

/// One compact message per line.
fn line_corpus(msgs: &[Vec<u8>]) -> Corpus {
    let mut codec = LineCodec::new();
    let mut wire = BytesMut::new();
    let mut texts = Vec::new();
    for m in msgs {
        let compact = if m.contains(&b'\n') {
            serde_json::to_vec(&serde_json::from_slice::<Value>(m).unwrap()).unwrap()
        } else {
            m.clone()
        };
        let start = wire.len();
        codec.encode(&compact[..], &mut wire).unwrap();
        texts.push(start..start + compact.len());
    }
    Corpus::new(wire, texts)
}

/// `Content-Length` frames; bodies as they were (pretty ones stay pretty).
fn content_length_corpus(msgs: &[Vec<u8>]) -> Corpus {
    let mut codec = ContentLengthCodec::new();
    let mut wire = BytesMut::new();
    let mut texts = Vec::new();
    for m in msgs {
        codec.encode(&m[..], &mut wire).unwrap();
        texts.push(wire.len() - m.len()..wire.len());
    }
    Corpus::new(wire, texts)
}

fn parser() -> MessageParser {
    MessageParser::new(DialectMode::Detect)
}

/// True when a decoded message is a valid single message.
fn is_ok(incoming: &Incoming) -> bool {
    matches!(incoming, Incoming::Single(Ok(_)))
}

// ---------------------------------------------------------------------------
// Decode loops
// ---------------------------------------------------------------------------

// The loops are kept out of line so a profile (callgrind, perf) shows each
// variant's cost under its own name.

/// Baseline (a): `serde_json::Value` from each pre-split message.
#[inline(never)]
fn parse_values(corpus: &Corpus) {
    for r in &corpus.texts {
        let v: Value = serde_json::from_slice(corpus.text(r)).unwrap();
        black_box(v);
    }
}

/// Baseline (b): our message parse of each pre-split message.
#[inline(never)]
fn parse_messages(corpus: &Corpus) {
    let p = parser();
    for r in &corpus.texts {
        black_box(p.parse_slice(corpus.text(r)));
    }
}

/// Frames only: `Decoder::decode` over a fully buffered stream.
#[inline(never)]
fn scan_all(codec: &mut JsonStreamCodec, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while let Some(frame) = codec.decode(buf).unwrap() {
        black_box(frame);
        n += 1;
    }
    n
}

/// Decodes everything in `buf` (already fully buffered) with `decode_with`.
#[inline(never)]
fn decode_all<F: Framing>(codec: &mut F, buf: &mut BytesMut) -> usize {
    let mut p = parser();
    let mut n = 0;
    while let Some(frame) = codec.decode_with(buf, &mut p).unwrap() {
        black_box(frame);
        n += 1;
    }
    n
}

/// Feeds `wire` to the codec in `CHUNK`-byte reads, decoding after each.
#[inline(never)]
fn decode_chunked<F: Framing>(codec: &mut F, wire: &[u8]) -> usize {
    let mut p = parser();
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    let mut n = 0;
    for chunk in wire.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode_with(&mut buf, &mut p).unwrap() {
            black_box(frame);
            n += 1;
        }
    }
    while let Some(frame) = codec.decode_with_eof(&mut buf, &mut p).unwrap() {
        black_box(frame);
        n += 1;
    }
    n
}

/// Checks that a codec finds exactly the corpus' messages, all valid, both
/// fully buffered and in chunks, before anything is timed.
fn check<F: Framing + Clone>(codec: &F, corpus: &Corpus) {
    let mut expected = Vec::new();
    for r in &corpus.texts {
        let text = corpus.text(r);
        assert!(
            is_ok(&parser().parse_slice(text)),
            "corpus message is not valid JSON-RPC: {}",
            String::from_utf8_lossy(text)
        );
        expected.push(text.to_vec());
    }
    let mut frames = Vec::new();
    let mut buf = BytesMut::from(&corpus.wire[..]);
    let mut c = codec.clone();
    while let Some(f) = c.decode_eof(&mut buf).unwrap() {
        match f {
            Frame::Complete(text) => frames.push(text.to_vec()),
            Frame::Oversized(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(frames, expected, "framing disagrees with the corpus");

    struct CheckValid;
    impl FrameParser for CheckValid {
        type Output = bool;
        fn parse(&mut self, frame: &[u8]) -> bool {
            is_ok(&parser().parse_slice(frame))
        }
        fn parse_prefix(&mut self, buf: &[u8]) -> Option<(bool, usize)> {
            parser()
                .parse_prefix(buf)
                .map(|(incoming, n)| (is_ok(&incoming), n))
        }
    }
    for chunk in [corpus.wire.len(), CHUNK] {
        let mut c = codec.clone();
        let mut buf = BytesMut::new();
        let mut n = 0;
        for piece in corpus.wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(f) = c.decode_with(&mut buf, &mut CheckValid).unwrap() {
                assert_eq!(f, Frame::Complete(true), "chunk {chunk}, frame {n}");
                n += 1;
            }
        }
        assert!(c
            .decode_with_eof(&mut buf, &mut CheckValid)
            .unwrap()
            .is_none());
        assert_eq!(n, expected.len(), "chunk {chunk}");
    }
}

/// Where the bytes of a chunked stream decode go: the fast path
/// (`parse_prefix` on a fully buffered value), or the scanner then `parse`.
/// Printed once, untimed, to explain the gap between `codec` and
/// `codec_chunked_4k`.
fn explain_chunked(corpus: &Corpus) {
    #[derive(Default)]
    struct Tally {
        fast: usize,
        fast_bytes: usize,
        failed: usize,
        failed_bytes: usize,
        slow: usize,
        slow_bytes: usize,
    }
    impl FrameParser for Tally {
        type Output = ();
        fn parse(&mut self, frame: &[u8]) {
            self.slow += 1;
            self.slow_bytes += frame.len();
            black_box(parser().parse_slice(frame));
        }
        fn parse_prefix(&mut self, buf: &[u8]) -> Option<((), usize)> {
            match parser().parse_prefix(buf) {
                Some((incoming, n)) => {
                    black_box(incoming);
                    self.fast += 1;
                    self.fast_bytes += n;
                    Some(((), n))
                }
                None => {
                    self.failed += 1;
                    self.failed_bytes += buf.len();
                    None
                }
            }
        }
    }
    let mut codec = JsonStreamCodec::new();
    let mut t = Tally::default();
    let mut buf = BytesMut::new();
    for chunk in corpus.wire.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while codec.decode_with(&mut buf, &mut t).unwrap().is_some() {}
    }
    let total = corpus.wire.len() as f64 / 100.0;
    eprintln!(
        "stream, {CHUNK}-byte reads: {} frames ({:.1}% of bytes) by the fast path; \
         {} frames ({:.1}%) by scanner + parse, the scanner examining {:.1}% of all bytes; \
         {} fast-path attempts failed on a partial value after reading {:.1}% of all bytes",
        t.fast,
        t.fast_bytes as f64 / total,
        t.slow,
        t.slow_bytes as f64 / total,
        codec.scanned_bytes() as f64 / total,
        t.failed,
        t.failed_bytes as f64 / total,
    );
}

/// The two `serde_json` baselines over the pre-split messages.
fn baselines(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    corpus: &Corpus,
) {
    group.bench_function("serde_json_value", |b| b.iter(|| parse_values(corpus)));
    group.bench_function("serde_json_message", |b| b.iter(|| parse_messages(corpus)));
}

/// The fully buffered `decode_with` variant: the buffer is filled outside
/// the timing, as a socket read would have filled it.
fn bench_buffered<F: Framing + Clone>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    codec: &F,
    corpus: &Corpus,
) {
    let count = corpus.texts.len();
    group.bench_function("codec", |b| {
        b.iter_batched(
            || (codec.clone(), BytesMut::from(&corpus.wire[..])),
            |(mut c, mut buf)| assert_eq!(decode_all(&mut c, &mut buf), count),
            BatchSize::LargeInput,
        )
    });
}

fn bench_chunked<F: Framing + Clone>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    codec: &F,
    corpus: &Corpus,
) {
    let count = corpus.texts.len();
    group.bench_function("codec_chunked_4k", |b| {
        b.iter(|| assert_eq!(decode_chunked(&mut codec.clone(), &corpus.wire), count))
    });
}

fn stream_decode(c: &mut Criterion) {
    let corpus = stream_corpus(messages());
    check(&JsonStreamCodec::new(), &corpus);
    let sizes: Vec<usize> = messages().iter().map(Vec::len).collect();
    let class = |range: Range<usize>| {
        let in_class: Vec<usize> = sizes
            .iter()
            .copied()
            .filter(|n| range.contains(n))
            .collect();
        let mean = in_class.iter().sum::<usize>() / in_class.len().max(1);
        format!("{} of {range:?} B (mean {mean} B)", in_class.len())
    };
    eprintln!(
        "stream corpus: {} messages, {} bytes: {}, {}, {}",
        sizes.len(),
        corpus.wire.len(),
        class(0..200),
        class(200..4096),
        class(4096..1 << 20),
    );
    explain_chunked(&corpus);
    let count = corpus.texts.len();
    let mut group = c.benchmark_group("stream_decode");
    group.throughput(corpus.bytes());
    baselines(&mut group, &corpus);
    bench_buffered(&mut group, &JsonStreamCodec::new(), &corpus);
    bench_chunked(&mut group, &JsonStreamCodec::new(), &corpus);
    group.bench_function("scan_only", |b| {
        b.iter_batched(
            || (JsonStreamCodec::new(), BytesMut::from(&corpus.wire[..])),
            |(mut codec, mut buf)| assert_eq!(scan_all(&mut codec, &mut buf), count),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn line_decode(c: &mut Criterion) {
    let corpus = line_corpus(messages());
    check(&LineCodec::new(), &corpus);
    let mut group = c.benchmark_group("line_decode");
    group.throughput(corpus.bytes());
    baselines(&mut group, &corpus);
    bench_buffered(&mut group, &LineCodec::new(), &corpus);
    bench_chunked(&mut group, &LineCodec::new(), &corpus);
    group.finish();
}

fn content_length_decode(c: &mut Criterion) {
    let corpus = content_length_corpus(messages());
    check(&ContentLengthCodec::new(), &corpus);
    let mut group = c.benchmark_group("content_length_decode");
    group.throughput(corpus.bytes());
    baselines(&mut group, &corpus);
    bench_buffered(&mut group, &ContentLengthCodec::new(), &corpus);
    bench_chunked(&mut group, &ContentLengthCodec::new(), &corpus);
    group.finish();
}

// ---------------------------------------------------------------------------
// Peer round trips
// ---------------------------------------------------------------------------

/// A current-thread runtime with a server peer serving `add` and a client
/// peer, joined by an in-memory pipe. Built once, outside any timing.
fn peers() -> (tokio::runtime::Runtime, PeerHandle, PeerHandle) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (server, client) = rt.block_on(async {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let mut router = Router::new();
        router.method_fn("add", |(x, y): (i64, i64), _| async move {
            Ok::<_, ErrorObject>(x + y)
        });
        let server = Peer::new(JsonStreamCodec::new()).router(router).spawn(a);
        let client = Peer::new(JsonStreamCodec::new()).spawn(b);
        let sum: i64 = client.call_raw_typed("add", (2, 3)).await.unwrap();
        assert_eq!(sum, 5);
        (server, client)
    });
    (rt, server, client)
}

async fn add(client: &PeerHandle, i: u64) {
    let x = i as i64;
    let sum: i64 = client.call_raw_typed("add", (x, 1)).await.unwrap();
    assert_eq!(sum, x + 1);
}

/// `iters` calls, one at a time.
async fn sequential(client: PeerHandle, iters: u64) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        add(&client, i).await;
    }
    start.elapsed()
}

/// `iters` calls, keeping `IN_FLIGHT` of them outstanding.
async fn pipelined(client: PeerHandle, iters: u64) -> Duration {
    let start = Instant::now();
    let mut running = FuturesUnordered::new();
    let mut next = 0;
    while next < iters.min(IN_FLIGHT as u64) {
        running.push(add(&client, next));
        next += 1;
    }
    while running.next().await.is_some() {
        if next < iters {
            running.push(add(&client, next));
            next += 1;
        }
    }
    start.elapsed()
}

fn peer_roundtrip(c: &mut Criterion) {
    let (rt, server, client) = peers();
    let mut group = c.benchmark_group("peer_roundtrip");
    group.throughput(Throughput::Elements(1));
    // The calls run in a task of their own, as an application's would: the
    // runtime's `block_on` future only waits for it to finish. (Calling from
    // the `block_on` future itself makes the current-thread scheduler poll
    // its I/O and timer drivers, an `epoll_wait`, once per call.)
    group.bench_function("sequential", |b| {
        b.iter_custom(|iters| {
            rt.block_on(rt.spawn(sequential(client.clone(), iters)))
                .unwrap()
        })
    });
    group.bench_function(format!("in_flight_{IN_FLIGHT}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(rt.spawn(pipelined(client.clone(), iters)))
                .unwrap()
        })
    });
    group.finish();
    let stats = client.stats();
    assert_eq!(stats.calls_sent, stats.replies_received);
    client.close();
    server.close();
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(5), server.closed()).await;
    });
}

criterion_group!(
    benches,
    stream_decode,
    line_decode,
    content_length_decode,
    peer_roundtrip
);
criterion_main!(benches);
