//! Property tests for the framing codecs: random JSON values, encoded in
//! several styles and split into reads at random byte positions, must come
//! back out exactly; garbage must never panic or hang; oversized frames must
//! be skipped without being buffered.

use bytes::BytesMut;
use jsonrpc_core::codec::{
    ContentLengthCodec, Frame, FrameError, FrameParser, FrameTooLarge, Framing, JsonStreamCodec,
    LineCodec,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use tokio_util::codec::Encoder;

// ---------------------------------------------------------------------------
// Values and encodings

fn arb_string() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        'a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}', 'é',
        '漢', '🎉', '{', '}', '[', ']', ':', ',', '\u{2028}', '\u{ffff}',
    ]);
    prop_oneof![
        "[a-z]{0,6}",
        prop::collection::vec(tricky, 0..12).prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Quarter steps print and parse back exactly, so values compare equal.
        (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 4.0)),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// How a value is written on the wire.
#[derive(Debug, Clone, Copy)]
enum Style {
    Compact,
    Pretty,
    /// Hand-written: every non-ASCII character as `\uXXXX` (surrogate pairs
    /// beyond the BMP), `/` as `\/`, and odd whitespace between tokens.
    Escaped {
        newlines: bool,
    },
}

fn arb_style(newlines_ok: bool) -> impl Strategy<Value = Style> {
    if newlines_ok {
        prop_oneof![
            Just(Style::Compact),
            Just(Style::Pretty),
            Just(Style::Escaped { newlines: true }),
            Just(Style::Escaped { newlines: false }),
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(Style::Compact),
            Just(Style::Escaped { newlines: false }),
        ]
        .boxed()
    }
}

fn encode(value: &Value, style: Style) -> Vec<u8> {
    match style {
        Style::Compact => serde_json::to_vec(value).expect("serialise"),
        Style::Pretty => serde_json::to_vec_pretty(value).expect("serialise"),
        Style::Escaped { newlines } => {
            let mut out = String::new();
            let ws = if newlines { " \r\n\t" } else { " \t" };
            write_escaped(value, ws, &mut out);
            out.into_bytes()
        }
    }
}

fn write_escaped(value: &Value, ws: &str, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws);
                write_escaped(item, ws, out);
            }
            out.push_str(ws);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws);
                write_escaped_str(k, out);
                out.push_str(ws);
                out.push(':');
                write_escaped(v, ws, out);
            }
            out.push('}');
        }
        Value::String(s) => write_escaped_str(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_escaped_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// True when a value's text runs until a delimiter (numbers, literals).
fn needs_delimiter(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_) | Value::String(_))
}

/// A stream of values back to back for `JsonStreamCodec`.
fn arb_json_stream() -> impl Strategy<Value = (Vec<Value>, Vec<u8>)> {
    prop::collection::vec(
        (
            arb_value(),
            arb_style(true),
            prop::sample::select(vec!["", "", " ", "\n", "\r\n", " \t\n "]),
        ),
        0..8,
    )
    .prop_map(|items| {
        let mut wire = Vec::new();
        let mut values = Vec::new();
        let mut prev_scalar = false;
        for (v, style, sep) in items {
            // A number or literal is only finished by a delimiter; a second
            // one right after it would merge with it.
            let sep = if prev_scalar && needs_delimiter(&v) && sep.is_empty() {
                " "
            } else {
                sep
            };
            wire.extend_from_slice(sep.as_bytes());
            wire.extend_from_slice(&encode(&v, style));
            prev_scalar = needs_delimiter(&v);
            values.push(v);
        }
        (values, wire)
    })
}

/// A stream of lines for `LineCodec`, with `\r\n` and blank lines mixed in.
fn arb_line_stream() -> impl Strategy<Value = (Vec<Value>, Vec<u8>)> {
    prop::collection::vec(
        (
            arb_value(),
            arb_style(false),
            prop::sample::select(vec!["\n", "\r\n", "\n\n", "\r\n \t\r\n", "\n\r\n"]),
        ),
        0..8,
    )
    .prop_map(|items| {
        let mut wire = Vec::new();
        let mut values = Vec::new();
        for (v, style, end) in items {
            wire.extend_from_slice(&encode(&v, style));
            wire.extend_from_slice(end.as_bytes());
            values.push(v);
        }
        (values, wire)
    })
}

