//! The decoder's fast path: canonical, complete input, with every check and no diagnostics.
//!
//! Nearly every message a decoder sees is well formed, so this walk does only what accepting
//! one takes: read the MTI and bitmaps, and for each set bit read the prefix, bound the data and
//! check its content. It builds no errors, notes no quirks and never asks for more bytes: at the
//! first thing out of the ordinary (a bad byte, a quirk, the input ending early) it gives up,
//! and the full walk in `decode.rs` decodes the same input again and says precisely what is
//! wrong or what it accepted. Both walks fill the message the same way, and the tests decode
//! every input through both, and check that every canonical message is taken by this one.
//!
//! Each field number has a [`Fast`] entry, worked out from its plan when the spec is loaded:
//! which of a few specialised prefix readers and content probes it takes. Neighbouring fields of
//! one class are tested as one run of bytes: ISO 8583 puts long stretches of fixed numeric
//! fields side by side (3, 4, 7, 11, 12, ...), and an ASCII or BCD length prefix is digits,
//! which every class but letters allows, so a prefixed field joins the run before it too. The
//! probes test sixteen bytes at a time as vectors of the `wide` crate (safe SSE2 on x86-64,
//! plain arrays elsewhere): a run of 16 to 48 bytes as two or three overlapping vectors, a
//! longer one block by block with the last block overlapping, and a shorter one as the sixteen
//! bytes that end it, the lanes before the run replaced by a byte the probe accepts. A run that
//! ends within the first sixteen bytes of the input is tested eight bytes at a time (SWAR), as
//! the eight bytes that end it: every field ends at least ten bytes into the message (after the
//! MTI and the bitmap), so those are always in the input. What no probe covers (EBCDIC text,
//! signed amounts) goes through the same `content::is_canonical` the plans describe.

mod layout;

pub(crate) use layout::Layouts;

use crate::content;
use crate::message::{Message, Mti};
use crate::spec::plan::{read_prefix, Check, Kind, Plan, Wire};
use crate::spec::{BitmapEncoding, Charset, ContentClass, MtiEncoding, Pad, PrefixEncoding, Spec};
use wide::u8x16;

/// How the fast path finds where a field ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Not a field the spec defines: give up.
    Stop,
    /// Another bitmap.
    Bitmap,
    /// A fixed wire length.
    Fixed,
    /// Two ASCII digits (LLVAR).
    Ascii2,
    /// Three ASCII digits (LLLVAR).
    Ascii3,
    /// One BCD byte.
    Bcd1,
    /// Two BCD bytes.
    Bcd2,
    /// One binary byte.
    Binary1,
    /// Two binary bytes, big-endian.
    Binary2,
    /// Any other prefix, read by the plan's general reader.
    Prefix,
}

/// Which content test the fast path runs on a field's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Binary data.
    Nothing,
    /// ASCII digits (`n`).
    Digits,
    /// ASCII letters and space (`a`).
    Letters,
    /// ASCII letters, digits and space (`an`).
    LettersDigits,
    /// Printable ASCII (`ans`).
    Printable,
    /// ASCII track data (`z`): digits, `=` and `D`.
    Track,
    /// Upper-case ASCII hex characters.
    UpperHex,
    /// Packed BCD digits, with the spec's filler nibble where an odd count leaves one.
    Bcd,
    /// Packed BCD track data: digit nibbles and the separator `D`, no filler.
    BcdTrack,
    /// Anything else: `content::is_canonical` with the field's plan.
    Plan,
}

/// The fast path's view of one field number: a small copy of what it needs from the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fast {
    step: Step,
    probe: Probe,
    rule: Wire,
    sign: bool,
    counts_bytes: bool,
    pad: Pad,
    filler: u8,
    /// The length prefix is made of bytes the probe accepts, so the field's run may start at
    /// the prefix.
    joins: bool,
    /// The filler nibble of odd BCD data is one the probe accepts, so such a field may be part
    /// of a run (its filler is checked by itself); otherwise it is tested alone.
    filler_joins: bool,
    /// A BCD prefix with an odd number of digits, whose top nibble must be zero.
    odd_prefix: bool,
    /// The common case, taken inline by the walk: a fixed field or a one- or two-byte ASCII,
    /// BCD or binary prefix, no sign, and a probe that can join a run (odd BCD data only with a
    /// filler the probe accepts). Everything else takes `cold`.
    hot: bool,
    /// Hot BCD fields: a fixed one with an odd digit count (its filler always checked), and a
    /// variable one whose prefix counts digits (checked when the count is odd).
    odd_fixed: bool,
    parity: bool,
    /// Hot variable fields whose prefix counts the bytes of hex characters: the count must be
    /// even.
    even: bool,
    /// Hot variable fields: wire bytes of a count, `((count << shl) + add) >> shr`.
    shl: u8,
    add: u8,
    shr: u8,
    /// Fixed fields: wire bytes. Variable fields: the largest count the prefix may announce.
    size: u32,
    /// Fixed fields: units (digits, for the parity of BCD data).
    units: u32,
}

const STOP: Fast = Fast {
    step: Step::Stop,
    probe: Probe::Plan,
    rule: Wire::Same,
    sign: false,
    counts_bytes: false,
    pad: Pad::Left,
    filler: 0,
    joins: false,
    filler_joins: false,
    odd_prefix: false,
    hot: false,
    odd_fixed: false,
    parity: false,
    even: false,
    shl: 0,
    add: 0,
    shr: 0,
    size: 0,
    units: 0,
};

