//! Every data encoding, prefix kind, MTI and bitmap layout against hand-written hex fixtures:
//! each fixture decodes (strictly, so it must be canonical) to the expected values and
//! re-encodes, from the message and from the values, to the same bytes.
//!
//! The specs are small TOML texts written here, so each test shows exactly the layout it checks.

mod common;

use common::{decode, hex, round_trip, spec, unhex};
use iso8583_codec::{
    Amount, Builder, Error, LengthProblem, Mti, PrefixCounts, PrefixEncoding, Spec,
};

// ---------------------------------------------------------------------------------------------
// Data encodings
// ---------------------------------------------------------------------------------------------

#[test]
fn ascii_text() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "n", class = "n", length = 4 },
          { number = 3, name = "an", class = "an", max = 10, prefix = 2 },
          { number = 4, name = "ans", class = "ans", length = 5 },
          { number = 5, name = "a", class = "a", length = 3 },
        ]
        [spec]
        name = "ascii-text"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    let wire = unhex(
        "30323030 | 78 00 00 00 00 00 00 00 | 31323334 | 3035 4162203159 | 612D7E217B | 782059",
    );
    round_trip(
        &spec,
        "0200",
        &wire,
        &[(2, b"1234"), (3, b"Ab 1Y"), (4, b"a-~!{"), (5, b"x Y")],
    );
    let m = decode(&spec, &wire);
    assert_eq!(m.field(2).unwrap().as_str(), Some("1234"));
    assert_eq!(m.field(2).unwrap().to_u64(), Some(1234));
    assert_eq!(m.field(3).unwrap().as_str(), Some("Ab 1Y"));
    assert_eq!(m.field(3).unwrap().offset(), 18);
    assert_eq!(m.span_of(3), Some(16..23));
    assert_eq!(m.field(4).unwrap().masked().to_string(), "a-~!{");
}

#[test]
fn ebcdic_037_text() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "ans", class = "ans", length = 6, encoding = "ebcdic-037" },
          { number = 3, name = "n", class = "n", length = 3, encoding = "ebcdic" },
          { number = 4, name = "an", class = "an", max = 20, prefix = 2, prefix_encoding = "ebcdic", encoding = "ebcdic" },
        ]
        [spec]
        name = "cp037"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    // '[' '^' ']' are where code pages 037 and 1047 differ.
    let wire = unhex("30323030 | 70 00 00 00 00 00 00 00 | C88940BAB0BB | F0F4F2 | F0F4 C18240F9");
    round_trip(
        &spec,
        "0200",
        &wire,
        &[(2, b"Hi [^]"), (3, b"042"), (4, b"Ab 9")],
    );
    let m = decode(&spec, &wire);
    assert_eq!(m.field(3).unwrap().to_u64(), Some(42));
    assert_eq!(
        m.field(2).unwrap().as_str(),
        None,
        "EBCDIC bytes are not the value"
    );
    assert_eq!(m.field(2).unwrap().masked().to_string(), "Hi [^]");
}

#[test]
fn ebcdic_1047_text() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "ans", class = "ans", length = 6, encoding = "ebcdic-1047" },
          { number = 3, name = "x+n", class = "x+n", length = 4, encoding = "ebcdic-1047" },
        ]
        [spec]
        name = "cp1047"
        mti = "ebcdic"
        bitmap = "binary"
        "#,
    );
    let wire = unhex("F0F2F0F0 | 60 00 00 00 00 00 00 00 | C88940AD5FBD | C4F0F1F5F0");
    round_trip(&spec, "0200", &wire, &[(2, b"Hi [^]"), (3, b"D0150")]);
    let m = decode(&spec, &wire);
    assert_eq!(
        m.field(3).unwrap().amount(),
        Some(Amount {
            minor: -150,
            signed: true
        })
    );
}

