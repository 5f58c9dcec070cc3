//! [`JsonStreamCodec`]: JSON values written back to back with no delimiter,
//! as OVSDB and SPDK frame them.
//!
//! A value's end is found by a resumable scanner that tracks only nesting
//! depth and string/escape state, so bytes arriving in many small reads are
//! each looked at once. Inside objects and arrays it works on 8-byte words
//! with bit tricks (SWAR), since JSON-RPC text has a quote every few bytes
//! and a per-byte loop pays for each. The scanner does not validate JSON: anything between
//! the brackets is passed through, and a top-level token that is not an
//! object, array or string (a number, a literal, garbage) runs until the next
//! whitespace or structural byte. Such frames fail later, in the message
//! layer; this codec never fails on content.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{
    check_outgoing, take_frame, unexpected_eof, Frame, FrameError, FrameParser, FrameTooLarge,
    Framing, DEFAULT_MAX_FRAME,
};

const NAME: &str = "json-stream";

/// Byte classes for the byte-at-a-time parts of the scanner: a frame's
/// first byte, top-level scalars and the whitespace between frames.
const OTHER: u8 = 0;
const WS: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;
const QUOTE: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS;
    t[b'\n' as usize] = WS;
    t[b'\r' as usize] = WS;
    t[b'{' as usize] = OPEN;
    t[b'[' as usize] = OPEN;
    t[b'}' as usize] = CLOSE;
    t[b']' as usize] = CLOSE;
    t[b'"' as usize] = QUOTE;
    t
};

/// What kind of top-level value the current frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No byte of the next frame has been scanned yet.
    Fresh,
    /// An object or array: ends when depth returns to 0.
    Container,
    /// A top-level string: ends at its closing quote.
    Str,
    /// Any other token: ends before whitespace or a structural byte.
    Scalar,
}

/// Scanner state for the frame at the front of the buffer, kept across
/// `decode` calls so no byte is scanned twice.
#[derive(Debug, Clone)]
struct Scan {
    kind: Kind,
    /// Bytes of the frame (from the front of the buffer) already scanned.
    /// Always 0 while discarding, since scanned bytes are dropped at once.
    pos: usize,
    depth: usize,
    in_string: bool,
    /// The last scanned byte was a backslash inside a string.
    escape: bool,
}

impl Scan {
    const FRESH: Scan = Scan {
        kind: Kind::Fresh,
        pos: 0,
        depth: 0,
        in_string: false,
        escape: false,
    };
}

/// How a scan of the buffer ended.
enum Scanned {
    /// The frame ends after this many bytes from the front of the buffer.
    End(usize),
    /// Every buffered byte belongs to the unfinished frame.
    More,
}

/// Splits a stream of back-to-back JSON values (no delimiter) into frames.
///
/// Whitespace between values is skipped. Objects and arrays end at their
/// matching bracket, strings at their closing quote; any other top-level
/// token ends before the next whitespace or one of `{ [ " } ]` (a stray `}`
/// or `]` is a one-byte frame), or at end of input.
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
/// let mut buf = BytesMut::from(&b"{\"id\":1}\n[2, 3] "[..]);
/// let mut frames = Vec::new();
/// while let Some(Frame::Complete(text)) = codec.decode(&mut buf).unwrap() {
///     frames.push(text);
/// }
/// assert_eq!(frames, [&b"{\"id\":1}"[..], &b"[2, 3]"[..]]);
/// ```
#[derive(Debug, Clone)]
pub struct JsonStreamCodec {
    max_frame: usize,
    scan: Scan,
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
    /// A codec with the [`DEFAULT_MAX_FRAME`] limit.
    pub fn new() -> Self {
        JsonStreamCodec {
            max_frame: DEFAULT_MAX_FRAME,
            scan: Scan::FRESH,
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
        !self.discarding && self.scan.kind == Kind::Fresh
    }

    /// Drops whitespace at the front of the buffer before a frame.
    fn skip_whitespace(&mut self, src: &mut BytesMut) {
        let n = src.iter().take_while(|&&b| CLASS[b as usize] == WS).count();
        if n > 0 {
            self.scanned += n as u64;
            src.advance(n);
        }
    }

    /// Scans `buf` from where the last call stopped, for the end of the
    /// frame at its front. `buf` must be non-empty if the frame is fresh.
    fn scan(&mut self, buf: &[u8]) -> Scanned {
        let start = self.scan.pos;
        let result = scan_from(&mut self.scan, buf);
        let end = match result {
            Scanned::End(e) => e,
            Scanned::More => buf.len(),
        };
        self.scanned += end.saturating_sub(start) as u64;
        result
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

            match self.scan(&src[..]) {
                Scanned::End(len) => {
                    self.scan = Scan::FRESH;
                    if self.discarding {
                        self.discarding = false;
                        src.advance(len);
                        tracing::debug!("end of oversized json-stream frame reached");
                        continue;
                    }
                    if len > self.max_frame {
                        src.advance(len);
                        return Ok(Some(self.oversized(len)));
                    }
                    return Ok(Some(Frame::Complete(emit.take(src, len))));
                }
                Scanned::More => {
                    let seen = src.len();
                    if self.discarding {
                        src.clear();
                        self.scan.pos = 0;
                        return Ok(None);
                    }
                    if seen > self.max_frame {
                        src.clear();
                        self.scan.pos = 0;
                        self.discarding = true;
                        return Ok(Some(self.oversized(seen)));
                    }
                    self.scan.pos = seen;
                    return Ok(None);
                }
            }
        }
    }

