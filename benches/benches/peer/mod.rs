//! The peer measured against: the crates.io crate `iso_8583_rs` (0.2), on message (a).
//!
//! Its spec is built here in code for exactly the fields of message (a), sized as the table in
//! `data/README.md` gives them: ASCII fixed, LLVAR and LLLVAR fields, field 55 as `ans` LLLVAR
//! of hex text (its values are ASCII, and it has no binary or hex encoding). It has no class
//! `z`, so field 35 is given `z`, which it takes as "not content-checked". Shared by the
//! benchmark (`benches/codec.rs`) and its test (`tests/peer.rs`).

use std::collections::HashMap;

use iso8583_codec::Spec;
use iso_8583_rs::specfile::{FieldDescription, Spec as PeerFile};
use iso_8583_rs::{Builder, CompiledSpec, Message};
use pos8583_benches::BenchMessage;

/// Message (a)'s fields: number, content type, length type, maximum (or fixed) length.
const FIELDS_A: [(i64, &str, &str, usize); 17] = [
    (2, "n", "llvar", 19),
    (3, "n", "fixed", 6),
    (4, "n", "fixed", 12),
    (7, "n", "fixed", 10),
    (11, "n", "fixed", 6),
    (12, "n", "fixed", 6),
    (13, "n", "fixed", 4),
    (14, "n", "fixed", 4),
    (18, "n", "fixed", 4),
    (22, "n", "fixed", 3),
    (25, "n", "fixed", 2),
    (35, "z", "llvar", 37),
    (37, "an", "fixed", 12),
    (41, "ans", "fixed", 8),
    (42, "ans", "fixed", 15),
    (49, "n", "fixed", 3),
    // 255 bytes as hex text, the maximum our iso87-ascii spec allows.
    (55, "ans", "lllvar", 510),
];

/// The `iso_8583_rs` spec of message (a), compiled (and so checked) by the crate itself.
pub(crate) fn spec_a() -> CompiledSpec {
    let fields = FIELDS_A
        .iter()
        .map(|&(n, content, len_type, max_len)| {
            let description = FieldDescription {
                content_type: content.to_owned(),
                max_len,
                min_len: 0,
                len_type: len_type.to_owned(),
                label: String::new(),
            };
            (n, description)
        })
        .collect::<HashMap<_, _>>();
    CompiledSpec::compile(&PeerFile { fields }).expect("the peer accepts the spec")
}

/// Message (a)'s values as `iso_8583_rs` takes them: the text of `fields.json`, field 55 as hex
/// text (it is carried that way on the wire).
pub(crate) fn values_a(m: &BenchMessage) -> Vec<(usize, &[u8])> {
    m.text
        .iter()
        .map(|(n, v)| (usize::from(*n), v.as_bytes()))
        .collect()
}

/// Checks that both libraries do the same work on message (a): `iso_8583_rs`'s strict parse
/// finds the same fields with the same data as our decode, and both builders, given the values
/// the benchmark gives them, write exactly the message's bytes.
///
/// # Panics
/// When any of that does not hold.
pub(crate) fn verify_a(m: &BenchMessage, spec: &CompiledSpec) {
    assert_eq!(m.name, "a", "the peer is measured on message (a) only");
    pos8583_benches::verify_ours(m);

    let theirs = Message::parse(spec, &m.wire).expect("iso_8583_rs parses message (a)");
    let ours_spec = Spec::builtin(m.spec_name).expect("built-in spec");
    let ours = ours_spec
        .decode(&m.wire)
        .and_then(|d| d.complete())
        .expect("iso8583-codec decodes message (a)");
    assert_eq!(&theirs.mti, ours.mti().as_str().as_bytes());
    let their_fields: Vec<(usize, &[u8])> = theirs.fields().collect();
    let our_fields: Vec<(usize, &[u8])> = ours
        .fields()
        .map(|f| (usize::from(f.number()), f.raw()))
        .collect();
    assert_eq!(their_fields, our_fields, "same fields, same data");
    assert_eq!(their_fields, values_a(m), "the values of fields.json");

    let mut builder = Builder::new(spec, m.mti.as_bytes()).expect("MTI");
    for (n, v) in values_a(m) {
        builder.set(n, v).expect("iso_8583_rs takes the value");
    }
    let mut out = Vec::new();
    builder.pack_into(&mut out);
    assert_eq!(out, m.wire, "iso_8583_rs encodes message (a) to its bytes");
}
