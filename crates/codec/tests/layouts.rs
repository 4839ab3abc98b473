//! The fast path's per-bitmap layouts: once a bitmap has been met, its messages decode through
//! a layout worked out for it, and that must give exactly what the full walk gives, whatever
//! byte of the message is wrong.

mod common;

use common::unhex;
use iso8583_codec::{Decoded, Decoder, Error, Spec};

/// What a decode came to, in terms both walks must agree on.
#[derive(Debug, PartialEq)]
enum Outcome {
    Complete {
        mti: String,
        bitmap: String,
        quirks: String,
        bytes: Vec<u8>,
        fields: Vec<(u16, Vec<u8>)>,
    },
    Incomplete(String),
    Failed(Error),
}

fn outcome(decoder: Decoder<'_>, input: &[u8]) -> Outcome {
    match decoder.decode(input) {
        Ok(Decoded::Complete(m)) => Outcome::Complete {
            mti: m.mti().as_str().to_string(),
            bitmap: format!("{:?}", m.bitmap()),
            quirks: format!("{:?}", m.quirks()),
            bytes: m.as_bytes().to_vec(),
            fields: m.fields().map(|f| (f.number(), f.raw().to_vec())).collect(),
        },
        Ok(Decoded::Incomplete(need)) => Outcome::Incomplete(format!("{need:?}")),
        Err(e) => Outcome::Failed(e),
    }
}

/// Bytes that are right for some classes and wrong for others: digits, hex letters, the
/// track separators, letters, space, control and high bytes, BCD nibbles above 9.
const REPLACEMENTS: [u8; 18] = [
    0x00, b' ', b'0', b'9', b'A', b'F', b'G', b'D', b'=', b'a', b'z', b'~', 0x7F, 0x80, 0x99, 0x9A,
    0xD0, 0xFF,
];

fn every_byte_replaced(spec_name: &str, hex_file: &str) {
    let spec = Spec::builtin(spec_name).unwrap();
    let wire = unhex(&std::fs::read_to_string(format!("tests/data/{hex_file}")).unwrap());
    // The first decode meets the bitmap; the ones below find its layout.
    assert!(matches!(
        outcome(spec.decoder(), &wire),
        Outcome::Complete { .. }
    ));
    let mut refused = 0;
    let mut input = wire.clone();
    for at in 0..wire.len() {
        for b in REPLACEMENTS {
            if wire[at] == b {
                continue;
            }
            input[at] = b;
            let fast = outcome(spec.decoder(), &input);
            let full = outcome(spec.decoder().full_walk_only(true), &input);
            assert_eq!(fast, full, "{spec_name}: byte {at} set to {b:#04x}");
            refused += usize::from(matches!(fast, Outcome::Failed(_)));
        }
        input[at] = wire[at];
    }
    // Many replacements break the message (fewer in binary fields, which take any byte): the
    // comparison above is not between two walks that accept everything.
    assert!(refused > wire.len(), "only {refused} refused");
}

#[test]
fn message_a_every_byte_replaced() {
    every_byte_replaced("iso87-ascii", "a.hex");
}

#[test]
fn message_b_every_byte_replaced() {
    every_byte_replaced("cup-pos", "b.hex");
}

/// Cut short anywhere, or with bytes after it, a message of a known bitmap gives the same
/// outcome through both walks.
#[test]
fn truncated_and_extended_messages_agree() {
    for (spec_name, hex_file) in [("iso87-ascii", "a.hex"), ("cup-pos", "b.hex")] {
        let spec = Spec::builtin(spec_name).unwrap();
        let wire = unhex(&std::fs::read_to_string(format!("tests/data/{hex_file}")).unwrap());
        let _ = outcome(spec.decoder(), &wire);
        for len in 0..wire.len() {
            let cut = &wire[..len];
            assert_eq!(
                outcome(spec.decoder(), cut),
                outcome(spec.decoder().full_walk_only(true), cut),
                "{spec_name}: first {len} bytes"
            );
        }
        let mut longer = wire.clone();
        longer.extend_from_slice(b"00");
        for keep in [false, true] {
            assert_eq!(
                outcome(spec.decoder().keep_trailing(keep), &longer),
                outcome(
                    spec.decoder().keep_trailing(keep).full_walk_only(true),
                    &longer
                ),
                "{spec_name}: two bytes more, keep_trailing {keep}"
            );
        }
    }
}
