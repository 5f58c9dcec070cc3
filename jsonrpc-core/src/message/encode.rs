//! Writing messages as JSON, in the dialect each one carries.
//!
//! 1.0 messages always have `params` (an empty array when there are none),
//! notifications carry `"id": null`, and successful replies `"error": null`;
//! error replies leave `result` out, as ovsdb-server does. 2.0 messages carry
//! `"jsonrpc": "2.0"` and leave out what they do not use.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use super::{Dialect, Id, Message, Notification, Request, Response};

impl Message {
    /// Appends this message's JSON text to `out`.
    ///
    /// ```
    /// use jsonrpc_core::{Dialect, Id, Message, Notification};
    /// let n = Message::Notification(Notification {
    ///     method: "echo".into(),
    ///     params: None,
    ///     dialect: Dialect::V1,
    /// });
    /// let mut out = Vec::new();
    /// n.write_json(&mut out).unwrap();
    /// assert_eq!(out, br#"{"id":null,"method":"echo","params":[]}"#);
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }

    /// Appends a batch (a JSON array of messages) to `out`.
    pub fn write_batch(messages: &[Message], out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, messages)
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Message::Request(r) => r.serialize(s),
            Message::Notification(n) => n.serialize(s),
            Message::Response(r) => r.serialize(s),
        }
    }
}

fn empty_array() -> &'static RawValue {
    // Safe by construction: the literal is valid JSON.
    serde_json::from_str("[]").expect("`[]` is valid JSON")
}

fn params_entry<M: SerializeMap>(
    map: &mut M,
    params: &Option<Box<RawValue>>,
    dialect: Dialect,
) -> Result<(), M::Error> {
    match (params, dialect) {
        (Some(p), _) => map.serialize_entry("params", p),
        (None, Dialect::V1) => map.serialize_entry("params", empty_array()),
        (None, Dialect::V2) => Ok(()),
    }
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if self.dialect == Dialect::V2 {
            map.serialize_entry("jsonrpc", "2.0")?;
        }
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("method", &self.method)?;
        params_entry(&mut map, &self.params, self.dialect)?;
        map.end()
    }
}

impl Serialize for Notification {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self.dialect {
            Dialect::V2 => map.serialize_entry("jsonrpc", "2.0")?,
            Dialect::V1 => map.serialize_entry("id", &Id::null())?,
        }
        map.serialize_entry("method", &self.method)?;
        params_entry(&mut map, &self.params, self.dialect)?;
        map.end()
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if self.dialect == Dialect::V2 {
            map.serialize_entry("jsonrpc", "2.0")?;
        }
        map.serialize_entry("id", &self.id)?;
        match (&self.outcome, self.dialect) {
            (Ok(result), Dialect::V2) => map.serialize_entry("result", result)?,
            (Ok(result), Dialect::V1) => {
                map.serialize_entry("result", result)?;
                map.serialize_entry("error", &())?;
            }
            (Err(error), _) => map.serialize_entry("error", error)?,
        }
        map.end()
    }
}
