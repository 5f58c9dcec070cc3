//! The resumable stream scanner: where the JSON value at the front of a
//! stream ends, or where its first structural error is, with bytes that
//! arrive in many reads each looked at once.
//!
//! It follows structure, not content: what each bracket opened, which
//! bytes are inside strings, and, in the innermost object or array, what
//! may come next. A closing bracket that does not match its opener, or a
//! `]`, `}`, `,` or `:` where the object or array does not allow it, is
//! reported as soon as that byte is scanned, so a value broken that way
//! ends there instead of swallowing the values after it. Nothing else is
//! checked (numbers, literals, escapes, a string or bracket where a `,`
//! was due): such text is passed through, and the message layer's parser
//! rejects it.
//!
//! The checks are exact on any text that is valid so far: a `]`, `}`, `,`
//! or `:` is reported if and only if no valid JSON text starts with the
//! bytes up to it. They need only the innermost container's kind, whether
//! an object member is past its `:`, and the last byte before the checked
//! one outside strings, whitespace aside.

use super::nesting::Nesting;
use super::string;
use super::word::{self, Word};

/// The deepest objects and arrays may nest in one value, and the default
/// limit. Past the limit the opening bracket is a structural error: the
/// scanner's memory for a frame is fixed, whatever it is sent.
pub(crate) const MAX_DEPTH: usize = Nesting::<15>::MAX;

/// What kind of top-level value is being scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No byte of the next value has been scanned yet.
    Fresh,
    /// An object or array: ends when its first bracket is closed.
    Container,
    /// A top-level string: ends at its closing quote.
    Str,
    /// Any other token: ends before whitespace or one of `{ [ " } ]`.
    Scalar,
}

/// How a scan of the buffer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scanned {
    /// The value ends after this many bytes from the front of the buffer.
    End(usize),
    /// The byte at this many bytes minus one is a structural error (or a
    /// `}` or `]` where a value should start): the frame ends with it.
    Error(usize),
    /// Every buffered byte belongs to the unfinished value.
    More,
}

/// What is left when input ends before the value does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Nothing of a value.
    Nothing,
    /// A top-level number or literal, which the end of input completes.
    Scalar,
    /// An object, array or string, cut off.
    Unfinished,
}

/// The state of the scan of the value at the front of a buffer, kept
/// across reads so no byte is scanned twice.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    kind: Kind,
    /// Bytes of the value (from the front of the buffer) already scanned.
    pos: usize,
    in_string: bool,
    /// The next byte is escaped: the last one scanned is a backslash that
    /// escapes it.
    escape: bool,
    /// The innermost object's current member is past its `:`.
    after_colon: bool,
    /// Checks read the bytes before a structural byte back from the buffer,
    /// down to here; what was before, in bytes scanned by an earlier call
    /// (and maybe dropped since), is `settled`.
    floor: usize,
    settled: Prev,
    nesting: Nesting<15>,
    /// How deep brackets may nest, at most [`MAX_DEPTH`].
    max_depth: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new(MAX_DEPTH)
    }
}

impl Scanner {
    /// A scan that has seen nothing of the next value, whose brackets may
    /// nest `max_depth` deep (at least 1, at most [`MAX_DEPTH`]).
    pub(crate) const fn new(max_depth: usize) -> Self {
        let max_depth = if max_depth < 1 {
            1
        } else if max_depth > MAX_DEPTH {
            MAX_DEPTH
        } else {
            max_depth
        };
        Scanner {
            kind: Kind::Fresh,
            pos: 0,
            in_string: false,
            escape: false,
            after_colon: false,
            floor: 0,
            settled: PREV_OPEN,
            nesting: Nesting::new(),
            max_depth,
        }
    }

    /// A scan of the next value, with the same limit.
    pub(crate) fn next(&self) -> Self {
        Self::new(self.max_depth)
    }

    /// True when no byte of the value has been scanned.
    pub(crate) fn is_fresh(&self) -> bool {
        self.kind == Kind::Fresh
    }

    /// The bytes scanned so far were dropped from the front of the buffer:
    /// the scan goes on with what comes next.
    pub(crate) fn forget_scanned(&mut self) {
        self.pos = 0;
        self.floor = 0;
    }

