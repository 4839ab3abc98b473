//! `iso8583 mac`, `pin-block` and `kcv`.
//!
//! Every expected value is checked twice: against the crypto crate's own functions, called here,
//! and against the known-answer vectors of `crates/crypto/tests` (published vectors, or values
//! that `crates/crypto/tests/data/crosscheck.py` computed with pycryptodome), quoted below with
//! where they come from.

mod support;

use iso8583_codec::{Builder, Mti, Spec};
use iso8583_crypto::{ClearPinBlock, DesKey, EncryptedPinBlock, KeyUse, Mac, MacAlgorithm, Pin};
use support::{b_hex, framed, hex, run, unhex, Run, CUP_HEADER_HEX, TPDU_HEX};

/// The single key of FIPS 81 and ISO/IEC 9797-1 Annex B.
const K: &str = "0123456789ABCDEF";
/// The double-length key of ISO/IEC 9797-1 Annex B.
const KK: &str = "0123456789ABCDEFFEDCBA9876543210";

fn key(text: &str) -> DesKey {
    DesKey::from_hex(text).expect("key")
}

fn spec() -> &'static Spec {
    Spec::builtin("cup-pos").expect("built in")
}

/// The MAC the crypto crate computes for message `wire` of `spec`, over the bytes before
/// field `field`, as the field would hold it.
fn library_mac(spec: &Spec, wire: &[u8], mac: Mac, k: &str, field: u16) -> [u8; 8] {
    let message = spec
        .decode(wire)
        .expect("decode")
        .complete()
        .expect("whole");
    mac.compute_message(&key(k), &message, field).expect("mac")
}

/// How the CLI prints a MAC: 16 hex digits, or the 8 characters of the UnionPay ECB MAC.
fn printed(mac: Mac, value: &[u8; 8]) -> String {
    match mac.algorithm() {
        MacAlgorithm::CupEcb => String::from_utf8(value.to_vec()).expect("ascii"),
        _ => hex(value),
    }
}

/// Runs `iso8583 mac` with the algorithm and key, more options and the message hex.
fn mac_cli(algorithm: &str, k: &str, options: &[&str], input: &str) -> Run {
    let mut args = vec!["mac", "--algorithm", algorithm, "--key", k];
    args.extend_from_slice(options);
    args.push(input);
    let r = run(&args, b"");
    assert!(
        !r.stdout.contains(k) && !r.stderr.contains(k),
        "the key was printed: {r:?}"
    );
    r
}

/// (algorithm, key, extra options, library setting, MAC of message (b) from
/// `crates/crypto/tests/message.rs`, which has them from crosscheck.py.)
fn cases() -> Vec<(
    &'static str,
    &'static str,
    Vec<&'static str>,
    Mac,
    &'static str,
)> {
    let half = Mac::new(MacAlgorithm::CupEcb).with_key_use(KeyUse::FirstHalf);
    vec![
        (
            "x919",
            KK,
            vec![],
            Mac::new(MacAlgorithm::X919),
            "267D6CD931A734CA",
        ),
        (
            "x99",
            K,
            vec![],
            Mac::new(MacAlgorithm::X99),
            "BD76A31055191BC4",
        ),
        (
            "cup-ecb",
            KK,
            vec![],
            Mac::new(MacAlgorithm::CupEcb),
            "F6BF3ADD",
        ),
        (
            "cup-ecb",
            K,
            vec![],
            Mac::new(MacAlgorithm::CupEcb),
            "182A3F31",
        ),
        ("cup-ecb", KK, vec!["--single"], half, "182A3F31"),
        // X9.9 with the first half of KK is X9.9 with K.
        (
            "x99",
            KK,
            vec!["--single"],
            Mac::new(MacAlgorithm::X99).with_key_use(KeyUse::FirstHalf),
            "BD76A31055191BC4",
        ),
        (
            "cup-ecb",
            KK,
            vec!["--key-use", "first-half"],
            half,
            "182A3F31",
        ),
    ]
}

#[test]
fn mac_of_message_b_for_each_algorithm() {
    let wire = unhex(&b_hex());
    for (algorithm, k, extra, mac, vector) in cases() {
        let expected = printed(mac, &library_mac(spec(), &wire, mac, k, 64));
        assert_eq!(expected, vector, "{algorithm} {extra:?}");

        // Field 64 of (b) holds the placeholder A1B2C3D4E5F60718: a mismatch, exit 3.
        let options = [&["--spec", "cup-pos"][..], &extra].concat();
        let r = mac_cli(algorithm, k, &options, &b_hex());
        assert_eq!(
            r.stdout,
            format!("{expected}\nmismatch\n"),
            "{algorithm}: {r:?}"
        );
        assert_eq!(r.code, 3, "{algorithm}: {r:?}");
        assert!(r.stderr.is_empty(), "{algorithm}: {r:?}");
    }
}

