//! ISO 9564-1 PIN blocks, formats 0 and 3, clear and encrypted under a PIN key.
//!
//! Both formats XOR a PIN field with a PAN field. The PIN field is 16 nibbles: the format
//! (0 or 3), the PIN length (4 to 12), the PIN digits, then fill: `F` for format 0, random
//! values `A` to `F` for format 3. The PAN field is four zero nibbles and the 12 rightmost PAN
//! digits excluding the check digit, left-padded with zeros when the PAN is shorter
//! (DESIGN §4). Format 3's fill comes from a caller-supplied [`RandomSource`], so tests can be
//! deterministic; [`SystemRandom`] (feature `rand`) uses the operating system's generator.
//!
//! PINs and blocks are wiped on drop and print as `..`. Nothing here panics on any input.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{BlockProblem, PinError};
use crate::key::DesKey;

/// The ISO 9564-1 PIN block formats this crate writes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PinBlockFormat {
    /// Format 0 (ANSI X9.8): fill `F`, XOR with the PAN.
    Iso0,
    /// Format 3: random fill `A` to `F`, XOR with the PAN.
    Iso3,
}

impl PinBlockFormat {
    /// The control-field nibble that opens a clear block of this format.
    const fn control(self) -> u8 {
        match self {
            PinBlockFormat::Iso0 => 0x0,
            PinBlockFormat::Iso3 => 0x3,
        }
    }
}

/// A PIN of 4 to 12 decimal digits. Wiped on drop; `Debug` prints `Pin(..)`.
#[derive(Clone)]
pub struct Pin {
    digits: [u8; 12],
    len: u8,
}

impl Pin {
    /// A PIN from its digits.
    pub fn new(digits: &str) -> Result<Pin, PinError> {
        let bytes = digits.as_bytes();
        if !(4..=12).contains(&bytes.len()) {
            return Err(PinError::PinLength { found: bytes.len() });
        }
        if let Some(position) = bytes.iter().position(|b| !b.is_ascii_digit()) {
            return Err(PinError::PinDigit { position });
        }
        let mut pin = Pin {
            digits: [0; 12],
            len: 0,
        };
        for (to, from) in pin.digits.iter_mut().zip(bytes) {
            *to = *from;
            pin.len += 1;
        }
        Ok(pin)
    }

    /// The number of digits (4 to 12).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a PIN has at least 4 digits.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The digits as text. Handle with care: never log them.
    pub fn expose_secret(&self) -> &str {
        let digits = self.digits.get(..self.len()).unwrap_or(&[]);
        std::str::from_utf8(digits).unwrap_or("")
    }

    /// The digits as values 0 to 9.
    fn values(&self) -> impl Iterator<Item = u8> + '_ {
        self.expose_secret().bytes().map(|d| d - b'0')
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Pin) -> bool {
        use subtle::ConstantTimeEq;
        self.expose_secret()
            .as_bytes()
            .ct_eq(other.expose_secret().as_bytes())
            .into()
    }
}

impl Eq for Pin {}

impl Drop for Pin {
    fn drop(&mut self) {
        self.digits.zeroize();
    }
}

impl ZeroizeOnDrop for Pin {}

/// A clear PIN block: the PIN field XOR the PAN field. Wiped on drop; `Debug` prints
/// `ClearPinBlock(..)`.
#[derive(Clone)]
pub struct ClearPinBlock([u8; 8]);

impl ClearPinBlock {
    /// The ISO 9564-1 format 0 block of `pin` for `pan` (8 to 19 digits).
    ///
    /// ```
    /// use iso8583_crypto::{ClearPinBlock, Pin};
    ///
    /// let block = ClearPinBlock::format0(&Pin::new("123456")?, "1234567890123456")?;
    /// assert_eq!(block.expose_secret(), &[0x06, 0x12, 0x71, 0x31, 0x76, 0xFE, 0xDC, 0xBA]);
    /// # Ok::<(), iso8583_crypto::PinError>(())
    /// ```
    pub fn format0(pin: &Pin, pan: &str) -> Result<ClearPinBlock, PinError> {
        let pan = pan_field(pan)?;
        let mut fill = [0xFu8; 10];
        let block = ClearPinBlock::build(PinBlockFormat::Iso0, pin, &fill, &pan);
        fill.zeroize();
        Ok(block)
    }

