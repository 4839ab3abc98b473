//! Decode and encode of the two benchmark messages (`data/README.md`) with `iso8583-codec`;
//! the same for message (a) with the crates.io crate `iso_8583_rs`; and a floor for each
//! message (copy its bytes into a reused buffer and add them up) to compare against.
//!
//! Benchmark ids, as `target/criterion/<id>/` and as the `report` binary reads them:
//! `{a,b}_floor`, `{a,b}_decode_pos8583`, `{a,b}_encode_pos8583`, `a_decode_iso_8583_rs`,
//! `a_encode_iso_8583_rs`. Before anything is timed, both libraries are checked to decode (a) to
//! the same fields and to encode its values to exactly its bytes (`peer::verify_a`), and our
//! codec the same for (b).

mod peer;

use std::hint::black_box;

use bytes::BytesMut;
use criterion::Criterion;
use iso8583_codec::{Builder, Mti, Spec};
use pos8583_benches::{message, verify_ours, BenchMessage};

/// Copies the message into a reused buffer and adds up its bytes: a lower bound on any decoder
/// that looks at every byte once.
fn floor(c: &mut Criterion, m: &BenchMessage) {
    let mut buf: Vec<u8> = Vec::with_capacity(m.wire.len());
    c.bench_function(&format!("{}_floor", m.name), |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&m.wire));
            let sum: u64 = buf.iter().map(|&x| u64::from(x)).sum();
            black_box(sum)
        })
    });
}

/// Full checked decode (structure and every field's content), then one field read.
fn decode_ours(c: &mut Criterion, m: &BenchMessage) {
    let spec = Spec::builtin(m.spec_name).expect("built-in spec");
    c.bench_function(&format!("{}_decode_pos8583", m.name), |b| {
        b.iter(|| {
            let message = spec.decode_complete(black_box(&m.wire)).expect("decodes");
            black_box(message.field(41).map(|f| f.raw()))
        })
    });
}

/// Builds the message from its values (MTI from text, every field set and checked) and encodes
/// it into a reused buffer.
fn encode_ours(c: &mut Criterion, m: &BenchMessage) {
    let spec = Spec::builtin(m.spec_name).expect("built-in spec");
    let values: Vec<(u16, &[u8])> = m.values.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    let mut out = BytesMut::with_capacity(1024);
    c.bench_function(&format!("{}_encode_pos8583", m.name), |b| {
        b.iter(|| {
            out.clear();
            let mti = Mti::new(black_box(&m.mti)).expect("MTI digits");
            let mut builder = Builder::new(spec, mti);
            for &(n, v) in black_box(&values) {
                builder.set(n, v).expect("valid value");
            }
            builder.encode(&mut out);
            black_box(&out[..]);
        })
    });
}

/// `iso_8583_rs`: its strict `Message::parse` (structure and content), then one field read.
fn decode_peer(c: &mut Criterion, m: &BenchMessage, spec: &iso_8583_rs::CompiledSpec) {
    c.bench_function(&format!("{}_decode_iso_8583_rs", m.name), |b| {
        b.iter(|| {
            let message = iso_8583_rs::Message::parse(spec, black_box(&m.wire)).expect("parses");
            black_box(message.get(41))
        })
    });
}

/// `iso_8583_rs`: builds the message from its values (each checked by `set`) and packs it into
/// a reused buffer.
fn encode_peer(c: &mut Criterion, m: &BenchMessage, spec: &iso_8583_rs::CompiledSpec) {
    let values = peer::values_a(m);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    c.bench_function(&format!("{}_encode_iso_8583_rs", m.name), |b| {
        b.iter(|| {
            let mut builder =
                iso_8583_rs::Builder::new(spec, black_box(m.mti.as_bytes())).expect("MTI");
            for &(n, v) in black_box(&values) {
                builder.set(n, v).expect("valid value");
            }
            builder.pack_into(&mut out);
            black_box(&out[..]);
        })
    });
}

fn benches(c: &mut Criterion) {
    let a = message("a");
    let b = message("b");
    let peer_spec = peer::spec_a();
    // Once, outside the timed loops: every benchmark does the work its name says.
    peer::verify_a(&a, &peer_spec);
    verify_ours(&b);

    floor(c, &a);
    decode_ours(c, &a);
    decode_peer(c, &a, &peer_spec);
    encode_ours(c, &a);
    encode_peer(c, &a, &peer_spec);

    floor(c, &b);
    decode_ours(c, &b);
    encode_ours(c, &b);
}

// What `criterion_group!` and `criterion_main!` expand to, written out: their generated `pub fn`
// has no doc comment, which the workspace lints refuse.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
