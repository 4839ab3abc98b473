//! The checks `benches/wire.rs` and `benches/crypto.rs` make before timing, run with the tests
//! so that drift in the wire or crypto crates fails CI instead of skewing figures.

use pos8583_benches::{frame, mac, message};

#[test]
fn message_b_framed_for_unionpay_round_trips_to_the_same_bytes() {
    let b = message("b");
    let wire = frame::verify_frame(&b);
    // 2-byte length 0x00AC = 172: TPDU (5) + application header (6) + message (161).
    assert_eq!(wire.len(), 174);
    assert_eq!(wire[..2], [0x00, 0xAC]);
}

#[test]
fn every_mac_over_message_b_is_the_expected_value() {
    mac::verify_macs(&message("b"));
}

#[test]
fn mac_expectations_are_the_published_values() {
    // As crates/crypto/tests/message.rs and crates/cli/tests/crypto.rs give them: X9.19 and
    // X9.9 as 8 bytes in hex, cup-ecb as the 8 ASCII hex characters it puts in field 64.
    let binary = |hex: &str| pos8583_benches::unhex(hex).expect("hex");
    let expected: [(&str, Vec<u8>); 5] = [
        ("mac_x919_b", binary("267D6CD931A734CA")),
        ("mac_x99_b", binary("BD76A31055191BC4")),
        ("mac_cup_ecb_double_b", b"F6BF3ADD".to_vec()),
        ("mac_cup_ecb_single_b", b"182A3F31".to_vec()),
        ("mac_x919_raw_b", binary("267D6CD931A734CA")),
    ];
    let cases: Vec<(&str, Vec<u8>)> = mac::CASES
        .iter()
        .map(|c| (c.id, c.expected.to_vec()))
        .collect();
    assert_eq!(cases, expected);
}
