//! The builder's storage of set fields against a plain model (a `BTreeMap`): random sequences
//! of sets (in and out of number order, borrowed and owned, replacing earlier values) and
//! removals, long enough that the builder's inline room for fields overflows to the heap and
//! shrinks back below it. After every step the builder must report exactly the model's fields,
//! and the bytes it writes must decode to them.

mod common;

use std::collections::BTreeMap;

use iso8583_codec::{
    Builder, ContentClass, DataEncoding, FieldSpec, LengthKind, Mti, PrefixCounts, Spec,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/builder_storage.txt",
        ))),
        ..ProptestConfig::with_cases(128)
    }
}

/// A valid logical value for `field`, different for each `variant` (0-3) where the field's
/// class and length allow it: its length varies for variable fields and its characters rotate.
fn valid_value(field: &FieldSpec, variant: usize) -> Vec<u8> {
    let units = match field.length {
        LengthKind::Fixed(len) => len as usize,
        LengthKind::Variable { prefix, max } => {
            let len = (3 + 5 * variant).min(max as usize);
            let bcd_bytes = matches!(field.encoding, DataEncoding::Bcd { .. })
                && prefix.counts == PrefixCounts::Bytes;
            if bcd_bytes {
                len & !1
            } else {
                len
            }
        }
    };
    let chars: &[u8] = match field.class {
        ContentClass::A => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ContentClass::An | ContentClass::Ans | ContentClass::B => b"ABCDEFGHIJ0123456789",
        ContentClass::N | ContentClass::Z | ContentClass::XN => b"0123456789",
    };
    let body = (0..units).map(|i| chars[(i + 7 * variant) % chars.len()]);
    match field.class {
        ContentClass::XN => std::iter::once(b'C').chain(body).collect(),
        _ => body.collect(),
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Sets the field at this index of the spec's fields to one of its values.
    Set {
        field: usize,
        variant: usize,
        owned: bool,
    },
    /// Removes the field at this index (if set).
    Remove { field: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<usize>(), 0..4usize, any::<bool>())
            .prop_map(|(field, variant, owned)| Op::Set { field, variant, owned }),
        1 => any::<usize>().prop_map(|field| Op::Remove { field }),
    ]
}

/// The fields a builder can set, and four values for each.
fn settable(spec: &Spec) -> Vec<(u16, Vec<Vec<u8>>)> {
    spec.fields()
        .filter(|f| !spec.is_bitmap_bit(f.number))
        .map(|f| (f.number, (0..4).map(|v| valid_value(f, v)).collect()))
        .collect()
}

/// The builder holds what the model holds, its length is what it writes, and what it writes
/// decodes to the model's fields.
fn same_as_model(
    spec: &Spec,
    builder: &Builder<'_, '_>,
    model: &BTreeMap<u16, Vec<u8>>,
) -> Result<(), TestCaseError> {
    let fields: Vec<(u16, Vec<u8>)> = builder.fields().map(|(n, v)| (n, v.to_vec())).collect();
    let expected: Vec<(u16, Vec<u8>)> = model.iter().map(|(n, v)| (*n, v.clone())).collect();
    prop_assert_eq!(&fields, &expected);
    for (n, v) in model {
        prop_assert_eq!(builder.get(*n), Some(v.as_slice()));
    }
    let bytes = builder.to_bytes();
    prop_assert_eq!(builder.encoded_len(), bytes.len());
    let message = spec.decode_complete(&bytes).unwrap();
    let decoded: Vec<(u16, Vec<u8>)> = message.fields().map(|f| (f.number(), f.to_vec())).collect();
    prop_assert_eq!(&decoded, &expected);
    Ok(())
}

