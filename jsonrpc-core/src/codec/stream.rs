//! [`JsonStreamCodec`]: JSON values written back to back with no delimiter,
//! as OVSDB and SPDK frame them.
//!
//! A value's end is found by the stream scanner (`json::scan`, beside the
//! message parser's walker), which resumes where the last read stopped, so
//! bytes arriving in many small reads are each looked at once. The scanner
//! follows structure, not content: a value whose brackets do not match, or
//! that has a `]`, `}`, `,` or `:` where its object or array does not allow
//! one, ends at that byte, and the bytes after it are read as the next
//! value; anything else between the brackets is passed through. A
//! top-level token that is not an object, array or string (a number, a
//! literal, garbage) runs until the next whitespace or one of `{ [ " } ]`.
//! Broken frames fail later, in the message layer; this codec never fails
//! on content.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{
    check_outgoing, oversized_head, take_frame, unexpected_eof, Frame, FrameError, FrameParser,
    FrameTooLarge, Framing, DEFAULT_MAX_FRAME,
};
use crate::json::is_whitespace;
use crate::json::scan::{Pending, Scanned, Scanner};

const NAME: &str = "json-stream";

/// Splits a stream of back-to-back JSON values (no delimiter) into frames.
///
/// Whitespace between values is skipped. Objects and arrays end at their
/// matching bracket, strings at their closing quote; any other top-level
/// token ends before the next whitespace or one of `{ [ " } ]` (a stray `}`
/// or `]` is a one-byte frame), or at end of input.
///
/// An object or array with a structural error ends at the byte that shows
/// it: a closing bracket that does not match its opener, a `]`, `}`, `,`
/// or `:` where the object or array does not allow it, or an opening
/// bracket past [`with_max_depth`](JsonStreamCodec::with_max_depth) levels
/// of nesting. That frame (up to and including the byte) is handed on like
/// any other, for the message layer to answer as a parse error, and the
/// next frame starts after it. So a broken value costs the peer that sent
/// it one error, not the connection: without this, `[{"a":1},{"b"]` would
/// leave a value that never ends, and every request after it unanswered.
/// Errors the brackets and separators do not show (`{"a":1 "b":2}`, a bad
/// number) are the parser's to find, and cost no more than their own frame
/// as long as the brackets balance.
///
/// Values whose start is `{` or `[` and that are fully buffered are handed
/// to [`FrameParser::split_prefix`] first (see [`Framing::decode_with`]), so
/// a parser that can report how many bytes it consumed finds the end and
/// parses in a single pass.
///
/// The encoder writes bodies as they are: the peer relies on the same
/// scanning to split them, so bodies should be complete JSON values.
///
/// ```
/// use bytes::BytesMut;
/// use jsonrpc_core::codec::{Frame, JsonStreamCodec};
/// use tokio_util::codec::Decoder;
///
/// let mut codec = JsonStreamCodec::new();
/// let mut buf = BytesMut::from(&b"{\"id\":1}\n[2, 3] [{\"a\"] {}"[..]);
/// let mut frames = Vec::new();
/// while let Some(Frame::Complete(text)) = codec.decode(&mut buf).unwrap() {
///     frames.push(text);
/// }
/// // `]` where `{"a"` wants a `:` ends that frame; scanning goes on after it.
/// assert_eq!(frames, [&b"{\"id\":1}"[..], &b"[2, 3]"[..], &b"[{\"a\"]"[..], &b"{}"[..]]);
/// ```
#[derive(Debug, Clone)]
pub struct JsonStreamCodec {
    max_frame: usize,
    scan: Scanner,
    /// Skipping the rest of an oversized frame.
    discarding: bool,
    /// Bytes looked at by the scanner (including skipped whitespace), for
    /// checking that scanning stays linear.
    scanned: u64,
    /// Write `\n` after each outgoing value.
    newline: bool,
}

