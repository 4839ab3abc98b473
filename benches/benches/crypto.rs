//! MACs of `iso8583-crypto` over message (b) (`data/README.md`): its 153 bytes from the MTI to
//! the start of field 64.
//!
//! Benchmark ids, as `target/criterion/crypto/<id>/` and as the `report` binary reads them:
//! - `mac_x919_b`: ANSI X9.19 with the double-length key `0123456789ABCDEFFEDCBA9876543210`;
//! - `mac_x99_b`: ANSI X9.9 (single-DES CBC-MAC) with the key `0123456789ABCDEF`;
//! - `mac_cup_ecb_double_b`: the UnionPay ECB MAC, triple DES with the double-length key;
//! - `mac_cup_ecb_single_b`: the same with `KeyUse::FirstHalf` (single DES with its first half);
//! - `mac_x919_raw_b`: X9.19 again, through `Mac::compute` on `message.bytes_before(64)` taken
//!   once beforehand, so the difference to `mac_x919_b` is what `compute_message` adds.
//!
//! The first four call `Mac::compute_message(&key, &message, 64)` on message (b) decoded once
//! beforehand. Every iteration includes what the crypto crate does per call: the DES key
//! schedule (and, for `FirstHalf`, the narrowed key) is set up on every call. Throughput is one
//! MAC per iteration, so criterion prints MACs per second. Before anything is timed, each MAC is
//! checked to be the value `crates/crypto/tests/message.rs` expects (`mac::verify_macs`).

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use iso8583_crypto::Mac;
use pos8583_benches::mac::{self, Input, CASES};
use pos8583_benches::message;

fn benches(c: &mut Criterion) {
    let b = message("b");
    // Once, outside the timed loops: every MAC is the expected value.
    mac::verify_macs(&b);
    let message = mac::decoded(&b);
    let before_64 = message.bytes_before(64);

    let mut group = c.benchmark_group("crypto");
    group.throughput(Throughput::Elements(1));
    for case in &CASES {
        let key = case.des_key();
        let setting: Mac = case.mac;
        match case.input {
            Input::Message => group.bench_function(case.id, |bench| {
                bench.iter(|| {
                    black_box(setting)
                        .compute_message(&key, black_box(&message), 64)
                        .expect("computes")
                })
            }),
            Input::BytesBefore64 => group.bench_function(case.id, |bench| {
                bench.iter(|| {
                    black_box(setting)
                        .compute(&key, black_box(before_64))
                        .expect("computes")
                })
            }),
        };
    }
    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, written out: their generated `pub fn`
// has no doc comment, which the workspace lints refuse.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