impl Fast {
    /// The fast path's entry for a field with this plan.
    pub(crate) fn of(plan: &Plan) -> Fast {
        let step = match plan.kind {
            Kind::Undefined => return STOP,
            Kind::Bitmap => Step::Bitmap,
            Kind::Fixed => Step::Fixed,
            Kind::Variable => prefix_step(plan),
        };
        let probe = probe_of(plan);
        let digits_prefix = matches!(step, Step::Ascii2 | Step::Ascii3 | Step::Bcd1 | Step::Bcd2);
        let ascii_prefix = matches!(step, Step::Ascii2 | Step::Ascii3);
        let bcd = matches!(probe, Probe::Bcd | Probe::BcdTrack);
        let filler_joins = match probe {
            Probe::Bcd => plan.filler <= 9,
            Probe::BcdTrack => plan.filler <= 9 || plan.filler == 0xD,
            _ => false,
        };
        let fixed = step == Step::Fixed;
        let odd_fixed = bcd && fixed && plan.units % 2 == 1;
        let parity = bcd && !fixed && !plan.counts_bytes;
        let short_prefix = !matches!(step, Step::Bitmap | Step::Prefix);
        let hot = short_prefix
            && !plan.sign
            && probe != Probe::Plan
            && (!(odd_fixed || parity) || filler_joins);
        let (shl, add, shr) = match (plan.counts_bytes, plan.rule) {
            (true, _) | (false, Wire::Same) => (0, 0, 0),
            (false, Wire::Hex) => (1, 0, 0),
            (false, Wire::Bcd) => (0, 1, 1),
        };
        Fast {
            step,
            probe,
            rule: plan.rule,
            sign: plan.sign,
            counts_bytes: plan.counts_bytes,
            pad: plan.pad,
            filler: plan.filler,
            joins: digits_prefix
                && match probe {
                    Probe::Digits
                    | Probe::LettersDigits
                    | Probe::Printable
                    | Probe::Track
                    | Probe::UpperHex => ascii_prefix,
                    Probe::Bcd | Probe::BcdTrack => !ascii_prefix,
                    Probe::Nothing | Probe::Letters | Probe::Plan => false,
                },
            filler_joins,
            odd_prefix: plan.prefix_encoding == PrefixEncoding::Bcd && plan.prefix_digits % 2 == 1,
            hot,
            odd_fixed,
            parity,
            even: plan.rule == Wire::Hex && plan.counts_bytes,
            shl,
            add,
            shr,
            size: if fixed { plan.wire } else { plan.limit },
            units: plan.units,
        }
    }
}

/// The fast-path table of a spec, indexed by field number like its plans.
pub(crate) fn table(plans: &[Plan]) -> Vec<Fast> {
    plans.iter().map(Fast::of).collect()
}

fn prefix_step(plan: &Plan) -> Step {
    match (plan.prefix_encoding, plan.prefix_digits, plan.prefix_width) {
        (PrefixEncoding::Ascii, 2, _) => Step::Ascii2,
        (PrefixEncoding::Ascii, 3, _) => Step::Ascii3,
        (PrefixEncoding::Bcd, _, 1) => Step::Bcd1,
        (PrefixEncoding::Bcd, _, 2) => Step::Bcd2,
        (PrefixEncoding::Binary, _, 1) => Step::Binary1,
        (PrefixEncoding::Binary, _, 2) => Step::Binary2,
        _ => Step::Prefix,
    }
}

fn probe_of(plan: &Plan) -> Probe {
    if plan.sign {
        return Probe::Plan;
    }
    match plan.check {
        Check::Nothing => Probe::Nothing,
        Check::Chars(class, Charset::Ascii) => match class {
            ContentClass::N | ContentClass::XN => Probe::Digits,
            ContentClass::A => Probe::Letters,
            ContentClass::An => Probe::LettersDigits,
            ContentClass::Ans => Probe::Printable,
            ContentClass::Z => Probe::Track,
            ContentClass::B => Probe::Nothing,
        },
        Check::Hex(Charset::Ascii) => Probe::UpperHex,
        Check::Bcd { track: false, .. } => Probe::Bcd,
        Check::Bcd { track: true, .. } => Probe::BcdTrack,
        Check::Chars(_, Charset::Ebcdic(_)) | Check::Hex(Charset::Ebcdic(_)) => Probe::Plan,
    }
}

/// Decodes canonical input into `message` (fresh, from the decoder); `false` means "take the
/// full walk", and leaves `message` in a state the full walk must reset.
#[inline]
pub(crate) fn walk(message: &mut Message<'_>, keep_trailing: bool, check: bool) -> bool {
    let spec = message.spec;
    let input = message.input;
    let Some(mti) = mti(spec.mti, input) else {
        return false;
    };
    let pos = spec.mti.width();

    // Offsets are kept in 16 bits; a longer input is the full walk's to refuse or trim.
    if input.len() > usize::from(u16::MAX) {
        return false;
    }
    let mut end = 0;
    match layout::walk(message, pos, check, &mut end) {
        Some(true) => {
            if end != input.len() && !keep_trailing {
                return false;
            }
            message.mti = mti;
            message.end = end as u32;
            return true;
        }
        Some(false) => return false,
        None => {}
    }
    bit_by_bit(message, mti, pos, keep_trailing, check)
}

