//! The spec model: what each field may hold and how it is written on the wire.
//!
//! A [`Spec`] drives everything else in the crate: decoding, encoding, validation and masking.
//! Specs come from TOML files (see `specs/README.md` at the repository root for the format);
//! loading and linting them lives in [`load`], the compiled-in copies in [`builtin`].

pub(crate) mod builtin;
pub(crate) mod load;
pub(crate) mod plan;

use std::fmt;

pub use load::{SpecError, SpecProblem};

/// Highest field number any spec may define (three bitmaps of 64 bits).
pub const MAX_FIELD: u16 = 192;

/// Content class of a field, as ISO 8583 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentClass {
    /// `n`: digits 0-9.
    N,
    /// `a`: letters and space.
    A,
    /// `an`: letters, digits and space.
    An,
    /// `ans`: printable characters; bytes above 0x7F are accepted and flagged.
    Ans,
    /// `b`: any bytes.
    B,
    /// `z`: track 2 or 3 data, digits and a field separator.
    Z,
    /// `x+n`: a `C` (credit) or `D` (debit) sign followed by digits.
    XN,
}

impl ContentClass {
    /// The name ISO 8583 and the spec files use (`n`, `ans`, `x+n`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ContentClass::N => "n",
            ContentClass::A => "a",
            ContentClass::An => "an",
            ContentClass::Ans => "ans",
            ContentClass::B => "b",
            ContentClass::Z => "z",
            ContentClass::XN => "x+n",
        }
    }

    /// True for the classes whose unit is a digit (`n`, `z`, `x+n`).
    pub fn is_numeric(self) -> bool {
        matches!(self, ContentClass::N | ContentClass::Z | ContentClass::XN)
    }

    /// True for the text classes (`a`, `an`, `ans`).
    pub fn is_text(self) -> bool {
        matches!(self, ContentClass::A | ContentClass::An | ContentClass::Ans)
    }
}

impl fmt::Display for ContentClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// EBCDIC code page of a text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodePage {
    /// IBM code page 037 (US/Canada), the usual one in card networks.
    Cp037,
    /// IBM code page 1047 (Latin-1 open systems), as used by z/OS tools.
    Cp1047,
}

/// Character set of text written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// One ASCII byte per character.
    Ascii,
    /// One EBCDIC byte per character.
    Ebcdic(CodePage),
}

/// Where the filler nibble goes when a BCD value has an odd number of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pad {
    /// Filler first: the value is right-aligned (`051` is written `00 51`).
    Left,
    /// Filler last: the value is left-aligned (`051` is written `05 10`).
    Right,
}

/// How a field's data is written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataEncoding {
    /// One character per byte in the given character set.
    Text(Charset),
    /// Packed BCD, two digits per byte.
    Bcd {
        /// Where the filler nibble of an odd digit count goes.
        pad: Pad,
        /// The filler nibble (0-15).
        filler: u8,
    },
    /// Raw bytes (class `b` only).
    Binary,
    /// Each byte as two upper-case hexadecimal characters (class `b` only).
    Hex(Charset),
}

/// How a length prefix is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixEncoding {
    /// Decimal digits in ASCII.
    Ascii,
    /// Decimal digits in EBCDIC (`F0`-`F9`).
    Ebcdic,
    /// Decimal digits in packed BCD, right-aligned.
    Bcd,
    /// A big-endian binary count.
    Binary,
}

/// What a length prefix counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixCounts {
    /// The class's unit: digits for `n`, `z` and `x+n`, characters for text, bytes for `b`.
    Units,
    /// Bytes of the data as written on the wire (BCD bytes, hex characters, ...).
    Bytes,
}

/// A variable field's length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// Number of decimal digits of the prefix (1-6): 2 for LLVAR, 3 for LLLVAR.
    pub digits: u8,
    /// How the prefix is written.
    pub encoding: PrefixEncoding,
    /// What the prefix counts.
    pub counts: PrefixCounts,
}

impl Prefix {
    /// Bytes the prefix takes on the wire.
    pub fn width(&self) -> usize {
        let digits = usize::from(self.digits);
        match self.encoding {
            PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => digits,
            PrefixEncoding::Bcd | PrefixEncoding::Binary => digits.div_ceil(2),
        }
    }

    /// Largest count the prefix can hold.
    pub fn capacity(&self) -> u64 {
        match self.encoding {
            PrefixEncoding::Binary => (1u64 << (8 * self.width())) - 1,
            _ => 10u64.pow(u32::from(self.digits)) - 1,
        }
    }
}

/// Fixed or variable length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthKind {
    /// Always exactly this many units.
    Fixed(u32),
    /// Up to `max` units, announced by a length prefix.
    Variable {
        /// The length prefix.
        prefix: Prefix,
        /// Maximum length in units of the class.
        max: u32,
    },
}

/// What a field holds that must never be shown in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sensitivity {
    /// Nothing secret.
    #[default]
    None,
    /// A primary account number: shown as its first 6 and last 4 digits.
    Pan,
    /// Track data: the PAN masked as above, everything after the separator hidden.
    Track,
    /// A PIN block: hidden.
    Pin,
    /// Key material: hidden.
    Key,
    /// A card verification value: hidden.
    Cvv,
    /// EMV chip data: hidden as a whole until its TLV can be walked.
    Emv,
}

impl Sensitivity {
    /// The name the spec files use, or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Sensitivity::None => "none",
            Sensitivity::Pan => "pan",
            Sensitivity::Track => "track",
            Sensitivity::Pin => "pin",
            Sensitivity::Key => "key",
            Sensitivity::Cvv => "cvv",
            Sensitivity::Emv => "emv",
        }
    }

    /// True unless the field is [`Sensitivity::None`].
    pub fn is_sensitive(self) -> bool {
        self != Sensitivity::None
    }
}

