//! Reading the top level of a JSON text by hand: where the message
//! object's members are, or a batch's entries, with every value checked
//! as JSON on the way.
//!
//! JSON-RPC only looks at the top level of a text (the message object, or a
//! batch and the objects in it), so this walker reads that level itself and
//! notes where each member's value is. Values are checked as they are passed
//! over: by hand when they are plain (see [`crate::json::plain`]: what params
//! and results mostly are), by serde_json otherwise. The walker accepts
//! exactly the texts serde_json accepts as one value (a proptest holds it to
//! that). Driving serde_json's deserializer over the whole message with a
//! visitor cost about 1.7 times as many instructions on a small call or
//! reply, and handing every value to serde_json about 1.3.

use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Id, InvalidId};
use crate::json::plain::{integer_end, plain_value_end};
use crate::json::string::plain_string_end;
use crate::json::whitespace_end;

/// What the walker read at the top level of a text.
pub(super) enum Read {
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
pub(super) struct Fields {
    pub(super) jsonrpc: Option<Range<usize>>,
    pub(super) id: Option<Result<Id, InvalidId>>,
    pub(super) method: Option<Range<usize>>,
    pub(super) params: Option<Range<usize>>,
    pub(super) result: Option<Range<usize>>,
    pub(super) error: Option<Range<usize>>,
    pub(super) duplicate: Option<&'static str>,
    /// The first member of no JSON-RPC meaning: its name, quoted.
    pub(super) unknown: Option<Range<usize>>,
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
pub(super) struct NotJson;

/// Reads the top level of a JSON text by hand, one byte position at a time.
///
/// Every method that reads a value starts at the value's first byte (never
/// at whitespace) and leaves `pos` just past its last byte.
pub(super) struct Walker<'a> {
    text: &'a [u8],
    pub(super) pos: usize,
    /// Batch entries past this many are only counted.
    max_batch: usize,
}

impl<'a> Walker<'a> {
    pub(super) fn new(text: &'a [u8], max_batch: usize) -> Self {
        Walker {
            text,
            pos: 0,
            max_batch,
        }
    }

    /// After a whole text's value: nothing but whitespace may follow.
    pub(super) fn end(&mut self) -> Result<(), NotJson> {
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
    pub(super) fn value(&mut self, read: &mut Read) -> Result<(), NotJson> {
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
    /// [`PLAIN_DEPTH`](crate::json::plain::PLAIN_DEPTH) deep: what params and results mostly are, and all
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

    pub(super) fn skip_whitespace(&mut self) {
        self.pos = whitespace_end(self.text, self.pos);
    }
}
