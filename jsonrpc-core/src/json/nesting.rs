//! Bracket matching: what each open bracket opened, as one bit a level,
//! with a bound on how deep it goes.

/// A stack of open brackets, a bit each (set for `{`, clear for `[`), at
/// most `64 * (1 + SPILL)` deep.
///
/// The innermost 64 levels are one word, the innermost at its lowest bit,
/// so the question asked most (is the innermost an object?) is one bit
/// test; outer levels spill into `SPILL` more words, for the stream
/// scanner, which must follow whatever depth it is sent up to its limit.
#[derive(Debug, Clone)]
pub(crate) struct Nesting<const SPILL: usize> {
    depth: usize,
    inner: u64,
    outer: [u64; SPILL],
}

impl<const SPILL: usize> Nesting<SPILL> {
    /// The most levels it holds.
    pub(crate) const MAX: usize = 64 * (1 + SPILL);

    /// No bracket open.
    pub(crate) const fn new() -> Self {
        Nesting {
            depth: 0,
            inner: 0,
            outer: [0; SPILL],
        }
    }

    /// How many brackets are open.
    #[inline]
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Whether the innermost open bracket is `{` (false with none open).
    #[inline]
    pub(crate) fn in_object(&self) -> bool {
        self.inner & 1 == 1
    }

    /// Opens a bracket, `{` if `object`; false (nothing changed) when
    /// [`MAX`](Self::MAX) are already open.
    #[inline]
    pub(crate) fn push(&mut self, object: bool) -> bool {
        if SPILL == 0 && self.depth == 64 {
            return false;
        }
        if SPILL > 0 && self.depth % 64 == 0 && self.depth > 0 {
            let Some(slot) = self.outer.get_mut(self.depth / 64 - 1) else {
                return false;
            };
            *slot = self.inner;
            self.inner = 0;
        }
        self.inner = self.inner << 1 | u64::from(object);
        self.depth += 1;
        true
    }

    /// Closes the innermost bracket (with none open, nothing happens).
    #[inline]
    pub(crate) fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.inner >>= 1;
        if SPILL > 0 && self.depth % 64 == 0 && self.depth > 0 {
            self.inner = self.outer.get(self.depth / 64 - 1).copied().unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_come_back_in_order_across_spilled_words() {
        let mut n = Nesting::<2>::new();
        let kinds: Vec<bool> = (0..Nesting::<2>::MAX)
            .map(|i| i % 3 == 0 || i % 7 == 0)
            .collect();
        for &k in &kinds {
            assert!(n.push(k));
            assert_eq!(n.in_object(), k);
        }
        assert!(!n.push(true), "full");
        assert_eq!(n.depth(), 192);
        for (i, &k) in kinds.iter().enumerate().rev() {
            assert_eq!(n.in_object(), k, "level {i}");
            n.pop();
        }
        assert_eq!(n.depth(), 0);
        assert!(!n.in_object());
        let mut one = Nesting::<0>::new();
        for _ in 0..64 {
            assert!(one.push(true));
        }
        assert!(!one.push(false));
    }
}
