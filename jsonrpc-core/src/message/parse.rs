//! Reading a JSON text into [`Incoming`], and checking it is valid JSON-RPC.
//!
//! Parsing happens in one pass: serde drives a visitor that only notes which
//! members are present (each value borrowed as raw text), and validation then
//! looks at that record. Validation never fails the parse: a message that is JSON
//! but not JSON-RPC becomes an [`Invalid`] with the reason and the id (when one
//! could be read), so the caller can answer it and carry on.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{
    Dialect, DialectMode, Id, Incoming, Invalid, InvalidKind, Message, Notification, Request,
    Response,
};
use crate::codec::FrameParser;

/// Turns JSON texts into [`Incoming`] messages for one connection.
///
/// ```
/// use jsonrpc_core::{DialectMode, Incoming, Message, MessageParser};
/// let mut parser = MessageParser::new(DialectMode::Detect);
/// let incoming = parser.parse_slice(br#"{"id":1,"method":"echo","params":[]}"#);
/// let Incoming::Single(Ok(Message::Request(req))) = incoming else { panic!() };
/// assert_eq!(req.method, "echo");
/// assert_eq!(req.dialect, jsonrpc_core::Dialect::V1);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MessageParser {
    mode: DialectMode,
    reject_unknown_members: bool,
}

impl MessageParser {
    /// A parser for a connection in `mode` that ignores unknown top-level members.
    pub fn new(mode: DialectMode) -> Self {
        MessageParser {
            mode,
            reject_unknown_members: false,
        }
    }

    /// Whether a top-level member other than `jsonrpc`, `id`, `method`,
    /// `params`, `result` and `error` makes a message invalid (OVSDB and SPDK
    /// both reject them).
    pub fn reject_unknown_members(mut self, reject: bool) -> Self {
        self.reject_unknown_members = reject;
        self
    }

