//! The codec's one error type, and the field paths and found values it reports.
//!
//! Every variant names where the problem is (a [`FieldPath`] where it is inside a field, and a
//! byte offset) and what was expected against what was found. A value from a field the spec
//! marks sensitive is never carried: [`Found::Redacted`] stands in for it.

use std::fmt;

/// Where in a message something is: a field, optionally a subfield or TLV tag inside it.
///
/// Displays as `35`, `60.3` or `55.9F26`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    /// The field number (1-192).
    pub field: u16,
    /// A subfield inside it, if any.
    pub sub: Option<SubPath>,
}

/// A position inside a composite field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubPath {
    /// A positional subfield, numbered from 1 (`60.3`).
    Position(u16),
    /// A TLV tag (`55.9F26`).
    Tag(u32),
}

impl FieldPath {
    /// The path of a whole field.
    pub const fn field(field: u16) -> FieldPath {
        FieldPath { field, sub: None }
    }
}

impl From<u16> for FieldPath {
    fn from(field: u16) -> Self {
        FieldPath::field(field)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.field)?;
        match self.sub {
            None => Ok(()),
            Some(SubPath::Position(p)) => write!(f, ".{p}"),
            Some(SubPath::Tag(t)) => write!(f, ".{t:X}"),
        }
    }
}

/// A byte that was found where it should not be, or a stand-in for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The byte as read.
    Byte(u8),
    /// A half byte of packed BCD.
    Nibble(u8),
    /// The byte belongs to a sensitive field and is not shown.
    Redacted,
}

impl Found {
    pub(crate) fn byte(b: u8, sensitive: bool) -> Found {
        if sensitive {
            Found::Redacted
        } else {
            Found::Byte(b)
        }
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Found::Byte(b) if b.is_ascii_graphic() || b == b' ' => {
                write!(f, "byte 0x{b:02X} ({:?})", char::from(b))
            }
            Found::Byte(b) => write!(f, "byte 0x{b:02X}"),
            Found::Nibble(n) => write!(f, "nibble {n:X}"),
            Found::Redacted => f.write_str("a byte of a sensitive field (not shown)"),
        }
    }
}

/// Which of the three bitmaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhichBitmap {
    /// Fields 1-64.
    Primary,
    /// Fields 65-128, announced by bit 1.
    Secondary,
    /// Fields 129-192, announced by bit 65.
    Tertiary,
}

impl fmt::Display for WhichBitmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WhichBitmap::Primary => "primary",
            WhichBitmap::Secondary => "secondary",
            WhichBitmap::Tertiary => "tertiary",
        })
    }
}

/// What is wrong with a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LengthProblem {
    /// The prefix announces more than the spec's maximum.
    TooLong {
        /// The count the prefix holds (in what the prefix counts).
        found: u64,
        /// The largest count the spec allows.
        max: u64,
    },
    /// A value of a fixed-length field is not exactly its length.
    NotFixed {
        /// Units given.
        found: u64,
        /// The fixed length.
        expected: u64,
    },
    /// A prefix byte is not a decimal digit in the prefix's encoding.
    PrefixNotDecimal {
        /// The byte.
        found: Found,
    },
    /// A prefix counting bytes names a count that no whole number of units fills (an odd count
    /// of hex characters, say).
    NotWholeUnits {
        /// The count the prefix holds.
        found: u64,
    },
}

impl fmt::Display for LengthProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LengthProblem::TooLong { found, max } => {
                write!(f, "length {found} is above the maximum {max}")
            }
            LengthProblem::NotFixed { found, expected } => {
                write!(f, "length {found} is not the fixed length {expected}")
            }
            LengthProblem::PrefixNotDecimal { found } => {
                write!(f, "length prefix holds {found}, not a decimal digit")
            }
            LengthProblem::NotWholeUnits { found } => {
                write!(f, "length {found} does not hold a whole number of units")
            }
        }
    }
}