#[test]
fn mac_matches_once_field_64_holds_it() {
    let wire = unhex(&b_hex());
    let message = spec()
        .decode(&wire)
        .expect("decode")
        .complete()
        .expect("whole");
    for (algorithm, k, extra, mac, vector) in cases() {
        let mut signed = Builder::from_message(&message).expect("builder");
        let value = library_mac(spec(), &wire, mac, k, 64);
        signed.set(64, value.to_vec()).expect("field 64");
        let signed = hex(&signed.to_bytes());

        let options = [&["--spec", "cup-pos"][..], &extra].concat();
        let r = mac_cli(algorithm, k, &options, &signed);
        assert_eq!(r.stdout, format!("{vector}\nmatch\n"), "{algorithm}: {r:?}");
        assert_eq!(r.code, 0, "{algorithm}: {r:?}");

        // The same message as a UnionPay frame: the parts before the MTI are not MACed.
        let body = unhex(&format!("{TPDU_HEX}{CUP_HEADER_HEX}{signed}"));
        let frame = hex(&framed("len2", &body));
        let options = [
            &[
                "--spec",
                "cup-pos",
                "--frame",
                "len2",
                "--tpdu",
                "--cup-header",
            ][..],
            &extra,
        ]
        .concat();
        let r = mac_cli(algorithm, k, &options, &frame);
        assert_eq!(r.stdout, format!("{vector}\nmatch\n"), "{algorithm}: {r:?}");
        assert_eq!(r.code, 0, "{algorithm}: {r:?}");
    }
}

#[test]
fn mac_of_a_message_without_its_mac_field_covers_it_all() {
    let wire = unhex(&b_hex());
    let message = spec()
        .decode(&wire)
        .expect("decode")
        .complete()
        .expect("whole");
    let mut unsigned = Builder::from_message(&message).expect("builder");
    unsigned.remove(64);
    let unsigned = unsigned.to_bytes();
    assert_eq!(
        unsigned.len(),
        wire.len() - 8,
        "(b) ends with its 8-byte field 64"
    );
    // With no field 64 the MAC input is the whole message.
    let mac = Mac::new(MacAlgorithm::X99);
    let expected = mac.compute(&key(K), &unsigned).expect("mac");
    assert_eq!(library_mac(spec(), &unsigned, mac, K, 64), expected);

    let r = mac_cli("x99", K, &["--spec", "cup-pos"], &hex(&unsigned));
    assert_eq!(r.stdout, format!("{}\nabsent\n", hex(&expected)), "{r:?}");
    assert_eq!(r.code, 0, "{r:?}");
}

