//! Working keys delivered under the terminal master key: UnionPay's field 62.
//!
//! Read DESIGN §4 first. The 0810 answering a UnionPay sign-on carries the working keys in
//! field 62, each encrypted under the terminal master key (ECB) and followed by the first
//! 4 bytes of its check value. Field 60.3 of the 0800 (the network management code) chose the
//! layout: `001` single-length keys (24 bytes), `003` double-length (40 bytes), `004`
//! double-length plus a track key (60 bytes). A check value that does not match rejects all
//! the keys, and the error names the key, never its bytes. The host side builds the same
//! field with [`WorkingKeys::to_field62`].
//!
//! Nothing here panics on any input.

use crate::error::{KeyError, KeyRole};
use crate::key::DesKey;

/// The layout of field 62, named by field 60.3 of the sign-on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field62Layout {
    /// `001`: PIN key 8 + check 4 + MAC key 8 + check 4 = 24 bytes.
    Single,
    /// `003`: PIN key 16 + check 4 + MAC key 16 + check 4 = 40 bytes.
    Double,
    /// `004`: as `003`, then track key 16 + check 4 = 60 bytes.
    DoubleWithTrack,
}

impl Field62Layout {
    /// The layout for a network management code (field 60.3): `001`, `003` or `004`.
    pub fn from_network_code(code: &str) -> Result<Field62Layout, KeyError> {
        match code {
            "001" => Ok(Field62Layout::Single),
            "003" => Ok(Field62Layout::Double),
            "004" => Ok(Field62Layout::DoubleWithTrack),
            other => Err(KeyError::UnknownLayout {
                found: other.to_owned(),
            }),
        }
    }

    /// The layout whose field 62 is `len` bytes long, if any: for an 0810 read without its
    /// request at hand.
    pub fn from_len(len: usize) -> Option<Field62Layout> {
        [
            Field62Layout::Single,
            Field62Layout::Double,
            Field62Layout::DoubleWithTrack,
        ]
        .into_iter()
        .find(|l| l.field_len() == len)
    }

    /// The network management code that asks for this layout.
    pub const fn network_code(self) -> &'static str {
        match self {
            Field62Layout::Single => "001",
            Field62Layout::Double => "003",
            Field62Layout::DoubleWithTrack => "004",
        }
    }

    /// The length of field 62 in this layout.
    pub const fn field_len(self) -> usize {
        match self {
            Field62Layout::Single => 24,
            Field62Layout::Double => 40,
            Field62Layout::DoubleWithTrack => 60,
        }
    }

    /// The length of each key in this layout (8 or 16).
    pub const fn key_len(self) -> usize {
        match self {
            Field62Layout::Single => 8,
            Field62Layout::Double | Field62Layout::DoubleWithTrack => 16,
        }
    }

    /// The roles of the keys this layout carries, in field order.
    fn roles(self) -> &'static [KeyRole] {
        match self {
            Field62Layout::Single | Field62Layout::Double => &[KeyRole::Pin, KeyRole::Mac],
            Field62Layout::DoubleWithTrack => &[KeyRole::Pin, KeyRole::Mac, KeyRole::Track],
        }
    }
}

/// The working keys of a terminal session, in the clear.
///
/// `Debug` shows each key's length and check value only (see [`DesKey`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkingKeys {
    /// The PIN key (PIK, TPK).
    pub pin: DesKey,
    /// The MAC key (MAK, TAK).
    pub mac: DesKey,
    /// The track data key (TDK), carried by the `004` layout only.
    pub track: Option<DesKey>,
}

impl WorkingKeys {
    /// Decrypts field 62 of a sign-on response under the terminal master key `tmk` and checks
    /// every key against its check value.
    ///
    /// ```
    /// use iso8583_crypto::{DesKey, Field62Layout, WorkingKeys};
    ///
    /// let tmk = DesKey::from_hex("0123456789ABCDEFFEDCBA9876543210")?;
    /// let issued = WorkingKeys {
    ///     pin: DesKey::from_hex("1111111111111111")?,
    ///     mac: DesKey::from_hex("2222222222222222")?,
    ///     track: None,
    /// };
    /// let field62 = issued.to_field62(&tmk, Field62Layout::Single)?;
    /// let keys = WorkingKeys::from_field62(&tmk, &field62, Field62Layout::Single)?;
    /// assert_eq!(keys, issued);
    /// # Ok::<(), iso8583_crypto::KeyError>(())
    /// ```
    pub fn from_field62(
        tmk: &DesKey,
        field62: &[u8],
        layout: Field62Layout,
    ) -> Result<WorkingKeys, KeyError> {
        if field62.len() != layout.field_len() {
            return Err(KeyError::Field62Length {
                layout: layout.network_code(),
                expected: layout.field_len(),
                found: field62.len(),
            });
        }

        // Each entry is the encrypted key followed by 4 check value bytes.
        let mut keys = Vec::with_capacity(3);
        for (role, entry) in layout
            .roles()
            .iter()
            .zip(field62.chunks_exact(layout.key_len() + 4))
        {
            let (encrypted, check) = entry
                .split_at_checked(layout.key_len())
                .unwrap_or((entry, &[]));
            let key = DesKey::decrypt_under(tmk, encrypted)?;
            if !key.check_value().matches(check) {
                return Err(KeyError::CheckValueMismatch { role: *role });
            }
            keys.push(key);
        }

        let mut keys = keys.into_iter();
        match (keys.next(), keys.next()) {
            (Some(pin), Some(mac)) => Ok(WorkingKeys {
                pin,
                mac,
                track: keys.next(),
            }),
            // Unreachable: the length check above leaves room for at least two entries.
            _ => Err(KeyError::Field62Length {
                layout: layout.network_code(),
                expected: layout.field_len(),
                found: field62.len(),
            }),
        }
    }