    /// What the end of input would leave unfinished.
    pub(crate) fn pending(&self) -> Pending {
        match self.kind {
            Kind::Fresh => Pending::Nothing,
            Kind::Scalar => Pending::Scalar,
            Kind::Container | Kind::Str => Pending::Unfinished,
        }
    }

    /// Scans `buf` from where the last call stopped; after `End` or
    /// `Error` the caller starts a new scanner. Also says how many bytes
    /// this call looked at.
    pub(crate) fn scan(&mut self, buf: &[u8]) -> (Scanned, usize) {
        let start = self.pos;
        let result = self.scan_inner(buf);
        let end = match result {
            Scanned::End(e) | Scanned::Error(e) => e,
            Scanned::More => {
                self.pos = buf.len();
                buf.len()
            }
        };
        (result, end.saturating_sub(start))
    }

    fn scan_inner(&mut self, buf: &[u8]) -> Scanned {
        let mut i = self.pos;
        if self.kind == Kind::Fresh {
            let Some(&first) = buf.first() else {
                return Scanned::More;
            };
            i = 1;
            match first {
                b'{' | b'[' => {
                    self.kind = Kind::Container;
                    self.nesting.push(first == b'{');
                }
                b'"' => {
                    self.kind = Kind::Str;
                    self.in_string = true;
                }
                b'}' | b']' => return Scanned::Error(1),
                _ => self.kind = Kind::Scalar,
            }
        }
        match self.kind {
            Kind::Scalar => {
                // Top-level scalars are short and rare (JSON-RPC messages
                // are objects or arrays), so a byte loop is enough here.
                match buf.iter().skip(i).position(|&b| ends_scalar(b)) {
                    Some(n) => Scanned::End(i + n),
                    None => Scanned::More,
                }
            }
            Kind::Str => match string::closing_quote(buf, i, &mut self.escape) {
                Some(end) => Scanned::End(end),
                None => Scanned::More,
            },
            _ => self.container(buf, i),
        }
    }

    /// Scans an object or array from `buf[i..]`, 64 bytes at a time;
    /// stops at the value's end or its first structural error.
    ///
    /// A block's quotes, backslashes and structural bytes are found a word
    /// at a time and gathered into one bit per byte. Then, for the whole
    /// block at once, runs of backslashes tell which bytes are escaped, and
    /// a prefix XOR of the unescaped quotes which are inside strings (as
    /// simdjson does it). The structural bytes left, those outside strings,
    /// are checked one by one. Measured on JSON-RPC traffic, this takes
    /// about 10 instructions a byte, against 13 for the same checks made a
    /// word at a time (such text has a `,` or `:` every ten bytes or so, so
    /// a word's branches mostly go the slow way), and twice the time of
    /// merely counting brackets, which took 4.
    fn container(&mut self, buf: &[u8], mut i: usize) -> Scanned {
        // Locals, not fields, so the loop keeps them in registers.
        let mut in_string = if self.in_string { u64::MAX } else { 0 };
        let mut escape = u64::from(self.escape);
        let mut st = Structure {
            context: context(self.nesting.in_object(), self.after_colon),
            floor: self.floor,
            settled: self.settled,
            max_depth: self.max_depth,
        };
        let mut scratch = [0u8; 64];
        let result = 'scan: loop {
            let Some(rest) = buf.get(i..).filter(|rest| !rest.is_empty()) else {
                break Scanned::More;
            };
            let n = rest.len().min(64);
            let block = Block::of(rest, &mut scratch);
            let escaped = escaped(block.backslash, &mut escape);
            let strings = prefix_xor(block.quote & !escaped) ^ in_string;
            // All ones when the block ends inside a string. Zero padding
            // past `n` holds no quote, so bit 63 is the state after `n`.
            in_string = ((strings as i64) >> 63) as u64;
            if n < 64 {
                // Whether the byte after the last one is escaped.
                escape = escaped >> n & 1;
            }
            let mut events = block.structural & !strings & !escaped;
            if events == 0 {
                i += n;
                continue;
            }
            // The byte before the block, when the checks may read it.
            let first_before = match i.checked_sub(1) {
                Some(j) if i > st.floor => buf.get(j).copied().unwrap_or(b' '),
                _ => b' ',
            };
            while events != 0 {
                let lane = events.trailing_zeros() as usize & 63;
                events &= events - 1;
                let b = block.bytes[lane];
                let before = match lane.checked_sub(1) {
                    Some(k) => block.bytes[k & 63],
                    None => first_before,
                };
                if let Some(found) = check(&mut st, &mut self.nesting, b, before, i + lane, buf) {
                    break 'scan found;
                }
            }
            i += n;
        };
        let in_string = in_string != 0;
        if result == Scanned::More && !in_string {
            // What the next read's checks need to know of these bytes. (In
            // a string, the string's closing quote will tell them.)
            st.settled = st.prev(buf, buf.len());
            st.floor = buf.len();
        }
        self.in_string = in_string;
        self.escape = escape != 0;
        self.after_colon = st.context & AFTER_COLON != 0;
        self.floor = st.floor;
        self.settled = st.settled;
        result
    }
}