impl Default for JsonStreamCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonStreamCodec {
    /// The deepest objects and arrays may nest in one value (1024 levels),
    /// and the default for [`with_max_depth`](Self::with_max_depth).
    pub const MAX_DEPTH: usize = crate::json::scan::MAX_DEPTH;

    /// A codec with the [`DEFAULT_MAX_FRAME`] limit.
    pub fn new() -> Self {
        JsonStreamCodec {
            max_frame: DEFAULT_MAX_FRAME,
            scan: Scanner::new(Self::MAX_DEPTH),
            discarding: false,
            scanned: 0,
            newline: false,
        }
    }

    /// Sets the limit in bytes on one value's text.
    ///
    /// ```
    /// use jsonrpc_core::codec::{Framing, JsonStreamCodec};
    /// assert_eq!(JsonStreamCodec::new().with_max_frame(1024).max_frame(), 1024);
    /// ```
    pub fn with_max_frame(mut self, max_frame: usize) -> Self {
        self.max_frame = max_frame;
        self
    }

    /// Sets how deep objects and arrays may nest in one value (at least 1,
    /// at most [`MAX_DEPTH`](Self::MAX_DEPTH), the default). An opening
    /// bracket past it ends its frame as a structural error, answered as a
    /// parse error: what the codec keeps to follow a frame's brackets is
    /// fixed, whatever it is sent. (serde_json reads at most 128 levels into
    /// typed values; raw values, such as params passed through, may go
    /// deeper.)
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use jsonrpc_core::codec::{Frame, JsonStreamCodec};
    /// use tokio_util::codec::Decoder;
    /// let mut codec = JsonStreamCodec::new().with_max_depth(2);
    /// let mut buf = BytesMut::from(&b"[[1]] [[[2]]]"[..]);
    /// assert_eq!(codec.decode(&mut buf).unwrap(), Some(Frame::Complete(BytesMut::from(&b"[[1]]"[..]))));
    /// // The third `[` is one too many: the frame ends with it.
    /// assert_eq!(codec.decode(&mut buf).unwrap(), Some(Frame::Complete(BytesMut::from(&b"[[["[..]))));
    /// ```
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.scan = Scanner::new(max_depth);
        self
    }

    /// Writes a `\n` after each outgoing value. The raw stream needs no
    /// delimiter, but SPDK's targets end every reply with one, and tools that
    /// read replies line by line rely on it. Reading is unaffected.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use jsonrpc_core::codec::JsonStreamCodec;
    /// use tokio_util::codec::Encoder;
    /// let mut out = BytesMut::new();
    /// JsonStreamCodec::new().with_newline(true).encode(&b"{}"[..], &mut out).unwrap();
    /// assert_eq!(&out[..], b"{}\n");
    /// ```
    pub fn with_newline(mut self, newline: bool) -> Self {
        self.newline = newline;
        self
    }

    /// Total bytes the scanner has examined so far. Bytes consumed by a
    /// successful [`FrameParser::split_prefix`] are not counted.
    #[doc(hidden)]
    pub fn scanned_bytes(&self) -> u64 {
        self.scanned
    }

    /// True when no byte of the next frame has been looked at.
    fn is_fresh(&self) -> bool {
        !self.discarding && self.scan.is_fresh()
    }

    /// Drops whitespace at the front of the buffer before a frame.
    fn skip_whitespace(&mut self, src: &mut BytesMut) {
        let n = src.iter().take_while(|&&b| is_whitespace(b)).count();
        if n > 0 {
            self.scanned += n as u64;
            src.advance(n);
        }
    }

    /// The decoder: finds the next frame and hands it to `emit`.
    fn decode_inner<E: Emit>(
        &mut self,
        src: &mut BytesMut,
        emit: &mut E,
    ) -> Result<Option<Frame<E::Out>>, FrameError> {
        loop {
            if self.is_fresh() {
                self.skip_whitespace(src);
                let Some(&first) = src.first() else {
                    return Ok(None);
                };
                let limit = src.len().min(self.max_frame);
                // With no room for even the first byte the parser could only
                // be handed an empty slice, which its contract rules out.
                // Trying the parser first beats scanning first and then
                // parsing exactly the frame: measured on JSON-RPC traffic,
                // scan-first costs ~30% more on fully buffered input (every
                // byte is looked at twice) and is no faster with 4 KiB reads,
                // where the failed attempt on the value cut by the read is
                // about what scanning the values that parse would cost.
                if limit > 0 && (first == b'{' || first == b'[') {
                    if let Some(out) = emit.prefix(src, limit) {
                        return Ok(Some(Frame::Complete(out)));
                    }
                    // From here the scanner owns this frame; the fast path is
                    // not retried as more bytes arrive, which keeps
                    // byte-at-a-time input linear.
                }
            }

            let (scanned, looked) = self.scan.scan(&src[..]);
            self.scanned += looked as u64;
            match scanned {
                // A frame with a structural error is still a frame: the
                // message layer answers it, and the next one starts after it.
                Scanned::End(len) | Scanned::Error(len) => {
                    self.scan = self.scan.next();
                    if self.discarding {
                        self.discarding = false;
                        src.advance(len);
                        tracing::debug!("end of oversized json-stream frame reached");
                        continue;
                    }
                    if len > self.max_frame {
                        let frame = self.oversized(len, &src[..len]);
                        src.advance(len);
                        return Ok(Some(frame));
                    }
                    return Ok(Some(Frame::Complete(emit.take(src, len))));
                }
                Scanned::More => {
                    let seen = src.len();
                    if self.discarding {
                        src.clear();
                        self.scan.forget_scanned();
                        return Ok(None);
                    }
                    if seen > self.max_frame {
                        let frame = self.oversized(seen, src);
                        src.clear();
                        self.scan.forget_scanned();
                        self.discarding = true;
                        return Ok(Some(frame));
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn oversized<T>(&self, size: usize, frame: &[u8]) -> Frame<T> {
        tracing::debug!(
            limit = self.max_frame,
            size,
            "skipping oversized json-stream frame"
        );
        Frame::Oversized(FrameTooLarge {
            framing: NAME,
            limit: self.max_frame,
            size,
            head: oversized_head(frame),
        })
    }

    /// End of input: a pending scalar token is complete; a pending
    /// container or string was cut off.
    fn decode_eof_inner<E: Emit>(
        &mut self,
        src: &mut BytesMut,
        emit: &mut E,
    ) -> Result<Option<Frame<E::Out>>, FrameError> {
        if let Some(frame) = self.decode_inner(src, emit)? {
            return Ok(Some(frame));
        }
        let pending = self.scan.pending();
        let discarding = self.discarding;
        self.scan = self.scan.next();
        self.discarding = false;
        if discarding {
            // The oversized frame was already reported; its end is simply the
            // end of input.
            src.clear();
            return Ok(None);
        }
        match pending {
            Pending::Nothing => Ok(None),
            Pending::Scalar => {
                // decode_inner already reported it if it were over the limit.
                let len = src.len();
                Ok(Some(Frame::Complete(emit.take(src, len))))
            }
            Pending::Unfinished => {
                let left = src.len();
                src.clear();
                Err(unexpected_eof(format_args!(
                    "{left} bytes of an unfinished JSON value left at end of input"
                )))
            }
        }
    }
}

/// What the decoder does with a found frame: hand out the bytes, or parse.
trait Emit {
    type Out;
    fn prefix(&mut self, src: &mut BytesMut, limit: usize) -> Option<Self::Out>;
    fn take(&mut self, src: &mut BytesMut, len: usize) -> Self::Out;
}

/// Hands out the frame's bytes without copying them.
struct Raw;

impl Emit for Raw {
    type Out = BytesMut;
    fn prefix(&mut self, _src: &mut BytesMut, _limit: usize) -> Option<BytesMut> {
        None
    }
    fn take(&mut self, src: &mut BytesMut, len: usize) -> BytesMut {
        take_frame(src, len)
    }
}

/// Parses the frame in place with a [`FrameParser`].
struct Parse<'p, P>(&'p mut P);

impl<P: FrameParser> Emit for Parse<'_, P> {
    type Out = P::Output;
    fn prefix(&mut self, src: &mut BytesMut, limit: usize) -> Option<P::Output> {
        self.0.split_prefix(src, limit)
    }
    fn take(&mut self, src: &mut BytesMut, len: usize) -> P::Output {
        self.0.parse_bytes(take_frame(src, len).freeze())
    }
}

impl Decoder for JsonStreamCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        self.decode_inner(src, &mut Raw)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        self.decode_eof_inner(src, &mut Raw)
    }
}

