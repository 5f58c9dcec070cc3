//! Methods as types: one definition that clients and servers share.
//!
//! A [`Method`] names a call and fixes the types of its params, result and
//! error; a [`NotificationMethod`] does the same for a notification. A client
//! calls `peer.call::<Subtract>(params)` and a server registers
//! `router.method::<Subtract, _, _>(handler)`: both read the name and the shapes
//! from the same type, so they cannot disagree. [`api!`](crate::api!) declares
//! a whole protocol of them, both directions, with a trait for each side to
//! implement and a typed sender for each side to use.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::message::{params_shape, write_raw_params, Dialect, ParamsShape, RawParams};
use crate::ErrorObject;

/// A JSON-RPC method that expects a reply.
///
/// ```
/// use jsonrpc_core::{ErrorObject, Method};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SubtractParams { minuend: i64, subtrahend: i64 }
///
/// struct Subtract;
/// impl Method for Subtract {
///     const NAME: &'static str = "subtract";
///     type Params = SubtractParams;
///     type Result = i64;
///     type Error = ErrorObject;
/// }
/// ```
pub trait Method: Send + Sync + 'static {
    /// The method name on the wire.
    const NAME: &'static str;
    /// The params. A struct accepts both positional (`[42, 23]`) and named
    /// (`{"minuend": 42, ...}`) params; `()` means none.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// What a successful reply carries.
    type Result: Serialize + DeserializeOwned + Send + 'static;
    /// What an error reply carries ([`ErrorObject`] for JSON-RPC 2.0; any
    /// JSON shape for 1.0 protocols such as OVSDB).
    type Error: Serialize + DeserializeOwned + std::fmt::Debug + Send + 'static;
}

/// A JSON-RPC notification: a call that gets no reply.
pub trait NotificationMethod: Send + Sync + 'static {
    /// The method name on the wire.
    const NAME: &'static str;
    /// The params.
    type Params: Serialize + DeserializeOwned + Send + 'static;
}

/// Writes typed params into a message being written, after its head (see
/// [`write_raw_params`]). Params that serialize to `null` (such as `()`)
/// are left out (or sent as `[]` in JSON-RPC 1.0). They are serialized
/// straight into the message, not made a value of their own first.
///
/// JSON-RPC params are an array or an object (1.0: an array), so a type that
/// serializes to anything else is refused here, before it goes anywhere,
/// rather than by the peer after a round trip (or silently, for a
/// notification).
pub(crate) fn write_typed_params<P: Serialize>(
    params: &P,
    dialect: Dialect,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    write_params_with(dialect, out, |out| serde_json::to_writer(out, params))
}

/// Writes params that are JSON text already, with the same checks as
/// [`write_typed_params`].
pub(crate) fn write_params_text(
    json: &[u8],
    dialect: Dialect,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    write_params_with(dialect, out, |out| {
        out.extend_from_slice(json);
        Ok(())
    })
}

/// Writes `,"params":` and the value `write_value` appends, then leaves the
/// params out if they are `null`, or takes them back and refuses them if
/// they cannot be params in `dialect`.
fn write_params_with(
    dialect: Dialect,
    out: &mut Vec<u8>,
    write_value: impl FnOnce(&mut Vec<u8>) -> Result<(), serde_json::Error>,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    out.extend_from_slice(br#","params":"#);
    let value = out.len();
    let written = write_value(&mut *out)
        .and_then(|()| params_present(out.get(value..).unwrap_or_default(), dialect));
    match written {
        Ok(true) => Ok(()),
        Ok(false) => {
            out.truncate(start);
            write_raw_params(&None, dialect, out);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Whether serialized params (`json`) go in the message: `false` for `null`,
/// an error for what cannot be params in `dialect`.
fn params_present(json: &[u8], dialect: Dialect) -> Result<bool, serde_json::Error> {
    let shown = || String::from_utf8_lossy(json);
    match params_shape(json, dialect) {
        ParamsShape::Absent => Ok(false),
        ParamsShape::Fits => Ok(true),
        ParamsShape::NotArray => Err(serde::ser::Error::custom(format!(
            "JSON-RPC 1.0 params must be an array, not {}; use a tuple or a sequence",
            shown()
        ))),
        ParamsShape::NotArrayOrObject => Err(serde::ser::Error::custom(format!(
            "params must be an array or an object, not {}; wrap a single value in a tuple: `(value,)`",
            shown()
        ))),
    }
}

/// Deserializes typed params from what the peer sent.
///
/// Missing params read as `null`, so `()` and `Option<T>` accept them, or
/// else as `{}`, so a struct whose fields are all optional does too. Empty
/// params (`[]` or `{}`) that the type cannot take are read as missing too,
/// because 1.0 peers must always send an array and many 2.0 peers send `{}`.
pub(crate) fn decode_params<P: DeserializeOwned>(params: &RawParams) -> Result<P, ErrorObject> {
    let text = params.as_ref().map_or("null", |p| p.get());
    match serde_json::from_str(text) {
        Ok(p) => Ok(p),
        Err(e) => {
            let trimmed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let stand_ins: &[&str] = match trimmed.as_str() {
                "null" => &["{}"],
                "[]" | "{}" => &["null"],
                _ => &[],
            };
            stand_ins
                .iter()
                .find_map(|empty| serde_json::from_str(empty).ok())
                .ok_or_else(|| ErrorObject::invalid_params(e))
        }
    }
}

/// The -32603 error for a handler's result or error that serde could not
/// serialize (a map with non-string keys, a failing `Serialize`).
pub(crate) fn unserializable(e: serde_json::Error) -> ErrorObject {
    ErrorObject::internal_error(format!("the handler's reply could not be serialized: {e}"))
}

#[cfg(test)]
mod tests {
    use super::write_typed_params;
    use crate::Dialect;

    fn written(params: impl serde::Serialize, dialect: Dialect) -> Result<String, String> {
        let mut out = b"HEAD".to_vec();
        match write_typed_params(&params, dialect, &mut out) {
            Ok(()) => Ok(String::from_utf8(out).unwrap()),
            Err(e) => {
                assert_eq!(out, b"HEAD", "a refusal leaves the message as it was");
                Err(e.to_string())
            }
        }
    }

    #[test]
    fn missing_or_empty_params_read_as_whatever_empty_the_type_takes() {
        use super::decode_params;
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct AllOptional {
            name: Option<String>,
        }
        let empty_object = Some(crate::RawJson::from_value(&serde_json::json!({})).unwrap());
        assert_eq!(
            decode_params::<AllOptional>(&None).unwrap(),
            AllOptional { name: None }
        );
        assert_eq!(decode_params::<()>(&None).unwrap(), ());
        assert_eq!(decode_params::<()>(&empty_object).unwrap(), ());
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Required {
            name: String,
        }
        assert!(decode_params::<Required>(&None).is_err());
    }

    #[test]
    fn typed_params_go_in_as_the_dialect_wants_them() {
        assert_eq!(
            written((1, 2), Dialect::V2).unwrap(),
            r#"HEAD,"params":[1,2]"#
        );
        assert_eq!(written((), Dialect::V2).unwrap(), "HEAD");
        assert_eq!(written((), Dialect::V1).unwrap(), r#"HEAD,"params":[]"#);
        let named = serde_json::json!({"a": 1});
        assert_eq!(
            written(&named, Dialect::V2).unwrap(),
            r#"HEAD,"params":{"a":1}"#
        );
        assert!(written(&named, Dialect::V1).unwrap_err().contains("1.0"));
        assert!(written("text", Dialect::V2)
            .unwrap_err()
            .contains("(value,)"));
    }
}