    /// The ISO 9564-1 format 3 block of `pin` for `pan`, fill digits `A` to `F` drawn from
    /// `random` (each one uniform by rejection sampling).
    pub fn format3(
        pin: &Pin,
        pan: &str,
        random: &mut impl RandomSource,
    ) -> Result<ClearPinBlock, PinError> {
        let pan = pan_field(pan)?;
        let mut fill = [0u8; 10];
        fill_digits(random, &mut fill)?;
        let block = ClearPinBlock::build(PinBlockFormat::Iso3, pin, &fill, &pan);
        fill.zeroize();
        Ok(block)
    }

    /// A clear block from its 8 bytes, e.g. one just decrypted by a host's own code.
    pub fn from_bytes(bytes: [u8; 8]) -> ClearPinBlock {
        ClearPinBlock(bytes)
    }

    /// The block's bytes. Handle with care: the PAN is public, so these give the PIN away.
    pub fn expose_secret(&self) -> &[u8; 8] {
        &self.0
    }

    /// The block encrypted under the PIN key (single DES for 8 bytes, triple DES EDE for 16
    /// or 24): what field 52 carries.
    pub fn encrypt(&self, key: &DesKey) -> EncryptedPinBlock {
        let mut block = self.0;
        key.engine().encrypt(&mut block);
        EncryptedPinBlock(block)
    }

    /// The format of this block, read from its control field, if it is 0 or 3.
    pub fn format(&self) -> Option<PinBlockFormat> {
        match self.0.first().map(|b| b >> 4) {
            Some(0x0) => Some(PinBlockFormat::Iso0),
            Some(0x3) => Some(PinBlockFormat::Iso3),
            _ => None,
        }
    }

    /// Reads the PIN back, checking the control field, the length, the digits and the fill
    /// against the format. A wrong PAN or key most often fails the fill check, but not always:
    /// a PIN block cannot prove it was decrypted with the right key.
    pub fn pin(&self, pan: &str) -> Result<Pin, PinError> {
        let pan = pan_field(pan)?;
        let mut field = self.0;
        xor_into(&mut field, &pan);
        let result = read_pin_field(&field);
        field.zeroize();
        result
    }

    /// Lays out the PIN field (control, length, digits, fill) and XORs the PAN field in.
    fn build(format: PinBlockFormat, pin: &Pin, fill: &[u8; 10], pan: &[u8; 8]) -> ClearPinBlock {
        let length = u8::try_from(pin.len()).unwrap_or(0);
        let nibbles = [format.control(), length]
            .into_iter()
            .chain(pin.values())
            .chain(fill.iter().copied());
        let mut block = [0u8; 8];
        for (i, nibble) in nibbles.take(16).enumerate() {
            if let Some(byte) = block.get_mut(i / 2) {
                *byte |= if i % 2 == 0 { nibble << 4 } else { nibble };
            }
        }
        xor_into(&mut block, pan);
        ClearPinBlock(block)
    }
}

impl fmt::Debug for ClearPinBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClearPinBlock(..)")
    }
}

impl Drop for ClearPinBlock {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for ClearPinBlock {}

/// A PIN block encrypted under a PIN key, as field 52 carries it. Wiped on drop; `Debug`
/// prints `EncryptedPinBlock(..)` as STYLE §8 asks for any PIN block.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedPinBlock([u8; 8]);

impl EncryptedPinBlock {
    /// An encrypted block from its 8 bytes.
    pub fn from_bytes(bytes: [u8; 8]) -> EncryptedPinBlock {
        EncryptedPinBlock(bytes)
    }

    /// An encrypted block from field 52's bytes, which must be 8.
    pub fn from_slice(bytes: &[u8]) -> Result<EncryptedPinBlock, PinError> {
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| PinError::BlockLength { found: bytes.len() })?;
        Ok(EncryptedPinBlock(bytes))
    }

