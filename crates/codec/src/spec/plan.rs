//! Per-field decoding plans, computed once when a spec is loaded.
//!
//! The decoder's inner loop runs once per present field, so everything it can know in advance
//! (fixed wire lengths, prefix widths, the limit a prefix may announce, which content check to
//! run) is worked out here from the [`FieldSpec`] and kept in a small `Copy` record indexed by
//! field number. The field specs stay the source of truth; plans are derived from them only.
//!
//! The builder uses the same plans the other way round: which check a logical value gets, how
//! long it is on the wire and how it is written.

use super::{
    Charset, ContentClass, DataEncoding, FieldSpec, LengthKind, Pad, PrefixCounts, PrefixEncoding,
    Spec, MAX_FIELD,
};

/// What the decoder does at a set bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The spec does not define the field.
    Undefined,
    /// The bit announces another bitmap (1, or 65 with a tertiary bitmap).
    Bitmap,
    /// A fixed-length field.
    Fixed,
    /// A field behind a length prefix.
    Variable,
}

/// How a number of units becomes a number of wire bytes (a sign byte of `x+n` apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// One byte per unit.
    Same,
    /// Two hex characters per byte.
    Hex,
    /// Two digits per byte, rounded up.
    Bcd,
}

/// Which content check the field's data gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Binary data: nothing to check.
    Nothing,
    /// Characters of a class, in a charset.
    Chars(ContentClass, Charset),
    /// Packed BCD digits; `track` allows the separator nibble `D`.
    Bcd { pad: Pad, filler: u8, track: bool },
    /// Hex characters.
    Hex(Charset),
}

/// How the builder writes a logical value (a sign byte of `x+n` in BCD apart). A flat enum,
/// its details in the plan's `charset`, `pad` and `filler`: the builder branches on it once
/// per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    /// As it is: ASCII text and binary data.
    Copy,
    /// Each character mapped to the EBCDIC code page of `charset`.
    Ebcdic,
    /// Each byte as two upper-case hex characters in `charset`.
    Hex,
    /// Digits packed two to a byte, the filler nibble where `pad` says.
    Bcd,
}

/// How the builder writes a length prefix: the common ones with a table, the rest digit by
/// digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrefixWriter {
    /// A fixed field: no prefix.
    None,
    /// Two ASCII digits (LLVAR).
    Ascii2,
    /// Three ASCII digits (LLLVAR).
    Ascii3,
    /// One byte of BCD (one or two digits).
    Bcd1,
    /// Two bytes of BCD (three or four digits).
    Bcd2,
    /// Any other width or encoding.
    Digits,
}

/// Which check the builder runs on a logical value (the sign of `x+n` checked apart). A flat
/// enum rather than a class inside one: the builder branches on it once per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueCheck {
    /// Class `b`: any bytes.
    Nothing,
    /// Classes `n` and `x+n`: ASCII digits.
    Digits,
    /// Class `z`.
    Track,
    /// Class `a`.
    Letters,
    /// Class `an`.
    LettersDigits,
    /// Class `ans`.
    Printable,
}

impl ValueCheck {
    /// The class whose characters the check allows (`n` for the digits of `x+n`).
    pub(crate) fn class(self) -> ContentClass {
        match self {
            ValueCheck::Nothing => ContentClass::B,
            ValueCheck::Digits => ContentClass::N,
            ValueCheck::Track => ContentClass::Z,
            ValueCheck::Letters => ContentClass::A,
            ValueCheck::LettersDigits => ContentClass::An,
            ValueCheck::Printable => ContentClass::Ans,
        }
    }
}

/// When the builder looks for the mask character `*` in a value (see `encode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MaskScan {
    /// Not a sensitive text field.
    Never,
    /// The class refuses `*`, so only a value that fails its check can hold one.
    OnError,
    /// The class allows `*` (`ans`): every value is scanned.
    Always,
}