impl Encoder<&[u8]> for JsonStreamCodec {
    type Error = FrameError;

    fn encode(&mut self, body: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        check_outgoing(NAME, self.max_frame, body)?;
        dst.extend_from_slice(body);
        if self.newline {
            dst.extend_from_slice(b"\n");
        }
        Ok(())
    }
}

impl Framing for JsonStreamCodec {
    fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Decodes the next value. When the value starts with `{` or `[` and
    /// no byte of it has been scanned yet, `parser.split_prefix` is tried on
    /// the buffer (at most `max_frame` bytes of it); if it declines, the
    /// scanner takes over for that value and `parser.parse_bytes` gets the
    /// frame.
    fn decode_with<P: FrameParser>(
        &mut self,
        src: &mut BytesMut,
        parser: &mut P,
    ) -> Result<Option<Frame<P::Output>>, FrameError> {
        self.decode_inner(src, &mut Parse(parser))
    }

    fn decode_with_eof<P: FrameParser>(
        &mut self,
        src: &mut BytesMut,
        parser: &mut P,
    ) -> Result<Option<Frame<P::Output>>, FrameError> {
        self.decode_eof_inner(src, &mut Parse(parser))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(codec: &mut JsonStreamCodec, input: &[u8], chunk: usize) -> Vec<Frame> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(f) = codec.decode(&mut buf).expect("decode") {
                out.push(f);
            }
        }
        while let Some(f) = codec.decode_eof(&mut buf).expect("decode_eof") {
            out.push(f);
        }
        out
    }

    fn texts(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Complete(b) => String::from_utf8_lossy(b).into_owned(),
                Frame::Oversized(e) => format!("<oversized {}>", e.size),
            })
            .collect()
    }

    #[test]
    fn splits_mixed_top_level_tokens() {
        let input = br#" {"a":[1,{"b":"}]\"x"}]} [] "s\"t" 12 true}]null{"c":1}x"#;
        for chunk in [1, 2, 3, 7, input.len()] {
            let frames = frames_of(&mut JsonStreamCodec::new(), input, chunk);
            assert_eq!(
                texts(&frames),
                [
                    r#"{"a":[1,{"b":"}]\"x"}]}"#,
                    "[]",
                    r#""s\"t""#,
                    "12",
                    "true",
                    "}",
                    "]",
                    "null",
                    r#"{"c":1}"#,
                    "x",
                ],
                "chunk size {chunk}"
            );
        }
    }

    #[test]
    fn utf8_split_across_reads_is_harmless() {
        let input = "[\"é漢🎉\\\"\",{\"k🎉\":\"\\u00e9\"}] \"漢\"".as_bytes();
        let frames = frames_of(&mut JsonStreamCodec::new(), input, 1);
        assert_eq!(
            texts(&frames),
            ["[\"é漢🎉\\\"\",{\"k🎉\":\"\\u00e9\"}]", "\"漢\""]
        );
    }

    #[test]
    fn escaped_backslash_before_quote_closes_string() {
        // `"\\"` is a complete string; a scanner that treated the second
        // backslash as escaping the quote would run on.
        let frames = frames_of(&mut JsonStreamCodec::new(), br#"["\\"] [1]"#, 1);
        assert_eq!(texts(&frames), [r#"["\\"]"#, "[1]"]);
    }

    #[test]
    fn nesting_is_followed_to_its_limit_and_no_further() {
        let limit = JsonStreamCodec::MAX_DEPTH;
        let mut input = vec![b'['; limit];
        input.resize(2 * limit, b']');
        input.extend_from_slice(b" [1]");
        let frames = frames_of(&mut JsonStreamCodec::new(), &input, 100);
        assert_eq!(frames.len(), 2);
        assert!(matches!(&frames[0], Frame::Complete(b) if b.len() == 2 * limit));

        // One level more: the opening bracket past the limit ends the frame,
        // and the rest is scanned as what follows it.
        let mut input = vec![b'['; limit + 1];
        input.extend_from_slice(b"] [2]");
        let frames = frames_of(&mut JsonStreamCodec::new(), &input, 100);
        let texts = texts(&frames);
        assert_eq!(texts[0].len(), limit + 1);
        assert_eq!(texts[1..], ["]", "[2]"]);
    }

    #[test]
    fn a_structural_error_ends_the_frame_at_once_and_scanning_goes_on() {
        // The specification's broken batch: `]` where `{"jsonrpc": "2.0",
        // "method"` wants a `:`. It ends there even though no byte follows.
        let broken = br#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]"#;
        for chunk in [1, 5, broken.len()] {
            let frames = frames_of(&mut JsonStreamCodec::new(), broken, chunk);
            assert_eq!(texts(&frames), [String::from_utf8_lossy(broken)]);
        }
        let input = br#"[1,2} {"a":1]{"b" 1}[1,,2] {"a"::1} [1]"#;
        for chunk in [1, 3, 8, input.len()] {
            let frames = frames_of(&mut JsonStreamCodec::new(), input, chunk);
            assert_eq!(
                texts(&frames),
                [
                    "[1,2}",
                    r#"{"a":1]"#,
                    r#"{"b" 1}"#,
                    "[1,,",
                    "2",
                    "]",
                    r#"{"a"::"#,
                    "1",
                    "}",
                    "[1]"
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn byte_at_a_time_scans_each_byte_once() {
        let mut input = Vec::new();
        for i in 0..200 {
            input.extend_from_slice(format!("{{\"id\":{i},\"s\":\"a\\\"b\"}}\n 42 ").as_bytes());
        }
        let mut codec = JsonStreamCodec::new();
        let frames = frames_of(&mut codec, &input, 1);
        assert_eq!(frames.len(), 400);
        assert_eq!(codec.scanned_bytes(), input.len() as u64);
    }

    #[test]
    fn scalar_at_end_of_input_waits_then_completes_at_eof() {
        let mut codec = JsonStreamCodec::new();
        let mut buf = BytesMut::from(&b"123"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(
            codec.decode_eof(&mut buf).unwrap(),
            Some(Frame::Complete(BytesMut::from(&b"123"[..])))
        );
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }

    #[test]
    fn unfinished_value_at_eof_is_an_error_once() {
        let mut codec = JsonStreamCodec::new();
        let mut buf = BytesMut::from(&b"{\"a\":"[..]);
        match codec.decode_eof(&mut buf) {
            Err(FrameError::Io(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
                assert!(e.to_string().contains("5 bytes"), "{e}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }

    #[test]
    fn whitespace_only_input_is_consumed() {
        let mut codec = JsonStreamCodec::new();
        let mut buf = BytesMut::from(&b" \r\n\t "[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(buf.is_empty());
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }

    #[test]
    fn oversized_value_is_discarded_and_stream_continues() {
        let mut codec = JsonStreamCodec::new().with_max_frame(8);
        // Sizes are what had arrived (3-byte reads) when the limit was passed.
        let frames = frames_of(
            &mut codec,
            br#"[1] {"k":"0123456789"} [2] "abcdefghij" 3"#,
            3,
        );
        assert_eq!(
            texts(&frames),
            ["[1]", "<oversized 11>", "[2]", "<oversized 9>", "3"]
        );
    }

    #[test]
    fn oversized_value_fully_buffered_reports_its_size() {
        let mut codec = JsonStreamCodec::new().with_max_frame(4);
        let mut buf = BytesMut::from(&b"[1,2,3] [4]"[..]);
        assert_eq!(
            codec.decode(&mut buf).unwrap(),
            Some(Frame::Oversized(FrameTooLarge {
                framing: "json-stream",
                limit: 4,
                size: 7,
                head: bytes::Bytes::from_static(b"[1,2,3]"),
            }))
        );
        assert_eq!(
            codec.decode(&mut buf).unwrap(),
            Some(Frame::Complete(BytesMut::from(&b"[4]"[..])))
        );
    }

    #[test]
    fn value_of_exactly_max_frame_is_accepted() {
        let mut codec = JsonStreamCodec::new().with_max_frame(5);
        let frames = frames_of(&mut codec, b"[1,2] 12345 [1,23]", 1);
        assert_eq!(texts(&frames), ["[1,2]", "12345", "<oversized 6>"]);
    }

    struct Prefix {
        calls: usize,
    }

    impl FrameParser for Prefix {
        type Output = Vec<u8>;
        fn parse(&mut self, frame: &[u8]) -> Vec<u8> {
            frame.to_vec()
        }
        fn parse_prefix(&mut self, buf: &[u8]) -> Option<(Vec<u8>, usize)> {
            self.calls += 1;
            // A stand-in parser that only knows `{}`.
            buf.starts_with(b"{}").then(|| (b"{}".to_vec(), 2))
        }
    }

    #[test]
    fn fast_path_is_used_once_per_frame() {
        let mut codec = JsonStreamCodec::new();
        let mut parser = Prefix { calls: 0 };
        let mut buf = BytesMut::from(&b" {}[1"[..]);
        assert_eq!(
            codec.decode_with(&mut buf, &mut parser).unwrap(),
            Some(Frame::Complete(b"{}".to_vec()))
        );
        assert_eq!(codec.scanned_bytes(), 1, "only the leading space");
        assert!(codec.decode_with(&mut buf, &mut parser).unwrap().is_none());
        buf.extend_from_slice(b",2");
        assert!(codec.decode_with(&mut buf, &mut parser).unwrap().is_none());
        buf.extend_from_slice(b"]");
        assert_eq!(
            codec.decode_with(&mut buf, &mut parser).unwrap(),
            Some(Frame::Complete(b"[1,2]".to_vec()))
        );
        assert_eq!(parser.calls, 2);
    }

    struct Liar;

    impl FrameParser for Liar {
        type Output = ();
        fn parse(&mut self, _frame: &[u8]) {}
        fn parse_prefix(&mut self, buf: &[u8]) -> Option<((), usize)> {
            Some(((), buf.len() + 10))
        }
    }

    #[test]
    fn impossible_prefix_length_falls_back_to_scanner() {
        let mut codec = JsonStreamCodec::new();
        let mut buf = BytesMut::from(&b"[1] [2]"[..]);
        assert_eq!(
            codec.decode_with(&mut buf, &mut Liar).unwrap(),
            Some(Frame::Complete(()))
        );
        assert_eq!(&buf[..], b" [2]");
    }

    #[test]
    fn encoder_writes_body_and_enforces_limit() {
        let mut codec = JsonStreamCodec::new().with_max_frame(3);
        let mut dst = BytesMut::new();
        codec.encode(&b"[1]"[..], &mut dst).unwrap();
        assert_eq!(&dst[..], b"[1]");
        assert!(matches!(
            codec.encode(&b"[12]"[..], &mut dst),
            Err(FrameError::TooLarge(FrameTooLarge {
                size: 4,
                limit: 3,
                ..
            }))
        ));
    }
}
