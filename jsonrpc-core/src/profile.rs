//! A protocol's wire rules in one value.
//!
//! JSON-RPC's specification leaves room, and the protocols people run fill
//! it differently: what a `null` id means, whether a failed notification is
//! answered, which id the error for an invalid request carries, whether
//! malformed input is answered or ends the connection, and how the errors
//! the framework itself raises (-32700, -32600, -32601, -32602, ...) are
//! worded. A [`Profile`] holds all of them; a connection takes one
//! ([`PeerConfig::profile`](crate::PeerConfig::profile)), and so does a
//! server (`jsonrpc_transport::Server::profile`); a router serves each
//! call under its connection's profile, or under the one a detached call
//! is given ([`RequestContext::profile`](crate::RequestContext::profile)). Three ship here:
//! [`Profile::json_rpc_2`] (the default), [`Profile::ovsdb`] and
//! [`Profile::spdk`], each checked against what the real servers do.
//!
//! Errors a handler returns are sent as the handler made them; only the
//! framework's own are worded by the profile.

use std::borrow::Cow;

use crate::message::{to_raw, Dialect, DialectMode, RawJson};
use crate::ErrorObject;

/// How the errors the framework raises are written on the wire: from the
/// error (its code, and a message saying what was wrong) and the dialect of
/// the message being answered.
pub type ErrorFormat = fn(&ErrorObject, Dialect) -> RawJson;

/// What a request with `"id": null` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullId {
    /// A request like any other, answered with `"id": null` (JSON-RPC 2.0's
    /// specification: the id may be null, though it discourages it).
    Request,
    /// A notification (SPDK; JSON-RPC 1.0, where it is the only way to
    /// write one).
    Notification,
}

/// What happens on input that cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    /// Answer it with an error, and read on.
    Answer,
    /// Close the connection without a reply (OVSDB; SPDK on malformed JSON).
    Close,
}

/// Which id the error for an invalid request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorId {
    /// The request's own id, when it could be read (the caller learns at
    /// once which of its calls failed); `null` otherwise.
    Request,
    /// Always `null` (SPDK).
    Null,
}

/// A protocol's wire rules (see [the module](self)).
///
/// ```
/// use jsonrpc_core::{DialectMode, OnInvalid, PeerConfig, Profile};
/// // SPDK's rules, as the real target applies them.
/// let config = PeerConfig::default().profile(Profile::spdk());
/// // Or the 2.0 rules, with malformed input closing the connection.
/// let strict = Profile::json_rpc_2().on_parse_error(OnInvalid::Close);
/// assert_eq!(strict.get_dialect(), DialectMode::V2);
/// ```
#[derive(Debug, Clone)]
pub struct Profile {
    name: Cow<'static, str>,
    dialect: DialectMode,
    reject_unknown_members: bool,
    batches: bool,
    null_id: NullId,
    run_methods_as_notifications: bool,
    answer_failed_notifications: bool,
    on_invalid_request: OnInvalid,
    invalid_request_id: ErrorId,
    on_parse_error: OnInvalid,
    wording: ErrorFormat,
}

impl Default for Profile {
    fn default() -> Self {
        Self::json_rpc_2()
    }
}

impl Profile {
    /// JSON-RPC 2.0 as its specification says: 2.0 messages only; a `null`
    /// id is a request's; notifications are never answered, not even when
    /// they fail; an invalid request is answered -32600 with its id if it
    /// could be read; malformed JSON is answered -32700 with id `null` and
    /// reading goes on. Errors are worded as the specification names them,
    /// with what was wrong. The default.
    pub fn json_rpc_2() -> Self {
        Profile {
            name: Cow::Borrowed("json-rpc-2.0"),
            dialect: DialectMode::V2,
            reject_unknown_members: false,
            batches: true,
            null_id: NullId::Request,
            run_methods_as_notifications: true,
            answer_failed_notifications: false,
            on_invalid_request: OnInvalid::Answer,
            invalid_request_id: ErrorId::Request,
            on_parse_error: OnInvalid::Answer,
            wording: standard_wording,
        }
    }

    /// OVSDB (RFC 7047 as ovsdb-server speaks it): JSON-RPC 1.0; `"id":
    /// null` is a notification, and a method called that way is not run;
    /// unknown top-level members, malformed JSON, batches and invalid
    /// requests close the connection without a reply; an unknown method is answered with
    /// the bare string `"unknown method"` (clients fall back from
    /// `monitor_cond_since` on exactly that), other errors as OVSDB's
    /// `{"error": ..., "details": ...}` objects.
    pub fn ovsdb() -> Self {
        Profile {
            name: Cow::Borrowed("ovsdb"),
            dialect: DialectMode::V1,
            reject_unknown_members: true,
            batches: false,
            null_id: NullId::Notification,
            run_methods_as_notifications: false,
            answer_failed_notifications: false,
            on_invalid_request: OnInvalid::Close,
            invalid_request_id: ErrorId::Request,
            on_parse_error: OnInvalid::Close,
            wording: ovsdb_wording,
        }
    }

