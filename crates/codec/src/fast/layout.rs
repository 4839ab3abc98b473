//! Layouts: the fast path's plan for one bitmap, worked out once and kept with the spec.
//!
//! A terminal or a host sees few distinct bitmaps: a purchase, its reversal, a settlement
//! request each set the same fields every time. For a given pair of primary and secondary
//! bitmaps, which fields follow one another, which of them have a fixed size and which runs of
//! bytes share a content class are all known before the message is read: only the lengths in
//! the prefixes vary. A [`Layout`] holds that, so decoding a message with a known bitmap walks
//! a short list of fields rather than the bits, and tests its content run by run without
//! deciding at each field where the runs begin and end. Every prefix, bound and byte is still
//! read and checked on every message; only the bookkeeping is done once.
//!
//! Layouts live in a small table of slots, each filled once ([`OnceLock`]) after the first
//! message whose bitmaps hash to it has been decoded (by the bit-by-bit walk of `fast.rs`), and
//! never replaced. Each pair of bitmaps hashes to two slots (to the same one about one time in
//! 32), so that two pairs whose first choices collide both find room. Input the walk refuses
//! takes no slot (with `structure_only`, content is not checked, so a message refused only for
//! its content may teach its bitmaps: harmless, a layout depends on the bitmaps alone), and
//! neither do bitmaps whose fields the layout walk does not handle (see [`Layout::build`]). A
//! message whose slots hold other bitmaps takes the bit-by-bit walk: the worst a stream of
//! many distinct bitmaps can do is fill the table first and leave later bitmaps to that walk
//! (about twice the work of a layout walk) for the life of the spec. Filling a slot allocates
//! nothing: the table (about 56 KiB) is allocated with the spec, and again with each clone,
//! which starts empty.

use std::fmt;
use std::sync::OnceLock;

use super::{filler_ok, short_prefix, Fast, Item, Probe, Run, Step};
use crate::message::Message;
use crate::spec::{BitmapEncoding, Charset, Spec};

/// Slots in a spec's table of layouts: room for the couple of dozen bitmaps a terminal or a
/// host sees, each with two slots to choose from.
const SLOTS: usize = 32;

/// Items (bit 1 included) a layout holds: more than any usual message sets; a bitmap setting
/// more takes the bit-by-bit walk.
const MAX_FIELDS: usize = crate::spans::DENSE;

/// The layouts of one spec, filled as bitmaps are met. Not part of the spec's identity:
/// specs compare equal whatever their caches hold, and a clone starts with an empty one.
pub(crate) struct Layouts(Box<[OnceLock<Layout>]>);

impl Layouts {
    pub(crate) fn new() -> Layouts {
        Layouts((0..SLOTS).map(|_| OnceLock::new()).collect())
    }

    /// The two slots these bitmaps (as written) may take: two chances, so that two bitmaps
    /// whose first choices collide both find room (the two are the same slot one time in 32).
    #[inline]
    fn slots(&self, key: &Key) -> [Option<&OnceLock<Layout>>; 2] {
        let [[p0, p1], [s0, s1]] = *key;
        let mixed = (p0 ^ p1.rotate_left(17) ^ s0.rotate_left(29) ^ s1.rotate_left(43))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let first = (mixed >> 58) as usize % SLOTS;
        let second = (mixed >> 52) as usize % SLOTS;
        [self.0.get(first), self.0.get(second)]
    }

    /// The layout for the bitmaps written as `key`, if one has been worked out.
    #[inline]
    fn get(&self, key: &Key) -> Option<&Layout> {
        self.slots(key)
            .into_iter()
            .flatten()
            .filter_map(OnceLock::get)
            .find(|layout| layout.key == *key)
            // Always so (see `Layout::build`). Said here, it lets the compiler leave out checks
            // in the walk: 1,197 -> 1,119 instructions a decode of message (a).
            .filter(|layout| layout.count <= MAX_FIELDS && layout.run_count <= MAX_FIELDS)
    }

