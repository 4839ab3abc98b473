//! Runs one benchmark's timed work N times, outside criterion, for a profiler.
//!
//! `profile <id> <iterations>`, where `<id>` is a benchmark id of `benches/codec.rs`
//! (`a_decode_pos8583`, `b_floor`, ...), `benches/wire.rs` (`frame_encode_b`, ...) or
//! `benches/crypto.rs` (`mac_x919_b`, ...), without the group. The loop is the function
//! `profile::timed`, so callgrind can count only it; see `benches/README.md` for the command
//! that turns that into instructions per iteration.

#[path = "../benches/peer/mod.rs"]
mod peer;

use std::hint::black_box;
use std::process::ExitCode;

use bytes::BytesMut;
use iso8583_codec::{Builder, Mti, Spec};
use pos8583_benches::mac::{self, Input, CASES};
use pos8583_benches::{frame, message, verify_ours, BenchMessage};
use tokio_util::codec::{Decoder, Encoder};

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

/// Ids of `benches/wire.rs` (group `wire`); those of `benches/crypto.rs` are `mac::CASES`.
const FRAME_IDS: [&str; 3] = ["frame_encode_b", "frame_decode_b", "frame_refill_b"];

/// The same work as the benchmark of the same id, `iterations` times.
#[inline(never)]
fn timed(id: &str, m: &BenchMessage, peer_spec: &iso_8583_rs::CompiledSpec, iterations: u64) {
    if FRAME_IDS.contains(&id) || CASES.iter().any(|c| c.id == id) {
        return timed_wire_crypto(id, m, iterations);
    }
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

/// `timed` for the ids of `benches/wire.rs` and `benches/crypto.rs`, on message (b).
fn timed_wire_crypto(id: &str, m: &BenchMessage, iterations: u64) {
    let wire = frame::expected_wire(m);
    let prepared = frame::message_frame(m);
    let mut codec = frame::codec();
    let mut buf = BytesMut::with_capacity(1024);
    let message = mac::decoded(m);
    let before_64 = message.bytes_before(64);
    match id {
        "frame_encode_b" => {
            for _ in 0..iterations {
                buf.clear();
                codec
                    .encode(black_box(prepared.clone()), &mut buf)
                    .expect("encodes");
                black_box(&buf[..]);
            }
        }
        "frame_decode_b" => {
            for _ in 0..iterations {
                buf.extend_from_slice(black_box(&wire));
                black_box(codec.decode(&mut buf).expect("decodes"));
            }
        }
        "frame_refill_b" => {
            for _ in 0..iterations {
                buf.extend_from_slice(black_box(&wire));
                black_box(&buf[..]);
                buf.clear();
            }
        }
        _ => {
            let case = CASES
                .iter()
                .find(|c| c.id == id)
                .expect("ids are checked in main");
            let key = case.des_key();
            for _ in 0..iterations {
                black_box(match case.input {
                    Input::Message => {
                        black_box(case.mac).compute_message(&key, black_box(&message), 64)
                    }
                    Input::BytesBefore64 => black_box(case.mac).compute(&key, black_box(before_64)),
                })
                .expect("computes");
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(id), Some(Ok(iterations))) = (args.first(), args.get(1).map(|n| n.parse::<u64>()))
    else {
        eprintln!("usage: profile <id> <iterations>; ids: see benches/README.md");
        return ExitCode::from(2);
    };
    let mut ids: Vec<&str> = IDS.to_vec();
    ids.extend(FRAME_IDS);
    ids.extend(CASES.iter().map(|c| c.id));
    if !ids.contains(&id.as_str()) {
        eprintln!("unknown id {id:?}; ids: {}", ids.join(" "));
        return ExitCode::from(2);
    }
    let m = message(if id.starts_with("a_") { "a" } else { "b" });
    let peer_spec = peer::spec_a();
    if m.name == "a" {
        peer::verify_a(&m, &peer_spec);
    } else {
        verify_ours(&m);
    }
    if FRAME_IDS.contains(&id.as_str()) {
        frame::verify_frame(&m);
    } else if CASES.iter().any(|c| c.id == id) {
        mac::verify_macs(&m);
    }
    let start = std::time::Instant::now();
    timed(id, &m, &peer_spec, iterations);
    let ns = start.elapsed().as_nanos() as f64 / iterations.max(1) as f64;
    eprintln!("{id}: {ns:.1} ns per iteration (wall clock, {iterations} iterations)");
    ExitCode::SUCCESS
}