/// How one `Content-Length` header section is written.
#[derive(Debug, Clone)]
struct HeaderStyle {
    /// Per-letter upper/lower case of the `Content-Length` name.
    case: Vec<bool>,
    content_type_before: bool,
    content_type_after: bool,
    space_after_colon: bool,
}

fn arb_header_style() -> impl Strategy<Value = HeaderStyle> {
    (
        prop::collection::vec(any::<bool>(), 14),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(case, b, a, s)| HeaderStyle {
            case,
            content_type_before: b,
            content_type_after: a,
            space_after_colon: s,
        })
}

fn content_length_frame(body: &[u8], h: &HeaderStyle) -> Vec<u8> {
    let mut out = Vec::new();
    let content_type = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n";
    if h.content_type_before {
        out.extend_from_slice(content_type);
    }
    for (c, upper) in "content-length".chars().zip(&h.case) {
        out.push(if *upper { c.to_ascii_uppercase() } else { c } as u8);
    }
    out.push(b':');
    if h.space_after_colon {
        out.push(b' ');
    }
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    if h.content_type_after {
        out.extend_from_slice(content_type);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn arb_content_length_stream() -> impl Strategy<Value = (Vec<Value>, Vec<u8>)> {
    prop::collection::vec((arb_value(), arb_style(true), arb_header_style()), 0..8).prop_map(
        |items| {
            let mut wire = Vec::new();
            let mut values = Vec::new();
            for (v, style, h) in items {
                wire.extend_from_slice(&content_length_frame(&encode(&v, style), &h));
                values.push(v);
            }
            (values, wire)
        },
    )
}

/// Splits `data` at the given positions (any byte, in any order, repeats
/// allowed).
fn split_at(data: &[u8], cuts: &[Index]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|w| data[w[0]..w[1]].to_vec())
        .collect()
}

fn bytewise(data: &[u8]) -> Vec<Vec<u8>> {
    data.iter().map(|&b| vec![b]).collect()
}

// ---------------------------------------------------------------------------
// Parsers and the decode driver

/// Parses frames to values; with `prefix`, also offers the one-pass path.
#[derive(Default)]
struct ValueParser {
    prefix: bool,
    prefix_calls: usize,
    prefix_bytes: usize,
}

type Parsed = Result<Value, String>;

impl FrameParser for ValueParser {
    type Output = Parsed;

    fn parse(&mut self, frame: &[u8]) -> Parsed {
        serde_json::from_slice(frame).map_err(|e| e.to_string())
    }

    fn parse_prefix(&mut self, buf: &[u8]) -> Option<(Parsed, usize)> {
        if !self.prefix {
            return None;
        }
        self.prefix_calls += 1;
        self.prefix_bytes += buf.len();
        let mut values = serde_json::Deserializer::from_slice(buf).into_iter::<Value>();
        match values.next() {
            Some(Ok(v)) => Some((Ok(v), values.byte_offset())),
            _ => None,
        }
    }
}

/// One decode step: `(codec, buffer, at_eof)`.
type Step<'s, C, O> =
    dyn FnMut(&mut C, &mut BytesMut, bool) -> Result<Option<Frame<O>>, FrameError> + 's;

/// What a run over a whole input produced.
#[derive(Debug, PartialEq)]
struct Run<O> {
    frames: Vec<Frame<O>>,
    /// The error that ended the run, if any (as text).
    error: Option<String>,
    /// The largest the buffer got right after a decode call returned.
    max_buffered: usize,
}

/// Feeds `chunks` one by one, decoding after each until the codec wants
/// more, then drains at end of input. Checks that every yielded frame made
/// progress, so a run always terminates.
fn drive<C, O>(codec: &mut C, chunks: &[Vec<u8>], step: &mut Step<'_, C, O>) -> Run<O> {
    let total: usize = chunks.iter().map(Vec::len).sum();
    let mut buf = BytesMut::new();
    let mut run = Run {
        frames: Vec::new(),
        error: None,
        max_buffered: 0,
    };
    let mut budget = total + chunks.len() + 16;
    // `None` marks end of input, after the last read.
    for chunk in chunks.iter().map(Some).chain([None]) {
        let eof = chunk.is_none();
        if let Some(chunk) = chunk {
            buf.extend_from_slice(chunk);
        }
        loop {
            let before = buf.len();
            let got = step(codec, &mut buf, eof);
            run.max_buffered = run.max_buffered.max(buf.len());
            match got {
                Ok(Some(frame)) => {
                    assert!(
                        buf.len() < before,
                        "a frame was yielded without consuming input"
                    );
                    run.frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    run.error = Some(e.to_string());
                    return run;
                }
            }
            budget = budget.checked_sub(1).expect("decoding did not terminate");
        }
    }
    assert!(buf.is_empty(), "input left over after end of input");
    run
}

fn raw_step<C: Framing>(
) -> impl FnMut(&mut C, &mut BytesMut, bool) -> Result<Option<Frame<Vec<u8>>>, FrameError> {
    |c: &mut C, b: &mut BytesMut, eof: bool| {
        let f = if eof { c.decode_eof(b)? } else { c.decode(b)? };
        Ok(f.map(|f| f.map(|t| t.to_vec())))
    }
}

fn parse_step<C: Framing>(
    parser: &mut ValueParser,
) -> impl FnMut(&mut C, &mut BytesMut, bool) -> Result<Option<Frame<Parsed>>, FrameError> + '_ {
    move |c: &mut C, b: &mut BytesMut, eof: bool| {
        if eof {
            c.decode_with_eof(b, parser)
        } else {
            c.decode_with(b, parser)
        }
    }
}