#[test]
fn bcd_left_padded_with_a_non_zero_filler() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "odd", class = "n", length = 3, encoding = "bcd", pad = "left", filler = 15 },
          { number = 3, name = "even", class = "n", length = 4, encoding = "bcd", filler = 15 },
          { number = 4, name = "var", class = "n", max = 19, prefix = 2, prefix_encoding = "bcd", encoding = "bcd", pad = "left", filler = 15 },
          { number = 5, name = "default filler", class = "n", length = 1, encoding = "bcd" },
        ]
        [spec]
        name = "bcd-left"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    let wire = unhex("30323030 | 78 00 00 00 00 00 00 00 | F123 | 1234 | 05 F12345 | 07");
    round_trip(
        &spec,
        "0200",
        &wire,
        &[(2, b"123"), (3, b"1234"), (4, b"12345"), (5, b"7")],
    );
    let m = decode(&spec, &wire);
    assert_eq!(m.field(2).unwrap().units(), 3);
    assert_eq!(m.field(2).unwrap().raw(), &[0xF1, 0x23]);
    assert_eq!(m.field(4).unwrap().to_u64(), Some(12345));
    assert_eq!(m.field(2).unwrap().as_str(), None);
}

#[test]
fn bcd_right_padded_with_a_non_zero_filler() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "odd", class = "n", length = 3, encoding = "bcd", pad = "right", filler = 15 },
          { number = 3, name = "var", class = "n", max = 19, prefix = 2, prefix_encoding = "bcd", encoding = "bcd", filler = 15 },
          { number = 4, name = "filler A", class = "n", max = 19, prefix = 2, encoding = "bcd", filler = 10 },
        ]
        [spec]
        name = "bcd-right"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    let wire = unhex("30323030 | 70 00 00 00 00 00 00 00 | 123F | 05 12345F | 3031 7A");
    round_trip(
        &spec,
        "0200",
        &wire,
        &[(2, b"123"), (3, b"12345"), (4, b"7")],
    );
}

#[test]
fn binary() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "fixed", class = "b", length = 4 },
          { number = 3, name = "var", class = "b", max = 300, prefix = 3, prefix_encoding = "binary" },
          { number = 4, name = "pin", class = "b", length = 2, sensitive = "pin" },
        ]
        [spec]
        name = "binary"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    let wire = unhex("30323030 | 70 00 00 00 00 00 00 00 | DEADBEEF | 0003 00FF7F | 1234");
    round_trip(
        &spec,
        "0200",
        &wire,
        &[
            (2, &[0xDE, 0xAD, 0xBE, 0xEF]),
            (3, &[0, 0xFF, 0x7F]),
            (4, &[0x12, 0x34]),
        ],
    );
    let m = decode(&spec, &wire);
    assert_eq!(m.field(2).unwrap().masked().to_string(), "DEADBEEF");
    assert_eq!(m.field(4).unwrap().masked().to_string(), "****");
}

#[test]
fn hex_ascii() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "fixed", class = "b", length = 2, encoding = "hex" },
          { number = 3, name = "units", class = "b", max = 10, prefix = 2, encoding = "hex" },
          { number = 4, name = "bytes", class = "b", max = 10, prefix = 2, encoding = "hex", prefix_counts = "bytes" },
        ]
        [spec]
        name = "hex"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    let wire = unhex(
        "30323030 | 70 00 00 00 00 00 00 00 | 41423031 | 3033 303039463241 | 3036 303039463241",
    );
    round_trip(
        &spec,
        "0200",
        &wire,
        &[
            (2, &[0xAB, 0x01]),
            (3, &[0, 0x9F, 0x2A]),
            (4, &[0, 0x9F, 0x2A]),
        ],
    );
    let m = decode(&spec, &wire);
    assert_eq!(m.field(3).unwrap().units(), 3);
    assert_eq!(m.field(3).unwrap().raw(), b"009F2A");
    assert_eq!(m.field(4).unwrap().units(), 3);
}

