//! Property tests: every message of either dialect survives encode -> frame ->
//! decode unchanged, alone and in batches, over every framing.

use bytes::BytesMut;
use jsonrpc_core::codec::{
    ContentLengthCodec, Frame, FrameParser, Framing, JsonStreamCodec, LineCodec,
};
use jsonrpc_core::{
    Dialect, DialectMode, Id, Incoming, InvalidKind, Message, MessageParser, Notification, RawJson,
    Request, Response,
};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "[a-z\"\\\\/\u{e9}\u{6f22}\u{1f389}\n\t ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Ids as a peer may write them, including ones that are not plain u64.
fn id(allow_null: bool) -> impl Strategy<Value = Id> {
    let raw = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[1-9][0-9]{20,30}".prop_map(String::from),
        Just("1.5e3".to_string()),
        "[a-z0-9\u{e9} ]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    let raw = raw.prop_map(|t| serde_json::from_str::<Id>(&t).unwrap());
    if allow_null {
        prop_oneof![Just(Id::null()), raw].boxed()
    } else {
        raw.boxed()
    }
}

fn raw(v: &Value) -> RawJson {
    RawJson::from_value(v).unwrap()
}

fn params(dialect: Dialect) -> impl Strategy<Value = Option<RawJson>> {
    let array = prop::collection::vec(json_value(), 0..4).prop_map(|v| Some(raw(&Value::Array(v))));
    match dialect {
        Dialect::V1 => array.boxed(),
        Dialect::V2 => prop_oneof![
            Just(None),
            array,
            prop::collection::btree_map("[a-z]{1,5}", json_value(), 0..4)
                .prop_map(|m| Some(raw(&Value::Object(m.into_iter().collect())))),
        ]
        .boxed(),
    }
}

fn message(dialect: Dialect) -> impl Strategy<Value = Message> {
    let method = "[a-z_/$.]{1,12}";
    let not_null = |v: Value| if v.is_null() { Value::from(0) } else { v };
    prop_oneof![
        // 1.0 marks notifications with a null id, so its requests never have one.
        (id(dialect == Dialect::V2), method, params(dialect)).prop_map(
            move |(id, method, params)| {
                Message::Request(Request {
                    id,
                    method: method.into(),
                    params,
                    dialect,
                })
            }
        ),
        (method, params(dialect)).prop_map(move |(method, params)| {
            Message::Notification(Notification {
                method: method.into(),
                params,
                dialect,
            })
        }),
        (id(true), json_value(), any::<bool>()).prop_map(move |(id, v, ok)| {
            let outcome = if ok {
                Ok(raw(&v))
            } else {
                Err(raw(&not_null(v)))
            };
            Message::Response(Response {
                id,
                outcome,
                dialect,
            })
        }),
    ]
}

fn any_message() -> impl Strategy<Value = Message> {
    prop_oneof![message(Dialect::V1), message(Dialect::V2)]
}

/// A comparable form of a message: kind, dialect, id text, method, and
/// params/result/error as parsed JSON.
fn shape(m: &Message) -> (String, Dialect, String, String, Value) {
    let json = |r: &Option<RawJson>| {
        r.as_ref()
            .map_or(Value::Null, |r| serde_json::from_str(r.get()).unwrap())
    };
    match m {
        Message::Request(r) => (
            "request".into(),
            r.dialect,
            r.id.to_string(),
            r.method.to_string(),
            json(&r.params),
        ),
        Message::Notification(n) => (
            "notification".into(),
            n.dialect,
            String::new(),
            n.method.to_string(),
            json(&n.params),
        ),
        Message::Response(r) => {
            let (kind, v) = match &r.outcome {
                Ok(v) => ("ok", v),
                Err(e) => ("err", e),
            };
            (
                kind.into(),
                r.dialect,
                r.id.to_string(),
                String::new(),
                serde_json::from_str(v.get()).unwrap(),
            )
        }
    }
}