/// How `Builder::encode` writes a field, decided once per field rather than from the prefix
/// writer and the writer on every write: the common forms inline, the rest through the general
/// writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteOp {
    /// A fixed field written as it is (ASCII text or binary).
    Copy,
    /// The same, 4 to 8 bytes long: two overlapping moves of four, without looking at the
    /// length.
    Copy4To8,
    /// The same, 9 to 16 bytes long: two overlapping moves of eight.
    Copy9To16,
    /// Two ASCII digits counting the value's bytes, then the value as it is.
    Ascii2Copy,
    /// Three ASCII digits counting the value's bytes, then the value as it is.
    Ascii3Copy,
    /// A fixed binary field written as upper-case ASCII hex characters.
    Hex,
    /// Three ASCII digits counting the hex characters written, then the value as upper-case
    /// ASCII hex (EMV data in ASCII specs).
    Ascii3Hex,
    /// Anything else: `write::write_field` with the plan.
    General,
}

/// Which check the builder's quick path gives a value. A value it does not accept (or a field
/// it does not handle: `x+n`, a prefix counting BCD bytes, which allows only even lengths,
/// undefined numbers, bitmap bits) goes the full way, which finds what is wrong or accepts it
/// after all; so every check here may be stricter than the full one, never looser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuickCheck {
    /// Always the full way.
    Slow,
    /// Class `b`: any bytes.
    Any,
    /// Class `n`.
    Digits,
    /// Class `z`.
    Track,
    /// Class `a`.
    Letters,
    /// Class `an`.
    LettersDigits,
    /// Class `ans`, printable ASCII only (bytes above 0x7F, accepted unless strict, go the full
    /// way, so that the quick path does not depend on the builder's strictness).
    Printable,
    /// Class `ans` in a sensitive field: printable ASCII but `*`, which the builder refuses as
    /// masked output pasted back in (and `from_message` accepts, the full way).
    PrintableNoStar,
}

/// What the builder's `set` needs to accept a value in one look: the logical lengths allowed
/// and, for those, the wire bytes the field takes, `base + ((len * mul + half) >> half)`
/// (a fixed field: `mul` 0; two hex characters a byte: `mul` 2; BCD: `half` 1, two digits a
/// byte rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quick {
    /// Logical lengths from `min_len` to `min_len + span`.
    pub(crate) min_len: u32,
    pub(crate) span: u32,
    pub(crate) check: QuickCheck,
    pub(crate) base: u32,
    pub(crate) mul: u8,
    pub(crate) half: u8,
}

/// Everything the decoder and the builder need about one field number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) kind: Kind,
    /// Fixed fields: length in units and on the wire.
    pub(crate) units: u32,
    pub(crate) wire: u32,
    /// Variable fields: prefix width in bytes, its encoding, whether it counts wire bytes, and
    /// the largest count the spec allows.
    pub(crate) prefix_width: u8,
    pub(crate) prefix_digits: u8,
    pub(crate) prefix_encoding: PrefixEncoding,
    pub(crate) counts_bytes: bool,
    pub(crate) limit: u32,
    /// `x+n`: a sign character before the digits.
    pub(crate) sign: bool,
    pub(crate) rule: Wire,
    pub(crate) check: Check,
    pub(crate) sensitive: bool,
    /// Builder: the largest length in units (the fixed length of fixed fields), whether a
    /// prefix counting BCD bytes needs an even number of digits, and how values are checked,
    /// scanned for `*` and written.
    pub(crate) max_units: u32,
    pub(crate) even_units: bool,
    pub(crate) value_check: ValueCheck,
    pub(crate) mask_scan: MaskScan,
    pub(crate) writer: Writer,
    pub(crate) charset: Charset,
    pub(crate) pad: Pad,
    pub(crate) filler: u8,
    pub(crate) prefix_writer: PrefixWriter,
    pub(crate) quick: Quick,
    pub(crate) write_op: WriteOp,
    /// Builder: the field's bit in the bitmap words (word 0 primary, 1 secondary, 2 tertiary).
    pub(crate) bit_word: u8,
    pub(crate) bit_mask: u64,
}