#[test]
fn hex_ebcdic() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "fixed", class = "b", length = 2, encoding = "hex-ebcdic" },
          { number = 3, name = "var", class = "b", max = 10, prefix = 2, prefix_encoding = "ebcdic", encoding = "hex-ebcdic" },
        ]
        [spec]
        name = "hex-ebcdic"
        mti = "ebcdic"
        bitmap = "hex-ebcdic"
        "#,
    );
    let wire = unhex("F0F2F0F0 | F6F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0 | C1C2F0F1 | F0F2 F9C6F2C1");
    round_trip(
        &spec,
        "0200",
        &wire,
        &[(2, &[0xAB, 0x01]), (3, &[0x9F, 0x2A])],
    );
}

#[test]
fn x_plus_n_in_text() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "fixed", class = "x+n", length = 8 },
          { number = 3, name = "ebcdic", class = "x+n", length = 4, encoding = "ebcdic" },
          { number = 4, name = "units", class = "x+n", max = 12, prefix = 2 },
          { number = 5, name = "bytes", class = "x+n", max = 12, prefix = 2, prefix_counts = "bytes" },
        ]
        [spec]
        name = "xn-text"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    let wire = unhex(
        "30323030 | 78 00 00 00 00 00 00 00 | 43 3030303031353030 | C4F0F1F5F0 | 3033 44313233 | 3034 44313233",
    );
    round_trip(
        &spec,
        "0200",
        &wire,
        &[(2, b"C00001500"), (3, b"D0150"), (4, b"D123"), (5, b"D123")],
    );
    let m = decode(&spec, &wire);
    assert_eq!(
        m.field(2).unwrap().amount(),
        Some(Amount {
            minor: 1500,
            signed: true
        })
    );
    assert_eq!(
        m.field(3).unwrap().amount(),
        Some(Amount {
            minor: -150,
            signed: true
        })
    );
    assert_eq!(m.field(4).unwrap().units(), 3);
    assert_eq!(m.field(5).unwrap().units(), 3);
    assert_eq!(
        m.field(4).unwrap().digits().unwrap().collect::<Vec<u8>>(),
        b"123"
    );
}

#[test]
fn x_plus_n_in_bcd() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "even", class = "x+n", length = 8, encoding = "bcd" },
          { number = 3, name = "odd, left", class = "x+n", length = 5, encoding = "bcd" },
          { number = 4, name = "var, right", class = "x+n", max = 11, prefix = 2, prefix_encoding = "bcd", encoding = "bcd" },
        ]
        [spec]
        name = "xn-bcd"
        mti = "bcd"
        bitmap = "binary"
        "#,
    );
    let wire = unhex("0200 | 70 00 00 00 00 00 00 00 | 43 00001500 | 44 012345 | 03 43 1230");
    round_trip(
        &spec,
        "0200",
        &wire,
        &[(2, b"C00001500"), (3, b"D12345"), (4, b"C123")],
    );
    let m = decode(&spec, &wire);
    assert_eq!(
        m.field(2).unwrap().amount(),
        Some(Amount {
            minor: 1500,
            signed: true
        })
    );
    assert_eq!(
        m.field(3).unwrap().amount(),
        Some(Amount {
            minor: -12345,
            signed: true
        })
    );
    assert_eq!(
        m.field(3).unwrap().digits().unwrap().collect::<Vec<u8>>(),
        b"12345"
    );
    assert_eq!(m.field(4).unwrap().units(), 3);
}

