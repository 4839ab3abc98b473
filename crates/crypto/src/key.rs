//! DES keys of single, double and triple length, their check values, and keys carried
//! encrypted under a terminal master key.
//!
//! A [`DesKey`] holds its bytes in a fixed array that is wiped when the key is dropped, and
//! prints only its length and check value. The block engine ([`Engine`]) picks single DES or
//! two- or three-key triple DES (EDE, NIST SP 800-67) from the key's length; the MAC and PIN
//! modules build on it. Field 62 and its layouts are in `working.rs`.
//!
//! Nothing here panics on any input: lengths are checked before any slice is taken.

use std::fmt;

use des::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::{Des, TdesEde2, TdesEde3};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::KeyError;

/// The length of a DES key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyLength {
    /// 8 bytes: single DES.
    Single,
    /// 16 bytes: two-key triple DES (K1, K2, K1).
    Double,
    /// 24 bytes: three-key triple DES.
    Triple,
}

impl KeyLength {
    /// The key's length in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            KeyLength::Single => 8,
            KeyLength::Double => 16,
            KeyLength::Triple => 24,
        }
    }

    /// The length with `bytes` bytes, if DES has one.
    pub const fn from_bytes(bytes: usize) -> Option<KeyLength> {
        match bytes {
            8 => Some(KeyLength::Single),
            16 => Some(KeyLength::Double),
            24 => Some(KeyLength::Triple),
            _ => None,
        }
    }
}

/// A single, double or triple length DES key.
///
/// The bytes are wiped when the key is dropped (clones included) and never appear in
/// `Debug` output, which shows only the length and the 3-byte check value. Parity is not
/// required unless asked for ([`DesKey::from_slice_odd_parity`]): DES ignores the parity bits
/// and many test keys (`0123456789ABCDEF` among them) do not carry it.
#[derive(Clone)]
pub struct DesKey {
    bytes: [u8; 24],
    len: KeyLength,
}

impl DesKey {
    /// A key from its 8, 16 or 24 bytes; parity is not checked.
    pub fn from_slice(bytes: &[u8]) -> Result<DesKey, KeyError> {
        let len =
            KeyLength::from_bytes(bytes.len()).ok_or(KeyError::Length { found: bytes.len() })?;
        let mut key = DesKey {
            bytes: [0; 24],
            len,
        };
        for (to, from) in key.bytes.iter_mut().zip(bytes) {
            *to = *from;
        }
        Ok(key)
    }

    /// A key from its bytes, refusing one in which any byte has even parity.
    pub fn from_slice_odd_parity(bytes: &[u8]) -> Result<DesKey, KeyError> {
        let key = DesKey::from_slice(bytes)?;
        key.check_parity()?;
        Ok(key)
    }

    /// A key from 16, 32 or 48 hex characters (either case); parity is not checked.
    ///
    /// The error names the position of a bad character, never the text.
    pub fn from_hex(text: &str) -> Result<DesKey, KeyError> {
        let mut bytes = [0u8; 24];
        let result = decode_hex(text, &mut bytes).and_then(|n| {
            let clear = bytes.get(..n).ok_or(KeyError::Length { found: n })?;
            DesKey::from_slice(clear)
        });
        bytes.zeroize();
        result
    }

    /// The key's length.
    pub fn length(&self) -> KeyLength {
        self.len
    }

    /// The key's length in bytes (8, 16 or 24).
    pub fn len(&self) -> usize {
        self.len.bytes()
    }

    /// Always false: a DES key has at least 8 bytes. Present because clippy expects `len` to
    /// come with it.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The clear key bytes. Handle with care: never log or print them.
    pub fn expose_secret(&self) -> &[u8] {
        self.bytes.get(..self.len()).unwrap_or(&[])
    }

    /// True if every byte has odd parity.
    pub fn has_odd_parity(&self) -> bool {
        self.check_parity().is_ok()
    }

    /// `Ok` if every byte has odd parity, else the offset of the first one that does not.
    pub fn check_parity(&self) -> Result<(), KeyError> {
        match self
            .expose_secret()
            .iter()
            .position(|b| b.count_ones() % 2 == 0)
        {
            Some(byte) => Err(KeyError::Parity { byte }),
            None => Ok(()),
        }
    }

