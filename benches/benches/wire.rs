//! The framing codec of `iso8583-wire` on message (b) (`data/README.md`) framed for UnionPay
//! terminals: a 2-byte binary length, the TPDU `6000030000` and an application header before
//! the 161-byte message (174 bytes in all), with `FrameConfig::unionpay()`.
//!
//! Benchmark ids, as `target/criterion/wire/<id>/` and as the `report` binary reads them:
//! - `frame_encode_b`: clone the prepared `MessageFrame` (the body is `Bytes`: a reference
//!   count, no copy) and encode it into a reused `BytesMut` that is cleared first;
//! - `frame_decode_b`: copy the 174 prepared bytes into a reused `BytesMut`, then decode one
//!   frame from it (length header, TPDU, header, body split off without copying);
//! - `frame_refill_b`: that copy alone (`extend_from_slice`, then `clear`), the part of
//!   `frame_decode_b` that is not decoding.
//!
//! Throughput is one frame per iteration, so criterion prints frames per second. Before
//! anything is timed, the frame is checked to encode to exactly the expected bytes and to decode
//! back to the same frame (`frame::verify_frame`).

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput};
use pos8583_benches::{frame, message};
use tokio_util::codec::{Decoder, Encoder};

fn benches(c: &mut Criterion) {
    let b = message("b");
    // Once, outside the timed loops: the frame encodes and decodes to what it should.
    let wire = frame::verify_frame(&b);
    let prepared = frame::message_frame(&b);

    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Elements(1));

    let mut codec = frame::codec();
    let mut out = BytesMut::with_capacity(1024);
    group.bench_function("frame_encode_b", |bench| {
        bench.iter(|| {
            out.clear();
            codec
                .encode(black_box(prepared.clone()), &mut out)
                .expect("encodes");
            black_box(&out[..]);
        })
    });

    let mut codec = frame::codec();
    let mut buf = BytesMut::with_capacity(1024);
    group.bench_function("frame_decode_b", |bench| {
        bench.iter(|| {
            buf.extend_from_slice(black_box(&wire));
            let decoded = codec.decode(&mut buf).expect("decodes");
            black_box(decoded)
        })
    });

    let mut buf = BytesMut::with_capacity(1024);
    group.bench_function("frame_refill_b", |bench| {
        bench.iter(|| {
            buf.extend_from_slice(black_box(&wire));
            black_box(&buf[..]);
            buf.clear();
        })
    });

    group.finish();
}

// What `criterion_group!` and `criterion_main!` expand to, written out: their generated `pub fn`
// has no doc comment, which the workspace lints refuse.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
