//! Reading a JSON text into [`Incoming`], and checking it is valid JSON-RPC.
//!
//! Parsing happens in one pass. JSON-RPC only looks at the top level of a
//! text (the message object, or a batch and the objects in it), so a small
//! walker reads that level by hand and notes where each member's value is.
//! Values are checked as they are passed over: by hand when they are plain
//! (strings of printable ASCII with no escapes, integers, literals, and
//! arrays and objects of them, a few levels deep: what params and results
//! mostly are), by serde_json otherwise. The walker accepts exactly the
//! texts serde_json accepts as one value (a proptest holds it to that);
//! when it rejects one, serde_json reads that text again, only to say what
//! is wrong and where. Driving serde_json's deserializer over the whole
//! message with a visitor cost about 1.7 times as many instructions on a
//! small call or reply, and handing every value to serde_json about 1.3.
//!
//! Each message object is validated once its members are found. Its method
//! name and values are slices of the text's own [`Bytes`], not copies.
//! Validation never fails the parse: a message that is JSON but not
//! JSON-RPC becomes an [`Invalid`] with the reason and the id (when one
//! could be read), so the caller can answer it and carry on.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    params_shape, Dialect, DialectMode, Id, Incoming, Invalid, InvalidId, InvalidKind, Message,
    MethodName, Notification, ParamsShape, RawJson, Request, Response,
};
use crate::codec::{is_json_whitespace, take_frame, FrameParser};

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

/// What the walker read at the top level of a text.
enum Read {
    /// A message object.
    Object(Fields),
    /// A batch: its entries, `None` for one that is not an object.
    Batch(Vec<Option<Fields>>),
    /// A batch of more entries than the limit: how many.
    OverLimit(usize),
    /// Any other JSON value.
    Other,
}

/// The members of one message object: where each value's (already checked)
/// JSON text is, except the id, which is read at once so a plain integer id
/// never has its text copied.
#[derive(Default)]
struct Fields {
    jsonrpc: Option<Range<usize>>,
    id: Option<Result<Id, InvalidId>>,
    method: Option<Range<usize>>,
    params: Option<Range<usize>>,
    result: Option<Range<usize>>,
    error: Option<Range<usize>>,
    duplicate: Option<&'static str>,
    /// The first member of no JSON-RPC meaning: its name, quoted.
    unknown: Option<Range<usize>>,
}

/// Puts a member's value in its slot. A repeated member keeps its last
/// value; the first member to repeat is noted, for validation to refuse.
fn set<T>(
    slot: &mut Option<T>,
    value: T,
    name: &'static str,
    duplicate: &mut Option<&'static str>,
) {
    if slot.replace(value).is_some() {
        duplicate.get_or_insert(name);
    }
}

/// A member name.
enum Key {
    Jsonrpc,
    Id,
    Method,
    Params,
    Result,
    Error,
    /// Any other name: where it is, quoted.
    Other(Range<usize>),
}

/// The member a name stands for, if JSON-RPC defines it.
fn known_key(name: &[u8]) -> Option<Key> {
    Some(match name {
        b"jsonrpc" => Key::Jsonrpc,
        b"id" => Key::Id,
        b"method" => Key::Method,
        b"params" => Key::Params,
        b"result" => Key::Result,
        b"error" => Key::Error,
        _ => return None,
    })
}

/// The walker found that the text is not valid JSON or, reading the front of
/// a stream, that the value there is not complete yet.
struct NotJson;

/// Reads the top level of a JSON text by hand, one byte position at a time.
///
/// Every method that reads a value starts at the value's first byte (never
/// at whitespace) and leaves `pos` just past its last byte.
struct Walker<'a> {
    text: &'a [u8],
    pos: usize,
    /// Batch entries past this many are only counted.
    max_batch: usize,
}

impl<'a> Walker<'a> {
    fn new(text: &'a [u8], max_batch: usize) -> Self {
        Walker {
            text,
            pos: 0,
            max_batch,
        }
    }

