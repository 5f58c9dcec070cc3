//! [`ContentLengthCodec`]: LSP-style framing, a header section then a body
//! of the declared length.
//!
//! ```text
//! Content-Length: 17\r\n
//! Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n
//! \r\n
//! {"jsonrpc":"2.0"}
//! ```
//!
//! Header names are matched case-insensitively; every header other than
//! `Content-Length` is ignored (so a `Content-Type` charset is not acted on:
//! bodies are taken as UTF-8 JSON). Header lines must end with `\r\n`; bare
//! `\n` line ends are not accepted. A bad header section is fatal to the
//! stream, since without a trusted length the next frame cannot be found.

use std::sync::LazyLock;

use bytes::{Buf, BytesMut};
use memchr::memmem::Finder;
use tokio_util::codec::{Decoder, Encoder};

use crate::json::is_whitespace;

use super::{
    check_outgoing, oversized_head, take_frame, unexpected_eof, Frame, FrameError, FrameTooLarge,
    Framing, DEFAULT_MAX_FRAME,
};

const NAME: &str = "content-length";

/// The default limit, in bytes, on one header section, including the blank
/// line that ends it (8 KiB).
pub const DEFAULT_MAX_HEADER: usize = 8 * 1024;

const HEADER_END: &[u8] = b"\r\n\r\n";

/// The searcher for [`HEADER_END`], built once: building one (what
/// `memmem::find` does on every call) costs several hundred instructions,
/// more than searching a typical header section.
static HEADER_END_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(HEADER_END));

/// Where the decoder is within the current frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the header section; `searched` bytes of it have been searched
    /// for its end already.
    Header { searched: usize },
    /// Waiting for a body of `len` bytes.
    Body { len: usize },
    /// Dropping the body of an oversized frame; `remaining` bytes to go.
    Skip { remaining: usize },
}

/// Splits a stream of `Content-Length`-framed messages.
///
/// `max_frame` limits a body, `max_header` the header section before it.
/// A declared length over `max_frame` is reported as [`Frame::Oversized`] at
/// once and that many body bytes are then dropped as they arrive. A header
/// section that is over `max_header`, lacks `Content-Length`, or has one that
/// is not a plain decimal number is a fatal [`FrameError::InvalidHeader`].
///
/// ```
/// use bytes::BytesMut;
/// use jsonrpc_core::codec::{ContentLengthCodec, Frame};
/// use tokio_util::codec::Decoder;
///
/// let mut codec = ContentLengthCodec::new();
/// let mut buf = BytesMut::from(&b"content-length: 2\r\nContent-Type: x\r\n\r\n[]"[..]);
/// assert_eq!(
///     codec.decode(&mut buf).unwrap(),
///     Some(Frame::Complete(BytesMut::from(&b"[]"[..])))
/// );
/// ```
#[derive(Debug, Clone)]
pub struct ContentLengthCodec {
    max_frame: usize,
    max_header: usize,
    state: State,
}

impl Default for ContentLengthCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentLengthCodec {
    /// A codec with the [`DEFAULT_MAX_FRAME`] and [`DEFAULT_MAX_HEADER`]
    /// limits.
    pub fn new() -> Self {
        ContentLengthCodec {
            max_frame: DEFAULT_MAX_FRAME,
            max_header: DEFAULT_MAX_HEADER,
            state: State::Header { searched: 0 },
        }
    }

    /// Sets the limit in bytes on one body.
    ///
    /// ```
    /// use jsonrpc_core::codec::{ContentLengthCodec, Framing};
    /// assert_eq!(ContentLengthCodec::new().with_max_frame(4096).max_frame(), 4096);
    /// ```
    pub fn with_max_frame(mut self, max_frame: usize) -> Self {
        self.max_frame = max_frame;
        self
    }

