//! Writing messages as JSON, in the dialect each one carries.
//!
//! 1.0 messages always have `params` (an empty array when there are none),
//! notifications carry `"id": null`, and successful replies `"error": null`;
//! error replies leave `result` out, as ovsdb-server does. 2.0 messages carry
//! `"jsonrpc": "2.0"` and leave out what they do not use.
//!
//! Messages are written by hand rather than through serde: every part but the
//! method name is JSON text already (ids and raw values keep their exact
//! text), so a message is a few byte copies. Going through a serializer cost
//! more than the rest of a reply's trip through the connection, most of it
//! escaping member names that need none.

use super::{Dialect, Id, Message, Notification, RawParams, Request, Response};

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
    /// n.write_json(&mut out);
    /// assert_eq!(out, br#"{"id":null,"method":"echo","params":[]}"#);
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_json(out),
            Message::Notification(n) => n.write_json(out),
            Message::Response(r) => r.write_json(out),
        }
    }

    /// Appends a batch (a JSON array of messages) to `out`.
    pub fn write_batch(messages: &[Message], out: &mut Vec<u8>) {
        write_array(messages, out, Message::write_json);
    }
}

impl Request {
    /// Appends this request's JSON text to `out`.
    ///
    /// ```
    /// use jsonrpc_core::{Dialect, Request};
    /// let req = Request::new(7u64, "add", jsonrpc_core::RawJson::from_value(&[1, 2]).ok(), Dialect::V2);
    /// let mut out = Vec::new();
    /// req.write_json(&mut out);
    /// assert_eq!(out, br#"{"jsonrpc":"2.0","id":7,"method":"add","params":[1,2]}"#);
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_request_head(&self.id, &self.method, self.dialect, out);
        write_raw_params(&self.params, self.dialect, out);
        out.push(b'}');
    }
}

impl Notification {
    /// Appends this notification's JSON text to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_notification_head(&self.method, self.dialect, out);
        write_raw_params(&self.params, self.dialect, out);
        out.push(b'}');
    }
}

// A request or notification is written as its head, its params and a
// closing `}`, so that our own calls can write theirs from borrowed parts
// and serialize typed params straight into the message
// (see `method::write_typed_params`).

/// Writes a request up to its params: `{"jsonrpc":"2.0","id":..,"method":..`.
pub(crate) fn write_request_head(id: &Id, method: &str, dialect: Dialect, out: &mut Vec<u8>) {
    write_open_with_id(id, dialect, out);
    write_method(method, out);
}

/// Writes `{"jsonrpc":"2.0","id":..`, as requests and replies begin.
fn write_open_with_id(id: &Id, dialect: Dialect, out: &mut Vec<u8>) {
    out.push(b'{');
    if dialect == Dialect::V2 {
        out.extend_from_slice(br#""jsonrpc":"2.0","#);
    }
    out.extend_from_slice(br#""id":"#);
    id.write_json(out);
}

/// Writes a notification up to its params.
pub(crate) fn write_notification_head(method: &str, dialect: Dialect, out: &mut Vec<u8>) {
    out.extend_from_slice(match dialect {
        Dialect::V2 => br#"{"jsonrpc":"2.0""#,
        Dialect::V1 => br#"{"id":null"#,
    });
    write_method(method, out);
}

/// Writes `,"params":..`, or what a message without params has instead.
pub(crate) fn write_raw_params(params: &RawParams, dialect: Dialect, out: &mut Vec<u8>) {
    match (params, dialect) {
        (Some(p), _) => write_member(b"params", p.as_bytes(), out),
        (None, Dialect::V1) => out.extend_from_slice(br#","params":[]"#),
        (None, Dialect::V2) => {}
    }
}

impl Response {
    /// Appends this reply's JSON text to `out`.
    ///
    /// ```
    /// use jsonrpc_core::{Dialect, Response};
    /// let ok = Response::ok(3u64.into(), jsonrpc_core::RawJson::from_value(&5).unwrap(), Dialect::V1);
    /// let mut out = Vec::new();
    /// ok.write_json(&mut out);
    /// assert_eq!(out, br#"{"id":3,"result":5,"error":null}"#);
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match &self.outcome {
            Ok(result) => {
                write_result_head(&self.id, self.dialect, out);
                out.extend_from_slice(result.as_bytes());
                write_result_tail(self.dialect, out);
            }
            Err(error) => write_error_reply(&self.id, self.dialect, error.as_bytes(), out),
        }
    }

    /// Appends replies as one JSON array (a batch's answer) to `out`.
    pub fn write_batch(responses: &[Response], out: &mut Vec<u8>) {
        write_array(responses, out, Response::write_json);
    }
}

// A successful reply is written as its head, its result and its tail, so
// that a handler's typed result can be serialized straight into the reply
// (see `router::Handling`).

/// Writes a successful reply up to its result: `{"jsonrpc":"2.0","id":..,"result":`.
pub(crate) fn write_result_head(id: &Id, dialect: Dialect, out: &mut Vec<u8>) {
    write_open_with_id(id, dialect, out);
    out.extend_from_slice(br#","result":"#);
}

/// Writes what follows a successful reply's result.
pub(crate) fn write_result_tail(dialect: Dialect, out: &mut Vec<u8>) {
    out.extend_from_slice(match dialect {
        Dialect::V2 => b"}",
        Dialect::V1 => br#","error":null}"#,
    });
}

/// Writes an error reply.
pub(crate) fn write_error_reply(id: &Id, dialect: Dialect, error: &[u8], out: &mut Vec<u8>) {
    write_open_with_id(id, dialect, out);
    write_member(b"error", error, out);
    out.push(b'}');
}

fn write_method(method: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(br#","method":"#);
    write_string(method, out);
}

/// Writes `,"name":value` (`name` needs no escaping).
fn write_member(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
    out.extend_from_slice(value);
}

/// Writes `items` as a JSON array, each one with `write`.
pub(crate) fn write_array<I: IntoIterator>(
    items: I,
    out: &mut Vec<u8>,
    mut write: impl FnMut(I::Item, &mut Vec<u8>),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(item, out);
    }
    out.push(b']');
}

/// Writes `s` as a JSON string.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => br#"\""#,
            b'\\' => br"\\",
            b'\n' => br"\n",
            b'\r' => br"\r",
            b'\t' => br"\t",
            b'\x08' => br"\b",
            b'\x0c' => br"\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::write_string;

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        for s in [
            "plain",
            "",
            "quote \" back \\ slash",
            "\n\r\t\u{1}\u{8}\u{c}\u{1f} ünï €",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            write_string(s, &mut out);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}