    /// Parses one complete JSON text.
    pub fn parse_slice(&self, text: &[u8]) -> Incoming {
        match serde_json::from_slice::<Top<'_>>(text) {
            Ok(top) => self.validate(top),
            Err(e) => Incoming::Single(Err(Invalid {
                id: Id::null(),
                dialect: self.mode.outgoing(),
                kind: InvalidKind::Parse,
                reason: e.to_string(),
            })),
        }
    }

    fn validate(&self, top: Top<'_>) -> Incoming {
        match top {
            Top::Object(fields) => Incoming::Single(self.validate_fields(fields, false)),
            Top::Array(items) if items.is_empty() => {
                Incoming::Single(Err(self.invalid_request(Id::null(), "empty batch")))
            }
            Top::Array(items) => Incoming::Batch(
                items
                    .into_iter()
                    .map(|item| match item {
                        Item::Object(fields) => self.validate_fields(fields, true),
                        Item::Other => {
                            Err(self.invalid_request(Id::null(), "batch entry is not an object"))
                        }
                    })
                    .collect(),
            ),
            Top::Other => Incoming::Single(Err(
                self.invalid_request(Id::null(), "a message must be an object or an array")
            )),
        }
    }

    fn invalid_request(&self, id: Id, reason: impl Into<String>) -> Invalid {
        Invalid {
            id,
            dialect: self.mode.outgoing(),
            kind: InvalidKind::Request,
            reason: reason.into(),
        }
    }

    /// Validates one message object; `in_batch` because only 2.0 has
    /// batches, so a batch entry without `jsonrpc` is 2.0 even when detecting.
    fn validate_fields(&self, f: Fields<'_>, in_batch: bool) -> Result<Message, Invalid> {
        let is_reply = f.method.is_none() && (f.result.is_some() || f.error.is_some());
        let kind = if is_reply {
            InvalidKind::Response
        } else {
            InvalidKind::Request
        };
        // Read the id first so every later complaint can carry it.
        let (id, id_problem) = match f.id.map(Id::from_raw) {
            None => (None, None),
            Some(Ok(id)) => (Some(id), None),
            Some(Err(e)) => (None, Some(e.to_string())),
        };
        let reported_id = id.clone().unwrap_or_else(Id::null);
        let fail = |dialect: Dialect, reason: String| Invalid {
            id: reported_id.clone(),
            dialect,
            kind: kind.clone(),
            reason,
        };
        let dialect = match (f.jsonrpc, self.mode) {
            (None, DialectMode::V2) => Dialect::V2,
            (None, DialectMode::Detect) if in_batch => Dialect::V2,
            (None, _) => Dialect::V1,
            (Some(_), DialectMode::V1) => {
                return Err(fail(
                    Dialect::V1,
                    "the `jsonrpc` member is not part of JSON-RPC 1.0".into(),
                ))
            }
            (Some(v), _) if v.get() == "\"2.0\"" => Dialect::V2,
            (Some(v), _) => {
                return Err(fail(
                    self.mode.outgoing(),
                    format!("`jsonrpc` must be \"2.0\", not {}", v.get()),
                ))
            }
        };
        if let Some(problem) = id_problem {
            return Err(fail(dialect, problem));
        }
        if let Some(member) = f.duplicate {
            return Err(fail(dialect, format!("duplicate member `{member}`")));
        }
        if self.reject_unknown_members {
            if let Some(member) = f.unknown {
                return Err(fail(dialect, format!("unknown member `{member}`")));
            }
        }

        let Some(method) = f.method else {
            if !is_reply {
                return Err(fail(
                    dialect,
                    "no `method` (and not a reply: no `result` or `error`)".into(),
                ));
            }
            return self
                .validate_reply(id, f.result, f.error, dialect)
                .map_err(|r| fail(dialect, r));
        };
        if f.result.is_some() || f.error.is_some() {
            return Err(fail(
                dialect,
                "a message with `method` cannot carry `result` or `error`".into(),
            ));
        }
        let method = match json_string(method.get()) {
            Some(m) => m,
            None => {
                return Err(fail(
                    dialect,
                    format!("`method` must be a string, not {}", method.get()),
                ))
            }
        };
        let params = match f.params {
            None => None,
            Some(p) => match (p.get().as_bytes().first(), dialect) {
                (Some(b'['), _) | (Some(b'{'), Dialect::V2) => Some(p.to_owned()),
                // `null` params mean none (SPDK treats them so; 2.0 peers send it).
                (Some(b'n'), _) => None,
                (_, Dialect::V1) => {
                    return Err(fail(
                        dialect,
                        "`params` must be an array in JSON-RPC 1.0".into(),
                    ))
                }
                _ => {
                    return Err(fail(
                        dialect,
                        format!("`params` must be an array or an object, not {}", p.get()),
                    ))
                }
            },
        };
        // 1.0 marks notifications with a null id; 2.0 by leaving the id out.
        match (id, dialect) {
            (Some(id), Dialect::V1) if id.is_null() => Ok(Message::Notification(Notification {
                method,
                params,
                dialect,
            })),
            (Some(id), _) => Ok(Message::Request(Request {
                id,
                method,
                params,
                dialect,
            })),
            (None, _) => Ok(Message::Notification(Notification {
                method,
                params,
                dialect,
            })),
        }
    }

    fn validate_reply(
        &self,
        id: Option<Id>,
        result: Option<&RawValue>,
        error: Option<&RawValue>,
        dialect: Dialect,
    ) -> Result<Message, String> {
        let id = id.ok_or("a reply must carry the `id` of its request")?;
        let is_null = |v: &RawValue| v.get() == "null";
        let outcome = match (result, error, dialect) {
            (Some(r), None, _) => Ok(r.to_owned()),
            (None, Some(e), Dialect::V2) => Err(e.to_owned()),
            (Some(_), Some(_), Dialect::V2) => {
                return Err("a 2.0 reply carries `result` or `error`, not both".into())
            }
            // 1.0: the one that is not null wins; `error` may come alone.
            (Some(r), Some(e), Dialect::V1) if is_null(e) => Ok(r.to_owned()),
            (r, Some(e), Dialect::V1) if r.is_none_or(is_null) && !is_null(e) => Err(e.to_owned()),
            (_, Some(_), Dialect::V1) => {
                return Err("a 1.0 reply must have a null `result` or a null `error`".into())
            }
            (None, None, _) => return Err("a reply needs `result` or `error`".into()),
        };
        Ok(Message::Response(Response {
            id,
            outcome,
            dialect,
        }))
    }
}

