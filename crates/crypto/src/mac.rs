//! Message authentication codes over the wire bytes of a message: ANSI X9.19, ANSI X9.9 and
//! the UnionPay "ECB" MAC.
//!
//! Read DESIGN §4 first. The MAC input is the message exactly as written, from the MTI up to
//! the start of the MAC field (field 64, or 128 when there is a secondary bitmap), length
//! prefixes included; [`iso8583_codec::Message::bytes_before`] gives it. Every algorithm pads
//! with zeros to a multiple of 8 bytes (ISO 9797-1 padding method 1; empty data is one zero
//! block) and gives the 8 bytes that go into the MAC field. Keys, clear or derived, stay in
//! this module's locals and are wiped with them.
//!
//! Nothing here panics on any input.

use std::fmt;
use std::str::FromStr;

use des::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt};
use iso8583_codec::Message;
use subtle::ConstantTimeEq;

use crate::error::MacError;
use crate::key::{to_block, DesKey, Engine, KeyLength};

/// A MAC algorithm, as a terminal profile names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MacAlgorithm {
    /// ANSI X9.19 retail MAC, ISO/IEC 9797-1 MAC algorithm 3: single-DES CBC with the left
    /// half of a double-length key, then the last block decrypted with the right half and
    /// encrypted with the left. Profile name `x919`.
    X919,
    /// ANSI X9.9, ISO/IEC 9797-1 MAC algorithm 1: CBC with the whole key (single DES for an
    /// 8-byte key, triple DES for a longer one), the last block is the MAC. Profile name `x99`.
    X99,
    /// UnionPay POS "ECB" MAC: the XOR of all blocks written as upper-case hex, then two
    /// encryptions (DESIGN §4); the MAC field holds 8 upper-case ASCII hex characters. Profile
    /// name `cup-ecb`.
    CupEcb,
}

impl MacAlgorithm {
    /// Every algorithm, in profile-name order.
    pub const ALL: [MacAlgorithm; 3] =
        [MacAlgorithm::X919, MacAlgorithm::X99, MacAlgorithm::CupEcb];

    /// The name a profile uses: `x919`, `x99` or `cup-ecb`.
    pub const fn name(self) -> &'static str {
        match self {
            MacAlgorithm::X919 => "x919",
            MacAlgorithm::X99 => "x99",
            MacAlgorithm::CupEcb => "cup-ecb",
        }
    }

    /// The MAC of `data` under the whole `key`; see [`Mac::compute`].
    pub fn compute(self, key: &DesKey, data: &[u8]) -> Result<[u8; 8], MacError> {
        Mac::new(self).compute(key, data)
    }

    /// Checks `mac` against `data` under the whole `key`; see [`Mac::verify`].
    pub fn verify(self, key: &DesKey, data: &[u8], mac: &[u8]) -> Result<(), MacError> {
        Mac::new(self).verify(key, data, mac)
    }
}

impl fmt::Display for MacAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MacAlgorithm {
    type Err = MacError;

    fn from_str(s: &str) -> Result<MacAlgorithm, MacError> {
        MacAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| MacError::UnknownAlgorithm {
                found: s.to_owned(),
            })
    }
}

/// How much of a longer key the MAC uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyUse {
    /// The whole key: triple DES for a double or triple length key (X9.19 always splits a
    /// double-length key into its halves).
    #[default]
    Whole,
    /// Only the first 8 bytes (single DES), as many UnionPay terminals do with a
    /// double-length MAC key (DESIGN §4). With X9.19 this leaves too short a key and fails.
    FirstHalf,
}

/// A profile's MAC setting: the algorithm and how much of the key it uses.
///
/// ```
/// use iso8583_crypto::{DesKey, KeyUse, Mac, MacAlgorithm};
///
/// let mac = Mac::new("cup-ecb".parse()?).with_key_use(KeyUse::FirstHalf);
/// let key = DesKey::from_hex("0123456789ABCDEFFEDCBA9876543210")?;
/// let field64 = mac.compute(&key, b"0200...")?;
/// assert!(field64.iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
/// mac.verify(&key, b"0200...", &field64)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mac {
    algorithm: MacAlgorithm,
    key_use: KeyUse,
}

impl Mac {
    /// The algorithm with the whole key.
    pub const fn new(algorithm: MacAlgorithm) -> Mac {
        Mac {
            algorithm,
            key_use: KeyUse::Whole,
        }
    }

    /// The same setting with `key_use`.
    pub const fn with_key_use(self, key_use: KeyUse) -> Mac {
        Mac { key_use, ..self }
    }

    /// The algorithm.
    pub const fn algorithm(&self) -> MacAlgorithm {
        self.algorithm
    }

    /// How much of the key is used.
    pub const fn key_use(&self) -> KeyUse {
        self.key_use
    }