fn decode_raw<C: Framing>(codec: &mut C, chunks: &[Vec<u8>]) -> Run<Vec<u8>> {
    drive(codec, chunks, &mut raw_step::<C>())
}

fn decode_parsed<C: Framing>(
    codec: &mut C,
    chunks: &[Vec<u8>],
    prefix: bool,
) -> (Run<Parsed>, ValueParser) {
    let mut parser = ValueParser {
        prefix,
        ..ValueParser::default()
    };
    let run = drive(codec, chunks, &mut parse_step::<C>(&mut parser));
    (run, parser)
}

/// The values of a run that must hold only complete, valid frames.
fn values_of(run: &Run<Vec<u8>>) -> Vec<Value> {
    assert_eq!(run.error, None);
    run.frames
        .iter()
        .map(|f| match f {
            Frame::Complete(text) => serde_json::from_slice(text).unwrap_or_else(|e| {
                panic!(
                    "frame {:?} does not parse: {e}",
                    String::from_utf8_lossy(text)
                )
            }),
            Frame::Oversized(e) => panic!("unexpected oversized frame: {e}"),
        })
        .collect()
}

fn parsed_values(run: &Run<Parsed>) -> Vec<Value> {
    assert_eq!(run.error, None);
    run.frames
        .iter()
        .map(|f| match f {
            Frame::Complete(Ok(v)) => v.clone(),
            other => panic!("unexpected frame {other:?}"),
        })
        .collect()
}

/// Random bytes, biased towards the ones framings care about.
fn arb_garbage() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop::sample::select(b"{}[]\"\\ \t\r\n:,0-aeC".to_vec());
    prop::collection::vec(prop_oneof![3 => interesting, 1 => any::<u8>()], 0..300)
}

/// Random edits (overwrite, insert, delete) at random places.
fn arb_edits() -> impl Strategy<Value = Vec<(Index, u8, u8)>> {
    prop::collection::vec(
        (
            any::<Index>(),
            0u8..3,
            prop_oneof![
                prop::sample::select(b"{}[]\"\\ \r\n:0".to_vec()),
                any::<u8>()
            ],
        ),
        1..6,
    )
}

