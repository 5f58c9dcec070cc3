//! [`LineCodec`]: newline-delimited JSON, one text per line.
//!
//! Lines end with `\n`; a `\r` before it is dropped, and lines holding only
//! whitespace are skipped. The codec does not look inside a line, so a text
//! spanning several lines (pretty-printed JSON) is not supported by this
//! framing: each of its lines becomes its own (broken) frame.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::json::is_whitespace;

use super::{
    check_outgoing, oversized_head, take_frame, Frame, FrameError, FrameTooLarge, Framing,
    DEFAULT_MAX_FRAME,
};

const NAME: &str = "line";

/// Splits a stream into lines, each one JSON text.
///
/// The encoder appends `\n` to each body and refuses a body that contains
/// `\n` (serialised JSON never needs one: newlines inside strings are
/// escaped).
///
/// At end of input, a last line without a trailing `\n` is still a frame,
/// as with tokio-util's `LinesCodec`.
///
/// ```
/// use bytes::BytesMut;
/// use jsonrpc_core::codec::{Frame, LineCodec};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = LineCodec::new();
/// let mut buf = BytesMut::new();
/// codec.encode(&b"[1]"[..], &mut buf).unwrap();
/// buf.extend_from_slice(b"\r\n[2]\r\n");
/// let mut frames = Vec::new();
/// while let Some(Frame::Complete(text)) = codec.decode(&mut buf).unwrap() {
///     frames.push(text);
/// }
/// assert_eq!(frames, [&b"[1]"[..], &b"[2]"[..]]);
/// ```
#[derive(Debug, Clone)]
pub struct LineCodec {
    max_frame: usize,
    /// How far the buffer has been searched for `\n` without finding one,
    /// so each byte is searched once however the line arrives.
    searched: usize,
    /// Skipping the rest of an oversized line, up to its `\n`.
    discarding: bool,
}

impl Default for LineCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl LineCodec {
    /// A codec with the [`DEFAULT_MAX_FRAME`] limit.
    pub fn new() -> Self {
        LineCodec {
            max_frame: DEFAULT_MAX_FRAME,
            searched: 0,
            discarding: false,
        }
    }

    /// Sets the limit in bytes on one line (without its `\r\n` or `\n`).
    ///
    /// ```
    /// use jsonrpc_core::codec::{Framing, LineCodec};
    /// assert_eq!(LineCodec::new().with_max_frame(80).max_frame(), 80);
    /// ```
    pub fn with_max_frame(mut self, max_frame: usize) -> Self {
        self.max_frame = max_frame;
        self
    }

    fn oversized(&self, size: usize, line: &[u8]) -> Frame {
        tracing::debug!(limit = self.max_frame, size, "skipping oversized line");
        Frame::Oversized(FrameTooLarge {
            framing: NAME,
            limit: self.max_frame,
            size,
            head: oversized_head(line),
        })
    }
}

/// Length of a line's text: without a trailing `\r`.
fn text_len(line: &[u8]) -> usize {
    match line.last() {
        Some(b'\r') => line.len() - 1,
        _ => line.len(),
    }
}

impl Decoder for LineCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            let from = self.searched.min(src.len());
            let Some(nl) = memchr::memchr(b'\n', &src[from..]).map(|k| from + k) else {
                if self.discarding {
                    src.clear();
                    self.searched = 0;
                    return Ok(None);
                }
                // A trailing `\r` may yet turn out to be part of `\r\n`, so
                // it does not count against the limit.
                let seen = text_len(src);
                if seen > self.max_frame {
                    let frame = self.oversized(seen, src);
                    src.clear();
                    self.searched = 0;
                    self.discarding = true;
                    return Ok(Some(frame));
                }
                self.searched = src.len();
                return Ok(None);
            };
            self.searched = 0;
            if self.discarding {
                self.discarding = false;
                src.advance(nl + 1);
                continue;
            }
            let len = text_len(&src[..nl]);
            if src[..len].iter().all(|&b| is_whitespace(b)) {
                src.advance(nl + 1);
                continue;
            }
            if len > self.max_frame {
                let frame = self.oversized(len, &src[..len]);
                src.advance(nl + 1);
                return Ok(Some(frame));
            }
            let mut line = take_frame(src, nl + 1);
            line.truncate(len);
            return Ok(Some(Frame::Complete(line)));
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        self.searched = 0;
        if std::mem::take(&mut self.discarding) {
            src.clear();
            return Ok(None);
        }
        // No `\n` is left, so what remains is one unterminated line, within
        // the limit (decode reported it otherwise).
        let len = text_len(src);
        if src[..len].iter().all(|&b| is_whitespace(b)) {
            src.clear();
            return Ok(None);
        }
        let mut line = take_frame(src, src.len());
        line.truncate(len);
        Ok(Some(Frame::Complete(line)))
    }
}