/// One block of up to 64 bytes, a bit per byte (bit `k` for byte `k`).
struct Block<'a> {
    bytes: &'a [u8; 64],
    quote: u64,
    backslash: u64,
    /// `{ } [ ] , :`
    structural: u64,
}

impl<'a> Block<'a> {
    /// The block at the front of `rest`: its first 64 bytes or, at its
    /// end, fewer, copied into `scratch` and zero-padded (zero is none of
    /// the bytes looked for).
    fn of(rest: &'a [u8], scratch: &'a mut [u8; 64]) -> Block<'a> {
        let bytes = match rest.first_chunk::<64>() {
            Some(bytes) => bytes,
            None => {
                let n = rest.len().min(64);
                scratch.fill(0);
                scratch[..n].copy_from_slice(&rest[..n]);
                &*scratch
            }
        };
        let (mut quote, mut backslash, mut structural) = (0, 0, 0);
        for (k, chunk) in bytes.chunks_exact(8).enumerate() {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(chunk);
            let word = Word::from_bytes(raw);
            quote |= word::gather(word.eq(b'"')) << (8 * k);
            backslash |= word::gather(word.eq(b'\\')) << (8 * k);
            structural |= word::gather(word.structural()) << (8 * k);
        }
        Block {
            bytes,
            quote,
            backslash,
            structural,
        }
    }
}

/// The bytes of a block that a backslash escapes, given its backslashes
/// and whether its first byte is escaped (`carry`, 0 or 1), which becomes
/// whether the first byte of the next block is. In a run of backslashes
/// every other one escapes the next byte: which ones depends on whether
/// the run starts on an even or odd bit, which one addition finds for all
/// runs at once (simdjson's method). Outside strings, where a backslash is
/// never valid, it escapes the next byte all the same.
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    // A backslash that is itself escaped escapes nothing.
    let backslash = backslash & !*carry;
    let follows_backslash = backslash << 1 | *carry;
    let odd_starts = backslash & !EVEN & !follows_backslash;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN ^ (even_starts << 1)) & follows_backslash
}

/// Bit `k` is the XOR of bits `0..=k`: for quotes, whether byte `k` is
/// inside a string (an opening quote is, a closing one is not).
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// What the last byte before a checked one (outside strings, whitespace
/// aside) was, as the checks need it: one of the `PREV_` classes.
type Prev = u8;
/// `{` or `[`.
const PREV_OPEN: Prev = 0;
/// `,` or `:`.
const PREV_SEPARATOR: Prev = 1;
/// A string's closing quote: a key or a value.
const PREV_QUOTE: Prev = 2;
/// The end of a number, a literal or a nested object or array.
const PREV_VALUE: Prev = 3;
/// Whitespace, which sends the check further back.
const PREV_WHITESPACE: Prev = 4;

/// The `PREV_` class of each byte.
static PREV_CLASS: [Prev; 256] = {
    let mut t = [PREV_VALUE; 256];
    let mut b = 0;
    while b <= b' ' {
        // Control bytes outside strings are never valid; like whitespace,
        // they are left to the parser.
        t[b as usize] = PREV_WHITESPACE;
        b += 1;
    }
    t[b'"' as usize] = PREV_QUOTE;
    t[b'{' as usize] = PREV_OPEN;
    t[b'[' as usize] = PREV_OPEN;
    t[b',' as usize] = PREV_SEPARATOR;
    t[b':' as usize] = PREV_SEPARATOR;
    t
};