    /// After a whole text's value: nothing but whitespace may follow.
    fn end(&mut self) -> Result<(), NotJson> {
        self.skip_whitespace();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// The value at `pos`, read into `read`: a message object, a batch, or
    /// anything else. Members are written where they are kept (the
    /// message's fields are large enough that moving them shows).
    fn value(&mut self, read: &mut Read) -> Result<(), NotJson> {
        match self.peek() {
            Some(b'{') => {
                *read = Read::Object(Fields::default());
                if let Read::Object(f) = read {
                    self.object(f)?;
                }
            }
            Some(b'[') => {
                let mut entries = Vec::new();
                let mut count = 0usize;
                self.array(|walker| {
                    count += 1;
                    if count > walker.max_batch {
                        // Past the limit: checked, counted, not kept.
                        walker.raw()?;
                        if count == walker.max_batch + 1 {
                            entries = Vec::new();
                        }
                    } else if walker.peek() == Some(b'{') {
                        entries.push(Some(Fields::default()));
                        if let Some(Some(f)) = entries.last_mut() {
                            walker.object(f)?;
                        }
                    } else {
                        walker.raw()?;
                        entries.push(None);
                    }
                    Ok(())
                })?;
                *read = if count > self.max_batch {
                    Read::OverLimit(count)
                } else {
                    Read::Batch(entries)
                };
            }
            _ => {
                self.raw()?;
                *read = Read::Other;
            }
        }
        Ok(())
    }

    /// The array whose `[` is at `pos`, each entry read by `entry` from its
    /// first byte.
    fn array(
        &mut self,
        mut entry: impl FnMut(&mut Self) -> Result<(), NotJson>,
    ) -> Result<(), NotJson> {
        self.pos += 1; // `[`
        if self.empty(b']') {
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            entry(self)?;
            if !self.another(b']')? {
                return Ok(());
            }
        }
    }

    /// The members of the object whose `{` is at `pos`.
    fn object(&mut self, f: &mut Fields) -> Result<(), NotJson> {
        self.pos += 1; // `{`
        if self.empty(b'}') {
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            // Nearly every 2.0 message has this member, written just so.
            if let Some(version) = self.version_member() {
                set(&mut f.jsonrpc, version, "jsonrpc", &mut f.duplicate);
                if !self.another(b'}')? {
                    return Ok(());
                }
                continue;
            }
            let key = self.key()?;
            self.skip_whitespace();
            if self.bump() != Some(b':') {
                return Err(NotJson);
            }
            self.skip_whitespace();
            let dup = &mut f.duplicate;
            match key {
                Key::Jsonrpc => set(&mut f.jsonrpc, self.raw()?, "jsonrpc", dup),
                Key::Id => set(&mut f.id, self.id()?, "id", dup),
                Key::Method => set(&mut f.method, self.raw()?, "method", dup),
                Key::Params => set(&mut f.params, self.raw()?, "params", dup),
                Key::Result => set(&mut f.result, self.raw()?, "result", dup),
                Key::Error => set(&mut f.error, self.raw()?, "error", dup),
                Key::Other(name) => {
                    self.raw()?;
                    f.unknown.get_or_insert(name);
                }
            }
            if !self.another(b'}')? {
                return Ok(());
            }
        }
    }

    /// The member `"jsonrpc":"2.0"` written with no space in it: where its
    /// value (`"2.0"`) is. `None` (nothing consumed) for anything else,
    /// which is then read as any member is.
    fn version_member(&mut self) -> Option<Range<usize>> {
        const MEMBER: &[u8] = br#""jsonrpc":"2.0""#;
        if !self.rest().starts_with(MEMBER) {
            return None;
        }
        self.pos += MEMBER.len();
        Some(self.pos - 5..self.pos)
    }

    /// Just after an opening bracket: whether the object or array is empty
    /// (and then steps past its closing `close`).
    fn empty(&mut self, close: u8) -> bool {
        self.skip_whitespace();
        let empty = self.peek() == Some(close);
        if empty {
            self.pos += 1;
        }
        empty
    }

    /// After a member or entry: `true` at a `,` (another one follows),
    /// `false` at the closing `close`.
    fn another(&mut self, close: u8) -> Result<bool, NotJson> {
        self.skip_whitespace();
        match self.bump() {
            Some(b',') => Ok(true),
            Some(b) if b == close => Ok(false),
            _ => Err(NotJson),
        }
    }

    /// A member name. Names are compared as bytes; only one with escapes is
    /// decoded, so that `"\u006dethod"` still names `method`.
    fn key(&mut self) -> Result<Key, NotJson> {
        let start = self.pos;
        let key = if self.plain_string() {
            let name = self.text.get(start + 1..self.pos - 1).ok_or(NotJson)?;
            known_key(name)
        } else if self.peek() == Some(b'"') {
            let at = self.raw_value()?.get();
            // An escaped lone surrogate (`"\ud800"`) is valid JSON but makes
            // no Rust string: such a name is none of ours.
            serde_json::from_str::<String>(at)
                .ok()
                .and_then(|decoded| known_key(decoded.as_bytes()))
        } else {
            return Err(NotJson);
        };
        Ok(key.unwrap_or(Key::Other(start..self.pos)))
    }

    /// The `id` member's value, read straight into an [`Id`]. A plain
    /// unsigned integer that fits in a u64 is just what [`Id::from_raw`]
    /// keeps unboxed, so it is read here without copying its text.
    fn id(&mut self) -> Result<Result<Id, InvalidId>, NotJson> {
        if let Some(n) = self.plain_u64() {
            return Ok(Ok(Id::from(n)));
        }
        if self.rest().starts_with(b"null") {
            self.pos += 4;
            return Ok(Ok(Id::null()));
        }
        self.raw_value().map(Id::from_raw)
    }

    /// Where any value is: read by hand when it is plain (see
    /// [`plain_value`](Self::plain_value)), by serde_json otherwise.
    fn raw(&mut self) -> Result<Range<usize>, NotJson> {
        let start = self.pos;
        if !self.plain_value() {
            self.raw_value()?;
        }
        Ok(start..self.pos)
    }

    /// A value built only of plain strings (see
    /// [`plain_string`](Self::plain_string)), integers, `true`, `false`,
    /// `null`, and arrays and objects of them nested at most
    /// [`PLAIN_DEPTH`] deep: what params and results mostly are, and all
    /// of it checked here as strictly as serde_json checks it. Steps past it
    /// and says whether it found one; if not, it consumes nothing, and
    /// serde_json reads the value (and finds any fault in it).
    fn plain_value(&mut self) -> bool {
        let end = plain_value_end(self.text, self.pos);
        self.step_to(end)
    }

    /// Any value, found and checked by serde_json.
    fn raw_value(&mut self) -> Result<&'a RawValue, NotJson> {
        let mut de = serde_json::Deserializer::from_slice(self.rest());
        let raw = <&RawValue>::deserialize(&mut de).map_err(|_| NotJson)?;
        // The value starts where the rest does (no whitespace before it), so
        // its text is exactly the bytes it took.
        self.pos += raw.get().len();
        Ok(raw)
    }

