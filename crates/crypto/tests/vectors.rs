//! Known-answer tests, each citing where its expected value comes from.
//!
//! Published vectors are quoted from their standard. Vectors built here (the UnionPay ECB MAC,
//! encrypted PIN blocks, MACs of the benchmark message) were computed with an independent
//! implementation, pycryptodome, by `tests/data/crosscheck.py`; the tests need no Python.
//!
//! DES itself is reached through the public API: [`DesKey::encrypt_under`] is ECB encryption
//! of a key's bytes, so encrypting the "key" `Now is the time for all ` is FIPS 81's ECB
//! example, and the X9.9 CBC-MAC's last block is the last block of FIPS 81's CBC example.

use iso8583_crypto::{
    BlockProblem, ClearPinBlock, DesKey, EncryptedPinBlock, KeyUse, Mac, MacAlgorithm, MacError,
    Pin, PinError,
};

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "even hex");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn key(text: &str) -> DesKey {
    DesKey::from_hex(text).expect("key")
}

/// The single key of the classic DES examples (FIPS 81, FIPS 113, ISO/IEC 9797-1 Annex B).
const K: &str = "0123456789ABCDEF";
/// The double-length key of ISO/IEC 9797-1 Annex B (K, K') and of many KCV examples.
const KK: &str = "0123456789ABCDEFFEDCBA9876543210";
/// FIPS 81 Appendix B's plaintext, 24 bytes (three blocks).
const NOW: &[u8] = b"Now is the time for all ";

// ---- DES and triple DES -----------------------------------------------------------------

#[test]
fn des_ecb_fips81_appendix_b_table_b1() {
    // FIPS PUB 81 (DES modes of operation), Appendix B, Table B1: ECB, key 0123456789ABCDEF.
    let plain = DesKey::from_slice(NOW).expect("24 bytes");
    assert_eq!(
        plain.encrypt_under(&key(K)),
        hex("3FA40E8A984D48156A271787AB8883F9893D51EC4B563B53")
    );
    let back = DesKey::decrypt_under(&key(K), &plain.encrypt_under(&key(K))).expect("24 bytes");
    assert_eq!(back.expose_secret(), NOW);
}

#[test]
fn des_variable_plaintext_sp800_17() {
    // NIST SP 800-17, Table 1 (variable plaintext known answer test), round 1: key
    // 0101010101010101, plaintext 8000000000000000.
    let plain = key("8000000000000000");
    assert_eq!(
        plain.encrypt_under(&key("0101010101010101")),
        hex("95F8A5E5DD31D900")
    );
}

#[test]
fn tdes_three_key_sp800_67_example() {
    // NIST SP 800-67 Rev. 1, Appendix B (TDEA example): keys 0123456789ABCDEF,
    // 23456789ABCDEF01, 456789ABCDEF0123; plaintext "The qufck brown fox jump" (the typo is
    // the standard's).
    let kek = key("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123");
    let plain = DesKey::from_slice(b"The qufck brown fox jump").expect("24 bytes");
    assert_eq!(
        plain.encrypt_under(&kek),
        hex("A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900")
    );
}

// ---- Key check values --------------------------------------------------------------------

#[test]
fn check_values_of_the_classic_keys() {
    // E(0123456789ABCDEF, 0^64) = D5D44FF720683D0D, the KCV D5D44F quoted in key-management
    // tool documentation; also FIPS 81's key on a zero block (crosscheck.py).
    let single = key(K).check_value();
    assert_eq!(single.to_bytes().to_vec(), hex("D5D44FF720683D0D"));
    assert_eq!(single.kcv3().to_vec(), hex("D5D44F"));
    assert_eq!(single.to_string(), "D5D44F");

    // Two-key TDES 0123456789ABCDEF FEDCBA9876543210: KCV 08D7B4, widely quoted; full block
    // from crosscheck.py.
    let double = key(KK).check_value();
    assert_eq!(double.to_bytes().to_vec(), hex("08D7B4FB629D0885"));
    assert_eq!(double.kcv4().to_vec(), hex("08D7B4FB"));

    // Three-key TDES with SP 800-67's keys: crosscheck.py.
    let triple = key("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123").check_value();
    assert_eq!(triple.to_bytes().to_vec(), hex("4EBA739C998BCB60"));
}