fn run(spec: &'static Spec, ops: &[Op]) -> Result<(), TestCaseError> {
    let fields = settable(spec);
    let mut model = BTreeMap::new();
    let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
    for op in ops {
        match *op {
            Op::Set {
                field,
                variant,
                owned,
            } => {
                let (n, values) = &fields[field % fields.len()];
                let value = &values[variant];
                if owned {
                    builder.set(*n, value.clone()).unwrap();
                } else {
                    builder.set(*n, value.as_slice()).unwrap();
                }
                model.insert(*n, value.clone());
            }
            Op::Remove { field } => {
                let n = fields[field % fields.len()].0;
                prop_assert_eq!(builder.remove(n).map(|v| v.to_vec()), model.remove(&n));
            }
        }
        same_as_model(spec, &builder, &model)?;
    }

    // A builder filled in number order from the model writes the same bytes.
    let mut fresh = Builder::new(spec, Mti::new("0200").unwrap());
    for (n, v) in &model {
        fresh.set(*n, v.as_slice()).unwrap();
    }
    prop_assert_eq!(fresh.to_bytes(), builder.to_bytes());
    Ok(())
}

/// A spec with a tertiary bitmap and a variable field at every number 2-192 but 65 (bit 65
/// announces the tertiary bitmap), so that the bits of all three bitmaps are set and cleared.
fn tertiary_spec() -> &'static Spec {
    static SPEC: std::sync::OnceLock<Spec> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| {
        let fields: String = (2..=192)
            .filter(|&n| n != 65)
            .map(|n| {
                format!("  {{ number = {n}, name = \"f{n}\", class = \"ans\", max = 30, prefix = 2 }},\n")
            })
            .collect();
        common::spec(&format!(
            "field = [\n{fields}]\n[spec]\nname = \"t\"\nmti = \"ascii\"\nbitmap = \"hex\"\n\
             tertiary_bitmap = true\n"
        ))
    })
}

proptest! {
    #![proptest_config(config())]

    /// Up to 120 operations over the 127 fields of ISO 8583:1987: messages grow well past the
    /// builder's inline room and shrink again.
    #[test]
    fn sets_and_removals_agree_with_a_model(ops in proptest::collection::vec(op(), 0..120)) {
        run(Spec::builtin("iso87-ascii").unwrap(), &ops)?;
    }

    /// The same over BCD numerics and BCD lengths, whose wire lengths differ from the values'.
    #[test]
    fn sets_and_removals_agree_with_a_model_in_bcd(ops in proptest::collection::vec(op(), 0..120)) {
        run(Spec::builtin("iso87-binary").unwrap(), &ops)?;
    }

    /// The same with fields up to 192, behind a tertiary bitmap.
    #[test]
    fn sets_and_removals_agree_with_a_model_up_to_192(
        ops in proptest::collection::vec(op(), 0..120)
    ) {
        run(tertiary_spec(), &ops)?;
    }
}

/// Every field of a spec set in reverse number order, then removed from the middle out: the
/// inline room fills, overflows while inserting at the front, and empties again.
#[test]
fn reverse_order_past_the_inline_room_and_back() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let fields = settable(spec);
    let mut model = BTreeMap::new();
    let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
    for (n, values) in fields.iter().rev() {
        builder.set(*n, values[1].as_slice()).unwrap();
        model.insert(*n, values[1].clone());
        same_as_model(spec, &builder, &model).unwrap();
    }
    assert!(model.len() > 100);
    while let Some(&n) = model.keys().nth(model.len() / 2) {
        assert_eq!(builder.remove(n).as_deref(), model.remove(&n).as_deref());
        same_as_model(spec, &builder, &model).unwrap();
    }
    assert_eq!(builder.encoded_len(), 4 + 16);
}

/// A builder of borrowed `'static` values is usable where values of a shorter life are set
/// (the builder is covariant in its values' lifetime).
#[test]
fn a_static_builder_takes_shorter_lived_values() {
    fn shorten<'s, 'short>(b: Builder<'s, 'static>) -> Builder<'s, 'short> {
        b
    }
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let mut builder = Builder::new(spec, Mti::new("0800").unwrap());
    builder.set_str(11, "000123").unwrap();
    let local = String::from("301");
    let mut shorter = shorten(builder);
    shorter.set_str(70, &local).unwrap();
    assert_eq!(
        &shorter.to_bytes()[..],
        b"080080200000000000000400000000000000000123301"
    );
}