impl Encoder<&[u8]> for LineCodec {
    type Error = FrameError;

    fn encode(&mut self, body: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        check_outgoing(NAME, self.max_frame, body)?;
        if memchr::memchr(b'\n', body).is_some() {
            return Err(FrameError::Unencodable {
                framing: NAME,
                reason: "the body contains a newline",
            });
        }
        dst.reserve(body.len() + 1);
        dst.extend_from_slice(body);
        dst.extend_from_slice(b"\n");
        Ok(())
    }
}

impl Framing for LineCodec {
    fn max_frame(&self) -> usize {
        self.max_frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut LineCodec, input: &[u8], chunk: usize) -> Vec<String> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut push = |f: Frame| {
            out.push(match f {
                Frame::Complete(b) => String::from_utf8_lossy(&b).into_owned(),
                Frame::Oversized(e) => format!("<oversized {}>", e.size),
            })
        };
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(f) = codec.decode(&mut buf).expect("decode") {
                push(f);
            }
        }
        while let Some(f) = codec.decode_eof(&mut buf).expect("decode_eof") {
            push(f);
        }
        out
    }

    #[test]
    fn crlf_blank_lines_and_unterminated_last_line() {
        let input = b"\n{\"a\":1}\r\n\r\n  \n[2]\n\t\r\n\"x\"";
        for chunk in [1, 2, 5, input.len()] {
            assert_eq!(
                decode_all(&mut LineCodec::new(), input, chunk),
                ["{\"a\":1}", "[2]", "\"x\""],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn oversized_lines_are_skipped() {
        let mut codec = LineCodec::new().with_max_frame(4);
        let input = b"[1]\n[1,2,3,4]\n[5]\r\n[1,2]\r\n1234\r\n";
        assert_eq!(
            decode_all(&mut codec, input, 1),
            ["[1]", "<oversized 5>", "[5]", "<oversized 5>", "1234"]
        );
        let mut codec = LineCodec::new().with_max_frame(4);
        assert_eq!(
            decode_all(&mut codec, input, input.len()),
            ["[1]", "<oversized 9>", "[5]", "<oversized 5>", "1234"]
        );
    }

    #[test]
    fn search_position_is_remembered() {
        let mut codec = LineCodec::new();
        let mut buf = BytesMut::from(&b"[1,"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(codec.searched, 3);
        buf.extend_from_slice(b"2]\n");
        assert_eq!(
            codec.decode(&mut buf).unwrap(),
            Some(Frame::Complete(BytesMut::from(&b"[1,2]"[..])))
        );
        assert_eq!(codec.searched, 0);
    }

    #[test]
    fn encoder_rejects_newlines_and_oversized_bodies() {
        let mut codec = LineCodec::new().with_max_frame(5);
        let mut dst = BytesMut::new();
        codec.encode(&b"[1]"[..], &mut dst).unwrap();
        assert_eq!(&dst[..], b"[1]\n");
        assert!(matches!(
            codec.encode(&b"[1,\n2]"[..], &mut dst),
            Err(FrameError::TooLarge(_))
        ));
        assert!(matches!(
            codec.encode(&b"[\n1]"[..], &mut dst),
            Err(FrameError::Unencodable {
                framing: "line",
                ..
            })
        ));
        assert_eq!(&dst[..], b"[1]\n");
    }
}
