//! OVSDB errors as the wire carries them (RFC 7047 section 3.1 and 4.1.1).
//!
//! A failed operation, and most failed calls, carry an error object,
//! `{"error": "<kind>", "details": "...", "syntax": "..."}`: an
//! [`OvsdbError`]. Some calls fail with a bare string instead
//! (`"unknown method"`); [`ReplyError`] is either form, and is the error
//! type of every method in [`methods`](crate::methods).
//!
//! The `error` string says what went wrong in words clients match on
//! exactly (a client falls back to an older monitor method only on
//! `"unknown method"`), so it is an [`ErrorKind`], with
//! [`ErrorKind::Other`] keeping any string this crate does not know.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

macro_rules! error_kinds {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// What went wrong, as the `error` string names it.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $($(#[$doc])* $variant,)*
            /// Any other string, kept as it came.
            Other(String),
        }

        impl ErrorKind {
            /// The string on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorKind::$variant => $text,)*
                    ErrorKind::Other(s) => s,
                }
            }

            /// The kind a wire string names; unknown strings are kept in
            /// [`ErrorKind::Other`].
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $($text => ErrorKind::$variant,)*
                    other => ErrorKind::Other(other.to_owned()),
                }
            }
        }
    };
}

error_kinds! {
    /// A reference to a row that does not exist.
    ReferentialIntegrityViolation => "referential integrity violation",
    /// A value outside its column's constraints, or a broken index or `maxRows`.
    ConstraintViolation => "constraint violation",
    /// The server ran out of some resource (RFC 7047; Open vSwitch 3.1
    /// never sends it).
    ResourcesExhausted => "resources exhausted",
    /// The server failed to read or write its storage (ovsdb-server: a
    /// commit whose write to the database file failed, as the commit's
    /// extra result).
    IoError => "I/O error",
    /// Two inserts in one transaction used the same `uuid-name`.
    DuplicateUuidName => "duplicate uuid-name",
    /// An arithmetic mutation had no result (a division by zero).
    DomainError => "domain error",
    /// An arithmetic mutation overflowed.
    RangeError => "range error",
    /// A `wait` operation's timeout ran out.
    TimedOut => "timed out",
    /// The request is valid but the server does not implement it (Open
    /// vSwitch: an unmet `wait` where nothing can wait, as in `ovsdb-tool
    /// query`; ovsdb-server waits instead and never sends it).
    NotSupported => "not supported",
    /// The transaction ran an `abort` operation.
    Aborted => "aborted",
    /// An `assert` named a lock the client does not hold.
    NotOwner => "not owner",
    /// The request was malformed.
    SyntaxError => "syntax error",
    /// A row or condition named a column the table does not have.
    UnknownColumn => "unknown column",
    /// The request named a database the server does not have.
    UnknownDatabase => "unknown database",
    /// The server does not implement the method.
    UnknownMethod => "unknown method",
    /// A monitor id that names no monitor.
    UnknownMonitor => "unknown monitor",
    /// The operation may not be done on this database or column.
    NotAllowed => "not allowed",
    /// The call was canceled (after `cancel`, when the client is change-aware).
    Canceled => "canceled",
    /// A value the server could not take as it is, such as a set with a
    /// repeated element.
    OvsdbError => "ovsdb error",
    /// The server has the database but cannot serve it yet: a clustered
    /// server that has not joined its cluster, a relay that has not read
    /// it from its source. Asking again later may succeed (ovsdb-server
    /// extension, not in RFC 7047).
    DatabaseNotAvailable => "database not available",
}

