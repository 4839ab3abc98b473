//! Where a decoded message's items start, kept small enough to return the message by value.
//!
//! A message may set up to 192 bits, but nearly every message sets fewer than fifty. Keeping
//! a 16-bit start for every possible item would make [`crate::Message`] about 480 bytes, and
//! every move of it (out of the decoder, out of the `Result`) a call to `memcpy`. [`Spans`]
//! holds [`DENSE`] starts instead: while a message has at most that many items, the start of
//! each; past that, the starts of every second item, then of every fourth. A lookup finds the
//! start it holds at or before the item and walks forward over at most three items (prefixes
//! read again, as every lookup reads its own). Nothing is allocated either way.

/// Starts held: every item of a usual message, and with a stride of 4 all 192 bits.
pub(crate) const DENSE: usize = 48;

/// The starts of a message's items (bitmap bits included), in bit order, every
/// `1 << shift`-th of them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spans {
    /// Held starts, then one more slot: the layout walk writes the end of the last item there
    /// (see `fast::layout`), which is not a start and not counted in `len`.
    starts: [u16; DENSE + 1],
    /// Starts held.
    len: u8,
    /// Items seen: at most 192, one per set bit.
    items: u8,
    /// Entry `i` holds the start of item `i << shift`.
    shift: u8,
}

impl Spans {
    /// No item yet.
    pub(crate) const fn new() -> Spans {
        Spans {
            starts: [0; DENSE + 1],
            len: 0,
            items: 0,
            shift: 0,
        }
    }

    /// Forgets every item.
    pub(crate) fn clear(&mut self) {
        *self = Spans::new();
    }

    /// Records where the next item starts; `false` past 255 items, which a message of at most
    /// 192 bits never reaches.
    #[inline]
    pub(crate) fn push(&mut self, start: u16) -> bool {
        let item = self.items;
        let Some(items) = item.checked_add(1) else {
            return false;
        };
        self.items = items;
        if item & ((1 << self.shift) - 1) != 0 {
            return true;
        }
        if usize::from(self.len) == DENSE {
            self.halve();
        }
        // After halving, `item` (a multiple of DENSE << old shift) is still held.
        if item & ((1 << self.shift) - 1) == 0 {
            if let Some(slot) = self.starts.get_mut(usize::from(self.len)) {
                *slot = start;
                self.len += 1;
            }
        }
        true
    }

    /// Keeps every second start held, doubling the stride.
    #[cold]
    fn halve(&mut self) {
        let len = usize::from(self.len);
        for i in 0..len.div_ceil(2) {
            if let Some(&start) = self.starts.get(2 * i) {
                if let Some(slot) = self.starts.get_mut(i) {
                    *slot = start;
                }
            }
        }
        self.len = len.div_ceil(2) as u8;
        self.shift += 1;
    }

    /// The held start at or before item `index`: the item it belongs to and the start.
    #[inline]
    pub(crate) fn at_or_before(&self, index: usize) -> Option<(usize, usize)> {
        if index >= usize::from(self.items) {
            return None;
        }
        let entry = index >> self.shift;
        let start = self.starts.get(entry)?;
        Some((entry << self.shift, usize::from(*start)))
    }

    /// Every slot, for the layout walk of a message of at most [`DENSE`] items to fill in
    /// place: the starts, then the end of the last item. [`Spans::set_dense`] says how many
    /// are starts.
    #[inline]
    pub(crate) fn slots_mut(&mut self) -> &mut [u16; DENSE + 1] {
        &mut self.starts
    }

    /// The slots read back (see [`Spans::slots_mut`]).
    #[inline]
    pub(crate) fn slots(&self) -> &[u16; DENSE + 1] {
        &self.starts
    }

    /// After [`Spans::slots_mut`]: the first `items` slots (at most [`DENSE`]) are the starts
    /// of every item, and nothing else is held.
    #[inline]
    pub(crate) fn set_dense(&mut self, items: usize) {
        let items = items.min(DENSE) as u8;
        self.len = items;
        self.items = items;
        self.shift = 0;
    }

    /// Items recorded.
    #[cfg(test)]
    pub(crate) fn items(&self) -> usize {
        usize::from(self.items)
    }

    /// The held starts, for tests comparing two walks.
    #[cfg(test)]
    pub(crate) fn held(&self) -> &[u16] {
        self.starts.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl std::fmt::Debug for Spans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.starts.get(..usize::from(self.len)).unwrap_or_default();
        f.debug_struct("Spans")
            .field("items", &self.items)
            .field("stride", &(1u32 << self.shift))
            .field("held", &held)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item `i` starts at `3 * i + 7`: every count of items up to 192 keeps a start at most
    /// three items before any item, the right one.
    #[test]
    fn every_item_finds_a_start_at_most_three_before_it() {
        for count in 0..=192usize {
            let mut spans = Spans::new();
            for i in 0..count {
                assert!(spans.push((3 * i + 7) as u16));
            }
            assert_eq!(spans.items(), count);
            for i in 0..count {
                let (item, start) = spans.at_or_before(i).expect("a start");
                assert!(
                    item <= i && i - item <= 3,
                    "{count} items, item {i}: {item}"
                );
                assert_eq!(start, 3 * item + 7);
            }
            assert_eq!(spans.at_or_before(count), None);
            let dense = count <= DENSE;
            assert_eq!(spans.held().len() == count, dense, "{count} items");
        }
    }

    #[test]
    fn filled_in_place_and_cleared() {
        let mut spans = Spans::new();
        spans.slots_mut()[..4].copy_from_slice(&[20, 26, 32, 40]);
        spans.set_dense(3);
        assert_eq!(spans.held(), &[20, 26, 32]);
        assert_eq!(spans.at_or_before(2), Some((2, 32)));
        assert_eq!(spans.at_or_before(3), None);
        assert_eq!(spans.slots()[3], 40);
        spans.clear();
        assert_eq!(spans.items(), 0);
        assert_eq!(spans, Spans::new());
    }
}
