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
use proptest::test_runner::FileFailurePersistence;

/// 256 cases; failures are saved in `tests/proptest-regressions/` (committed) and replayed
/// first on every run.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/proptest.txt",
        ))),
        ..ProptestConfig::with_cases(256)
    }
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

/// A random valid message of `spec`: a random subset of its fields (each present with
/// probability `p`) with valid values.
fn message(spec: &'static Spec, p: f64) -> impl Strategy<Value = Plain> {
    let fields: Vec<BoxedStrategy<Option<FieldValue>>> = spec
        .fields()
        .filter(|f| !spec.is_bitmap_bit(f.number))
        .map(|f| {
            let n = f.number;
            proptest::option::weighted(p, value(f).prop_map(move |v| (n, v))).boxed()
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
    // Canonical input is what the fast path exists for: it must not hand it to the full walk.
    prop_assert!(spec.decoder().fast_walk_accepts(&wire));
    prop_assert_eq!(message.mti().digits(), plain.mti);
    prop_assert_eq!(&values(&message), &plain.fields);
    for field in message.fields() {
        prop_assert_eq!(field.value().len(), field.to_vec().len());
    }

    let again = Builder::from_message(&message).unwrap().to_bytes();
    prop_assert_eq!(&again[..], &wire[..]);
    for (decoder, _) in decoders(spec) {
        same_through_both_walks(decoder, &wire)?;
    }
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
        same_through_both_walks(decoder, input)?;
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

/// The decoder's fast path (canonical input) and its full walk give the same outcome: the
/// same message with the same values and quirks, the same error, or the same need for bytes.
fn same_through_both_walks(
    decoder: iso8583_codec::Decoder<'_>,
    input: &[u8],
) -> Result<(), TestCaseError> {
    let fast = decoder.decode(input);
    let full = decoder.full_walk_only(true).decode(input);
    match (&fast, &full) {
        (Ok(Decoded::Complete(a)), Ok(Decoded::Complete(b))) => {
            prop_assert_eq!(a.mti(), b.mti());
            prop_assert_eq!(a.bitmap(), b.bitmap());
            prop_assert_eq!(a.quirks(), b.quirks());
            prop_assert_eq!(a.as_bytes(), b.as_bytes());
            prop_assert_eq!(values(a), values(b));
        }
        (Ok(Decoded::Incomplete(a)), Ok(Decoded::Incomplete(b))) => prop_assert_eq!(a, b),
        (Err(a), Err(b)) => prop_assert_eq!(a, b),
        _ => {
            return Err(TestCaseError::fail(format!(
                "fast {fast:?} but full {full:?}"
            )))
        }
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
                fn valid_messages_round_trip(plain in message(spec(), 0.15)) {
                    round_trip(spec(), &plain)?;
                }

                /// Most fields set: more items than the message keeps every start of.
                #[test]
                fn full_messages_round_trip(plain in message(spec(), 0.7)) {
                    round_trip(spec(), &plain)?;
                }

                #[test]
                fn arbitrary_bytes_never_panic(input in arbitrary_input(spec())) {
                    decode_anything(spec(), &input)?;
                }

                #[test]
                fn mutated_messages_never_panic(
                    plain in message(spec(), 0.15),
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

// ---------------------------------------------------------------------------------------------
// Random specs: the layouts the built-ins do not use (EBCDIC, hex-EBCDIC, binary prefixes,
// fillers, byte counts, tertiary bitmaps), in random combinations.
// ---------------------------------------------------------------------------------------------

/// One `[[field]]` of a generated spec file.
#[derive(Debug, Clone)]
struct FieldDef {
    number: u16,
    class: &'static str,
    encoding: &'static str,
    /// `Ok(length)` for fixed fields, `Err((max, digits, prefix encoding, counts))` for
    /// variable ones.
    length: Result<u32, (u32, u8, &'static str, &'static str)>,
    pad: Option<(&'static str, u8)>,
    sensitive: Option<&'static str>,
}

/// Wire bytes of `units` units, as the specs README defines them.
fn wire_len(class: &str, encoding: &str, units: u32) -> u32 {
    let sign = u32::from(class == "x+n");
    match encoding {
        "hex" | "hex-ebcdic" => 2 * units,
        "bcd" => sign + units.div_ceil(2),
        _ => sign + units,
    }
}

/// Largest count a prefix of `digits` digits in `encoding` holds.
fn capacity(digits: u8, encoding: &str) -> u32 {
    match encoding {
        "binary" => (1u32 << (8 * u32::from(digits).div_ceil(2))) - 1,
        _ => 10u32.pow(u32::from(digits)) - 1,
    }
}

fn field_def(number: u16) -> impl Strategy<Value = FieldDef> {
    let class = select(vec!["n", "a", "an", "ans", "b", "z", "x+n"]);
    class.prop_flat_map(move |class| {
        let encodings = match class {
            "n" | "z" | "x+n" => vec!["ascii", "ebcdic", "ebcdic-1047", "bcd"],
            "a" | "an" | "ans" => vec!["ascii", "ebcdic-037", "ebcdic-1047"],
            _ => vec!["binary", "hex", "hex-ebcdic"],
        };
        let sensitivities = match class {
            "b" => vec![None, Some("pin"), Some("key"), Some("emv")],
            _ => vec![None, Some("pan"), Some("track"), Some("cvv")],
        };
        let size = prop_oneof![3 => 1..=24u32, 1 => 1..=999u32];
        let prefix = (
            1..=6u8,
            select(vec!["ascii", "ebcdic", "bcd", "binary"]),
            any::<bool>(),
        );
        let pad = proptest::option::of((select(vec!["left", "right"]), 0..=15u8));
        (
            select(encodings),
            any::<bool>(),
            size,
            prefix,
            pad,
            select(sensitivities),
        )
            .prop_map(
                move |(encoding, fixed, size, (digits, prefix_encoding, bytes), pad, sensitive)| {
                    let bcd = encoding == "bcd";
                    let length = if fixed {
                        Ok(size)
                    } else {
                        // An x+n field in BCD cannot count bytes; shrink the maximum until the
                        // prefix can announce it.
                        let bytes = bytes && !(bcd && class == "x+n");
                        let counted = |max| {
                            if bytes {
                                wire_len(class, encoding, max)
                            } else {
                                max
                            }
                        };
                        let mut max = size;
                        while counted(max) > capacity(digits, prefix_encoding) {
                            max -= 1;
                        }
                        Err((
                            max,
                            digits,
                            prefix_encoding,
                            if bytes { "bytes" } else { "units" },
                        ))
                    };
                    FieldDef {
                        number,
                        class,
                        encoding,
                        length,
                        pad: pad.filter(|_| bcd),
                        sensitive,
                    }
                },
            )
    })
}

fn spec_text(mti: &str, bitmap: &str, tertiary: bool, fields: &[FieldDef]) -> String {
    let mut text = format!(
        "[spec]\nname = \"random\"\nmti = \"{mti}\"\nbitmap = \"{bitmap}\"\ntertiary_bitmap = {tertiary}\n"
    );
    for f in fields {
        text += &format!(
            "\n[[field]]\nnumber = {}\nname = \"f{}\"\nclass = \"{}\"\nencoding = \"{}\"\n",
            f.number, f.number, f.class, f.encoding
        );
        match f.length {
            Ok(length) => text += &format!("length = {length}\n"),
            Err((max, digits, encoding, counts)) => {
                text += &format!(
                    "max = {max}\nprefix = {digits}\nprefix_encoding = \"{encoding}\"\nprefix_counts = \"{counts}\"\n"
                )
            }
        }
        if let Some((pad, filler)) = f.pad {
            text += &format!("pad = \"{pad}\"\nfiller = {filler}\n");
        }
        if let Some(sensitive) = f.sensitive {
            text += &format!("sensitive = \"{sensitive}\"\n");
        }
    }
    text
}

/// The text of a random spec file of one to eight fields; a tertiary bitmap in half of them.
fn random_spec_text() -> impl Strategy<Value = String> {
    let numbers = proptest::sample::subsequence((2..=192u16).collect::<Vec<_>>(), 1..8);
    (
        select(vec!["ascii", "ebcdic", "bcd"]),
        select(vec!["binary", "hex", "hex-ebcdic"]),
        any::<bool>(),
        numbers,
    )
        .prop_flat_map(|(mti, bitmap, tertiary, numbers)| {
            let top = if tertiary { 192 } else { 128 };
            let mut numbers: Vec<u16> = numbers
                .into_iter()
                .filter(|&n| n <= top && !(tertiary && n == 65))
                .collect();
            if numbers.is_empty() {
                numbers.push(2);
            }
            let fields: Vec<_> = numbers.into_iter().map(field_def).collect();
            fields.prop_map(move |fields| spec_text(mti, bitmap, tertiary, &fields))
        })
}

/// A random spec (loaded; kept for the rest of the run) and a random valid message of it.
fn random_spec_and_message() -> impl Strategy<Value = (String, &'static Spec, Plain)> {
    random_spec_text().prop_flat_map(|text| {
        let spec = Spec::from_toml_str(&text)
            .unwrap_or_else(|e| panic!("generated spec does not load: {e}\n{text}"));
        let spec: &'static Spec = Box::leak(Box::new(spec));
        (Just(text), Just(spec), message(spec, 0.6))
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_specs_round_trip((_text, spec, plain) in random_spec_and_message()) {
        round_trip(spec, &plain)?;
    }

    #[test]
    fn random_specs_mutated_messages_never_panic(
        (_text, spec, plain) in random_spec_and_message(),
        mutations in vec(mutation(), 1..4),
    ) {
        let mut wire = plain.builder(spec).to_bytes().to_vec();
        for m in &mutations {
            mutate(&mut wire, m);
        }
        decode_anything(spec, &wire)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The length limit: a prefix one count past the longest value the builder writes is refused.
// ---------------------------------------------------------------------------------------------

/// A length prefix holding `count`, written as `prefix` says.
fn write_prefix(prefix: &iso8583_codec::Prefix, count: u64) -> Vec<u8> {
    use iso8583_codec::PrefixEncoding;
    let width = prefix.width();
    match prefix.encoding {
        PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => {
            let zero = if prefix.encoding == PrefixEncoding::Ascii {
                b'0'
            } else {
                0xF0
            };
            let text = format!("{count:0width$}", width = usize::from(prefix.digits));
            text.bytes().map(|d| zero + (d - b'0')).collect()
        }
        PrefixEncoding::Bcd => {
            let text = format!("{count:0width$}", width = 2 * width);
            text.as_bytes()
                .chunks(2)
                .map(|p| ((p[0] - b'0') << 4) | (p[1] - b'0'))
                .collect()
        }
        PrefixEncoding::Binary => count.to_be_bytes()[8 - width..].to_vec(),
    }
}

/// Checks every variable field of `spec`: the longest value the builder accepts decodes, and
/// the same message with the prefix one count higher (and the data one unit or byte longer,
/// valid content) is refused as too long, never accepted with more units than the maximum.
fn one_past_the_max_is_refused(spec: &Spec) -> Result<(), TestCaseError> {
    for field in spec.fields().filter(|f| !spec.is_bitmap_bit(f.number)) {
        let Some(prefix) = field.prefix().copied() else {
            continue;
        };
        let bcd = matches!(field.encoding, DataEncoding::Bcd { .. });
        let bytes = prefix.counts == PrefixCounts::Bytes;
        let longest = field.max_units() as usize & if bytes && bcd { !1 } else { !0 };
        let unit = match field.class {
            ContentClass::B => 0x00,
            ContentClass::A | ContentClass::An | ContentClass::Ans => b'A',
            _ => b'0',
        };
        let mut value = vec![unit; longest];
        if field.class == ContentClass::XN {
            value.insert(0, b'C');
        }
        let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
        builder.set(field.number, value).unwrap();
        let wire = builder.to_bytes();
        let data_len = field.wire_len(longest);
        let prefix_at = wire.len() - data_len - prefix.width();
        let decoded = spec.decode(&wire).unwrap().complete().unwrap();
        prop_assert_eq!(decoded.field(field.number).unwrap().units(), longest);

        let (count, extra) = if bytes {
            (data_len + 1, 1)
        } else {
            (longest + 1, field.wire_len(longest + 1) - data_len)
        };
        if count as u64 > prefix.capacity() {
            continue; // the prefix cannot even say it
        }
        // A byte of valid content in the field's encoding: '0'/'A' in ASCII or EBCDIC, a zero
        // BCD or binary byte, a hex '0'.
        let filler = match field.encoding {
            DataEncoding::Text(iso8583_codec::Charset::Ascii) => unit,
            DataEncoding::Text(_) => {
                if unit == b'A' {
                    0xC1
                } else {
                    0xF0
                }
            }
            DataEncoding::Hex(iso8583_codec::Charset::Ascii) => b'0',
            DataEncoding::Hex(_) => 0xF0,
            DataEncoding::Bcd { .. } | DataEncoding::Binary => 0x00,
        };
        let mut longer = wire[..prefix_at].to_vec();
        longer.extend(write_prefix(&prefix, count as u64));
        longer.extend_from_slice(&wire[prefix_at + prefix.width()..]);
        longer.extend(std::iter::repeat_n(filler, extra));
        match spec.decode(&longer) {
            Err(iso8583_codec::Error::InvalidLength { field: f, .. })
                if f.field == field.number => {}
            other => {
                return Err(TestCaseError::fail(format!(
                    "field {} (max {}, {:?}): prefix {count} gave {other:?}",
                    field.number,
                    field.max_units(),
                    prefix
                )))
            }
        }
    }
    Ok(())
}

#[test]
fn builtin_specs_refuse_one_past_the_max() {
    for name in Spec::builtin_names() {
        one_past_the_max_is_refused(Spec::builtin(name).unwrap()).unwrap();
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_specs_refuse_one_past_the_max(text in random_spec_text()) {
        let spec = Spec::from_toml_str(&text).unwrap();
        one_past_the_max_is_refused(&spec)?;
    }
}