/// The walk of a message whose bitmaps have no layout: bit by bit, from the primary bitmap at
/// `pos`. Out of line, so that the layout walk, the usual case, is compiled on its own.
#[inline(never)]
fn bit_by_bit(
    message: &mut Message<'_>,
    mti: Mti,
    mut pos: usize,
    keep_trailing: bool,
    check: bool,
) -> bool {
    let spec = message.spec;
    let input = message.input;
    let Some(primary) = bitmap(spec.bitmap, input, pos) else {
        return false;
    };
    pos += spec.bitmap.width();
    message.bitmap.set_word(0, primary);

    let mut run = Run::EMPTY;
    for word in 0..3 {
        // Bit 1 is the top bit: reversed, the lowest set bit is the next field, and clearing
        // it is one instruction.
        let mut bits = message.bitmap.word(word).reverse_bits();
        while bits != 0 {
            let n = word * 64 + bits.trailing_zeros() as usize + 1;
            bits &= bits - 1;
            let Some(fast) = spec.fast.get(n) else {
                return false;
            };
            // `pos` never passes the input's end, checked above to fit.
            if !message.spans.push(pos as u16) {
                return false;
            }
            pos = if fast.hot {
                match hot(fast, input, pos, check, &mut run) {
                    Some(end) => end,
                    None => return false,
                }
            } else {
                match cold(spec, n, word, fast, message, pos, check, &mut run) {
                    Some(end) => end,
                    None => return false,
                }
            };
        }
    }
    if check && !run.test(input) {
        return false;
    }

    if (pos != input.len() && !keep_trailing) || pos > usize::from(u16::MAX) {
        return false;
    }
    message.mti = mti;
    message.end = pos as u32;
    let (primary, secondary) = (message.bitmap.word(0), message.bitmap.word(1));
    if message.bitmap.word(2) == 0 {
        spec.layouts.learn(spec, primary, secondary);
    }
    true
}

/// A hot field at `pos` (see [`Fast::hot`]): where it ends, its content taken into `run`.
#[inline(always)]
fn hot(fast: &Fast, input: &[u8], pos: usize, check: bool, run: &mut Run) -> Option<usize> {
    let (start, end, odd) = if fast.step == Step::Fixed {
        (pos, pos + fast.size as usize, fast.odd_fixed)
    } else {
        let (width, count) = short_prefix(fast, input, pos)?;
        if count > fast.size || (fast.even && count % 2 == 1) {
            return None;
        }
        let wire = ((count << fast.shl) + u32::from(fast.add)) >> fast.shr;
        let start = pos + width;
        (start, start + wire as usize, fast.parity && count % 2 == 1)
    };
    if end > input.len() {
        return None;
    }
    if check {
        let item = Item {
            start,
            units: 0,
            end,
        };
        if odd && !filler_ok(fast, input, item) {
            return None;
        }
        let from = if fast.joins { pos } else { start };
        if !run.extend(fast.probe, from, end, input) {
            return None;
        }
    }
    Some(end)
}

/// The prefixes of hot fields: the width of the one at `pos` and the count it holds.
#[inline(always)]
fn short_prefix(fast: &Fast, input: &[u8], pos: usize) -> Option<(usize, u32)> {
    let digit = |b: u8| {
        let d = b.wrapping_sub(b'0');
        (d <= 9).then_some(u32::from(d))
    };
    let bcd = |b: u8| {
        let (hi, lo) = (b >> 4, b & 0x0F);
        (hi <= 9 && lo <= 9).then_some(u32::from(hi) * 10 + u32::from(lo))
    };
    // An odd digit count leaves the top nibble of a BCD prefix as zero filler; anything else
    // is for the full walk to refuse.
    let top_ok = |b: u8| !fast.odd_prefix || b >> 4 == 0;
    Some(match fast.step {
        Step::Ascii2 => match input.get(pos..pos + 2)? {
            &[a, b] => (2, digit(a)? * 10 + digit(b)?),
            _ => return None,
        },
        Step::Ascii3 => match input.get(pos..pos + 3)? {
            &[a, b, c] => (3, digit(a)? * 100 + digit(b)? * 10 + digit(c)?),
            _ => return None,
        },
        Step::Bcd1 => {
            let b = *input.get(pos)?;
            top_ok(b).then_some(())?;
            (1, bcd(b)?)
        }
        Step::Bcd2 => match input.get(pos..pos + 2)? {
            &[a, b] => {
                top_ok(a).then_some(())?;
                (2, bcd(a)? * 100 + bcd(b)?)
            }
            _ => return None,
        },
        Step::Binary1 => (1, u32::from(*input.get(pos)?)),
        Step::Binary2 => match input.get(pos..pos + 2)? {
            &[a, b] => (2, u32::from(u16::from_be_bytes([a, b]))),
            _ => return None,
        },
        Step::Stop | Step::Bitmap | Step::Fixed | Step::Prefix => return None,
    })
}