/// Errors of decoding and building messages.
///
/// Offsets count bytes from the first byte given to the decoder; for the builder they count
/// bytes of the value being set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The MTI is not four decimal digits.
    #[error("MTI at offset {offset}: expected a decimal digit, found {found}")]
    InvalidMti {
        /// Offset of the bad byte.
        offset: usize,
        /// What was there.
        found: Found,
    },
    /// A bitmap is malformed.
    #[error("{which} bitmap at offset {offset}: {problem}")]
    InvalidBitmap {
        /// Which bitmap.
        which: WhichBitmap,
        /// Offset of the bad byte, or of the bitmap.
        offset: usize,
        /// What is wrong.
        problem: BitmapProblem,
    },
    /// A bit announces a field the spec does not define.
    #[error("field {field} at offset {offset}: not defined by the spec")]
    UnknownField {
        /// The field.
        field: FieldPath,
        /// Where the field would start.
        offset: usize,
    },
    /// A length prefix or a value's length is wrong.
    #[error("field {field} at offset {offset}: {problem}")]
    InvalidLength {
        /// The field.
        field: FieldPath,
        /// Offset of the prefix (decoding) or 0 (building).
        offset: usize,
        /// What is wrong.
        problem: LengthProblem,
    },
    /// A byte does not fit the field's content class or encoding.
    #[error("field {field} at offset {offset}: expected {expected}, found {found}")]
    InvalidContent {
        /// The field.
        field: FieldPath,
        /// Offset of the bad byte.
        offset: usize,
        /// What the class and encoding allow there.
        expected: Expected,
        /// What was there.
        found: Found,
    },
    /// The input ended inside the message (returned where a complete message was required).
    #[error("input ends early: {} at offset {offset} needs {needed} more byte(s)", FieldIn(*.field))]
    Truncated {
        /// The field being read, if the input ended inside one.
        field: Option<FieldPath>,
        /// Offset of the item being read when the input ended.
        offset: usize,
        /// At least this many more bytes are needed.
        needed: usize,
    },
    /// The message runs past 65,535 bytes, the most a two-byte length header frames and the
    /// most a decoded message indexes; a length prefix announcing so is refused at once.
    #[error("message runs past offset {offset}, above the 65535 bytes the decoder handles")]
    MessageTooLarge {
        /// Offset of the first item that starts, or the message end that falls, past the limit.
        offset: usize,
    },
    /// Bytes remain after the last field.
    #[error("{count} byte(s) after the last field, at offset {offset}")]
    TrailingData {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many bytes remain.
        count: usize,
    },
    /// TLV data (EMV field 55) does not read as BER-TLV data objects.
    #[error("field {field} at offset {offset}: {problem}")]
    InvalidTlv {
        /// The field, and the tag of the object being read once its tag has been read
        /// (`55.9F26`).
        field: FieldPath,
        /// Offset of the bad tag or length.
        offset: usize,
        /// What is wrong.
        problem: TlvProblem,
    },
    /// A value set on a sensitive field contains the mask character `*`: it was copied from
    /// masked output and must not be sent.
    #[error("field {field}: value contains the mask character '*' (copied from masked output?)")]
    MaskedValue {
        /// The field.
        field: FieldPath,
    },
}

struct FieldIn(Option<FieldPath>);

impl fmt::Display for FieldIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(field) => write!(f, "field {field}"),
            None => f.write_str("the MTI or a bitmap"),
        }
    }
}

impl Error {
    /// A short stable name of the kind of error, as the CLI reports it: `invalid_mti`,
    /// `invalid_bitmap`, `unknown_field`, `invalid_length`, `invalid_content`, `truncated`,
    /// `trailing_data`, `masked_value`, and `invalid_tlv` from the [`crate::tlv`] reader.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidMti { .. } => "invalid_mti",
            Error::InvalidBitmap { .. } => "invalid_bitmap",
            Error::UnknownField { .. } => "unknown_field",
            Error::InvalidLength { .. } | Error::MessageTooLarge { .. } => "invalid_length",
            Error::InvalidContent { .. } => "invalid_content",
            Error::Truncated { .. } => "truncated",
            Error::TrailingData { .. } => "trailing_data",
            Error::MaskedValue { .. } => "masked_value",
            Error::InvalidTlv { .. } => "invalid_tlv",
        }
    }

    /// The field the error is in, if it is in one.
    pub fn field(&self) -> Option<FieldPath> {
        match self {
            Error::UnknownField { field, .. }
            | Error::InvalidLength { field, .. }
            | Error::InvalidContent { field, .. }
            | Error::InvalidTlv { field, .. }
            | Error::MaskedValue { field } => Some(*field),
            Error::Truncated { field, .. } => *field,
            Error::InvalidMti { .. }
            | Error::InvalidBitmap { .. }
            | Error::TrailingData { .. }
            | Error::MessageTooLarge { .. } => None,
        }
    }

    /// The byte offset the error names (0 where none applies).
    pub fn offset(&self) -> usize {
        match self {
            Error::InvalidMti { offset, .. }
            | Error::InvalidBitmap { offset, .. }
            | Error::UnknownField { offset, .. }
            | Error::InvalidLength { offset, .. }
            | Error::InvalidContent { offset, .. }
            | Error::Truncated { offset, .. }
            | Error::TrailingData { offset, .. }
            | Error::InvalidTlv { offset, .. } => *offset,
            Error::MessageTooLarge { offset } => *offset,
            Error::MaskedValue { .. } => 0,
        }
    }
}