    /// Sets the low bit of every byte so that each has odd parity.
    pub fn adjust_parity(&mut self) {
        let len = self.len();
        for b in self.bytes.iter_mut().take(len) {
            *b = with_odd_parity(*b);
        }
    }

    /// The key made of this key's first 8 bytes: the single-DES key that UnionPay terminals
    /// set to "single-DES MAC" use from a double-length MAC key. A single key gives itself.
    pub fn first_single(&self) -> DesKey {
        let mut key = self.clone();
        key.len = KeyLength::Single;
        if let Some(rest) = key.bytes.get_mut(8..) {
            rest.zeroize();
        }
        key
    }

    /// The check value: the clear key encrypting eight zero bytes (ANSI X9.24-1). Terminals
    /// compare its first 3 or 4 bytes.
    pub fn check_value(&self) -> CheckValue {
        let mut block = [0u8; 8];
        self.engine().encrypt(&mut block);
        CheckValue(block)
    }

    /// Encrypts this key under `kek` (a terminal master key) in ECB mode, 8 bytes at a time,
    /// as a host does to deliver it: the result has the same length as this key.
    pub fn encrypt_under(&self, kek: &DesKey) -> Vec<u8> {
        let engine = kek.engine();
        let mut out = Vec::with_capacity(self.len());
        for chunk in self.expose_secret().chunks_exact(8) {
            let mut block = to_block(chunk);
            engine.encrypt(&mut block);
            out.extend_from_slice(&block);
        }
        out
    }

    /// Decrypts a key delivered encrypted under `kek` (a terminal master key) in ECB mode.
    /// `encrypted` must be 8, 16 or 24 bytes; the clear key has the same length.
    pub fn decrypt_under(kek: &DesKey, encrypted: &[u8]) -> Result<DesKey, KeyError> {
        let len = KeyLength::from_bytes(encrypted.len()).ok_or(KeyError::WrappedLength {
            found: encrypted.len(),
        })?;
        let engine = kek.engine();
        let mut key = DesKey {
            bytes: [0; 24],
            len,
        };
        for (to, from) in key.bytes.chunks_exact_mut(8).zip(encrypted.chunks_exact(8)) {
            let mut block = to_block(from);
            engine.decrypt(&mut block);
            to.copy_from_slice(&block);
            block.zeroize();
        }
        Ok(key)
    }

    /// The block engine for this key: single DES for 8 bytes, triple DES EDE for 16 or 24.
    pub(crate) fn engine(&self) -> Engine {
        match self.len {
            KeyLength::Single => Engine::Single(Box::new(new_cipher(first::<8>(&self.bytes)))),
            KeyLength::Double => Engine::Double(Box::new(new_cipher(first::<16>(&self.bytes)))),
            KeyLength::Triple => Engine::Triple(Box::new(new_cipher(first::<24>(&self.bytes)))),
        }
    }

    /// The single-DES ciphers of the left and right halves of a double-length key, for the
    /// X9.19 MAC; `None` for other lengths.
    pub(crate) fn halves(&self) -> Option<(Des, Des)> {
        if self.len != KeyLength::Double {
            return None;
        }
        let mut right = [0u8; 8];
        for (to, from) in right.iter_mut().zip(self.bytes.iter().skip(8)) {
            *to = *from;
        }
        let ciphers = (new_cipher(first::<8>(&self.bytes)), new_cipher(right));
        right.zeroize();
        Some(ciphers)
    }
}

impl fmt::Debug for DesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DesKey")
            .field("len", &self.len())
            .field("kcv", &self.check_value())
            .finish()
    }
}

impl Drop for DesKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for DesKey {}

/// Equality of the clear bytes, in constant time.
impl PartialEq for DesKey {
    fn eq(&self, other: &DesKey) -> bool {
        self.expose_secret().ct_eq(other.expose_secret()).into()
    }
}

impl Eq for DesKey {}

/// A key check value: the clear key encrypting eight zero bytes (ANSI X9.24-1).
///
/// `Display` and `Debug` show the first 3 bytes as 6 upper-case hex digits, the length that
/// X9.24-1 recommends for display; UnionPay's field 62 carries 4 bytes ([`CheckValue::kcv4`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckValue([u8; 8]);