/// The structural state of a container scan that the checks read and
/// update, apart from the nesting itself.
struct Structure {
    /// Whether the innermost container is an object ([`IN_OBJECT`]) and
    /// its current member is past its `:` ([`AFTER_COLON`]), as bits of an
    /// index into [`FITS`].
    context: usize,
    /// Below this position the buffer is not read back: `settled` says
    /// what was there.
    floor: usize,
    settled: Prev,
    max_depth: usize,
}

impl Structure {
    /// The last byte before `at` outside strings, whitespace aside. (Just
    /// outside a string, the last byte is outside one too, or a string's
    /// closing quote.)
    fn prev(&self, buf: &[u8], at: usize) -> Prev {
        let mut j = at;
        while j > self.floor {
            j -= 1;
            match buf.get(j).map(|&b| PREV_CLASS[b as usize]) {
                Some(PREV_WHITESPACE) => {}
                Some(class) => return class,
                None => break,
            }
        }
        self.settled
    }
}

/// The bits of [`Structure::context`].
const IN_OBJECT: usize = 4;
const AFTER_COLON: usize = 8;

fn context(in_object: bool, after_colon: bool) -> usize {
    (usize::from(in_object) * IN_OBJECT) | (usize::from(after_colon) * AFTER_COLON)
}

/// The bytes checked, as the low bits of an index into [`FITS`].
const COMMA: usize = 0;
const COLON: usize = 1;
const CLOSE_OBJECT: usize = 2;
const CLOSE_ARRAY: usize = 3;
/// `{` and `[`, which are not checked (only counted against the limit).
const OPEN: u8 = 4;

/// [`COMMA`], [`COLON`], [`CLOSE_OBJECT`], [`CLOSE_ARRAY`] or [`OPEN`] for
/// each structural byte.
static EVENT: [u8; 256] = {
    let mut t = [OPEN; 256];
    t[b',' as usize] = COMMA as u8;
    t[b':' as usize] = COLON as u8;
    t[b'}' as usize] = CLOSE_OBJECT as u8;
    t[b']' as usize] = CLOSE_ARRAY as u8;
    t
};

/// Whether each checked byte fits, bit `byte | context | prev << 4` (see
/// [`Structure::context`]): the rules in one word, so a check is a shift
/// rather than a tree of branches.
const FITS: u64 = {
    let mut fits = 0u64;
    let mut index = 0;
    while index < 64 {
        let byte = index & 3;
        let in_object = index & IN_OBJECT != 0;
        let after_colon = index & AFTER_COLON != 0;
        let prev = (index >> 4) as Prev;
        let ends_value = prev == PREV_QUOTE || prev == PREV_VALUE;
        let ok = match byte {
            COMMA => ends_value && (after_colon || !in_object),
            COLON => in_object && !after_colon && prev == PREV_QUOTE,
            // `}`: right after `{`, or after a member's value.
            CLOSE_OBJECT => {
                in_object
                    && if after_colon {
                        ends_value
                    } else {
                        prev == PREV_OPEN
                    }
            }
            // `]`: right after `[`, or after an entry.
            _ => !in_object && prev != PREV_SEPARATOR,
        };
        fits |= (ok as u64) << index;
        index += 1;
    }
    fits
};