    /// The bytes to put in field 52.
    pub fn to_bytes(&self) -> [u8; 8] {
        self.0
    }

    /// The clear block under `key`.
    pub fn decrypt(&self, key: &DesKey) -> ClearPinBlock {
        let mut block = self.0;
        key.engine().decrypt(&mut block);
        ClearPinBlock(block)
    }

    /// Decrypts under `key` and reads the PIN back for `pan`, as a host does.
    pub fn pin(&self, key: &DesKey, pan: &str) -> Result<Pin, PinError> {
        self.decrypt(key).pin(pan)
    }
}

impl fmt::Debug for EncryptedPinBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptedPinBlock(..)")
    }
}

impl Drop for EncryptedPinBlock {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for EncryptedPinBlock {}

/// A source of random bytes for format 3's fill digits.
///
/// Any `FnMut(&mut [u8])` is one, which makes tests deterministic:
/// ```
/// use iso8583_crypto::{ClearPinBlock, Pin};
///
/// let mut counter = 0u8;
/// let mut source = |buf: &mut [u8]| {
///     for b in buf {
///         *b = counter;
///         counter = counter.wrapping_add(1);
///     }
/// };
/// let block = ClearPinBlock::format3(&Pin::new("1234")?, "4000001234567899", &mut source)?;
/// assert_eq!(block.pin("4000001234567899")?.expose_secret(), "1234");
/// # Ok::<(), iso8583_crypto::PinError>(())
/// ```
pub trait RandomSource {
    /// Fills `dest` with random bytes, or says that none can be had.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomUnavailable>;
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomUnavailable> {
        self(dest);
        Ok(())
    }
}

/// A random source could not give bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RandomUnavailable;

impl fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no random bytes available")
    }
}

impl std::error::Error for RandomUnavailable {}

/// The operating system's random generator (through `rand`'s `SysRng`).
#[cfg(feature = "rand")]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandom;

#[cfg(feature = "rand")]
impl RandomSource for SystemRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomUnavailable> {
        use rand::TryRng;
        rand::rngs::SysRng
            .try_fill_bytes(dest)
            .map_err(|_| RandomUnavailable)
    }
}

/// Fills `out` with values 0xA to 0xF. A byte below 252 (= 6 × 42) maps to `0xA + b % 6`,
/// others are drawn again, so each value is equally likely; a source that keeps giving bytes
/// of 252 and above for 8 rounds of 16 is taken to be broken rather than looped on forever.
fn fill_digits(random: &mut impl RandomSource, out: &mut [u8; 10]) -> Result<(), PinError> {
    let mut filled = 0;
    let mut bytes = [0u8; 16];
    for _ in 0..8 {
        random
            .fill(&mut bytes)
            .map_err(|_| PinError::RandomSource)?;
        for b in bytes.iter().filter(|b| **b < 252) {
            if let Some(slot) = out.get_mut(filled) {
                *slot = 0xA + b % 6;
                filled += 1;
            }
        }
        if filled == out.len() {
            bytes.zeroize();
            return Ok(());
        }
    }
    bytes.zeroize();
    Err(PinError::RandomSource)
}

/// The PAN field: four zero nibbles, then the 12 rightmost digits of the PAN without its check
/// digit, left-padded with zeros if fewer (ISO 9564-1, format 0).
fn pan_field(pan: &str) -> Result<[u8; 8], PinError> {
    let digits = pan.as_bytes();
    if !(8..=19).contains(&digits.len()) {
        return Err(PinError::PanLength {
            found: digits.len(),
        });
    }
    if let Some(position) = digits.iter().position(|b| !b.is_ascii_digit()) {
        return Err(PinError::PanDigit { position });
    }

    // Walk back from just before the check digit, filling nibbles 15 down to 4.
    let mut field = [0u8; 8];
    let account = digits.get(..digits.len() - 1).unwrap_or(&[]);
    for (i, d) in account.iter().rev().take(12).enumerate() {
        let nibble = 15 - i;
        if let Some(byte) = field.get_mut(nibble / 2) {
            let value = d - b'0';
            *byte |= if nibble % 2 == 0 { value << 4 } else { value };
        }
    }
    Ok(field)
}