    /// The 8 bytes that go into the MAC field for `data`: the MAC itself for X9.19 and X9.9,
    /// 8 upper-case ASCII hex characters for the UnionPay ECB MAC.
    ///
    /// Fails only when the key's length does not suit the algorithm.
    pub fn compute(&self, key: &DesKey, data: &[u8]) -> Result<[u8; 8], MacError> {
        let narrowed;
        let key = match (self.key_use, key.length()) {
            (KeyUse::FirstHalf, KeyLength::Double | KeyLength::Triple) => {
                narrowed = key.first_single();
                &narrowed
            }
            _ => key,
        };
        match self.algorithm {
            MacAlgorithm::X919 => x919(key, data),
            MacAlgorithm::X99 => Ok(cbc_mac(&key.engine(), data)),
            MacAlgorithm::CupEcb => Ok(cup_ecb(&key.engine(), data)),
        }
    }

    /// Checks `mac`, as found in the MAC field, against `data`, comparing in constant time.
    pub fn verify(&self, key: &DesKey, data: &[u8], mac: &[u8]) -> Result<(), MacError> {
        if mac.len() != 8 {
            return Err(MacError::MacLength { found: mac.len() });
        }
        let expected = self.compute(key, data)?;
        if bool::from(expected.ct_eq(mac)) {
            Ok(())
        } else {
            Err(MacError::Mismatch)
        }
    }

    /// The MAC of `message` for field `field` (64 or 128): computed over
    /// [`Message::bytes_before`]`(field)`, the bytes from the MTI to the start of that field,
    /// or the whole message if it is absent (a message being built before its MAC is set).
    pub fn compute_message(
        &self,
        key: &DesKey,
        message: &Message<'_>,
        field: u16,
    ) -> Result<[u8; 8], MacError> {
        check_mac_field(field)?;
        self.compute(key, message.bytes_before(field))
    }

    /// Checks the MAC that `message` carries in field `field` (64 or 128) against the bytes
    /// before it. The field's logical value is compared, so a spec that writes binary fields
    /// as hex text works too.
    pub fn verify_message(
        &self,
        key: &DesKey,
        message: &Message<'_>,
        field: u16,
    ) -> Result<(), MacError> {
        check_mac_field(field)?;
        let carried = message
            .field(field)
            .ok_or(MacError::MissingMacField { field })?;

        // The logical value, so that a spec writing binary fields as hex text works too.
        let found = carried.value().count();
        if found != 8 {
            return Err(MacError::MacLength { found });
        }
        let mut mac = [0u8; 8];
        for (to, from) in mac.iter_mut().zip(carried.value()) {
            *to = from;
        }
        self.verify(key, message.bytes_before(field), &mac)
    }
}

impl From<MacAlgorithm> for Mac {
    fn from(algorithm: MacAlgorithm) -> Mac {
        Mac::new(algorithm)
    }
}

/// ISO 8583 carries a MAC in the last field of a bitmap: DE 64 or DE 128.
fn check_mac_field(field: u16) -> Result<(), MacError> {
    match field {
        64 | 128 => Ok(()),
        found => Err(MacError::MacField { found }),
    }
}

/// ISO/IEC 9797-1 MAC algorithm 1 with padding method 1: CBC from a zero IV, the last
/// ciphertext block is the MAC.
fn cbc_mac(engine: &Engine, data: &[u8]) -> [u8; 8] {
    let mut state = [0u8; 8];
    for_each_block(data, |block| {
        xor_into(&mut state, &block);
        engine.encrypt(&mut state);
    });
    state
}

/// ISO/IEC 9797-1 MAC algorithm 3 (ANSI X9.19): single-DES CBC with the left key, then
/// decrypt with the right key and encrypt with the left.
fn x919(key: &DesKey, data: &[u8]) -> Result<[u8; 8], MacError> {
    let (left, right) = key.halves().ok_or(MacError::KeyLength {
        algorithm: MacAlgorithm::X919,
        expected: 16,
        found: key.len(),
    })?;
    let mut state = Array::from([0u8; 8]);
    for_each_block(data, |block| {
        for (s, b) in state.iter_mut().zip(block) {
            *s ^= b;
        }
        left.encrypt_block(&mut state);
    });
    right.decrypt_block(&mut state);
    left.encrypt_block(&mut state);
    Ok(state.into())
}

/// The UnionPay POS ECB MAC (DESIGN §4). Step by step:
/// 1. XOR every 8-byte block of the zero-padded data into one block `R`;
/// 2. write `R` as 16 upper-case hex characters `H`;
/// 3. encrypt the first 8 characters of `H`, XOR the result with the last 8 characters;
/// 4. encrypt that, write it as 16 upper-case hex characters; the MAC is the first 8.
///
/// Lower-case hex in step 2 gives a different MAC that hosts reject.
fn cup_ecb(engine: &Engine, data: &[u8]) -> [u8; 8] {
    let mut folded = [0u8; 8];
    for_each_block(data, |block| xor_into(&mut folded, &block));
    let hex = upper_hex(&folded);
    let (mut left, right) = split_hex(&hex);
    engine.encrypt(&mut left);
    xor_into(&mut left, &right);
    engine.encrypt(&mut left);
    split_hex(&upper_hex(&left)).0
}

