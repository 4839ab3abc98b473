//! The 5-byte TPDU (transport protocol data unit) that terminal networks put before the
//! message: an id byte (`60` for a transaction), then the destination and the source NII as
//! two packed-BCD bytes each. The host answers with the two addresses swapped
//! ([`Tpdu::reply`]). See DESIGN §4.
//!
//! Reading a TPDU never fails: the id and the NII bytes are kept as they came, and the typed
//! readers say when they are not what the convention expects ([`TpduId::Unknown`],
//! [`Nii::value`] returning `None`), so a peer's odd routing bytes can still be echoed back.

use std::fmt;

use crate::bcd;
use crate::error::ValueError;

/// A TPDU: id, destination NII, source NII.
///
/// ```
/// use iso8583_wire::{Nii, Tpdu, TpduId};
///
/// let tpdu = Tpdu::from_bytes([0x60, 0x00, 0x03, 0x00, 0x00]);
/// assert_eq!(tpdu.id, TpduId::Transaction);
/// assert_eq!(tpdu.destination.value(), Some(3));
/// assert_eq!(tpdu.reply().to_bytes(), [0x60, 0x00, 0x00, 0x00, 0x03]);
/// assert_eq!(Tpdu::new(Nii::new(3)?, Nii::new(0)?), tpdu);
/// # Ok::<(), iso8583_wire::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tpdu {
    /// The id byte.
    pub id: TpduId,
    /// Where the message goes.
    pub destination: Nii,
    /// Where it comes from.
    pub source: Nii,
}

impl Tpdu {
    /// Bytes a TPDU takes on the wire.
    pub const LEN: usize = 5;

    /// A transaction TPDU (`60`) from `source` to `destination`.
    pub fn new(destination: Nii, source: Nii) -> Tpdu {
        Tpdu {
            id: TpduId::Transaction,
            destination,
            source,
        }
    }

    /// Reads a TPDU; every byte is kept as it is (see the module docs).
    pub fn from_bytes(bytes: [u8; Tpdu::LEN]) -> Tpdu {
        let [id, d0, d1, s0, s1] = bytes;
        Tpdu {
            id: TpduId::from(id),
            destination: Nii::from_bytes([d0, d1]),
            source: Nii::from_bytes([s0, s1]),
        }
    }

    /// The five wire bytes.
    pub fn to_bytes(&self) -> [u8; Tpdu::LEN] {
        let [d0, d1] = self.destination.to_bytes();
        let [s0, s1] = self.source.to_bytes();
        [self.id.into(), d0, d1, s0, s1]
    }

    /// The TPDU of the reply: same id, destination and source swapped.
    pub fn reply(&self) -> Tpdu {
        Tpdu {
            id: self.id,
            destination: self.source,
            source: self.destination,
        }
    }
}

impl fmt::Display for Tpdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02X}{}{}",
            u8::from(self.id),
            self.destination,
            self.source
        )
    }
}

/// The TPDU id byte. Only `60` is named; other values are kept as they came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TpduId {
    /// `60`: a transaction TPDU, the one terminals send.
    Transaction,
    /// Any other byte.
    Unknown(u8),
}

impl From<u8> for TpduId {
    fn from(raw: u8) -> TpduId {
        match raw {
            0x60 => TpduId::Transaction,
            other => TpduId::Unknown(other),
        }
    }
}

impl From<TpduId> for u8 {
    fn from(id: TpduId) -> u8 {
        match id {
            TpduId::Transaction => 0x60,
            TpduId::Unknown(raw) => raw,
        }
    }
}

/// A network international identifier as the TPDU writes it: two bytes of packed BCD, four
/// digits, of which NII n3 uses the last three.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nii([u8; 2]);

impl Nii {
    /// The largest NII the two bytes can carry.
    pub const MAX: u16 = 9999;

    /// An NII from its number (`3` for NII `003`).
    pub fn new(value: u16) -> Result<Nii, ValueError> {
        bcd::write::<2>(u32::from(value))
            .filter(|_| value <= Nii::MAX)
            .map(Nii)
            .ok_or(ValueError {
                what: "NII",
                value: u32::from(value),
                max: u32::from(Nii::MAX),
            })
    }

    /// An NII from its wire bytes, kept as they are even if they are not BCD.
    pub fn from_bytes(bytes: [u8; 2]) -> Nii {
        Nii(bytes)
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> [u8; 2] {
        self.0
    }

    /// The NII as a number, or `None` if a nibble is not a decimal digit.
    pub fn value(&self) -> Option<u16> {
        // Four BCD digits are at most 9999, which fits a u16.
        bcd::read(&self.0).and_then(|v| u16::try_from(v).ok())
    }
}

/// Four digits, or the bytes in hex when they are not BCD (the same characters either way).
impl fmt::Display for Nii {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b] = self.0;
        write!(f, "{a:02X}{b:02X}")
    }
}

impl fmt::Debug for Nii {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nii({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_swaps() {
        let wire = [0x60, 0x01, 0x23, 0x04, 0x56];
        let tpdu = Tpdu::from_bytes(wire);
        assert_eq!(tpdu.id, TpduId::Transaction);
        assert_eq!(tpdu.destination.value(), Some(123));
        assert_eq!(tpdu.source.value(), Some(456));
        assert_eq!(tpdu.to_bytes(), wire);
        assert_eq!(tpdu.reply().to_bytes(), [0x60, 0x04, 0x56, 0x01, 0x23]);
        assert_eq!(tpdu.reply().reply(), tpdu);
        assert_eq!(tpdu.to_string(), "6001230456");
    }

    #[test]
    fn odd_bytes_are_kept_open() {
        let wire = [0x68, 0x0A, 0xBC, 0x00, 0x00];
        let tpdu = Tpdu::from_bytes(wire);
        assert_eq!(tpdu.id, TpduId::Unknown(0x68));
        assert_eq!(tpdu.destination.value(), None);
        assert_eq!(tpdu.to_bytes(), wire);
    }

    #[test]
    fn nii_range() {
        assert_eq!(Nii::new(9999).map(|n| n.to_bytes()), Ok([0x99, 0x99]));
        assert_eq!(Nii::new(10_000).map_err(|e| e.max), Err(9999));
    }
}