impl CheckValue {
    /// The first 3 bytes.
    pub fn kcv3(&self) -> [u8; 3] {
        let [a, b, c, ..] = self.0;
        [a, b, c]
    }

    /// The first 4 bytes, as UnionPay's field 62 carries them.
    pub fn kcv4(&self) -> [u8; 4] {
        let [a, b, c, d, ..] = self.0;
        [a, b, c, d]
    }

    /// The whole encrypted block.
    pub fn to_bytes(&self) -> [u8; 8] {
        self.0
    }

    /// True if `expected` (3 to 8 bytes) is the start of this check value. Shorter or longer
    /// values never match.
    pub fn matches(&self, expected: &[u8]) -> bool {
        (3..=8).contains(&expected.len())
            && self
                .0
                .get(..expected.len())
                .is_some_and(|ours| bool::from(ours.ct_eq(expected)))
    }
}

impl fmt::Display for CheckValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kcv3().iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for CheckValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckValue({self})")
    }
}

/// A DES or triple-DES block cipher chosen by key length. Boxed so that the enum stays small
/// (a TDES key schedule is 384 bytes); the schedules are wiped on drop (`des`'s `zeroize`
/// feature).
pub(crate) enum Engine {
    Single(Box<Des>),
    Double(Box<TdesEde2>),
    Triple(Box<TdesEde3>),
}

impl Engine {
    /// Encrypts one block in place.
    pub(crate) fn encrypt(&self, block: &mut [u8; 8]) {
        let mut b = Array::from(*block);
        match self {
            Engine::Single(c) => c.encrypt_block(&mut b),
            Engine::Double(c) => c.encrypt_block(&mut b),
            Engine::Triple(c) => c.encrypt_block(&mut b),
        }
        *block = b.into();
    }

    /// Decrypts one block in place.
    pub(crate) fn decrypt(&self, block: &mut [u8; 8]) {
        let mut b = Array::from(*block);
        match self {
            Engine::Single(c) => c.decrypt_block(&mut b),
            Engine::Double(c) => c.decrypt_block(&mut b),
            Engine::Triple(c) => c.decrypt_block(&mut b),
        }
        *block = b.into();
        b.zeroize();
    }
}

/// Copies up to 8 bytes into a block, zero-filling the rest (ISO 9797-1 padding method 1
/// when `chunk` is the last, short piece of a message).
pub(crate) fn to_block(chunk: &[u8]) -> [u8; 8] {
    let mut block = [0u8; 8];
    for (to, from) in block.iter_mut().zip(chunk) {
        *to = *from;
    }
    block
}

/// The first `N` bytes of the key buffer.
fn first<const N: usize>(bytes: &[u8; 24]) -> [u8; N] {
    let mut out = [0u8; N];
    for (to, from) in out.iter_mut().zip(bytes) {
        *to = *from;
    }
    out
}

/// A cipher keyed with `key`; the stack copies of the key are wiped before returning.
fn new_cipher<C, const N: usize>(mut key: [u8; N]) -> C
where
    C: KeyInit,
    Array<u8, C::KeySize>: From<[u8; N]>,
{
    let mut array = Array::<u8, C::KeySize>::from(key);
    let cipher = C::new(&array);
    array.zeroize();
    key.zeroize();
    cipher
}

/// `b` with its low bit set so the byte has an odd number of one bits.
fn with_odd_parity(b: u8) -> u8 {
    let high = b & 0xFE;
    if high.count_ones() % 2 == 0 {
        high | 1
    } else {
        high
    }
}

/// Decodes hex text into `out`, returning the number of bytes written; text longer than
/// `out` reports its would-be length so the caller can name it.
fn decode_hex(text: &str, out: &mut [u8]) -> Result<usize, KeyError> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(KeyError::HexLength {
            found: digits.len(),
        });
    }
    if digits.len() / 2 > out.len() {
        return Err(KeyError::Length {
            found: digits.len() / 2,
        });
    }
    for (i, (pair, to)) in digits.chunks_exact(2).zip(out.iter_mut()).enumerate() {
        let (hi, lo) = match pair {
            [hi, lo] => (*hi, *lo),
            _ => {
                return Err(KeyError::HexLength {
                    found: digits.len(),
                })
            }
        };
        let hi = hex_value(hi).ok_or(KeyError::HexDigit { position: 2 * i })?;
        let lo = hex_value(lo).ok_or(KeyError::HexDigit {
            position: 2 * i + 1,
        })?;
        *to = hi << 4 | lo;
    }
    Ok(digits.len() / 2)
}

