//! An option method's params as a real target writes them back in
//! `framework_get_config`: every field, defaults included, in the order its
//! `write_config_json` writes them. SPDK's option setters read the current
//! options, decode the call over them and store the result, so a call
//! changes only the fields it names; the fields stay where they were, which
//! is why this keeps an ordered map rather than the call's own params.

use serde::Serialize;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone)]
pub struct Setting {
    method: &'static str,
    params: Map<String, Value>,
}

impl Setting {
    /// `method` with its default `params` (an object, in write order).
    pub fn new(method: &'static str, params: Value) -> Setting {
        let params = match params {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Setting { method, params }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.params.get(key)
    }

    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// Sets one field, which takes the place it has (or the end).
    pub fn set(&mut self, key: &str, value: Value) {
        self.params.insert(key.to_owned(), value);
    }

    /// Overwrites the fields `given` has (a typed params struct whose absent
    /// fields are not serialized); objects are merged field by field, as
    /// SPDK decodes them over the current values. Fields the target does not
    /// write back are left out.
    pub fn merge(&mut self, given: &impl Serialize) {
        if let Ok(Value::Object(given)) = serde_json::to_value(given) {
            merge_into(&mut self.params, given);
        }
    }

    /// The `{"method", "params"}` entry of a configuration.
    pub fn entry(&self) -> Value {
        json!({"method": self.method, "params": self.params})
    }
}

fn merge_into(kept: &mut Map<String, Value>, given: Map<String, Value>) {
    for (key, value) in given {
        let Some(slot) = kept.get_mut(&key) else {
            continue;
        };
        match (slot, value) {
            (Value::Object(inner), Value::Object(value)) => merge_into(inner, value),
            (slot, value) => *slot = value,
        }
    }
}

/// `names` in the order of `all` (SPDK keeps such lists as bit masks and
/// writes them bit by bit); names not in `all` are dropped.
pub fn in_order(names: &Value, all: &[&str]) -> Value {
    let given: Vec<&str> = names
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    json!(all
        .iter()
        .filter(|name| given.contains(name))
        .collect::<Vec<_>>())
}

/// The DH-HMAC-CHAP digests and Diffie-Hellman groups, in SPDK's bit order
/// (`lib/nvme/nvme_auth.c`); all of them are allowed by default, both by
/// the NVMe bdev module and by the NVMe-oF target.
pub const DHCHAP_DIGESTS: &[&str] = &["sha256", "sha384", "sha512"];
pub const DHCHAP_DHGROUPS: &[&str] = &[
    "null",
    "ffdhe2048",
    "ffdhe3072",
    "ffdhe4096",
    "ffdhe6144",
    "ffdhe8192",
];
