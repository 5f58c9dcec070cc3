//! [`MethodName`]: the method a call or notification names.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytestring::ByteString;

/// The method a request or notification names.
///
/// A string that a received message shares with the buffer it was read
/// into, rather than a copy of its own; it reads as a `str`. Keeping a
/// received one keeps that buffer: keep [`unshared`](Self::unshared) (or a
/// `String`) to hold on to one for long.
///
/// ```
/// use jsonrpc_core::MethodName;
///
/// let name = MethodName::from_static("echo");
/// assert_eq!(name, "echo");
/// assert!(name.starts_with("ec"));
/// let owned = String::from("echo");
/// assert_eq!(MethodName::from(&owned), name);
/// assert_eq!(MethodName::from(owned), name);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MethodName(ByteString);

impl MethodName {
    /// A name from a string literal, without copying it.
    pub const fn from_static(name: &'static str) -> Self {
        MethodName(ByteString::from_static(name))
    }

    /// A name that shares `text`'s storage.
    pub(crate) fn shared(text: ByteString) -> Self {
        MethodName(text)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A copy with storage of its own, which keeps no received buffer.
    pub fn unshared(&self) -> Self {
        MethodName(ByteString::from(self.as_str()))
    }
}

impl Deref for MethodName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MethodName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for MethodName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for MethodName {
    fn from(name: &str) -> Self {
        MethodName(ByteString::from(name))
    }
}

impl From<String> for MethodName {
    fn from(name: String) -> Self {
        MethodName(ByteString::from(name))
    }
}

impl From<&String> for MethodName {
    fn from(name: &String) -> Self {
        MethodName::from(name.as_str())
    }
}

impl From<Box<str>> for MethodName {
    fn from(name: Box<str>) -> Self {
        MethodName(ByteString::from(name))
    }
}

impl From<std::borrow::Cow<'_, str>> for MethodName {
    fn from(name: std::borrow::Cow<'_, str>) -> Self {
        match name {
            std::borrow::Cow::Borrowed(name) => MethodName::from(name),
            std::borrow::Cow::Owned(name) => MethodName::from(name),
        }
    }
}

impl From<MethodName> for String {
    fn from(name: MethodName) -> Self {
        name.as_str().to_owned()
    }
}

impl PartialEq<str> for MethodName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MethodName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for MethodName {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