    /// Sets the limit in bytes on one header section, counting the blank
    /// line that ends it.
    ///
    /// ```
    /// use jsonrpc_core::codec::ContentLengthCodec;
    /// assert_eq!(ContentLengthCodec::new().with_max_header(256).max_header(), 256);
    /// ```
    pub fn with_max_header(mut self, max_header: usize) -> Self {
        self.max_header = max_header;
        self
    }

    /// The limit in bytes on one header section.
    pub fn max_header(&self) -> usize {
        self.max_header
    }

    fn invalid(&self, reason: String) -> FrameError {
        FrameError::InvalidHeader {
            framing: NAME,
            reason,
        }
    }

    /// Reads the header section at the front of `src`, if complete, and
    /// returns the declared body length, consuming the headers.
    fn read_header(
        &mut self,
        src: &mut BytesMut,
        mut searched: usize,
    ) -> Result<Option<usize>, FrameError> {
        // Tolerates stray line ends between messages; some peers send them.
        let blank = src.iter().take_while(|&&b| is_whitespace(b)).count();
        if blank > 0 {
            src.advance(blank);
            // A header section never starts with whitespace, so nothing of
            // it can have been searched yet.
            searched = 0;
        }
        let window = src.len().min(self.max_header);
        // Back up so a `\r\n\r\n` split across reads is still found.
        let from = searched.saturating_sub(HEADER_END.len() - 1).min(window);
        let Some(end) = HEADER_END_FINDER.find(&src[from..window]).map(|k| from + k) else {
            if src.len() >= self.max_header {
                return Err(self.invalid(format!(
                    "header section exceeds the max_header limit of {} bytes",
                    self.max_header
                )));
            }
            self.state = State::Header { searched: window };
            return Ok(None);
        };
        let len = self.content_length(&src[..end])?;
        src.advance(end + HEADER_END.len());
        Ok(Some(len))
    }

    /// Finds and checks `Content-Length` in a header section (without its
    /// terminating blank line).
    fn content_length(&self, headers: &[u8]) -> Result<usize, FrameError> {
        let mut found: Option<usize> = None;
        for line in headers.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = memchr::memchr(b':', line) else {
                return Err(self.invalid(format!("header line without a colon: {}", excerpt(line))));
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if !name.trim_ascii().eq_ignore_ascii_case(b"content-length") {
                continue;
            }
            let value = value.trim_ascii();
            let len = parse_decimal(value).ok_or_else(|| {
                self.invalid(format!(
                    "Content-Length is not a decimal byte count: {}",
                    excerpt(value)
                ))
            })?;
            match found {
                Some(prev) if prev != len => {
                    return Err(self.invalid(format!(
                        "conflicting Content-Length headers: {prev} and {len}"
                    )))
                }
                _ => found = Some(len),
            }
        }
        found.ok_or_else(|| self.invalid("missing Content-Length header".to_string()))
    }

    fn oversized(&self, size: usize, body: &[u8]) -> Frame {
        tracing::debug!(
            limit = self.max_frame,
            size,
            "skipping oversized content-length body"
        );
        Frame::Oversized(FrameTooLarge {
            framing: NAME,
            limit: self.max_frame,
            size,
            head: oversized_head(body),
        })
    }
}

/// A plain decimal number: ASCII digits only, no sign, no overflow.
fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &d| {
        if d.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        } else {
            None
        }
    })
}

/// A short, printable rendering of untrusted header bytes for an error.
fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 64;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    let mut out: String = text.escape_debug().collect();
    if bytes.len() > MAX {
        out.push('…');
    }
    out
}

