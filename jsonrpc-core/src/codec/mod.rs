//! Framing: turning a byte stream into JSON texts and back.
//!
//! The flow on the way in is *bytes → frame → message*. A transport appends
//! whatever it reads to a [`BytesMut`]; a [`Framing`] codec finds where one
//! JSON text ends and yields it as a [`Frame`]; the message layer then parses
//! the text. A [`FrameParser`] lets the parse happen inside the codec
//! ([`Framing::decode_with`]), which the raw-stream codec uses to parse a value
//! and find its end in one pass when the whole value is already buffered.
//!
//! Three framings are provided:
//!
//! * [`JsonStreamCodec`]: JSON values back to back with no delimiter (OVSDB,
//!   SPDK);
//! * [`LineCodec`]: one JSON text per line;
//! * [`ContentLengthCodec`]: LSP-style `Content-Length` headers.
//!
//! Limits: a codec only finds frame boundaries; it never checks that a frame
//! is valid JSON (a broken frame is the message layer's parse error). The
//! raw-stream codec, whose boundaries are the JSON's own structure, ends a
//! frame early at a structural error (a bracket or separator out of place),
//! so that the error is answered and the stream goes on after it. Each
//! codec bounds how much of one frame it buffers (`max_frame`); a frame over
//! the bound is reported as [`Frame::Oversized`] and skipped without being
//! buffered, and the stream goes on after it. Only a framing that can no
//! longer find frame boundaries (a bad header, I/O failure, a cut-off frame at
//! end of input) fails the stream with a [`FrameError`].
//!
//! ```
//! use bytes::BytesMut;
//! use jsonrpc_core::codec::{Frame, LineCodec};
//! use tokio_util::codec::Decoder;
//!
//! let mut codec = LineCodec::new();
//! let mut buf = BytesMut::from(&b"{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n"[..]);
//! match codec.decode(&mut buf).unwrap() {
//!     Some(Frame::Complete(text)) => assert_eq!(&text[..], br#"{"jsonrpc":"2.0","method":"ping"}"#),
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

pub mod content_length;
pub mod line;
pub mod stream;

pub use content_length::{ContentLengthCodec, DEFAULT_MAX_HEADER};
pub use line::LineCodec;
pub use stream::JsonStreamCodec;

/// The default limit, in bytes, on one frame's JSON text (16 MiB).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// How many of an oversized frame's first bytes are kept
/// ([`FrameTooLarge::head`]).
pub const OVERSIZED_HEAD: usize = 256;

/// The first bytes of an oversized frame, to keep.
pub(crate) fn oversized_head(bytes: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(&bytes[..bytes.len().min(OVERSIZED_HEAD)])
}

/// A frame that was over the `max_frame` limit.
///
/// Its bytes were dropped without being buffered, and the stream goes on
/// after it. `size` is how many bytes of the frame had been seen when it was
/// found too large: the exact size when the whole frame (or its declared
/// length) was known, otherwise a lower bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{framing} frame exceeds the max_frame limit of {limit} bytes (at least {size} bytes seen)"
)]
pub struct FrameTooLarge {
    /// Which framing found the frame (`"json-stream"`, `"line"`, `"content-length"`).
    pub framing: &'static str,
    /// The `max_frame` limit in force.
    pub limit: usize,
    /// Bytes of the frame seen (or declared) when it was found too large.
    pub size: usize,
    /// The frame's first bytes (at most [`OVERSIZED_HEAD`]), as far as they
    /// had arrived; empty for our own outgoing messages. They usually name
    /// the message's id, so the call it answers, or the caller it came
    /// from, can be told at once.
    pub head: bytes::Bytes,
}

/// What a framing decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<T = BytesMut> {
    /// One complete JSON text (or whatever a [`FrameParser`] made of it).
    Complete(T),
    /// A frame over the size limit was skipped; the stream continues after it.
    Oversized(FrameTooLarge),
}

