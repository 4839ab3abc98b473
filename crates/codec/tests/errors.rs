//! Errors name the right kind, field and offset; input that ends early asks for the right
//! number of bytes; sensitive content never reaches an error's text.

mod common;

use common::{hex, representative, unhex};
use iso8583_codec::{
    BitmapProblem, Builder, Decoded, Error, Expected, FieldPath, Found, Incomplete, LengthProblem,
    Mti, Spec, WhichBitmap,
};

fn builtin(name: &str) -> &'static Spec {
    Spec::builtin(name).unwrap()
}

fn field(n: u16) -> Option<FieldPath> {
    Some(FieldPath::field(n))
}

/// Kind, field number and offset, for compact assertions.
fn place(e: &Error) -> (&'static str, Option<u16>, usize) {
    (e.kind(), e.field().map(|f| f.field), e.offset())
}

#[test]
fn invalid_mti() {
    let err = builtin("iso87-ascii")
        .decode(b"02X00000000000000000")
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidMti {
            offset: 2,
            found: Found::Byte(b'X')
        }
    );
    assert_eq!(place(&err), ("invalid_mti", None, 2));

    let err = builtin("cup-pos")
        .decode(&unhex("02A0 2000000000000000 000000"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidMti {
            offset: 1,
            found: Found::Nibble(0xA)
        }
    );

    // Checked as soon as the byte is there, before the rest of the MTI arrives.
    let err = builtin("iso87-ascii").decode(b"0 ").unwrap_err();
    assert_eq!(place(&err), ("invalid_mti", None, 1));
}

#[test]
fn invalid_bitmap() {
    let err = builtin("iso87-ascii")
        .decode(b"02002G00000000000000000000")
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidBitmap {
            which: WhichBitmap::Primary,
            offset: 5,
            problem: BitmapProblem::NotHex(Found::Byte(b'G')),
        }
    );
    assert_eq!(place(&err), ("invalid_bitmap", None, 5));
    assert!(
        err.to_string().contains("primary bitmap at offset 5"),
        "{err}"
    );
}

#[test]
fn unknown_field() {
    // cup-pos does not define field 24 (the NII travels in the TPDU).
    let spec = builtin("cup-pos");
    let err = spec
        .decode(&unhex("0200 0000010000000000 0001"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::UnknownField {
            field: FieldPath::field(24),
            offset: 10
        }
    );
    assert_eq!(place(&err), ("unknown_field", Some(24), 10));

    let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
    let err = builder.set_str(24, "001").map(|_| ()).unwrap_err();
    assert_eq!(place(&err), ("unknown_field", Some(24), 0));
    // Bit 1 is the secondary bitmap, never a field.
    let err = builder.set_str(1, "0").map(|_| ()).unwrap_err();
    assert_eq!(place(&err), ("unknown_field", Some(1), 0));
}

#[test]
fn invalid_length() {
    // A BCD prefix of 20 on a PAN of at most 19 digits.
    let err = builtin("cup-pos")
        .decode(&unhex("0200 4000000000000000 20 12345678901234567890"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidLength {
            field: FieldPath::field(2),
            offset: 10,
            problem: LengthProblem::TooLong { found: 20, max: 19 },
        }
    );
    assert_eq!(place(&err), ("invalid_length", Some(2), 10));

    // A prefix that is not decimal.
    let err = builtin("iso87-ascii")
        .decode(b"020040000000000000001A")
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidLength {
            field: FieldPath::field(2),
            offset: 20,
            problem: LengthProblem::PrefixNotDecimal {
                found: Found::Byte(b'A')
            },
        }
    );

    // The builder: fixed fields take exactly their length, variable ones at most their max.
    let mut builder = Builder::new(builtin("iso87-ascii"), Mti::new("0200").unwrap());
    let err = builder.set_str(3, "12345").map(|_| ()).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidLength {
            field: FieldPath::field(3),
            offset: 0,
            problem: LengthProblem::NotFixed {
                found: 5,
                expected: 6
            },
        }
    );
    let err = builder
        .set_str(2, "12345678901234567890")
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidLength {
            problem: LengthProblem::TooLong { found: 20, max: 19 },
            ..
        }
    ));
}

