//! JSON-RPC messages: requests, notifications, responses and batches, in both dialects.
//!
//! Params, results and errors stay raw JSON ([`RawJson`]) here: the bytes are
//! checked once by the parser and deserialized into the handler's own types only
//! where they are used, with no `serde_json::Value` in between. A received
//! message's method name and values share the buffer it was read into.
//!
//! [`MessageParser`] turns a frame into [`Incoming`] (validating it against the
//! connection's [`DialectMode`]); [`Message::write_json`] writes a message back.

mod dialect;
mod encode;
mod error;
mod head;
mod id;
mod name;
mod parse;
mod raw;
mod walk;

pub use dialect::{Dialect, DialectMode};
pub use error::ErrorObject;
pub use id::{Id, InvalidId};
pub use name::MethodName;
pub use parse::MessageParser;
pub use raw::RawJson;

pub(crate) use encode::{
    write_array, write_error_reply, write_notification_head, write_raw_params, write_request_head,
    write_result_head, write_result_tail,
};
pub(crate) use head::read_head;
pub(crate) use id::null_raw;

/// Raw JSON params: `None` when the message had none.
pub type RawParams = Option<RawJson>;

/// What JSON-RPC makes of a `params` value, by its JSON text, in a dialect:
/// the one rule for the params we read and the params we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamsShape {
    /// `null`: no params.
    Absent,
    /// An array, or in 2.0 an object.
    Fits,
    /// Anything else, in 1.0 (which wants an array).
    NotArray,
    /// Anything else, in 2.0 (which wants an array or an object).
    NotArrayOrObject,
}

pub(crate) fn params_shape(json: &[u8], dialect: Dialect) -> ParamsShape {
    match (json.first(), dialect) {
        (Some(b'['), _) | (Some(b'{'), Dialect::V2) => ParamsShape::Fits,
        (Some(b'n'), _) => ParamsShape::Absent,
        (_, Dialect::V1) => ParamsShape::NotArray,
        (_, Dialect::V2) => ParamsShape::NotArrayOrObject,
    }
}

/// A call that expects a reply.
#[derive(Debug, Clone)]
pub struct Request {
    /// The id the reply must carry.
    pub id: Id,
    /// The method name.
    pub method: MethodName,
    /// The params, as raw JSON.
    pub params: RawParams,
    /// The dialect the request was written in; its reply uses the same.
    pub dialect: Dialect,
}

/// A call that expects no reply.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The method name.
    pub method: MethodName,
    /// The params, as raw JSON.
    pub params: RawParams,
    /// The dialect the notification was written in.
    pub dialect: Dialect,
}

/// The reply to a [`Request`].
#[derive(Debug, Clone)]
pub struct Response {
    /// The id of the request this answers.
    pub id: Id,
    /// The result, or the error (any JSON value; an [`ErrorObject`] in 2.0).
    pub outcome: Result<RawJson, RawJson>,
    /// The dialect of the request this answers.
    pub dialect: Dialect,
}

/// One JSON-RPC message.
#[derive(Debug, Clone)]
pub enum Message {
    /// A call that expects a reply.
    Request(Request),
    /// A call that expects no reply.
    Notification(Notification),
    /// A reply.
    Response(Response),
}

/// Why a message could not be used, and how to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidKind {
    /// The text is not JSON: answered with -32700.
    Parse,
    /// JSON, but not a valid request or notification: answered with -32600.
    Request,
    /// Shaped like a response but not a valid one: never answered (a reply to a
    /// reply could bounce between two peers forever), only reported.
    Response,
}

/// A message that failed validation.
#[derive(Debug, Clone)]
pub struct Invalid {
    /// The id it carried, if one could be read; `null` otherwise.
    pub id: Id,
    /// The dialect to answer in.
    pub dialect: Dialect,
    /// What kind of failure.
    pub kind: InvalidKind,
    /// What was wrong, in words.
    pub reason: String,
}

impl Invalid {
    /// The error to answer with, or `None` when it must not be answered.
    pub fn error(&self) -> Option<ErrorObject> {
        match self.kind {
            InvalidKind::Parse => Some(ErrorObject::parse_error(&self.reason)),
            InvalidKind::Request => Some(ErrorObject::invalid_request(&self.reason)),
            InvalidKind::Response => None,
        }
    }
}

/// One decoded JSON text: a single message, or a batch.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A single message (or why it is invalid).
    Single(Result<Message, Invalid>),
    /// A non-empty batch; each entry valid or not on its own.
    Batch(Vec<Result<Message, Invalid>>),
}

impl Request {
    /// A request with params serialized from `params` (`None` params if it
    /// serializes to `null`).
    pub fn new(
        id: impl Into<Id>,
        method: impl Into<MethodName>,
        params: RawParams,
        dialect: Dialect,
    ) -> Self {
        Request {
            id: id.into(),
            method: method.into(),
            params,
            dialect,
        }
    }
}

impl Response {
    /// A successful reply.
    pub fn ok(id: Id, result: impl Into<RawJson>, dialect: Dialect) -> Self {
        Response {
            id,
            outcome: Ok(result.into()),
            dialect,
        }
    }

    /// An error reply carrying any JSON error value.
    pub fn err(id: Id, error: impl Into<RawJson>, dialect: Dialect) -> Self {
        Response {
            id,
            outcome: Err(error.into()),
            dialect,
        }
    }

    /// An error reply carrying a 2.0 error object.
    pub fn error_object(id: Id, error: &ErrorObject, dialect: Dialect) -> Self {
        Self::err(id, to_raw(error), dialect)
    }
}

/// Serializes `value` to raw JSON; a value that cannot be serialized becomes
/// `null` (our own error objects and ids always serialize).
pub(crate) fn to_raw<T: serde::Serialize + ?Sized>(value: &T) -> RawJson {
    RawJson::from_value(value).unwrap_or(RawJson::null())
}
