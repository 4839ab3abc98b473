//! Property tests over every built-in spec:
//!
//! - a random valid message, generated from the spec itself, survives
//!   builder → bytes → strict decode → same values → `Builder::from_message` → same bytes;
//! - decoding arbitrary bytes never panics, with every combination of decoder options;
//! - neither does decoding a valid message after random byte flips, truncations, insertions
//!   and removals; and whatever such a decode accepts (with content checks) re-encodes, and the
//!   re-encoded bytes decode to the same values.
//!
//! Case counts stay moderate (256 per property) so the suite is quick in debug builds.

use iso8583_codec::{
    Builder, ContentClass, DataEncoding, Decoded, FieldSpec, LengthKind, Message, Mti,
    PrefixCounts, Quirk, Spec,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

// ---------------------------------------------------------------------------------------------
// Generating valid messages from a spec
// ---------------------------------------------------------------------------------------------

const DIGITS: &[u8] = b"0123456789";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ";

/// Printable ASCII; without `*` in sensitive fields, where the builder takes it for masked
/// output pasted back in and refuses it.
fn printable(sensitive: bool) -> Vec<u8> {
    (0x20..0x7F)
        .filter(|&c| !(sensitive && c == b'*'))
        .collect()
}

/// Lengths in units: the fixed length, or mostly short values up to the maximum, even where a
/// prefix counts BCD bytes (it cannot announce a filler digit).
fn length(field: &FieldSpec) -> BoxedStrategy<usize> {
    match field.length {
        LengthKind::Fixed(len) => Just(len as usize).boxed(),
        LengthKind::Variable { prefix, max } => {
            let max = max as usize;
            let bcd = matches!(field.encoding, DataEncoding::Bcd { .. });
            let even = bcd && prefix.counts == PrefixCounts::Bytes;
            prop_oneof![3 => 0..=max.min(24), 1 => 0..=max]
                .prop_map(move |len| if even { len & !1 } else { len })
                .boxed()
        }
    }
}

fn chars(set: Vec<u8>, len: usize) -> BoxedStrategy<Vec<u8>> {
    vec(select(set), len).boxed()
}

/// A valid logical value for `field`, by class and length.
fn value(field: &FieldSpec) -> BoxedStrategy<Vec<u8>> {
    let class = field.class;
    let sensitive = field.sensitivity.is_sensitive();
    let separator = match field.encoding {
        DataEncoding::Bcd { .. } => b'D',
        _ => b'=',
    };
    length(field)
        .prop_flat_map(move |len| match class {
            ContentClass::N => chars(DIGITS.to_vec(), len),
            ContentClass::A => chars(LETTERS.to_vec(), len),
            ContentClass::An => chars(ALNUM.to_vec(), len),
            ContentClass::Ans => chars(printable(sensitive), len),
            ContentClass::B => vec(any::<u8>(), len).boxed(),
            ContentClass::Z => (chars(DIGITS.to_vec(), len), any::<Option<Index>>())
                .prop_map(move |(mut digits, at)| {
                    if let (Some(at), false) = (at, digits.is_empty()) {
                        let i = at.index(digits.len());
                        digits[i] = separator;
                    }
                    digits
                })
                .boxed(),
            ContentClass::XN => (select(b"CD".to_vec()), chars(DIGITS.to_vec(), len))
                .prop_map(|(sign, digits)| {
                    let mut v = vec![sign];
                    v.extend(digits);
                    v
                })
                .boxed(),
        })
        .boxed()
}

/// A field number and its logical value.
type FieldValue = (u16, Vec<u8>);

/// A message as the builder takes it: MTI digits and values in field order.
#[derive(Debug, Clone)]
struct Plain {
    mti: [u8; 4],
    fields: Vec<FieldValue>,
}

impl Plain {
    fn builder<'s, 'v>(&'v self, spec: &'s Spec) -> Builder<'s, 'v> {
        let mut builder = Builder::new(spec, Mti::from_digits(self.mti).unwrap());
        for (n, v) in &self.fields {
            builder.set(*n, v.as_slice()).unwrap();
        }
        builder
    }
}

/// A random valid message of `spec`: a random subset of its fields (about one in seven) with
/// valid values.
fn message(spec: &'static Spec) -> impl Strategy<Value = Plain> {
    let fields: Vec<BoxedStrategy<Option<FieldValue>>> = spec
        .fields()
        .filter(|f| !spec.is_bitmap_bit(f.number))
        .map(|f| {
            let n = f.number;
            proptest::option::weighted(0.15, value(f).prop_map(move |v| (n, v))).boxed()
        })
        .collect();
    (vec(select(DIGITS.to_vec()), 4), fields).prop_map(|(mti, fields)| Plain {
        mti: [mti[0], mti[1], mti[2], mti[3]],
        fields: fields.into_iter().flatten().collect(),
    })
}

fn values(message: &Message<'_>) -> Vec<FieldValue> {
    message.fields().map(|f| (f.number(), f.to_vec())).collect()
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

fn round_trip(spec: &'static Spec, plain: &Plain) -> Result<(), TestCaseError> {
    let builder = plain.builder(spec);
    let wire = builder.to_bytes();
    prop_assert_eq!(wire.len(), builder.encoded_len());

    let message = match spec.decoder().strict(true).decode(&wire) {
        Ok(Decoded::Complete(message)) => message,
        other => return Err(TestCaseError::fail(format!("{other:?}"))),
    };
    prop_assert!(message.quirks().is_empty());
    prop_assert_eq!(message.mti().digits(), plain.mti);
    prop_assert_eq!(&values(&message), &plain.fields);
    for field in message.fields() {
        prop_assert_eq!(field.value().len(), field.to_vec().len());
    }

    let again = Builder::from_message(&message).unwrap().to_bytes();
    prop_assert_eq!(&again[..], &wire[..]);
    Ok(())
}

/// Every combination of the three decoder options.
fn decoders(spec: &Spec) -> impl Iterator<Item = (iso8583_codec::Decoder<'_>, bool)> + '_ {
    (0..8u8).map(move |bits| {
        let structure_only = bits & 4 != 0;
        let decoder = spec
            .decoder()
            .strict(bits & 1 != 0)
            .keep_trailing(bits & 2 != 0)
            .structure_only(structure_only);
        (decoder, !structure_only)
    })
}

/// Reads everything a decoded message offers, as a caller would.
fn read_everything(message: &Message<'_>) -> usize {
    let mut seen = message.as_bytes().len() + message.trailing().len();
    for field in message.fields() {
        seen += field.value().count() + field.raw().len() + field.units();
        seen += field.digits().map_or(0, Iterator::count);
        seen += usize::from(field.amount().is_some()) + usize::from(field.to_u64().is_some());
        seen += field.as_str().map_or(0, str::len);
        seen += field.masked().to_string().len();
        let span = message.span_of(field.number()).unwrap();
        assert!(span.end <= message.as_bytes().len());
        seen += message.bytes_before(field.number()).len();
    }
    seen + message.to_string().len() + format!("{message:?}").len()
}

/// Decodes `input` with every option combination; whatever decodes with content checks must
/// re-encode, and the re-encoded bytes must decode (strictly, but for non-ASCII text) to the
/// same values.
fn decode_anything(spec: &Spec, input: &[u8]) -> Result<(), TestCaseError> {
    for (decoder, checked) in decoders(spec) {
        let message = match decoder.decode(input) {
            Ok(Decoded::Complete(message)) => message,
            Ok(Decoded::Incomplete(i)) => {
                prop_assert!(i.needed > 0);
                continue;
            }
            Err(e) => {
                let _ = e.to_string();
                continue;
            }
        };
        read_everything(&message);
        let rebuilt = Builder::from_message(&message);
        if !checked {
            // Unchecked content may well be refused; it must not panic either way.
            if let Ok(builder) = rebuilt {
                let _ = builder.to_bytes();
            }
            continue;
        }
        let builder = match rebuilt {
            Ok(builder) => builder,
            Err(e) => return Err(TestCaseError::fail(format!("re-encoding refused: {e:?}"))),
        };
        let again = builder.to_bytes();
        let text_stays = message.quirks().first(Quirk::NonAsciiText).is_some();
        let redecoded = spec.decoder().strict(!text_stays).decode(&again);
        let redecoded = match redecoded {
            Ok(Decoded::Complete(m)) => m,
            other => return Err(TestCaseError::fail(format!("re-encoded: {other:?}"))),
        };
        prop_assert_eq!(values(&redecoded), values(&message));
        prop_assert_eq!(redecoded.mti(), message.mti());
    }
    Ok(())
}

/// One change to a valid message.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), vec(any::<u8>(), 1..4)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1..4usize).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn mutate(wire: &mut Vec<u8>, mutation: &Mutation) {
    if wire.is_empty() {
        return;
    }
    match mutation {
        Mutation::Flip(i, x) => {
            let i = i.index(wire.len());
            wire[i] ^= x;
        }
        Mutation::Set(i, b) => {
            let i = i.index(wire.len());
            wire[i] = *b;
        }
        Mutation::Truncate(i) => wire.truncate(i.index(wire.len())),
        Mutation::Insert(i, bytes) => {
            let i = i.index(wire.len() + 1);
            wire.splice(i..i, bytes.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let i = i.index(wire.len());
            let end = (i + n).min(wire.len());
            wire.drain(i..end);
        }
    }
}

/// Arbitrary bytes; half of them start with a valid MTI in the spec's encoding, so that the
/// decoder gets past it.
fn arbitrary_input(spec: &'static Spec) -> impl Strategy<Value = Vec<u8>> {
    let mti: &'static [u8] = match spec.mti_encoding() {
        iso8583_codec::MtiEncoding::Ascii => b"0200",
        iso8583_codec::MtiEncoding::Ebcdic => &[0xF0, 0xF2, 0xF0, 0xF0],
        iso8583_codec::MtiEncoding::Bcd => &[0x02, 0x00],
    };
    (any::<bool>(), vec(any::<u8>(), 0..300)).prop_map(move |(with_mti, rest)| {
        if with_mti {
            mti.iter().copied().chain(rest).collect()
        } else {
            rest
        }
    })
}

macro_rules! properties_of {
    ($($module:ident => $name:literal),* $(,)?) => {$(
        mod $module {
            use super::*;

            fn spec() -> &'static Spec {
                Spec::builtin($name).unwrap()
            }

            proptest! {
                #![proptest_config(config())]

                #[test]
                fn valid_messages_round_trip(plain in message(spec())) {
                    round_trip(spec(), &plain)?;
                }

                #[test]
                fn arbitrary_bytes_never_panic(input in arbitrary_input(spec())) {
                    decode_anything(spec(), &input)?;
                }

                #[test]
                fn mutated_messages_never_panic(
                    plain in message(spec()),
                    mutations in vec(mutation(), 1..4),
                ) {
                    let mut wire = plain.builder(spec()).to_bytes().to_vec();
                    for m in &mutations {
                        mutate(&mut wire, m);
                    }
                    decode_anything(spec(), &wire)?;
                }
            }
        }
    )*};
}

properties_of! {
    iso87_ascii => "iso87-ascii",
    iso87_binary => "iso87-binary",
    iso93_ascii => "iso93-ascii",
    cup_pos => "cup-pos",
    intl_pos => "intl-pos",
}
