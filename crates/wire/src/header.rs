//! The 6-byte application header that China UnionPay POS terminals and hosts put between the
//! TPDU and the message (DESIGN §4):
//!
//! | bytes | content | format |
//! |---|---|---|
//! | 1 | application type (`60` magnetic stripe, `61` chip, ...) | n2, BCD |
//! | 2 | spec version | n2, BCD |
//! | 3, high nibble | terminal status (`0` normal, `1` test) | n1 |
//! | 3, low nibble | processing requirement (`3`: sign on again) | n1 |
//! | 4-6 | sub-version | n6, BCD |
//!
//! Like the TPDU, a header is read without failing: the bytes are kept, and the typed readers
//! name the codes they know and hand back the rest as `Unknown`. A host sets the processing
//! requirement in a response to steer the terminal; a terminal sends `0` there.

use std::fmt;

use crate::bcd;
use crate::error::ValueError;

/// A UnionPay application header.
///
/// ```
/// use iso8583_wire::{AppHeader, AppType, ProcessingRequirement, TerminalStatus};
///
/// let header = AppHeader::from_bytes([0x61, 0x31, 0x03, 0x31, 0x00, 0x01]);
/// assert_eq!(header.app_type(), AppType::Chip);
/// assert_eq!(header.spec_version(), Some(31));
/// assert_eq!(header.terminal_status(), TerminalStatus::Normal);
/// assert_eq!(header.processing_requirement(), ProcessingRequirement::SignOnAgain);
/// assert_eq!(header.sub_version(), Some(310001));
///
/// let built = AppHeader::new(AppType::Chip, 31, TerminalStatus::Normal,
///                            ProcessingRequirement::SignOnAgain, 310001)?;
/// assert_eq!(built, header);
/// # Ok::<(), iso8583_wire::ValueError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppHeader([u8; AppHeader::LEN]);

impl AppHeader {
    /// Bytes the header takes on the wire.
    pub const LEN: usize = 6;

    /// A header from its parts. Fails if the spec version is above 99, the sub-version above
    /// 999999, or an `Unknown` status or requirement above 15 (one nibble).
    pub fn new(
        app_type: AppType,
        spec_version: u8,
        status: TerminalStatus,
        requirement: ProcessingRequirement,
        sub_version: u32,
    ) -> Result<AppHeader, ValueError> {
        let [version] = bcd::write::<1>(u32::from(spec_version)).ok_or(ValueError {
            what: "spec version",
            value: u32::from(spec_version),
            max: 99,
        })?;
        let [s0, s1, s2] = bcd::write::<3>(sub_version).ok_or(ValueError {
            what: "sub-version",
            value: sub_version,
            max: 999_999,
        })?;
        let status = nibble("terminal status", status.into())?;
        let requirement = nibble("processing requirement", requirement.into())?;
        Ok(AppHeader([
            app_type.into(),
            version,
            (status << 4) | requirement,
            s0,
            s1,
            s2,
        ]))
    }

    /// A header from its wire bytes, kept as they are.
    pub fn from_bytes(bytes: [u8; AppHeader::LEN]) -> AppHeader {
        AppHeader(bytes)
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> [u8; AppHeader::LEN] {
        self.0
    }

    /// The application type.
    pub fn app_type(&self) -> AppType {
        let [app_type, ..] = self.0;
        AppType::from(app_type)
    }

    /// The spec version as a number, or `None` if it is not two BCD digits.
    pub fn spec_version(&self) -> Option<u8> {
        let [_, version, ..] = self.0;
        bcd::read(&[version]).and_then(|v| u8::try_from(v).ok())
    }

    /// The terminal status (high nibble of the third byte).
    pub fn terminal_status(&self) -> TerminalStatus {
        let [_, _, flags, ..] = self.0;
        TerminalStatus::from(flags >> 4)
    }

    /// The processing requirement (low nibble of the third byte).
    pub fn processing_requirement(&self) -> ProcessingRequirement {
        let [_, _, flags, ..] = self.0;
        ProcessingRequirement::from(flags & 0x0F)
    }

    /// The sub-version as a number, or `None` if it is not six BCD digits.
    pub fn sub_version(&self) -> Option<u32> {
        let [_, _, _, s0, s1, s2] = self.0;
        bcd::read(&[s0, s1, s2])
    }

    /// This header with another processing requirement: what a host does to ask for a new
    /// sign-on. Fails only for an `Unknown` value above 15.
    pub fn with_processing_requirement(
        &self,
        requirement: ProcessingRequirement,
    ) -> Result<AppHeader, ValueError> {
        let requirement = nibble("processing requirement", requirement.into())?;
        let mut bytes = self.0;
        if let Some(flags) = bytes.get_mut(2) {
            *flags = (*flags & 0xF0) | requirement;
        }
        Ok(AppHeader(bytes))
    }
}

fn nibble(what: &'static str, value: u8) -> Result<u8, ValueError> {
    if value > 0x0F {
        return Err(ValueError {
            what,
            value: u32::from(value),
            max: 15,
        });
    }
    Ok(value)
}

/// The header as its 12 hex digits.
impl fmt::Display for AppHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for AppHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppHeader")
            .field("app_type", &self.app_type())
            .field("spec_version", &self.spec_version())
            .field("terminal_status", &self.terminal_status())
            .field("processing_requirement", &self.processing_requirement())
            .field("sub_version", &self.sub_version())
            .finish()
    }
}