fn mutate(mut data: Vec<u8>, edits: &[(Index, u8, u8)]) -> Vec<u8> {
    for (at, kind, byte) in edits {
        let i = at.index(data.len() + 1);
        match kind {
            0 if i < data.len() => data[i] = *byte,
            1 => data.insert(i, *byte),
            _ if i < data.len() => {
                data.remove(i);
            }
            _ => data.push(*byte),
        }
    }
    data
}

fn all_codecs_small(limit: usize) -> (JsonStreamCodec, LineCodec, ContentLengthCodec) {
    (
        JsonStreamCodec::new().with_max_frame(limit),
        LineCodec::new().with_max_frame(limit),
        ContentLengthCodec::new()
            .with_max_frame(limit)
            .with_max_header(limit.max(8) * 2),
    )
}

/// Runs every decoding mode on `data` split as given, checking only that
/// nothing panics, hangs, or buffers without bound.
fn survive_all(chunks: &[Vec<u8>], limit: usize) {
    let max_chunk = chunks.iter().map(Vec::len).max().unwrap_or(0);
    let (mut s, mut l, mut c) = all_codecs_small(limit);
    let runs = [
        decode_raw(&mut s, chunks).max_buffered,
        decode_raw(&mut l, chunks).max_buffered,
        decode_raw(&mut c, chunks).max_buffered,
    ];
    for buffered in runs {
        // A codec holds at most one frame's worth (or header section) plus
        // the read that pushed it over.
        assert!(
            buffered <= 2 * limit.max(8) + max_chunk + 1,
            "buffered {buffered}"
        );
    }
    let (mut s, mut l, mut c) = all_codecs_small(limit);
    let (fast, _) = decode_parsed(&mut s, chunks, true);
    decode_parsed(&mut l, chunks, true);
    decode_parsed(&mut c, chunks, true);
    // The stream codec's one-pass path must agree with its scanner even on
    // garbage.
    let (slow, _) = decode_parsed(
        &mut JsonStreamCodec::new().with_max_frame(limit),
        chunks,
        false,
    );
    assert_same_parses(&fast, &slow);
}

fn assert_same_parses(a: &Run<Parsed>, b: &Run<Parsed>) {
    let simplify = |r: &Run<Parsed>| {
        r.frames
            .iter()
            .map(|f| match f {
                Frame::Complete(Ok(v)) => Ok(v.clone()),
                Frame::Complete(Err(_)) => Err(None),
                Frame::Oversized(e) => Err(Some(e.clone())),
            })
            .collect::<Vec<Result<Value, Option<FrameTooLarge>>>>()
    };
    assert_eq!(simplify(a), simplify(b));
    assert_eq!(a.error.is_some(), b.error.is_some());
}

/// Where a text may be cut at a token's edge: the positions `p` where
/// `text[..p]` ends outside any string and not inside a number or literal.
fn token_edges(text: &[u8]) -> Vec<usize> {
    let mut edges = Vec::new();
    let (mut in_string, mut escape) = (false, false);
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            if escape {
                escape = false;
            } else if b == b'\\' {
                escape = true;
            } else if b == b'"' {
                in_string = false;
                edges.push(i + 1);
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'}' | b'[' | b']' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' => {
                edges.push(i + 1)
            }
            _ => {}
        }
    }
    edges
}

/// Whether serde_json could still read a value that starts with `text`.
fn is_json_prefix(text: &[u8]) -> bool {
    match serde_json::from_slice::<serde::de::IgnoredAny>(text) {
        Ok(_) => true,
        Err(e) => e.is_eof(),
    }
}

/// A JSON text with one structural corruption: a `]`, `}`, `,` or `:`
/// written, in place of a byte or between two, at a token's edge where no
/// valid text could have it. Returns the corrupted text and the index of
/// the corrupt byte; `None` when the text has no such place.
fn corrupt(text: &[u8], at: Index, byte: u8, replace: bool) -> Option<(Vec<u8>, usize)> {
    let places: Vec<usize> = token_edges(text)
        .into_iter()
        // Replacing a quote would leave the rest of the text's strings
        // open and closed the wrong way round; nothing can resync that.
        .filter(|&p| p < text.len() && !(replace && text[p] == b'"'))
        .filter(|&p| {
            let mut bad = text[..p].to_vec();
            bad.push(byte);
            !is_json_prefix(&bad)
        })
        .collect();
    if places.is_empty() {
        return None;
    }
    let p = places[at.index(places.len())];
    let mut bad = text[..p].to_vec();
    bad.push(byte);
    bad.extend_from_slice(&text[p + usize::from(replace)..]);
    Some((bad, p))
}

