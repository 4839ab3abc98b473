//! The MACs that `benches/crypto.rs` computes over message (b), each with the value it must
//! give, and [`verify_macs`], the check made before anything is timed.
//!
//! The MAC input is message (b) from its MTI to the start of field 64 (153 of its 161 bytes;
//! field 64 holds the placeholder `A1B2C3D4E5F60718`). The expected values are those of
//! `crates/crypto/tests/message.rs`, computed independently with pycryptodome by
//! `crates/crypto/tests/data/crosscheck.py`.

use iso8583_codec::{Message, Spec};
use iso8583_crypto::{DesKey, KeyUse, Mac, MacAlgorithm};

use crate::BenchMessage;

/// The double-length key of the MAC benchmarks.
pub const DOUBLE_KEY: &str = "0123456789ABCDEFFEDCBA9876543210";
/// The single-length key of the X9.9 benchmark.
pub const SINGLE_KEY: &str = "0123456789ABCDEF";

/// How a MAC benchmark calls the crypto crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// `Mac::compute_message(&key, &message, 64)` on the decoded message.
    Message,
    /// `Mac::compute(&key, bytes)` on `message.bytes_before(64)`, taken once beforehand.
    BytesBefore64,
}

/// One MAC benchmark.
#[derive(Debug, Clone, Copy)]
pub struct MacCase {
    /// Benchmark id (`mac_x919_b`, ...).
    pub id: &'static str,
    /// Algorithm and key use.
    pub mac: Mac,
    /// The key, as hex.
    pub key: &'static str,
    /// How the MAC is computed.
    pub input: Input,
    /// The 8 bytes that go into field 64.
    pub expected: [u8; 8],
}

/// The MAC benchmarks, in the order they run.
pub const CASES: [MacCase; 5] = [
    MacCase {
        id: "mac_x919_b",
        mac: Mac::new(MacAlgorithm::X919),
        key: DOUBLE_KEY,
        input: Input::Message,
        expected: [0x26, 0x7D, 0x6C, 0xD9, 0x31, 0xA7, 0x34, 0xCA],
    },
    MacCase {
        id: "mac_x99_b",
        mac: Mac::new(MacAlgorithm::X99),
        key: SINGLE_KEY,
        input: Input::Message,
        expected: [0xBD, 0x76, 0xA3, 0x10, 0x55, 0x19, 0x1B, 0xC4],
    },
    MacCase {
        id: "mac_cup_ecb_double_b",
        mac: Mac::new(MacAlgorithm::CupEcb),
        key: DOUBLE_KEY,
        input: Input::Message,
        expected: *b"F6BF3ADD",
    },
    MacCase {
        id: "mac_cup_ecb_single_b",
        mac: Mac::new(MacAlgorithm::CupEcb).with_key_use(KeyUse::FirstHalf),
        key: DOUBLE_KEY,
        input: Input::Message,
        expected: *b"182A3F31",
    },
    MacCase {
        id: "mac_x919_raw_b",
        mac: Mac::new(MacAlgorithm::X919),
        key: DOUBLE_KEY,
        input: Input::BytesBefore64,
        expected: [0x26, 0x7D, 0x6C, 0xD9, 0x31, 0xA7, 0x34, 0xCA],
    },
];

impl MacCase {
    /// The key.
    ///
    /// # Panics
    /// If the hex above is not a DES key (it is).
    pub fn des_key(&self) -> DesKey {
        DesKey::from_hex(self.key).expect("a DES key")
    }

    /// The MAC of `message`, computed the way this benchmark times it.
    ///
    /// # Panics
    /// If the crypto crate refuses the key or the field (it does not for these cases).
    pub fn compute(&self, key: &DesKey, message: &Message<'_>) -> [u8; 8] {
        match self.input {
            Input::Message => self.mac.compute_message(key, message, 64),
            Input::BytesBefore64 => self.mac.compute(key, message.bytes_before(64)),
        }
        .unwrap_or_else(|e| panic!("{}: {e}", self.id))
    }
}

/// Message `m` decoded with its spec, as the MAC benchmarks use it.
///
/// # Panics
/// If it does not decode (see [`crate::verify_ours`]).
pub fn decoded(m: &BenchMessage) -> Message<'_> {
    Spec::builtin(m.spec_name)
        .expect("built-in spec")
        .decode_complete(&m.wire)
        .unwrap_or_else(|e| panic!("message ({}) does not decode: {e}", m.name))
}

/// Checks that the MAC input is the message up to field 64 and that every case gives its
/// expected value.
///
/// # Panics
/// When either does not hold: what the benchmarks time would not be the work they name.
pub fn verify_macs(m: &BenchMessage) {
    let message = decoded(m);
    let before = message.bytes_before(64);
    assert_eq!(
        before.len(),
        m.wire.len() - 8,
        "field 64 is the last 8 bytes"
    );
    assert_eq!(before, &m.wire[..before.len()], "MAC input is a prefix");
    for case in &CASES {
        let mac = case.compute(&case.des_key(), &message);
        assert_eq!(mac, case.expected, "{} over message ({})", case.id, m.name);
    }
}