#[test]
fn invalid_content() {
    // Field 3 (not sensitive) with a letter in it.
    let err = builtin("iso87-ascii")
        .decode(b"0200200000000000000000X000")
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidContent {
            field: FieldPath::field(3),
            offset: 22,
            expected: Expected::Class(iso8583_codec::ContentClass::N),
            found: Found::Byte(b'X'),
        }
    );
    assert_eq!(place(&err), ("invalid_content", Some(3), 22));

    // A BCD digit above 9.
    let err = builtin("cup-pos")
        .decode(&unhex("0200 2000000000000000 00A000"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidContent {
            field: FieldPath::field(3),
            offset: 11,
            expected: Expected::BcdDigit,
            found: Found::Byte(0xA0),
        }
    );

    // The sign of an x+n amount (field 28 in cup-pos: ASCII sign, BCD digits).
    let err = builtin("cup-pos")
        .decode(&unhex("0200 0000001000000000 58 00001500"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidContent {
            field: FieldPath::field(28),
            offset: 10,
            expected: Expected::Sign,
            found: Found::Byte(b'X'),
        }
    );
}

#[test]
fn truncated_through_complete() {
    let spec = builtin("iso87-ascii");
    let wire = b"02004000000000000000164111111111111111";
    let cut = &wire[..30];
    let Decoded::Incomplete(incomplete) = spec.decode(cut).unwrap() else {
        panic!("cut message decoded whole");
    };
    assert_eq!(
        incomplete,
        Incomplete {
            needed: 8,
            field: field(2),
            offset: 20
        }
    );
    let err = spec.decode(cut).unwrap().complete().unwrap_err();
    assert_eq!(
        err,
        Error::Truncated {
            field: field(2),
            offset: 20,
            needed: 8
        }
    );
    assert_eq!(place(&err), ("truncated", Some(2), 20));
    // The PAN's digits are not in the message either.
    assert!(!err.to_string().contains("4111"), "{err}");

    // Inside the MTI: no field.
    let err = spec.decode(b"02").unwrap().complete().unwrap_err();
    assert_eq!(
        err,
        Error::Truncated {
            field: None,
            offset: 0,
            needed: 2
        }
    );
    // Inside the secondary bitmap: a bitmap, not a field, as its other errors say.
    let err = spec
        .decode(b"02008000000000000000000")
        .unwrap()
        .complete()
        .unwrap_err();
    assert_eq!(
        err,
        Error::Truncated {
            field: None,
            offset: 20,
            needed: 13
        }
    );
}

#[test]
fn trailing_data() {
    let spec = builtin("iso87-ascii");
    let wire = b"08000020000000000000000123\r\n";
    let err = spec.decode(wire).unwrap_err();
    assert_eq!(
        err,
        Error::TrailingData {
            offset: 26,
            count: 2
        }
    );
    assert_eq!(place(&err), ("trailing_data", None, 26));

    let message = spec
        .decoder()
        .keep_trailing(true)
        .decode(wire)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(message.trailing(), b"\r\n");
    assert_eq!(message.as_bytes(), &wire[..26]);
}

#[test]
fn a_prefix_above_the_max_is_an_error_even_when_the_input_ends_early() {
    // Whole prefix, no data.
    let err = builtin("cup-pos")
        .decode(&unhex("0200 4000000000000000 20"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidLength {
                problem: LengthProblem::TooLong { found: 20, max: 19 },
                ..
            }
        ),
        "{err:?}"
    );
    // Half an ASCII prefix: "2" can only become 20-29.
    let err = builtin("iso87-ascii")
        .decode(b"020040000000000000002")
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidLength {
            field: FieldPath::field(2),
            offset: 20,
            problem: LengthProblem::TooLong { found: 20, max: 19 },
        }
    );
    // "1" may become 10-19: more bytes, please.
    assert!(matches!(
        builtin("iso87-ascii")
            .decode(b"020040000000000000001")
            .unwrap(),
        Decoded::Incomplete(Incomplete { needed: 1, .. })
    ));
    // Half a two-byte BCD prefix: field 55 of cup-pos counts at most 255 bytes; 03.. is 300+.
    let err = builtin("cup-pos")
        .decode(&unhex("0200 0000000000000200 03"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidLength {
            field: FieldPath::field(55),
            offset: 10,
            problem: LengthProblem::TooLong {
                found: 300,
                max: 255
            },
        }
    );
    assert!(matches!(
        builtin("cup-pos")
            .decode(&unhex("0200 0000000000000200 02"))
            .unwrap(),
        Decoded::Incomplete(Incomplete {
            needed: 1,
            offset: 10,
            ..
        })
    ));
}

#[test]
fn incomplete_at_every_cut_of_a_valid_message() {
    for name in Spec::builtin_names() {
        let spec = builtin(name);
        let wire = representative(spec).to_bytes();
        let whole = spec.decode(&wire).unwrap().complete().unwrap();
        assert!(
            whole.fields().count() >= 20,
            "{name}: {} fields",
            whole.fields().count()
        );

        for cut in 0..wire.len() {
            let Decoded::Incomplete(i) = spec.decode(&wire[..cut]).unwrap() else {
                panic!("{name}: {cut} of {} bytes decoded whole", wire.len());
            };
            assert!(i.needed > 0, "{name} cut at {cut}");
            assert!(cut + i.needed <= wire.len(), "{name} cut at {cut}: {i:?}");
            assert!(i.offset <= cut, "{name} cut at {cut}: {i:?}");
        }

        // A reader that reads exactly what is asked for ends with the whole message.
        let mut have = 0;
        let mut reads = 0;
        let message = loop {
            match spec.decode(&wire[..have]).unwrap() {
                Decoded::Complete(message) => break message,
                Decoded::Incomplete(i) => have += i.needed,
            }
            reads += 1;
            assert!(reads <= wire.len(), "{name}: no progress");
        };
        assert_eq!(have, wire.len(), "{name}");
        let values = |m: &iso8583_codec::Message<'_>| -> Vec<(u16, Vec<u8>)> {
            m.fields().map(|f| (f.number(), f.to_vec())).collect()
        };
        assert_eq!(values(&message), values(&whole), "{name}");
    }
}

