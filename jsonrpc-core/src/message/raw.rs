//! [`RawJson`]: a JSON value kept as its text.

use std::fmt;

use bytestring::ByteString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON value kept as its text: checked once, when it is read, and
/// decoded into a type only where it is used.
///
/// Params, results and errors arrive as `RawJson`. What a connection reads
/// shares the buffer it was read into instead of being copied out of it,
/// so a clone is cheap too; what is made here (from a value, from text,
/// from serde_json's [`RawValue`]) owns its text. Keeping a received one
/// keeps its message's buffer (at most four times the message's size, or a
/// small buffer: a small message in a large buffer is copied out of it):
/// to keep one for long, keep [`unshared`](Self::unshared) or a decoded value.
///
/// ```
/// use jsonrpc_core::RawJson;
///
/// let params = RawJson::from_value(&(1, "two")).unwrap();
/// assert_eq!(params.get(), r#"[1,"two"]"#);
/// let (n, s): (i64, String) = params.decode().unwrap();
/// assert_eq!((n, s.as_str()), (1, "two"));
///
/// assert!(RawJson::parse("[1,").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(ByteString);

impl RawJson {
    /// Checks that `text` is one JSON value; whitespace around it is dropped.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        Ok(RawJson(ByteString::from(raw.get())))
    }

    /// Serializes `value`.
    pub fn from_value<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        Ok(RawJson(ByteString::from(serde_json::to_string(value)?)))
    }

    /// `null`.
    pub const fn null() -> Self {
        RawJson(ByteString::from_static("null"))
    }

    /// Text known to be one JSON value with no whitespace around it: what
    /// the message parser has checked, or what serde_json has written.
    pub(crate) fn trusted(text: ByteString) -> Self {
        RawJson(text)
    }

    /// What serde_json has written (so JSON, and UTF-8 unless a bug says
    /// otherwise).
    pub(crate) fn written(text: Vec<u8>) -> Result<Self, std::string::FromUtf8Error> {
        String::from_utf8(text).map(|text| RawJson(text.into()))
    }

    /// A copy with storage of its own, which keeps no received buffer.
    pub fn unshared(&self) -> Self {
        RawJson(ByteString::from(self.get()))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// The JSON text, as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        self.get() == "null"
    }

    /// Deserializes the value as a `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.get())
    }

    /// A copy as serde_json's [`RawValue`].
    pub fn to_raw_value(&self) -> Box<RawValue> {
        // The text is JSON, so this never falls back.
        RawValue::from_string(self.get().to_owned()).unwrap_or_else(|_| super::null_raw())
    }
}

/// Takes serde_json's text over without copying it.
impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> Self {
        RawJson(ByteString::from(Box::<str>::from(raw)))
    }
}

impl From<&RawValue> for RawJson {
    fn from(raw: &RawValue) -> Self {
        RawJson(ByteString::from(raw.get()))
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({})", self.get())
    }
}

/// Written as the JSON it holds (not as a string). serde_json writes raw
/// text only for its own `RawValue`, so this reads the text once more to
/// make one; handler results skip that (they are copied in as they are).
impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(self.get()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(RawJson::from)
    }
}

#[cfg(test)]
mod tests {
    use super::RawJson;

    #[test]
    fn raw_json_goes_through_serde_as_the_json_it_holds() {
        let raw = RawJson::parse(" {\"a\": [1, 2]} ").unwrap();
        assert_eq!(raw.get(), "{\"a\": [1, 2]}");
        let wrapped = serde_json::to_string(&vec![raw.clone()]).unwrap();
        assert_eq!(wrapped, "[{\"a\": [1, 2]}]");
        let back: Vec<RawJson> = serde_json::from_str(&wrapped).unwrap();
        assert_eq!(back, vec![raw]);
        assert!(RawJson::null().is_null());
        assert!(RawJson::parse("1 2").is_err());
    }
}