fn decode_all<F: Framing>(mut codec: F, wire: &[u8]) -> Vec<Incoming> {
    let mut parser = MessageParser::new(DialectMode::Detect);
    let mut buf = BytesMut::from(wire);
    let mut out = Vec::new();
    while let Some(frame) = codec.decode_with_eof(&mut buf, &mut parser).unwrap() {
        match frame {
            Frame::Complete(incoming) => out.push(incoming),
            Frame::Oversized(e) => panic!("unexpected {e}"),
        }
    }
    out
}

fn encode_all<F: Framing>(codec: &mut F, texts: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = BytesMut::new();
    for t in texts {
        codec.encode(&t[..], &mut wire).unwrap();
    }
    wire.to_vec()
}

fn check_round_trip<F: Framing + Clone>(codec: F, messages: &[Message], batch: &[Message]) {
    let mut texts: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| {
            let mut out = Vec::new();
            m.write_json(&mut out);
            out
        })
        .collect();
    if !batch.is_empty() {
        let mut out = Vec::new();
        Message::write_batch(batch, &mut out);
        texts.push(out);
    }
    let wire = encode_all(&mut codec.clone(), &texts);
    let decoded = decode_all(codec, &wire);
    assert_eq!(decoded.len(), texts.len());
    for (m, d) in messages.iter().zip(&decoded) {
        match d {
            Incoming::Single(Ok(got)) => assert_eq!(shape(got), shape(m)),
            other => panic!("{m:?} came back as {other:?}"),
        }
    }
    if !batch.is_empty() {
        match decoded.last().unwrap() {
            Incoming::Batch(items) => {
                let got: Vec<_> = items.iter().map(|i| shape(i.as_ref().unwrap())).collect();
                let want: Vec<_> = batch.iter().map(shape).collect();
                assert_eq!(got, want);
            }
            other => panic!("batch came back as {other:?}"),
        }
    }
}

// Batches exist only in 2.0, so every batch here is made of 2.0 messages.
proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn messages_round_trip_over_the_stream_codec(
        messages in prop::collection::vec(any_message(), 1..6),
        batch in prop::collection::vec(message(Dialect::V2), 0..4),
    ) {
        check_round_trip(JsonStreamCodec::new(), &messages, &batch);
    }

    #[test]
    fn messages_round_trip_over_the_line_codec(
        messages in prop::collection::vec(any_message(), 1..6),
        batch in prop::collection::vec(message(Dialect::V2), 0..4),
    ) {
        check_round_trip(LineCodec::new(), &messages, &batch);
    }

    #[test]
    fn messages_round_trip_over_the_content_length_codec(
        messages in prop::collection::vec(any_message(), 1..6),
        batch in prop::collection::vec(message(Dialect::V2), 0..4),
    ) {
        check_round_trip(ContentLengthCodec::new(), &messages, &batch);
    }

    /// Whatever the bytes, parsing gives an answer and never panics.
    #[test]
    fn any_bytes_parse_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = MessageParser::new(DialectMode::Detect).parse_slice(&bytes);
        let _ = MessageParser::new(DialectMode::V1).reject_unknown_members(true).parse_slice(&bytes);
    }

    /// Any JSON value parses as something: a message, a batch, or an invalid
    /// one with a reason — never a parse error, since it is valid JSON.
    #[test]
    fn any_json_is_classified(v in json_value()) {
        let text = v.to_string();
        let incoming = MessageParser::new(DialectMode::V2).parse_slice(text.as_bytes());
        if let Incoming::Single(Err(invalid)) = incoming {
            prop_assert_ne!(invalid.kind, InvalidKind::Parse);
        }
    }
}

// ---------------------------------------------------------------------------
// The parser against serde_json, on texts that are messages, nearly messages,
// or JSON-looking noise.

/// Member names as peers write them, escaped spellings of them, and names
/// of no member (one an escaped lone surrogate, which is valid JSON but no
/// Rust string).
fn member_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        r#""jsonrpc""#,
        r#""id""#,
        r#""method""#,
        r#""params""#,
        r#""result""#,
        r#""error""#,
        r#""\u006dethod""#,
        r#""i\u0064""#,
        r#""par\u0061ms""#,
        r#""x""#,
        r#""méthode""#,
        r#""a\"b""#,
        r#""\ud800""#,
        r#""id\u0000""#,
        r#""""#,
    ])
}

