//! Scanning JSON text, shared by the framings and the message parser:
//! whitespace, the word-at-a-time string scanner, and structural walking
//! (where a value ends, which bracket closes which).
//!
//! Nothing here builds values or decodes strings; it only says where
//! things are. Two walkers use the same parts to different ends:
//!
//! | file | job | user |
//! |---|---|---|
//! | [`word`] | masks of the bytes of interest in 8 bytes at once | the two below |
//! | [`string`] | where a string's run of ordinary bytes ends | both walkers |
//! | [`nesting`] | what each open bracket opened, bounded | both walkers |
//! | [`scan`] | resumable: where the value at the front of a stream ends, or its first structural error | `codec::stream` |
//! | [`plain`] | strict: where a plain value ends, checked as serde_json checks it | `message::walk` |

pub(crate) mod nesting;
pub(crate) mod plain;
pub(crate) mod scan;
pub(crate) mod string;
pub(crate) mod word;

/// Whitespace as JSON defines it (RFC 8259 `ws`).
#[inline]
pub(crate) fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Where the whitespace starting at `at` in `text` ends (`at` itself if
/// there is none; at most `text.len()`).
#[inline]
pub(crate) fn whitespace_end(text: &[u8], mut at: usize) -> usize {
    while text.get(at).copied().is_some_and(is_whitespace) {
        at += 1;
    }
    at
}