    /// A string of printable ASCII with no escapes, quotes included: the
    /// common case, where finding the closing quote is all the checking
    /// needed. Steps past it and says whether it found one (consuming
    /// nothing if not).
    fn plain_string(&mut self) -> bool {
        let end = plain_string_end(self.text, self.pos);
        self.step_to(end)
    }

    /// A number written as a canonical unsigned integer that fits in a u64.
    /// `None` (nothing consumed) for anything else, including a leading zero,
    /// a fraction or an exponent, which serde_json then reads (or rejects).
    fn plain_u64(&mut self) -> Option<u64> {
        if self.peek() == Some(b'-') {
            return None;
        }
        let end = integer_end(self.text, self.pos)?;
        let mut n: u64 = 0;
        for &d in self.text.get(self.pos..end)? {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.pos = end;
        Some(n)
    }

    /// Moves to `end`, if there is one, and says whether it did.
    fn step_to(&mut self, end: Option<usize>) -> bool {
        if let Some(end) = end {
            self.pos = end;
        }
        end.is_some()
    }

    fn rest(&self) -> &'a [u8] {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn skip_whitespace(&mut self) {
        self.pos = whitespace_end(self.text, self.pos);
    }
}

/// How deep [`Walker::plain_value`] reads nested arrays and objects by
/// hand (at most 32: one bit each); deeper ones go to serde_json, whose
/// raw values have no depth limit (it skips them without recursing).
const PLAIN_DEPTH: u32 = 16;