#[test]
fn z_in_ascii() {
    let spec = spec(
        r#"
        field = [
          { number = 35, name = "track 2", class = "z", max = 37, prefix = 2, sensitive = "track" },
        ]
        [spec]
        name = "z-ascii"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    let track = b"4111111111111111=2812101";
    let wire = unhex(
        "30323030 | 00 00 00 00 20 00 00 00 | 3234 34313131313131313131313131313131 3D 32383132313031",
    );
    round_trip(&spec, "0200", &wire, &[(35, track)]);
    let m = decode(&spec, &wire);
    assert_eq!(
        m.field(35).unwrap().masked().to_string(),
        "411111******1111=*******"
    );
}

#[test]
fn z_in_bcd_with_the_d_separator() {
    let spec = spec(
        r#"
        field = [
          { number = 35, name = "track 2", class = "z", max = 37, prefix = 2, prefix_encoding = "bcd", encoding = "bcd", sensitive = "track" },
          { number = 36, name = "bytes", class = "z", max = 104, prefix = 3, prefix_encoding = "bcd", encoding = "bcd", prefix_counts = "bytes" },
        ]
        [spec]
        name = "z-bcd"
        mti = "bcd"
        bitmap = "binary"
        "#,
    );
    // 23 digits: the separator nibble D, and a trailing filler 0.
    let odd = unhex("0200 | 00 00 00 00 20 00 00 00 | 23 4111111111111111D2812100");
    round_trip(&spec, "0200", &odd, &[(35, b"4111111111111111D281210")]);
    // 24 digits counted in units (24), and in bytes (12).
    let even = unhex(
        "0200 | 00 00 00 00 30 00 00 00 | 24 4111111111111111D2812101 | 0012 4111111111111111D2812101",
    );
    round_trip(
        &spec,
        "0200",
        &even,
        &[
            (35, b"4111111111111111D2812101"),
            (36, b"4111111111111111D2812101"),
        ],
    );
    // '=' is accepted as the separator when building, and written as the nibble D.
    let mut builder = Builder::new(&spec, Mti::new("0200").unwrap());
    builder.set_str(35, "4111111111111111=281210").unwrap();
    assert_eq!(hex(&builder.to_bytes()), hex(&odd));
    let m = decode(&spec, &odd);
    assert_eq!(
        m.field(35).unwrap().masked().to_string(),
        "411111******1111D******"
    );
}

// ---------------------------------------------------------------------------------------------
// Length prefixes
// ---------------------------------------------------------------------------------------------

/// An `ans` field of `len` characters; the characters cycle through the alphabet.
fn text_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'A' + (i % 26) as u8).collect()
}

#[test]
fn every_prefix_encoding_with_1_to_6_digits() {
    // (encoding, digits, largest count the lint allows, length of the value, prefix bytes)
    let table: &[(&str, u8, u32, usize, &str)] = &[
        ("ascii", 1, 9, 7, "37"),
        ("ascii", 2, 99, 42, "3432"),
        ("ascii", 3, 999, 123, "313233"),
        ("ascii", 4, 9999, 1234, "31323334"),
        ("ascii", 5, 99999, 12345, "3132333435"),
        // Six digits count up to 999999, but a message is at most 65535 bytes.
        ("ascii", 6, 999999, 12345, "303132333435"),
        ("ebcdic", 1, 9, 7, "F7"),
        ("ebcdic", 2, 99, 42, "F4F2"),
        ("ebcdic", 3, 999, 123, "F1F2F3"),
        ("ebcdic", 4, 9999, 1234, "F1F2F3F4"),
        ("ebcdic", 5, 99999, 12345, "F1F2F3F4F5"),
        ("ebcdic", 6, 999999, 12345, "F0F1F2F3F4F5"),
        ("bcd", 1, 9, 7, "07"),
        ("bcd", 2, 99, 42, "42"),
        ("bcd", 3, 999, 123, "0123"),
        ("bcd", 4, 9999, 1234, "1234"),
        ("bcd", 5, 99999, 12345, "012345"),
        ("bcd", 6, 999999, 12345, "012345"),
        ("binary", 1, 9, 7, "07"),
        ("binary", 2, 99, 42, "2A"),
        ("binary", 3, 999, 123, "007B"),
        ("binary", 4, 9999, 1234, "04D2"),
        ("binary", 5, 99999, 12345, "003039"),
        ("binary", 6, 999999, 12345, "003039"),
    ];
    for &(encoding, digits, max, len, prefix) in table {
        let spec = spec(&format!(
            r#"
            field = [
              {{ number = 2, name = "var", class = "ans", max = {max}, prefix = {digits}, prefix_encoding = "{encoding}" }},
            ]
            [spec]
            name = "prefix-{encoding}-{digits}"
            mti = "ascii"
            bitmap = "binary"
            "#
        ));
        let p = spec.field(2).unwrap().prefix().copied().unwrap();
        assert_eq!(p.digits, digits);
        assert_eq!(p.width(), prefix.len() / 2, "{encoding} {digits}");
        let expected_encoding = match encoding {
            "ascii" => PrefixEncoding::Ascii,
            "ebcdic" => PrefixEncoding::Ebcdic,
            "bcd" => PrefixEncoding::Bcd,
            _ => PrefixEncoding::Binary,
        };
        assert_eq!(p.encoding, expected_encoding);

        let value = text_of(len);
        let mut wire = unhex(&format!("30323030 40 00 00 00 00 00 00 00 {prefix}"));
        wire.extend_from_slice(&value);
        round_trip(&spec, "0200", &wire, &[(2, &value)]);
        let m = decode(&spec, &wire);
        assert_eq!(m.field(2).unwrap().units(), len, "{encoding} {digits}");
        assert_eq!(m.field(2).unwrap().offset(), 12 + prefix.len() / 2);
    }
}