/// Everything that is not hot: bitmaps, undefined fields, long or EBCDIC prefixes, signed
/// amounts, EBCDIC content, odd BCD with a filler of its own.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn cold(
    spec: &Spec,
    n: usize,
    word: usize,
    fast: &Fast,
    message: &mut Message<'_>,
    pos: usize,
    check: bool,
    run: &mut Run,
) -> Option<usize> {
    let input = message.input;
    match fast.step {
        Step::Stop => None,
        Step::Bitmap => {
            // An empty secondary or tertiary bitmap is a quirk: the full walk notes it.
            match bitmap(spec.bitmap, input, pos) {
                Some(nested) if nested != 0 => message.bitmap.set_word(word + 1, nested),
                _ => return None,
            }
            Some(pos + spec.bitmap.width())
        }
        _ => {
            let item = locate(spec, n, fast, input, pos)?;
            if check && !run.take(spec, n, fast, input, pos, item) {
                return None;
            }
            Some(item.end)
        }
    }
}

/// Where a field's data lies: `input[start..end]`, holding `units` units.
#[derive(Clone, Copy)]
struct Item {
    start: usize,
    units: usize,
    end: usize,
}

/// The field at `pos`, within the input, or `None` to give up.
#[inline(always)]
fn locate(spec: &Spec, n: usize, fast: &Fast, input: &[u8], pos: usize) -> Option<Item> {
    let item = if fast.step == Step::Fixed {
        Item {
            start: pos,
            units: fast.units as usize,
            end: pos + fast.size as usize,
        }
    } else {
        let (width, count) = prefix(spec, n, fast, input, pos)?;
        if count > fast.size {
            return None;
        }
        let count = count as usize;
        let units = if fast.counts_bytes {
            fast.rule.units_in(fast.sign, count)?
        } else {
            count
        };
        let start = pos + width;
        Item {
            start,
            units,
            end: start + fast.rule.wire_len(fast.sign, units),
        }
    };
    (item.end <= input.len()).then_some(item)
}

/// The width of the prefix at `pos` and the count it holds.
#[inline(always)]
fn prefix(spec: &Spec, n: usize, fast: &Fast, input: &[u8], pos: usize) -> Option<(usize, u32)> {
    if fast.step != Step::Prefix {
        return short_prefix(fast, input, pos);
    }
    let plan = spec.plans.get(n)?;
    let width = usize::from(plan.prefix_width);
    let count = read_prefix(
        plan.prefix_encoding,
        plan.prefix_digits % 2 == 1,
        input.get(pos..pos + width)?,
    )
    .ok()?;
    Some((width, u32::try_from(count).ok()?))
}

/// Bytes of one probe's class not yet tested: `input[start..end]`.
struct Run {
    probe: Probe,
    start: usize,
    end: usize,
}

impl Run {
    const EMPTY: Run = Run {
        probe: Probe::Nothing,
        start: 0,
        end: 0,
    };

    /// Takes the field whose prefix starts at `pos` into the run, or tests the run so far and
    /// starts another; `false` when a test failed.
    #[inline(always)]
    fn take(
        &mut self,
        spec: &Spec,
        n: usize,
        fast: &Fast,
        input: &[u8],
        pos: usize,
        item: Item,
    ) -> bool {
        let probe = fast.probe;
        match probe {
            Probe::Nothing => return true,
            Probe::Plan => {
                return match (spec.plans.get(n), input.get(item.start..item.end)) {
                    (Some(plan), Some(data)) => {
                        content::is_canonical(plan.check, plan.sign, data, item.units)
                    }
                    _ => false,
                }
            }
            Probe::Bcd | Probe::BcdTrack if item.units % 2 == 1 => {
                if !fast.filler_joins {
                    return bcd_alone(fast, input, item);
                }
                if !filler_ok(fast, input, item) {
                    return false;
                }
            }
            _ => {}
        }
        let from = if fast.joins { pos } else { item.start };
        self.extend(probe, from, item.end, input)
    }

    /// Adds `input[from..end]`, of `probe`'s class, to the run when it continues it; otherwise
    /// tests the run so far and starts another. `false` when a test failed.
    #[inline(always)]
    fn extend(&mut self, probe: Probe, from: usize, end: usize, input: &[u8]) -> bool {
        if probe == self.probe && from == self.end {
            self.end = end;
            return true;
        }
        let ok = self.test(input);
        *self = Run {
            probe,
            start: from,
            end,
        };
        ok
    }

    /// Tests the bytes of the run.
    #[inline(always)]
    fn test(&self, input: &[u8]) -> bool {
        let (start, end) = (self.start, self.end);
        match self.probe {
            Probe::Nothing | Probe::Plan => true,
            Probe::Digits => span(input, start, end, ZEROS, digits_bad, digit_ok),
            Probe::Printable => span(input, start, end, ZEROS, printable_bad, printable_ok),
            Probe::UpperHex => span(input, start, end, ZEROS, upper_hex_bad, upper_hex_ok),
            Probe::LettersDigits => span(
                input,
                start,
                end,
                ZEROS,
                letters_digits_bad,
                letters_digits_ok,
            ),
            Probe::Letters => span(input, start, end, SPACES, letters_bad, letters_ok),
            Probe::Track => span(input, start, end, ZEROS, track_bad, track_ok),
            Probe::Bcd => span(input, start, end, 0, bcd_bad, bcd_ok),
            Probe::BcdTrack => span(input, start, end, 0, bcd_track_bad, bcd_track_ok),
        }
    }
}