/// An iso87-ascii 0800 with a secondary bitmap (field 70), and `extra` fields.
fn network_message<'v>(spec: &'static Spec, extra: &[(u16, &'v [u8])]) -> Builder<'static, 'v> {
    let mut builder = Builder::new(spec, Mti::new("0800").expect("mti"));
    builder
        .set_str(11, "000123")
        .and_then(|b| b.set_str(70, "301"))
        .expect("fields");
    for (n, value) in extra {
        builder.set(*n, *value).expect("field");
    }
    builder
}

#[test]
fn a_secondary_bitmap_puts_the_mac_in_field_128() {
    // iso87-ascii writes class b fields as hex text; the MAC compared is the logical value.
    let spec = Spec::builtin("iso87-ascii").expect("built in");
    let mac = Mac::new(MacAlgorithm::X919);

    // No field 128 yet: the MAC covers the whole message, and is absent.
    let unsigned = network_message(spec, &[]).to_bytes();
    let whole = mac.compute(&key(KK), &unsigned).expect("mac");
    assert_eq!(library_mac(spec, &unsigned, mac, KK, 128), whole);
    let r = mac_cli("x919", KK, &["--spec", "iso87-ascii"], &hex(&unsigned));
    assert_eq!(r.stdout, format!("{}\nabsent\n", hex(&whole)), "{r:?}");
    assert_eq!(r.code, 0, "{r:?}");

    // With bit 128 set (the bitmap is part of the MAC input), the MAC covers the bytes up to
    // field 128; written into it, it matches.
    let placeholder = network_message(spec, &[(128, &[0u8; 8][..])]).to_bytes();
    let message = spec
        .decode(&placeholder)
        .expect("decode")
        .complete()
        .expect("whole");
    let field = message.span_of(128).expect("field 128");
    assert_eq!(field.end, placeholder.len());
    let value = mac
        .compute(&key(KK), &placeholder[..field.start])
        .expect("mac");
    assert_eq!(library_mac(spec, &placeholder, mac, KK, 128), value);
    let r = mac_cli("x919", KK, &["--spec", "iso87-ascii"], &hex(&placeholder));
    assert_eq!(r.stdout, format!("{}\nmismatch\n", hex(&value)), "{r:?}");
    assert_eq!(r.code, 3, "{r:?}");

    let signed = network_message(spec, &[(128, &value[..])]).to_bytes();
    let r = mac_cli("x919", KK, &["--spec", "iso87-ascii"], &hex(&signed));
    assert_eq!(r.stdout, format!("{}\nmatch\n", hex(&value)), "{r:?}");
    assert_eq!(r.code, 0, "{r:?}");

    // A MAC in field 64 of such a message is not where its MAC goes: field 128 is absent.
    let wrong_place = network_message(spec, &[(64, &value[..])]).to_bytes();
    let r = mac_cli("x919", KK, &["--spec", "iso87-ascii"], &hex(&wrong_place));
    assert_eq!(r.stdout.lines().nth(1), Some("absent"), "{r:?}");
}

#[test]
fn mac_refuses_bad_keys_and_messages() {
    let b = b_hex();
    for (algorithm, k, options, kind, says) in [
        (
            "x919",
            K,
            &[][..],
            "invalid_key",
            "x919 needs a 16-byte key, found 8",
        ),
        (
            "x99",
            "0123456789ABCDEG",
            &[][..],
            "invalid_key",
            "non-hex character at position 15",
        ),
        (
            "x99",
            "0123",
            &[][..],
            "invalid_key",
            "8, 16 or 24 bytes, found 2",
        ),
        ("x99", "012", &[][..], "invalid_key", "odd number"),
        (
            "x99",
            K,
            &["--skip", "200"][..],
            "truncated",
            "more byte(s)",
        ),
        (
            "x99",
            K,
            &["--frame", "len2"][..],
            "frame_length_mismatch",
            "announces",
        ),
    ] {
        let options = [&["--spec", "cup-pos"][..], options].concat();
        let r = mac_cli(algorithm, k, &options, &b);
        assert_eq!(r.code, 1, "{k} {options:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{k} {options:?}: {r:?}");
        assert!(
            r.stderr.starts_with("error: ")
                && r.stderr.contains(says)
                && r.stderr.trim_end().ends_with(&format!("({kind})")),
            "{k} {options:?}: {r:?}"
        );
    }
    // Bad hex, with its position in the text.
    let r = mac_cli("x99", K, &["--spec", "cup-pos"], "0200zz");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("character 4") && r.stderr.contains("(invalid_hex)"),
        "{r:?}"
    );

    // The message comes from stdin too.
    let r = run(
        &["mac", "--algorithm", "x99", "--key", K, "--spec", "cup-pos"],
        b.as_bytes(),
    );
    assert_eq!(r.stdout, "BD76A31055191BC4\nmismatch\n", "{r:?}");

    // Unknown algorithms and conflicting key options are usage errors.
    for args in [
        &[
            "mac",
            "--algorithm",
            "md5",
            "--key",
            K,
            "--spec",
            "cup-pos",
            &b,
        ][..],
        &[
            "mac",
            "--algorithm",
            "X919",
            "--key",
            KK,
            "--spec",
            "cup-pos",
            &b,
        ][..],
        &["mac", "--algorithm", "x99", "--spec", "cup-pos", &b][..],
        &[
            "mac",
            "--algorithm",
            "x99",
            "--key",
            K,
            "--single",
            "--key-use",
            "whole",
            "--spec",
            "cup-pos",
            &b,
        ][..],
    ] {
        let r = run(args, b"");
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(!r.stderr.contains(K), "{args:?}: {r:?}");
    }
}

#[test]
fn x919_with_half_a_key_is_a_usage_error() {
    let b = b_hex();
    for options in [&["--single"][..], &["--key-use", "first-half"][..]] {
        for k in [KK, K] {
            let options = [&["--spec", "cup-pos"][..], options].concat();
            let r = mac_cli("x919", k, &options, &b);
            assert_eq!(r.code, 2, "{options:?}: {r:?}");
            assert!(r.stdout.is_empty(), "{options:?}: {r:?}");
            assert!(
                r.stderr.starts_with(
                    "error: --single (--key-use first-half) applies to x99 and cup-ecb only: \
                     x919 always uses both halves of a 16-byte key"
                ) && r.stderr.contains("Usage: iso8583 mac"),
                "{options:?}: {r:?}"
            );
        }
    }
    // The whole key, said outright, is fine.
    let r = mac_cli("x919", KK, &["--spec", "cup-pos", "--key-use", "whole"], &b);
    assert_eq!(r.stdout, "267D6CD931A734CA\nmismatch\n", "{r:?}");
}

const PAN: &str = "1234567890123456";