#[test]
fn prefixes_count_units_or_bytes() {
    let spec = spec(
        r#"
        [defaults]
        prefix = "bcd"
        numeric = "bcd"

        [spec]
        name = "counts"
        mti = "ascii"
        bitmap = "binary"

        [[field]]
        number = 2
        name = "digits"
        class = "n"
        max = 19
        prefix = 2
        prefix_counts = "digits"

        [[field]]
        number = 3
        name = "bcd bytes"
        class = "n"
        max = 19
        prefix = 2
        prefix_counts = "bytes"

        [[field]]
        number = 4
        name = "hex units"
        class = "b"
        max = 20
        prefix = 2
        encoding = "hex"

        [[field]]
        number = 5
        name = "hex bytes"
        class = "b"
        max = 20
        prefix = 2
        encoding = "hex"
        prefix_counts = "bytes"

        [[field]]
        number = 6
        name = "ebcdic characters"
        class = "ans"
        max = 20
        prefix = 2
        encoding = "ebcdic"
        prefix_counts = "characters"

        [[field]]
        number = 7
        name = "ebcdic bytes"
        class = "ans"
        max = 20
        prefix = 2
        encoding = "ebcdic"
        prefix_counts = "bytes"
        "#,
    );
    assert_eq!(
        spec.field(2).unwrap().prefix().unwrap().counts,
        PrefixCounts::Units
    );
    assert_eq!(
        spec.field(3).unwrap().prefix().unwrap().counts,
        PrefixCounts::Bytes
    );
    let wire = unhex(
        "30323030 | 7E 00 00 00 00 00 00 00 | 06 123456 | 03 123456 | 02 41423031 | 04 41423031 | 02 C1C2 | 02 C1C2",
    );
    round_trip(
        &spec,
        "0200",
        &wire,
        &[
            (2, b"123456"),
            (3, b"123456"),
            (4, &[0xAB, 0x01]),
            (5, &[0xAB, 0x01]),
            (6, b"AB"),
            (7, b"AB"),
        ],
    );

    // A prefix counting BCD bytes cannot carry an odd digit count: the builder refuses it...
    let mut builder = Builder::new(&spec, Mti::new("0200").unwrap());
    let err = builder.set_str(3, "12345").map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidLength {
                problem: LengthProblem::NotWholeUnits { found: 5 },
                ..
            }
        ),
        "{err:?}"
    );
    // ...and an odd count of hex characters is no whole number of bytes.
    let odd_hex = unhex("30323030 | 08 00 00 00 00 00 00 00 | 03 414230");
    let err = spec.decode(&odd_hex).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidLength {
                problem: LengthProblem::NotWholeUnits { found: 3 },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!((err.field().map(|f| f.field), err.offset()), (Some(5), 12));
}

// ---------------------------------------------------------------------------------------------
// MTI and bitmaps
// ---------------------------------------------------------------------------------------------