/// Reads a PIN field (the clear block with the PAN field XORed out).
fn read_pin_field(field: &[u8; 8]) -> Result<Pin, PinError> {
    let nibble = |i: usize| {
        let byte = field.get(i / 2).copied().unwrap_or(0);
        if i % 2 == 0 {
            byte >> 4
        } else {
            byte & 0x0F
        }
    };
    let fill_ok: fn(u8) -> bool = match nibble(0) {
        0x0 => |n| n == 0xF,
        0x3 => |n| (0xA..=0xF).contains(&n),
        _ => return Err(PinError::Malformed(BlockProblem::Format)),
    };
    let len = usize::from(nibble(1));
    if !(4..=12).contains(&len) {
        return Err(PinError::Malformed(BlockProblem::PinLength));
    }
    let mut digits = [0u8; 12];
    for i in 0..len {
        let n = nibble(2 + i);
        if n > 9 {
            digits.zeroize();
            return Err(PinError::Malformed(BlockProblem::PinDigit));
        }
        if let Some(to) = digits.get_mut(i) {
            *to = b'0' + n;
        }
    }
    if !(2 + len..16).all(|i| fill_ok(nibble(i))) {
        digits.zeroize();
        return Err(PinError::Malformed(BlockProblem::Fill));
    }
    let pin = Pin {
        digits,
        len: nibble(1),
    };
    digits.zeroize();
    Ok(pin)
}