pub(crate) const UNDEFINED: Plan = Plan {
    kind: Kind::Undefined,
    units: 0,
    wire: 0,
    prefix_width: 0,
    prefix_digits: 0,
    prefix_encoding: PrefixEncoding::Ascii,
    counts_bytes: false,
    limit: 0,
    sign: false,
    rule: Wire::Same,
    check: Check::Nothing,
    sensitive: false,
    max_units: 0,
    even_units: false,
    value_check: ValueCheck::Nothing,
    mask_scan: MaskScan::Never,
    writer: Writer::Copy,
    charset: Charset::Ascii,
    pad: Pad::Left,
    filler: 0,
    prefix_writer: PrefixWriter::None,
    quick: Quick {
        min_len: 0,
        span: 0,
        check: QuickCheck::Slow,
        base: 0,
        mul: 0,
        half: 0,
    },
    write_op: WriteOp::General,
    bit_word: 0,
    bit_mask: 0,
};

impl Wire {
    /// Wire bytes of `units` units, after a sign byte when `sign`.
    #[inline]
    pub(crate) fn wire_len(self, sign: bool, units: usize) -> usize {
        let sign = usize::from(sign);
        match self {
            Wire::Same => sign + units,
            Wire::Hex => 2 * units,
            Wire::Bcd => sign + units.div_ceil(2),
        }
    }

    /// Units in `bytes` wire bytes (a sign byte included when `sign`), for prefixes that
    /// count bytes.
    #[inline]
    pub(crate) fn units_in(self, sign: bool, bytes: usize) -> Option<usize> {
        let sign = usize::from(sign);
        match self {
            Wire::Same => bytes.checked_sub(sign),
            Wire::Hex => (bytes % 2 == 0).then_some(bytes / 2),
            Wire::Bcd => bytes.checked_sub(sign).map(|b| 2 * b),
        }
    }
}

impl Plan {
    /// Wire bytes of `units` units.
    #[inline]
    pub(crate) fn wire_len(&self, units: usize) -> usize {
        self.rule.wire_len(self.sign, units)
    }

    /// Units in `bytes` wire bytes, for prefixes that count bytes.
    #[inline]
    pub(crate) fn units_in(&self, bytes: usize) -> Option<usize> {
        self.rule.units_in(self.sign, bytes)
    }

    fn of(field: &FieldSpec) -> Plan {
        let sign = field.class == ContentClass::XN;
        let rule = match field.encoding {
            DataEncoding::Text(_) | DataEncoding::Binary => Wire::Same,
            DataEncoding::Hex(_) => Wire::Hex,
            DataEncoding::Bcd { .. } => Wire::Bcd,
        };
        let check = match field.encoding {
            DataEncoding::Binary => Check::Nothing,
            DataEncoding::Text(charset) => Check::Chars(field.class, charset),
            DataEncoding::Bcd { pad, filler } => Check::Bcd {
                pad,
                filler,
                track: field.class == ContentClass::Z,
            },
            DataEncoding::Hex(charset) => Check::Hex(charset),
        };
        let mut plan = Plan {
            kind: Kind::Fixed,
            sign,
            rule,
            check,
            sensitive: field.sensitivity.is_sensitive(),
            max_units: field.max_units(),
            value_check: value_check(field.class),
            mask_scan: mask_scan(field),
            writer: writer(field.encoding),
            charset: match field.encoding {
                DataEncoding::Text(charset) | DataEncoding::Hex(charset) => charset,
                DataEncoding::Bcd { .. } | DataEncoding::Binary => Charset::Ascii,
            },
            pad: match field.encoding {
                DataEncoding::Bcd { pad, .. } => pad,
                _ => Pad::Left,
            },
            filler: match field.encoding {
                DataEncoding::Bcd { filler, .. } => filler,
                _ => 0,
            },
            ..UNDEFINED
        };
        match field.length {
            LengthKind::Fixed(units) => {
                plan.units = units;
                plan.wire = plan.wire_len(units as usize) as u32;
            }
            LengthKind::Variable { prefix, max } => {
                plan.kind = Kind::Variable;
                plan.prefix_width = prefix.width() as u8;
                plan.prefix_digits = prefix.digits;
                plan.prefix_encoding = prefix.encoding;
                plan.prefix_writer = prefix_writer(prefix.encoding, prefix.digits);
                plan.counts_bytes = prefix.counts == PrefixCounts::Bytes;
                // A prefix counting BCD bytes cannot say that a digit is filler.
                plan.even_units = plan.counts_bytes && rule == Wire::Bcd;
                plan.limit = match (plan.counts_bytes, rule) {
                    // Every BCD byte counted holds two digits (no filler can be announced), so
                    // an odd maximum allows one byte less than `wire_len` would: n..19 in
                    // bytes is at most 9 bytes, not the 10 that would carry 20 digits.
                    (true, Wire::Bcd) => u32::from(sign) + max / 2,
                    (true, _) => plan.wire_len(max as usize) as u32,
                    (false, _) => max,
                };
            }
        }
        plan.quick = Quick::of(&plan, field);
        plan.write_op = write_op(&plan);
        // Bit n of the bitmaps, counted from 1 at the top bit of the primary one.
        let bit = u32::from(field.number.saturating_sub(1));
        plan.bit_word = (bit / 64) as u8;
        plan.bit_mask = 1 << (63 - bit % 64);
        plan
    }
}

