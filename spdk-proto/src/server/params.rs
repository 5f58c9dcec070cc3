//! Params read the way an SPDK target reads them.
//!
//! SPDK's decoder takes named params only, refuses unknown and duplicate
//! keys, missing required fields, a wrong type and a number sent as a
//! string; a method that takes no params refuses any, even `{}`. The
//! generated params types refuse all of those through serde (they deny
//! unknown fields, and serde's derive refuses a duplicate field); what is
//! left here is what serde would let through: positional params, and
//! `{}` or `null` meaning "none".

use std::any::TypeId;

use jsonrpc_core::{ErrorObject, RawParams};
use serde::de::DeserializeOwned;

/// The error SPDK sends when the params do not decode.
pub const DECODE_FAILED: &str = "spdk_json_decode_object failed";

/// Reads `params` for `method` as `P`, or gives the error SPDK sends.
///
/// ```
/// use jsonrpc_core::RawJson;
/// use spdk_proto::server::decode_params;
///
/// let empty = Some(RawJson::from_value(&serde_json::json!({})).unwrap());
/// let none: Result<(), _> = decode_params("spdk_get_version", &empty);
/// let e = none.unwrap_err();
/// assert_eq!((e.code, e.message.as_str()), (-32602, "spdk_get_version method requires no parameters"));
/// ```
pub fn decode_params<P: DeserializeOwned + 'static>(
    method: &str,
    params: &RawParams,
) -> Result<P, ErrorObject> {
    let takes_none = TypeId::of::<P>() == TypeId::of::<()>();
    match params {
        Some(_) if takes_none => Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            format!("{method} method requires no parameters"),
        )),
        None if takes_none => serde_json::from_str("null").map_err(|_| decode_failed()),
        // No params: what an empty object gives (a type whose fields are all
        // optional), else a missing required field.
        None => serde_json::from_str("{}").map_err(|_| decode_failed()),
        Some(raw) if raw.get().trim_start().starts_with('{') => {
            serde_json::from_str(raw.get()).map_err(|_| decode_failed())
        }
        Some(_) => Err(decode_failed()),
    }
}

fn decode_failed() -> ErrorObject {
    ErrorObject::new(ErrorObject::INTERNAL_ERROR, DECODE_FAILED)
}
