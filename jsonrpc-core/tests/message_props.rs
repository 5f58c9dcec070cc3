//! Property tests: every message of either dialect survives encode -> frame ->
//! decode unchanged, alone and in batches, over every framing.

use bytes::BytesMut;
use jsonrpc_core::codec::{ContentLengthCodec, Frame, Framing, JsonStreamCodec, LineCodec};
use jsonrpc_core::{
    Dialect, DialectMode, Id, Incoming, Message, MessageParser, Notification, Request, Response,
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

fn raw(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).unwrap()
}

fn params(dialect: Dialect) -> impl Strategy<Value = Option<Box<RawValue>>> {
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
                    method,
                    params,
                    dialect,
                })
            }
        ),
        (method, params(dialect)).prop_map(move |(method, params)| {
            Message::Notification(Notification {
                method,
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
    let json = |r: &Option<Box<RawValue>>| {
        r.as_ref()
            .map_or(Value::Null, |r| serde_json::from_str(r.get()).unwrap())
    };
    match m {
        Message::Request(r) => (
            "request".into(),
            r.dialect,
            r.id.to_string(),
            r.method.clone(),
            json(&r.params),
        ),
        Message::Notification(n) => (
            "notification".into(),
            n.dialect,
            String::new(),
            n.method.clone(),
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
            prop_assert_ne!(invalid.kind, jsonrpc_core::InvalidKind::Parse);
        }
    }
}
