//! What an SPDK call can fail with: the target's error replies, read as
//! errnos where they are ones, and everything that can stop a call first.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use jsonrpc_core::{CallError, CloseReason, ErrorObject};

/// A Linux errno, as SPDK reports a failed operation: the reply's code is
/// the errno negated (`-19`) and its message the errno's text
/// (`"No such device"`).
///
/// ```
/// use spdk_proto::Errno;
/// assert_eq!(Errno::from_code(-19), Some(Errno::ENODEV));
/// assert_eq!(Errno::ENODEV.name(), Some("ENODEV"));
/// assert_eq!(Errno::EEXIST.to_string(), "EEXIST (File exists)");
/// assert_eq!(Errno::EEXIST.text(), Some("File exists"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Errno(pub i32);

/// Declares the errno constants and the table `name` and `text` read.
macro_rules! errnos {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "`: \"", $text, "\".")]
                pub const $name: Errno = Errno($value);
            )*
        }

        const TABLE: &[(Errno, &str, &str)] = &[$((Errno($value), stringify!($name), $text),)*];
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    EBADF = 9, "Bad file descriptor";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Invalid cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    EMFILE = 24, "Too many open files";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    EROFS = 30, "Read-only file system";
    EDOM = 33, "Numerical argument out of domain";
    ERANGE = 34, "Numerical result out of range";
    ENAMETOOLONG = 36, "File name too long";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ENODATA = 61, "No data available";
    EPROTO = 71, "Protocol error";
    EOVERFLOW = 75, "Value too large for defined data type";
    EILSEQ = 84, "Invalid or incomplete multibyte or wide character";
    EOPNOTSUPP = 95, "Operation not supported";
    EADDRINUSE = 98, "Address already in use";
    ENOBUFS = 105, "No buffer space available";
    ENOTCONN = 107, "Transport endpoint is not connected";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
    EALREADY = 114, "Operation already in progress";
    EINPROGRESS = 115, "Operation now in progress";
    ECANCELED = 125, "Operation canceled";
}

impl Errno {
    /// The errno a JSON-RPC error code stands for: SPDK sends a failed
    /// operation's errno negated. Codes of zero and above, and JSON-RPC's
    /// own (-32768 to -32000), are not errnos.
    pub fn from_code(code: i64) -> Option<Errno> {
        let value = i32::try_from(code.checked_neg()?).ok()?;
        (1..4096).contains(&value).then_some(Errno(value))
    }

    /// The symbolic name (`"ENODEV"`), for the errnos this crate knows.
    pub fn name(self) -> Option<&'static str> {
        TABLE
            .iter()
            .find(|(e, ..)| *e == self)
            .map(|(_, name, _)| *name)
    }

    /// The errno's text, as the C library's `strerror` gives it and SPDK
    /// sends it (`"No such device"`), for the errnos this crate knows.
    pub fn text(self) -> Option<&'static str> {
        TABLE
            .iter()
            .find(|(e, ..)| *e == self)
            .map(|(.., text)| *text)
    }

    /// The JSON-RPC error code SPDK sends for it.
    pub fn code(self) -> i64 {
        -i64::from(self.0)
    }

    /// The error reply SPDK sends for a failed operation: the code, and the
    /// errno's text as the message.
    ///
    /// ```
    /// let e = spdk_proto::Errno::ENODEV.to_error();
    /// assert_eq!((e.code, e.message.as_str()), (-19, "No such device"));
    /// ```
    pub fn to_error(self) -> jsonrpc_core::ErrorObject {
        let text = self
            .text()
            .map_or_else(|| format!("Unknown error {}", self.0), str::to_owned);
        jsonrpc_core::ErrorObject::new(self.code(), text)
    }

    /// An error reply with the errno's code and a message of its own, as
    /// SPDK sends where it explains the failure (`-22 "Controller X does
    /// not exist"`).
    ///
    /// ```
    /// let e = spdk_proto::Errno::EINVAL.with_message("max_bdevs cannot be zero");
    /// assert_eq!((e.code, e.message.as_str()), (-22, "max_bdevs cannot be zero"));
    /// ```
    pub fn with_message(self, message: impl Into<String>) -> jsonrpc_core::ErrorObject {
        jsonrpc_core::ErrorObject::new(self.code(), message.into())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.text()) {
            (Some(name), Some(text)) => write!(f, "{name} ({text})"),
            _ => write!(f, "errno {}", self.0),
        }
    }
}