/// One data element of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Field number, 2-192.
    pub number: u16,
    /// Human name.
    pub name: String,
    /// Content class.
    pub class: ContentClass,
    /// Fixed or variable length.
    pub length: LengthKind,
    /// How the data is written.
    pub encoding: DataEncoding,
    /// What must never be shown in full.
    pub sensitivity: Sensitivity,
}

impl FieldSpec {
    /// Maximum length in units of the class (the fixed length for fixed fields).
    pub fn max_units(&self) -> u32 {
        match self.length {
            LengthKind::Fixed(len) => len,
            LengthKind::Variable { max, .. } => max,
        }
    }

    /// Bytes that `units` units of this field take on the wire, prefix excluded.
    pub fn wire_len(&self, units: usize) -> usize {
        let sign = usize::from(self.class == ContentClass::XN);
        match self.encoding {
            DataEncoding::Text(_) | DataEncoding::Binary => sign + units,
            DataEncoding::Hex(_) => 2 * units,
            DataEncoding::Bcd { .. } => sign + units.div_ceil(2),
        }
    }

    /// Units held by `bytes` bytes of wire data, for prefixes that count bytes; `None` when no
    /// whole number of units takes that many bytes (an odd count of hex characters, say).
    pub fn units_in(&self, bytes: usize) -> Option<usize> {
        let sign = usize::from(self.class == ContentClass::XN);
        match self.encoding {
            DataEncoding::Text(_) | DataEncoding::Binary => bytes.checked_sub(sign),
            DataEncoding::Hex(_) => (bytes % 2 == 0).then_some(bytes / 2),
            DataEncoding::Bcd { .. } => bytes.checked_sub(sign).map(|b| 2 * b),
        }
    }

    /// The prefix, for variable fields.
    pub fn prefix(&self) -> Option<&Prefix> {
        match &self.length {
            LengthKind::Fixed(_) => None,
            LengthKind::Variable { prefix, .. } => Some(prefix),
        }
    }
}

/// How the message type indicator is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MtiEncoding {
    /// Four ASCII digits.
    Ascii,
    /// Four EBCDIC digits.
    Ebcdic,
    /// Two bytes of packed BCD.
    Bcd,
}

impl MtiEncoding {
    /// Bytes the MTI takes on the wire.
    pub fn width(self) -> usize {
        match self {
            MtiEncoding::Ascii | MtiEncoding::Ebcdic => 4,
            MtiEncoding::Bcd => 2,
        }
    }
}

/// How each bitmap is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitmapEncoding {
    /// Eight raw bytes.
    Binary,
    /// Sixteen hexadecimal characters.
    Hex(Charset),
}

impl BitmapEncoding {
    /// Bytes one bitmap takes on the wire.
    pub fn width(self) -> usize {
        match self {
            BitmapEncoding::Binary => 8,
            BitmapEncoding::Hex(_) => 16,
        }
    }
}

/// A complete ISO 8583 dialect: message-level layout and every field.
///
/// Build one with [`Spec::from_toml_str`] or take a built-in with [`Spec::builtin`].
#[derive(Clone, PartialEq, Eq)]
pub struct Spec {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) sources: Vec<String>,
    pub(crate) mti: MtiEncoding,
    pub(crate) bitmap: BitmapEncoding,
    pub(crate) tertiary: bool,
    /// Indexed by field number; entries 0, 1 (and 65 with a tertiary bitmap) stay `None`.
    pub(crate) fields: Vec<Option<FieldSpec>>,
    /// Indexed by field number: what the decoder does at each bit, derived from `fields`.
    pub(crate) plans: Vec<plan::Plan>,
    /// Indexed by field number: the decoder's fast path, derived from `plans`.
    pub(crate) fast: Vec<crate::fast::Fast>,
    /// The fast path's layouts of the bitmaps met so far.
    pub(crate) layouts: crate::fast::Layouts,
}

impl Spec {
    /// The spec's name, as used on the command line (`cup-pos`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One-line description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Where the layouts come from.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// How the MTI is written.
    pub fn mti_encoding(&self) -> MtiEncoding {
        self.mti
    }

    /// How bitmaps are written.
    pub fn bitmap_encoding(&self) -> BitmapEncoding {
        self.bitmap
    }

    /// True when bit 65 announces a tertiary bitmap.
    pub fn has_tertiary_bitmap(&self) -> bool {
        self.tertiary
    }

    /// The definition of field `number`, if the spec has one.
    #[inline]
    pub fn field(&self, number: u16) -> Option<&FieldSpec> {
        self.fields
            .get(usize::from(number))
            .and_then(Option::as_ref)
    }

    /// Every defined field, in number order.
    pub fn fields(&self) -> impl Iterator<Item = &FieldSpec> + '_ {
        self.fields.iter().flatten()
    }

    /// The decoding plan of field `number` (an undefined plan outside 0-192).
    #[inline]
    pub(crate) fn plan(&self, number: u16) -> plan::Plan {
        self.plans
            .get(usize::from(number))
            .copied()
            .unwrap_or(plan::UNDEFINED)
    }

    /// True when bit `number` of a bitmap announces another bitmap rather than a field.
    pub fn is_bitmap_bit(&self, number: u16) -> bool {
        number == 1 || (number == 65 && self.tertiary)
    }
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spec")
            .field("name", &self.name)
            .field("mti", &self.mti)
            .field("bitmap", &self.bitmap)
            .field("tertiary", &self.tertiary)
            .field("fields", &self.fields().count())
            .finish()
    }
}
