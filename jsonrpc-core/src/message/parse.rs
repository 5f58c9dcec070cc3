//! Turning a JSON text into [`Incoming`]: what the walker read, validated
//! as JSON-RPC.
//!
//! Parsing happens in one pass: the walker ([`super::walk`]) reads the
//! text's top level and checks it is JSON; when it rejects a text,
//! serde_json reads that text again, only to say what is wrong and where.
//! Each message object is then validated on its own. Its method name and
//! values are slices of the text's own [`Bytes`], not copies. Validation
//! never fails the parse: a message that is JSON but not JSON-RPC becomes
//! an [`Invalid`] with the reason and the id (when one could be read), so
//! the caller can answer it and carry on.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use serde_json::value::RawValue;

use super::walk::{Fields, NotJson, Read, Walker};
use super::{
    params_shape, Dialect, DialectMode, Id, Incoming, Invalid, InvalidKind, Message, MethodName,
    Notification, ParamsShape, RawJson, Request, Response,
};
use crate::codec::{take_frame, FrameParser};

/// Turns JSON texts into [`Incoming`] messages for one connection.
///
/// A message's method name and values share the text's storage (see
/// [`parse_bytes`](Self::parse_bytes)): they are not copied out of it.
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
    max_batch: usize,
}

impl MessageParser {
    /// A parser for a connection in `mode` that ignores unknown top-level members.
    pub fn new(mode: DialectMode) -> Self {
        MessageParser {
            mode,
            reject_unknown_members: false,
            max_batch: usize::MAX,
        }
    }

    /// Whether a top-level member other than `jsonrpc`, `id`, `method`,
    /// `params`, `result` and `error` makes a message invalid (OVSDB and SPDK
    /// both reject them).
    pub fn reject_unknown_members(mut self, reject: bool) -> Self {
        self.reject_unknown_members = reject;
        self
    }

    /// The most entries a batch may have (no limit by default). A larger
    /// batch is still checked to be JSON, but its entries are only counted,
    /// not kept: it is invalid as a whole (-32600). A connection sets this
    /// from `PeerConfig::max_batch`, so that a frame of many small entries
    /// cannot make the parser keep far more than the frame's own size.
    pub fn max_batch(mut self, max: usize) -> Self {
        self.max_batch = max;
        self
    }

    /// Parses one complete JSON text, copied.
    pub fn parse_slice(&self, text: &[u8]) -> Incoming {
        self.parse_bytes(Bytes::copy_from_slice(text))
    }

    /// Parses one complete JSON text. The messages keep slices of `text`
    /// (method names, params, results, errors) rather than copies.
    pub fn parse_bytes(&self, text: Bytes) -> Incoming {
        let mut walker = Walker::new(&text, self.max_batch);
        walker.skip_whitespace();
        let mut read = Read::Other;
        match walker.value(&mut read).and_then(|()| walker.end()) {
            Ok(()) => self.validate(&mut read, text),
            Err(NotJson) => Incoming::Single(Err(self.not_json(why_not_json(&text)))),
        }
    }

    /// Reads the value at the front of `buf` (at most its first `limit`
    /// bytes) if it is a complete object or batch, and splits it off.
    fn take_prefix(&self, buf: &mut BytesMut, limit: usize) -> Option<Incoming> {
        let mut read = Read::Other;
        let len = self.read_prefix(buf.get(..limit.min(buf.len()))?, &mut read)?;
        Some(self.validate(&mut read, take_frame(buf, len).freeze()))
    }

    /// Reads the value at the front of `buf` into `read` if it is a complete
    /// object or batch, and says how many bytes it took.
    fn read_prefix(&self, buf: &[u8], read: &mut Read) -> Option<usize> {
        // Only an object or a batch can be read off the front of a stream:
        // whether a top-level number has ended cannot be told before the
        // next byte arrives.
        if !matches!(buf.first(), Some(b'{' | b'[')) {
            return None;
        }
        let mut walker = Walker::new(buf, self.max_batch);
        walker.value(read).ok()?;
        Some(walker.pos)
    }