    /// Field 62 for a sign-on response: each key encrypted under `tmk`, followed by the
    /// first 4 bytes of its clear check value. The keys must have the layout's length, and the
    /// `004` layout needs a track key (one given to another layout is left out).
    pub fn to_field62(&self, tmk: &DesKey, layout: Field62Layout) -> Result<Vec<u8>, KeyError> {
        let mut out = Vec::with_capacity(layout.field_len());
        for role in layout.roles() {
            let key = match role {
                KeyRole::Pin => &self.pin,
                KeyRole::Mac => &self.mac,
                KeyRole::Track => self.track.as_ref().ok_or(KeyError::MissingTrackKey {
                    layout: layout.network_code(),
                })?,
            };
            if key.len() != layout.key_len() {
                return Err(KeyError::WorkingKeyLength {
                    role: *role,
                    layout: layout.network_code(),
                    expected: layout.key_len(),
                    found: key.len(),
                });
            }
            out.extend_from_slice(&key.encrypt_under(tmk));
            out.extend_from_slice(&key.check_value().kcv4());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hex: &str) -> DesKey {
        DesKey::from_hex(hex).unwrap()
    }

    fn double_keys(track: bool) -> WorkingKeys {
        WorkingKeys {
            pin: key("0123456789ABCDEFFEDCBA9876543210"),
            mac: key("FEDCBA98765432100123456789ABCDEF"),
            track: track.then(|| key("89ABCDEF0123456776543210FEDCBA98")),
        }
    }

    #[test]
    fn layouts_follow_network_codes() {
        for (code, len) in [("001", 24), ("003", 40), ("004", 60)] {
            let layout = Field62Layout::from_network_code(code).unwrap();
            assert_eq!(layout.field_len(), len);
            assert_eq!(layout.network_code(), code);
            assert_eq!(Field62Layout::from_len(len), Some(layout));
        }
        assert_eq!(
            Field62Layout::from_network_code("002").unwrap_err(),
            KeyError::UnknownLayout {
                found: "002".into()
            }
        );
        assert_eq!(Field62Layout::from_len(48), None);
    }

    #[test]
    fn every_layout_round_trips() {
        let tmk = key("0123456789ABCDEFFEDCBA9876543210");
        let single = WorkingKeys {
            pin: key("0123456789ABCDEF"),
            mac: key("FEDCBA9876543210"),
            track: None,
        };
        for (keys, layout) in [
            (single, Field62Layout::Single),
            (double_keys(false), Field62Layout::Double),
            (double_keys(true), Field62Layout::DoubleWithTrack),
        ] {
            let field = keys.to_field62(&tmk, layout).unwrap();
            assert_eq!(field.len(), layout.field_len());
            assert_eq!(
                WorkingKeys::from_field62(&tmk, &field, layout).unwrap(),
                keys
            );
        }
    }

    #[test]
    fn a_damaged_check_value_names_the_key() {
        let tmk = key("0123456789ABCDEFFEDCBA9876543210");
        let layout = Field62Layout::DoubleWithTrack;
        let field = double_keys(true).to_field62(&tmk, layout).unwrap();
        for (offset, role) in [(16, KeyRole::Pin), (36, KeyRole::Mac), (59, KeyRole::Track)] {
            let mut bad = field.clone();
            if let Some(b) = bad.get_mut(offset) {
                *b ^= 1;
            }
            let err = WorkingKeys::from_field62(&tmk, &bad, layout).unwrap_err();
            assert_eq!(err, KeyError::CheckValueMismatch { role });
            assert_eq!(
                err.to_string(),
                format!("the {role} does not match its check value")
            );
        }
    }

    #[test]
    fn the_wrong_master_key_is_caught() {
        let tmk = key("0123456789ABCDEFFEDCBA9876543210");
        let field = double_keys(false)
            .to_field62(&tmk, Field62Layout::Double)
            .unwrap();
        let other = key("0123456789ABCDEF0123456789ABCDEF");
        assert_eq!(
            WorkingKeys::from_field62(&other, &field, Field62Layout::Double).unwrap_err(),
            KeyError::CheckValueMismatch { role: KeyRole::Pin }
        );
    }

    #[test]
    fn lengths_are_checked_both_ways() {
        let tmk = key("0123456789ABCDEF");
        assert_eq!(
            WorkingKeys::from_field62(&tmk, &[0; 40], Field62Layout::Single).unwrap_err(),
            KeyError::Field62Length {
                layout: "001",
                expected: 24,
                found: 40
            }
        );
        assert_eq!(
            double_keys(false)
                .to_field62(&tmk, Field62Layout::Single)
                .unwrap_err(),
            KeyError::WorkingKeyLength {
                role: KeyRole::Pin,
                layout: "001",
                expected: 8,
                found: 16
            }
        );
        assert_eq!(
            double_keys(false)
                .to_field62(&tmk, Field62Layout::DoubleWithTrack)
                .unwrap_err(),
            KeyError::MissingTrackKey { layout: "004" }
        );
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let text = format!("{:?}", double_keys(true));
        assert!(!text.contains("0123") && !text.contains("FEDC") && !text.contains("89AB"));
        assert!(text.contains("kcv"));
    }
}