fn one_field_spec(mti: &str, bitmap: &str) -> Spec {
    spec(&format!(
        r#"
        field = [ {{ number = 3, name = "n", class = "n", length = 3 }} ]
        [spec]
        name = "mti"
        mti = "{mti}"
        bitmap = "{bitmap}"
        "#
    ))
}

#[test]
fn mti_in_ascii_ebcdic_and_bcd() {
    for (encoding, mti_hex) in [
        ("ascii", "31383034"),
        ("ebcdic", "F1F8F0F4"),
        ("bcd", "1804"),
    ] {
        let spec = one_field_spec(encoding, "binary");
        let wire = unhex(&format!("{mti_hex} | 20 00 00 00 00 00 00 00 | 313233"));
        round_trip(&spec, "1804", &wire, &[(3, b"123")]);
        let m = decode(&spec, &wire);
        assert_eq!(m.mti().digits(), *b"1804");
        assert_eq!(m.field(3).unwrap().offset(), mti_hex.len() / 2 + 8);
    }
}

/// A spec where every field from 2 up is one ASCII digit, so any bitmap can be written.
fn digit_per_field_spec(bitmap: &str, tertiary: bool) -> Spec {
    let top = if tertiary { 192 } else { 128 };
    let fields: String = (2..=top)
        .filter(|&n| !(tertiary && n == 65))
        .map(|n| format!("  {{ number = {n}, name = \"f{n}\", class = \"n\", length = 1 }},\n"))
        .collect();
    spec(&format!(
        "field = [\n{fields}]\n[spec]\nname = \"digits\"\nmti = \"ascii\"\nbitmap = \"{bitmap}\"\ntertiary_bitmap = {tertiary}\n"
    ))
}

const FIELDS_2_3_5_7_8_64: [(u16, &[u8]); 6] = [
    (2, b"2"),
    (3, b"3"),
    (5, b"5"),
    (7, b"7"),
    (8, b"8"),
    (64, b"4"),
];

#[test]
fn binary_bitmap() {
    let spec = digit_per_field_spec("binary", false);
    let wire = unhex("30323030 | 6B 00 00 00 00 00 00 01 | 32 33 35 37 38 34");
    round_trip(&spec, "0200", &wire, &FIELDS_2_3_5_7_8_64);
    assert_eq!(decode(&spec, &wire).bitmap().word(0), 0x6B00_0000_0000_0001);
}

#[test]
fn hex_ascii_bitmap() {
    let spec = digit_per_field_spec("hex", false);
    let wire =
        unhex("30323030 | 36 42 30 30 30 30 30 30 30 30 30 30 30 30 30 31 | 32 33 35 37 38 34");
    round_trip(&spec, "0200", &wire, &FIELDS_2_3_5_7_8_64);
}

#[test]
fn hex_ebcdic_bitmap() {
    let spec = digit_per_field_spec("hex-ebcdic", false);
    let wire =
        unhex("30323030 | F6 C2 F0 F0 F0 F0 F0 F0 F0 F0 F0 F0 F0 F0 F0 F1 | 32 33 35 37 38 34");
    round_trip(&spec, "0200", &wire, &FIELDS_2_3_5_7_8_64);
}

#[test]
fn secondary_bitmap_via_bit_1() {
    let spec = digit_per_field_spec("binary", false);
    // Without a tertiary bitmap, bit 65 is an ordinary field.
    let wire = unhex("30323030 | C0 00 00 00 00 00 00 00 | 84 00 00 00 00 00 00 01 | 32 35 30 38");
    let fields: [(u16, &[u8]); 4] = [(2, b"2"), (65, b"5"), (70, b"0"), (128, b"8")];
    round_trip(&spec, "0200", &wire, &fields);
    let m = decode(&spec, &wire);
    assert!(m.bitmap().contains(1) && !m.has(1) && m.field(1).is_none());
    assert_eq!(m.field(65).unwrap().offset(), 21);
    assert_eq!(m.bitmap().word(1), 0x8400_0000_0000_0001);

    // The secondary bitmap is written only when a field above 64 is set.
    let hex_spec = digit_per_field_spec("hex", false);
    let wire = unhex("30323030 | 3430303030303030 3030303030303030 | 32");
    round_trip(&hex_spec, "0200", &wire, &[(2, b"2")]);
}