// ---- X9.9 (ISO/IEC 9797-1 MAC algorithm 1) ------------------------------------------------

#[test]
fn x99_fips113_example() {
    // FIPS PUB 113 (Computer Data Authentication) / ANSI X9.9 example: key 0123456789ABCDEF,
    // text "7654321 Now is the time for " (28 bytes, zero-padded to 32): MAC F1D30F68, the
    // left 32 bits of the last block F1D30F6849312CA4.
    let mac = MacAlgorithm::X99
        .compute(&key(K), b"7654321 Now is the time for ")
        .expect("mac");
    assert_eq!(mac.to_vec(), hex("F1D30F6849312CA4"));
}

#[test]
fn x99_is_the_last_block_of_fips81_cbc() {
    // FIPS PUB 81, Appendix C, Table C1: CBC, key 0123456789ABCDEF, IV 1234567890ABCDEF, the
    // last ciphertext block is 683788499A7C05F6. CBC from IV v equals CBC from a zero IV over
    // data whose first block is XORed with v, so that is the X9.9 MAC of that data.
    let iv = hex("1234567890ABCDEF");
    let mut data = NOW.to_vec();
    data.iter_mut().zip(&iv).for_each(|(d, v)| *d ^= v);
    let mac = MacAlgorithm::X99.compute(&key(K), &data).expect("mac");
    assert_eq!(mac.to_vec(), hex("683788499A7C05F6"));
}

#[test]
fn x99_iso9797_annex_b_algorithm_1() {
    // ISO/IEC 9797-1:1999 Annex B, MAC algorithm 1, padding method 1, key 0123456789ABCDEF,
    // data "Now is the time for all ": 70A30640CC76DD8B (crosscheck.py agrees).
    let mac = MacAlgorithm::X99.compute(&key(K), NOW).expect("mac");
    assert_eq!(mac.to_vec(), hex("70A30640CC76DD8B"));

    // The same CBC-MAC with two-key triple DES, for a double-length key used whole.
    let mac = MacAlgorithm::X99.compute(&key(KK), NOW).expect("mac");
    assert_eq!(mac.to_vec(), hex("93462A6DB9B4A4D1"));
}

// ---- X9.19 (ISO/IEC 9797-1 MAC algorithm 3) -----------------------------------------------

#[test]
fn x919_iso9797_annex_b_algorithm_3() {
    // ISO/IEC 9797-1:1999 Annex B, MAC algorithm 3, padding method 1, K = 0123456789ABCDEF,
    // K' = FEDCBA9876543210, data "Now is the time for all ": A1C72E74EA3FA9B6
    // (crosscheck.py agrees).
    let mac = MacAlgorithm::X919.compute(&key(KK), NOW).expect("mac");
    assert_eq!(mac.to_vec(), hex("A1C72E74EA3FA9B6"));
}

#[test]
fn x919_fips113_text_and_empty_data() {
    // crosscheck.py: FIPS 113's text under the Annex B double key.
    let mac = MacAlgorithm::X919
        .compute(&key(KK), b"7654321 Now is the time for ")
        .expect("mac");
    assert_eq!(mac.to_vec(), hex("AE4B45B1B527642F"));

    // Empty data pads to one zero block, so its X9.19 MAC is the key's check value block.
    let mac = MacAlgorithm::X919.compute(&key(KK), b"").expect("mac");
    assert_eq!(mac.to_vec(), hex("08D7B4FB629D0885"));
}

// ---- UnionPay ECB MAC ---------------------------------------------------------------------

