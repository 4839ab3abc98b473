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
//! never replaced: input that is refused takes no slot, a message whose slot holds other
//! bitmaps takes the bit-by-bit walk, as does one with bitmaps whose fields the layout walk
//! does not handle (see [`Layout::build`]). So the worst a stream of unusual bitmaps can do is
//! leave every message to the bit-by-bit walk. Filling a slot allocates nothing: the table is
//! allocated with the spec.

use std::fmt;
use std::sync::OnceLock;

use super::{filler_ok, short_prefix, Fast, Item, Probe, Run, Step};
use crate::message::Message;
use crate::spec::Spec;

/// Slots in a spec's table of layouts.
const SLOTS: usize = 64;

/// Fields (bit 1 included) a layout holds; a bitmap setting more takes the bit-by-bit walk.
const MAX_FIELDS: usize = 64;

/// The layouts of one spec, filled as bitmaps are met. Not part of the spec's identity:
/// specs compare equal whatever their caches hold, and a clone starts with an empty one.
pub(crate) struct Layouts(Box<[OnceLock<Layout>]>);

impl Layouts {
    pub(crate) fn new() -> Layouts {
        Layouts((0..SLOTS).map(|_| OnceLock::new()).collect())
    }

    /// The slot for these bitmaps.
    #[inline]
    fn slot(&self, primary: u64, secondary: u64) -> Option<&OnceLock<Layout>> {
        let mixed = (primary ^ secondary.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0.get((mixed >> 58) as usize % SLOTS)
    }

    /// The layout for these bitmaps, if one has been worked out.
    #[inline]
    fn get(&self, primary: u64, secondary: u64) -> Option<&Layout> {
        let layout = self.slot(primary, secondary)?.get()?;
        (layout.usable && layout.primary == primary && layout.secondary == secondary)
            .then_some(layout)
    }

    /// Works out the layout of these bitmaps if their slot is free: called once a message
    /// with them has been decoded, so that input refused anyway takes no slot.
    #[cold]
    #[inline(never)]
    pub(crate) fn learn(&self, spec: &Spec, primary: u64, secondary: u64) {
        if let Some(slot) = self.slot(primary, secondary) {
            if slot.get().is_none() {
                let _ = slot.set(Layout::build(spec, primary, secondary));
            }
        }
    }
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

/// One run of bytes of one content class: from the start of field `first` (its prefix when
/// `skip` is 0, else `skip` bytes in) to the end of field `last`.
#[derive(Clone, Copy)]
struct RunPlan {
    probe: Probe,
    skip: u8,
    first: u8,
    last: u8,
}

/// The fast path's plan for one pair of bitmaps.
struct Layout {
    primary: u64,
    secondary: u64,
    /// False for bitmaps the layout walk does not take: kept so that they are not looked at
    /// again.
    usable: bool,
    /// The fields in bit order, bit 1 (the secondary bitmap) included.
    fields: [Fast; MAX_FIELDS],
    count: usize,
    runs: [RunPlan; MAX_FIELDS],
    run_count: usize,
}

const NO_RUN: RunPlan = RunPlan {
    probe: Probe::Nothing,
    skip: 0,
    first: 0,
    last: 0,
};

impl Layout {
    /// Works out the layout of `primary` and `secondary` (0 when absent). Unusable when a
    /// field is one the bit-by-bit walk takes out of line (see `Fast::hot`), when bit 65 is a
    /// tertiary bitmap, or when there are more than [`MAX_FIELDS`] fields.
    fn build(spec: &Spec, primary: u64, secondary: u64) -> Layout {
        let mut layout = Layout {
            primary,
            secondary,
            usable: false,
            fields: [super::STOP; MAX_FIELDS],
            count: 0,
            runs: [NO_RUN; MAX_FIELDS],
            run_count: 0,
        };
        if spec.tertiary && secondary >> 63 == 1 {
            return layout;
        }
        let bitmap_field = Fast {
            step: Step::Fixed,
            probe: Probe::Nothing,
            size: spec.bitmap.width() as u32,
            ..super::STOP
        };
        let mut current: Option<RunPlan> = None;
        for (word, value) in [primary, secondary].into_iter().enumerate() {
            let mut bits = value.reverse_bits();
            while bits != 0 {
                let n = word * 64 + bits.trailing_zeros() as usize + 1;
                bits &= bits - 1;
                let fast = match (n, spec.fast.get(n)) {
                    (1, _) => bitmap_field,
                    (_, Some(fast)) if fast.hot => *fast,
                    _ => return layout,
                };
                let k = layout.count;
                let Some(slot) = layout.fields.get_mut(k) else {
                    return layout;
                };
                *slot = fast;
                layout.count += 1;
                // The same decisions as `Run::extend`, made once: a field continues the run
                // when it is of the run's class and its bytes (prefix included when it joins)
                // start where the run ends, which for a contiguous message is when it joins
                // or has no prefix.
                let probe = fast.probe;
                let contiguous = fast.joins || fast.step == Step::Fixed;
                match &mut current {
                    Some(run) if run.probe == probe && contiguous => run.last = k as u8,
                    _ => {
                        if let Some(done) = current.take() {
                            layout.push_run(done);
                        }
                        current = Some(RunPlan {
                            probe,
                            skip: if fast.joins { 0 } else { prefix_width(&fast) },
                            first: k as u8,
                            last: k as u8,
                        });
                    }
                }
            }
        }
        if let Some(done) = current {
            layout.push_run(done);
        }
        layout.usable = true;
        layout
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

/// Bytes of a hot field's prefix.
fn prefix_width(fast: &Fast) -> u8 {
    match fast.step {
        Step::Ascii2 | Step::Bcd2 | Step::Binary2 => 2,
        Step::Ascii3 => 3,
        Step::Bcd1 | Step::Binary1 => 1,
        _ => 0,
    }
}

/// Decodes `message` (fresh, its primary bitmap read) by the layout of its bitmaps, if the
/// spec has one for them. `None`: no layout, take the bit-by-bit walk. `Some(false)`: give
/// up, as the walk does. `Some(true)`: decoded, `pos` past the last field in `end`.
#[inline]
pub(super) fn walk(
    message: &mut Message<'_>,
    primary: u64,
    pos: usize,
    check: bool,
    end: &mut usize,
) -> Option<bool> {
    let spec = message.spec;
    let input = message.input;
    let secondary = if primary >> 63 == 1 {
        // An empty secondary bitmap is a quirk, for the full walk to note.
        match super::bitmap(spec.bitmap, input, pos) {
            Some(word) if word != 0 => word,
            _ => return Some(false),
        }
    } else {
        0
    };
    let layout = spec.layouts.get(primary, secondary)?;
    message.bitmap.set_word(1, secondary);

    let mut starts = [0u16; MAX_FIELDS + 1];
    let count = layout.count.min(MAX_FIELDS);
    let mut pos = pos;
    for (fast, start) in layout.fields.iter().take(count).zip(starts.iter_mut()) {
        // Offsets fit 16 bits: the caller refused longer input.
        *start = pos as u16;
        pos = if fast.step == Step::Fixed {
            let end = pos + fast.size as usize;
            if check && fast.odd_fixed {
                let item = Item {
                    start: pos,
                    units: 0,
                    end,
                };
                if end > input.len() || !filler_ok(fast, input, item) {
                    return Some(false);
                }
            }
            end
        } else {
            let Some((width, count)) = short_prefix(fast, input, pos) else {
                return Some(false);
            };
            if count > fast.size || (fast.even && count % 2 == 1) {
                return Some(false);
            }
            let wire = ((count << fast.shl) + u32::from(fast.add)) >> fast.shr;
            let start = pos + width;
            let end = start + wire as usize;
            if check && fast.parity && count % 2 == 1 {
                let item = Item {
                    start,
                    units: 0,
                    end,
                };
                if end > input.len() || !filler_ok(fast, input, item) {
                    return Some(false);
                }
            }
            end
        };
    }
    // Positions only grow, and the input fits 16 bits (the caller checked): a start that did
    // not fit, and was cut short above, leaves the end beyond the input.
    if pos > input.len() {
        return Some(false);
    }
    if let Some(after) = starts.get_mut(count) {
        *after = pos as u16;
    }
    if check {
        for run in layout.runs.iter().take(layout.run_count) {
            let (first, last) = (usize::from(run.first), usize::from(run.last));
            let (Some(&from), Some(&to)) = (starts.get(first), starts.get(last + 1)) else {
                return Some(false);
            };
            let run = Run {
                probe: run.probe,
                start: usize::from(from) + usize::from(run.skip),
                end: usize::from(to),
            };
            if !run.test(input) {
                return Some(false);
            }
        }
    }
    if message
        .spans
        .try_extend_from_slice(starts.get(..count).unwrap_or_default())
        .is_err()
    {
        return Some(false);
    }
    *end = pos;
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .get(primary, 0)
            .expect("a layout for the bitmap");
        assert_eq!(layout.count, 3);
        // 3 and 11 are one run of digits, 41 one of printable characters.
        assert_eq!(layout.run_count, 2);
        let mut end = 0;
        let mut message = spec.decoder().empty(ECHO);
        assert_eq!(walk(&mut message, primary, 20, true, &mut end), Some(true));
        assert_eq!(end, ECHO.len());
        assert_eq!(&message.spans[..], &[20, 26, 32]);
        // Other bitmaps are not taken for this one, nor learnt from input that is refused.
        assert!(spec.layouts.get(primary | 1 << 40, 0).is_none());
        let short = 0x2020_0000_0000_0000;
        assert!(spec
            .decode_complete(b"0800202000000000000099000X000123")
            .is_err());
        assert!(spec.layouts.get(short, 0).is_none());
        assert!(spec
            .decode_complete(b"08002020000000000000990000000123")
            .is_ok());
        assert!(spec.layouts.get(short, 0).is_some());
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
}
