//! Text as SPDK's `rpc.py` (the `spdk-rpc` command) prints it, for tools
//! whose output scripts compare with `rpc.py`'s.
//!
//! `rpc.py` prints results with Python's `json.dumps(value, indent=2)`:
//! keys in the order the target sent them, two spaces per level, `", "`
//! nowhere (a line ends after each comma), `": "` after keys, empty
//! containers as `[]` and `{}`, and every character outside printable
//! ASCII escaped (`\u00e9`, surrogate pairs above U+FFFF). [`dumps`] writes
//! exactly that from a JSON text. Each `rpc.py` command then prints its
//! result one of three ways: [`print_json`] (a string without its quotes),
//! `print_dict` (just [`dumps`]) or [`print_array`] (shell-quoted words).
//! Numbers are kept as the target wrote them.

use std::fmt::Write as _;

/// `json.dumps(value, indent=2)` of the JSON text `json`, keeping its key
/// order. Fails if `json` is not one JSON value.
///
/// ```
/// let text = spdk_proto::rpc_py::dumps(r#"{"b":[1,{}],"a":"é","c":[]}"#).unwrap();
/// assert_eq!(text, "{\n  \"b\": [\n    1,\n    {}\n  ],\n  \"a\": \"\\u00e9\",\n  \"c\": []\n}");
/// ```
pub fn dumps(json: &str) -> Result<String, serde_json::Error> {
    // Checked whole first, so the walk below sees valid JSON only.
    let _: &serde_json::value::RawValue = serde_json::from_str(json)?;
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let mut rest = json.trim();
    while let Some(c) = rest.chars().next() {
        match c {
            '"' => {
                let len = string_len(rest);
                let text: String = serde_json::from_str(&rest[..len])?;
                write_string(&mut out, &text);
                rest = &rest[len..];
                continue;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let after = rest[1..].trim_start();
                if after.starts_with(close) {
                    out.push(c);
                    out.push(close);
                    rest = &after[1..];
                    continue;
                }
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// What `rpc.py`'s `print_json` prints for a result: [`dumps`] with the
/// quotes around a string taken off (`Malloc0`, not `"Malloc0"`), and a
/// newline.
pub fn print_json(json: &str) -> Result<String, serde_json::Error> {
    let text = dumps(json)?;
    Ok(format!("{}\n", text.trim_matches('"')))
}

/// What `rpc.py`'s `print_dict` prints for a result: [`dumps`] and a
/// newline.
pub fn print_dict(json: &str) -> Result<String, serde_json::Error> {
    Ok(format!("{}\n", dumps(json)?))
}

/// What `rpc.py`'s `print_array` prints for a list of strings: each
/// shell-quoted as Python's `shlex.quote` does, joined by spaces.
pub fn print_array(words: &[String]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
    format!("{}\n", quoted.join(" "))
}

/// Python's `shlex.quote`.
///
/// ```
/// use spdk_proto::rpc_py::shell_quote;
/// assert_eq!(shell_quote("Malloc0p1"), "Malloc0p1");
/// assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
/// assert_eq!(shell_quote(""), "''");
/// ```
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_alphanumeric() || c == '_' || "@%+=:,./-".contains(c);
    if word.is_empty() {
        "''".to_owned()
    } else if word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r#"'"'"'"#))
    }
}

/// The message `rpc.py` prints when a call gets an error reply: the
/// request's params with `method` and `req_id` added, then the error
/// object. `params` is the JSON object sent (or `None`); `error` the error
/// object received.
///
/// ```
/// let text = spdk_proto::rpc_py::error_message(
///     "bdev_get_bdevs", Some(r#"{"name":"nope"}"#), 1, r#"{"code":-19,"message":"No such device"}"#,
/// ).unwrap();
/// assert!(text.starts_with("request:\n{\n  \"name\": \"nope\",\n  \"method\": \"bdev_get_bdevs\",\n  \"req_id\": 1\n}\n"));
/// assert!(text.ends_with("response:\n{\n  \"code\": -19,\n  \"message\": \"No such device\"\n}"));
/// ```
pub fn error_message(
    method: &str,
    params: Option<&str>,
    req_id: u64,
    error: &str,
) -> Result<String, serde_json::Error> {
    let mut request = params
        .map(str::trim)
        .filter(|p| p.starts_with('{'))
        .map_or_else(|| "{".to_owned(), |p| p[..p.len() - 1].to_owned());
    if request.trim_end() != "{" {
        request.push(',');
    }
    request.push_str(&format!(
        "\"method\":{},\"req_id\":{req_id}}}",
        serde_json::to_string(method)?
    ));
    Ok(format!(
        "request:\n{}\nGot JSON-RPC error response\nresponse:\n{}",
        dumps(&request)?,
        dumps(error)?
    ))
}

/// The length in bytes of the JSON string token `s` starts with.
fn string_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// A string as Python's `json.dumps` writes it (`ensure_ascii`).
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_python_escapes_them() {
        let json = r#"["a\/b", "\u0041", "tab\t", "\u007f", "😀", "ü"]"#;
        assert_eq!(
            dumps(json).unwrap(),
            "[\n  \"a/b\",\n  \"A\",\n  \"tab\\t\",\n  \"\\u007f\",\n  \"\\ud83d\\ude00\",\n  \"\\u00fc\"\n]"
        );
        assert_eq!(print_json(r#""Malloc0""#).unwrap(), "Malloc0\n");
        assert_eq!(print_json("true").unwrap(), "true\n");
        assert_eq!(
            print_array(&["a b".into(), "c".into()]),
            "'a b' c\n".to_owned()
        );
        assert!(dumps("{").is_err());
    }

    #[test]
    fn an_error_without_params_names_the_method() {
        let text = error_message("x", None, 3, r#"{"code":-1,"message":"m"}"#).unwrap();
        assert!(text.starts_with("request:\n{\n  \"method\": \"x\",\n  \"req_id\": 3\n}\n"));
        let text = error_message("x", Some("{}"), 3, r#"{"code":-1,"message":"m"}"#).unwrap();
        assert!(text.starts_with("request:\n{\n  \"method\": \"x\",\n  \"req_id\": 3\n}\n"));
    }
}