/// Values written so that none merges with the one after it.
fn delimited(values: &[Value]) -> Vec<u8> {
    let mut wire = Vec::new();
    for v in values {
        wire.extend_from_slice(&encode(v, Style::Compact));
        wire.push(b' ');
    }
    wire
}

fn arb_container() -> impl Strategy<Value = Value> {
    arb_value().prop_filter("an object or array", |v| {
        matches!(v, Value::Array(a) if !a.is_empty())
            || matches!(v, Value::Object(o) if !o.is_empty())
    })
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    // No regression files: failures print their minimal input instead.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn stream_round_trips((values, wire) in arb_json_stream(), cuts in prop::collection::vec(any::<Index>(), 0..24)) {
        for chunks in [split_at(&wire, &cuts), bytewise(&wire)] {
            let run = decode_raw(&mut JsonStreamCodec::new(), &chunks);
            prop_assert_eq!(values_of(&run), values.clone());

            let (fast, fast_parser) = decode_parsed(&mut JsonStreamCodec::new(), &chunks, true);
            let (slow, _) = decode_parsed(&mut JsonStreamCodec::new(), &chunks, false);
            prop_assert_eq!(parsed_values(&fast), values.clone());
            prop_assert_eq!(parsed_values(&slow), values.clone());
            // At most one one-pass attempt per frame, however it arrives.
            prop_assert!(fast_parser.prefix_calls <= values.len());
        }
    }

    #[test]
    fn stream_whole_input_takes_fast_path((values, wire) in arb_json_stream()) {
        let mut codec = JsonStreamCodec::new();
        let (run, _) = decode_parsed(&mut codec, std::slice::from_ref(&wire), true);
        prop_assert_eq!(parsed_values(&run), values);
        // Containers are parsed in one pass; only whitespace and top-level
        // scalars/strings go through the scanner.
        let scanned = codec.scanned_bytes();
        let mut scanner_only = JsonStreamCodec::new();
        decode_parsed(&mut scanner_only, std::slice::from_ref(&wire), false);
        prop_assert_eq!(scanner_only.scanned_bytes(), wire.len() as u64);
        prop_assert!(scanned <= wire.len() as u64);
    }

    #[test]
    fn stream_bytewise_scans_linearly((_values, wire) in arb_json_stream()) {
        let mut codec = JsonStreamCodec::new();
        decode_raw(&mut codec, &bytewise(&wire));
        prop_assert_eq!(codec.scanned_bytes(), wire.len() as u64);
        let mut codec = JsonStreamCodec::new();
        let (_, parser) = decode_parsed(&mut codec, &bytewise(&wire), true);
        prop_assert!(codec.scanned_bytes() <= wire.len() as u64);
        prop_assert!(parser.prefix_bytes <= wire.len());
    }

    /// Valid texts never trip the structural checks: however a stream of
    /// them is cut into reads, each value comes out whole and alone (see
    /// also `stream_round_trips`, over more styles).
    #[test]
    fn stream_yields_exactly_the_values_however_cut(
        values in prop::collection::vec(arb_container(), 1..6),
        style in arb_style(true),
        cuts in prop::collection::vec(any::<Index>(), 0..32),
    ) {
        let mut wire = Vec::new();
        for v in &values {
            wire.extend_from_slice(&encode(v, style));
        }
        for chunks in [split_at(&wire, &cuts), bytewise(&wire)] {
            let run = decode_raw(&mut JsonStreamCodec::new(), &chunks);
            prop_assert_eq!(values_of(&run), values.clone());
        }
    }

    /// One structural corruption in a value: the frame ends exactly at the
    /// corrupt byte (so its error is answered at once), and the values that
    /// follow still come out, however the input is cut into reads and
    /// whether or not the one-pass parser is offered.
    #[test]
    fn stream_ends_a_corrupt_frame_at_the_corrupt_byte_and_recovers(
        before in prop::collection::vec(arb_value(), 0..3),
        value in arb_container(),
        style in arb_style(true),
        after in prop::collection::vec(arb_value(), 1..4),
        at in any::<Index>(),
        byte in prop::sample::select(b"]},:".to_vec()),
        replace in any::<bool>(),
        cuts in prop::collection::vec(any::<Index>(), 0..24),
    ) {
        let text = encode(&value, style);
        let corrupted = corrupt(&text, at, byte, replace);
        prop_assume!(corrupted.is_some());
        let (bad, corrupt_at) = corrupted.unwrap();
        let mut wire = delimited(&before);
        let start = wire.len();
        wire.extend_from_slice(&bad);
        wire.push(b' ');
        wire.extend_from_slice(&delimited(&after));
        for chunks in [split_at(&wire, &cuts), bytewise(&wire), vec![wire.clone()]] {
            let run = decode_raw(&mut JsonStreamCodec::new(), &chunks);
            prop_assert_eq!(&run.error, &None);
            let texts: Vec<&[u8]> = run
                .frames
                .iter()
                .map(|f| match f {
                    Frame::Complete(t) => Ok(&t[..]),
                    Frame::Oversized(e) => Err(e),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("oversized: {e}")))?;
            let parse = |t: &[u8]| serde_json::from_slice::<Value>(t).ok();
            prop_assert!(texts.len() >= before.len() + 1 + after.len());
            for (t, v) in texts.iter().zip(&before) {
                prop_assert_eq!(parse(t), Some(v.clone()));
            }
            // The broken value's frame ends with the corrupt byte.
            let broken = texts[before.len()];
            prop_assert_eq!(broken, &wire[start..start + corrupt_at + 1]);
            prop_assert_eq!(parse(broken), None);
            let tail: Vec<Option<Value>> =
                texts[texts.len() - after.len()..].iter().map(|t| parse(t)).collect();
            prop_assert_eq!(tail, after.iter().cloned().map(Some).collect::<Vec<_>>());

            // The one-pass path declines the broken value and agrees.
            let (fast, _) = decode_parsed(&mut JsonStreamCodec::new(), &chunks, true);
            let (slow, _) = decode_parsed(&mut JsonStreamCodec::new(), &chunks, false);
            assert_same_parses(&fast, &slow);
            prop_assert_eq!(fast.frames.len(), texts.len());
        }
    }

    #[test]
    fn line_round_trips((values, wire) in arb_line_stream(), cuts in prop::collection::vec(any::<Index>(), 0..24)) {
        for chunks in [split_at(&wire, &cuts), bytewise(&wire)] {
            let run = decode_raw(&mut LineCodec::new(), &chunks);
            prop_assert_eq!(values_of(&run), values.clone());
            let (parsed, _) = decode_parsed(&mut LineCodec::new(), &chunks, true);
            prop_assert_eq!(parsed_values(&parsed), values.clone());
        }
    }

    #[test]
    fn content_length_round_trips((values, wire) in arb_content_length_stream(), cuts in prop::collection::vec(any::<Index>(), 0..24)) {
        for chunks in [split_at(&wire, &cuts), bytewise(&wire)] {
            let run = decode_raw(&mut ContentLengthCodec::new(), &chunks);
            prop_assert_eq!(values_of(&run), values.clone());
            let (parsed, _) = decode_parsed(&mut ContentLengthCodec::new(), &chunks, true);
            prop_assert_eq!(parsed_values(&parsed), values.clone());
        }
    }

    #[test]
    fn encoders_round_trip(values in prop::collection::vec(arb_value(), 0..6), cuts in prop::collection::vec(any::<Index>(), 0..12)) {
        let bodies: Vec<Vec<u8>> = values.iter().map(|v| encode(v, Style::Compact)).collect();
        fn wire_of<C: Framing>(codec: &mut C, bodies: &[Vec<u8>]) -> Vec<u8> {
            let mut dst = BytesMut::new();
            for body in bodies {
                codec.encode(&body[..], &mut dst).expect("encode");
            }
            dst.to_vec()
        }
        // Compact scalars back to back would merge, so the stream encoder
        // only gets containers and strings here.
        let stream_bodies: Vec<Vec<u8>> = values
            .iter()
            .map(|v| if needs_delimiter(v) { encode(&Value::Array(vec![v.clone()]), Style::Compact) } else { encode(v, Style::Compact) })
            .collect();
        let wire = wire_of(&mut JsonStreamCodec::new(), &stream_bodies);
        let run = decode_raw(&mut JsonStreamCodec::new(), &split_at(&wire, &cuts));
        prop_assert_eq!(run.frames, stream_bodies.into_iter().map(Frame::Complete).collect::<Vec<_>>());

        let wire = wire_of(&mut LineCodec::new(), &bodies);
        let run = decode_raw(&mut LineCodec::new(), &split_at(&wire, &cuts));
        prop_assert_eq!(run.frames, bodies.iter().cloned().map(Frame::Complete).collect::<Vec<_>>());

        let wire = wire_of(&mut ContentLengthCodec::new(), &bodies);
        let run = decode_raw(&mut ContentLengthCodec::new(), &split_at(&wire, &cuts));
        prop_assert_eq!(run.frames, bodies.into_iter().map(Frame::Complete).collect::<Vec<_>>());
    }

    #[test]
    fn garbage_never_panics_or_hangs(data in arb_garbage(), cuts in prop::collection::vec(any::<Index>(), 0..24), limit in prop_oneof![1usize..40, Just(1 << 20)]) {
        survive_all(&split_at(&data, &cuts), limit);
        survive_all(&bytewise(&data), limit);
    }

    #[test]
    fn mutated_streams_never_panic_or_hang(
        (_v1, stream) in arb_json_stream(),
        (_v2, lines) in arb_line_stream(),
        (_v3, framed) in arb_content_length_stream(),
        edits in arb_edits(),
        cuts in prop::collection::vec(any::<Index>(), 0..24),
        limit in prop_oneof![8usize..64, Just(1 << 20)],
    ) {
        for wire in [stream, lines, framed] {
            let data = mutate(wire, &edits);
            survive_all(&split_at(&data, &cuts), limit);
        }
    }

    #[test]
    fn oversized_frames_are_skipped_unbuffered(
        limit in 4usize..64,
        extra in 1usize..20_000,
        shape in 0u8..4,
        chunk in 1usize..300,
    ) {
        let before = br#"{"id":1}"#.to_vec();
        let after = br#"[2]"#.to_vec();
        let huge_len = limit + extra;
        let inner = huge_len + 2;
        let huge = match shape {
            0 => format!("[{}]", "1,".repeat(inner / 2).trim_end_matches(',')),
            1 => format!("\"{}\"", "é".repeat(inner / 2)),
            2 => "7".repeat(huge_len),
            _ => format!("{{\"k\":\"{}\"}}", "x".repeat(huge_len)),
        }.into_bytes();
        prop_assume!(huge.len() > limit && before.len() <= limit);
        let chunks = |wire: &[u8]| wire.chunks(chunk).map(<[u8]>::to_vec).collect::<Vec<_>>();
        let expect_around = |run: &Run<Vec<u8>>, framing: &str, exact: Option<usize>| -> Result<(), TestCaseError> {
            prop_assert_eq!(&run.error, &None);
            prop_assert_eq!(run.frames.len(), 3, "{:?}", run.frames);
            prop_assert_eq!(&run.frames[0], &Frame::Complete(before.clone()));
            match &run.frames[1] {
                Frame::Oversized(e) => {
                    prop_assert_eq!(e.framing, framing);
                    prop_assert_eq!(e.limit, limit);
                    prop_assert!(e.size > limit && e.size <= huge.len(), "size {}", e.size);
                    if let Some(n) = exact {
                        prop_assert_eq!(e.size, n);
                    }
                }
                other => prop_assert!(false, "expected oversized, got {:?}", other),
            }
            prop_assert_eq!(&run.frames[2], &Frame::Complete(after.clone()));
            // Never more than the limit plus one read is held.
            prop_assert!(run.max_buffered <= limit + chunk + 64, "buffered {}", run.max_buffered);
            Ok(())
        };

        let mut wire = before.clone();
        wire.push(b' ');
        wire.extend_from_slice(&huge);
        wire.push(b'\n');
        wire.extend_from_slice(&after);
        let run = decode_raw(&mut JsonStreamCodec::new().with_max_frame(limit), &chunks(&wire));
        expect_around(&run, "json-stream", None)?;

        let mut wire = before.clone();
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(&huge);
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(&after);
        wire.push(b'\n');
        let run = decode_raw(&mut LineCodec::new().with_max_frame(limit), &chunks(&wire));
        expect_around(&run, "line", None)?;

        let mut wire = Vec::new();
        let mut codec = ContentLengthCodec::new();
        for body in [&before, &huge, &after] {
            let mut dst = BytesMut::new();
            codec.encode(&body[..], &mut dst).expect("encode");
            wire.extend_from_slice(&dst);
        }
        let run = decode_raw(&mut ContentLengthCodec::new().with_max_frame(limit), &chunks(&wire));
        expect_around(&run, "content-length", Some(huge.len()))?;
    }
}

