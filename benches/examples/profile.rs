//! Runs one benchmark's timed work N times, outside criterion, for a profiler.
//!
//! `profile <id> <iterations>`, where `<id>` is a benchmark id of `benches/codec.rs`
//! (`a_decode_pos8583`, `b_floor`, ...). The loop is the function `profile::timed`, so
//! callgrind can count only it; see `benches/README.md` for the command that turns that into
//! instructions per iteration.

#[path = "../benches/peer/mod.rs"]
mod peer;

use std::hint::black_box;
use std::process::ExitCode;

use bytes::BytesMut;
use iso8583_codec::{Builder, Mti, Spec};
use pos8583_benches::{message, verify_ours, BenchMessage};

const IDS: [&str; 8] = [
    "a_floor",
    "a_decode_pos8583",
    "a_decode_iso_8583_rs",
    "a_encode_pos8583",
    "a_encode_iso_8583_rs",
    "b_floor",
    "b_decode_pos8583",
    "b_encode_pos8583",
];

/// The same work as the benchmark of the same id, `iterations` times.
#[inline(never)]
fn timed(id: &str, m: &BenchMessage, peer_spec: &iso_8583_rs::CompiledSpec, iterations: u64) {
    let spec = Spec::builtin(m.spec_name).expect("built-in spec");
    let values: Vec<(u16, &[u8])> = m.values.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    let peer_values = peer::values_a(m);
    let mut buf: Vec<u8> = Vec::with_capacity(m.wire.len());
    let mut out = BytesMut::with_capacity(1024);
    let mut peer_out: Vec<u8> = Vec::with_capacity(1024);
    // One loop per kind, so that choosing the work costs nothing per iteration.
    match id.get(2..).unwrap_or("") {
        "floor" => {
            for _ in 0..iterations {
                buf.clear();
                buf.extend_from_slice(black_box(&m.wire));
                let sum: u64 = buf.iter().map(|&x| u64::from(x)).sum();
                black_box(sum);
            }
        }
        "decode_pos8583" => {
            for _ in 0..iterations {
                let message = spec.decode_complete(black_box(&m.wire)).expect("decodes");
                black_box(message.field(41).map(|f| f.raw()));
            }
        }
        "encode_pos8583" => {
            for _ in 0..iterations {
                out.clear();
                let mti = Mti::new(black_box(&m.mti)).expect("MTI digits");
                let mut builder = Builder::new(spec, mti);
                for &(n, v) in black_box(&values) {
                    builder.set(n, v).expect("valid value");
                }
                builder.encode(&mut out);
                black_box(&out[..]);
            }
        }
        "decode_iso_8583_rs" => {
            for _ in 0..iterations {
                let message =
                    iso_8583_rs::Message::parse(peer_spec, black_box(&m.wire)).expect("parses");
                black_box(message.get(41));
            }
        }
        "encode_iso_8583_rs" => {
            for _ in 0..iterations {
                let mut builder =
                    iso_8583_rs::Builder::new(peer_spec, black_box(m.mti.as_bytes())).expect("MTI");
                for &(n, v) in black_box(&peer_values) {
                    builder.set(n, v).expect("valid value");
                }
                builder.pack_into(&mut peer_out);
                black_box(&peer_out[..]);
            }
        }
        _ => unreachable!("ids are checked in main"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(id), Some(Ok(iterations))) = (args.first(), args.get(1).map(|n| n.parse::<u64>()))
    else {
        eprintln!("usage: profile <id> <iterations>; ids: {}", IDS.join(" "));
        return ExitCode::from(2);
    };
    if !IDS.contains(&id.as_str()) {
        eprintln!("unknown id {id:?}; ids: {}", IDS.join(" "));
        return ExitCode::from(2);
    }
    let m = message(if id.starts_with("a_") { "a" } else { "b" });
    let peer_spec = peer::spec_a();
    if m.name == "a" {
        peer::verify_a(&m, &peer_spec);
    } else {
        verify_ours(&m);
    }
    let start = std::time::Instant::now();
    timed(id, &m, &peer_spec, iterations);
    let ns = start.elapsed().as_nanos() as f64 / iterations.max(1) as f64;
    eprintln!("{id}: {ns:.1} ns per iteration (wall clock, {iterations} iterations)");
    ExitCode::SUCCESS
}