    /// Works out the layout of these bitmaps into the first free of their slots, unless one
    /// holds it already: called once a message with them has been decoded by the bit-by-bit
    /// walk, so that input the walk refuses takes no slot.
    #[cold]
    #[inline(never)]
    pub(crate) fn learn(&self, spec: &Spec, primary: u64, secondary: u64) {
        let key = [
            written(spec.bitmap, primary),
            if secondary == 0 {
                [0; 2]
            } else {
                written(spec.bitmap, secondary)
            },
        ];
        let slots = self.slots(&key);
        let known = slots
            .iter()
            .flatten()
            .filter_map(|slot| slot.get())
            .any(|layout| layout.key == key);
        if known {
            return;
        }
        let Some(slot) = slots
            .into_iter()
            .flatten()
            .find(|slot| slot.get().is_none())
        else {
            return;
        };
        // Bitmaps the layout walk does not take are worked out again each time rather than
        // kept: they would take slots for nothing.
        if let Some(layout) = Layout::build(spec, primary, secondary, key) {
            let _ = slot.set(layout);
        }
    }
}

/// A bitmap as written: a binary one as its value, and zero; sixteen hex characters as two
/// little-endian words of eight characters.
type Raw = [u64; 2];

/// The primary bitmap as written, and the secondary (or zeros when bit 1 is clear).
type Key = [Raw; 2];

/// The bitmap at `pos` as written, if the input holds one; nothing is checked.
#[inline(always)]
fn raw(encoding: BitmapEncoding, input: &[u8], pos: usize) -> Option<Raw> {
    match encoding {
        BitmapEncoding::Binary => {
            let bytes: [u8; 8] = input.get(pos..pos + 8)?.try_into().ok()?;
            Some([u64::from_be_bytes(bytes), 0])
        }
        BitmapEncoding::Hex(_) => Some([super::load(input, pos)?, super::load(input, pos + 8)?]),
    }
}

/// Whether a bitmap written as `raw` sets its first bit: worked out from its first byte
/// alone, and exact for every canonical bitmap (which is all a layout matches).
#[inline(always)]
fn announces_next(encoding: BitmapEncoding, raw: &Raw) -> bool {
    let first = raw[0] as u8;
    match encoding {
        BitmapEncoding::Binary => raw[0] >> 63 == 1,
        // `8`, `9` and `A`-`F` are the characters from 8 up.
        BitmapEncoding::Hex(Charset::Ascii) => first >= b'8',
        BitmapEncoding::Hex(Charset::Ebcdic(_)) => {
            matches!(first, 0xF8 | 0xF9) || (0xC1..=0xC6).contains(&first)
        }
    }
}

/// A bitmap's canonical form as written (see [`Raw`]): upper-case hex characters.
fn written(encoding: BitmapEncoding, word: u64) -> Raw {
    let charset = match encoding {
        BitmapEncoding::Binary => return [word, 0],
        BitmapEncoding::Hex(charset) => charset,
    };
    let mut chars = [0u8; 16];
    for (i, c) in chars.iter_mut().enumerate() {
        let nibble = ((word >> (60 - 4 * i)) & 0xF) as u8;
        *c = match (charset, nibble) {
            (Charset::Ascii, 0..=9) => b'0' + nibble,
            (Charset::Ascii, _) => b'A' + nibble - 10,
            (Charset::Ebcdic(_), 0..=9) => 0xF0 + nibble,
            (Charset::Ebcdic(_), _) => 0xC1 + nibble - 10,
        };
    }
    let (high, low) = chars.split_at(8);
    let word_of = |half: &[u8]| {
        half.iter()
            .rev()
            .fold(0u64, |w, &c| (w << 8) | u64::from(c))
    };
    [word_of(high), word_of(low)]
}

impl Clone for Layouts {
    fn clone(&self) -> Layouts {
        Layouts::new()
    }
}

impl PartialEq for Layouts {
    fn eq(&self, _: &Layouts) -> bool {
        true
    }
}

impl Eq for Layouts {}

