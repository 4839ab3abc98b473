//! The builder's set fields, in number order, without a heap allocation for the usual message.
//!
//! A builder is made, filled and dropped for every message sent, and a `malloc`/`free` pair
//! per builder was about 5% of encoding a 17-field message. So the first [`INLINE`] entries live
//! in an array inside the builder; a message with more fields moves them all to a `Vec` once
//! and stays there ("spilled"), so that every operation sees one sorted slice.
//!
//! Entries hold what the builder needs to find a value (a slice borrowed from the caller or a
//! slot of its owned values); the ordering rules and the bookkeeping of lengths stay in the
//! builder.

use super::Value;
use crate::spec::plan::WriteOp;

/// Entries kept inside the builder before they move to the heap: a 0200 or 0210 carries 12 to
/// 20 fields, so 24 covers the usual messages while the builder stays a few hundred bytes.
pub(super) const INLINE: usize = 24;

/// What `len` holds once the entries have moved to the heap: more than the inline array holds,
/// so that taking `..len` of it fails and the heap is used.
const SPILLED: usize = INLINE + 1;

/// One set field.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry<'v> {
    pub(super) n: u16,
    /// The field's `Plan::write_op`, so that writing the common fields needs no plan.
    pub(super) op: WriteOp,
    pub(super) value: Value<'v>,
}

/// An unused inline slot. `Value::Owned(0)` and `WriteOp::Copy` (the first variant) are all
/// zero bits, so filling the array is one zeroing of memory; any other pattern is copied from
/// a constant, which cost 88 instructions a builder.
const UNUSED: Entry<'static> = Entry {
    n: 0,
    op: WriteOp::Copy,
    value: Value::Owned(0),
};

/// Set fields in number order.
#[derive(Clone)]
pub(super) struct Entries<'v> {
    /// Entries in use in `inline`, or [`SPILLED`].
    len: usize,
    inline: [Entry<'v>; INLINE],
    /// Every entry, once there were more than [`INLINE`]; empty (never allocated) before.
    heap: Vec<Entry<'v>>,
}

impl<'v> Entries<'v> {
    /// No entries.
    #[inline]
    pub(super) fn new() -> Self {
        Entries {
            len: 0,
            inline: [UNUSED; INLINE],
            heap: Vec::new(),
        }
    }

    /// The entries, in number order.
    #[inline]
    pub(super) fn as_slice(&self) -> &[Entry<'v>] {
        self.inline.get(..self.len).unwrap_or(&self.heap)
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [Entry<'v>] {
        match self.inline.get_mut(..self.len) {
            Some(inline) => inline,
            None => &mut self.heap,
        }
    }

    /// The entry of field `n`, or where it would go.
    #[inline]
    pub(super) fn search(&self, n: u16) -> Result<usize, usize> {
        self.as_slice().binary_search_by_key(&n, |e| e.n)
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&Entry<'v>> {
        self.as_slice().get(i)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut Entry<'v>> {
        self.as_mut_slice().get_mut(i)
    }

    #[inline]
    pub(super) fn last(&self) -> Option<&Entry<'v>> {
        self.as_slice().last()
    }

    /// Adds an entry after the others (the caller keeps the order).
    #[inline]
    pub(super) fn push(&mut self, entry: Entry<'v>) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = entry;
                self.len += 1;
            }
            None => self.spill().push(entry),
        }
    }

    /// Adds an entry at index `i` (at most the number of entries; the caller keeps the order).
    pub(super) fn insert(&mut self, i: usize, entry: Entry<'v>) {
        let len = self.len;
        match self.inline.get_mut(i..=len) {
            Some(room) => {
                room.copy_within(..room.len() - 1, 1);
                if let Some(slot) = room.first_mut() {
                    *slot = entry;
                }
                self.len += 1;
            }
            None => {
                let heap = self.spill();
                heap.insert(i.min(heap.len()), entry);
            }
        }
    }

    /// Removes the entry at index `i`.
    pub(super) fn remove(&mut self, i: usize) -> Option<Entry<'v>> {
        match self.inline.get_mut(i..self.len) {
            Some(rest) => {
                let entry = *rest.first()?;
                rest.copy_within(1.., 0);
                self.len -= 1;
                Some(entry)
            }
            None if self.len == SPILLED && i < self.heap.len() => Some(self.heap.remove(i)),
            None => None,
        }
    }

    /// True once the entries live on the heap.
    #[cfg(test)]
    pub(super) fn spilled(&self) -> bool {
        self.len == SPILLED
    }

    /// The heap vector, after moving the inline entries into it if they are still inline.
    #[cold]
    fn spill(&mut self) -> &mut Vec<Entry<'v>> {
        if let Some(inline) = self.inline.get(..self.len) {
            self.heap.reserve(2 * INLINE);
            self.heap.extend_from_slice(inline);
            self.len = SPILLED;
        }
        &mut self.heap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u16) -> Entry<'static> {
        Entry {
            n,
            op: WriteOp::General,
            value: Value::Owned(usize::from(n)),
        }
    }

    fn numbers(entries: &Entries<'_>) -> Vec<u16> {
        entries.as_slice().iter().map(|e| e.n).collect()
    }

    /// An entry is a slice and a field number: the value's two variants share the slice's
    /// room, so the inline array stays 24 bytes an entry.
    #[test]
    fn entries_are_small() {
        assert_eq!(std::mem::size_of::<Value<'_>>(), 16);
        assert_eq!(std::mem::size_of::<Entry<'_>>(), 24);
    }

    /// Pushing, inserting and removing at both ends and in the middle, below, at and past the
    /// inline room, against a `Vec` doing the same.
    #[test]
    fn inline_and_spilled_entries_behave_as_a_vec() {
        for at in [0, 1, INLINE / 2, INLINE - 1, INLINE] {
            let mut entries = Entries::new();
            let mut model: Vec<u16> = Vec::new();
            for n in 0..INLINE as u16 {
                entries.push(entry(2 * n + 10));
                model.push(2 * n + 10);
            }
            assert!(!entries.spilled());
            // Full: one more entry anywhere moves them all to the heap.
            let n = if at == INLINE { 200 } else { model[at] - 1 };
            entries.insert(at, entry(n));
            model.insert(at, n);
            assert!(entries.spilled());
            assert_eq!(numbers(&entries), model);
            assert_eq!(entries.remove(at).map(|e| e.n), Some(model.remove(at)));
            assert_eq!(entries.remove(model.len()).map(|e| e.n), None);
            assert_eq!(numbers(&entries), model);

            let mut small = Entries::new();
            let mut model: Vec<u16> = Vec::new();
            for n in [5u16, 9, 20] {
                small.push(entry(n));
                model.push(n);
            }
            let i = at.min(model.len());
            small.insert(i, entry(7));
            model.insert(i, 7);
            assert_eq!(numbers(&small), model);
            assert_eq!(small.remove(i).map(|e| e.n), Some(7));
            assert_eq!(small.remove(3).map(|e| e.n), None);
            assert_eq!(small.remove(0).map(|e| e.n), Some(5));
            assert_eq!(numbers(&small), [9, 20]);
            assert!(!small.spilled());
            small.get_mut(1).unwrap().n = 21;
            assert_eq!(small.last().map(|e| e.n), Some(21));
            assert_eq!(small.search(9), Ok(0));
            assert_eq!(small.search(10), Err(1));
        }
    }
}