/// `acc ^= other`, byte by byte.
fn xor_into(acc: &mut [u8; 8], other: &[u8; 8]) {
    for (a, b) in acc.iter_mut().zip(other) {
        *a ^= b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_validated() {
        assert_eq!(
            Pin::new("123").unwrap_err(),
            PinError::PinLength { found: 3 }
        );
        assert_eq!(
            Pin::new("1234567890123").unwrap_err(),
            PinError::PinLength { found: 13 }
        );
        assert_eq!(
            Pin::new("12a4").unwrap_err(),
            PinError::PinDigit { position: 2 }
        );
        assert_eq!(Pin::new("123456789012").unwrap().len(), 12);
    }

    #[test]
    fn pans_are_validated() {
        let pin = Pin::new("1234").unwrap();
        for (pan, err) in [
            ("1234567", PinError::PanLength { found: 7 }),
            ("12345678901234567890", PinError::PanLength { found: 20 }),
            ("1234 5678901234", PinError::PanDigit { position: 4 }),
        ] {
            assert_eq!(ClearPinBlock::format0(&pin, pan).unwrap_err(), err);
        }
    }

    #[test]
    fn short_pans_are_left_padded() {
        // 8-digit PAN 12345674: account digits 1234567 → PAN field 0000000001234567.
        assert_eq!(
            pan_field("12345674").unwrap(),
            [0, 0, 0, 0, 0x01, 0x23, 0x45, 0x67]
        );
        // 19 digits: the 12 left of the check digit, 567890123456.
        assert_eq!(
            pan_field("6212345678901234567").unwrap(),
            [0, 0, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56]
        );
    }

    #[test]
    fn every_pin_length_round_trips_in_both_formats() {
        let pan = "6212345678901234567";
        let mut seed = 7u8;
        let mut source = |buf: &mut [u8]| {
            for b in buf {
                seed = seed.wrapping_mul(31).wrapping_add(17);
                *b = seed;
            }
        };
        for len in 4..=12 {
            let digits: String = "908172635445".chars().take(len).collect();
            let pin = Pin::new(&digits).unwrap();
            let zero = ClearPinBlock::format0(&pin, pan).unwrap();
            let three = ClearPinBlock::format3(&pin, pan, &mut source).unwrap();
            assert_eq!(zero.format(), Some(PinBlockFormat::Iso0));
            assert_eq!(three.format(), Some(PinBlockFormat::Iso3));
            assert_eq!(zero.pin(pan).unwrap().expose_secret(), digits);
            assert_eq!(three.pin(pan).unwrap().expose_secret(), digits);
        }
    }

    #[test]
    fn malformed_blocks_say_why_without_values() {
        let pan = "1234567890123456";
        // The PAN field is 0000456789012345; XOR it into each PIN field below.
        let pan_f = pan_field(pan).unwrap();
        let with = |field: [u8; 8]| {
            let mut block = field;
            xor_into(&mut block, &pan_f);
            ClearPinBlock::from_bytes(block)
        };
        let cases = [
            (
                [0x16, 0x12, 0x34, 0x56, 0xFF, 0xFF, 0xFF, 0xFF],
                BlockProblem::Format,
            ),
            (
                [0x03, 0x12, 0x3F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                BlockProblem::PinLength,
            ),
            (
                [0x0D, 0x12, 0x3F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                BlockProblem::PinLength,
            ),
            (
                [0x04, 0x12, 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                BlockProblem::PinDigit,
            ),
            (
                [0x04, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE],
                BlockProblem::Fill,
            ),
            (
                [0x34, 0x12, 0x34, 0xAB, 0xCD, 0xEF, 0xAB, 0xC9],
                BlockProblem::Fill,
            ),
        ];
        for (field, problem) in cases {
            let err = with(field).pin(pan).unwrap_err();
            assert_eq!(err, PinError::Malformed(problem));
            assert!(!err.to_string().contains("1234"));
        }
        assert!(with([0x34, 0x12, 0x34, 0xAB, 0xCD, 0xEF, 0xAB, 0xCD])
            .pin(pan)
            .is_ok());
    }

    #[test]
    fn a_stuck_random_source_is_an_error_not_a_hang() {
        let pin = Pin::new("1234").unwrap();
        let mut stuck = |buf: &mut [u8]| buf.fill(0xFF);
        assert_eq!(
            ClearPinBlock::format3(&pin, "1234567890123456", &mut stuck).unwrap_err(),
            PinError::RandomSource
        );
        struct Broken;
        impl RandomSource for Broken {
            fn fill(&mut self, _: &mut [u8]) -> Result<(), RandomUnavailable> {
                Err(RandomUnavailable)
            }
        }
        assert_eq!(
            ClearPinBlock::format3(&pin, "1234567890123456", &mut Broken).unwrap_err(),
            PinError::RandomSource
        );
    }

    #[test]
    fn fill_digits_reject_the_top_bytes() {
        // 252..=255 would make A to D more likely than E and F; they are skipped, and each
        // byte below 252 maps to A + b % 6, every value from 42 bytes.
        let mut source = |buf: &mut [u8]| {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = [
                    252, 253, 254, 255, 6, 13, 20, 27, 34, 41, 246, 247, 0, 1, 2, 3,
                ]
                .get(i)
                .copied()
                .unwrap_or(255);
            }
        };
        let mut out = [0u8; 10];
        fill_digits(&mut source, &mut out).unwrap();
        assert_eq!(out, [0xA, 0xB, 0xC, 0xD, 0xE, 0xF, 0xA, 0xB, 0xA, 0xB]);
    }

    #[cfg(feature = "rand")]
    #[test]
    fn system_random_fills_format3() {
        let pin = Pin::new("246810").unwrap();
        let block = ClearPinBlock::format3(&pin, "4000001234567899", &mut SystemRandom).unwrap();
        assert_eq!(block.pin("4000001234567899").unwrap(), pin);
    }

    #[test]
    fn nothing_secret_in_debug() {
        let pin = Pin::new("123456").unwrap();
        let clear = ClearPinBlock::format0(&pin, "1234567890123456").unwrap();
        let key = DesKey::from_hex("0123456789ABCDEF").unwrap();
        let encrypted = clear.encrypt(&key);
        assert_eq!(format!("{pin:?}"), "Pin(..)");
        assert_eq!(format!("{clear:?}"), "ClearPinBlock(..)");
        assert_eq!(format!("{encrypted:?}"), "EncryptedPinBlock(..)");
        assert_eq!(
            EncryptedPinBlock::from_slice(&[0; 7]).unwrap_err(),
            PinError::BlockLength { found: 7 }
        );
    }
}