impl fmt::Debug for Layouts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let filled = self.0.iter().filter(|slot| slot.get().is_some()).count();
        write!(f, "Layouts({filled} of {SLOTS} slots filled)")
    }
}

/// One run of bytes of one content class: from the start of item `first` (its prefix when
/// `skip` is 0, else `skip` bytes in) to the end of item `last`, items counted as in
/// `Message::spans` (the secondary bitmap first, when there is one).
#[derive(Clone, Copy)]
struct RunPlan {
    probe: Probe,
    skip: u8,
    first: u8,
    last: u8,
}

const NO_RUN: RunPlan = RunPlan {
    probe: Probe::Nothing,
    skip: 0,
    first: 0,
    last: 0,
};

/// The fast path's plan for one pair of bitmaps.
///
/// Between two variable fields, every field's start is known from the end of the first: a
/// fixed offset. So each field (bit 1, the secondary bitmap, left out) is kept as that offset
/// from its anchor (the start of the first field, or the end of the last variable field
/// before it), and only variable fields, and odd BCD fields whose filler is checked, are
/// read one by one.
struct Layout {
    primary: u64,
    secondary: u64,
    /// The two bitmaps as written (see [`Key`]).
    key: Key,
    /// Per field, in bit order: where it starts, from its anchor.
    rel: [u32; MAX_FIELDS],
    /// Bit `i` set when field `i` is read by `field_end` (a variable field, or an odd BCD one
    /// whose filler is checked): its end is the next anchor.
    read: u64,
    /// The fast-path entries of the fields read, in order: copies, so that the walk reads
    /// them one after the other.
    reads: [Fast; MAX_FIELDS],
    count: usize,
    /// Where the last field ends, from the last anchor.
    tail: u32,
    runs: [RunPlan; MAX_FIELDS],
    run_count: usize,
}

impl Layout {
    /// Works out the layout of `primary` and `secondary` (0 when absent); `None` when a field
    /// is one the bit-by-bit walk takes out of line (see `Fast::hot`), when bit 65 is a
    /// tertiary bitmap, or when there are more than [`MAX_FIELDS`] items.
    fn build(spec: &Spec, primary: u64, secondary: u64, key: Key) -> Option<Layout> {
        if spec.tertiary && secondary >> 63 == 1 {
            return None;
        }
        let mut layout = Layout {
            primary,
            secondary,
            key,
            rel: [0; MAX_FIELDS],
            read: 0,
            reads: [super::STOP; MAX_FIELDS],
            count: 0,
            tail: 0,
            runs: [NO_RUN; MAX_FIELDS],
            run_count: 0,
        };
        // Items before the first field: the secondary bitmap, which no run takes.
        let offset = usize::from(secondary != 0);
        let mut current: Option<RunPlan> = None;
        let mut reads = 0;
        let bits = [primary & !(1 << 63), secondary];
        for n in bits
            .into_iter()
            .enumerate()
            .flat_map(|(w, word)| set_bits(w, word))
        {
            let i = layout.count;
            let item = offset + i;
            let (Some(&fast), Some(rel), true) = (
                spec.fast.get(n).filter(|fast| fast.hot),
                layout.rel.get_mut(i),
                item < MAX_FIELDS,
            ) else {
                return None;
            };
            *rel = layout.tail;
            if fast.step == Step::Fixed && !fast.odd_fixed {
                // Fixed sizes are below 65,536 (see the spec lint): 48 of them fit 32 bits.
                layout.tail += fast.size;
            } else if let Some(slot) = layout.reads.get_mut(reads) {
                *slot = fast;
                reads += 1;
                layout.read |= 1 << i;
                layout.tail = 0;
            }
            layout.count += 1;
            current = layout.extend_run(current, &fast, item as u8);
        }
        if let Some(done) = current {
            layout.push_run(done);
        }
        Some(layout)
    }