/// Checks and applies the structural byte `b` at `at` (outside strings),
/// whose preceding byte is `before` (whitespace there sends the check back
/// through the buffer): `Some` when it ends the value or is an error.
#[inline(always)]
fn check(
    st: &mut Structure,
    nesting: &mut Nesting<15>,
    b: u8,
    before: u8,
    at: usize,
    buf: &[u8],
) -> Option<Scanned> {
    let event = EVENT[b as usize];
    if event == OPEN {
        let object = b == b'{';
        if nesting.depth() >= st.max_depth || !nesting.push(object) {
            return Some(Scanned::Error(at + 1));
        }
        st.context = context(object, false);
        return None;
    }
    let event = usize::from(event);
    let mut prev = PREV_CLASS[before as usize];
    if prev == PREV_WHITESPACE {
        prev = st.prev(buf, at);
    }
    if FITS >> (event | st.context | usize::from(prev) << 4) & 1 == 0 {
        return Some(Scanned::Error(at + 1));
    }
    if event <= COLON {
        // `,` or `:`: the member is past its `:` after a `:` only.
        st.context = (st.context & !AFTER_COLON) | (event * AFTER_COLON);
        return None;
    }
    nesting.pop();
    if nesting.depth() == 0 {
        return Some(Scanned::End(at + 1));
    }
    // A closed container is a value of the one around it.
    st.context = context(nesting.in_object(), true);
    None
}

