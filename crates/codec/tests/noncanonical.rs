//! Non-canonical input: accepted and flagged on `Message::quirks()` by default, refused with the
//! matching error under `.strict(true)`, and written canonically when re-encoded through
//! `Builder::from_message`.

mod common;

use common::{hex, unhex};
use iso8583_codec::{
    BitmapProblem, Builder, Error, Expected, FieldPath, Found, Message, Quirk, QuirkAt, Spec,
    WhichBitmap,
};

fn builtin(name: &str) -> &'static Spec {
    Spec::builtin(name).unwrap()
}

/// Decodes leniently, checks that exactly `quirk` was flagged at `at`, and returns the message.
fn lenient<'a>(spec: &'a Spec, wire: &'a [u8], quirk: Quirk, at: QuirkAt) -> Message<'a> {
    let message = spec.decode(wire).unwrap().complete().unwrap();
    let quirks: Vec<_> = message.quirks().iter().collect();
    assert_eq!(quirks, vec![(quirk, at)]);
    assert_eq!(message.quirks().first(quirk), Some(at));
    assert!(!message.quirks().is_empty());
    message
}

fn strict_error(spec: &Spec, wire: &[u8]) -> Error {
    spec.decoder().strict(true).decode(wire).unwrap_err()
}

/// Re-encodes through the builder and checks the result is `canonical`, which decodes without
/// quirks (but for non-ASCII text, which is the value itself and stays).
fn reencodes_to(spec: &Spec, message: &Message<'_>, canonical: &[u8]) {
    let again = Builder::from_message(message).unwrap().to_bytes();
    assert_eq!(hex(&again), hex(canonical));
    let clean = spec.decode(&again).unwrap().complete().unwrap();
    let left: Vec<Quirk> = clean.quirks().iter().map(|(q, _)| q).collect();
    let text_stays = message.quirks().first(Quirk::NonAsciiText).is_some();
    assert_eq!(
        left,
        if text_stays {
            vec![Quirk::NonAsciiText]
        } else {
            vec![]
        }
    );
    for field in message.fields() {
        let n = field.number();
        assert_eq!(
            clean.field(n).unwrap().to_vec(),
            field.to_vec(),
            "field {n}"
        );
    }
}

#[test]
fn lower_case_hex_bitmap() {
    let spec = builtin("iso87-ascii");
    // Fields 3, 5 and 7: the bitmap 2A... written with a lower-case 'a' at offset 5.
    let wire = without_spaces(b"0200 2a00000000000000 000000 000000001000 1203123456");
    let message = lenient(
        spec,
        &wire,
        Quirk::LowerCaseHex,
        QuirkAt {
            field: None,
            offset: 5,
        },
    );
    assert_eq!(message.bitmap().word(0), 0x2A00_0000_0000_0000);
    assert_eq!(message.field(7).unwrap().as_str(), Some("1203123456"));

    let err = strict_error(spec, &wire);
    assert_eq!(
        err,
        Error::InvalidBitmap {
            which: WhichBitmap::Primary,
            offset: 5,
            problem: BitmapProblem::LowerCaseHex(Found::Byte(b'a')),
        }
    );
    assert_eq!(
        (err.kind(), err.field(), err.offset()),
        ("invalid_bitmap", None, 5)
    );
    let canonical = without_spaces(b"0200 2A00000000000000 000000 000000001000 1203123456");
    reencodes_to(spec, &message, &canonical);
}

/// iso87-ascii with fields 52 (PIN block, b8 as hex text), 69 (n3) and 71 (n4): the secondary
/// bitmap is 0A00000000000000.
const CANONICAL_52_69_71: &[u8] =
    b"02008000000000001000 0A00000000000000 00112233AABBCCDD 840 0001";

fn without_spaces(text: &[u8]) -> Vec<u8> {
    text.iter().copied().filter(|b| *b != b' ').collect()
}