/// The value of one hex digit, either case.
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "0123456789ABCDEF";

    #[test]
    fn lengths_are_checked() {
        for n in [0, 7, 9, 15, 17, 23, 25, 32] {
            assert_eq!(
                DesKey::from_slice(&vec![1u8; n]).unwrap_err(),
                KeyError::Length { found: n }
            );
        }
        assert_eq!(
            DesKey::from_slice(&[1; 16]).unwrap().length(),
            KeyLength::Double
        );
    }

    #[test]
    fn hex_errors_name_positions_not_text() {
        assert_eq!(
            DesKey::from_hex("0123").unwrap_err(),
            KeyError::Length { found: 2 }
        );
        assert_eq!(
            DesKey::from_hex("012").unwrap_err(),
            KeyError::HexLength { found: 3 }
        );
        let err = DesKey::from_hex("0123456789ABCDEG").unwrap_err();
        assert_eq!(err, KeyError::HexDigit { position: 15 });
        assert!(!err.to_string().contains("0123"));
        assert_eq!(
            DesKey::from_hex(&"00".repeat(25)).unwrap_err(),
            KeyError::Length { found: 25 }
        );
        assert_eq!(
            DesKey::from_hex("é12345678901234").unwrap_err(),
            KeyError::HexDigit { position: 0 }
        );
    }

    #[test]
    fn parity_is_checked_and_adjusted() {
        // 01 23 45 67 89 AB CD EF have 1, 3, 3, 5, 3, 5, 5 and 7 one bits: all odd.
        assert!(DesKey::from_hex(K1).unwrap().has_odd_parity());
        let mut key = DesKey::from_hex("0000000000000000").unwrap();
        assert_eq!(key.check_parity(), Err(KeyError::Parity { byte: 0 }));
        key.adjust_parity();
        assert_eq!(key.expose_secret(), &[1u8; 8]);
        assert!(
            DesKey::from_slice_odd_parity(&[0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x03])
                .is_err_and(|e| e == KeyError::Parity { byte: 7 })
        );
    }

    #[test]
    fn debug_shows_length_and_check_value_only() {
        let key = DesKey::from_hex("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let text = format!("{key:?}");
        assert_eq!(text, "DesKey { len: 16, kcv: CheckValue(08D7B4) }");
        assert!(!text.contains("0123") && !text.contains("FEDC"));
    }

    #[test]
    fn wrap_then_unwrap_gives_the_key_back() {
        let tmk = DesKey::from_hex("1111111111111111FFFFFFFFFFFFFFFF").unwrap();
        for hex in [
            K1,
            "0123456789ABCDEFFEDCBA9876543210",
            &"0123456789ABCDEF".repeat(3),
        ] {
            let key = DesKey::from_hex(hex).unwrap();
            let wrapped = key.encrypt_under(&tmk);
            assert_eq!(wrapped.len(), key.len());
            assert_ne!(wrapped.as_slice(), key.expose_secret());
            assert_eq!(DesKey::decrypt_under(&tmk, &wrapped).unwrap(), key);
        }
        assert_eq!(
            DesKey::decrypt_under(&tmk, &[0; 12]).unwrap_err(),
            KeyError::WrappedLength { found: 12 }
        );
    }

    #[test]
    fn first_single_takes_the_left_half() {
        let key = DesKey::from_hex("0123456789ABCDEFFEDCBA9876543210").unwrap();
        assert_eq!(key.first_single(), DesKey::from_hex(K1).unwrap());
    }

    #[test]
    fn check_value_prefixes_match() {
        let kcv = DesKey::from_hex(K1).unwrap().check_value();
        assert!(kcv.matches(&[0xD5, 0xD4, 0x4F]));
        assert!(kcv.matches(&[0xD5, 0xD4, 0x4F, 0xF7]));
        assert!(!kcv.matches(&[0xD5, 0xD4]));
        assert!(!kcv.matches(&[0xD5, 0xD4, 0x4E]));
        assert!(!kcv.matches(&[0; 9]));
    }
}
