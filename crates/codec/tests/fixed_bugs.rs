//! Regression tests for bugs found while testing the codec; each failed before its fix.

mod common;

use common::{hex, spec, unhex};
use iso8583_codec::{Builder, Error, FieldPath, LengthProblem, Spec};

/// A BCD field whose prefix counts bytes holds two digits a byte, so with an odd maximum (19)
/// the largest whole count is 9 bytes (18 digits). The decoder used to allow 10 bytes, i.e. 20
/// digits in an `n..19` field, which the builder then refused to re-encode.
#[test]
fn bcd_prefix_counting_bytes_does_not_exceed_an_odd_max() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "PAN", class = "n", max = 19, prefix = 2, prefix_encoding = "bcd", encoding = "bcd", prefix_counts = "bytes" },
        ]
        [spec]
        name = "bcd-bytes"
        mti = "bcd"
        bitmap = "binary"
        "#,
    );
    let twenty_digits = unhex("0200 4000000000000000 10 12345678901234567890");
    let err = spec.decode(&twenty_digits).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidLength {
            field: FieldPath::field(2),
            offset: 10,
            problem: LengthProblem::TooLong { found: 10, max: 9 },
        }
    );
    // Also when the input ends right after the prefix.
    assert!(matches!(
        spec.decode(&twenty_digits[..11]),
        Err(Error::InvalidLength {
            problem: LengthProblem::TooLong { .. },
            ..
        })
    ));

    // 18 digits (9 bytes) is the most it holds, and it round-trips.
    let eighteen = unhex("0200 4000000000000000 09 123456789012345678");
    let message = spec.decode(&eighteen).unwrap().complete().unwrap();
    assert_eq!(message.field(2).unwrap().units(), 18);
    let again = Builder::from_message(&message).unwrap().to_bytes();
    assert_eq!(hex(&again), hex(&eighteen));
}

/// Track 1 (`ans`, marked sensitive) may carry `*`. The builder refuses `*` in sensitive fields
/// set by hand (it is the mask character: a masked value pasted back in), but
/// `Builder::from_message` used to refuse it too, so a valid decoded message could not be
/// re-encoded.
#[test]
fn from_message_re_encodes_a_decoded_star_in_a_sensitive_field() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    // Field 45 (track 1, ans..76, LLVAR): "B41*1".
    let wire = b"02000000000000080000" as &[u8];
    let wire = [wire, b"05B41*1"].concat();
    let message = spec.decode(&wire).unwrap().complete().unwrap();
    assert_eq!(message.field(45).unwrap().to_vec(), b"B41*1");
    assert_eq!(message.field(45).unwrap().masked().to_string(), "*****");

    let again = Builder::from_message(&message).unwrap().to_bytes();
    assert_eq!(&again[..], &wire[..]);

    // Setting it by hand is still refused.
    let mut builder = Builder::from_message(&message).unwrap();
    let err = builder.set_str(45, "B41*1").map(|_| ()).unwrap_err();
    assert_eq!(
        err,
        Error::MaskedValue {
            field: FieldPath::field(45)
        }
    );
}

/// The builder wrote messages over 65,535 bytes, which its own decoder (and a two-byte length
/// header) refuses; found in review. A value that would make the message that long is now
/// refused when it is set, whether appended, inserted or replacing another; one byte less fits.
#[test]
fn builder_refuses_a_message_longer_than_the_decoder_reads() {
    let spec = spec(
        r#"
        field = [
          { number = 2, name = "big", class = "b", max = 99999, prefix = 5, prefix_encoding = "ascii" },
          { number = 3, name = "small", class = "n", length = 6 },
        ]
        [spec]
        name = "big"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    // 4 MTI + 8 bitmap + 5 prefix + data: 65,518 data bytes make 65,535.
    let mti = iso8583_codec::Mti::new("0200").unwrap();
    let mut b = Builder::new(&spec, mti);
    let err = b.set(2, vec![0xAB; 65_519]).unwrap_err();
    assert_eq!(err, Error::MessageTooLarge { offset: 65_536 });
    assert_eq!(err.kind(), "invalid_length");

    b.set(2, vec![0xAB; 65_518]).unwrap();
    let bytes = b.to_bytes();
    assert_eq!(bytes.len(), 65_535);
    assert!(spec.decode_complete(&bytes).is_ok());

    // Replacing the value with a longer one, or adding a field, is refused; the message stays.
    assert!(b.set(2, vec![0xAB; 65_519]).is_err());
    let mut small = Builder::new(&spec, mti);
    small.set_str(3, "000000").unwrap();
    assert!(small.set(2, vec![0xAB; 65_513]).is_err());
    small.set(2, vec![0xAB; 65_512]).unwrap();
    assert_eq!(small.to_bytes().len(), 65_535);
    assert_eq!(b.to_bytes().len(), 65_535);
}

/// After a structure-only decode, an `x+n` field may hold any byte where its sign goes.
/// `Field::amount` read every sign but `C` as a debit (`X` gave -100); it reads only `C` and
/// `D`, as `to_u64` reads only digits.
#[test]
fn an_amount_with_a_sign_that_is_not_one_is_no_amount() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let mut builder = Builder::new(spec, iso8583_codec::Mti::new("0200").unwrap());
    builder.set_str(28, "C00000100").unwrap();
    let mut wire = builder.to_bytes().to_vec();
    let decoder = spec.decoder().structure_only(true);
    for (sign, minor) in [
        (b'C', Some(100)),
        (b'D', Some(-100)),
        (b'X', None),
        (b'c', None),
    ] {
        let at = wire.len() - 9;
        wire[at] = sign;
        let message = decoder.decode_complete(&wire).unwrap();
        let amount = message.field(28).unwrap().amount();
        assert_eq!(amount.map(|a| a.minor), minor, "{}", hex(&wire));
    }
}