impl ErrorKind {
    /// The kind a server answers a request with when decoding it failed
    /// with `e`: an "ovsdb error" for a set or map with repeats (as
    /// ovsdb-server does), a "syntax error" for anything else.
    pub fn of_decode_error(e: &serde_json::Error) -> Self {
        if e.to_string().contains(crate::datum::DUPLICATE_MARK) {
            ErrorKind::OvsdbError
        } else {
            ErrorKind::SyntaxError
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ErrorKind {
    fn from(s: &str) -> Self {
        ErrorKind::from_wire(s)
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(ErrorKind::from_wire(&s))
    }
}

/// An OVSDB error object.
///
/// ```
/// use ovsdb_proto::error::{ErrorKind, OvsdbError};
///
/// let e: OvsdbError = serde_json::from_str(r#"{"error":"timed out","details":"wait"}"#)?;
/// assert_eq!(e.error, ErrorKind::TimedOut);
/// assert_eq!(e.to_string(), "timed out: wait");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct OvsdbError {
    /// What went wrong.
    pub error: ErrorKind,
    /// Words for a human, if the server gave any.
    pub details: Option<String>,
    /// The part of the request at fault, if the server quoted it.
    pub syntax: Option<String>,
}

impl OvsdbError {
    /// An error of `kind` with no details.
    pub fn new(kind: ErrorKind) -> Self {
        OvsdbError {
            error: kind,
            details: None,
            syntax: None,
        }
    }

    /// This error with `details` for a human.
    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

impl From<ErrorKind> for OvsdbError {
    fn from(kind: ErrorKind) -> Self {
        OvsdbError::new(kind)
    }
}

impl fmt::Display for OvsdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error.as_str())?;
        if let Some(d) = &self.details {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl Serialize for OvsdbError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = 1 + usize::from(self.details.is_some()) + usize::from(self.syntax.is_some());
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("error", &self.error)?;
        if let Some(d) = &self.details {
            map.serialize_entry("details", d)?;
        }
        if let Some(s) = &self.syntax {
            map.serialize_entry("syntax", s)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for OvsdbError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = OvsdbError;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OVSDB error object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OvsdbError, A::Error> {
                let mut fields = ErrorFields::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if !fields.take(&key, &mut map)? {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                fields
                    .finish()
                    .ok_or_else(|| de::Error::missing_field("error"))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// The members of an error object, gathered while reading an object that
/// may turn out to be one (an operation result is either a result or an
/// error).
#[derive(Default)]
pub(crate) struct ErrorFields {
    error: Option<ErrorKind>,
    details: Option<String>,
    syntax: Option<String>,
}

impl ErrorFields {
    /// Reads the value of member `key` if it is one of an error object's;
    /// returns whether it was. Members other servers add (`io-error`) are
    /// left to the caller to skip.
    pub(crate) fn take<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        match key {
            "error" => self.error = Some(map.next_value()?),
            "details" => self.details = map.next_value()?,
            "syntax" => self.syntax = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The error object, if an `error` member was read.
    pub(crate) fn finish(self) -> Option<OvsdbError> {
        Some(OvsdbError {
            error: self.error?,
            details: self.details,
            syntax: self.syntax,
        })
    }
}

/// The error of a failed call: an error object or a bare string.
///
/// ```
/// use ovsdb_proto::error::ReplyError;
///
/// let e: ReplyError = serde_json::from_str(r#""unknown method""#)?;
/// assert!(e.is_unknown_method());
/// assert_eq!(serde_json::to_string(&e)?, r#""unknown method""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// An error object.
    #[error("{0}")]
    Object(OvsdbError),
    /// A bare string, such as `"unknown method"`.
    #[error("{0}")]
    Bare(ErrorKind),
}

impl ReplyError {
    /// What went wrong, whichever form it came in.
    pub fn kind(&self) -> &ErrorKind {
        match self {
            ReplyError::Object(o) => &o.error,
            ReplyError::Bare(k) => k,
        }
    }

    /// Whether the server does not know the method: the one error on which
    /// clients fall back to an older method.
    pub fn is_unknown_method(&self) -> bool {
        *self.kind() == ErrorKind::UnknownMethod
    }
}

impl From<OvsdbError> for ReplyError {
    fn from(e: OvsdbError) -> Self {
        ReplyError::Object(e)
    }
}

impl Serialize for ReplyError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ReplyError::Object(o) => o.serialize(serializer),
            ReplyError::Bare(k) => k.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ReplyError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EitherVisitor;
        impl<'de> Visitor<'de> for EitherVisitor {
            type Value = ReplyError;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OVSDB error object or string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ReplyError, E> {
                Ok(ReplyError::Bare(ErrorKind::from_wire(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ReplyError, A::Error> {
                OvsdbError::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ReplyError::Object)
            }
        }
        deserializer.deserialize_any(EitherVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_str, to_string};

    #[test]
    fn every_known_string_has_its_kind() {
        for text in [
            "referential integrity violation",
            "constraint violation",
            "resources exhausted",
            "I/O error",
            "duplicate uuid-name",
            "domain error",
            "range error",
            "timed out",
            "not supported",
            "aborted",
            "not owner",
            "syntax error",
            "unknown column",
            "unknown database",
            "unknown method",
            "unknown monitor",
            "not allowed",
            "canceled",
            "ovsdb error",
            "database not available",
        ] {
            let kind = ErrorKind::from_wire(text);
            assert!(!matches!(kind, ErrorKind::Other(_)), "{text}");
            assert_eq!(kind.as_str(), text);
        }
        assert_eq!(
            ErrorKind::from_wire("new kind"),
            ErrorKind::Other("new kind".into())
        );
    }

    #[test]
    fn error_objects_on_the_wire() {
        let text = r#"{"error":"syntax error","details":"bad op","syntax":"{\"op\":1}"}"#;
        let e: OvsdbError = from_str(text).unwrap();
        assert_eq!(e.error, ErrorKind::SyntaxError);
        assert_eq!(e.syntax.as_deref(), Some(r#"{"op":1}"#));
        assert_eq!(to_string(&e).unwrap(), text);
        let bare = OvsdbError::new(ErrorKind::Aborted);
        assert_eq!(to_string(&bare).unwrap(), r#"{"error":"aborted"}"#);
        let extra: OvsdbError = from_str(r#"{"io-error":"x","error":"I/O error"}"#).unwrap();
        assert_eq!(extra.error, ErrorKind::IoError);
        assert!(from_str::<OvsdbError>(r#"{"details":"no kind"}"#).is_err());
    }

    #[test]
    fn reply_errors_take_both_forms() {
        let obj: ReplyError = from_str(r#"{"error":"unknown database","details":"x"}"#).unwrap();
        assert_eq!(*obj.kind(), ErrorKind::UnknownDatabase);
        let bare: ReplyError = from_str(r#""canceled""#).unwrap();
        assert_eq!(bare, ReplyError::Bare(ErrorKind::Canceled));
        assert!(from_str::<ReplyError>("12").is_err());
    }

    #[test]
    fn duplicates_decode_to_ovsdb_error() {
        let dup = from_str::<crate::datum::Datum>(r#"["set",[1,1]]"#).unwrap_err();
        assert_eq!(ErrorKind::of_decode_error(&dup), ErrorKind::OvsdbError);
        let syntax = from_str::<crate::datum::Datum>("null").unwrap_err();
        assert_eq!(ErrorKind::of_decode_error(&syntax), ErrorKind::SyntaxError);
    }
}