/// Every bit of all three bitmaps set: 192 items, four times more than a message keeps every
/// start of, so most lookups walk from a start kept a few items before. Every field is found
/// at its own offset, and through both walks.
#[test]
fn every_bit_of_three_bitmaps_set() {
    let spec = digit_per_field_spec("binary", true);
    let numbers: Vec<u16> = (2..=192).filter(|&n| n != 65).collect();
    let digits: Vec<[u8; 1]> = numbers.iter().map(|n| [b'0' + (n % 10) as u8]).collect();
    let mut builder = Builder::new(&spec, Mti::new("0200").unwrap());
    for (n, d) in numbers.iter().zip(&digits) {
        builder.set(*n, &d[..]).unwrap();
    }
    let wire = builder.to_bytes();
    // MTI, primary and secondary bitmaps, fields 2-64, the tertiary bitmap (bit 65), 66-192.
    assert_eq!(wire.len(), 4 + 8 + 8 + 63 + 8 + 127);
    let offset = |n: u16| match n {
        2..=64 => 20 + usize::from(n - 2),
        _ => 20 + 63 + 8 + usize::from(n - 66),
    };
    for decoder in [spec.decoder(), spec.decoder().full_walk_only(true)] {
        let m = decoder.decode_complete(&wire).unwrap();
        assert_eq!(m.bitmap().word(2), u64::MAX);
        for (n, d) in numbers.iter().zip(&digits) {
            let field = m.field(*n).unwrap();
            assert_eq!(
                (field.offset(), field.raw()),
                (offset(*n), &d[..]),
                "field {n}"
            );
        }
        assert!(m.field(65).is_none() && m.field(1).is_none());
        assert_eq!(m.fields().count(), numbers.len());
    }
}

#[test]
fn tertiary_bitmap_via_bit_65_where_field_65_stands() {
    let spec = digit_per_field_spec("binary", true);
    assert!(spec.has_tertiary_bitmap() && spec.is_bitmap_bit(65) && spec.field(65).is_none());
    // MTI, primary (bits 1, 2, 64), secondary (bits 65, 66), field 2, field 64, tertiary
    // (bits 130, 192) where field 65 would be, field 66, field 130, field 192.
    let wire = unhex(
        "30323030 | C0 00 00 00 00 00 00 01 | C0 00 00 00 00 00 00 00 | 32 | 34 \
         | 40 00 00 00 00 00 00 01 | 36 | 33 | 39",
    );
    let fields: [(u16, &[u8]); 5] = [(2, b"2"), (64, b"4"), (66, b"6"), (130, b"3"), (192, b"9")];
    round_trip(&spec, "0200", &wire, &fields);
    let m = decode(&spec, &wire);
    assert!(m.bitmap().contains(65) && !m.has(65) && m.field(65).is_none());
    assert_eq!(m.bitmap().word(2), 0x4000_0000_0000_0001);
    assert_eq!(m.field(64).unwrap().offset(), 21);
    assert_eq!(m.field(66).unwrap().offset(), 30);
    assert_eq!(m.field(192).unwrap().offset(), 32);

    // No field above 128: bit 65 stays clear and no tertiary bitmap is written.
    let wire = unhex("30323030 | C0 00 00 00 00 00 00 00 | 40 00 00 00 00 00 00 00 | 32 | 36");
    round_trip(&spec, "0200", &wire, &[(2, b"2"), (66, b"6")]);

    // Hex bitmaps work the same way.
    let hex_spec = digit_per_field_spec("hex", true);
    let wire = unhex(
        "30323030 | 4330303030303030 3030303030303030 | 4330303030303030 3030303030303030 | 32 \
         | 3030303030303030 3030303030303031 | 36 | 39",
    );
    round_trip(
        &hex_spec,
        "0200",
        &wire,
        &[(2, b"2"), (66, b"6"), (192, b"9")],
    );
}