/// What is wrong with BER-TLV data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlvProblem {
    /// The data ends inside a tag.
    TagPastEnd,
    /// A tag of more than four bytes.
    TagTooLong,
    /// The data ends inside a length.
    LengthPastEnd,
    /// The indefinite length form (0x80), which EMV does not use.
    IndefiniteLength,
    /// A long-form length of more than four bytes.
    LengthTooLong {
        /// The bytes it announces.
        bytes: usize,
    },
    /// The value is longer than the data left.
    ValuePastEnd {
        /// The length read.
        length: usize,
        /// The bytes left after the length.
        left: usize,
    },
}

impl fmt::Display for TlvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TlvProblem::TagPastEnd => f.write_str("the data ends inside a tag"),
            TlvProblem::TagTooLong => f.write_str("a tag of more than four bytes"),
            TlvProblem::LengthPastEnd => f.write_str("the data ends inside a length"),
            TlvProblem::IndefiniteLength => f.write_str("indefinite length (0x80)"),
            TlvProblem::LengthTooLong { bytes } => {
                write!(f, "a length of {bytes} bytes (at most 4)")
            }
            TlvProblem::ValuePastEnd { length, left } => {
                write!(f, "value of {length} byte(s) runs past the {left} left")
            }
        }
    }
}

/// What is wrong with a bitmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BitmapProblem {
    /// A character of a hex bitmap is not a hexadecimal digit.
    NotHex(Found),
    /// A lower-case hex digit, refused in strict mode.
    LowerCaseHex(Found),
    /// Bit 1 (or 65) is set but the bitmap it announces has no bit set; refused in strict mode.
    Empty,
}

impl fmt::Display for BitmapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BitmapProblem::NotHex(found) => write!(f, "expected a hex digit, found {found}"),
            BitmapProblem::LowerCaseHex(found) => {
                write!(
                    f,
                    "expected an upper-case hex digit (strict), found {found}"
                )
            }
            BitmapProblem::Empty => f.write_str("announced but empty (strict)"),
        }
    }
}

/// What a field's class and encoding allow at the place of a bad byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// A character or digit of this content class.
    Class(crate::ContentClass),
    /// A BCD digit (0-9), or for `z` the separator nibble `D`.
    BcdDigit,
    /// The spec's filler nibble (strict mode).
    Filler(u8),
    /// The sign of an `x+n` amount, `C` or `D`.
    Sign,
    /// A hexadecimal digit (upper case in strict mode).
    HexDigit,
    /// A printable ASCII character (strict mode refuses bytes above 0x7F in `ans`).
    Ascii,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Class(class) => write!(f, "a character of class {class}"),
            Expected::BcdDigit => f.write_str("a BCD digit"),
            Expected::Filler(n) => write!(f, "filler nibble {n:X}"),
            Expected::Sign => f.write_str("sign C or D"),
            Expected::HexDigit => f.write_str("an upper-case hex digit"),
            Expected::Ascii => f.write_str("printable ASCII (strict)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_like_the_specs_write_them() {
        assert_eq!(FieldPath::field(35).to_string(), "35");
        let sub = FieldPath {
            field: 60,
            sub: Some(SubPath::Position(3)),
        };
        assert_eq!(sub.to_string(), "60.3");
        let tag = FieldPath {
            field: 55,
            sub: Some(SubPath::Tag(0x9F26)),
        };
        assert_eq!(tag.to_string(), "55.9F26");
    }

    #[test]
    fn sensitive_bytes_are_not_shown() {
        let e = Error::InvalidContent {
            field: FieldPath::field(2),
            offset: 7,
            expected: Expected::Class(crate::ContentClass::N),
            found: Found::byte(b'X', true),
        };
        let text = e.to_string();
        assert!(!text.contains('X'), "{text}");
        assert!(text.contains("field 2 at offset 7"), "{text}");
    }
}