impl<T> Frame<T> {
    /// Transforms the content of a complete frame, keeping `Oversized` as is.
    ///
    /// ```
    /// use jsonrpc_core::codec::Frame;
    /// let f: Frame<&str> = Frame::Complete("[1]");
    /// assert_eq!(f.map(str::len), Frame::Complete(3));
    /// ```
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Frame<U> {
        match self {
            Frame::Complete(t) => Frame::Complete(f(t)),
            Frame::Oversized(e) => Frame::Oversized(e),
        }
    }
}

/// An error that ends the stream: after it the framing cannot tell where
/// the next frame starts.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Reading or writing failed, or input ended in the middle of a frame.
    #[error("framing i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A frame header could not be used (e.g. missing or malformed
    /// `Content-Length`, or a header section over its limit).
    #[error("invalid {framing} header: {reason}")]
    InvalidHeader {
        /// Which framing rejected the header.
        framing: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// An outgoing body was over the encoder's `max_frame` limit.
    #[error(transparent)]
    TooLarge(#[from] FrameTooLarge),
    /// An outgoing body cannot be expressed in this framing (e.g. a newline
    /// inside a body given to [`LineCodec`]).
    #[error("cannot encode body with {framing} framing: {reason}")]
    Unencodable {
        /// Which framing refused the body.
        framing: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// Turns a complete frame into a value, optionally finding the frame's end
/// and parsing it in one pass.
///
/// ```
/// use jsonrpc_core::codec::FrameParser;
///
/// /// Counts the bytes of each frame.
/// struct Len;
/// impl FrameParser for Len {
///     type Output = usize;
///     fn parse(&mut self, frame: &[u8]) -> usize {
///         frame.len()
///     }
/// }
/// assert_eq!(Len.parse(b"[1,2]"), 5);
/// ```
pub trait FrameParser {
    /// What a frame is turned into.
    type Output;

    /// Parses one complete JSON text (a frame as found by the framing).
    fn parse(&mut self, frame: &[u8]) -> Self::Output;

    /// Tries to parse one JSON value from the front of `buf`, which starts
    /// with `{` or `[` (no leading whitespace).
    ///
    /// Returns the output and the number of bytes the value took, or `None`
    /// when `buf` does not hold a complete valid value (incomplete or
    /// invalid: the framing then falls back to its scanner and later parses
    /// the frame it finds). The framings reach this through
    /// [`split_prefix`](FrameParser::split_prefix). A returned
    /// length of 0 or beyond `buf` is ignored as if `None` were returned.
    /// The default always returns `None`.
    fn parse_prefix(&mut self, buf: &[u8]) -> Option<(Self::Output, usize)> {
        let _ = buf;
        None
    }

    /// [`parse`](FrameParser::parse), given the frame's own bytes: a parser
    /// whose output keeps parts of the frame overrides this to share them
    /// instead of copying. The framings call this one.
    fn parse_bytes(&mut self, frame: Bytes) -> Self::Output {
        self.parse(&frame)
    }

    /// [`parse_prefix`](FrameParser::parse_prefix) on the front of `buf`,
    /// looking at no more than its first `limit` bytes: on success, the
    /// value's bytes are split off `buf`; on `None`, `buf` is as it was. A
    /// parser that keeps parts of the frame overrides this to share them.
    /// The framings call this one.
    fn split_prefix(&mut self, buf: &mut BytesMut, limit: usize) -> Option<Self::Output> {
        let limit = limit.min(buf.len());
        let (out, len) = self.parse_prefix(buf.get(..limit)?)?;
        if len == 0 || len > limit {
            tracing::debug!(
                consumed = len,
                available = limit,
                "FrameParser::parse_prefix reported an impossible length; scanning instead"
            );
            return None;
        }
        buf.advance(len);
        Some(out)
    }
}

/// A framing: splits a byte stream into JSON texts and wraps outgoing texts.
///
/// Every framing is a tokio-util codec, so it can drive a
/// [`FramedRead`](tokio_util::codec::FramedRead) /
/// [`FramedWrite`](tokio_util::codec::FramedWrite) directly.
///
/// ```
/// use bytes::BytesMut;
/// use jsonrpc_core::codec::{ContentLengthCodec, Frame, Framing};
/// use tokio_util::codec::Encoder;
///
/// let mut codec = ContentLengthCodec::new();
/// let mut wire = BytesMut::new();
/// codec.encode(&b"{}"[..], &mut wire).unwrap();
/// assert_eq!(&wire[..], b"Content-Length: 2\r\n\r\n{}");
///
/// struct Text;
/// impl jsonrpc_core::codec::FrameParser for Text {
///     type Output = String;
///     fn parse(&mut self, frame: &[u8]) -> String {
///         String::from_utf8_lossy(frame).into_owned()
///     }
/// }
/// let frame = codec.decode_with(&mut wire, &mut Text).unwrap();
/// assert_eq!(frame, Some(Frame::Complete("{}".to_string())));
/// ```
pub trait Framing:
    Decoder<Item = Frame, Error = FrameError>
    + for<'a> Encoder<&'a [u8], Error = FrameError>
    + Send
    + 'static
{
    /// The size limit in bytes of one frame's JSON text.
    fn max_frame(&self) -> usize;

    /// Decodes the next frame and hands it to `parser`.
    ///
    /// The default calls [`Decoder::decode`] then [`FrameParser::parse_bytes`].
    fn decode_with<P: FrameParser>(
        &mut self,
        src: &mut BytesMut,
        parser: &mut P,
    ) -> Result<Option<Frame<P::Output>>, FrameError> {
        Ok(parse_frame(self.decode(src)?, parser))
    }

    /// Like [`decode_with`](Framing::decode_with), at end of input.
    ///
    /// The default calls [`Decoder::decode_eof`] then
    /// [`FrameParser::parse_bytes`]; each framing's `decode_eof` decides what
    /// leftover bytes mean (the ones here report an unfinished frame as
    /// [`FrameError::Io`] of kind
    /// [`UnexpectedEof`](std::io::ErrorKind::UnexpectedEof), once).
    fn decode_with_eof<P: FrameParser>(
        &mut self,
        src: &mut BytesMut,
        parser: &mut P,
    ) -> Result<Option<Frame<P::Output>>, FrameError> {
        Ok(parse_frame(self.decode_eof(src)?, parser))
    }
}

/// Refuses an outgoing body over the `limit` of the framing `name`.
pub(crate) fn check_outgoing(
    name: &'static str,
    limit: usize,
    body: &[u8],
) -> Result<(), FrameError> {
    if body.len() > limit {
        return Err(FrameTooLarge {
            framing: name,
            limit,
            size: body.len(),
            head: bytes::Bytes::new(),
        }
        .into());
    }
    Ok(())
}

/// Below this, a buffer is small enough for any frame to share it.
const SMALL_BUFFER: usize = 32 * 1024;

/// Takes the first `len` bytes of `src` off as a frame. A frame shares the
/// buffer it was read into (messages then keep slices of it rather than
/// copies), unless it is a small part of a large buffer: a frame keeps
/// its whole buffer alive, so a small message read next to a large one
/// would keep the large one's memory for as long as it lives. Such a frame
/// is copied instead; what a frame keeps is thus at most four times its
/// size, or a small buffer.
pub(crate) fn take_frame(src: &mut BytesMut, len: usize) -> BytesMut {
    let room = src.capacity();
    if room <= SMALL_BUFFER || len.saturating_mul(4) >= room {
        return src.split_to(len);
    }
    let len = len.min(src.len());
    let frame = BytesMut::from(&src[..len]);
    src.advance(len);
    frame
}

/// The error for input that ends inside a frame.
pub(crate) fn unexpected_eof(msg: std::fmt::Arguments<'_>) -> FrameError {
    FrameError::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        msg.to_string(),
    ))
}

/// Hands a found frame to a parser; shared by codecs whose frames are split
/// off the buffer before parsing.
pub(crate) fn parse_frame<P: FrameParser>(
    frame: Option<Frame>,
    parser: &mut P,
) -> Option<Frame<P::Output>> {
    frame.map(|f| f.map(|text| parser.parse_bytes(text.freeze())))
}