#[test]
fn pin_block_format_0_clear_and_encrypted() {
    // DESIGN §9 and crates/crypto/tests/vectors.rs: PIN 123456, PAN 1234567890123456.
    let pin = Pin::new("123456").expect("pin");
    let clear = ClearPinBlock::format0(&pin, PAN).expect("block");
    assert_eq!(hex(clear.expose_secret()), "0612713176FEDCBA");
    let r = run(
        &[
            "pin-block",
            "--format",
            "0",
            "--pin",
            "123456",
            "--pan",
            PAN,
        ],
        b"",
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "0612713176FEDCBA\n"),
        "{r:?}"
    );

    // Encrypted: crosscheck.py's values, and the library's.
    for (k, vector) in [(K, "686790AC2D5B2FFD"), (KK, "793AE1FCD3064968")] {
        assert_eq!(hex(&clear.encrypt(&key(k)).to_bytes()), vector);
        let r = run(
            &[
                "pin-block",
                "--format",
                "0",
                "--pin",
                "123456",
                "--pan",
                PAN,
                "--key",
                k,
            ],
            b"",
        );
        assert_eq!(
            (r.code, r.stdout.as_str()),
            (0, format!("{vector}\n").as_str()),
            "{r:?}"
        );
        assert!(!r.stdout.contains(k) && r.stderr.is_empty(), "{r:?}");
    }
}

#[test]
fn pin_block_format_3_reads_back() {
    // Random fill: the block differs run to run, but always reads back as the PIN.
    let r = run(
        &["pin-block", "--format", "3", "--pin", "1234", "--pan", PAN],
        b"",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let block = r.stdout.trim_end();
    assert!(block.len() == 16 && block.starts_with("34"), "{block}");
    assert_eq!(block, block.to_uppercase());
    let clear = ClearPinBlock::from_bytes(unhex(block).try_into().expect("8 bytes"));
    assert_eq!(clear.pin(PAN).expect("format 3").expose_secret(), "1234");

    let r = run(
        &[
            "pin-block",
            "--format",
            "3",
            "--pin",
            "1234",
            "--pan",
            PAN,
            "--key",
            KK,
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let field52 = EncryptedPinBlock::from_slice(&unhex(r.stdout.trim_end())).expect("8 bytes");
    assert_eq!(
        field52
            .pin(&key(KK), PAN)
            .expect("decrypts")
            .expose_secret(),
        "1234"
    );
}

#[test]
fn pin_block_refuses_bad_input_without_repeating_it() {
    for (args, kind) in [
        (&["--pin", "12a4", "--pan", PAN][..], "invalid_pin"),
        (&["--pin", "123", "--pan", PAN][..], "invalid_pin"),
        (&["--pin", "1234", "--pan", "12345"][..], "invalid_pan"),
        (
            &["--pin", "1234", "--pan", "12345678901234X"][..],
            "invalid_pan",
        ),
        (
            &["--pin", "1234", "--pan", PAN, "--key", "0123"][..],
            "invalid_key",
        ),
    ] {
        let args = [&["pin-block", "--format", "0"][..], args].concat();
        let r = run(&args, b"");
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
        assert!(
            r.stderr.starts_with("error: ") && r.stderr.trim_end().ends_with(&format!("({kind})")),
            "{args:?}: {r:?}"
        );
        for secret in ["12a4", "12345678901234X", "0123 "] {
            assert!(!r.stderr.contains(secret), "{args:?}: {r:?}");
        }
    }
    let r = run(
        &["pin-block", "--format", "1", "--pin", "1234", "--pan", PAN],
        b"",
    );
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn kcv_prints_4_or_3_bytes() {
    // crates/crypto/tests/vectors.rs: E(0123456789ABCDEF, 0^64) = D5D44FF720683D0D, and
    // 08D7B4FB… for the Annex B double key.
    for (k, bytes, vector) in [
        (K, None, "D5D44FF7"),
        (K, Some("4"), "D5D44FF7"),
        (K, Some("3"), "D5D44F"),
        (KK, None, "08D7B4FB"),
    ] {
        let full = hex(&key(k).check_value().to_bytes());
        assert!(full.starts_with(vector), "{full}");
        let mut args = vec!["kcv", "--key", k];
        if let Some(n) = bytes {
            args.extend(["--bytes", n]);
        }
        let r = run(&args, b"");
        assert_eq!(
            (r.code, r.stdout.as_str()),
            (0, format!("{vector}\n").as_str()),
            "{r:?}"
        );
    }
    // Lower-case key digits are the same key.
    let r = run(&["kcv", "--key", &K.to_lowercase()], b"");
    assert_eq!(r.stdout, "D5D44FF7\n", "{r:?}");

    let r = run(&["kcv", "--key", "0123456789ABCDEF0"], b"");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("odd number") && r.stderr.contains("(invalid_key)"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("0123456789"), "{r:?}");
    let r = run(&["kcv", "--key", K, "--bytes", "5"], b"");
    assert_eq!(r.code, 2, "{r:?}");
}