/// Member values: the usual ones, the edge cases of ids and strings, any
/// JSON value, and now and then a token that is not JSON.
fn member_value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            r#""2.0""#,
            r#""1.0""#,
            "0",
            "7",
            "123",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "-0",
            "1.5",
            "1e3",
            "1E+2",
            "1e400",
            r#""add""#,
            r#""a\nb""#,
            r#""\u00e9""#,
            r#""é""#,
            r#""\ud83c\udf89""#,
            r#""\ud800""#,
            "null",
            "true",
            "false",
            "[]",
            "{}",
            "[123,7]",
            r#"{"code":-32600,"message":"no"}"#,
            "[[[[1]]]]",
        ])
        .prop_map(String::from),
        8 => json_value().prop_map(|v| v.to_string()),
        // Whitespace inside values, and nesting past what the parser reads
        // by hand (16) and past serde_json's recursion limit (128, which
        // applies to its typed reading, not to raw values).
        2 => json_value().prop_map(|v| serde_json::to_string_pretty(&v).unwrap()),
        1 => (1usize..140, prop::sample::select(vec!["1", "\"a\"", "{\"k\":[]}", "1.5"]))
            .prop_map(|(depth, inner)| format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))),
        1 => prop::sample::select(vec![
            "01",
            "00",
            "-",
            "-01",
            "1.",
            ".5",
            "1e",
            "+1",
            "nul",
            "nulll",
            "tru",
            "NaN",
            "\"\t\"",
            "\"\u{1}\"",
            r#""\x""#,
            r#""\u12""#,
            r#""abc"#,
            "[1,]",
            "[1 2]",
            r#"{"a"}"#,
            r#"{"a":1,}"#,
            "{1:2}",
            "]",
            "",
        ])
        .prop_map(String::from),
    ]
}

/// Ids: numbers in every spelling, near-misses of them, and the other
/// values an id may or may not be.
fn id_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "00",
            "01",
            "7",
            "123",
            "1e5",
            "1E5",
            "1.0",
            "1.",
            "-0",
            "-1",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "null",
            "nul",
            "nulll",
            "true",
            r#""7""#,
            "[7]",
            "{}",
        ])
        .prop_map(String::from),
        any::<u64>().prop_map(|n| n.to_string()),
    ]
}

/// Whitespace between tokens, usually none.
fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n\t", "\r\n  "])
}

/// An object's text: any members, in any order, with whitespace around
/// tokens, and now and then a separator or a closing bracket that is wrong.
fn object_text() -> impl Strategy<Value = String> {
    // Ids get a pool of their own: the parser reads them by hand.
    let id = (
        prop::sample::select(vec![r#""id""#, r#""i\u0064""#]),
        id_value(),
    );
    let member = (
        ws(),
        prop_oneof![(member_name(), member_value()), id],
        ws(),
        ws(),
        ws(),
    )
        .prop_map(|(a, (k, v), b, c, d)| format!("{a}{k}{b}:{c}{v}{d}"));
    let comma = prop_oneof![20 => Just(","), 1 => prop::sample::select(vec![",,", "", ";", ":"])];
    let close = prop_oneof![20 => Just("}"), 1 => prop::sample::select(vec!["]", ",}", "", "}}"])];
    (prop::collection::vec(member, 0..6), ws(), comma, close)
        .prop_map(|(members, w, comma, close)| format!("{{{w}{}{close}", members.join(comma)))
}

/// A JSON text: a message object, a batch, any other value, or a message as
/// this crate writes it.
fn json_text() -> impl Strategy<Value = String> {
    let entry = prop_oneof![3 => object_text(), 1 => member_value()];
    let text = prop_oneof![
        3 => object_text(),
        1 => (prop::collection::vec(entry, 0..4), prop::sample::select(vec!["]", "]", "]", "}", ",]"]))
            .prop_map(|(e, close)| format!("[{}{close}", e.join(","))),
        1 => member_value(),
        1 => any_message().prop_map(|m| {
            let mut out = Vec::new();
            m.write_json(&mut out);
            String::from_utf8(out).unwrap()
        }),
    ];
    (ws(), text, ws()).prop_map(|(a, t, b)| format!("{a}{t}{b}"))
}

/// Bytes that matter to JSON's grammar, and some that break it (control
/// characters, invalid or partial UTF-8).
fn json_ish_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(b"{}[]\":,\\ \n0123456789-+.eEnultrfasx/u".to_vec()),
        1 => prop::sample::select(vec![0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xa9, 0xed, 0xa0, 0xff]),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Replace(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), json_ish_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        (any::<prop::sample::Index>(), json_ish_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut text: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if text.is_empty() {
            break;
        }
        match m {
            Mutation::Insert(i, b) => text.insert(i.index(text.len() + 1), *b),
            Mutation::Remove(i) => {
                text.remove(i.index(text.len()));
            }
            Mutation::Replace(i, b) => {
                let i = i.index(text.len());
                text[i] = *b;
            }
            Mutation::Truncate(i) => text.truncate(i.index(text.len())),
        }
    }
    text
}

/// Texts that are valid JSON, valid JSON with a few bytes changed, or noise.
fn json_ish_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => json_text().prop_map(String::into_bytes),
        3 => (json_text(), prop::collection::vec(mutation(), 1..4))
            .prop_map(|(t, m)| mutate(t.into_bytes(), &m)),
        1 => prop::collection::vec(json_ish_byte(), 0..40),
    ]
}