/// Calls `f` with each 8-byte block of `data`, the last zero-padded; empty data is one zero
/// block (ISO/IEC 9797-1 padding method 1).
fn for_each_block(data: &[u8], mut f: impl FnMut([u8; 8])) {
    if data.is_empty() {
        f([0; 8]);
    }
    data.chunks(8).for_each(|chunk| f(to_block(chunk)));
}

/// `acc ^= block`, byte by byte.
fn xor_into(acc: &mut [u8; 8], block: &[u8; 8]) {
    for (a, b) in acc.iter_mut().zip(block) {
        *a ^= b;
    }
}

/// The 16 upper-case hex characters of a block.
pub(crate) fn upper_hex(block: &[u8; 8]) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = [0u8; 16];
    for (pair, b) in out.chunks_exact_mut(2).zip(block) {
        let hi = DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
        let lo = DIGITS.get(usize::from(b & 0x0F)).copied().unwrap_or(b'0');
        pair.copy_from_slice(&[hi, lo]);
    }
    out
}

/// The first and last 8 bytes of 16.
fn split_hex(hex: &[u8; 16]) -> ([u8; 8], [u8; 8]) {
    let mut left = [0u8; 8];
    let mut right = [0u8; 8];
    left.copy_from_slice(hex.get(..8).unwrap_or(&[0; 8]));
    right.copy_from_slice(hex.get(8..).unwrap_or(&[0; 8]));
    (left, right)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hex: &str) -> DesKey {
        DesKey::from_hex(hex).unwrap()
    }

    #[test]
    fn names_parse_and_print() {
        for algorithm in MacAlgorithm::ALL {
            assert_eq!(algorithm.name().parse::<MacAlgorithm>(), Ok(algorithm));
            assert_eq!(algorithm.to_string(), algorithm.name());
        }
        assert_eq!(
            "X919".parse::<MacAlgorithm>(),
            Err(MacError::UnknownAlgorithm {
                found: "X919".into()
            })
        );
    }

    #[test]
    fn x919_needs_a_double_length_key() {
        let data = b"0200";
        for (hex, found) in [
            ("0123456789ABCDEF", 8),
            (&"0123456789ABCDEF".repeat(3)[..], 24),
        ] {
            assert_eq!(
                MacAlgorithm::X919.compute(&key(hex), data),
                Err(MacError::KeyLength {
                    algorithm: MacAlgorithm::X919,
                    expected: 16,
                    found
                })
            );
        }
        let half = Mac::new(MacAlgorithm::X919).with_key_use(KeyUse::FirstHalf);
        assert!(matches!(
            half.compute(&key("0123456789ABCDEFFEDCBA9876543210"), data),
            Err(MacError::KeyLength { found: 8, .. })
        ));
    }

    #[test]
    fn first_half_equals_the_single_key() {
        let double = key("0123456789ABCDEFFEDCBA9876543210");
        let single = key("0123456789ABCDEF");
        let data = b"any message bytes at all";
        for algorithm in [MacAlgorithm::X99, MacAlgorithm::CupEcb] {
            let half = Mac::new(algorithm).with_key_use(KeyUse::FirstHalf);
            assert_eq!(
                half.compute(&double, data),
                algorithm.compute(&single, data)
            );
            assert_ne!(
                half.compute(&double, data),
                algorithm.compute(&double, data)
            );
        }
    }

    #[test]
    fn verify_checks_length_and_value() {
        let k = key("0123456789ABCDEFFEDCBA9876543210");
        for algorithm in MacAlgorithm::ALL {
            let mac = algorithm.compute(&k, b"0200abc").unwrap();
            assert_eq!(algorithm.verify(&k, b"0200abc", &mac), Ok(()));
            assert_eq!(
                algorithm.verify(&k, b"0200abd", &mac),
                Err(MacError::Mismatch)
            );
            assert_eq!(
                algorithm.verify(&k, b"0200abc", &mac[..4]),
                Err(MacError::MacLength { found: 4 })
            );
        }
    }

    #[test]
    fn cup_ecb_gives_upper_case_hex() {
        let k = key("0123456789ABCDEF");
        for len in 0..40 {
            let data: Vec<u8> = (0..len).collect();
            let mac = MacAlgorithm::CupEcb.compute(&k, &data).unwrap();
            assert!(mac.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F')));
        }
    }

    #[test]
    fn trailing_zeros_are_padding() {
        // ISO/IEC 9797-1 padding method 1 cannot tell trailing zero bytes from padding; a
        // known property, harmless here because ISO 8583 messages carry their own lengths.
        let k = key("0123456789ABCDEFFEDCBA9876543210");
        for algorithm in MacAlgorithm::ALL {
            assert_eq!(
                algorithm.compute(&k, b"abc"),
                algorithm.compute(&k, b"abc\0")
            );
        }
    }

    #[test]
    fn upper_hex_writes_every_nibble() {
        let hex = upper_hex(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
        assert_eq!(&hex, b"0123456789ABCDEF");
    }
}
