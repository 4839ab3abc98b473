//! The crate's error types, one per kind of operation: keys, MACs and PIN blocks.
//!
//! No variant carries key material, a PIN, a clear or encrypted PIN block or a MAC value:
//! they name what was wrong (a length, a position, which key) so that an error can be logged
//! as it is. A PAN's digits never appear either, only its length or the position of a bad
//! character.

use thiserror::Error;

use crate::mac::MacAlgorithm;

/// Which working key a check value belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyRole {
    /// The PIN key (PIK, TPK): encrypts PIN blocks for field 52.
    Pin,
    /// The MAC key (MAK, TAK): computes field 64 or 128.
    Mac,
    /// The track data key (TDK): encrypts track data in the `004` layout of field 62.
    Track,
}

impl std::fmt::Display for KeyRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyRole::Pin => "PIN key",
            KeyRole::Mac => "MAC key",
            KeyRole::Track => "track key",
        })
    }
}

/// Why a key could not be made, unwrapped or checked.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A DES key must be 8 (single), 16 (double) or 24 (triple length) bytes.
    #[error("a DES key is 8, 16 or 24 bytes, found {found}")]
    Length {
        /// Bytes given.
        found: usize,
    },

    /// A key written in hex had a character that is not a hex digit.
    #[error("key hex has a non-hex character at position {position}")]
    HexDigit {
        /// Offset of the character in the text.
        position: usize,
    },

    /// A key written in hex had an odd number of characters.
    #[error("key hex has an odd number of characters ({found})")]
    HexLength {
        /// Characters given.
        found: usize,
    },

    /// Parity was required and a byte of the key has even parity (DES keys carry odd parity
    /// in the low bit of every byte, FIPS 46-3 §2).
    #[error("key byte {byte} does not have odd parity")]
    Parity {
        /// Offset of the first byte with even parity.
        byte: usize,
    },

    /// A key delivered encrypted was not 8, 16 or 24 bytes.
    #[error("an encrypted DES key is 8, 16 or 24 bytes, found {found}")]
    WrappedLength {
        /// Bytes given.
        found: usize,
    },

    /// The check value sent with a working key is not the one its clear value gives: wrong
    /// master key, or the key was damaged. The keys must be rejected.
    #[error("the {role} does not match its check value")]
    CheckValueMismatch {
        /// Which key failed.
        role: KeyRole,
    },

    /// Field 62 is not as long as the layout that field 60.3 announced.
    #[error("field 62 for layout {layout} is {expected} bytes, found {found}")]
    Field62Length {
        /// The network management code of the layout (`001`, `003` or `004`).
        layout: &'static str,
        /// Bytes the layout takes.
        expected: usize,
        /// Bytes received.
        found: usize,
    },

    /// A network management code (field 60.3) that names no field 62 layout.
    #[error("network management code {found:?} names no field 62 layout (001, 003, 004)")]
    UnknownLayout {
        /// The code as given.
        found: String,
    },

    /// A working key does not have the length the field 62 layout needs.
    #[error("the {role} is {found} bytes, layout {layout} needs {expected}")]
    WorkingKeyLength {
        /// Which key.
        role: KeyRole,
        /// The network management code of the layout.
        layout: &'static str,
        /// Bytes the layout needs.
        expected: usize,
        /// Bytes the key has.
        found: usize,
    },

    /// The `004` layout carries a track key and none was given.
    #[error("layout {layout} carries a track key and none was given")]
    MissingTrackKey {
        /// The network management code of the layout.
        layout: &'static str,
    },
}

/// Why a MAC could not be computed or did not verify.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MacError {
    /// A MAC algorithm name that is not `x919`, `x99` or `cup-ecb`.
    #[error("unknown MAC algorithm {found:?} (expected x919, x99 or cup-ecb)")]
    UnknownAlgorithm {
        /// The name as given.
        found: String,
    },

    /// The key's length does not suit the algorithm (after taking the first half when the
    /// settings ask for it): X9.19 needs a double-length key.
    #[error("{algorithm} needs a {expected}-byte key, found {found}")]
    KeyLength {
        /// The algorithm.
        algorithm: MacAlgorithm,
        /// Bytes the algorithm needs.
        expected: usize,
        /// Bytes the key has.
        found: usize,
    },

    /// The MAC to verify is not 8 bytes long.
    #[error("a MAC is 8 bytes, found {found}")]
    MacLength {
        /// Bytes given.
        found: usize,
    },

    /// The MAC does not match the data: the message was altered or the keys differ.
    #[error("MAC does not match")]
    Mismatch,

    /// A MAC field number other than 64 or 128 (ISO 8583:1987, DE 64 and DE 128).
    #[error("field {found} cannot carry a MAC (expected 64 or 128)")]
    MacField {
        /// The field number given.
        found: u16,
    },

    /// The message to verify has no MAC field.
    #[error("the message has no field {field} to verify")]
    MissingMacField {
        /// The field number expected to carry the MAC.
        field: u16,
    },
}

/// Why a PIN block could not be built or read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PinError {
    /// A PIN has 4 to 12 digits (ISO 9564-1, §8.1).
    #[error("a PIN has 4 to 12 digits, found {found} characters")]
    PinLength {
        /// Characters given.
        found: usize,
    },

    /// A PIN character is not a decimal digit.
    #[error("PIN character {position} is not a digit")]
    PinDigit {
        /// Offset of the character.
        position: usize,
    },

    /// A PAN has 8 to 19 digits (ISO/IEC 7812-1).
    #[error("a PAN has 8 to 19 digits, found {found} characters")]
    PanLength {
        /// Characters given.
        found: usize,
    },

    /// A PAN character is not a decimal digit.
    #[error("PAN character {position} is not a digit")]
    PanDigit {
        /// Offset of the character.
        position: usize,
    },

    /// An encrypted PIN block is 8 bytes.
    #[error("a PIN block is 8 bytes, found {found}")]
    BlockLength {
        /// Bytes given.
        found: usize,
    },

    /// A clear PIN block that is not a well-formed format 0 or 3 block for this PAN. The
    /// error says what is wrong but never which value was found, as that would tell part of
    /// the PIN.
    #[error("malformed PIN block: {0}")]
    Malformed(BlockProblem),

    /// The random source for format 3 fill digits gave no usable bytes.
    #[error("the random source gave no usable fill digits")]
    RandomSource,
}

/// What is wrong with a clear PIN block being read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockProblem {
    /// The control field is neither 0 nor 3 (the wrong key gives this most often).
    Format,
    /// The PIN length field is outside 4 to 12.
    PinLength,
    /// A PIN position holds a value above 9.
    PinDigit,
    /// A fill position does not hold what the format requires (`F` for format 0, `A` to `F`
    /// for format 3): often the wrong PAN.
    Fill,
}

impl std::fmt::Display for BlockProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlockProblem::Format => "control field is not format 0 or 3",
            BlockProblem::PinLength => "PIN length field is not 4 to 12",
            BlockProblem::PinDigit => "a PIN position is not a decimal digit",
            BlockProblem::Fill => "fill digits are not what the format requires",
        })
    }
}
