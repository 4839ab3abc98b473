//! `Builder::set` takes borrowed values set in number order through a quick path, and
//! everything else (owned values, out-of-order sets, values its quick check does not accept)
//! the full way. These tests hold the two to the same outcome: the same value, borrowed or
//! owned, in order or not, is accepted or refused alike, with the same error.

mod common;

use iso8583_codec::{Builder, ContentClass, Error, Mti, Spec};

/// Values for every class and kind of field of `intl-pos`, `iso87-ascii` and `cup-pos`: good
/// ones, wrong lengths, bad bytes at the start, middle and end, bytes above 0x7F, `*`.
fn candidates(len: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for l in [0, 1, 2, 3, len.saturating_sub(1), len, len + 1] {
        for fill in [b'7', b'Q', b' ', b'=', b'D'] {
            let base = vec![fill; l];
            out.push(base.clone());
            for at in [0, l / 2, l.saturating_sub(1)] {
                for bad in [b'*', b'a', b'/', b':', 0x7F, 0x80, 0xD6, 0x00, b'-'] {
                    let mut v = base.clone();
                    if let Some(b) = v.get_mut(at) {
                        *b = bad;
                        out.push(v);
                    }
                }
            }
        }
    }
    out
}

/// What setting `value` on field `n` of a builder already holding field `before` (if any)
/// gives: the error, or the bytes then written.
fn outcome(
    spec: &Spec,
    strict: bool,
    before: Option<u16>,
    n: u16,
    value: &[u8],
    owned: bool,
) -> Result<Vec<u8>, Error> {
    let mut builder = Builder::new(spec, Mti::new("0200").unwrap()).strict(strict);
    if let Some(before) = before {
        let field = spec.field(before).unwrap();
        let len = match field.length {
            iso8583_codec::LengthKind::Fixed(len) => len as usize,
            iso8583_codec::LengthKind::Variable { .. } => 2,
        };
        // `before` is a numeric field.
        builder.set(before, vec![b'1'; len]).unwrap();
    }
    let result = if owned {
        builder.set(n, value.to_vec())
    } else {
        builder.set(n, value)
    };
    result.map(|b| b.to_bytes().to_vec())
}

/// For every field of three specs and many values: borrowed in number order (the quick path)
/// gives what owned gives (the full way), strict and lenient, and set after a higher field
/// (out of order, also the full way) it is accepted or refused alike, with the same error.
#[test]
fn borrowed_and_owned_values_are_checked_alike() {
    let mut accepted = 0;
    let mut refused = 0;
    for name in ["intl-pos", "iso87-ascii", "cup-pos"] {
        let spec = Spec::builtin(name).unwrap();
        for field in spec.fields().filter(|f| !spec.is_bitmap_bit(f.number)) {
            let n = field.number;
            let units = field.max_units() as usize;
            // A numeric field after this one, set first so that this one comes out of order.
            let higher = spec
                .fields()
                .filter(|f| f.number > n && f.class == ContentClass::N)
                .map(|f| f.number)
                .last();
            for value in candidates(units.min(40)) {
                for strict in [false, true] {
                    let quick = outcome(spec, strict, None, n, &value, false);
                    let full = outcome(spec, strict, None, n, &value, true);
                    assert_eq!(quick, full, "{name} field {n} strict {strict}: {value:?}");
                    if let Some(m) = higher {
                        let out_of_order = outcome(spec, strict, Some(m), n, &value, false);
                        assert_eq!(out_of_order.is_ok(), quick.is_ok(), "{name} {n}: {value:?}");
                        assert_eq!(out_of_order.err(), quick.clone().err());
                    }
                    match quick {
                        Ok(_) => accepted += 1,
                        Err(_) => refused += 1,
                    }
                }
            }
        }
    }
    // Both outcomes are common, so the comparison says something either way.
    assert!(
        accepted > 1_000 && refused > 10_000,
        "{accepted} / {refused}"
    );
}

/// A value set out of number order, borrowed, goes the full way and lands in its place.
#[test]
fn borrowed_values_out_of_order_and_replaced() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let mut in_order = Builder::new(spec, Mti::new("0200").unwrap());
    in_order.set_str(3, "000000").unwrap();
    in_order.set_str(11, "000001").unwrap();
    in_order.set_str(41, "TERM0001").unwrap();
    let mut shuffled = Builder::new(spec, Mti::new("0200").unwrap());
    shuffled.set_str(41, "TERM9999").unwrap();
    shuffled.set_str(3, "000000").unwrap();
    shuffled.set_str(11, "000001").unwrap();
    shuffled.set_str(41, "TERM0001").unwrap();
    assert_eq!(shuffled.to_bytes(), in_order.to_bytes());
    assert_eq!(shuffled.encoded_len(), in_order.to_bytes().len());
}

/// A sensitive `ans` value holding `*` is refused as masked output whether borrowed or owned;
/// the same text in a field that is not sensitive is accepted.
#[test]
fn masked_values_are_refused_borrowed_too() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
    let field = spec.field(45).unwrap();
    assert!(field.sensitivity.is_sensitive());
    let err = builder.set_str(45, "B4111*1111").map(|_| ()).unwrap_err();
    assert!(matches!(err, Error::MaskedValue { .. }), "{err:?}");
    assert_eq!(builder.fields().count(), 0);
    builder.set_str(48, "B4111*1111").unwrap();
    assert_eq!(builder.get(48), Some(&b"B4111*1111"[..]));
}

/// The length limit holds for borrowed values appended through the quick path: a field that
/// would make the message longer than 65,535 bytes is refused and not kept.
#[test]
fn borrowed_values_past_the_message_limit_are_refused() {
    let spec = common::spec(
        r#"
        field = [
          { number = 2, name = "big", class = "b", max = 99999, prefix = 5, prefix_encoding = "ascii" },
          { number = 3, name = "more", class = "b", max = 99999, prefix = 5, prefix_encoding = "ascii" },
        ]
        [spec]
        name = "big"
        mti = "ascii"
        bitmap = "binary"
        "#,
    );
    let big = vec![0xAB; 65_519];
    let mut b = Builder::new(&spec, Mti::new("0200").unwrap());
    let err = b.set(2, &big[..]).map(|_| ()).unwrap_err();
    assert_eq!(err, Error::MessageTooLarge { offset: 65_536 });
    assert_eq!(b.fields().count(), 0);
    assert_eq!(b.encoded_len(), 12);

    b.set(2, &big[..65_000]).unwrap();
    assert!(b.set(3, &big[..514]).is_err());
    assert_eq!(b.get(3), None);
    b.set(3, &big[..513]).unwrap();
    assert_eq!(b.to_bytes().len(), 65_535);
}