    /// The same decision as `Run::extend`, made once: item `item` continues the current run
    /// when it is of the run's class and its bytes (prefix included when it joins) start where
    /// the run ends, which in a message read front to back is when it joins or has no prefix.
    /// Otherwise the current run is kept and another starts.
    fn extend_run(&mut self, current: Option<RunPlan>, fast: &Fast, item: u8) -> Option<RunPlan> {
        let contiguous = fast.joins || fast.step == Step::Fixed;
        match current {
            Some(mut run) if run.probe == fast.probe && contiguous => {
                run.last = item;
                Some(run)
            }
            _ => {
                if let Some(done) = current {
                    self.push_run(done);
                }
                Some(RunPlan {
                    probe: fast.probe,
                    skip: if fast.joins { 0 } else { prefix_width(fast) },
                    first: item,
                    last: item,
                })
            }
        }
    }

    /// Keeps a run that has a test to make.
    fn push_run(&mut self, run: RunPlan) {
        if matches!(run.probe, Probe::Nothing | Probe::Plan) {
            return;
        }
        if let Some(slot) = self.runs.get_mut(self.run_count) {
            *slot = run;
            self.run_count += 1;
        }
    }
}

/// Field numbers of the bits set in bitmap word `w` (bit 1 of the word first).
fn set_bits(w: usize, word: u64) -> impl Iterator<Item = usize> {
    // Bit 1 is the top bit: reversed, the lowest set bit is the next field.
    let mut bits = word.reverse_bits();
    std::iter::from_fn(move || {
        if bits == 0 {
            return None;
        }
        let n = w * 64 + bits.trailing_zeros() as usize + 1;
        bits &= bits - 1;
        Some(n)
    })
}

/// Bytes of a hot field's prefix.
fn prefix_width(fast: &Fast) -> u8 {
    match fast.step {
        Step::Ascii2 | Step::Bcd2 | Step::Binary2 => 2,
        Step::Ascii3 => 3,
        Step::Bcd1 | Step::Binary1 => 1,
        _ => 0,
    }
}

/// Decodes `message` (fresh, its MTI read) by the layout of its bitmaps, if the spec has one
/// for them: found by the bitmaps as written, so a known bitmap is neither checked nor turned
/// into bits again (equal to the canonical form a layout keeps, it is valid). `None`: no
/// layout, take the bit-by-bit walk. `Some(false)`: give up, as the walk does. `Some(true)`:
/// decoded, the offset past the last field in `end`.
#[inline]
pub(super) fn walk(
    message: &mut Message<'_>,
    pos: usize,
    check: bool,
    end: &mut usize,
) -> Option<bool> {
    let spec = message.spec;
    let input = message.input;
    let encoding = spec.bitmap;
    let width = encoding.width();
    let primary = raw(encoding, input, pos)?;
    let secondary = if announces_next(encoding, &primary) {
        raw(encoding, input, pos + width)?
    } else {
        [0; 2]
    };
    let layout = spec.layouts.get(&[primary, secondary])?;
    message.bitmap.set_word(0, layout.primary);
    message.bitmap.set_word(1, layout.secondary);
    let secondary = layout.secondary;
    let pos = pos + width;

    // Where each item starts, written in place, and one more slot for where the last ends.
    let starts = message.spans.slots_mut();
    let mut pos = pos;
    let mut items = 0;
    if let (true, Some(start)) = (secondary != 0, starts.first_mut()) {
        // Offsets fit 16 bits: the caller refused longer input.
        *start = pos as u16;
        pos += spec.bitmap.width();
        items = 1;
    }
    let Some(field_starts) = starts.get_mut(items..items + layout.count) else {
        return Some(false);
    };
    // `anchor`: the start of the first field, then the end of each field read.
    let mut anchor = pos;
    let mut reads = layout.reads.iter();
    let read = layout.read;
    for (i, (start, &rel)) in field_starts.iter_mut().zip(&layout.rel).enumerate() {
        let at = anchor + rel as usize;
        *start = at as u16;
        if read >> i & 1 == 1 {
            match reads
                .next()
                .and_then(|fast| field_end(fast, input, at, check))
            {
                Some(end) => anchor = end,
                None => return Some(false),
            }
        }
    }
    pos = anchor + layout.tail as usize;
    items += layout.count;
    // Positions only grow, and the input fits 16 bits: a start that did not fit, and was cut
    // short above, leaves the end beyond the input.
    if pos > input.len() {
        return Some(false);
    }
    if let Some(after) = starts.get_mut(items) {
        *after = pos as u16;
    }
    // Recorded before the content is tested: a message refused here is not used.
    message.spans.set_dense(items);
    *end = pos;
    Some(!check || runs_pass(layout, message.spans.slots(), input))
}