impl Decoder for ContentLengthCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            match self.state {
                State::Header { searched } => {
                    let Some(len) = self.read_header(src, searched)? else {
                        return Ok(None);
                    };
                    if len > self.max_frame {
                        self.state = State::Skip { remaining: len };
                        // What of the body has arrived with its header.
                        let arrived = src.len().min(len);
                        return Ok(Some(self.oversized(len, &src[..arrived])));
                    }
                    src.reserve(len.saturating_sub(src.len()));
                    self.state = State::Body { len };
                }
                State::Body { len } => {
                    if src.len() < len {
                        return Ok(None);
                    }
                    self.state = State::Header { searched: 0 };
                    return Ok(Some(Frame::Complete(take_frame(src, len))));
                }
                State::Skip { remaining } => {
                    let n = remaining.min(src.len());
                    src.advance(n);
                    if n < remaining {
                        self.state = State::Skip {
                            remaining: remaining - n,
                        };
                        return Ok(None);
                    }
                    self.state = State::Header { searched: 0 };
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        let state = std::mem::replace(&mut self.state, State::Header { searched: 0 });
        let left = src.len();
        src.clear();
        match state {
            State::Header { .. } if left == 0 => Ok(None),
            State::Header { .. } => Err(unexpected_eof(format_args!(
                "{left} bytes of an unfinished content-length header section left at end of input"
            ))),
            State::Body { len } => Err(unexpected_eof(format_args!(
                "{left} of {len} body bytes of an unfinished content-length frame left at end of input"
            ))),
            // Already reported as oversized; its end is the end of input.
            State::Skip { .. } => Ok(None),
        }
    }
}

impl Encoder<&[u8]> for ContentLengthCodec {
    type Error = FrameError;

    fn encode(&mut self, body: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        check_outgoing(NAME, self.max_frame, body)?;
        dst.reserve(body.len() + 40);
        dst.extend_from_slice(b"Content-Length: ");
        dst.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        dst.extend_from_slice(HEADER_END);
        dst.extend_from_slice(body);
        Ok(())
    }
}

