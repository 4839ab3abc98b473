//! The decode path allocates nothing: decoding (every option combination, through the fast path
//! for canonical input and through the full walk; complete messages, messages cut short, bad
//! input), reading every field through `value()`, `raw()`, `digits()`, `amount()`, `to_u64()`
//! and `as_str()`, and writing masked values and the message table into a fixed buffer on the
//! stack.
//!
//! Allocations are counted by the `allocation-counter` crate, whose global allocator counts
//! only the current thread's allocations inside `measure`, so the test harness's own threads
//! cannot disturb the count, and this file needs no unsafe code. Specs are loaded and messages
//! built before counting starts.

mod common;

use std::fmt::{self, Write};
use std::hint::black_box;

use common::{representative, unhex};
use iso8583_codec::{Decoded, Message, Spec};

/// Text written into a fixed array: `fmt::Write` without a heap.
struct StackText {
    buf: [u8; 4096],
    len: usize,
}

impl Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Reads everything a caller reads from a decoded message; returns a checksum so nothing is
/// optimised away.
fn read_all(message: &Message<'_>, text: &mut StackText) -> usize {
    let mut sum = usize::from(message.mti().digits()[3]) + message.as_bytes().len();
    sum += message.quirks().iter().count() + message.trailing().len();
    for field in message.fields() {
        sum += field.value().map(usize::from).sum::<usize>();
        sum += field.raw().len() + field.units() + field.offset();
        sum += field.digits().map_or(0, Iterator::count);
        sum += field
            .amount()
            .map_or(0, |a| a.minor.unsigned_abs() as usize);
        sum += field.to_u64().map_or(0, |v| v as usize);
        sum += field.as_str().map_or(0, str::len);
        sum += message.span_of(field.number()).map_or(0, |r| r.len());
        sum += message.bytes_before(field.number()).len();
        text.len = 0;
        write!(text, "{}", field.masked()).unwrap();
        sum += text.len;
    }
    text.len = 0;
    write!(text, "{message}").unwrap();
    sum + text.len
}

#[test]
fn the_decode_path_allocates_nothing() {
    // The counter counts: a sanity check that a failure below would be seen.
    let info = allocation_counter::measure(|| {
        black_box(Vec::<u8>::with_capacity(16));
    });
    assert_eq!(info.count_total, 1);

    // Everything that may allocate happens before counting: specs, messages, buffers.
    let mut cases: Vec<(&'static Spec, Vec<u8>)> = Spec::builtin_names()
        .map(|name| {
            let spec = Spec::builtin(name).unwrap();
            (spec, representative(spec).to_bytes().to_vec())
        })
        .collect();
    // The benchmark messages, whose fields all suit the fast path's per-bitmap layouts: the
    // first decode below learns each one's layout, the next ones walk it, all while counting.
    for (name, file) in [("iso87-ascii", "a.hex"), ("cup-pos", "b.hex")] {
        let text = std::fs::read_to_string(format!("tests/data/{file}")).unwrap();
        cases.push((Spec::builtin(name).unwrap(), unhex(&text)));
    }
    let bad_inputs: [&[u8]; 3] = [b"02X0", &[0xFF; 40], b"0200FFFFFFFFFFFFFFFF"];
    let mut text = StackText {
        buf: [0; 4096],
        len: 0,
    };
    let decoders: Vec<_> = cases
        .iter()
        .flat_map(|(spec, _)| {
            (0..16u8).map(move |bits| {
                spec.decoder()
                    .strict(bits & 1 != 0)
                    .keep_trailing(bits & 2 != 0)
                    .structure_only(bits & 4 != 0)
                    .full_walk_only(bits & 8 != 0)
            })
        })
        .collect();

    let mut checksum = 0usize;
    let info = allocation_counter::measure(|| {
        for (i, decoder) in decoders.iter().enumerate() {
            let (_, wire) = &cases[i / 16];
            // The whole message.
            match decoder.decode(wire) {
                Ok(Decoded::Complete(message)) => checksum += read_all(&message, &mut text),
                other => panic!("representative message did not decode: {other:?}"),
            }
            // Every cut of it: "need more bytes".
            for cut in 0..wire.len() {
                if let Ok(Decoded::Incomplete(i)) = decoder.decode(&wire[..cut]) {
                    checksum += i.needed;
                }
            }
            // Errors carry no heap data either.
            for bad in bad_inputs {
                if let Err(e) = decoder.decode(bad) {
                    checksum += e.offset() + e.kind().len();
                }
            }
        }
    });
    black_box(checksum);
    assert!(checksum > 0);
    assert_eq!(
        info.count_total, 0,
        "the decode path allocated {} times ({} bytes)",
        info.count_total, info.bytes_total
    );
}