// ---------------------------------------------------------------------------
// Examples

#[test]
fn content_length_header_errors_are_fatal_and_explained() {
    let cases: [(&[u8], &str); 3] = [
        (b"Content-Type: a\r\n\r\n{}", "missing Content-Length"),
        (b"Content-Length: 1e3\r\n\r\n{}", "not a decimal"),
        (
            b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            "max_header limit of 32 bytes",
        ),
    ];
    for (input, expect) in cases {
        let mut codec = ContentLengthCodec::new().with_max_header(32);
        let run = decode_raw(&mut codec, &bytewise(input));
        let error = run.error.expect("an error");
        assert!(error.contains(expect), "{error}");
        assert!(error.contains("content-length"), "{error}");
    }
}

#[test]
fn stream_oversized_then_eof_ends_quietly() {
    let mut codec = JsonStreamCodec::new().with_max_frame(4);
    let run = decode_raw(&mut codec, &[b"[1,2,3,4,5".to_vec()]);
    assert_eq!(run.error, None);
    assert!(matches!(
        run.frames[..],
        [Frame::Oversized(FrameTooLarge {
            size: 10,
            limit: 4,
            ..
        })]
    ));
}

#[test]
fn default_decode_with_eof_defers_to_decode_eof() {
    /// A framing that relies on every provided method of `Framing`, with its
    /// own end-of-input rule: leftovers shorter than a frame are one frame.
    struct Fixed;
    impl tokio_util::codec::Decoder for Fixed {
        type Item = Frame;
        type Error = FrameError;
        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
            Ok((src.len() >= 3).then(|| Frame::Complete(src.split_to(3))))
        }
        fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
            match self.decode(src)? {
                Some(frame) => Ok(Some(frame)),
                None if src.is_empty() => Ok(None),
                None => Ok(Some(Frame::Complete(src.split()))),
            }
        }
    }
    impl tokio_util::codec::Encoder<&[u8]> for Fixed {
        type Error = FrameError;
        fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
            dst.extend_from_slice(item);
            Ok(())
        }
    }
    impl Framing for Fixed {
        fn max_frame(&self) -> usize {
            3
        }
    }
    let mut parser = ValueParser::default();
    let mut buf = BytesMut::from(&b"[1][2"[..]);
    assert!(matches!(
        Fixed.decode_with_eof(&mut buf, &mut parser),
        Ok(Some(Frame::Complete(Ok(_))))
    ));
    // `[2` is what decode_eof made of the leftovers; the parser rejects it.
    assert!(matches!(
        Fixed.decode_with_eof(&mut buf, &mut parser),
        Ok(Some(Frame::Complete(Err(_))))
    ));
    assert!(matches!(
        Fixed.decode_with_eof(&mut buf, &mut parser),
        Ok(None)
    ));
}
