//! ovsdb-client's JSON writer: keys sorted, reals as `%.15g`, its string
//! escapes and its `--pretty` layout.

use std::fmt::Write as _;

use serde_json::Value;

use super::cells::format_real;

/// `value` as Open vSwitch writes JSON: object keys sorted, reals as
/// `%.15g`, only `"`, `\` and control characters escaped, and with
/// `pretty`, members on lines of their own indented by two spaces per
/// level, each closing bracket right after the last member.
pub(crate) fn ovs_json(value: &Value, pretty: bool) -> String {
    let mut out = String::new();
    write_json(value, pretty, 0, &mut out);
    out
}

pub(crate) fn write_json(value: &Value, pretty: bool, depth: usize, out: &mut String) {
    let indent = |out: &mut String, depth: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&" ".repeat(2 * depth));
        }
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                out.push_str(&format_real(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            if !items.is_empty() {
                indent(out, depth + 1);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        indent(out, depth + 1);
                    }
                    write_json(item, pretty, depth + 1, out);
                }
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            indent(out, depth + 1);
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    indent(out, depth + 1);
                }
                write_json_string(key, out);
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                write_json(item, pretty, depth + 1, out);
            }
            out.push('}');
        }
    }
}

pub(crate) fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------
// Tables
