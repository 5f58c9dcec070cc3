//! JSON objects written in the key order SPDK writes them (serde_json's
//! maps sort their keys), for clients that compare replies byte by byte.

use jsonrpc_core::{ErrorObject, RawJson};
use serde::Serialize;

#[derive(Default)]
pub struct Obj(String);

impl Obj {
    pub fn new() -> Obj {
        Obj::default()
    }

    /// Adds `"key": value`; a value that does not serialize is `null`.
    pub fn field(self, key: &str, value: impl Serialize) -> Obj {
        let text = serde_json::to_string(&value).unwrap_or_else(|_| "null".into());
        self.raw(key, &text)
    }

    /// Adds `"key": text`, with `text` JSON already.
    pub fn raw(mut self, key: &str, text: &str) -> Obj {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0
            .push_str(&serde_json::to_string(key).unwrap_or_default());
        self.0.push(':');
        self.0.push_str(text);
        self
    }

    pub fn text(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }
}

/// A JSON array of texts that are JSON already, as a result.
pub fn array(items: impl IntoIterator<Item = String>) -> Result<RawJson, ErrorObject> {
    let items: Vec<String> = items.into_iter().collect();
    RawJson::parse(&format!("[{}]", items.join(",")))
        .map_err(|e| ErrorObject::new(ErrorObject::INTERNAL_ERROR, e.to_string()))
}