#[test]
fn sensitive_content_never_appears_in_errors() {
    // A PAN with a bad digit, in text and in BCD.
    let pan = "5432109876X43210";
    let wire = format!("02004000000000000000{:02}{pan}", pan.len());
    let err = builtin("iso87-ascii").decode(wire.as_bytes()).unwrap_err();
    assert_eq!(place(&err), ("invalid_content", Some(2), 32));
    assert_eq!(
        err,
        Error::InvalidContent {
            field: FieldPath::field(2),
            offset: 32,
            expected: Expected::Class(iso8583_codec::ContentClass::N),
            found: Found::Redacted,
        }
    );
    let err = builtin("iso87-ascii")
        .decoder()
        .strict(true)
        .decode(wire.as_bytes())
        .unwrap_err();
    assert_eq!(err.offset(), 32);
    let bcd = unhex("0200 4000000000000000 16 543210987A543210");
    let err_bcd = builtin("cup-pos").decode(&bcd).unwrap_err();
    assert_eq!(place(&err_bcd), ("invalid_content", Some(2), 15));

    // Track 2 with a bad separator, and a PIN block in lower-case hex under strict.
    let track = unhex("0200 0000000020000000 24 4111111111111111E2812101");
    let err_track = builtin("cup-pos").decode(&track).unwrap_err();
    assert_eq!(place(&err_track), ("invalid_content", Some(35), 19));
    let pin = b"02000000000000001000a1b2c3d4e5f60718";
    let err_pin = builtin("iso87-ascii")
        .decoder()
        .strict(true)
        .decode(pin)
        .unwrap_err();
    assert_eq!(place(&err_pin), ("invalid_content", Some(52), 20));

    for (err, secrets) in [
        (&err, &["543210", "X", "0x58", "98765"][..]),
        (&err_bcd, &["543210", "7A", "0x7A", "987"][..]),
        (&err_track, &["411111", "E2", "0xE2", "2812"][..]),
        (&err_pin, &["a1", "0x61", "'a'"][..]),
    ] {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(
                text.contains("not shown") || text.contains("Redacted"),
                "{text}"
            );
            for secret in secrets {
                assert!(!text.contains(secret), "{text:?} shows {secret:?}");
            }
        }
    }

    // The builder refuses a bad PAN without showing it either.
    let mut builder = Builder::new(builtin("iso87-ascii"), Mti::new("0200").unwrap());
    let err = builder.set_str(2, pan).map(|_| ()).unwrap_err();
    assert_eq!(err.offset(), 10);
    let text = format!("{err} {err:?}");
    assert!(!text.contains("543210") && !text.contains('X'), "{text}");
    // ...and a masked one, copied from output.
    let err = builder
        .set_str(2, "543210******3210")
        .map(|_| ())
        .unwrap_err();
    assert_eq!(place(&err), ("masked_value", Some(2), 0));
    assert!(!err.to_string().contains("543210"));
    // Debug of builders and messages masks too.
    builder.set_str(2, "5432109876543210").unwrap();
    assert!(!format!("{builder:?}").contains("5432109876543210"));
    let wire = builder.to_bytes();
    let message = builtin("iso87-ascii")
        .decode(&wire)
        .unwrap()
        .complete()
        .unwrap();
    assert!(!format!("{message:?} {message}").contains("5432109876543210"));
    assert_eq!(
        hex(&message.field(2).unwrap().to_vec()),
        hex(b"5432109876543210")
    );
}

/// Messages are at most 65,535 bytes (what a two-byte length header frames): a longer one is
/// refused with its own error rather than indexed wrongly.
#[test]
fn a_message_over_64_kib_is_refused() {
    let spec = iso8583_codec::Spec::from_toml_str(
        r#"
        [spec]
        name = "big"
        mti = "ascii"
        bitmap = "hex"

        [[field]]
        number = 2
        name = "big"
        class = "ans"
        max = 99999
        prefix = 5
        "#,
    )
    .unwrap();
    let mut wire = b"08004000000000000000".to_vec();
    for (len, fits) in [(65_535 - 20 - 5, true), (65_535 - 20 - 4, false)] {
        wire.truncate(20);
        wire.extend_from_slice(format!("{len:05}").as_bytes());
        wire.resize(wire.len() + len, b'x');
        let result = spec.decode(&wire).and_then(|d| d.complete());
        match (fits, result) {
            (true, Ok(message)) => assert_eq!(message.field(2).unwrap().units(), len),
            (false, Err(e)) => {
                assert_eq!(e.kind(), "invalid_length");
                assert!(e.to_string().contains("65535"), "{e}");
            }
            (fits, other) => panic!("length {len} (fits: {fits}): {other:?}"),
        }
    }
}