/// What kind of failure an SPDK error reply reports, read from its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// -32700: the target could not parse what it got (SPDK also uses it
    /// for some params it cannot decode).
    ParseError,
    /// -32600: not a valid request.
    InvalidRequest,
    /// -32601: no such method.
    MethodNotFound,
    /// -32602: the params were refused.
    InvalidParams,
    /// -32603: the target failed, or could not decode the params
    /// (`"spdk_json_decode_object failed"`).
    InternalError,
    /// -1 with SPDK's startup-state text: the method cannot be called in the
    /// target's current state (before or after `framework_start_init`).
    InvalidState,
    /// A failed operation's errno.
    Errno(Errno),
    /// Any other code.
    Other(i64),
}

/// The text SPDK's -1 "invalid state" replies begin with.
const INVALID_STATE_TEXT: &str = "Method may only be called";

/// An error reply from an SPDK target: its code and message as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// The target's message, as sent.
    pub message: String,
    /// The reply's `data`, if any, as the target wrote it.
    pub data: Option<jsonrpc_core::RawJson>,
}

impl RpcError {
    /// What the code says happened.
    pub fn kind(&self) -> ErrorKind {
        match self.code {
            -32700 => ErrorKind::ParseError,
            -32600 => ErrorKind::InvalidRequest,
            -32601 => ErrorKind::MethodNotFound,
            -32602 => ErrorKind::InvalidParams,
            -32603 => ErrorKind::InternalError,
            // -1 is both SPDK's "invalid state" and -EPERM; only the text
            // tells them apart.
            -1 if self.message.starts_with(INVALID_STATE_TEXT) => ErrorKind::InvalidState,
            code => Errno::from_code(code).map_or(ErrorKind::Other(code), ErrorKind::Errno),
        }
    }