    fn oversized<T>(&self, size: usize) -> Frame<T> {
        tracing::debug!(
            limit = self.max_frame,
            size,
            "skipping oversized json-stream frame"
        );
        Frame::Oversized(FrameTooLarge {
            framing: NAME,
            limit: self.max_frame,
            size,
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
        let kind = self.scan.kind;
        let discarding = self.discarding;
        self.scan = Scan::FRESH;
        self.discarding = false;
        if discarding {
            // The oversized frame was already reported; its end is simply the
            // end of input.
            src.clear();
            return Ok(None);
        }
        match kind {
            Kind::Fresh => Ok(None),
            Kind::Scalar => {
                // decode_inner already reported it if it were over the limit.
                let len = src.len();
                Ok(Some(Frame::Complete(emit.take(src, len))))
            }
            Kind::Container | Kind::Str => {
                let left = src.len();
                src.clear();
                Err(unexpected_eof(format_args!(
                    "{left} bytes of an unfinished JSON value left at end of input"
                )))
            }
        }
    }
}

/// The resumable scan itself. Multi-byte UTF-8 needs no care here, even
/// when a character is split across reads: every byte of a multi-byte
/// sequence is >= 0x80, so none can be mistaken for a quote, backslash,
/// bracket or whitespace.
fn scan_from(st: &mut Scan, buf: &[u8]) -> Scanned {
    let len = buf.len();
    let mut i = st.pos;
    if st.kind == Kind::Fresh {
        let Some(&first) = buf.first() else {
            return Scanned::More;
        };
        i = 1;
        match CLASS[first as usize] {
            OPEN => {
                st.kind = Kind::Container;
                st.depth = 1;
            }
            QUOTE => {
                st.kind = Kind::Str;
                st.in_string = true;
            }
            CLOSE => return Scanned::End(1),
            _ => st.kind = Kind::Scalar,
        }
    }

    if st.kind == Kind::Scalar {
        // Top-level scalars are short and rare (JSON-RPC messages are
        // objects or arrays), so a byte loop is enough here.
        while i < len {
            if CLASS[buf[i] as usize] != OTHER {
                return Scanned::End(i);
            }
            i += 1;
        }
        st.pos = len;
        return Scanned::More;
    }

    let end = if st.kind == Kind::Str {
        scan_string(st, buf, i)
    } else {
        scan_container(st, buf, i)
    };
    match end {
        Some(end) => Scanned::End(end),
        None => {
            st.pos = len;
            Scanned::More
        }
    }
}

/// Scans a top-level string from `buf[i..]` for its closing quote. Such
/// frames are rare (JSON-RPC messages are objects or arrays), so this is
/// the plain `memchr2` loop.
fn scan_string(st: &mut Scan, buf: &[u8], mut i: usize) -> Option<usize> {
    loop {
        if st.escape {
            if i >= buf.len() {
                return None;
            }
            st.escape = false;
            i += 1;
        }
        i += memchr::memchr2(b'"', b'\\', &buf[i..])? + 1;
        if buf[i - 1] == b'\\' {
            st.escape = true;
        } else {
            return Some(i);
        }
    }
}

// SWAR ("SIMD within a register") helpers. A word holds 8 bytes of input,
// the first byte in the lowest lane (little-endian order regardless of the
// target), so lane order is input order and `trailing_zeros` finds the
// earliest byte. A *mask* has the high bit (0x80) of a lane set where that
// lane's byte is of interest, and every other bit clear.

/// The low seven bits of every lane.
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
/// The high bit of every lane.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// `b` in every lane.
const fn splat(b: u8) -> u64 {
    u64::from_le_bytes([b; 8])
}

/// The first look at a word: its quotes, and its bytes that are one of
/// `[ \ ] { | }`, the only bytes whose low 7 bits OR 0x20 fall in
/// 0x7b..=0x7d (`[` | 0x20 is `{`, `\` | 0x20 is `|`, `]` | 0x20 is `}`).
/// A word with neither can be skipped whether or not it is in a string;
/// brackets and `|` in strings, being rare, just cost the full look.
struct Glance {
    word: u64,
    /// The low 7 bits of each lane OR 0x20.
    folded: u64,
    quote: u64,
    /// `[ \ ] { | }`.
    special: u64,
}

impl Glance {
    fn of(word: u64) -> Glance {
        // Only ASCII bytes are of interest, and with the high bits cleared
        // no lane's sum below can carry into the next lane, which keeps
        // every test exact (no false positives from borrows or carries).
        let ascii = !word & HIGH;
        let low = word & LOW7;
        // `0x80 - x` keeps a lane's high bit exactly when the lane is 0
        // (x < 0x80 in every lane).
        let quote = ascii & (HIGH - (low ^ splat(b'"')));
        let folded = low | splat(0x20);
        let at_least_7b = folded + splat(0x80 - 0x7b);
        let at_least_7e = folded + splat(0x80 - 0x7e);
        Glance {
            word,
            folded,
            quote,
            special: ascii & at_least_7b & !at_least_7e,
        }
    }

    /// Splits `special` into what the scanner acts on, telling the bytes
    /// apart by bits 0 and 1 of `folded` (0x7b: both, 0x7d: bit 0 only,
    /// 0x7c: neither) and bit 5 of the byte itself (clear in `\`, set in
    /// `|`). Shifting a bit up to bit 7 of its lane moves other bits into
    /// neighbouring lanes' low bits, which `special` masks out.
    fn split(&self) -> Masks {
        let bit0 = self.folded << 7;
        let bit1 = self.folded << 6;
        let bit5 = self.word << 2;
        Masks {
            quote: self.quote,
            backslash: self.special & !bit0 & !bit5,
            open: self.special & bit0 & bit1,
            close: self.special & bit0 & !bit1,
        }
    }
}

/// The bytes the scanner reacts to in one word.
struct Masks {
    quote: u64,
    backslash: u64,
    /// `{` or `[`.
    open: u64,
    /// `}` or `]`.
    close: u64,
}

/// For each lane, the count of set lanes up to and including it (at most
/// 8, so no lane overflows): multiplying by 0x0101..01 adds every lane into
/// all the lanes above it. The top lane holds the total.
fn running_count(mask: u64) -> u64 {
    (mask >> 7).wrapping_mul(splat(1))
}

/// How many lanes of a mask are set. (`count_ones` would be a long
/// bit-twiddling sequence on x86-64 without the optional `popcnt`.)
fn lanes_set(mask: u64) -> usize {
    (running_count(mask) >> 56) as usize
}

/// The lane (byte index in the word) of a mask's lowest set bit.
fn lane_of(bit: u64) -> usize {
    (bit.trailing_zeros() / 8) as usize
}

/// Scans an object or array from `buf[i..]` a word at a time, updating
/// `st`; returns the frame's length if its end is in `buf`.
fn scan_container(st: &mut Scan, buf: &[u8], mut i: usize) -> Option<usize> {
    let len = buf.len();
    if st.escape {
        // The last read ended in a backslash inside a string: the byte
        // after it is taken literally, whatever it is.
        if i >= len {
            return None;
        }
        st.escape = false;
        i += 1;
    }
    // Locals, not `st`'s fields, so the loop keeps them in registers.
    let mut depth = st.depth;
    let mut in_string = u64::from(st.in_string);
    let mut rest = &buf[i..];
    let end = loop {
        let (word, avail) = match rest.first_chunk::<8>() {
            Some(word) => (u64::from_le_bytes(*word), 8),
            None if rest.is_empty() => break None,
            None => {
                // The last few bytes, zero-padded: a zero byte is none of
                // the bytes the scanner looks for.
                let mut word = [0u8; 8];
                word[..rest.len()].copy_from_slice(rest);
                (u64::from_le_bytes(word), rest.len())
            }
        };
        match step(&mut depth, &mut in_string, word, avail) {
            Step::Next => rest = &rest[avail..],
            Step::End(lane) => break Some(len - rest.len() + lane + 1),
            // Resume after the escaped byte, or wait for it to arrive.
            Step::Escaped => match rest.get(avail + 1..) {
                Some(after) => rest = after,
                None => {
                    st.escape = true;
                    break None;
                }
            },
        }
    };
    st.depth = depth;
    st.in_string = in_string != 0;
    end
}

/// What one word did to the scan.
enum Step {
    /// Go on with the next word.
    Next,
    /// The frame ends at this lane.
    End(usize),
    /// The word's last real byte is a backslash inside a string, so the
    /// byte after it is escaped.
    Escaped,
}

/// Scans one word: `depth` and `in_string` (1 inside a string, 0 outside,
/// as a number so quote counts can be added to it) are the state before
/// it and are updated; `avail` is how many of its lanes are real input.
///
/// Inside a string only quotes and backslashes matter, outside one only
/// quotes and brackets. A word with quotes at most (the common case) only
/// flips the string state by their parity. A word without backslashes is
/// resolved with mask arithmetic: the running parity of its quotes tells
/// which lanes are inside a string, and the brackets outside strings change
/// the depth by their counts unless there are enough closers for the depth
/// to reach 0 in this word. Words with a backslash (rare in JSON-RPC
/// traffic) are walked one interesting byte at a time.
fn step(depth: &mut usize, in_string: &mut u64, word: u64, avail: usize) -> Step {
    let glance = Glance::of(word);
    if glance.special == 0 {
        *in_string ^= lanes_set(glance.quote) as u64 & 1;
        return Step::Next;
    }
    let m = glance.split();
    if m.backslash != 0 {
        let mut inside = *in_string != 0;
        let step = walk_word(depth, &mut inside, &m, avail);
        *in_string = u64::from(inside);
        return step;
    }
    // Lane k of `inside` is set when the scanner is inside a string after
    // byte k: the parity of the quotes up to and including lane k, plus one
    // when the word started inside a string.
    let parity = running_count(m.quote) + *in_string * splat(1);
    let inside = (parity << 7) & HIGH;
    *in_string = inside >> 63;
    let open = m.open & !inside;
    let close = m.close & !inside;
    let closes = lanes_set(close);
    if *depth > closes {
        // The depth cannot reach 0 in this word.
        *depth = depth.saturating_add(lanes_set(open)) - closes;
        return Step::Next;
    }
    match walk_brackets(depth, open, close) {
        Some(lane) => Step::End(lane),
        None => Step::Next,
    }
}

/// Applies one word's brackets (all outside strings) in order; returns the
/// lane of the closer that brings the depth to 0, if any.
fn walk_brackets(depth: &mut usize, open: u64, close: u64) -> Option<usize> {
    let mut bits = open | close;
    while bits != 0 {
        let bit = bits & bits.wrapping_neg();
        bits ^= bit;
        if open & bit != 0 {
            *depth = depth.saturating_add(1);
        } else {
            *depth = depth.saturating_sub(1);
            if *depth == 0 {
                return Some(lane_of(bit));
            }
        }
    }
    None
}

/// Walks one word's interesting bytes in order, as a byte-at-a-time scanner
/// would; `avail` is how many bytes from the word's start are real input
/// (lanes past it are padding).
fn walk_word(depth: &mut usize, in_string: &mut bool, m: &Masks, avail: usize) -> Step {
    let last = avail - 1;
    let mut bits = m.quote | m.backslash | m.open | m.close;
    while bits != 0 {
        let bit = bits & bits.wrapping_neg();
        bits ^= bit;
        let lane = lane_of(bit);
        if *in_string {
            if m.backslash & bit != 0 {
                if lane == last {
                    return Step::Escaped;
                }
                // Drop the escaped byte, whatever it is.
                bits &= !(bit << 8);
            } else if m.quote & bit != 0 {
                *in_string = false;
            }
        } else if m.quote & bit != 0 {
            *in_string = true;
        } else if m.open & bit != 0 {
            *depth = depth.saturating_add(1);
        } else if m.close & bit != 0 {
            *depth = depth.saturating_sub(1);
            if *depth == 0 {
                return Step::End(lane);
            }
        }
    }
    Step::Next
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
    fn deep_nesting_does_not_recurse() {
        let depth = 1_000_000;
        let mut input = vec![b'['; depth];
        input.resize(2 * depth, b']');
        let frames = frames_of(&mut JsonStreamCodec::new(), &input, 4096);
        assert_eq!(frames.len(), 1);
        assert!(matches!(&frames[0], Frame::Complete(b) if b.len() == 2 * depth));
    }

    /// The byte-at-a-time scanner the word-at-a-time one replaced: where
    /// the frame at the front of `buf` ends, if it does.
    fn reference_end(buf: &[u8]) -> Option<usize> {
        let first = *buf.first()?;
        let (mut depth, mut in_string) = match first {
            b'{' | b'[' => (1usize, false),
            b'"' => (0, true),
            b'}' | b']' => return Some(1),
            _ => {
                let len = buf[1..].iter().position(|&b| CLASS[b as usize] != OTHER)?;
                return Some(len + 1);
            }
        };
        let mut escape = false;
        for (i, &b) in buf.iter().enumerate().skip(1) {
            if in_string {
                if escape {
                    escape = false;
                } else if b == b'\\' {
                    escape = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
            } else {
                match b {
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    b'"' => in_string = true,
                    _ => {}
                }
            }
        }
        None
    }

    /// Random inputs over the bytes the scanner cares about, their
    /// look-alikes with the high bit set (`0xdb` is `[` | 0x80, `0xa2` is
    /// `"` | 0x80, ...), and `|`, which shares the backslash's class in
    /// the first look at a word, fed to the
    /// resumable scanner in growing prefixes of several step patterns: it
    /// must find the same end as the reference, at the first prefix that
    /// holds it, with every backslash, bracket and quote landing on every
    /// lane and word boundary along the way.
    #[test]
    fn word_scanner_matches_byte_scanner() {
        const ALPHABET: &[u8] =
            b"\"\"\"\\\\\\{}[]{}[]a :,|\x00\x02\x7f\xdb\xfb\xdd\xfd\xa2\xdc\xfc\xc3\xa9";
        const FIRST: &[u8] = b"{[\"{[\"1";
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n
        };
        for case in 0..4000 {
            let len = 1 + next(if case % 4 == 0 { 300 } else { 40 });
            let mut input = vec![FIRST[next(FIRST.len())]];
            input.extend((1..len).map(|_| ALPHABET[next(ALPHABET.len())]));
            let expect = reference_end(&input);
            let random_step = 1 + next(20);
            for step in [input.len(), 1, 3, 7, 8, 9, 16, random_step] {
                let mut st = Scan::FRESH;
                let mut got = None;
                let mut k = 0;
                while k < input.len() {
                    k = (k + step).min(input.len());
                    match scan_from(&mut st, &input[..k]) {
                        Scanned::End(e) => {
                            got = Some(e);
                            break;
                        }
                        Scanned::More => assert_eq!(st.pos, k),
                    }
                }
                if let (Some(e), Some(g)) = (expect, got) {
                    // A scalar's end is only known from the byte after it.
                    let seen = if input[0] == b'1' { g + 1 } else { g };
                    assert!(
                        seen <= k && seen + step > k,
                        "found late: {g} at prefix {k}"
                    );
                    assert_eq!(g, e, "input {input:?}, step {step}");
                } else {
                    assert_eq!(got, expect, "input {input:?}, step {step}");
                }
            }
        }
    }

    #[test]
    fn escape_at_every_word_position_carries_over() {
        // A backslash at each offset, with the escaped quote arriving in the
        // same word, the next word, or the next read.
        for pad in 0..20 {
            let mut input = b"[\"".to_vec();
            input.extend(std::iter::repeat_n(b'x', pad));
            input.extend_from_slice(b"\\\"]\"]");
            let expect = input.len();
            for cut in 1..input.len() {
                let mut st = Scan::FRESH;
                assert!(matches!(scan_from(&mut st, &input[..cut]), Scanned::More));
                assert!(
                    matches!(scan_from(&mut st, &input), Scanned::End(e) if e == expect),
                    "pad {pad}, cut {cut}"
                );
            }
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
                size: 7
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