/// The filler nibble of odd BCD data (at the start with left padding, else at the end) is
/// the spec's.
#[inline(always)]
fn filler_ok(fast: &Fast, input: &[u8], item: Item) -> bool {
    match fast.pad {
        Pad::Left => input
            .get(item.start)
            .is_some_and(|&b| b >> 4 == fast.filler),
        Pad::Right => item
            .end
            .checked_sub(1)
            .and_then(|last| input.get(last))
            .is_some_and(|&b| b & 0x0F == fast.filler),
    }
}

/// Odd BCD data whose filler nibble the probe itself would refuse (`F`, say): the filler, its
/// byte's digit and the other bytes, tested apart from any run.
#[cold]
fn bcd_alone(fast: &Fast, input: &[u8], item: Item) -> bool {
    let track = fast.probe == Probe::BcdTrack;
    let (at, rest) = match fast.pad {
        Pad::Left => (item.start, (item.start + 1, item.end)),
        Pad::Right => (
            item.end.wrapping_sub(1),
            (item.start, item.end.wrapping_sub(1)),
        ),
    };
    let Some(&b) = input.get(at) else {
        return false;
    };
    let d = match fast.pad {
        Pad::Left => b & 0x0F,
        Pad::Right => b >> 4,
    };
    let rest_ok = if track {
        words(input, rest.0, rest.1, 0, bcd_track_bad)
    } else {
        words(input, rest.0, rest.1, 0, bcd_bad)
    };
    filler_ok(fast, input, item) && (d <= 9 || (track && d == 0xD)) && rest_ok
}

/// Tests `input[start..end]` with `ok`, sixteen bytes at a time (see [`blocks`]). Shorter data
/// is tested as the sixteen bytes that end it, those before `start` replaced by `pad` (a byte
/// `ok` accepts); or, for data within the input's first sixteen bytes, with [`words`] and
/// `bad`.
#[inline(always)]
fn span(
    input: &[u8],
    start: usize,
    end: usize,
    pad: u64,
    bad: impl Fn(u64) -> u64,
    ok: impl Fn(u8x16) -> u8x16,
) -> bool {
    let Some(data) = input.get(start..end) else {
        return false;
    };
    let len = data.len();
    if len >= 16 {
        return blocks(data, ok);
    }
    let ending = end
        .checked_sub(16)
        .and_then(|at| input.get(at..end))
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok());
    match ending {
        Some(bytes) => {
            // Lane `i` holds data when `i >= 16 - len`.
            let from = u8x16::splat((16 - len) as u8);
            let data_lanes = LANES.max(from).cmp_eq(LANES);
            let v = u8x16::new(bytes);
            let padded = (v & data_lanes) | (u8x16::splat(pad as u8) & !data_lanes);
            every_lane(ok(padded))
        }
        None => words(input, start, end, pad, bad),
    }
}

