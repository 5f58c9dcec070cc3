//! Reading a JSON text into [`Incoming`], and checking it is valid JSON-RPC.
//!
//! Parsing happens in one pass. JSON-RPC only looks at the top level of a
//! text (the message object, or a batch and the objects in it), so a small
//! walker reads that level by hand and hands each member value to serde_json
//! as raw text ([`RawValue`]), which finds where the value ends and checks it
//! in the same pass. Driving serde_json's deserializer over the whole message
//! with a visitor cost about 1.7 times as many instructions on a small call
//! or reply. The walker checks by hand only what it can check as strictly as
//! serde_json: strings of plain ASCII (member names, `jsonrpc`, `method`),
//! `null` ids and ids that are plain unsigned integers. So it accepts exactly
//! the texts serde_json accepts as one raw value; when it rejects one,
//! serde_json reads that text again, only to say what is wrong and where.
//!
//! Each message object is validated once its members are found. Validation
//! never fails the parse: a message that is JSON but not JSON-RPC becomes an
//! [`Invalid`] with the reason and the id (when one could be read), so the
//! caller can answer it and carry on.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    Dialect, DialectMode, Id, Incoming, Invalid, InvalidId, InvalidKind, Message, MethodName,
    Notification, RawJson, Request, Response,
};
use crate::codec::{is_json_whitespace, FrameParser};

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
        let mut walker = Walker::new(text);
        walker.skip_whitespace();
        let read = self.read(&mut walker);
        match read.and_then(|incoming| walker.end().map(|()| incoming)) {
            Ok(incoming) => incoming,
            Err(NotJson) => Incoming::Single(Err(Invalid {
                id: Id::null(),
                dialect: self.mode.outgoing(),
                kind: InvalidKind::Parse,
                reason: why_not_json(text),
            })),
        }
    }

    /// Reads the value at the walker's position, validating each message
    /// as soon as its object has been read.
    fn read(&self, walker: &mut Walker<'_>) -> Result<Incoming, NotJson> {
        Ok(match walker.peek() {
            Some(b'{') => Incoming::Single(self.validate_fields(walker.object()?, false)),
            Some(b'[') => {
                let mut entries = Vec::new();
                walker.array(|walker| {
                    entries.push(if walker.peek() == Some(b'{') {
                        self.validate_fields(walker.object()?, true)
                    } else {
                        walker.raw()?;
                        Err(self.invalid_request(Id::null(), "batch entry is not an object"))
                    });
                    Ok(())
                })?;
                if entries.is_empty() {
                    Incoming::Single(Err(self.invalid_request(Id::null(), "empty batch")))
                } else {
                    Incoming::Batch(entries)
                }
            }
            _ => {
                walker.raw()?;
                Incoming::Single(Err(
                    self.invalid_request(Id::null(), "a message must be an object or an array")
                ))
            }
        })
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
        let (id, id_problem) = match f.id {
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
        let method = match json_string(method) {
            Some(m) => m,
            None => {
                return Err(fail(
                    dialect,
                    format!(
                        "`method` must be a string, not {}",
                        String::from_utf8_lossy(method)
                    ),
                ))
            }
        };
        let params = match f.params {
            None => None,
            Some(p) => match (p.get().as_bytes().first(), dialect) {
                (Some(b'['), _) | (Some(b'{'), Dialect::V2) => Some(RawJson::from(p)),
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
            (Some(r), None, _) => Ok(RawJson::from(r)),
            (None, Some(e), Dialect::V2) => Err(RawJson::from(e)),
            (Some(_), Some(_), Dialect::V2) => {
                return Err("a 2.0 reply carries `result` or `error`, not both".into())
            }
            // 1.0: the one that is not null wins; `error` may come alone.
            (Some(r), Some(e), Dialect::V1) if is_null(e) => Ok(RawJson::from(r)),
            (r, Some(e), Dialect::V1) if r.is_none_or(is_null) && !is_null(e) => {
                Err(RawJson::from(e))
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

/// The value of a JSON string's (checked) text, or `None` if `text` is not a
/// string. Method names rarely hold escapes, so only those that do are
/// decoded; the others are copied out as they are.
fn json_string(text: &[u8]) -> Option<MethodName> {
    let inner = text.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if inner.contains(&b'\\') {
        serde_json::from_slice::<String>(text)
            .ok()
            .map(MethodName::from)
    } else {
        std::str::from_utf8(inner).ok().map(MethodName::from)
    }
}

impl FrameParser for MessageParser {
    type Output = Incoming;

    fn parse(&mut self, frame: &[u8]) -> Incoming {
        self.parse_slice(frame)
    }

    fn parse_prefix(&mut self, buf: &[u8]) -> Option<(Incoming, usize)> {
        // Only an object or a batch can be read off the front of a stream:
        // whether a top-level number has ended cannot be told before the
        // next byte arrives.
        if !matches!(buf.first(), Some(b'{' | b'[')) {
            return None;
        }
        let mut walker = Walker::new(buf);
        let incoming = self.read(&mut walker).ok()?;
        Some((incoming, walker.pos))
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

/// The members of one message object, as found in the text. Values are kept
/// as their (already checked) JSON text, except the id, which is read at once
/// so a plain integer id never has its text copied.
#[derive(Default)]
struct Fields<'a> {
    jsonrpc: Option<&'a [u8]>,
    id: Option<Result<Id, InvalidId>>,
    method: Option<&'a [u8]>,
    params: Option<&'a RawValue>,
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    duplicate: Option<&'static str>,
    unknown: Option<Cow<'a, str>>,
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
enum Key<'a> {
    Jsonrpc,
    Id,
    Method,
    Params,
    Result,
    Error,
    Other(Cow<'a, str>),
}

/// The member a name stands for, if JSON-RPC defines it.
fn known_key<'a>(name: &[u8]) -> Option<Key<'a>> {
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
}

impl<'a> Walker<'a> {
    fn new(text: &'a [u8]) -> Self {
        Walker { text, pos: 0 }
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
    fn object(&mut self) -> Result<Fields<'a>, NotJson> {
        self.pos += 1; // `{`
        let mut f = Fields::default();
        if self.empty(b'}') {
            return Ok(f);
        }
        loop {
            self.skip_whitespace();
            // Nearly every 2.0 message has this member, written just so.
            if let Some(version) = self.version_member() {
                set(&mut f.jsonrpc, version, "jsonrpc", &mut f.duplicate);
                if !self.another(b'}')? {
                    return Ok(f);
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
                Key::Jsonrpc => set(&mut f.jsonrpc, self.text()?, "jsonrpc", dup),
                Key::Id => set(&mut f.id, self.id()?, "id", dup),
                Key::Method => set(&mut f.method, self.text()?, "method", dup),
                Key::Params => set(&mut f.params, self.raw()?, "params", dup),
                Key::Result => set(&mut f.result, self.raw()?, "result", dup),
                Key::Error => set(&mut f.error, self.raw()?, "error", dup),
                Key::Other(name) => {
                    self.text()?;
                    f.unknown.get_or_insert(name);
                }
            }
            if !self.another(b'}')? {
                return Ok(f);
            }
        }
    }

    /// The member `"jsonrpc":"2.0"` written with no space in it: its value's
    /// text (`"2.0"`). `None` (nothing consumed) for anything else, which
    /// is then read as any member is.
    fn version_member(&mut self) -> Option<&'a [u8]> {
        const MEMBER: &[u8] = br#""jsonrpc":"2.0""#;
        let member = self.rest().get(..MEMBER.len()).filter(|m| *m == MEMBER)?;
        self.pos += MEMBER.len();
        member.get(MEMBER.len() - 5..)
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
    fn key(&mut self) -> Result<Key<'a>, NotJson> {
        if let Some(quoted) = self.plain_string() {
            let name = quoted
                .strip_prefix(b"\"")
                .and_then(|q| q.strip_suffix(b"\""))
                .ok_or(NotJson)?;
            return match known_key(name) {
                Some(key) => Ok(key),
                None => Ok(Key::Other(Cow::Borrowed(
                    std::str::from_utf8(name).map_err(|_| NotJson)?,
                ))),
            };
        }
        if self.peek() != Some(b'"') {
            return Err(NotJson);
        }
        let quoted = self.raw()?.get();
        let name = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .ok_or(NotJson)?;
        if !name.contains('\\') {
            return Ok(known_key(name.as_bytes()).unwrap_or(Key::Other(Cow::Borrowed(name))));
        }
        Ok(match serde_json::from_str::<String>(quoted) {
            Ok(decoded) => match known_key(decoded.as_bytes()) {
                Some(key) => key,
                None => Key::Other(Cow::Owned(decoded)),
            },
            // An escaped lone surrogate (`"\ud800"`) is valid JSON but makes
            // no Rust string. Such a name is none of ours; it is kept as written.
            Err(_) => Key::Other(Cow::Borrowed(name)),
        })
    }

    /// A value needed only as text: `jsonrpc`, `method`, unknown members.
    /// Left as bytes, since turning bytes into a `str` costs a pass over
    /// them: the method name is copied into a `String` anyway, and the
    /// others are only compared or skipped.
    fn text(&mut self) -> Result<&'a [u8], NotJson> {
        match self.plain_string() {
            Some(quoted) => Ok(quoted),
            None => self.raw().map(|raw| raw.get().as_bytes()),
        }
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
        self.raw().map(Id::from_raw)
    }

    /// Any value, found and checked by serde_json.
    fn raw(&mut self) -> Result<&'a RawValue, NotJson> {
        let mut de = serde_json::Deserializer::from_slice(self.rest());
        let raw = <&RawValue>::deserialize(&mut de).map_err(|_| NotJson)?;
        // The value starts where the rest does (no whitespace before it), so
        // its text is exactly the bytes it took.
        self.pos += raw.get().len();
        Ok(raw)
    }

    /// A string of printable ASCII with no escapes, quotes included: the
    /// common case, where finding the closing quote is all the checking
    /// needed. `None` (nothing consumed) for anything else.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest();
        if rest.first() != Some(&b'"') {
            return None;
        }
        // Eight bytes at a time while the text lasts, then byte by byte:
        // even a short name costs a byte loop more than one word.
        let mut len = 1;
        while let Some(Ok(word)) = rest.get(len..len + 8).map(<[u8; 8]>::try_from) {
            let special = not_plain(u64::from_le_bytes(word));
            if special != 0 {
                len += special.trailing_zeros() as usize / 8;
                break;
            }
            len += 8;
        }
        while rest.get(len).is_some_and(|&b| is_plain(b)) {
            len += 1;
        }
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        let quoted = rest.get(..=len)?;
        self.pos += quoted.len();
        Some(quoted)
    }

    /// A number written as a canonical unsigned integer that fits in a u64.
    /// `None` (nothing consumed) for anything else, including a leading zero,
    /// a fraction or an exponent, which serde_json then reads (or rejects).
    fn plain_u64(&mut self) -> Option<u64> {
        let rest = self.rest();
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let canonical = match rest.first() {
            Some(b'0') => digits == 1,
            _ => digits > 0,
        };
        if !canonical || matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let mut n: u64 = 0;
        for &d in rest.get(..digits)? {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.pos += digits;
        Some(n)
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
        while self.peek().is_some_and(is_json_whitespace) {
            self.pos += 1;
        }
    }
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
