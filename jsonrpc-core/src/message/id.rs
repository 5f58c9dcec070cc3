//! Request ids, kept exactly as the peer wrote them.
//!
//! A peer may number its requests with any JSON number (of any size or sign),
//! a string, or `null`. We never reinterpret an id: the reply carries the very
//! text the request carried, so `1e3`, `-0` or a 40-digit number come back as
//! they went out. Plain non-negative integers — what almost every peer sends and
//! what our own calls use — are stored unboxed so matching them is cheap.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON-RPC request id: a number, a string or `null`, as the peer wrote it.
///
/// ```
/// use jsonrpc_core::Id;
/// let id: Id = serde_json::from_str("12345678901234567890123").unwrap();
/// assert_eq!(serde_json::to_string(&id).unwrap(), "12345678901234567890123");
/// assert_eq!(Id::from(7).as_u64(), Some(7));
/// assert_eq!(Id::from("abc").to_string(), "\"abc\"");
/// ```
#[derive(Clone)]
pub struct Id(Repr);

#[derive(Clone)]
enum Repr {
    Null,
    /// A non-negative integer that fits in a u64, written in its canonical form.
    Int(u64),
    /// Any other number, or a string: the exact JSON text.
    Raw(Box<RawValue>),
}

/// An id that JSON-RPC does not allow (a boolean, an object or an array).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id {0}: an id must be a string, a number or null")]
pub struct InvalidId(pub String);

impl Id {
    /// The `null` id.
    pub const fn null() -> Self {
        Id(Repr::Null)
    }

    /// True for the `null` id.
    pub fn is_null(&self) -> bool {
        matches!(self.0, Repr::Null)
    }

    /// The id as an unsigned integer, when it is one written canonically.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            Repr::Int(n) => Some(n),
            _ => None,
        }
    }

    /// The id's string value, when it is a string.
    pub fn as_str(&self) -> Option<String> {
        match &self.0 {
            Repr::Raw(raw) if raw.get().starts_with('"') => serde_json::from_str(raw.get()).ok(),
            _ => None,
        }
    }

    /// Reads an id from its JSON text, keeping the text exactly.
    pub fn from_raw(raw: &RawValue) -> Result<Self, InvalidId> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'n') => Ok(Id::null()),
            Some(b'"') => Ok(Id(Repr::Raw(raw.to_owned()))),
            Some(b'-' | b'0'..=b'9') => Ok(canonical_u64(text)
                .map(|n| Id(Repr::Int(n)))
                .unwrap_or_else(|| Id(Repr::Raw(raw.to_owned())))),
            _ => Err(InvalidId(text.to_owned())),
        }
    }

    /// Appends the id's JSON text to `out`.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Null => out.extend_from_slice(b"null"),
            Repr::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            Repr::Raw(raw) => out.extend_from_slice(raw.get().as_bytes()),
        }
    }

    /// The id's JSON text, exactly as it goes on the wire.
    pub fn to_json(&self) -> String {
        self.to_string()
    }
}

/// `Some(n)` when `text` is exactly how `n` prints, so storing `n` loses nothing.
fn canonical_u64(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 20 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    text.parse().ok()
}

impl From<u64> for Id {
    fn from(n: u64) -> Self {
        Id(Repr::Int(n))
    }
}

impl From<u32> for Id {
    fn from(n: u32) -> Self {
        Id(Repr::Int(n.into()))
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        match u64::try_from(n) {
            Ok(n) => Id(Repr::Int(n)),
            Err(_) => Id(Repr::Raw(raw_text(n.to_string()))),
        }
    }
}

impl From<i32> for Id {
    fn from(n: i32) -> Self {
        Id::from(i64::from(n))
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id(Repr::Raw(
            serde_json::value::to_raw_value(s).unwrap_or_else(|_| raw_text("\"\"".into())),
        ))
    }
}

impl From<String> for Id {
    fn from(s: String) -> Self {
        Id::from(s.as_str())
    }
}

/// Wraps JSON text we produced ourselves (a number or a serialized string).
fn raw_text(text: String) -> Box<RawValue> {
    // Only called with text serde_json itself wrote, which is always valid JSON;
    // fall back to `null` rather than panic should that ever not hold.
    RawValue::from_string(text).unwrap_or_else(|_| null_raw())
}

pub(crate) fn null_raw() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("`null` is valid JSON")
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Null, Repr::Null) => true,
            (Repr::Int(a), Repr::Int(b)) => a == b,
            (Repr::Raw(a), Repr::Raw(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl Eq for Id {}

impl Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            Repr::Null => state.write_u8(0),
            Repr::Int(n) => {
                state.write_u8(1);
                state.write_u64(*n);
            }
            Repr::Raw(raw) => {
                state.write_u8(2);
                raw.get().hash(state);
            }
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Null => f.write_str("null"),
            Repr::Int(n) => write!(f, "{n}"),
            Repr::Raw(raw) => f.write_str(raw.get()),
        }
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Null => serializer.serialize_unit(),
            Repr::Int(n) => serializer.serialize_u64(*n),
            Repr::Raw(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Id::from_raw(&raw).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> String {
        let id: Id = serde_json::from_str(text).unwrap();
        serde_json::to_string(&id).unwrap()
    }

    #[test]
    fn ids_come_back_as_they_went_out() {
        for text in [
            "0",
            "1",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "-0",
            "1.0",
            "1e3",
            "123456789012345678901234567890",
            "\"abc\"",
            "\"\\u00e9\\n\"",
            "null",
        ] {
            assert_eq!(roundtrip(text), text);
        }
    }

    #[test]
    fn only_canonical_integers_are_unboxed() {
        let id = |t: &str| serde_json::from_str::<Id>(t).unwrap();
        assert_eq!(id("42").as_u64(), Some(42));
        assert_eq!(id("42.0").as_u64(), None);
        assert_eq!(id("-0").as_u64(), None);
        assert_ne!(id("42"), id("\"42\""));
        assert_eq!(id("\"x\"").as_str().as_deref(), Some("x"));
    }

    #[test]
    fn booleans_objects_and_arrays_are_not_ids() {
        for text in ["true", "{}", "[1]"] {
            assert!(serde_json::from_str::<Id>(text).is_err(), "{text}");
        }
    }
}
