//! Eight bytes at a time: masks of the bytes a scanner looks for in one
//! word of input (SWAR, "SIMD within a register").
//!
//! A word holds 8 bytes of input, the first in the lowest lane
//! (little-endian order whatever the target), so lane order is input order
//! and `trailing_zeros` finds the earliest byte. A *mask* has the high bit
//! (0x80) of a lane set where that lane's byte is of interest, and every
//! other bit clear. Every mask here is exact in every lane: the arithmetic
//! runs on the low seven bits of ASCII lanes, where no lane's sum can carry
//! or borrow into the next, so a scanner may act on any set lane, not only
//! the first.

/// The high bit of every lane.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;
/// The low seven bits of every lane.
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// `b` in every lane.
const fn splat(b: u8) -> u64 {
    u64::from_le_bytes([b; 8])
}

/// One word of input, ready for its masks to be taken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Word {
    /// The low seven bits of each lane.
    low: u64,
    /// The high bit of each lane whose byte is ASCII.
    ascii: u64,
}

impl Word {
    #[inline]
    fn new(raw: u64) -> Word {
        Word {
            low: raw & LOW7,
            ascii: !raw & HIGH,
        }
    }

    /// A word of 8 bytes.
    #[inline]
    pub(crate) fn from_bytes(bytes: [u8; 8]) -> Word {
        Word::new(u64::from_le_bytes(bytes))
    }

    /// The 8 bytes of `text` from `at`, and how many of them are real: the
    /// last few bytes of `text` come zero-padded (a zero byte is a control
    /// character, which each scanner treats as it treats the end of input).
    /// `None` from the end of `text` on.
    #[inline]
    pub(crate) fn load(text: &[u8], at: usize) -> Option<(Word, usize)> {
        let rest = text.get(at..).filter(|rest| !rest.is_empty())?;
        Some(match rest.first_chunk::<8>() {
            Some(bytes) => (Word::new(u64::from_le_bytes(*bytes)), 8),
            None => {
                let mut bytes = [0u8; 8];
                bytes[..rest.len()].copy_from_slice(rest);
                (Word::new(u64::from_le_bytes(bytes)), rest.len())
            }
        })
    }

    /// Lanes holding `b`, an ASCII byte. (`0x80 - x` keeps a lane's high bit
    /// exactly when the lane's `x` is 0, as `x < 0x80` in every lane.)
    #[inline]
    pub(crate) fn eq(self, b: u8) -> u64 {
        self.ascii & (HIGH - (self.low ^ splat(b)))
    }

    /// Lanes holding a byte that is not ASCII, or is below `n`, or is `a`
    /// or `b`: what ends a run of plain string bytes, found with one mask
    /// at the end rather than one per test.
    #[inline]
    pub(crate) fn not_ascii_or_below_or(self, n: u8, a: u8, b: u8) -> u64 {
        let below = !(self.low + splat(0x80 - n));
        let a = HIGH - (self.low ^ splat(a));
        let b = HIGH - (self.low ^ splat(b));
        (!self.ascii | below | a | b) & HIGH
    }

    /// The bytes that give JSON its structure: `{ } [ ] , :`.
    #[inline]
    pub(crate) fn structural(self) -> u64 {
        // The brackets are the only bytes whose low seven bits OR 0x20 are
        // 0x7b or 0x7d, the odd numbers in 0x7b..=0x7d.
        let folded = self.low | splat(0x20);
        let at_least_7b = folded + splat(0x80 - 0x7b);
        let at_least_7e = folded + splat(0x80 - 0x7e);
        let brackets = at_least_7b & !at_least_7e & folded << 7;
        let comma = HIGH - (self.low ^ splat(b','));
        let colon = HIGH - (self.low ^ splat(b':'));
        // One mask for all three: each test sets other bits in its lanes.
        self.ascii & (brackets | comma | colon)
    }
}

/// A mask's lanes as the low 8 bits of a number, lane `k` as bit `k`:
/// each step doubles the run of lanes gathered next to each other. (Shifts
/// rather than a multiplication, because the compiler turns the loop over a
/// block's words into vector code, where a 64-bit multiplication is three.)
#[inline]
pub(crate) fn gather(mask: u64) -> u64 {
    let x = mask >> 7;
    let x = x | x >> 7;
    let x = x | x >> 14;
    let x = x | x >> 28;
    x & 0xff
}

/// The lane (byte index in the word) of a mask's lowest set bit.
#[inline]
pub(crate) fn lane_of(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_exact_in_every_lane() {
        let interesting = [
            0u8, 1, 0x1f, b' ', b'!', b'"', b',', b':', b'[', b'\\', b']', b'{', b'|', b'}', 0x7f,
            0x80, 0xa2, 0xdb, 0xfb, 0xff,
        ];
        for (k, &fill) in interesting.iter().enumerate() {
            let mut bytes = [fill; 8];
            for lane in 0..8 {
                bytes[lane] = interesting[(k + lane * 3) % interesting.len()];
            }
            let (w, _) = Word::load(&bytes, 0).unwrap();
            let want = |f: &dyn Fn(u8) -> bool| {
                bytes.iter().enumerate().fold(0u64, |m, (lane, &b)| {
                    m | (u64::from(f(b)) << (lane * 8 + 7))
                })
            };
            assert_eq!(w.eq(b'"'), want(&|b| b == b'"'), "{bytes:x?}");
            assert_eq!(w.eq(b','), want(&|b| b == b','), "{bytes:x?}");
            assert_eq!(
                w.structural(),
                want(&|b| b"{}[],:".contains(&b)),
                "{bytes:x?}"
            );
            let m = w.eq(b'\\');
            let bits = (0..8).fold(0u64, |g, lane| g | (m >> (lane * 8 + 7) & 1) << lane);
            assert_eq!(gather(m), bits, "{bytes:x?}");
            assert_eq!(
                w.not_ascii_or_below_or(0x20, b'"', b'\\'),
                want(&|b| !(0x20..0x80).contains(&b) || b == b'"' || b == b'\\'),
                "{bytes:x?}"
            );
        }
    }

    #[test]
    fn the_tail_is_zero_padded() {
        let (w, avail) = Word::load(b"ab\"", 0).unwrap();
        assert_eq!(avail, 3);
        assert_eq!(lane_of(w.eq(b'"')), 2);
        assert_eq!(w.not_ascii_or_below_or(1, 0, 0), 0x8080_8080_8000_0000);
        assert!(Word::load(b"ab", 2).is_none());
        assert!(Word::load(b"ab", 7).is_none());
    }
}