/// Each lane's index.
const LANES: u8x16 = u8x16::new([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

/// Whether `ok` holds for every byte of `data` (at least sixteen bytes), tested sixteen at a
/// time and the last sixteen again, as one vector each (`wide`, safe code over SSE2 on
/// x86-64, over plain arrays where there is no vector unit).
#[inline(always)]
fn blocks(data: &[u8], ok: impl Fn(u8x16) -> u8x16) -> bool {
    // A block that cannot be read (none can: the lengths are checked) is all 0xFF, which
    // every rule refuses.
    let block = |bytes: &[u8]| <[u8; 16]>::try_from(bytes).map_or(u8x16::MAX, u8x16::new);
    let at = |from: usize| data.get(from..from + 16).map_or(u8x16::MAX, block);
    // Up to three blocks, the last overlapping the one before, without a loop to set up.
    let len = data.len();
    match len {
        16..=32 => return every_lane(ok(at(0)) & ok(at(len - 16))),
        33..=48 => return every_lane(ok(at(0)) & ok(at(16)) & ok(at(len - 16))),
        _ => {}
    }
    let mut fine = u8x16::MAX;
    let mut chunks = data.chunks_exact(16);
    for chunk in &mut chunks {
        fine &= ok(block(chunk));
    }
    if !chunks.remainder().is_empty() {
        let last = data.len().checked_sub(16).and_then(|at| data.get(at..));
        fine &= last.map_or(u8x16::ZERO, |bytes| ok(block(bytes)));
    }
    every_lane(fine)
}

/// Whether every lane is set (the lane rules give 0x00 or 0xFF; the top bit is what is read).
/// Not `u8x16::all`: in `wide` 0.7.33 its version for targets without a vector unit (plain
/// arrays) skips lanes 7 and 15.
#[inline(always)]
fn every_lane(v: u8x16) -> bool {
    v.move_mask() == 0xFFFF
}

// Lane rules for `blocks`: all ones in each lane whose byte is fine. SSE2 compares bytes
// as signed only, so a range is tested as "at most" through the unsigned minimum.

/// Bytes from `lo` to `hi`.
#[inline(always)]
fn lanes_within(v: u8x16, lo: u8, hi: u8) -> u8x16 {
    let d = v - u8x16::splat(lo);
    d.min(u8x16::splat(hi - lo)).cmp_eq(d)
}

#[inline(always)]
fn lanes_equal(v: u8x16, c: u8) -> u8x16 {
    v.cmp_eq(u8x16::splat(c))
}

/// At most 9 in the low nibble.
#[inline(always)]
fn low_digit(v: u8x16) -> u8x16 {
    let low = v & u8x16::splat(0x0F);
    low.min(u8x16::splat(9)).cmp_eq(low)
}

#[inline(always)]
fn digit_ok(v: u8x16) -> u8x16 {
    lanes_within(v, b'0', b'9')
}

#[inline(always)]
fn printable_ok(v: u8x16) -> u8x16 {
    lanes_within(v, 0x20, 0x7E)
}

#[inline(always)]
fn upper_hex_ok(v: u8x16) -> u8x16 {
    digit_ok(v) | lanes_within(v, b'A', b'F')
}

#[inline(always)]
fn letters_ok(v: u8x16) -> u8x16 {
    // Setting bit 5 maps `A-Z` onto `a-z` and nothing else into that range.
    lanes_within(v | u8x16::splat(0x20), b'a', b'z') | lanes_equal(v, b' ')
}

#[inline(always)]
fn letters_digits_ok(v: u8x16) -> u8x16 {
    letters_ok(v) | digit_ok(v)
}

#[inline(always)]
fn track_ok(v: u8x16) -> u8x16 {
    digit_ok(v) | lanes_equal(v, b'=') | lanes_equal(v, b'D')
}

#[inline(always)]
fn bcd_ok(v: u8x16) -> u8x16 {
    // The high nibble is at most 9 when the byte is at most 0x9F.
    v.min(u8x16::splat(0x9F)).cmp_eq(v) & low_digit(v)
}

#[inline(always)]
fn bcd_track_ok(v: u8x16) -> u8x16 {
    let high =
        v.min(u8x16::splat(0x9F)).cmp_eq(v) | (v & u8x16::splat(0xF0)).cmp_eq(u8x16::splat(0xD0));
    let low = low_digit(v) | (v & u8x16::splat(0x0F)).cmp_eq(u8x16::splat(0x0D));
    high & low
}

/// Applies `bad` to `input[start..end]` eight bytes at a time and says whether every word was
/// clean (`bad` gives 0); the last word is the eight bytes that end the data (testing a few
/// bytes twice is harmless). Data shorter than a word is tested as the eight bytes ending it,
/// those before `start` replaced by the bytes of `pad`.
#[inline(always)]
fn words(input: &[u8], start: usize, end: usize, pad: u64, bad: impl Fn(u64) -> u64) -> bool {
    let Some(data) = input.get(start..end) else {
        return false;
    };
    if data.is_empty() {
        return true;
    }
    let Some(last) = end.checked_sub(8).and_then(|at| load(input, at)) else {
        return false;
    };
    if data.len() < 8 {
        // Little-endian: the data's bytes are the word's top ones.
        let keep = u64::MAX << (8 * (8 - data.len()));
        return bad((last & keep) | (pad & !keep)) == 0;
    }
    let mut found = 0;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        if let Ok(bytes) = <&[u8; 8]>::try_from(chunk) {
            found |= bad(u64::from_le_bytes(*bytes));
        }
    }
    if !chunks.remainder().is_empty() {
        found |= bad(last);
    }
    found == 0
}

#[inline(always)]
fn load(input: &[u8], at: usize) -> Option<u64> {
    let bytes: &[u8; 8] = input.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(*bytes))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
const LOW_NIBBLES: u64 = 0x0F0F_0F0F_0F0F_0F0F;
const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
const ZEROS: u64 = ONES * b'0' as u64;
const SPACES: u64 = ONES * b' ' as u64;

// Byte-wise comparisons of a word whose bytes are all below 0x80: no addition below carries
// from one byte into the next, and each result is the top bit of its byte.

/// Top bit set in each byte at least `lo`.
#[inline(always)]
fn at_least(x: u64, lo: u8) -> u64 {
    x.wrapping_add(ONES * u64::from(0x80 - lo)) & HIGH_BITS
}

/// Top bit set in each byte at most `hi`.
#[inline(always)]
fn at_most(x: u64, hi: u8) -> u64 {
    !x.wrapping_add(ONES * u64::from(0x7F - hi)) & HIGH_BITS
}

#[inline(always)]
pub(crate) fn within(x: u64, lo: u8, hi: u8) -> u64 {
    at_least(x, lo) & at_most(x, hi)
}

// Each `*_bad` function gives 0 for a word whose eight bytes all pass, something else
// otherwise.

/// Every byte is `0x30..=0x39`: high nibble 3, and low nibble at most 9 (adding 6 to a nibble
/// above 9 carries into the high nibble).
#[inline(always)]
pub(crate) fn digits_bad(x: u64) -> u64 {
    ((x & HIGH_NIBBLES) ^ ZEROS) | (((x & LOW_NIBBLES) + ONES * 6) & HIGH_NIBBLES)
}

/// Every byte has its top bit clear and its bit in `ok` (from the comparisons above, exact for
/// such bytes) set.
#[inline(always)]
pub(crate) fn outside(x: u64, ok: u64) -> u64 {
    (x | !ok) & HIGH_BITS
}

/// Printable ASCII, `0x20..=0x7E`.
#[inline(always)]
pub(crate) fn printable_bad(x: u64) -> u64 {
    outside(x, within(x, 0x20, 0x7E))
}

/// `0-9` or `A-F`.
#[inline(always)]
fn upper_hex_bad(x: u64) -> u64 {
    outside(x, within(x, b'0', b'9') | within(x, b'A', b'F'))
}

/// A letter or a space.
#[inline(always)]
pub(crate) fn letters_bad(x: u64) -> u64 {
    // Setting bit 5 maps `A-Z` onto `a-z` and nothing else into that range (a byte with its
    // top bit set is refused by `outside` whatever the comparisons say of it).
    outside(x, within(x | SPACES, b'a', b'z') | within(x, b' ', b' '))
}

/// A letter, a digit or a space.
#[inline(always)]
pub(crate) fn letters_digits_bad(x: u64) -> u64 {
    outside(
        x,
        within(x, b'0', b'9') | within(x | SPACES, b'a', b'z') | within(x, b' ', b' '),
    )
}

/// A digit, `=` or `D` (ISO 7813 track 2 in ASCII).
#[inline(always)]
pub(crate) fn track_bad(x: u64) -> u64 {
    outside(
        x,
        within(x, b'0', b'9') | within(x, b'=', b'=') | within(x, b'D', b'D'),
    )
}

/// Every nibble is a decimal digit.
#[inline(always)]
fn bcd_bad(x: u64) -> u64 {
    (((x & LOW_NIBBLES) + ONES * 6) | (((x >> 4) & LOW_NIBBLES) + ONES * 6)) & HIGH_NIBBLES
}

/// Every nibble is a decimal digit or `D`, the track 2 separator in BCD.
#[inline(always)]
fn bcd_track_bad(x: u64) -> u64 {
    // Per byte holding one nibble `v`: bit 4 of `v + 6` is clear when `v <= 9`, and bit 7 of
    // `(v ^ 0xD) + 0x7F` is clear when `v == 0xD`.
    let nibble_ok = |v: u64| {
        let digit = !(v + ONES * 6) & (ONES << 4);
        let separator = !((v ^ (ONES * 0x0D)) + ONES * 0x7F) & HIGH_BITS;
        (digit << 3) | separator
    };
    !(nibble_ok(x & LOW_NIBBLES) & nibble_ok((x >> 4) & LOW_NIBBLES)) & HIGH_BITS
}

#[inline(always)]
fn mti(encoding: MtiEncoding, input: &[u8]) -> Option<Mti> {
    let mut digits = [0u8; 4];
    match encoding {
        MtiEncoding::Ascii => {
            let bytes: [u8; 4] = input.get(..4)?.try_into().ok()?;
            let x = u64::from(u32::from_le_bytes(bytes));
            // The four bytes padded with four ASCII zeros make one word of digits.
            // Returned from here, so that the four bytes stay one word.
            return (digits_bad(x | (ZEROS << 32)) == 0).then_some(Mti(bytes));
        }
        MtiEncoding::Ebcdic => {
            for (d, &b) in digits.iter_mut().zip(input.get(..4)?) {
                let v = b.wrapping_sub(0xF0);
                if v > 9 {
                    return None;
                }
                *d = b'0' + v;
            }
        }
        MtiEncoding::Bcd => {
            for (pair, &b) in digits.chunks_exact_mut(2).zip(input.get(..2)?) {
                let (hi, lo) = (b >> 4, b & 0x0F);
                if hi > 9 || lo > 9 {
                    return None;
                }
                pair.copy_from_slice(&[b'0' + hi, b'0' + lo]);
            }
        }
    }
    Some(Mti(digits))
}

#[inline(always)]
fn bitmap(encoding: BitmapEncoding, input: &[u8], pos: usize) -> Option<u64> {
    match encoding {
        BitmapEncoding::Binary => {
            let bytes: [u8; 8] = input.get(pos..pos + 8)?.try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }
        BitmapEncoding::Hex(Charset::Ascii) => {
            let high = hex_word(load(input, pos)?)?;
            let low = hex_word(load(input, pos + 8)?)?;
            Some((u64::from(high) << 32) | u64::from(low))
        }
        BitmapEncoding::Hex(charset @ Charset::Ebcdic(_)) => input
            .get(pos..pos + 16)?
            .iter()
            .try_fold(0u64, |w, &b| match content::hex_value(b, charset) {
                Some((v, false)) => Some((w << 4) | u64::from(v)),
                _ => None,
            }),
    }
}

/// Eight upper-case ASCII hex characters (loaded little-endian: the first is the lowest byte)
/// as the 32 bits they write, the first character the top nibble.
#[inline(always)]
fn hex_word(x: u64) -> Option<u32> {
    if upper_hex_bad(x) != 0 {
        return None;
    }
    // `0-9` are 0x30-0x39 and `A-F` 0x41-0x46: the low nibble, plus 9 for a letter (bit 6).
    let values = (x & LOW_NIBBLES) + ((x >> 6) & ONES) * 9;
    // First character in the top byte, then pairs of nibbles into bytes, bytes into words.
    let v = values.swap_bytes();
    let v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
    let v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
    let v = (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF;
    u32::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(bytes: &[u8; 8]) -> u64 {
        u64::from_le_bytes(*bytes)
    }

    /// Each class: the rule it must follow, and its word test.
    type Class = (Probe, fn(u8) -> bool, fn(u64) -> u64);

    const CLASSES: [Class; 8] = [
        (Probe::Digits, |b| b.is_ascii_digit(), digits_bad),
        (
            Probe::Printable,
            |b| (0x20..0x7F).contains(&b),
            printable_bad,
        ),
        (
            Probe::UpperHex,
            |b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b),
            upper_hex_bad,
        ),
        (
            Probe::Letters,
            |b| b.is_ascii_alphabetic() || b == b' ',
            letters_bad,
        ),
        (
            Probe::LettersDigits,
            |b| b.is_ascii_alphanumeric() || b == b' ',
            letters_digits_bad,
        ),
        (
            Probe::Track,
            |b| b.is_ascii_digit() || b == b'=' || b == b'D',
            track_bad,
        ),
        (Probe::Bcd, |b| b >> 4 <= 9 && b & 0x0F <= 9, bcd_bad),
        (
            Probe::BcdTrack,
            |b| (b >> 4 <= 9 || b >> 4 == 0xD) && (b & 0x0F <= 9 || b & 0x0F == 0xD),
            bcd_track_bad,
        ),
    ];

    /// The word test of each class agrees with its rule for every byte value in every
    /// position of the word.
    #[test]
    fn tests_agree_with_class_rules() {
        for (probe, rule, bad_word) in CLASSES {
            // A neighbour the rule accepts, so that only the byte under test decides.
            let fine = (0..=255u8).find(|&b| rule(b)).unwrap();
            for b in 0..=255u8 {
                for at in 0..8 {
                    let mut bytes = [fine; 8];
                    bytes[at] = b;
                    assert_eq!(
                        bad_word(word(&bytes)) == 0,
                        rule(b),
                        "{probe:?} {b:#04x} at {at}"
                    );
                }
            }
        }
    }

    /// A run of any class and length, short or long, passes when every byte does and fails on
    /// one bad byte wherever it is, whatever lies around the run.
    #[test]
    fn runs_of_any_length_are_tested_alone() {
        for (probe, rule, _) in CLASSES {
            let fine = (0..=255u8).find(|&b| rule(b)).unwrap();
            let bad = (0..=255u8).find(|&b| !rule(b)).unwrap();
            // Up to 80 bytes: runs ending within the first sixteen bytes take the word tests,
            // the others the block tests (padded when shorter than a block). No field starts
            // before byte 8: an MTI and a bitmap come first.
            let mut input = vec![bad; 96];
            for start in 8..40 {
                for end in start..=80 {
                    input.fill(bad);
                    input[start..end].fill(fine);
                    let run = Run { probe, start, end };
                    assert!(run.test(&input), "{probe:?} {start}..{end}");
                    for at in start..end {
                        input[at] = bad;
                        assert!(!run.test(&input), "{probe:?} {start}..{end}, bad at {at}");
                        input[at] = fine;
                    }
                }
            }
        }
    }

    /// The byte rule of each class, which the block tests apply lane by lane, agrees with the
    /// class rule for every byte value.
    #[test]
    fn byte_rules_agree_with_class_rules() {
        type ByteRule = (Probe, fn(u8x16) -> u8x16);
        let byte_rules: [ByteRule; 8] = [
            (Probe::Digits, digit_ok),
            (Probe::Printable, printable_ok),
            (Probe::UpperHex, upper_hex_ok),
            (Probe::Letters, letters_ok),
            (Probe::LettersDigits, letters_digits_ok),
            (Probe::Track, track_ok),
            (Probe::Bcd, bcd_ok),
            (Probe::BcdTrack, bcd_track_ok),
        ];
        for ((probe, rule, _), (byte_probe, byte_rule)) in CLASSES.into_iter().zip(byte_rules) {
            assert_eq!(probe, byte_probe);
            for b in 0..=255u8 {
                let lanes = byte_rule(u8x16::splat(b)).to_array();
                assert!(
                    lanes.iter().all(|&l| l == 0 || l == 0xFF),
                    "{probe:?} {b:#04x}"
                );
                assert_eq!(lanes[0] == 0xFF, rule(b), "{probe:?} {b:#04x}");
            }
        }
    }

    /// One lane of sixteen not all ones, whichever, is seen (`wide`'s own `all` misses lanes
    /// 7 and 15 on targets without vectors).
    #[test]
    fn every_lane_means_every_lane() {
        assert!(every_lane(u8x16::MAX));
        for lane in 0..16 {
            for value in [0x00, 0x01, 0x7F] {
                let mut lanes = [0xFF; 16];
                lanes[lane] = value;
                assert!(!every_lane(u8x16::new(lanes)), "lane {lane} = {value:#04x}");
            }
        }
    }

    #[test]
    fn hex_words_read_like_text() {
        for text in [
            b"00000000",
            b"723C4480",
            b"FFFFFFFF",
            b"0123ABCD",
            b"9A8B7C6D",
        ] {
            let expected = u32::from_str_radix(std::str::from_utf8(text).unwrap(), 16).unwrap();
            assert_eq!(hex_word(word(text)), Some(expected));
        }
        assert_eq!(hex_word(word(b"723c4480")), None);
        assert_eq!(hex_word(word(b"723G4480")), None);
    }
}