#[test]
fn lower_case_hex_in_a_hex_field() {
    let spec = builtin("iso87-ascii");
    let canonical = without_spaces(CANONICAL_52_69_71);
    let mut wire = canonical.clone();
    wire[36..52].copy_from_slice(b"00112233aabbccdd");
    let at = QuirkAt {
        field: Some(FieldPath::field(52)),
        offset: 36,
    };
    let message = lenient(spec, &wire, Quirk::LowerCaseHex, at);
    assert_eq!(
        message.field(52).unwrap().to_vec(),
        [0, 0x11, 0x22, 0x33, 0xAA, 0xBB, 0xCC, 0xDD]
    );

    // Field 52 is sensitive: the strict error names the place but not the byte.
    let err = strict_error(spec, &wire);
    assert_eq!(
        err,
        Error::InvalidContent {
            field: FieldPath::field(52),
            offset: 44,
            expected: Expected::HexDigit,
            found: Found::Redacted,
        }
    );
    reencodes_to(spec, &message, &canonical);
}

#[test]
fn lower_case_hex_in_a_secondary_bitmap() {
    let spec = builtin("iso87-ascii");
    let canonical = without_spaces(CANONICAL_52_69_71);
    let mut wire = canonical.clone();
    wire[21] = b'a';
    let at = QuirkAt {
        field: None, // a bitmap, not a field
        offset: 21,
    };
    let message = lenient(spec, &wire, Quirk::LowerCaseHex, at);
    assert_eq!(message.field(71).unwrap().to_u64(), Some(1));
    assert_eq!(
        strict_error(spec, &wire),
        Error::InvalidBitmap {
            which: WhichBitmap::Secondary,
            offset: 21,
            problem: BitmapProblem::LowerCaseHex(Found::Byte(b'a')),
        }
    );
    reencodes_to(spec, &message, &canonical);
}

#[test]
fn unexpected_filler_nibble() {
    let spec = builtin("cup-pos");
    // Fields 3 and 22; field 22 is left-aligned BCD, "051" with filler F instead of 0.
    let wire = unhex("0200 | 20 00 04 00 00 00 00 00 | 000000 | 051F");
    let at = QuirkAt {
        field: Some(FieldPath::field(22)),
        offset: 13,
    };
    let message = lenient(spec, &wire, Quirk::FillerNibble, at);
    assert_eq!(message.field(22).unwrap().to_vec(), b"051");

    let err = strict_error(spec, &wire);
    assert_eq!(
        err,
        Error::InvalidContent {
            field: FieldPath::field(22),
            offset: 14,
            expected: Expected::Filler(0),
            found: Found::Byte(0x1F),
        }
    );
    assert_eq!(err.kind(), "invalid_content");
    reencodes_to(
        spec,
        &message,
        &unhex("0200 | 20 00 04 00 00 00 00 00 | 000000 | 0510"),
    );

    // A right-aligned field (23, "001") with its filler first.
    let wire = unhex("0200 | 00 00 02 00 00 00 00 00 | F001");
    let at = QuirkAt {
        field: Some(FieldPath::field(23)),
        offset: 10,
    };
    let message = lenient(spec, &wire, Quirk::FillerNibble, at);
    assert_eq!(message.field(23).unwrap().to_u64(), Some(1));
    assert!(matches!(
        strict_error(spec, &wire),
        Error::InvalidContent { offset: 10, .. }
    ));
    reencodes_to(
        spec,
        &message,
        &unhex("0200 | 00 00 02 00 00 00 00 00 | 0001"),
    );

    // A variable PAN of 17 digits: filler last.
    let wire = unhex("0200 | 40 00 00 00 00 00 00 00 | 17 62123456789012345F");
    let message = lenient(
        spec,
        &wire,
        Quirk::FillerNibble,
        QuirkAt {
            field: Some(FieldPath::field(2)),
            offset: 11,
        },
    );
    assert_eq!(message.field(2).unwrap().to_vec(), b"62123456789012345");
    // Field 2 is sensitive: the strict error does not show the byte.
    assert_eq!(
        strict_error(spec, &wire),
        Error::InvalidContent {
            field: FieldPath::field(2),
            offset: 19,
            expected: Expected::Filler(0),
            found: Found::Redacted,
        }
    );
    reencodes_to(
        spec,
        &message,
        &unhex("0200 | 40 00 00 00 00 00 00 00 | 17 621234567890123450"),
    );
}