/// Whether `b` ends a top-level number or literal: whitespace, or a byte
/// that starts or ends a container or string.
fn ends_scalar(b: u8) -> bool {
    super::is_whitespace(b) || matches!(b, b'{' | b'[' | b'"' | b'}' | b']')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner's rules one byte at a time, as plainly as they can be
    /// written: where the value at the front of `buf` ends, if it does.
    fn reference(buf: &[u8]) -> Option<Scanned> {
        let first = *buf.first()?;
        let mut stack = Vec::new();
        let mut in_string = false;
        match first {
            b'{' | b'[' => stack.push(first == b'{'),
            b'"' => in_string = true,
            b'}' | b']' => return Some(Scanned::Error(1)),
            _ => {
                let n = buf[1..].iter().position(|&b| ends_scalar(b))?;
                return Some(Scanned::End(n + 1));
            }
        }
        let (mut escape, mut after_colon, mut prev) = (false, false, PREV_OPEN);
        for (i, &b) in buf.iter().enumerate().skip(1) {
            let in_object = stack.last() == Some(&true);
            if in_string {
                if escape {
                    escape = false;
                } else if b == b'\\' {
                    escape = true;
                } else if b == b'"' {
                    in_string = false;
                    prev = PREV_QUOTE;
                    if stack.is_empty() {
                        return Some(Scanned::End(i + 1));
                    }
                }
                continue;
            }
            if escape {
                // A backslash outside strings (never valid) escapes the
                // byte after it as inside one; that byte only counts as
                // the byte before the next structural one.
                escape = false;
                prev = match b {
                    0..=b' ' => prev,
                    b'"' => PREV_QUOTE,
                    b'{' | b'[' => PREV_OPEN,
                    b',' | b':' => PREV_SEPARATOR,
                    _ => PREV_VALUE,
                };
                continue;
            }
            let fits = match b {
                // Control bytes outside strings are never valid; like
                // whitespace, they are left to the parser.
                0..=b' ' => true,
                b'"' => {
                    in_string = true;
                    true
                }
                b'{' | b'[' => {
                    stack.push(b == b'{');
                    after_colon = false;
                    prev = PREV_OPEN;
                    stack.len() <= MAX_DEPTH
                }
                b'}' | b']' => {
                    let object = b == b'}';
                    let fits = object == in_object
                        && match (object, after_colon, prev) {
                            (true, true, p) => p == PREV_QUOTE || p == PREV_VALUE,
                            (true, false, p) => p == PREV_OPEN,
                            (false, _, p) => p != PREV_SEPARATOR,
                        };
                    stack.pop();
                    if fits && stack.is_empty() {
                        return Some(Scanned::End(i + 1));
                    }
                    after_colon = true;
                    prev = PREV_VALUE;
                    fits
                }
                b',' => {
                    let fits =
                        matches!(prev, PREV_QUOTE | PREV_VALUE) && (after_colon || !in_object);
                    after_colon = false;
                    prev = PREV_SEPARATOR;
                    fits
                }
                b':' => {
                    let fits = in_object && !after_colon && prev == PREV_QUOTE;
                    after_colon = true;
                    prev = PREV_SEPARATOR;
                    fits
                }
                b'\\' => {
                    escape = true;
                    prev = PREV_VALUE;
                    true
                }
                _ => {
                    prev = PREV_VALUE;
                    true
                }
            };
            if !fits {
                return Some(Scanned::Error(i + 1));
            }
        }
        None
    }

    /// Random inputs over the bytes the scanner cares about and their
    /// look-alikes with the high bit set (`0xdb` is `[` | 0x80, `0xa2` is
    /// `"` | 0x80, ...) and 0x20 bit changed (`|` beside `\`), fed to the
    /// resumable scanner in growing prefixes of several step patterns: it
    /// must find what the byte-at-a-time rules find, at the first prefix
    /// that holds it, with every byte of interest landing on every lane
    /// and word boundary along the way.
    #[test]
    fn word_scanner_matches_byte_rules() {
        const ALPHABET: &[u8] = b"\"\"\"\"\\\\{}[]{}[]{}[],,::a1 \n:,|\x00\x02\x7f\xdb\xfb\xdd\xfd\xa2\xdc\xfc\xac\xba\xc3\xa9";
        // Mostly well-formed pieces, so that scans often get far.
        const PIECES: &[&[u8]] = &[
            b"\"k\":",
            b"\"v\",",
            b"1,",
            b"[",
            b"]",
            b"{",
            b"}",
            b"{\"a\":[1,2]},",
            b"\"\\\"\"",
            b"  ",
            b"true",
        ];
        const FIRST: &[u8] = b"{[\"{[\"1";
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n
        };
        for case in 0..6000 {
            let len = 1 + next(if case % 4 == 0 { 300 } else { 40 });
            let mut input = vec![FIRST[next(FIRST.len())]];
            while input.len() < len {
                if next(3) == 0 {
                    input.push(ALPHABET[next(ALPHABET.len())]);
                } else {
                    input.extend_from_slice(PIECES[next(PIECES.len())]);
                }
            }
            let expect = reference(&input);
            let random_step = 1 + next(20);
            for step in [input.len(), 1, 3, 7, 8, 9, 16, random_step] {
                let mut scanner = Scanner::default();
                let mut got = None;
                let mut k = 0;
                while k < input.len() {
                    k = (k + step).min(input.len());
                    match scanner.scan(&input[..k]).0 {
                        Scanned::More => assert_eq!(scanner.pos, k),
                        found => {
                            got = Some(found);
                            break;
                        }
                    }
                }
                assert_eq!(got, expect, "input {input:?}, step {step}");
                if let Some(Scanned::End(e) | Scanned::Error(e)) = got {
                    // A scalar's end is only known from the byte after it.
                    let seen = if input[0] == b'1' { e + 1 } else { e };
                    assert!(seen <= k && seen + step > k, "found late: {e} at {k}");
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
                let mut scanner = Scanner::default();
                assert_eq!(scanner.scan(&input[..cut]).0, Scanned::More);
                assert_eq!(
                    scanner.scan(&input).0,
                    Scanned::End(expect),
                    "pad {pad}, cut {cut}"
                );
            }
        }
    }

    #[test]
    fn valid_text_is_never_an_error_and_each_bad_separator_is() {
        let deep = format!("{}1{}", "[{\"k\":".repeat(40), "}]".repeat(40));
        for good in [
            &br#"{"a":[1,{"b":"}]\"x"},[],{}],"c" : -1.5e3 ,"d":true}"#[..],
            b"[ 1 , [ ] , { } , \"x\" , null ]",
            deep.as_bytes(),
        ] {
            assert_eq!(reference(good), Some(Scanned::End(good.len())));
            assert_eq!(Scanner::default().scan(good).0, Scanned::End(good.len()));
        }
        for (bad, at) in [
            (&b"[,"[..], 2),
            (b"[1,]", 4),
            (b"{,", 2),
            (b"{:", 2),
            (b"{\"a\",", 5),
            (b"{\"a\"}", 5),
            (b"{\"a\":}", 6),
            (b"{\"a\":1,}", 8),
            (b"{\"a\":1:", 7),
            (b"{1:", 3),
            (b"[1:", 3),
            (b"[}", 2),
            (b"{]", 2),
            (b"{\"a\":[}", 7),
        ] {
            assert_eq!(
                Scanner::default().scan(bad).0,
                Scanned::Error(at),
                "{bad:?}"
            );
        }
    }
}