    /// Validates what the walker read from `text` (positions in `read` are
    /// offsets into it), each message on its own.
    fn validate(&self, read: &mut Read, text: Bytes) -> Incoming {
        match read {
            Read::Object(f) => Incoming::Single(self.validate_fields(f, false, &text)),
            Read::Batch(entries) if entries.is_empty() => {
                Incoming::Single(Err(self.invalid_request(Id::null(), "empty batch")))
            }
            Read::Batch(entries) => Incoming::Batch(
                entries
                    .iter_mut()
                    .map(|entry| match entry {
                        Some(f) => self.validate_fields(f, true, &text),
                        None => {
                            Err(self.invalid_request(Id::null(), "batch entry is not an object"))
                        }
                    })
                    .collect(),
            ),
            Read::OverLimit(entries) => Incoming::Single(Err(self.invalid_request(
                Id::null(),
                format!(
                    "a batch of {entries} entries exceeds max_batch ({})",
                    self.max_batch
                ),
            ))),
            Read::Other => Incoming::Single(Err(
                self.invalid_request(Id::null(), "a message must be an object or an array")
            )),
        }
    }

    fn not_json(&self, reason: String) -> Invalid {
        Invalid {
            id: Id::null(),
            dialect: self.mode.outgoing(),
            kind: InvalidKind::Parse,
            reason,
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

    /// Validates one message object, read from `text`; `in_batch` because
    /// only 2.0 has batches, so a batch entry without `jsonrpc` is 2.0 even
    /// when detecting.
    fn validate_fields(
        &self,
        f: &mut Fields,
        in_batch: bool,
        text: &Bytes,
    ) -> Result<Message, Invalid> {
        let bytes = |at: Range<usize>| text.get(at).unwrap_or_default();
        let is_reply = f.method.is_none() && (f.result.is_some() || f.error.is_some());
        let kind = if is_reply {
            InvalidKind::Response
        } else {
            InvalidKind::Request
        };
        // Read the id first so every later complaint can carry it.
        let (id, id_problem) = match f.id.take() {
            None => (None, None),
            Some(Ok(id)) => (Some(id), None),
            Some(Err(e)) => (None, Some(e.to_string())),
        };
        let reported_id = id.clone().unwrap_or_else(Id::null);
        let fail = |dialect: Dialect, reason: String| Invalid {
            id: reported_id.clone(),
            dialect,
            kind,
            reason,
        };
        let dialect = match (f.jsonrpc.take().map(bytes), self.mode) {
            (None, DialectMode::V2) => Dialect::V2,
            (None, DialectMode::Detect) if in_batch => Dialect::V2,
            (None, _) => Dialect::V1,
            (Some(_), DialectMode::V1) => {
                return Err(fail(
                    Dialect::V1,
                    "the `jsonrpc` member is not part of JSON-RPC 1.0".into(),
                ))
            }
            (Some(b"\"2.0\""), _) => Dialect::V2,
            (Some(v), _) => {
                return Err(fail(
                    self.mode.outgoing(),
                    format!(
                        "`jsonrpc` must be \"2.0\", not {}",
                        String::from_utf8_lossy(v)
                    ),
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
            if let Some(name) = f.unknown.take() {
                let name = member_name(bytes(name));
                return Err(fail(dialect, format!("unknown member `{name}`")));
            }
        }

        let Some(method) = f.method.take() else {
            if !is_reply {
                return Err(fail(
                    dialect,
                    "no `method` (and not a reply: no `result` or `error`)".into(),
                ));
            }
            let value = |at: Range<usize>| raw_json(text, at);
            return self
                .validate_reply(
                    id,
                    f.result.take().map(value),
                    f.error.take().map(value),
                    dialect,
                )
                .map_err(|r| fail(dialect, r));
        };
        if f.result.is_some() || f.error.is_some() {
            return Err(fail(
                dialect,
                "a message with `method` cannot carry `result` or `error`".into(),
            ));
        }
        let Some(method) = json_string(text, method.clone()) else {
            return Err(fail(
                dialect,
                format!(
                    "`method` must be a string, not {}",
                    String::from_utf8_lossy(bytes(method))
                ),
            ));
        };
        let params = match f.params.take() {
            None => None,
            Some(at) => match params_shape(bytes(at.clone()), dialect) {
                ParamsShape::Fits => raw_json(text, at),
                // `null` params mean none (SPDK treats them so; 2.0 peers send it).
                ParamsShape::Absent => None,
                ParamsShape::NotArray => {
                    return Err(fail(
                        dialect,
                        "`params` must be an array in JSON-RPC 1.0".into(),
                    ))
                }
                ParamsShape::NotArrayOrObject => {
                    return Err(fail(
                        dialect,
                        format!(
                            "`params` must be an array or an object, not {}",
                            String::from_utf8_lossy(bytes(at))
                        ),
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

    /// A reply's `result` and `error` (`None` inside: absent from the text).
    fn validate_reply(
        &self,
        id: Option<Id>,
        result: Option<Option<RawJson>>,
        error: Option<Option<RawJson>>,
        dialect: Dialect,
    ) -> Result<Message, String> {
        let id = id.ok_or("a reply must carry the `id` of its request")?;
        let (result, error) = match (result, error) {
            (Some(None), _) | (_, Some(None)) => return Err("a reply that cannot be read".into()),
            (r, e) => (r.flatten(), e.flatten()),
        };
        let outcome = match (result, error, dialect) {
            (Some(r), None, _) => Ok(r),
            (None, Some(e), Dialect::V2) => Err(e),
            (Some(_), Some(_), Dialect::V2) => {
                return Err("a 2.0 reply carries `result` or `error`, not both".into())
            }
            // 1.0: the one that is not null wins; `error` may come alone.
            (Some(r), Some(e), Dialect::V1) if e.is_null() => Ok(r),
            (r, Some(e), Dialect::V1)
                if r.as_ref().is_none_or(RawJson::is_null) && !e.is_null() =>
            {
                Err(e)
            }
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

/// The part of `text` at `at`, sharing its storage. Always `Some` for what
/// the walker found: it is in the text, and UTF-8 (the walker's own strings
/// are ASCII; serde_json checks the rest).
fn share(text: &Bytes, at: Range<usize>) -> Option<ByteString> {
    if at.start > at.end || at.end > text.len() {
        return None;
    }
    ByteString::try_from(text.slice(at)).ok()
}

/// The JSON value (checked) at `at` in `text`, sharing its storage.
fn raw_json(text: &Bytes, at: Range<usize>) -> Option<RawJson> {
    share(text, at).map(RawJson::trusted)
}

/// The value of the JSON string (checked) at `at` in `text`, or `None` if it
/// is not a string. Method names rarely hold escapes, so only those that do
/// are decoded; the others share the text.
fn json_string(text: &Bytes, at: Range<usize>) -> Option<MethodName> {
    let quoted = text.get(at.clone())?;
    let inner = quoted.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if inner.contains(&b'\\') {
        serde_json::from_slice::<String>(quoted)
            .ok()
            .map(MethodName::from)
    } else {
        share(text, at.start + 1..at.end - 1).map(MethodName::shared)
    }
}

/// A member name, quoted as in the text, as words can show it.
fn member_name(quoted: &[u8]) -> String {
    serde_json::from_slice::<String>(quoted)
        .unwrap_or_else(|_| String::from_utf8_lossy(quoted).trim_matches('"').to_owned())
}

impl FrameParser for MessageParser {
    type Output = Incoming;

    fn parse(&mut self, frame: &[u8]) -> Incoming {
        self.parse_slice(frame)
    }

    fn parse_prefix(&mut self, buf: &[u8]) -> Option<(Incoming, usize)> {
        let mut read = Read::Other;
        let len = self.read_prefix(buf, &mut read)?;
        let text = Bytes::copy_from_slice(buf.get(..len)?);
        Some((self.validate(&mut read, text), len))
    }

    fn parse_bytes(&mut self, frame: Bytes) -> Incoming {
        MessageParser::parse_bytes(self, frame)
    }

    fn split_prefix(&mut self, buf: &mut BytesMut, limit: usize) -> Option<Incoming> {
        self.take_prefix(buf, limit)
    }
}

/// Why `text`, which the walker rejected, is not JSON, in serde_json's words
/// (they say where). The walker accepts exactly what serde_json reads as one
/// raw value, so serde_json finds the fault as well; the fallback wording
/// would only show if the two ever disagreed.
fn why_not_json(text: &[u8]) -> String {
    match serde_json::from_slice::<&RawValue>(text) {
        Err(e) => e.to_string(),
        Ok(_) => "malformed JSON".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::MessageParser;
    use crate::codec::FrameParser;
    use crate::{DialectMode, Incoming, Message};

    /// Whether `part` lies inside `whole`'s memory.
    fn inside(part: &[u8], whole: &[u8]) -> bool {
        let range = whole.as_ptr_range();
        range.contains(&part.as_ptr()) && part.as_ptr_range().end <= range.end
    }

    #[test]
    fn a_received_message_shares_its_frame_and_an_escaped_name_does_not() {
        let text = Bytes::from_static(
            br#"[{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]},
                 {"jsonrpc":"2.0","id":2,"method":"\u0061dd","params":{"a":"b"}},
                 {"jsonrpc":"2.0","id":3,"result":{"k":[true,null]}}]"#,
        );
        let Incoming::Batch(entries) =
            MessageParser::new(DialectMode::V2).parse_bytes(text.clone())
        else {
            panic!("a batch")
        };
        let Ok(Message::Request(plain)) = &entries[0] else {
            panic!()
        };
        assert!(inside(plain.method.as_bytes(), &text));
        assert!(inside(plain.params.as_ref().unwrap().as_bytes(), &text));
        let Ok(Message::Request(escaped)) = &entries[1] else {
            panic!()
        };
        assert_eq!(escaped.method, "add");
        assert!(
            !inside(escaped.method.as_bytes(), &text),
            "decoded, so copied"
        );
        assert!(inside(escaped.params.as_ref().unwrap().as_bytes(), &text));
        let Ok(Message::Response(reply)) = &entries[2] else {
            panic!()
        };
        assert!(inside(reply.outcome.as_ref().unwrap().as_bytes(), &text));
    }

    #[test]
    fn a_batch_past_the_limit_is_counted_not_kept() {
        let text = format!("[{}]", vec!["{}"; 100_000].join(","));
        let parser = MessageParser::new(DialectMode::V2).max_batch(2);
        let Incoming::Single(Err(invalid)) = parser.parse_slice(text.as_bytes()) else {
            panic!("refused whole")
        };
        assert_eq!(
            invalid.reason,
            "a batch of 100000 entries exceeds max_batch (2)"
        );
        // Still JSON first: a broken entry past the limit is a parse error.
        let broken = format!("[{},{{]", ["{}"; 5].join(","));
        let Incoming::Single(Err(invalid)) = parser.parse_slice(broken.as_bytes()) else {
            panic!()
        };
        assert_eq!(invalid.kind, crate::InvalidKind::Parse);
        let Incoming::Batch(entries) = parser.parse_slice(b"[{},{}]") else {
            panic!("at the limit: a batch")
        };
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn split_prefix_takes_exactly_the_value_and_shares_it() {
        let mut buf = BytesMut::from(&br#"{"id":1,"method":"m","params":["x"]}{"id":2"#[..]);
        let start = buf.as_ptr();
        let mut parser = MessageParser::new(DialectMode::V1);
        let Some(Incoming::Single(Ok(Message::Request(req)))) =
            parser.split_prefix(&mut buf, usize::MAX)
        else {
            panic!("the first message")
        };
        assert_eq!(&buf[..], br#"{"id":2"#, "the rest stays");
        let params = req.params.unwrap();
        assert_eq!(params.get(), r#"["x"]"#);
        let offset = params.as_bytes().as_ptr() as usize - start as usize;
        assert_eq!(offset, r#"{"id":1,"method":"m","params":"#.len());
        assert!(
            parser.split_prefix(&mut buf, usize::MAX).is_none(),
            "not complete yet"
        );
    }
}