/// Where the plain value (see [`Walker::plain_value`]) starting at `at`
/// ends, if one starts there. One loop with a bit per open container
/// (set for an object) rather than a call per value: params are mostly
/// a few short values, where calls would cost more than the reading.
fn plain_value_end(text: &[u8], mut at: usize) -> Option<usize> {
    let mut objects: u32 = 0;
    let mut depth = 0;
    loop {
        // A value starts at `at`.
        at = match *text.get(at)? {
            b'"' => plain_string_end(text, at)?,
            b'-' | b'0'..=b'9' => integer_end(text, at)?,
            b't' => literal_end(text, at, b"true")?,
            b'f' => literal_end(text, at, b"false")?,
            b'n' => literal_end(text, at, b"null")?,
            open @ (b'[' | b'{') => {
                let is_object = open == b'{';
                let close = if is_object { b'}' } else { b']' };
                let inner = whitespace_end(text, at + 1);
                if text.get(inner) == Some(&close) {
                    inner + 1
                } else if depth == PLAIN_DEPTH {
                    return None;
                } else {
                    depth += 1;
                    objects = objects << 1 | u32::from(is_object);
                    at = if is_object {
                        member_value_start(text, inner)?
                    } else {
                        inner
                    };
                    continue;
                }
            }
            _ => return None,
        };
        // After a value: close the containers it ends, until another
        // value follows.
        loop {
            if depth == 0 {
                return Some(at);
            }
            at = whitespace_end(text, at);
            let in_object = objects & 1 == 1;
            match *text.get(at)? {
                b',' => {
                    let next = whitespace_end(text, at + 1);
                    at = if in_object {
                        member_value_start(text, next)?
                    } else {
                        next
                    };
                    break;
                }
                b']' if !in_object => {}
                b'}' if in_object => {}
                _ => return None,
            }
            at += 1;
            depth -= 1;
            objects >>= 1;
        }
    }
}

/// Where the value of the object member whose plain name starts at `at`
/// starts (past the name, the colon and whitespace).
fn member_value_start(text: &[u8], at: usize) -> Option<usize> {
    let colon = whitespace_end(text, plain_string_end(text, at)?);
    (text.get(colon) == Some(&b':')).then(|| whitespace_end(text, colon + 1))
}

/// Where the plain string (see [`Walker::plain_string`]) whose opening
/// quote is at `at` ends, just past its closing quote.
fn plain_string_end(text: &[u8], at: usize) -> Option<usize> {
    if text.get(at) != Some(&b'"') {
        return None;
    }
    // Eight bytes at a time while the text lasts, then byte by byte:
    // even a short name costs a byte loop more than one word.
    let mut end = at + 1;
    while let Some(Ok(word)) = text.get(end..end + 8).map(<[u8; 8]>::try_from) {
        let special = not_plain(u64::from_le_bytes(word));
        if special != 0 {
            end += special.trailing_zeros() as usize / 8;
            break;
        }
        end += 8;
    }
    while text.get(end).is_some_and(|&b| is_plain(b)) {
        end += 1;
    }
    (text.get(end) == Some(&b'"')).then_some(end + 1)
}

/// Where the integer at `at` ends, if it is written as JSON writes one:
/// `-?(0|[1-9][0-9]*)`, with no fraction or exponent after it (those are
/// left to serde_json).
fn integer_end(text: &[u8], at: usize) -> Option<usize> {
    let first = at + usize::from(text.get(at) == Some(&b'-'));
    let mut end = first;
    while text.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let canonical = match text.get(first) {
        Some(b'0') => end == first + 1,
        _ => end > first,
    };
    (canonical && !matches!(text.get(end), Some(b'.' | b'e' | b'E'))).then_some(end)
}

fn literal_end(text: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    text.get(at..)?.starts_with(word).then_some(at + word.len())
}

fn whitespace_end(text: &[u8], mut at: usize) -> usize {
    while text.get(at).copied().is_some_and(is_json_whitespace) {
        at += 1;
    }
    at
}

/// Whether `b` may stand as it is in a plain string: printable ASCII other
/// than `"` and `\`.
fn is_plain(b: u8) -> bool {
    (0x20..0x80).contains(&b) && b != b'"' && b != b'\\'
}

/// The high bit of each byte of `word` (little-endian) that [`is_plain`]
/// refuses. Only the lowest marked byte is sure to be one: a borrow out of
/// a refused byte can mark bytes above it. That lowest one is all the scan
/// needs.
fn not_plain(word: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let control = word.wrapping_sub(ONES * 0x20);
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    ((control | quote | backslash) & !word | word) & HIGH
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