/// 27 bytes: an MTI in ASCII and 23 bytes 00..16, so the XOR block has letters in its hex.
fn cup_data() -> Vec<u8> {
    let mut data = b"0200".to_vec();
    data.extend(0u8..23);
    data
}

/// One ECB encryption of a block, through the public API.
fn ecb(k: &DesKey, block: &[u8]) -> Vec<u8> {
    DesKey::from_slice(block).expect("8 bytes").encrypt_under(k)
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// Step 1: the XOR of all 8-byte blocks, the last one zero-padded.
fn fold(data: &[u8]) -> Vec<u8> {
    data.chunks(8).fold(vec![0u8; 8], |acc, chunk| {
        let mut block = chunk.to_vec();
        block.resize(8, 0);
        xor(&acc, &block)
    })
}

/// The UnionPay steps spelled out (DESIGN §4), with the hex case of step 2 as a parameter.
fn cup_by_hand(k: &DesKey, data: &[u8], upper: bool) -> Vec<u8> {
    let folded = fold(data);
    let mut text: String = folded.iter().map(|b| format!("{b:02X}")).collect();
    if !upper {
        text = text.to_lowercase();
    }
    let first = ecb(k, &text.as_bytes()[..8]);
    let second = ecb(k, &xor(&first, &text.as_bytes()[8..]));
    second
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<String>()
        .as_bytes()[..8]
        .to_vec()
}

#[test]
fn cup_ecb_step_by_step_single_des() {
    // Built here and checked against crosscheck.py. Key 0123456789ABCDEF, data cup_data().
    let k = key(K);
    let data = cup_data();

    // 1. XOR of the blocks 30323030 00010203 | 04..0B | 0C..13 | 14 15 16 00 00 00 00 00.
    let folded = fold(&data);
    assert_eq!(folded, hex("2C2F2E3818191A1B"));
    // 2. Upper-case hex: "2C2F2E3818191A1B"; 3. encrypt "2C2F2E38".
    let first = ecb(&k, b"2C2F2E38");
    assert_eq!(first, hex("B445B3033FE1BEA9"));
    // 4. XOR with "18191A1B".
    let mixed = xor(&first, b"18191A1B");
    assert_eq!(mixed, hex("857D823A0EA08FEB"));
    // 5. Encrypt again.
    let second = ecb(&k, &mixed);
    assert_eq!(second, hex("71FA5BEDBDB4C63A"));
    // 6. Field 64 is the first 8 upper-case hex characters, as ASCII.
    let mac = MacAlgorithm::CupEcb.compute(&k, &data).expect("mac");
    assert_eq!(&mac, b"71FA5BED");
    assert_eq!(cup_by_hand(&k, &data, true), b"71FA5BED");
}

#[test]
fn cup_ecb_double_key_whole_and_first_half() {
    // crosscheck.py: with the whole double key, steps 3 and 5 are two-key triple DES
    // (E1D939E265D8E8CF, then BEA55A18D61BE884).
    let data = cup_data();
    let whole = MacAlgorithm::CupEcb.compute(&key(KK), &data).expect("mac");
    assert_eq!(&whole, b"BEA55A18");
    assert_eq!(cup_by_hand(&key(KK), &data, true), b"BEA55A18");

    // With "single-DES MAC" only the first 8 bytes are used: the single-key MAC above.
    let half = Mac::new(MacAlgorithm::CupEcb).with_key_use(KeyUse::FirstHalf);
    assert_eq!(&half.compute(&key(KK), &data).expect("mac"), b"71FA5BED");
}

#[test]
fn cup_ecb_lower_case_hex_gives_another_mac() {
    // DESIGN §4's pitfall: lower-case hex in step 2 ("2c2f2e3818191a1b") changes both
    // encryptions (8F911977C54382DC, C18AF5125D120BA9; crosscheck.py) and the MAC.
    let k = key(K);
    let wrong = cup_by_hand(&k, &cup_data(), false);
    assert_eq!(wrong, b"C18AF512");
    let right = MacAlgorithm::CupEcb.compute(&k, &cup_data()).expect("mac");
    assert_ne!(right.to_vec(), wrong);
    assert_eq!(
        MacAlgorithm::CupEcb.verify(&k, &cup_data(), &wrong),
        Err(MacError::Mismatch)
    );
}

#[test]
fn cup_ecb_fips81_text() {
    // "Now is the time for all " folds to 4065257461722974, whose hex has no letters, so
    // here the case of step 2 cannot matter (crosscheck.py: 1E7AAB78 either way).
    let k = key(K);
    assert_eq!(
        &MacAlgorithm::CupEcb.compute(&k, NOW).expect("mac"),
        b"1E7AAB78"
    );
    assert_eq!(cup_by_hand(&k, NOW, false), b"1E7AAB78");
}

// ---- PIN blocks ---------------------------------------------------------------------------

const PAN: &str = "1234567890123456";

#[test]
fn format0_design_reference_block() {
    // DESIGN §9: PIN 123456, PAN 1234567890123456 → 0612713176FEDCBA. By hand: PIN field
    // 06123456FFFFFFFF XOR PAN field 0000456789012345 (the 12 digits left of the check digit).
    let block = ClearPinBlock::format0(&Pin::new("123456").expect("pin"), PAN).expect("block");
    assert_eq!(block.expose_secret().to_vec(), hex("0612713176FEDCBA"));
    assert_eq!(block.pin(PAN).expect("pin").expose_secret(), "123456");
}

#[test]
fn format0_encrypted_under_known_keys() {
    // crosscheck.py: 0612713176FEDCBA under 0123456789ABCDEF (DES) and under
    // 0123456789ABCDEFFEDCBA9876543210 (two-key TDES).
    let pin = Pin::new("123456").expect("pin");
    let clear = ClearPinBlock::format0(&pin, PAN).expect("block");
    for (k, expected) in [(K, "686790AC2D5B2FFD"), (KK, "793AE1FCD3064968")] {
        let encrypted = clear.encrypt(&key(k));
        assert_eq!(encrypted.to_bytes().to_vec(), hex(expected));
        let field52 = EncryptedPinBlock::from_slice(&hex(expected)).expect("8 bytes");
        assert_eq!(field52.pin(&key(k), PAN).expect("pin"), pin);
    }
}

#[test]
fn format3_with_a_counting_source() {
    // Fill bytes 00, 01, … map to A + b % 6: ABCDEFABCD. PIN field 341234ABCDEFABCD XOR PAN
    // field 0000000123456789 (PAN 4000001234567899) = 341234AAEEAACC44; crosscheck.py gives
    // the same and 0B4A6B0AAB42F69A under the double key.
    let pan = "4000001234567899";
    let mut next = 0u8;
    let mut counting = |buf: &mut [u8]| {
        for b in buf {
            *b = next;
            next = next.wrapping_add(1);
        }
    };
    let pin = Pin::new("1234").expect("pin");
    let block = ClearPinBlock::format3(&pin, pan, &mut counting).expect("block");
    assert_eq!(block.expose_secret().to_vec(), hex("341234AAEEAACC44"));
    assert_eq!(
        block.encrypt(&key(KK)).to_bytes().to_vec(),
        hex("0B4A6B0AAB42F69A")
    );
    assert_eq!(block.pin(pan).expect("pin"), pin);
}

#[test]
fn a_wrong_pan_or_key_is_usually_caught() {
    let pin = Pin::new("123456").expect("pin");
    let encrypted = ClearPinBlock::format0(&pin, PAN)
        .expect("block")
        .encrypt(&key(KK));
    assert!(matches!(
        encrypted.pin(&key(KK), "1234567890123464"),
        Err(PinError::Malformed(
            BlockProblem::Fill | BlockProblem::PinDigit
        ))
    ));
    assert!(matches!(
        encrypted.pin(&key(K), PAN),
        Err(PinError::Malformed(_))
    ));
}
