//! Card-terminal cryptography for ISO 8583: MACs, PIN blocks, working keys and check values.
//!
//! `iso8583-crypto` computes what a POS terminal and its acquirer host exchange to protect a
//! message: the MAC in field 64 or 128, the encrypted PIN block in field 52 and the working
//! keys that a sign-on response delivers under the terminal master key (UnionPay field 62).
//! It follows DESIGN §4: ANSI X9.19, ANSI X9.9 and the UnionPay "ECB" MAC over the exact wire
//! bytes of a message, ISO 9564-1 PIN block formats 0 and 3, single, double and triple
//! length DES keys, and 3- or 4-byte key check values.
//!
//! # Main types
//! - [`DesKey`]: an 8, 16 or 24-byte DES key. Wiped on drop; `Debug` shows its length and
//!   check value ([`CheckValue`]), never its bytes. Encrypts and decrypts keys under a master
//!   key ([`DesKey::encrypt_under`], [`DesKey::decrypt_under`]).
//! - [`MacAlgorithm`] (`x919`, `x99`, `cup-ecb`) and [`Mac`], a profile's MAC setting with its
//!   [`KeyUse`]: [`Mac::compute`] gives the 8 bytes that go into the MAC field,
//!   [`Mac::verify`] compares in constant time, and [`Mac::compute_message`] /
//!   [`Mac::verify_message`] take an [`iso8583_codec::Message`] directly.
//! - [`Pin`], [`ClearPinBlock`] and [`EncryptedPinBlock`]: ISO 9564-1 formats 0 and 3, with
//!   format 3's fill from a [`RandomSource`].
//! - [`WorkingKeys`] and [`Field62Layout`]: UnionPay field 62 in its `001`, `003` and `004`
//!   layouts, read by the terminal and written by the host.
//! - [`KeyError`], [`MacError`] and [`PinError`]: typed errors that never carry a key, a PIN,
//!   a PIN block or a PAN.
//!
//! # What it does not do
//! No I/O and no key storage: keys come in as bytes and leave as [`DesKey`] values that the
//! caller keeps. No HSM interface, no DUKPT, no AES, no PIN block formats other than 0 and 3,
//! no PIN verification (PVV, IBM 3624 offsets). It does not decide which fields a MAC covers:
//! the caller (or [`iso8583_codec::Message::bytes_before`]) gives the bytes. DES and triple
//! DES come from the RustCrypto `des` crate, which is not hardened against side channels
//! beyond what its authors state; the comparisons made here (MACs, check values, keys) run
//! in constant time.
//!
//! Nothing in this crate panics on any input, and no function logs.
//!
//! # Example
//! ```
//! use iso8583_crypto::{
//!     ClearPinBlock, DesKey, Field62Layout, Mac, MacAlgorithm, Pin, WorkingKeys,
//! };
//!
//! // The host issues working keys under the terminal master key…
//! let tmk = DesKey::from_hex("0123456789ABCDEFFEDCBA9876543210")?;
//! let issued = WorkingKeys {
//!     pin: DesKey::from_hex("1C1C1C1C1C1C1C1C2A2A2A2A2A2A2A2A")?,
//!     mac: DesKey::from_hex("3D3D3D3D3D3D3D3D4C4C4C4C4C4C4C4C")?,
//!     track: None,
//! };
//! let field62 = issued.to_field62(&tmk, Field62Layout::Double)?;
//!
//! // …the terminal unwraps them, checking each check value.
//! let keys = WorkingKeys::from_field62(&tmk, &field62, Field62Layout::Double)?;
//! println!("MAC key {:?}", keys.mac); // DesKey { len: 16, kcv: CheckValue(…) }
//!
//! // Field 52: PIN 123456 for PAN 1234567890123456 (DESIGN §9), encrypted under the PIN key.
//! let clear = ClearPinBlock::format0(&Pin::new("123456")?, "1234567890123456")?;
//! let field52 = clear.encrypt(&keys.pin);
//! assert_eq!(field52.pin(&keys.pin, "1234567890123456")?.expose_secret(), "123456");
//!
//! // Field 64: the MAC over the bytes before it.
//! let mac = Mac::new("x919".parse::<MacAlgorithm>()?);
//! let wire = b"0200 ... every byte up to field 64";
//! let field64 = mac.compute(&keys.mac, wire)?;
//! mac.verify(&keys.mac, wire, &field64)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features and MSRV
//! - `rand` (default): [`SystemRandom`], format 3 fill digits from the operating system's
//!   generator. Without it, pass any `FnMut(&mut [u8])` as the [`RandomSource`].
//!
//! The minimum supported Rust version is 1.85.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod error;
mod key;
mod mac;
mod pin;
mod working;

pub use error::{BlockProblem, KeyError, KeyRole, MacError, PinError};
pub use key::{CheckValue, DesKey, KeyLength};
pub use mac::{KeyUse, Mac, MacAlgorithm};
#[cfg(feature = "rand")]
pub use pin::SystemRandom;
pub use pin::{
    ClearPinBlock, EncryptedPinBlock, Pin, PinBlockFormat, RandomSource, RandomUnavailable,
};
pub use working::{Field62Layout, WorkingKeys};
