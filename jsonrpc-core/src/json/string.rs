//! The word-at-a-time string scanner: where the run of ordinary bytes
//! inside a JSON string ends, for the two walkers' ideas of ordinary.
//!
//! The stream scanner needs only a string's end (its first unescaped
//! quote), so for it every byte but `"` and `\` is ordinary. The message
//! parser checks plain strings itself, so for it only printable ASCII other
//! than `"` and `\` is: anything else sends the string to serde_json.
//! Multi-byte UTF-8 needs no care in either, even when a character is split
//! across reads: every byte of a multi-byte sequence is >= 0x80, so none can
//! be taken for a quote or a backslash.

use super::word::{lane_of, Word};

/// Where the first byte at or after `at` that `stops` marks is, or the end
/// of `text`. Eight bytes at a time: JSON-RPC strings are mostly names and
/// short values, where even one word beats a loop over their bytes.
fn run_end(text: &[u8], mut at: usize, stops: impl Fn(Word) -> u64) -> usize {
    while let Some((word, avail)) = Word::load(text, at) {
        let stop = stops(word);
        if stop != 0 {
            // A stop in the zero padding is the end of `text`.
            return (at + lane_of(stop)).min(text.len());
        }
        at += avail;
    }
    text.len()
}

/// The lanes a string's end may be in.
fn quote_or_backslash(word: Word) -> u64 {
    word.eq(b'"') | word.eq(b'\\')
}

/// The lanes that end a plain string's run: anything but printable ASCII
/// other than `"` and `\` (zero padding included).
fn not_plain(word: Word) -> u64 {
    word.not_ascii_or_below_or(0x20, b'"', b'\\')
}

/// Where the plain string whose opening quote is at `at` ends, just past
/// its closing quote: `None` unless one starts there. A plain string is
/// printable ASCII with no escapes, the common case, where finding the
/// closing quote is all the checking needed.
#[inline]
pub(crate) fn plain_string_end(text: &[u8], at: usize) -> Option<usize> {
    if text.get(at) != Some(&b'"') {
        return None;
    }
    let end = run_end(text, at + 1, not_plain);
    (text.get(end) == Some(&b'"')).then_some(end + 1)
}

/// Scans a string from `at` (inside it, past its opening quote) for its
/// closing quote, and says where the string ends, just past that quote.
/// `None` when `text` ends first; then `escape` says whether it ended just
/// after a backslash, whose escaped byte is still to come (`escape` is also
/// read, for a scan that resumes there).
#[inline]
pub(crate) fn closing_quote(text: &[u8], mut at: usize, escape: &mut bool) -> Option<usize> {
    if *escape {
        if at >= text.len() {
            return None;
        }
        // The byte after a backslash is taken literally, whatever it is.
        *escape = false;
        at += 1;
    }
    loop {
        let end = run_end(text, at, quote_or_backslash);
        match text.get(end)? {
            b'"' => return Some(end + 1),
            _ if end + 1 == text.len() => {
                *escape = true;
                return None;
            }
            _ => at = end + 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_end_at_their_quote_and_nothing_else_is_plain() {
        assert_eq!(plain_string_end(br#""abc" "#, 0), Some(5));
        assert_eq!(plain_string_end(br#"x"abcdefghijklmnop""#, 1), Some(19));
        for bad in [
            &br#""ab\"c""#[..],
            "\"é\"".as_bytes(),
            b"\"a\tb\"",
            b"\"a\x7fb\"",
            b"\"abc",
            b"\"abcdefghijk",
            b"abc\"",
        ] {
            if bad == b"\"a\x7fb\"" {
                // DEL is printable as far as JSON cares.
                assert_eq!(plain_string_end(bad, 0), Some(5));
            } else {
                assert_eq!(plain_string_end(bad, 0), None, "{bad:?}");
            }
        }
    }

    #[test]
    fn closing_quote_skips_escapes_across_reads() {
        let text = br#"ab\"cdefgh\\ij\"k"xyz"#;
        let end = text.iter().position(|&b| b == b'x').unwrap();
        for cut in 0..=text.len() {
            let mut escape = false;
            let got = match closing_quote(&text[..cut], 0, &mut escape) {
                Some(e) => Some(e),
                None => closing_quote(text, cut, &mut escape),
            };
            assert_eq!(got, Some(end), "cut {cut}");
        }
    }
}