#[test]
fn bit_1_over_an_empty_secondary_bitmap() {
    let spec = builtin("cup-pos");
    let wire = unhex("0200 | A0 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | 000000");
    let at = QuirkAt {
        field: None, // a bitmap, not a field
        offset: 10,
    };
    let message = lenient(spec, &wire, Quirk::EmptyBitmap, at);
    assert!(message.bitmap().contains(1));
    assert_eq!(
        message.fields().map(|f| f.number()).collect::<Vec<_>>(),
        vec![3]
    );

    let err = strict_error(spec, &wire);
    assert_eq!(
        err,
        Error::InvalidBitmap {
            which: WhichBitmap::Secondary,
            offset: 10,
            problem: BitmapProblem::Empty,
        }
    );
    // The builder writes no secondary bitmap, and clears bit 1.
    reencodes_to(
        spec,
        &message,
        &unhex("0200 | 20 00 00 00 00 00 00 00 | 000000"),
    );

    // The same in hex.
    let spec = builtin("iso87-ascii");
    let wire = b"0200A0000000000000000000000000000000000000";
    let at = QuirkAt {
        field: None, // a bitmap, not a field
        offset: 20,
    };
    let message = lenient(spec, wire, Quirk::EmptyBitmap, at);
    assert!(matches!(
        strict_error(spec, wire),
        Error::InvalidBitmap { offset: 20, .. }
    ));
    reencodes_to(spec, &message, b"02002000000000000000000000");
}

#[test]
fn gbk_bytes_in_an_ans_field() {
    let spec = builtin("cup-pos");
    // Field 63 (ans, LLLVAR counting bytes): "01" and 中文 in GBK.
    let wire = unhex("0200 | 00 00 00 00 00 00 00 02 | 0006 3031D6D0CEC4");
    let at = QuirkAt {
        field: Some(FieldPath::field(63)),
        offset: 12,
    };
    let message = lenient(spec, &wire, Quirk::NonAsciiText, at);
    let field = message.field(63).unwrap();
    assert_eq!(field.to_vec(), unhex("3031D6D0CEC4"));
    assert_eq!(field.as_str(), None, "not ASCII");

    let err = strict_error(spec, &wire);
    assert_eq!(
        err,
        Error::InvalidContent {
            field: FieldPath::field(63),
            offset: 14,
            expected: Expected::Ascii,
            found: Found::Byte(0xD6),
        }
    );
    // The text is the value: re-encoding keeps it byte for byte.
    reencodes_to(spec, &message, &wire);
    // A strict builder refuses it.
    let mut strict = Builder::new(spec, message.mti()).strict(true);
    assert!(matches!(
        strict.set(63, field.to_vec()).map(|_| ()),
        Err(Error::InvalidContent {
            offset: 2,
            expected: Expected::Ascii,
            ..
        })
    ));
}

#[test]
fn non_ascii_ebcdic_text_is_flagged_the_same_way() {
    let spec = common::spec(
        r#"
        field = [ { number = 2, name = "ans", class = "ans", length = 3, encoding = "ebcdic" } ]
        [spec]
        name = "ebcdic-latin1"
        mti = "ebcdic"
        bitmap = "hex-ebcdic"
        "#,
    );
    // "Café"-like: C1 51 C2 is 'A', 'é' (Latin-1 E9), 'B' in code page 037.
    let wire = unhex("F0F2F0F0 | F4F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0 | C151C2");
    let at = QuirkAt {
        field: Some(FieldPath::field(2)),
        offset: 20,
    };
    let message = lenient(&spec, &wire, Quirk::NonAsciiText, at);
    assert_eq!(message.field(2).unwrap().to_vec(), [b'A', 0xE9, b'B']);
    assert_eq!(message.field(2).unwrap().masked().to_string(), "AéB");
    assert!(matches!(
        strict_error(&spec, &wire),
        Error::InvalidContent {
            offset: 21,
            expected: Expected::Ascii,
            ..
        }
    ));
    reencodes_to(&spec, &message, &wire);
}