    /// The errno, when the code is one.
    pub fn errno(&self) -> Option<Errno> {
        match self.kind() {
            ErrorKind::Errno(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ErrorObject> for RpcError {
    fn from(e: ErrorObject) -> Self {
        RpcError {
            code: e.code,
            message: e.message,
            data: e.data,
        }
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno().and_then(Errno::name) {
            Some(name) => write!(f, "{name} ({}): {}", self.code, self.message),
            None => write!(f, "error {}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for RpcError {}

/// Why an SPDK call failed. Every case names the method.
#[derive(Debug, thiserror::Error)]
pub enum SpdkError {
    /// The target answered with an error.
    #[error("{method}: {error}")]
    Rpc {
        /// The method called.
        method: Cow<'static, str>,
        /// The target's error.
        error: RpcError,
    },
    /// The request is larger than the target reads; it was not sent.
    #[error("{method}: the request is {size} bytes, over the target's limit of {limit} bytes; it was not sent")]
    RequestTooLarge {
        /// The method called.
        method: Cow<'static, str>,
        /// The request's size.
        size: usize,
        /// The target's limit ([`ClientOptions::max_request`](crate::ClientOptions::max_request)).
        limit: usize,
    },
    /// No reply within the deadline; the call is forgotten.
    #[error("{method}: no reply within {after:?}")]
    Timeout {
        /// The method called.
        method: Cow<'static, str>,
        /// The deadline.
        after: Duration,
    },
    /// The connection closed before the reply came.
    #[error("{method}: the connection closed before the reply: {reason}")]
    Closed {
        /// The method called.
        method: Cow<'static, str>,
        /// Why it closed.
        reason: CloseReason,
    },
    /// The params could not be serialized.
    #[error("{method}: the params could not be serialized: {source}")]
    Encode {
        /// The method called.
        method: Cow<'static, str>,
        /// What serde said.
        source: serde_json::Error,
    },
    /// The reply did not fit the method's result type.
    #[error("{method}: the reply does not fit the result type: {source}; reply was {reply}")]
    Decode {
        /// The method called.
        method: Cow<'static, str>,
        /// What serde said.
        source: serde_json::Error,
        /// The reply as received.
        reply: String,
    },
    /// The target's reply was not a valid JSON-RPC reply.
    #[error("{method}: invalid reply: {reason}")]
    InvalidReply {
        /// The method called.
        method: Cow<'static, str>,
        /// What was wrong with it.
        reason: String,
    },
    /// Connecting to the target failed.
    #[error(transparent)]
    Connect(#[from] jsonrpc_transport::TransportError),
    /// A configuration to load names a method the target does not have
    /// (`rpc_get_methods` does not list it); nothing was called.
    #[error("load_config: the configuration calls {method}, which the target does not have; nothing was loaded")]
    UnknownConfigMethod {
        /// The method.
        method: String,
    },
}

impl SpdkError {
    /// Reads a core call error as an SPDK one for `method`.
    pub(crate) fn of_call(method: impl Into<Cow<'static, str>>, e: CallError) -> SpdkError {
        let method = method.into();
        match e {
            CallError::Rpc(error) => SpdkError::Rpc {
                method,
                error: error.into(),
            },
            CallError::TooLarge(t) => SpdkError::RequestTooLarge {
                method,
                size: t.size,
                limit: t.limit,
            },
            CallError::Timeout(after) => SpdkError::Timeout { method, after },
            CallError::ConnectionClosed(reason) => SpdkError::Closed { method, reason },
            CallError::Encode(source) => SpdkError::Encode { method, source },
            CallError::Decode { error, reply } => SpdkError::Decode {
                method,
                source: error,
                reply,
            },
            CallError::InvalidReply(reason) => SpdkError::InvalidReply { method, reason },
        }
    }

    /// The target's error reply, if that is what this is.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            SpdkError::Rpc { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The errno of the target's error reply, if it is one.
    pub fn errno(&self) -> Option<Errno> {
        self.rpc().and_then(RpcError::errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: i64, message: &str) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    #[test]
    fn codes_read_as_errnos_or_json_rpc_kinds() {
        assert_eq!(error(-19, "No such device").errno(), Some(Errno::ENODEV));
        assert_eq!(
            error(-17, "File exists").kind(),
            ErrorKind::Errno(Errno::EEXIST)
        );
        assert_eq!(
            error(-32602, "Invalid parameters").kind(),
            ErrorKind::InvalidParams
        );
        assert_eq!(
            error(-1, "Method may only be called after framework is initialized using framework_start_init RPC.").kind(),
            ErrorKind::InvalidState
        );
        assert_eq!(
            error(-1, "Operation not permitted").errno(),
            Some(Errno::EPERM)
        );
        assert_eq!(error(7, "odd").kind(), ErrorKind::Other(7));
        assert_eq!(error(-5000, "odd").kind(), ErrorKind::Other(-5000));
    }

    #[test]
    fn the_message_names_the_errno_and_keeps_the_targets_text() {
        let shown = error(-19, "No such device").to_string();
        assert_eq!(shown, "ENODEV (-19): No such device");
        assert_eq!(
            error(-32602, "Invalid parameters").to_string(),
            "error -32602: Invalid parameters"
        );
        assert_eq!(Errno(4000).to_string(), "errno 4000");
        assert_eq!(Errno::from_code(-32603), None);
        assert_eq!(Errno::from_code(i64::MIN), None);
        assert_eq!(Errno::from_code(0), None);
    }
}