impl Framing for ContentLengthCodec {
    fn max_frame(&self) -> usize {
        self.max_frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_chunked(
        codec: &mut ContentLengthCodec,
        input: &[u8],
        chunk: usize,
    ) -> Result<Vec<Frame>, FrameError> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(f) = codec.decode(&mut buf)? {
                out.push(f);
            }
        }
        while let Some(f) = codec.decode_eof(&mut buf)? {
            out.push(f);
        }
        Ok(out)
    }

    fn complete(text: &[u8]) -> Frame {
        Frame::Complete(BytesMut::from(text))
    }

    fn reason(err: FrameError) -> String {
        match err {
            FrameError::InvalidHeader { framing, reason } => {
                assert_eq!(framing, "content-length");
                reason
            }
            other => panic!("expected InvalidHeader, got {other:?}"),
        }
    }

    #[test]
    fn names_are_case_insensitive_and_other_headers_ignored() {
        let input = b"CONTENT-LENGTH: 3\r\n\r\n[1]\
            Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length:3\r\n\r\n[2]\
            \r\nX-Other: a:b\r\ncOnTeNt-LeNgTh:  2 \r\n\r\n{}";
        for chunk in [1, 2, 3, 5, input.len()] {
            let frames = decode_chunked(&mut ContentLengthCodec::new(), input, chunk).unwrap();
            assert_eq!(
                frames,
                [complete(b"[1]"), complete(b"[2]"), complete(b"{}")]
            );
        }
    }

    #[test]
    fn body_may_contain_header_like_bytes() {
        let body = b"[\"\\r\\n\\r\\nContent-Length: 9\"]";
        let mut wire = BytesMut::new();
        let mut codec = ContentLengthCodec::new();
        codec.encode(&body[..], &mut wire).unwrap();
        codec.encode(&body[..], &mut wire).unwrap();
        let frames = decode_chunked(&mut codec, &wire, 1).unwrap();
        assert_eq!(frames, [complete(body), complete(body)]);
    }

    #[test]
    fn missing_length_is_fatal() {
        let err = decode_chunked(
            &mut ContentLengthCodec::new(),
            b"Content-Type: x\r\n\r\n{}",
            4,
        )
        .unwrap_err();
        assert!(reason(err).contains("missing Content-Length"));
    }

    #[test]
    fn bad_lengths_are_fatal() {
        for bad in [
            &b"Content-Length: +3"[..],
            b"Content-Length: 0x10",
            b"Content-Length: 1 2",
            b"Content-Length: ",
            b"Content-Length: 99999999999999999999999",
            b"Content-Length: -1",
        ] {
            let mut input = bad.to_vec();
            input.extend_from_slice(b"\r\n\r\n{}");
            let err = decode_chunked(&mut ContentLengthCodec::new(), &input, 64).unwrap_err();
            assert!(
                reason(err).contains("not a decimal"),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let err = decode_chunked(
            &mut ContentLengthCodec::new(),
            b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            64,
        )
        .unwrap_err();
        assert!(reason(err).contains("conflicting"));
        let err =
            decode_chunked(&mut ContentLengthCodec::new(), b"garbage\r\n\r\n", 64).unwrap_err();
        assert!(reason(err).contains("without a colon"));
    }

    #[test]
    fn header_limit_is_enforced_and_named() {
        let mut codec = ContentLengthCodec::new().with_max_header(32);
        let mut input = b"Content-Length: 2\r\nX-Padding: ".to_vec();
        input.extend_from_slice(&[b'a'; 100]);
        input.extend_from_slice(b"\r\n\r\n{}");
        let err = decode_chunked(&mut codec, &input, 1).unwrap_err();
        assert!(reason(err).contains("max_header limit of 32 bytes"));
        // A section of exactly the limit (blank line included) is fine.
        let exact = b"Content-Length: 2\r\nX-Pad: abcd\r\n\r\n{}";
        let mut codec = ContentLengthCodec::new().with_max_header(exact.len() - 2);
        assert_eq!(
            decode_chunked(&mut codec, exact, 1).unwrap(),
            [complete(b"{}")]
        );
    }

    #[test]
    fn oversized_body_is_skipped_exactly() {
        let mut codec = ContentLengthCodec::new().with_max_frame(4);
        let input = b"Content-Length: 10\r\n\r\n0123456789Content-Length: 2\r\n\r\n[]";
        for chunk in [1, 3, input.len()] {
            let frames = decode_chunked(&mut codec, input, chunk).unwrap();
            assert!(
                matches!(
                    &frames[..],
                    [
                        Frame::Oversized(FrameTooLarge {
                            framing: "content-length",
                            limit: 4,
                            size: 10,
                            ..
                        }),
                        Frame::Complete(body),
                    ] if &body[..] == b"[]"
                ),
                "{frames:?}"
            );
        }
    }

    #[test]
    fn truncated_frames_at_eof_are_errors() {
        for (input, expect) in [
            (&b"Content-Len"[..], "11 bytes"),
            (b"Content-Length: 5\r\n\r\n{}", "2 of 5 body bytes"),
        ] {
            let err = decode_chunked(&mut ContentLengthCodec::new(), input, 3).unwrap_err();
            match err {
                FrameError::Io(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
                    assert!(e.to_string().contains(expect), "{e}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // Trailing line ends are not a frame.
        assert_eq!(
            decode_chunked(&mut ContentLengthCodec::new(), b"\r\n", 1).unwrap(),
            []
        );
    }

    #[test]
    fn encoder_writes_header_and_enforces_limit() {
        let mut codec = ContentLengthCodec::new().with_max_frame(12);
        let mut dst = BytesMut::new();
        codec.encode(&b"{\"id\":10000}"[..], &mut dst).unwrap();
        codec.encode(&b""[..], &mut dst).unwrap();
        assert_eq!(
            &dst[..],
            b"Content-Length: 12\r\n\r\n{\"id\":10000}Content-Length: 0\r\n\r\n"
        );
        assert!(matches!(
            codec.encode(&[b' '; 13][..], &mut dst),
            Err(FrameError::TooLarge(FrameTooLarge { size: 13, .. }))
        ));
    }
}