    /// SPDK (a target's RPC server, v26.09): JSON-RPC 2.0 with its own
    /// rules: a `null` id is a notification, whose method still runs; a
    /// failed notification is answered with its error and id `null`; an
    /// invalid request (unknown top-level members, `"jsonrpc": "1.0"`, a
    /// boolean id, string params) is answered -32600 with id `null`;
    /// malformed JSON closes the connection without a reply. The
    /// framework's errors carry SPDK's fixed texts ("Method not found",
    /// "Invalid parameters", ...).
    pub fn spdk() -> Self {
        Profile {
            name: Cow::Borrowed("spdk"),
            dialect: DialectMode::V2,
            reject_unknown_members: true,
            batches: true,
            null_id: NullId::Notification,
            run_methods_as_notifications: true,
            answer_failed_notifications: true,
            on_invalid_request: OnInvalid::Answer,
            invalid_request_id: ErrorId::Null,
            on_parse_error: OnInvalid::Close,
            wording: spdk_wording,
        }
    }
}

builder_fields! { Profile {
    /// A name for logs (`"json-rpc-2.0"`, `"ovsdb"`, `"spdk"`).
    name / get_name: Cow<'static, str>;
    /// Which dialects are accepted, and which our calls use.
    dialect / get_dialect: DialectMode;
    /// Treat unknown top-level members as an invalid message.
    reject_unknown_members / get_reject_unknown_members: bool;
    /// Whether an array of messages is a batch (JSON-RPC 2.0), or an
    /// invalid request (1.0, which has no batches; OVSDB).
    batches / get_batches: bool;
    /// What a request with `"id": null` is.
    null_id / get_null_id: NullId;
    /// Whether a method called as a notification runs (its result dropped,
    /// as JSON-RPC 2.0 says) or is ignored (OVSDB).
    run_methods_as_notifications / get_run_methods_as_notifications: bool;
    /// Whether a notification that fails (unknown method, bad params, a
    /// handler's error) is answered with its error and id `null` (SPDK).
    answer_failed_notifications / get_answer_failed_notifications: bool;
    /// What an invalid request (JSON, but not a valid message) gets.
    on_invalid_request / get_on_invalid_request: OnInvalid;
    /// Which id an invalid request's error carries.
    invalid_request_id / get_invalid_request_id: ErrorId;
    /// What malformed JSON gets. Answering it and reading on relies on the
    /// framing to find where the bad text ends.
    on_parse_error / get_on_parse_error: OnInvalid;
    /// How the framework's own errors are written (see [`ErrorFormat`]).
    wording / get_wording: ErrorFormat;
}}

impl Profile {
    /// Writes one of the framework's errors as this protocol does.
    pub fn word(&self, error: &ErrorObject, dialect: Dialect) -> RawJson {
        (self.wording)(error, dialect)
    }
}

/// The error object as it is: a code and a message saying what was wrong.
pub fn standard_wording(error: &ErrorObject, _: Dialect) -> RawJson {
    to_raw(error)
}

/// SPDK's fixed texts for the standard codes (what `spdk_jsonrpc` sends);
/// other codes keep their message.
pub fn spdk_wording(error: &ErrorObject, _: Dialect) -> RawJson {
    let message = match error.code {
        ErrorObject::PARSE_ERROR => "Parse error",
        ErrorObject::INVALID_REQUEST => "Invalid request",
        ErrorObject::METHOD_NOT_FOUND => "Method not found",
        ErrorObject::INVALID_PARAMS => "Invalid parameters",
        ErrorObject::INTERNAL_ERROR => "Internal error",
        _ => return to_raw(&ErrorObject::new(error.code, error.message.clone())),
    };
    to_raw(&ErrorObject::new(error.code, message))
}

/// ovsdb-server's errors: the bare string `"unknown method"` for an
/// unknown method; otherwise an object with OVSDB's `error` (a short,
/// fixed string clients match on) and `details` (what was wrong).
pub fn ovsdb_wording(error: &ErrorObject, _: Dialect) -> RawJson {
    let kind = match error.code {
        ErrorObject::METHOD_NOT_FOUND => return to_raw("unknown method"),
        ErrorObject::INVALID_PARAMS | ErrorObject::INVALID_REQUEST | ErrorObject::PARSE_ERROR => {
            "syntax error"
        }
        ErrorObject::SERVER_OVERLOADED => "resources exhausted",
        _ => "internal error",
    };
    to_raw(&serde_json::json!({ "error": kind, "details": error.message }))
}