/// An object's members as serde_json reads them: decoded names and raw
/// values, in order, repeats kept.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// `raw` written back as serde_json reads it: no whitespace at the top
/// level, member names decoded (and escaped again only where JSON must).
/// `None` when a name is no Rust string, so serde_json cannot read it as one.
fn canonical(raw: &RawValue) -> Option<String> {
    let object = |raw: &RawValue| -> Option<String> {
        let Members(members) = serde_json::from_str(raw.get()).ok()?;
        let members: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v.get()))
            .collect();
        Some(format!("{{{}}}", members.join(",")))
    };
    match raw.get().as_bytes()[0] {
        b'{' => object(raw),
        b'[' => {
            let entries: Vec<&RawValue> = serde_json::from_str(raw.get()).unwrap();
            let entries = entries
                .into_iter()
                .map(|e| match e.get().as_bytes()[0] {
                    b'{' => object(e),
                    _ => Some(e.get().to_owned()),
                })
                .collect::<Option<Vec<_>>>()?;
            Some(format!("[{}]", entries.join(",")))
        }
        _ => Some(raw.get().to_owned()),
    }
}

/// What the parser read from an object is what serde_json reads in its
/// members: the id, method, params, result and error (the last member of a
/// name wins), and in the reasons for refusing it, the first member to come
/// twice and the first member of no known name.
fn check_members(got: &Incoming, raw: &RawValue) -> Result<(), TestCaseError> {
    // Not an object, or a name serde_json cannot read as a Rust string.
    let Ok(Members(members)) = serde_json::from_str(raw.get()) else {
        return Ok(());
    };
    let member = |name: &str| {
        members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.get())
    };
    let id = || serde_json::from_str::<Id>(member("id").unwrap()).unwrap();
    let method = || serde_json::from_str::<String>(member("method").unwrap()).unwrap();
    let params = |p: &Option<RawJson>| {
        if let Some(p) = p {
            prop_assert_eq!(Some(p.get()), member("params"));
        }
        Ok(())
    };
    const KNOWN: [&str; 6] = ["jsonrpc", "id", "method", "params", "result", "error"];
    match got {
        Incoming::Single(Ok(Message::Request(r))) => {
            prop_assert_eq!(&r.id, &id());
            prop_assert_eq!(&r.method, &method());
            params(&r.params)?;
        }
        Incoming::Single(Ok(Message::Notification(n))) => {
            prop_assert_eq!(&n.method, &method());
            params(&n.params)?;
        }
        Incoming::Single(Ok(Message::Response(r))) => {
            prop_assert_eq!(&r.id, &id());
            match &r.outcome {
                Ok(v) => prop_assert_eq!(Some(v.get()), member("result")),
                Err(e) => prop_assert_eq!(Some(e.get()), member("error")),
            }
        }
        Incoming::Single(Err(invalid)) => {
            let named = |prefix: &str| {
                invalid
                    .reason
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_suffix('`'))
                    .map(str::to_owned)
            };
            if let Some(name) = named("duplicate member `") {
                let first_repeat = members.iter().enumerate().find_map(|(i, (k, _))| {
                    let seen = members[..i].iter().any(|(j, _)| j == k);
                    (seen && KNOWN.contains(&k.as_str())).then(|| k.clone())
                });
                prop_assert_eq!(Some(name), first_repeat);
            }
            if let Some(name) = named("unknown member `") {
                let first_unknown = members
                    .iter()
                    .find(|(k, _)| !KNOWN.contains(&k.as_str()))
                    .map(|(k, _)| k.clone());
                prop_assert_eq!(Some(name), first_unknown);
            }
        }
        Incoming::Batch(_) => {}
    }
    Ok(())
}