/// The value of a raw JSON string, or `None` if `text` is not a string.
/// Method names rarely hold escapes, so those are copied out as they are.
fn json_string(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str(text).ok()
    } else {
        Some(inner.to_owned())
    }
}

impl FrameParser for MessageParser {
    type Output = Incoming;

    fn parse(&mut self, frame: &[u8]) -> Incoming {
        self.parse_slice(frame)
    }

    fn parse_prefix(&mut self, buf: &[u8]) -> Option<(Incoming, usize)> {
        let mut values = serde_json::Deserializer::from_slice(buf).into_iter::<Top<'_>>();
        match values.next() {
            Some(Ok(top)) => Some((self.validate(top), values.byte_offset())),
            _ => None,
        }
    }
}

/// The members of one message object, each as borrowed raw JSON.
#[derive(Default)]
struct Fields<'a> {
    jsonrpc: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    method: Option<&'a RawValue>,
    params: Option<&'a RawValue>,
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    duplicate: Option<&'static str>,
    unknown: Option<String>,
}

/// A whole JSON text: one object, a batch, or something that is neither.
enum Top<'a> {
    Object(Fields<'a>),
    Array(Vec<Item<'a>>),
    Other,
}

/// One entry of a batch.
enum Item<'a> {
    Object(Fields<'a>),
    Other,
}

enum Key {
    Jsonrpc,
    Id,
    Method,
    Params,
    Result,
    Error,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "jsonrpc" => Key::Jsonrpc,
                    "id" => Key::Id,
                    "method" => Key::Method,
                    "params" => Key::Params,
                    "result" => Key::Result,
                    "error" => Key::Error,
                    other => Key::Other(other.to_owned()),
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

fn visit_fields<'de, A: MapAccess<'de>>(mut map: A) -> Result<Fields<'de>, A::Error> {
    let mut f = Fields::default();
    while let Some(key) = map.next_key::<Key>()? {
        let (slot, name) = match key {
            Key::Jsonrpc => (&mut f.jsonrpc, "jsonrpc"),
            Key::Id => (&mut f.id, "id"),
            Key::Method => (&mut f.method, "method"),
            Key::Params => (&mut f.params, "params"),
            Key::Result => (&mut f.result, "result"),
            Key::Error => (&mut f.error, "error"),
            Key::Other(name) => {
                map.next_value::<IgnoredAny>()?;
                f.unknown.get_or_insert(name);
                continue;
            }
        };
        let value = map.next_value::<&'de RawValue>()?;
        if slot.replace(value).is_some() {
            f.duplicate.get_or_insert(name);
        }
    }
    Ok(f)
}

/// Accepts any JSON value, telling objects (and, at the top, arrays) apart.
struct ShapeVisitor<const TOP: bool>;

macro_rules! other_shapes {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(Shape::Other)
        })*
    };
}

enum Shape<'a> {
    Object(Fields<'a>),
    Array(Vec<Item<'a>>),
    Other,
}

impl<'de, const TOP: bool> Visitor<'de> for ShapeVisitor<TOP> {
    type Value = Shape<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        visit_fields(map).map(Shape::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !TOP {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Shape::Other);
        }
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<Item<'de>>()? {
            items.push(item);
        }
        Ok(Shape::Array(items))
    }

    other_shapes!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
}

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match d.deserialize_any(ShapeVisitor::<true>)? {
            Shape::Object(f) => Top::Object(f),
            Shape::Array(items) => Top::Array(items),
            Shape::Other => Top::Other,
        })
    }
}

impl<'de> Deserialize<'de> for Item<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match d.deserialize_any(ShapeVisitor::<false>)? {
            Shape::Object(f) => Item::Object(f),
            _ => Item::Other,
        })
    }
}