impl Quick {
    /// The quick path of a defined field, from the rest of its plan.
    fn of(plan: &Plan, field: &FieldSpec) -> Quick {
        let check = match (plan.sign || plan.even_units, plan.value_check) {
            (true, _) => QuickCheck::Slow,
            (false, ValueCheck::Nothing) => QuickCheck::Any,
            (false, ValueCheck::Digits) => QuickCheck::Digits,
            (false, ValueCheck::Track) => QuickCheck::Track,
            (false, ValueCheck::Letters) => QuickCheck::Letters,
            (false, ValueCheck::LettersDigits) => QuickCheck::LettersDigits,
            (false, ValueCheck::Printable) if plan.mask_scan == MaskScan::Always => {
                QuickCheck::PrintableNoStar
            }
            (false, ValueCheck::Printable) => QuickCheck::Printable,
        };
        let (mul, half) = match plan.rule {
            Wire::Same => (1, 0),
            Wire::Hex => (2, 0),
            Wire::Bcd => (1, 1),
        };
        let quick = Quick {
            check,
            ..UNDEFINED.quick
        };
        match field.length {
            LengthKind::Fixed(units) => Quick {
                min_len: units,
                base: plan.wire,
                ..quick
            },
            LengthKind::Variable { .. } => Quick {
                span: plan.max_units,
                base: u32::from(plan.prefix_width),
                mul,
                half,
                ..quick
            },
        }
    }

    /// True when a value of `len` logical bytes has a length the field allows.
    #[inline]
    pub(crate) fn length_ok(&self, len: usize) -> bool {
        len.wrapping_sub(self.min_len as usize) <= self.span as usize
    }

    /// Wire bytes, prefix included, of a value of `len` logical bytes the field allows.
    #[inline]
    pub(crate) fn wire_len(&self, len: usize) -> usize {
        let half = usize::from(self.half);
        self.base as usize + ((len * usize::from(self.mul) + half) >> half)
    }
}

fn value_check(class: ContentClass) -> ValueCheck {
    match class {
        ContentClass::B => ValueCheck::Nothing,
        ContentClass::N | ContentClass::XN => ValueCheck::Digits,
        ContentClass::Z => ValueCheck::Track,
        ContentClass::A => ValueCheck::Letters,
        ContentClass::An => ValueCheck::LettersDigits,
        ContentClass::Ans => ValueCheck::Printable,
    }
}

/// `*` in a sensitive text value was copied from masked output. Of the classes, only `ans`
/// allows `*`; a value of another class holding one fails its check anyway.
fn mask_scan(field: &FieldSpec) -> MaskScan {
    match field.class {
        _ if !field.sensitivity.is_sensitive() => MaskScan::Never,
        ContentClass::B => MaskScan::Never,
        ContentClass::Ans => MaskScan::Always,
        _ => MaskScan::OnError,
    }
}

