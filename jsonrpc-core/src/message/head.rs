//! What the first bytes of a message too large to read say about it.
//!
//! A frame over the size limit is skipped without being buffered, so it is
//! never parsed; but its first bytes usually name its id (every JSON-RPC
//! writer we know of puts `id` and `method` before `params` or `result`).
//! With that id, the call waiting for an oversized reply fails at once,
//! and the peer whose request was oversized gets an error it can match,
//! instead of both waiting for a timeout.

use serde_json::value::RawValue;

use super::Id;

/// What the head of an oversized message showed.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Head {
    /// Its id, if the head got that far.
    pub(crate) id: Option<Id>,
    /// It has a `method` member: a request (or notification), not a reply.
    pub(crate) has_method: bool,
}

/// Reads the top-level members of a JSON object from its first bytes, as
/// far as they go: the ones whose values end within `head`.
pub(crate) fn read_head(head: &[u8]) -> Head {
    let mut found = Head::default();
    let mut at = skip_ws(head, 0);
    if head.get(at) != Some(&b'{') {
        return found;
    }
    at += 1;
    loop {
        at = skip_ws(head, at);
        let Some(key_end) = string_end(head, at) else {
            return found;
        };
        let key = &head[at..key_end];
        at = skip_ws(head, key_end);
        if head.get(at) != Some(&b':') {
            return found;
        }
        at = skip_ws(head, at + 1);
        let Some(value_end) = value_end(head, at) else {
            return found;
        };
        match key {
            b"\"id\"" => {
                found.id = std::str::from_utf8(&head[at..value_end])
                    .ok()
                    .and_then(|text| serde_json::from_str::<&RawValue>(text).ok())
                    .and_then(|raw| Id::from_raw(raw).ok());
            }
            b"\"method\"" => found.has_method = true,
            _ => {}
        }
        at = skip_ws(head, value_end);
        match head.get(at) {
            Some(b',') => at += 1,
            _ => return found,
        }
    }
}

fn skip_ws(text: &[u8], mut at: usize) -> usize {
    while matches!(text.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// The end (one past the closing quote) of the string starting at `at`.
fn string_end(text: &[u8], at: usize) -> Option<usize> {
    if text.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    while let Some(&b) = text.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The end of the value starting at `at`, if it ends within `text`.
fn value_end(text: &[u8], at: usize) -> Option<usize> {
    match text.get(at)? {
        b'"' => string_end(text, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&b) = text.get(i) {
                match b {
                    b'"' => {
                        i = string_end(text, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            // A number or a literal: it ends at the next delimiter, which
            // must be within `text` (else it may go on).
            let len = text[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))?;
            Some(at + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> (Option<String>, bool) {
        let h = read_head(text.as_bytes());
        (h.id.map(|id| id.to_string()), h.has_method)
    }

    #[test]
    fn reads_the_id_and_method_that_come_before_the_bulk() {
        assert_eq!(
            head(r#"{"jsonrpc":"2.0","id":7,"result":["xxxxxxxx"#),
            (Some("7".into()), false)
        );
        assert_eq!(
            head(r#"{"id":"a\"b","method":"transact","params":[{"op":"ins"#),
            (Some(r#""a\"b""#.into()), true)
        );
        assert_eq!(
            head(r#" { "method" : "x" , "id" : null , "params" : {"#),
            (Some("null".into()), true)
        );
        // Members before the id are skipped, nested ones included.
        assert_eq!(
            head(r#"{"a":{"b":[1,"}"]},"id":3,"params":"#),
            (Some("3".into()), false)
        );
    }

    #[test]
    fn says_nothing_it_did_not_see_whole() {
        // The id is cut off: it might go on.
        assert_eq!(head(r#"{"id":12"#), (None, false));
        // The id comes after the bulk.
        assert_eq!(head(r#"{"params":["xxxxxxxxxx"#), (None, false));
        assert_eq!(head("[1,2"), (None, false));
        assert_eq!(head(""), (None, false));
        assert_eq!(head(r#"{"id":[1]"#), (None, false), "not a valid id");
    }
}
