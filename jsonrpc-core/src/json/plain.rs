//! The strict walker: where a *plain* value ends, checked as strictly as
//! serde_json checks it, for the message parser to read most params and
//! results without handing them to serde_json.
//!
//! A plain value is built only of plain strings (printable ASCII, no
//! escapes: see [`plain_string_end`]), integers, `true`, `false`, `null`,
//! and arrays and objects of them nested at most [`PLAIN_DEPTH`] deep.
//! Anything else is "not plain" (`None`), which is not an error: the
//! caller hands the value to serde_json, which reads it or finds its fault.

use super::nesting::Nesting;
use super::string::plain_string_end;
use super::whitespace_end;

/// How deep [`plain_value_end`] reads nested arrays and objects; deeper
/// ones go to serde_json, whose raw values have no depth limit (it skips
/// them without recursing).
pub(crate) const PLAIN_DEPTH: usize = 16;

/// Where the plain value starting at `at` ends, if one starts there. One
/// loop over a bit stack of open containers rather than a call per value:
/// params are mostly a few short values, where calls would cost more than
/// the reading.
#[inline]
pub(crate) fn plain_value_end(text: &[u8], mut at: usize) -> Option<usize> {
    let mut nesting = Nesting::<0>::new();
    loop {
        // A value starts at `at`.
        at = match *text.get(at)? {
            b'"' => plain_string_end(text, at)?,
            b'-' | b'0'..=b'9' => integer_end(text, at)?,
            b't' => literal_end(text, at, b"true")?,
            b'f' => literal_end(text, at, b"false")?,
            b'n' => literal_end(text, at, b"null")?,
            open @ (b'[' | b'{') => {
                let is_object = open == b'{';
                let close = if is_object { b'}' } else { b']' };
                let inner = whitespace_end(text, at + 1);
                if text.get(inner) == Some(&close) {
                    inner + 1
                } else if nesting.depth() == PLAIN_DEPTH {
                    return None;
                } else {
                    nesting.push(is_object);
                    at = if is_object {
                        member_value_start(text, inner)?
                    } else {
                        inner
                    };
                    continue;
                }
            }
            _ => return None,
        };
        // After a value: close the containers it ends, until another
        // value follows.
        loop {
            if nesting.depth() == 0 {
                return Some(at);
            }
            at = whitespace_end(text, at);
            let in_object = nesting.in_object();
            match *text.get(at)? {
                b',' => {
                    let next = whitespace_end(text, at + 1);
                    at = if in_object {
                        member_value_start(text, next)?
                    } else {
                        next
                    };
                    break;
                }
                b']' if !in_object => {}
                b'}' if in_object => {}
                _ => return None,
            }
            at += 1;
            nesting.pop();
        }
    }
}

/// Where the value of the object member whose plain name starts at `at`
/// starts (past the name, the colon and whitespace).
#[inline]
fn member_value_start(text: &[u8], at: usize) -> Option<usize> {
    let colon = whitespace_end(text, plain_string_end(text, at)?);
    (text.get(colon) == Some(&b':')).then(|| whitespace_end(text, colon + 1))
}

/// Where the integer at `at` ends, if it is written as JSON writes one:
/// `-?(0|[1-9][0-9]*)`, with no fraction or exponent after it (those are
/// left to serde_json).
#[inline]
pub(crate) fn integer_end(text: &[u8], at: usize) -> Option<usize> {
    let first = at + usize::from(text.get(at) == Some(&b'-'));
    let mut end = first;
    while text.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let canonical = match text.get(first) {
        Some(b'0') => end == first + 1,
        _ => end > first,
    };
    (canonical && !matches!(text.get(end), Some(b'.' | b'e' | b'E'))).then_some(end)
}

#[inline]
fn literal_end(text: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    text.get(at..)?.starts_with(word).then_some(at + word.len())
}
