//! The JSON-RPC 2.0 error object and the standard error codes.
//!
//! On the wire an error is any JSON value (JSON-RPC 1.0 peers such as OVSDB send
//! strings or `{"error":..,"details":..}` objects), so a [`Response`](super::Response)
//! keeps it raw. [`ErrorObject`] is the 2.0 shape and the default error type of a
//! [`Method`](crate::Method).

use std::fmt;

use super::RawJson;
use serde::{Deserialize, Serialize};

/// A JSON-RPC 2.0 error object: `{"code": .., "message": .., "data": ..}`.
///
/// ```
/// use jsonrpc_core::ErrorObject;
/// let e = ErrorObject::method_not_found("frobnicate");
/// assert_eq!(e.code, ErrorObject::METHOD_NOT_FOUND);
/// assert_eq!(e.to_string(), "Method not found: frobnicate (code -32601)");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorObject {
    /// A number that says what kind of error this is.
    pub code: i64,
    /// A short description.
    pub message: String,
    /// Whatever else the sender wants to say, as raw JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<RawJson>,
}

impl ErrorObject {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON sent is not a valid request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// The method does not exist or is not available.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The params do not fit the method.
    pub const INVALID_PARAMS: i64 = -32602;
    /// An error inside the server while handling the call.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The server is at its limit of requests in flight and queued; try again later.
    pub const SERVER_OVERLOADED: i64 = -32000;
    /// The request was cancelled (the LSP code; other protocols choose their own).
    pub const REQUEST_CANCELLED: i64 = -32800;

    /// An error object with no data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Attaches `data`, serialized to JSON.
    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = RawJson::from_value(&data).ok();
        self
    }

    /// -32700, with the parser's reason.
    pub fn parse_error(reason: impl fmt::Display) -> Self {
        Self::new(Self::PARSE_ERROR, format!("Parse error: {reason}"))
    }

    /// -32600, with what was wrong.
    pub fn invalid_request(reason: impl fmt::Display) -> Self {
        Self::new(Self::INVALID_REQUEST, format!("Invalid Request: {reason}"))
    }

    /// -32601 for `method`.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            Self::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )
    }

    /// -32602, with the reason the params did not fit.
    pub fn invalid_params(reason: impl fmt::Display) -> Self {
        Self::new(Self::INVALID_PARAMS, format!("Invalid params: {reason}"))
    }

    /// -32603, with what went wrong.
    pub fn internal_error(reason: impl fmt::Display) -> Self {
        Self::new(Self::INTERNAL_ERROR, format!("Internal error: {reason}"))
    }

    /// -32000: too many requests in flight.
    pub fn overloaded() -> Self {
        Self::new(
            Self::SERVER_OVERLOADED,
            "Server overloaded: too many requests in flight; try again later",
        )
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)?;
        if let Some(data) = &self.data {
            write!(f, ": {}", data.get())?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorObject {}

impl PartialEq for ErrorObject {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
            && self.message == other.message
            && self.data.as_ref().map(|d| d.get()) == other.data.as_ref().map(|d| d.get())
    }
}
