//! BER-TLV through the public API: field 55 of both benchmark messages read as data objects,
//! objects written and read back (property), arbitrary bytes read without a panic and with the
//! walk always ending (property), and the alloc-free claim for the reader.

mod common;

use bytes::BytesMut;
use common::unhex;
use iso8583_codec::tlv::{self, Tag, Tlvs};
use iso8583_codec::{Error, Spec};
use proptest::collection::vec;
use proptest::prelude::*;

/// The nine objects of the benchmark messages' EMV data, as `benches/data/README.md` lists them.
const EMV: [(u32, &str); 9] = [
    (0x9F26, "1A2B3C4D5E6F7081"),
    (0x9F27, "80"),
    (0x9F10, "06010A03A00000"),
    (0x9F37, "9BADBCAB"),
    (0x9F36, "0001"),
    (0x95, "0000000000"),
    (0x9A, "261203"),
    (0x9C, "00"),
    (0x9F02, "000000001000"),
];

fn objects(data: &[u8]) -> Vec<(u32, Vec<u8>)> {
    Tlvs::new(data)
        .map(|t| t.map(|t| (t.tag().value(), t.value().to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn expected() -> Vec<(u32, Vec<u8>)> {
    EMV.iter().map(|&(t, v)| (t, unhex(v))).collect()
}

/// A benchmark message's bytes, from `tests/data/`, and its built-in spec.
fn bench_message(file: &str, spec: &str) -> (Vec<u8>, &'static Spec) {
    let wire = unhex(&std::fs::read_to_string(format!("tests/data/{file}")).unwrap());
    (wire, Spec::builtin(spec).unwrap())
}

#[test]
fn field_55_of_the_binary_message_reads_as_its_nine_objects_in_place() {
    let (wire, spec) = bench_message("b.hex", "cup-pos");
    let message = spec.decode_complete(&wire).unwrap();
    let field = message.field(55).unwrap();
    let read: Vec<_> = field.tlvs().unwrap().map(Result::unwrap).collect();
    let got: Vec<_> = read
        .iter()
        .map(|t| (t.tag().value(), t.value().to_vec()))
        .collect();
    assert_eq!(got, expected());
    // Offsets count in the message, and each value is the message's own bytes.
    for t in &read {
        let at = t.value_offset();
        assert_eq!(&wire[at..at + t.value().len()], t.value());
        assert_eq!(
            t.span().end - t.offset(),
            t.tag().len() + 1 + t.value().len()
        );
    }
    assert_eq!(read[0].offset(), field.offset());
    // Other fields have no TLV view.
    assert!(message.field(41).unwrap().tlvs().is_none());
}

#[test]
fn field_55_written_as_hex_text_reads_through_its_logical_value() {
    let (wire, spec) = bench_message("a.hex", "iso87-ascii");
    let message = spec.decode_complete(&wire).unwrap();
    let field = message.field(55).unwrap();
    assert!(field.tlvs().is_none(), "hex text is not read in place");
    assert_eq!(objects(&field.to_vec()), expected());
}

#[test]
fn objects_written_one_after_another_make_the_benchmark_data() {
    let mut out = BytesMut::new();
    for (tag, value) in expected() {
        tlv::put(&mut out, Tag::new(tag).unwrap(), &value);
    }
    let fields: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/data/fields.json").unwrap()).unwrap();
    assert_eq!(&out[..], unhex(fields["emv_tlv_hex"].as_str().unwrap()));
}

#[test]
fn reading_allocates_nothing() {
    let data = unhex("9F26081A2B3C4D5E6F7081 70 07 57 02 6212 5A 01 41 00 00 95 00");
    let mut found = 0;
    let count = allocation_counter::measure(|| {
        for t in Tlvs::new(&data) {
            let t = t.unwrap();
            if t.is_constructed() {
                found += t.children().filter(|c| c.is_ok()).count();
            }
            found += 1;
        }
    });
    assert_eq!(found, 5);
    assert_eq!(count.count_total, 0);
}

/// A well-formed tag of one to four bytes: the low five bits of the first byte all set when
/// more follow, the top bit set on each later byte but the last.
fn any_tag() -> impl Strategy<Value = Tag> {
    (any::<u8>(), vec(any::<u8>(), 0..=3)).prop_filter_map("not a padding byte", |(first, more)| {
        let mut bytes = vec![if more.is_empty() {
            first & !0x01
        } else {
            first | 0x1F
        }];
        let last = more.len().saturating_sub(1);
        bytes.extend(
            more.iter()
                .enumerate()
                .map(|(i, b)| if i == last { b & 0x7F } else { b | 0x80 }),
        );
        Tag::new(bytes.iter().fold(0u32, |t, &b| t << 8 | u32::from(b)))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any list of objects, written, reads back as the same list with the spans end to end.
    #[test]
    fn written_objects_read_back(list in vec((any_tag(), vec(any::<u8>(), 0..300)), 0..8)) {
        let mut out = BytesMut::new();
        for (tag, value) in &list {
            tlv::put(&mut out, *tag, value);
        }
        let read: Vec<_> = Tlvs::new(&out).collect::<Result<_, Error>>().unwrap();
        prop_assert_eq!(read.len(), list.len());
        let mut end = 0;
        for (t, (tag, value)) in read.iter().zip(&list) {
            prop_assert_eq!(t.tag(), *tag);
            prop_assert_eq!(t.value(), &value[..]);
            prop_assert_eq!(t.offset(), end);
            end = t.span().end;
        }
        prop_assert_eq!(end, out.len());
    }

    /// Arbitrary bytes, walked as deep as they go: no panic, objects inside the data, offsets
    /// rising, and the walk ends after at most one object (or padding byte) per byte.
    #[test]
    fn arbitrary_bytes_are_walked_safely(data in vec(any::<u8>(), 0..200)) {
        let mut stack = vec![(Tlvs::new(&data), None)];
        let mut steps = 0;
        while let Some((mut level, last)) = stack.pop() {
            let Some(item) = level.next() else { continue };
            steps += 1;
            prop_assert!(steps <= data.len(), "more objects than bytes");
            match item {
                Ok(t) => {
                    prop_assert!(t.span().end <= data.len());
                    prop_assert!(t.offset() < t.value_offset());
                    prop_assert_eq!(&data[t.value_offset()..t.span().end], t.value());
                    if let Some(previous) = last {
                        prop_assert!(t.offset() >= previous, "objects out of order");
                    }
                    stack.push((level, Some(t.span().end)));
                    if t.is_constructed() {
                        stack.push((t.children(), None));
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e.kind(), "invalid_tlv");
                    prop_assert!(e.offset() <= data.len());
                    prop_assert!(level.next().is_none());
                }
            }
        }
    }
}