/// The application type byte (two BCD digits).
///
/// Only the two types DESIGN §4 names are named here, `60` and `61`; no source for the rest
/// of the UnionPay code list is cited in `specs/`, so every other value stays
/// [`AppType::Unknown`] with its byte, round-trips unchanged, and nothing acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppType {
    /// `60`: magnetic stripe application.
    MagneticStripe,
    /// `61`: chip (IC card) application.
    Chip,
    /// Any other byte, as it came.
    Unknown(u8),
}

impl From<u8> for AppType {
    fn from(raw: u8) -> AppType {
        match raw {
            0x60 => AppType::MagneticStripe,
            0x61 => AppType::Chip,
            other => AppType::Unknown(other),
        }
    }
}

impl From<AppType> for u8 {
    fn from(t: AppType) -> u8 {
        match t {
            AppType::MagneticStripe => 0x60,
            AppType::Chip => 0x61,
            AppType::Unknown(raw) => raw,
        }
    }
}

/// The terminal status nibble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminalStatus {
    /// `0`: normal operation.
    Normal,
    /// `1`: test mode.
    Test,
    /// Any other nibble (0-15), as it came.
    Unknown(u8),
}

impl From<u8> for TerminalStatus {
    fn from(nibble: u8) -> TerminalStatus {
        match nibble {
            0 => TerminalStatus::Normal,
            1 => TerminalStatus::Test,
            other => TerminalStatus::Unknown(other),
        }
    }
}

impl From<TerminalStatus> for u8 {
    fn from(s: TerminalStatus) -> u8 {
        match s {
            TerminalStatus::Normal => 0,
            TerminalStatus::Test => 1,
            TerminalStatus::Unknown(raw) => raw,
        }
    }
}

/// The processing requirement nibble: what the host asks the terminal to do next.
///
/// Named are `0` (nothing) and `3` (sign on again), the two DESIGN §4 gives. Hosts also use
/// this nibble to ask for parameter, public key and chip parameter downloads, but no source for
/// those codes is cited in `specs/`: every other value stays
/// [`ProcessingRequirement::Unknown`] with its nibble, round-trips unchanged, and the emulator
/// acts on none of them (it has no terminal management downloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessingRequirement {
    /// `0`: nothing.
    None,
    /// `3`: sign on again (the terminal's working keys or batch are no longer accepted).
    SignOnAgain,
    /// Any other nibble (0-15), as it came.
    Unknown(u8),
}

impl From<u8> for ProcessingRequirement {
    fn from(nibble: u8) -> ProcessingRequirement {
        match nibble {
            0 => ProcessingRequirement::None,
            3 => ProcessingRequirement::SignOnAgain,
            other => ProcessingRequirement::Unknown(other),
        }
    }
}

impl From<ProcessingRequirement> for u8 {
    fn from(r: ProcessingRequirement) -> u8 {
        match r {
            ProcessingRequirement::None => 0,
            ProcessingRequirement::SignOnAgain => 3,
            ProcessingRequirement::Unknown(raw) => raw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_part_and_round_trips() {
        let wire = [0x60, 0x22, 0x10, 0x12, 0x34, 0x56];
        let header = AppHeader::from_bytes(wire);
        assert_eq!(header.app_type(), AppType::MagneticStripe);
        assert_eq!(header.spec_version(), Some(22));
        assert_eq!(header.terminal_status(), TerminalStatus::Test);
        assert_eq!(header.processing_requirement(), ProcessingRequirement::None);
        assert_eq!(header.sub_version(), Some(123_456));
        assert_eq!(header.to_bytes(), wire);
        assert_eq!(header.to_string(), "602210123456");
        let rebuilt = AppHeader::new(
            header.app_type(),
            22,
            header.terminal_status(),
            header.processing_requirement(),
            123_456,
        );
        assert_eq!(rebuilt, Ok(header));
    }

    #[test]
    fn unknown_codes_are_kept() {
        let wire = [0x99, 0xAB, 0x75, 0xFF, 0x00, 0x00];
        let header = AppHeader::from_bytes(wire);
        assert_eq!(header.app_type(), AppType::Unknown(0x99));
        assert_eq!(header.spec_version(), None);
        assert_eq!(header.terminal_status(), TerminalStatus::Unknown(7));
        assert_eq!(
            header.processing_requirement(),
            ProcessingRequirement::Unknown(5)
        );
        assert_eq!(header.sub_version(), None);
        assert_eq!(header.to_bytes(), wire);
    }

    #[test]
    fn host_asks_for_sign_on() {
        let header = AppHeader::from_bytes([0x61, 0x31, 0x00, 0x31, 0x00, 0x01]);
        let asked = header
            .with_processing_requirement(ProcessingRequirement::SignOnAgain)
            .unwrap();
        assert_eq!(asked.to_bytes(), [0x61, 0x31, 0x03, 0x31, 0x00, 0x01]);
        assert!(asked
            .with_processing_requirement(ProcessingRequirement::Unknown(16))
            .is_err());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let new = |v, s, sub| {
            AppHeader::new(AppType::Chip, v, s, ProcessingRequirement::None, sub)
                .map_err(|e| e.what)
        };
        assert_eq!(new(100, TerminalStatus::Normal, 0), Err("spec version"));
        assert_eq!(
            new(1, TerminalStatus::Normal, 1_000_000),
            Err("sub-version")
        );
        assert_eq!(
            new(1, TerminalStatus::Unknown(16), 0),
            Err("terminal status")
        );
    }
}
