//! Helpers shared by the integration tests: hex fixtures, small specs from TOML text, and the
//! decode / re-encode round trip every fixture goes through.

#![allow(dead_code)] // each test crate uses a different part of this module

use iso8583_codec::{
    Builder, ContentClass, DataEncoding, FieldSpec, LengthKind, Message, Mti, PrefixCounts, Spec,
};

/// Bytes of a hex fixture; whitespace and `|` (used to separate items) are ignored.
pub(crate) fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .map(|c| {
            c.to_digit(16)
                .unwrap_or_else(|| panic!("{c:?} is not a hex digit")) as u8
        })
        .collect();
    assert!(
        digits.len() % 2 == 0,
        "odd number of hex digits in {text:?}"
    );
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// Upper-case hex, for readable assertion failures.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A spec from TOML text, panicking with the lint's report if it does not load.
pub(crate) fn spec(toml: &str) -> Spec {
    Spec::from_toml_str(toml).unwrap_or_else(|e| panic!("test spec does not load: {e}"))
}

/// Decodes a whole message with the default (lenient) options.
pub(crate) fn decode<'a>(spec: &'a Spec, wire: &'a [u8]) -> Message<'a> {
    spec.decode(wire).unwrap().complete().unwrap()
}

/// The canonical-fixture check: `wire` decodes strictly, without quirks, to `mti` and exactly
/// the fields of `expected` (logical values), and both re-encoding the message and building it
/// from scratch from `expected` give `wire` back.
pub(crate) fn round_trip(spec: &Spec, mti: &str, wire: &[u8], expected: &[(u16, &[u8])]) {
    let message = spec
        .decoder()
        .strict(true)
        .decode(wire)
        .unwrap()
        .complete()
        .unwrap();
    assert!(message.quirks().is_empty(), "{:?}", message.quirks());
    assert_eq!(message.mti().as_str(), mti);
    assert_eq!(message.as_bytes(), wire);
    let present: Vec<u16> = message.fields().map(|f| f.number()).collect();
    let wanted: Vec<u16> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(present, wanted, "fields present");
    for (n, value) in expected {
        let field = message.field(*n).unwrap();
        assert_eq!(hex(&field.to_vec()), hex(value), "value of field {n}");
        assert_eq!(
            field.value().len(),
            value.len(),
            "value length of field {n}"
        );
    }

    let again = Builder::from_message(&message).unwrap().to_bytes();
    assert_eq!(hex(&again), hex(wire), "re-encoded from the message");

    let mut builder = Builder::new(spec, Mti::new(mti).unwrap());
    for (n, value) in expected {
        builder.set(*n, value.to_vec()).unwrap();
    }
    assert_eq!(builder.encoded_len(), wire.len());
    assert_eq!(hex(&builder.to_bytes()), hex(wire), "built from the values");
}

/// A valid logical value for a field, deterministic: the fixed length, or for a variable field
/// an odd length up to 17 (even where BCD digits are counted in bytes), in the field's class.
pub(crate) fn sample_value(field: &FieldSpec) -> Vec<u8> {
    let len = match field.length {
        LengthKind::Fixed(len) => len as usize,
        LengthKind::Variable { prefix, max } => {
            let len = (max as usize).min(17);
            let bcd = matches!(field.encoding, DataEncoding::Bcd { .. });
            if bcd && prefix.counts == PrefixCounts::Bytes {
                len & !1
            } else {
                len
            }
        }
    };
    let digit = |i: usize| b'0' + ((i * 7 + 3) % 10) as u8;
    match field.class {
        ContentClass::N => (0..len).map(digit).collect(),
        ContentClass::Z => {
            let separator = match field.encoding {
                DataEncoding::Bcd { .. } => b'D',
                _ => b'=',
            };
            (0..len)
                .map(|i| {
                    if len > 2 && i == len / 2 {
                        separator
                    } else {
                        digit(i)
                    }
                })
                .collect()
        }
        ContentClass::XN => std::iter::once(b'C').chain((0..len).map(digit)).collect(),
        ContentClass::A => (0..len)
            .map(|i| {
                if i % 5 == 4 {
                    b' '
                } else {
                    b'A' + (i % 26) as u8
                }
            })
            .collect(),
        ContentClass::An => (0..len).map(|i| b"Ab3 Z9"[i % 6]).collect(),
        ContentClass::Ans => (0..len).map(|i| b"Ab3 -/.#"[i % 8]).collect(),
        ContentClass::B => (0..len).map(|i| (i * 37 + 11) as u8).collect(),
    }
}

/// Field numbers a representative message sets, where the spec defines them: the usual
/// financial-request fields, fields of every class, and some of the secondary bitmap.
pub(crate) const REPRESENTATIVE: [u16; 34] = [
    2, 3, 4, 7, 11, 12, 13, 14, 22, 23, 25, 28, 32, 35, 37, 38, 39, 41, 42, 43, 48, 49, 52, 53, 55,
    60, 62, 63, 64, 70, 90, 102, 125, 128,
];

/// A representative 0200 for a spec (see [`REPRESENTATIVE`]), as a builder.
pub(crate) fn representative(spec: &Spec) -> Builder<'_, 'static> {
    let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
    for n in REPRESENTATIVE {
        if let Some(field) = spec.field(n).filter(|_| !spec.is_bitmap_bit(n)) {
            builder.set(n, sample_value(field)).unwrap();
        }
    }
    builder
}