fn prefix_writer(encoding: PrefixEncoding, digits: u8) -> PrefixWriter {
    match (encoding, digits) {
        (PrefixEncoding::Ascii, 2) => PrefixWriter::Ascii2,
        (PrefixEncoding::Ascii, 3) => PrefixWriter::Ascii3,
        (PrefixEncoding::Bcd, 1 | 2) => PrefixWriter::Bcd1,
        (PrefixEncoding::Bcd, 3 | 4) => PrefixWriter::Bcd2,
        _ => PrefixWriter::Digits,
    }
}

/// The values of ASCII text and binary fields are their wire bytes; without a sign byte (which
/// a prefix counting units does not count) the prefix counts exactly those bytes.
fn write_op(plan: &Plan) -> WriteOp {
    match (plan.writer, plan.sign, plan.prefix_writer) {
        (Writer::Copy, _, PrefixWriter::None) => match plan.wire {
            4..=8 => WriteOp::Copy4To8,
            9..=16 => WriteOp::Copy9To16,
            _ => WriteOp::Copy,
        },
        (Writer::Copy, false, PrefixWriter::Ascii2) => WriteOp::Ascii2Copy,
        (Writer::Copy, false, PrefixWriter::Ascii3) => WriteOp::Ascii3Copy,
        (Writer::Hex, false, PrefixWriter::None) if plan.charset == Charset::Ascii => WriteOp::Hex,
        (Writer::Hex, false, PrefixWriter::Ascii3)
            if plan.charset == Charset::Ascii && plan.counts_bytes =>
        {
            WriteOp::Ascii3Hex
        }
        _ => WriteOp::General,
    }
}

fn writer(encoding: DataEncoding) -> Writer {
    match encoding {
        DataEncoding::Text(Charset::Ascii) | DataEncoding::Binary => Writer::Copy,
        DataEncoding::Text(Charset::Ebcdic(_)) => Writer::Ebcdic,
        DataEncoding::Hex(_) => Writer::Hex,
        DataEncoding::Bcd { .. } => Writer::Bcd,
    }
}

/// Plans for every field number 0-192 of a spec.
pub(crate) fn plans(spec: &Spec) -> Vec<Plan> {
    (0..=MAX_FIELD)
        .map(|n| {
            if spec.is_bitmap_bit(n) {
                Plan {
                    kind: Kind::Bitmap,
                    ..UNDEFINED
                }
            } else {
                spec.field(n).map_or(UNDEFINED, Plan::of)
            }
        })
        .collect()
}

impl Plan {
    /// The count a length prefix (or the part of it present) holds, or the index of its first
    /// bad byte. A BCD prefix with an odd number of digits must have a zero top nibble.
    #[inline]
    pub(crate) fn read_prefix(&self, bytes: &[u8]) -> Result<u64, usize> {
        read_prefix(self.prefix_encoding, self.prefix_digits % 2 == 1, bytes)
    }
}

#[inline]
pub(crate) fn read_prefix(
    encoding: PrefixEncoding,
    odd_bcd: bool,
    bytes: &[u8],
) -> Result<u64, usize> {
    let mut count: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        count = match encoding {
            PrefixEncoding::Binary => (count << 8) | u64::from(b),
            PrefixEncoding::Ascii => match b.wrapping_sub(b'0') {
                d @ 0..=9 => count * 10 + u64::from(d),
                _ => return Err(i),
            },
            PrefixEncoding::Ebcdic => match b.wrapping_sub(0xF0) {
                d @ 0..=9 => count * 10 + u64::from(d),
                _ => return Err(i),
            },
            PrefixEncoding::Bcd => {
                let (hi, lo) = (b >> 4, b & 0x0F);
                if hi > 9 || lo > 9 || (i == 0 && odd_bcd && hi != 0) {
                    return Err(i);
                }
                count * 100 + u64::from(hi * 10 + lo)
            }
        };
    }
    Ok(count)
}