/// The parser takes exactly the texts serde_json takes as one JSON value,
/// reports serde_json's reason for the others, reads a valid text as it
/// reads serde_json's decoding of it, and reads the front of a stream as it
/// reads the same value alone.
fn check_against_serde_json(
    parser: MessageParser,
    text: &[u8],
    tail: &[u8],
) -> Result<(), TestCaseError> {
    let got = parser.parse_slice(text);
    match (&got, serde_json::from_slice::<&RawValue>(text)) {
        (Incoming::Single(Err(invalid)), Err(e)) if invalid.kind == InvalidKind::Parse => {
            prop_assert_eq!(&invalid.reason, &e.to_string());
        }
        (_, Err(e)) => prop_assert!(false, "serde_json says {e}, the parser {got:?}"),
        (Incoming::Single(Err(invalid)), Ok(_)) if invalid.kind == InvalidKind::Parse => {
            prop_assert!(false, "valid JSON taken as a parse error: {invalid:?}")
        }
        (_, Ok(raw)) => {
            if let Some(canonical) = canonical(raw) {
                let want = parser.parse_slice(canonical.as_bytes());
                prop_assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "read as {}",
                    canonical
                );
            }
            check_members(&got, raw)?;
        }
    }

    if matches!(text.first(), Some(b'{' | b'[')) {
        let stream = [text, tail].concat();
        let mut values = serde_json::Deserializer::from_slice(&stream).into_iter::<&RawValue>();
        let want = match values.next() {
            Some(Ok(_)) => Some(values.byte_offset()),
            _ => None,
        };
        let mut prefix_parser = parser;
        let got = prefix_parser.parse_prefix(&stream);
        prop_assert_eq!(got.as_ref().map(|(_, n)| *n), want);
        if let Some((incoming, n)) = &got {
            let alone = parser.parse_slice(&stream[..*n]);
            prop_assert_eq!(format!("{incoming:?}"), format!("{alone:?}"));
        }
        // Splitting the value off a buffer (what the framings do, sharing
        // its bytes) reads the same and leaves the rest in place.
        let mut buf = BytesMut::from(&stream[..]);
        // (A limit past the buffer's end reads as the buffer's end.)
        let split = prefix_parser.split_prefix(&mut buf, usize::MAX);
        prop_assert_eq!(
            format!("{split:?}"),
            format!("{:?}", got.as_ref().map(|(i, _)| i))
        );
        let rest = got.map_or(&stream[..], |(_, n)| &stream[n..]);
        prop_assert_eq!(&buf[..], rest);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsing_agrees_with_serde_json(
        text in json_ish_text(),
        tail in prop_oneof![
            json_text().prop_map(String::into_bytes),
            prop::collection::vec(json_ish_byte(), 0..12),
        ],
    ) {
        check_against_serde_json(MessageParser::new(DialectMode::Detect), &text, &tail)?;
        check_against_serde_json(MessageParser::new(DialectMode::V1).reject_unknown_members(true), &text, &tail)?;
        check_against_serde_json(MessageParser::new(DialectMode::V2), &text, &tail)?;
    }
}
