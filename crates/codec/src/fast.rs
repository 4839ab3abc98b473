//! The decoder's fast path: canonical, complete input, with every check and no diagnostics.
//!
//! Nearly every message a decoder sees is well formed, so this walk does only what accepting
//! one takes: read the MTI and bitmaps, and for each set bit read the prefix, bound the data and
//! check its content. It builds no errors, notes no quirks and never asks for more bytes: at the
//! first thing out of the ordinary (a bad byte, a quirk, the input ending early) it gives up,
//! and the full walk in `decode.rs` decodes the same input again and says precisely what is
//! wrong or what it accepted. Both walks fill the message the same way, and the tests decode
//! every input through both.

use crate::content::{self, ASCII_HEX};
use crate::message::{Message, Mti};
use crate::spec::plan::{Kind, Plan};
use crate::spec::{BitmapEncoding, Charset, MtiEncoding, Spec};

/// Decodes canonical input into `message` (fresh, from the decoder); `false` means "take the
/// full walk", and leaves `message` in a state the full walk must reset.
#[inline]
pub(crate) fn walk(message: &mut Message<'_>, keep_trailing: bool, check: bool) -> bool {
    let spec = message.spec;
    let input = message.input;
    let Some(mti) = mti(spec.mti, input) else {
        return false;
    };
    let mut pos = spec.mti.width();

    let Some(primary) = bitmap(spec, input, pos) else {
        return false;
    };
    pos += spec.bitmap.width();
    message.bitmap.set_word(0, primary);

    for word in 0..3 {
        // Bit 1 is the top bit: reversed, the lowest set bit is the next field, and clearing
        // it is one instruction.
        let mut bits = message.bitmap.word(word).reverse_bits();
        while bits != 0 {
            let n = (word as u16) * 64 + bits.trailing_zeros() as u16 + 1;
            bits &= bits - 1;
            let Some(plan) = spec.plans.get(usize::from(n)) else {
                return false;
            };
            let Ok(start) = u16::try_from(pos) else {
                return false;
            };
            if message.spans.try_push(start).is_err() {
                return false;
            }
            pos = match plan.kind {
                Kind::Fixed | Kind::Variable => match field(plan, input, pos, check) {
                    Some(end) => end,
                    None => return false,
                },
                Kind::Bitmap => {
                    // An empty secondary or tertiary bitmap is a quirk: the full walk notes it.
                    match bitmap(spec, input, pos) {
                        Some(nested) if nested != 0 => message.bitmap.set_word(word + 1, nested),
                        _ => return false,
                    }
                    pos + spec.bitmap.width()
                }
                Kind::Undefined => return false,
            };
        }
    }

    if (pos != input.len() && !keep_trailing) || pos > usize::from(u16::MAX) {
        return false;
    }
    message.mti = mti;
    message.end = pos;
    true
}

/// One field at `pos`: where it ends, or `None` to give up.
#[inline]
fn field(plan: &Plan, input: &[u8], pos: usize, check: bool) -> Option<usize> {
    let (data_start, units, wire) = if plan.kind == Kind::Fixed {
        (pos, plan.units as usize, plan.wire as usize)
    } else {
        let width = usize::from(plan.prefix_width);
        let count = plan.read_prefix(input.get(pos..pos + width)?).ok()?;
        if count > u64::from(plan.limit) {
            return None;
        }
        let units = if plan.counts_bytes {
            plan.units_in(count as usize)?
        } else {
            count as usize
        };
        (pos + width, units, plan.wire_len(units))
    };
    let end = data_start + wire;
    let data = input.get(data_start..end)?;
    if check && !content::is_canonical(plan.check, plan.sign, data, units) {
        return None;
    }
    Some(end)
}

fn mti(encoding: MtiEncoding, input: &[u8]) -> Option<Mti> {
    let mut digits = [0u8; 4];
    match encoding {
        MtiEncoding::Ascii | MtiEncoding::Ebcdic => {
            let zero = if encoding == MtiEncoding::Ascii {
                b'0'
            } else {
                0xF0
            };
            for (d, &b) in digits.iter_mut().zip(input.get(..4)?) {
                let v = b.wrapping_sub(zero);
                if v > 9 {
                    return None;
                }
                *d = b'0' + v;
            }
        }
        MtiEncoding::Bcd => {
            for (pair, &b) in digits.chunks_exact_mut(2).zip(input.get(..2)?) {
                let (hi, lo) = (b >> 4, b & 0x0F);
                if hi > 9 || lo > 9 {
                    return None;
                }
                pair.copy_from_slice(&[b'0' + hi, b'0' + lo]);
            }
        }
    }
    Some(Mti(digits))
}

fn bitmap(spec: &Spec, input: &[u8], pos: usize) -> Option<u64> {
    match spec.bitmap {
        BitmapEncoding::Binary => {
            let bytes: [u8; 8] = input.get(pos..pos + 8)?.try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }
        BitmapEncoding::Hex(Charset::Ascii) => {
            let (word, flags) = input
                .get(pos..pos + 16)?
                .iter()
                .fold((0u64, 0u8), |(w, f), &b| {
                    let v = ASCII_HEX.get(usize::from(b)).copied().unwrap_or(0xFF);
                    ((w << 4) | u64::from(v & 0x0F), f | v)
                });
            (flags & !0x0F == 0).then_some(word)
        }
        BitmapEncoding::Hex(charset @ Charset::Ebcdic(_)) => input
            .get(pos..pos + 16)?
            .iter()
            .try_fold(0u64, |w, &b| match content::hex_value(b, charset) {
                Some((v, false)) => Some((w << 4) | u64::from(v)),
                _ => None,
            }),
    }
}