/// Where the hot field at `pos` ends; its prefix read and bounded, and with `check` its BCD
/// filler checked. Whether the end lies within the input is for the caller to check.
#[inline(always)]
fn field_end(fast: &Fast, input: &[u8], pos: usize, check: bool) -> Option<usize> {
    if fast.step == Step::Fixed {
        let end = pos + fast.size as usize;
        let item = Item {
            start: pos,
            units: 0,
            end,
        };
        if check && fast.odd_fixed && (end > input.len() || !filler_ok(fast, input, item)) {
            return None;
        }
        return Some(end);
    }
    let (width, count) = short_prefix(fast, input, pos)?;
    if count > fast.size || (fast.even && count % 2 == 1) {
        return None;
    }
    let wire = ((count << fast.shl) + u32::from(fast.add)) >> fast.shr;
    let start = pos + width;
    let end = start + wire as usize;
    let item = Item {
        start,
        units: 0,
        end,
    };
    let odd = fast.parity && count % 2 == 1;
    if check && odd && (end > input.len() || !filler_ok(fast, input, item)) {
        return None;
    }
    Some(end)
}

/// Every run of the layout passes its content test; `starts` holds where each item starts
/// and, after the last, where it ends.
#[inline(always)]
fn runs_pass(layout: &Layout, starts: &[u16], input: &[u8]) -> bool {
    // A plain loop: written with `all`, the compiler may leave the tests in a function of
    // their own, out of line.
    for run in layout.runs.get(..layout.run_count).unwrap_or_default() {
        let (first, after) = (usize::from(run.first), usize::from(run.last) + 1);
        let passed = match (starts.get(first), starts.get(after)) {
            (Some(&from), Some(&to)) => Run {
                probe: run.probe,
                start: usize::from(from) + usize::from(run.skip),
                end: usize::from(to),
            }
            .test(input),
            _ => false,
        };
        if !passed {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of bitmaps given by value, as `Layouts::learn` works it out.
    fn key_of(spec: &Spec, primary: u64, secondary: u64) -> Key {
        let second = if secondary == 0 {
            [0; 2]
        } else {
            written(spec.bitmap, secondary)
        };
        [written(spec.bitmap, primary), second]
    }

    impl Layouts {
        fn by_value(&self, spec: &Spec, primary: u64, secondary: u64) -> Option<&Layout> {
            self.get(&key_of(spec, primary, secondary))
        }
    }
    use crate::spec::Charset;

    /// "0800", bitmap with fields 3, 11 and 41 set, and their values, in `iso87-ascii`.
    const ECHO: &[u8] = b"08002020000000800000990000000123TERM0001";

    #[test]
    fn a_bitmap_met_once_has_a_layout() {
        let spec = Spec::from_toml_str(Spec::builtin_source("iso87-ascii").unwrap()).unwrap();
        let primary = 0x2020_0000_0080_0000;
        assert!(spec.layouts.0.iter().all(|slot| slot.get().is_none()));
        let message = spec.decode_complete(ECHO).unwrap();
        assert_eq!(message.field(41).and_then(|f| f.as_str()), Some("TERM0001"));
        // Learnt from the first message, taken by the next.
        let layout = spec
            .layouts
            .by_value(&spec, primary, 0)
            .expect("a layout for the bitmap");
        assert_eq!((layout.count, layout.read), (3, 0));
        // 3 and 11 are one run of digits, 41 one of printable characters.
        assert_eq!(layout.run_count, 2);
        let mut end = 0;
        let mut message = spec.decoder().empty(ECHO);
        assert_eq!(walk(&mut message, 4, true, &mut end), Some(true));
        assert_eq!(end, ECHO.len());
        assert_eq!(message.spans.held(), &[20, 26, 32]);
        // Other bitmaps are not taken for this one, nor learnt from input that is refused.
        assert!(spec.layouts.by_value(&spec, primary | 1 << 40, 0).is_none());
        let short = 0x2020_0000_0000_0000;
        assert!(spec
            .decode_complete(b"0800202000000000000099000X000123")
            .is_err());
        assert!(spec.layouts.by_value(&spec, short, 0).is_none());
        assert!(spec
            .decode_complete(b"08002020000000000000990000000123")
            .is_ok());
        assert!(spec.layouts.by_value(&spec, short, 0).is_some());
    }

    /// Bitmaps the layout walk does not take (here an `x+n` field, which the bit-by-bit walk
    /// takes out of line) take no slot, however often they are met.
    #[test]
    fn bitmaps_the_layout_walk_does_not_take_take_no_slot() {
        let spec = Spec::from_toml_str(Spec::builtin_source("iso87-ascii").unwrap()).unwrap();
        assert!(!spec.fast[28].hot, "field 28 is x+n, out of line");
        let mut builder = crate::Builder::new(&spec, crate::Mti::new("0200").unwrap());
        builder
            .set_str(11, "000001")
            .unwrap()
            .set_str(28, "C00000100")
            .unwrap();
        let wire = builder.to_bytes();
        for _ in 0..3 {
            assert!(spec.decode_complete(&wire).is_ok());
        }
        assert!(format!("{:?}", spec.layouts).starts_with("Layouts(0 of"));
        // Without field 28 the same message is learnt.
        builder.remove(28);
        spec.decode_complete(&builder.to_bytes()).unwrap();
        assert!(format!("{:?}", spec.layouts).starts_with("Layouts(1 of"));
    }

    /// The table the docs size: 32 slots of about 1.75 KiB.
    #[test]
    fn the_table_is_about_56_kib() {
        let table = SLOTS * std::mem::size_of::<OnceLock<Layout>>();
        assert!((54 * 1024..=58 * 1024).contains(&table), "{table} bytes");
    }

    /// Every bitmap encoding: the key worked out from the bits when a layout is learnt is
    /// the one read from the wire, with and without a secondary bitmap, so the next message
    /// finds the layout.
    #[test]
    fn the_key_learnt_is_the_key_read() {
        let fields: String = (2..=128)
            .map(|n| format!("{{ number = {n}, name = \"f{n}\", class = \"n\", length = 1 }},\n"))
            .collect();
        for bitmap in ["binary", "hex", "hex-ebcdic"] {
            let text = format!(
                "field = [\n{fields}]\n[spec]\nname = \"t\"\nmti = \"ascii\"\nbitmap = \"{bitmap}\"\ntertiary_bitmap = false\n"
            );
            let spec = Spec::from_toml_str(&text).unwrap();
            for numbers in [&[2u16, 3, 60, 64][..], &[2, 11, 64, 70, 128], &[65, 99]] {
                let mut builder = crate::Builder::new(&spec, crate::Mti::new("0800").unwrap());
                for &n in numbers {
                    builder.set(n, &b"7"[..]).unwrap();
                }
                let wire = builder.to_bytes();
                let first = spec.decode_complete(&wire).unwrap();
                let (p, s) = (first.bitmap().word(0), first.bitmap().word(1));
                let encoding = spec.bitmap;
                let primary = raw(encoding, &wire, 4).unwrap();
                assert_eq!(
                    announces_next(encoding, &primary),
                    s != 0,
                    "{bitmap} {numbers:?}"
                );
                let secondary = match s {
                    0 => [0; 2],
                    _ => raw(encoding, &wire, 4 + encoding.width()).unwrap(),
                };
                assert_eq!(
                    [primary, secondary],
                    key_of(&spec, p, s),
                    "{bitmap} {numbers:?}"
                );
                let layout = spec.layouts.get(&[primary, secondary]).expect("a layout");
                assert_eq!((layout.primary, layout.secondary), (p, s));
                let mut message = spec.decoder().empty(&wire);
                let mut end = 0;
                assert_eq!(walk(&mut message, 4, true, &mut end), Some(true));
                assert_eq!((end, message.bitmap), (wire.len(), first.bitmap));
            }
        }
    }

    #[test]
    fn caches_are_not_part_of_a_spec() {
        let spec = Spec::from_toml_str(Spec::builtin_source("iso87-ascii").unwrap()).unwrap();
        let fresh = spec.clone();
        spec.decode_complete(ECHO).unwrap();
        assert!(spec == fresh);
        assert!(format!("{:?}", spec.layouts).starts_with("Layouts(1 of"));
        assert!(format!("{:?}", fresh.layouts).starts_with("Layouts(0 of"));
    }

    /// Bitmaps whose first choices of slot are the same both get a layout.
    #[test]
    fn colliding_bitmaps_take_their_second_slot() {
        let spec = Spec::from_toml_str(Spec::builtin_source("iso87-ascii").unwrap()).unwrap();
        let first = |p: u64| spec.layouts.slots(&key_of(&spec, p, 0))[0].map(std::ptr::from_ref);
        let a = 0x2020_0000_0080_0000u64;
        // Another bitmap of fields 3, 11, 41 and one more (one the layout walk takes) with
        // the same first slot.
        let b = (2..64)
            .filter(|&n| spec.fast[n].hot)
            .map(|n| a | 1 << (64 - n))
            .find(|&b| b != a && first(b) == first(a))
            .expect("a bitmap sharing the first slot");
        spec.layouts.learn(&spec, a, 0);
        spec.layouts.learn(&spec, b, 0);
        assert!(spec.layouts.by_value(&spec, a, 0).is_some());
        assert!(spec
            .layouts
            .by_value(&spec, b, 0)
            .is_some_and(|l| l.primary == b));
        // Learning again fills nothing more.
        spec.layouts.learn(&spec, b, 0);
        assert!(format!("{:?}", spec.layouts).starts_with("Layouts(2 of"));
    }

    /// Both benchmark messages, and a secondary bitmap, decode through a layout once learnt.
    #[test]
    fn bench_messages_take_the_layout_walk() {
        let unhex = |text: &str| -> Vec<u8> {
            let nibble = |c: u8| crate::content::hex_value(c, Charset::Ascii).unwrap().0;
            let pairs = text.trim().as_bytes().chunks(2);
            pairs.map(|p| (nibble(p[0]) << 4) | nibble(p[1])).collect()
        };
        let a = unhex(include_str!("../../tests/data/a.hex"));
        let b = unhex(include_str!("../../tests/data/b.hex"));
        // 0800 with field 70 (network management code): a secondary bitmap.
        let with_secondary = b"080080200000000000000400000000000000000123301".to_vec();
        for (name, wire) in [
            ("iso87-ascii", a),
            ("cup-pos", b),
            ("iso87-ascii", with_secondary),
        ] {
            let spec = Spec::from_toml_str(Spec::builtin_source(name).unwrap()).unwrap();
            let first = spec.decode_complete(&wire).unwrap();
            let (primary, secondary) = (first.bitmap().word(0), first.bitmap().word(1));
            let layout = spec
                .layouts
                .by_value(&spec, primary, secondary)
                .expect("a layout");
            let fields = first.fields().count() + usize::from(secondary != 0);
            assert_eq!(layout.count + usize::from(secondary != 0), fields, "{name}");
            let pos = spec.mti.width();
            let mut message = spec.decoder().empty(&wire);
            message.bitmap.set_word(0, primary);
            let mut end = 0;
            assert_eq!(walk(&mut message, pos, true, &mut end), Some(true));
            assert_eq!(end, wire.len());
            assert_eq!(message.spans.held(), first.spans.held(), "{name}");
        }
    }
}
