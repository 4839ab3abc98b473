//! MACs of a decoded message: the benchmark message (b) of `crates/codec/tests/data`, copied
//! to `tests/data/b.hex` (a `cup-pos` 0200 whose field 64 holds the placeholder
//! A1B2C3D4E5F60718). Expected MACs come from `tests/data/crosscheck.py` over the message's
//! first 153 bytes, MTI to the end of field 60.

use iso8583_codec::Spec;
use iso8583_crypto::{DesKey, KeyUse, Mac, MacAlgorithm, MacError};

const B_HEX: &str = include_str!("data/b.hex");

fn b_bytes() -> Vec<u8> {
    let text = B_HEX.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn key(text: &str) -> DesKey {
    DesKey::from_hex(text).expect("key")
}

const K: &str = "0123456789ABCDEF";
const KK: &str = "0123456789ABCDEFFEDCBA9876543210";

#[test]
fn the_mac_input_stops_where_field_64_starts() {
    let spec = Spec::builtin("cup-pos").expect("built in");
    let wire = b_bytes();
    let message = spec
        .decode(&wire)
        .expect("decode")
        .complete()
        .expect("complete");
    assert_eq!(wire.len(), 161);
    assert_eq!(message.bytes_before(64), &wire[..153]);
}

#[test]
fn every_algorithm_over_message_b() {
    let spec = Spec::builtin("cup-pos").expect("built in");
    let wire = b_bytes();
    let message = spec
        .decode(&wire)
        .expect("decode")
        .complete()
        .expect("complete");
    let cases: [(Mac, &str, &[u8]); 5] = [
        (
            Mac::new(MacAlgorithm::X919),
            KK,
            &[0x26, 0x7D, 0x6C, 0xD9, 0x31, 0xA7, 0x34, 0xCA],
        ),
        (
            Mac::new(MacAlgorithm::X99),
            K,
            &[0xBD, 0x76, 0xA3, 0x10, 0x55, 0x19, 0x1B, 0xC4],
        ),
        (Mac::new(MacAlgorithm::CupEcb), KK, b"F6BF3ADD"),
        (Mac::new(MacAlgorithm::CupEcb), K, b"182A3F31"),
        (
            Mac::new(MacAlgorithm::CupEcb).with_key_use(KeyUse::FirstHalf),
            KK,
            b"182A3F31",
        ),
    ];
    for (mac, k, expected) in cases {
        let computed = mac.compute_message(&key(k), &message, 64).expect("mac");
        assert_eq!(&computed[..], expected, "{mac:?}");

        // The placeholder in field 64 does not verify; the computed MAC does once written in.
        assert_eq!(
            mac.verify_message(&key(k), &message, 64),
            Err(MacError::Mismatch)
        );
        let mut signed = wire.clone();
        signed[153..].copy_from_slice(&computed);
        let signed = spec
            .decode(&signed)
            .expect("decode")
            .complete()
            .expect("complete");
        assert_eq!(mac.verify_message(&key(k), &signed, 64), Ok(()));
    }
}

#[test]
fn mac_fields_are_checked() {
    let spec = Spec::builtin("cup-pos").expect("built in");
    let wire = b_bytes();
    let message = spec
        .decode(&wire)
        .expect("decode")
        .complete()
        .expect("complete");
    let mac = Mac::new(MacAlgorithm::X99);
    assert_eq!(
        mac.compute_message(&key(K), &message, 63),
        Err(MacError::MacField { found: 63 })
    );
    assert_eq!(
        mac.verify_message(&key(K), &message, 128),
        Err(MacError::MissingMacField { field: 128 })
    );
}
