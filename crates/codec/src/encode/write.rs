//! Writing a message into room sized in advance.
//!
//! [`Builder::encode`](super::Builder::encode) knows the exact length of the message before it
//! writes a byte, so it zero-extends the output once and fills the new bytes through a
//! [`Cursor`]. Short values (most fields are 2-16 bytes) are then copied with two overlapping
//! word moves instead of a call to `memcpy` each, and nothing checks for room per field.

use bytemuck::cast;
use wide::{u16x8, u8x16};

use crate::ebcdic::{LATIN1_TO_CP037, LATIN1_TO_CP1047};
use crate::spec::plan::{Plan, PrefixWriter, Writer};
use crate::spec::{BitmapEncoding, Charset, CodePage, MtiEncoding, Pad, PrefixEncoding};

/// The part of the output still to fill.
pub(super) struct Cursor<'b> {
    rest: &'b mut [u8],
}

impl<'b> Cursor<'b> {
    pub(super) fn new(buf: &'b mut [u8]) -> Self {
        Cursor { rest: buf }
    }

    /// True once every byte has been taken.
    pub(super) fn is_full(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next `len` bytes, to fill (now or later); the cursor moves past them. Empty if the
    /// room sized in advance is short, which the builder's length bookkeeping rules out (and
    /// tests check).
    #[inline]
    pub(super) fn take(&mut self, len: usize) -> &'b mut [u8] {
        match std::mem::take(&mut self.rest).split_at_mut_checked(len) {
            Some((head, tail)) => {
                self.rest = tail;
                head
            }
            None => &mut [],
        }
    }

    #[inline]
    pub(super) fn put(&mut self, src: &[u8]) {
        copy_small(self.take(src.len()), src);
    }

    /// [`Cursor::put`] for a value of 4 to 8 bytes (a fixed field's length, known from its
    /// plan); other lengths are copied the usual way.
    #[inline]
    pub(super) fn put_4_to_8(&mut self, src: &[u8]) {
        let dst = self.take(src.len());
        match src.len() {
            len @ 4..=8 => {
                move_n::<4>(dst, src, 0);
                move_n::<4>(dst, src, len - 4);
            }
            _ => copy_small(dst, src),
        }
    }

    /// [`Cursor::put`] for a value of 9 to 16 bytes, likewise.
    #[inline]
    pub(super) fn put_9_to_16(&mut self, src: &[u8]) {
        let dst = self.take(src.len());
        match src.len() {
            len @ 9..=16 => {
                move_n::<8>(dst, src, 0);
                move_n::<8>(dst, src, len - 8);
            }
            _ => copy_small(dst, src),
        }
    }

    #[inline]
    pub(super) fn put_u8(&mut self, b: u8) {
        if let Some(d) = self.take(1).first_mut() {
            *d = b;
        }
    }
}

/// `dst.copy_from_slice(src)` for slices of the same length; up to 16 bytes are moved as two
/// overlapping words (or bytes) rather than through a call to `memcpy`.
#[inline]
fn copy_small(dst: &mut [u8], src: &[u8]) {
    let len = src.len();
    if dst.len() != len {
        return;
    }
    match len {
        0 => {}
        1..=3 => {
            move_n::<1>(dst, src, 0);
            move_n::<1>(dst, src, len / 2);
            move_n::<1>(dst, src, len - 1);
        }
        4..=7 => {
            move_n::<4>(dst, src, 0);
            move_n::<4>(dst, src, len - 4);
        }
        8..=16 => {
            move_n::<8>(dst, src, 0);
            move_n::<8>(dst, src, len - 8);
        }
        _ => dst.copy_from_slice(src),
    }
}

/// Copies the `N` bytes at `at`.
#[inline]
fn move_n<const N: usize>(dst: &mut [u8], src: &[u8], at: usize) {
    if let (Some(d), Some(s)) = (dst.get_mut(at..at + N), src.get(at..at + N)) {
        d.copy_from_slice(s);
    }
}

pub(super) fn write_mti(cur: &mut Cursor<'_>, d: [u8; 4], encoding: MtiEncoding) {
    let [a, b, c, e] = d;
    match encoding {
        MtiEncoding::Ascii => cur.put(&d),
        MtiEncoding::Ebcdic => cur.put(&[a | 0xF0, b | 0xF0, c | 0xF0, e | 0xF0]),
        MtiEncoding::Bcd => cur.put(&[
            ((a - b'0') << 4) | (b - b'0'),
            ((c - b'0') << 4) | (e - b'0'),
        ]),
    }
}

/// Fills room taken for a bitmap.
pub(super) fn write_bitmap(room: &mut [u8], word: u64, encoding: BitmapEncoding) {
    match encoding {
        BitmapEncoding::Binary => copy_small(room, &word.to_be_bytes()),
        BitmapEncoding::Hex(charset) => {
            if let Some((high, low)) = room.split_first_chunk_mut::<8>() {
                *high = hex8((word >> 32) as u32);
                if let Some(low) = low.first_chunk_mut::<8>() {
                    *low = hex8(word as u32);
                }
            }
            to_charset(room, charset);
        }
    }
}

/// Writes one field: its prefix, then its value as the spec says.
#[inline]
pub(super) fn write_field(cur: &mut Cursor<'_>, plan: &Plan, value: &[u8]) {
    if plan.prefix_writer != PrefixWriter::None {
        let units = value.len().saturating_sub(usize::from(plan.sign));
        let count = if plan.counts_bytes {
            plan.wire_len(units)
        } else {
            units
        };
        write_prefix(cur, plan, count);
    }
    // The writers not inlined get the room they fill, not the cursor: a cursor that never
    // escapes stays in registers.
    match plan.writer {
        Writer::Copy => cur.put(value),
        Writer::Ebcdic => write_ebcdic(cur.take(value.len()), value, plan.charset),
        Writer::Hex => write_hex(cur.take(2 * value.len()), value, plan.charset),
        Writer::Bcd => {
            let digits = match value.split_first() {
                Some((&sign, rest)) if plan.sign => {
                    cur.put_u8(sign);
                    rest
                }
                _ => value,
            };
            let room = cur.take(digits.len().div_ceil(2));
            write_bcd(room, digits, plan.pad, plan.filler);
        }
    }
}

/// A value as it is after two ASCII digits counting its bytes (LLVAR; a count over 99, which
/// `set` refuses, keeps its low digits).
#[inline]
pub(super) fn put_ascii2_copy(cur: &mut Cursor<'_>, value: &[u8]) {
    let len = value.len();
    if let Some(pair) = DIGIT_PAIRS.get(len % 100) {
        cur.put(pair);
    }
    cur.put(value);
}

/// A value as it is after three ASCII digits counting its bytes (LLLVAR, likewise).
#[inline]
pub(super) fn put_ascii3_copy(cur: &mut Cursor<'_>, value: &[u8]) {
    let len = value.len();
    if let Some(&[tens, ones]) = DIGIT_PAIRS.get(len % 100) {
        cur.put(&[b'0' + (len / 100 % 10) as u8, tens, ones]);
    }
    cur.put(value);
}

/// A value as upper-case ASCII hex after three ASCII digits counting the characters (a count
/// over 999, which `set` refuses, keeps its low digits).
#[inline]
pub(super) fn put_ascii3_hex(cur: &mut Cursor<'_>, value: &[u8]) {
    let count = 2 * value.len();
    if let Some(&[tens, ones]) = DIGIT_PAIRS.get(count % 100) {
        cur.put(&[b'0' + (count / 100 % 10) as u8, tens, ones]);
    }
    put_hex(cur, value);
}

/// A value as upper-case ASCII hex.
#[inline]
pub(super) fn put_hex(cur: &mut Cursor<'_>, value: &[u8]) {
    write_hex(cur.take(2 * value.len()), value, Charset::Ascii);
}

/// Upper-case hex of the four bytes of `x`, most significant first.
#[inline]
pub(super) fn hex8(x: u32) -> [u8; 8] {
    // Spread the eight nibbles one to a byte, the most significant in the top byte...
    let mut v = u64::from(x);
    v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    // ...then add '0' to each, and 7 more to 10-15 so that they land on 'A'-'F'. No byte
    // carries into the next: the largest is 15 + 0x30 + 7.
    let letters = ((v + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (v + 0x3030_3030_3030_3030 + 7 * letters).to_be_bytes()
}

/// Text in an EBCDIC code page.
fn write_ebcdic(room: &mut [u8], value: &[u8], charset: Charset) {
    for (d, &c) in room.iter_mut().zip(value) {
        *d = c;
    }
    to_charset(room, charset);
}

/// Writes each byte as two hex characters: sixteen bytes a step, the last step over the last
/// sixteen (again, for the bytes the step before wrote), and shorter values a pair at a time
/// from a table.
fn write_hex(text: &mut [u8], value: &[u8], charset: Charset) {
    if value.len() >= 16 {
        let mut out = text.chunks_exact_mut(32);
        let mut bytes = value.chunks_exact(16);
        for (room, block) in (&mut out).zip(&mut bytes) {
            if let (Ok(room), Ok(block)) = (room.try_into(), block.try_into()) {
                hex_block(block, room);
            }
        }
        if !bytes.remainder().is_empty() {
            let from = value.len() - 16;
            let block = value.get(from..).map(<&[u8; 16]>::try_from);
            let room = text.get_mut(2 * from..).map(<&mut [u8; 32]>::try_from);
            if let (Some(Ok(block)), Some(Ok(room))) = (block, room) {
                hex_block(block, room);
            }
        }
    } else {
        for (pair, &b) in text.chunks_exact_mut(2).zip(value) {
            pair.copy_from_slice(&hex_pair(b));
        }
    }
    to_charset(text, charset);
}

/// Upper-case hex of sixteen bytes, as vectors (`wide`: SSE2 on x86-64, plain arrays where
/// there is no vector unit).
#[inline(always)]
fn hex_block(block: &[u8; 16], room: &mut [u8; 32]) {
    let v = u8x16::new(*block);
    let nibble = u8x16::splat(0x0F);
    // Bytes have no shift of their own: shifting 16-bit lanes brings each high nibble down,
    // with bits of the byte above, which the mask clears.
    let high: u8x16 = cast(cast::<u8x16, u16x8>(v) >> 4);
    let char_of = |n: u8x16| {
        // '0' added to each nibble, and 7 more to 10-15 so that they land on 'A'-'F'.
        let letter = n.max(u8x16::splat(10)).cmp_eq(n);
        n + u8x16::splat(b'0') + (letter & u8x16::splat(7))
    };
    let (high, low) = (char_of(high & nibble), char_of(v & nibble));
    let (first, second) = room.split_at_mut(16);
    first.copy_from_slice(u8x16::unpack_low(high, low).as_array_ref());
    second.copy_from_slice(u8x16::unpack_high(high, low).as_array_ref());
}

#[inline]
fn hex_pair(b: u8) -> [u8; 2] {
    HEX_PAIRS.get(usize::from(b)).copied().unwrap_or_default()
}

/// The two upper-case hex characters of each byte.
static HEX_PAIRS: [[u8; 2]; 256] = hex_pairs();

// Runs at compile time over indices 0-255 of a 256-entry array; `get_mut` is not const.
#[allow(clippy::indexing_slicing)]
const fn hex_pairs() -> [[u8; 2]; 256] {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 0x0F]];
        i += 1;
    }
    t
}

/// "00" to "99".
static DIGIT_PAIRS: [[u8; 2]; 100] = digit_pairs();

// Runs at compile time over indices 0-99 of a 100-entry array; `get_mut` is not const.
#[allow(clippy::indexing_slicing)]
const fn digit_pairs() -> [[u8; 2]; 100] {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
}

/// `count` (0-99) as one byte of BCD.
#[inline]
fn bcd_byte(count: usize) -> Option<u8> {
    let [tens, ones] = *DIGIT_PAIRS.get(count)?;
    Some(((tens - b'0') << 4) | (ones - b'0'))
}

/// Writes a length prefix: the usual widths from a table, the rest digit by digit. A count
/// too large for the prefix keeps its low digits (the spec's maximum is checked on `set`).
#[inline]
pub(super) fn write_prefix(cur: &mut Cursor<'_>, plan: &Plan, count: usize) {
    let done = match plan.prefix_writer {
        PrefixWriter::Ascii2 => DIGIT_PAIRS.get(count).map(|pair| cur.put(pair)),
        PrefixWriter::Ascii3 => DIGIT_PAIRS.get(count % 100).and_then(|&[tens, ones]| {
            let hundreds = u8::try_from(count / 100).ok().filter(|h| *h < 10)?;
            cur.put(&[b'0' + hundreds, tens, ones]);
            Some(())
        }),
        PrefixWriter::Bcd1 => bcd_byte(count).map(|b| cur.put_u8(b)),
        PrefixWriter::Bcd2 => bcd_byte(count / 100)
            .zip(bcd_byte(count % 100))
            .map(|(high, low)| cur.put(&[high, low])),
        PrefixWriter::None | PrefixWriter::Digits => None,
    };
    if done.is_none() {
        write_prefix_digits(cur.take(usize::from(plan.prefix_width)), plan, count as u64);
    }
}

/// Fills the room of a prefix digit by digit (a count too large keeps its low digits).
fn write_prefix_digits(room: &mut [u8], plan: &Plan, count: u64) {
    let mut cur = Cursor::new(room);
    let cur = &mut cur;
    let digits = u32::from(plan.prefix_digits);
    match plan.prefix_encoding {
        PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => {
            let zero = if plan.prefix_encoding == PrefixEncoding::Ascii {
                b'0'
            } else {
                0xF0
            };
            for i in (0..digits).rev() {
                cur.put_u8(zero + ((count / 10u64.pow(i)) % 10) as u8);
            }
        }
        PrefixEncoding::Bcd => {
            let bytes = u32::from(plan.prefix_width);
            for i in (0..bytes).rev() {
                let pair = (count / 100u64.pow(i)) % 100;
                cur.put_u8((((pair / 10) as u8) << 4) | (pair % 10) as u8);
            }
        }
        PrefixEncoding::Binary => {
            let bytes = usize::from(plan.prefix_width);
            let be = count.to_be_bytes();
            cur.put(be.get(8 - bytes..).unwrap_or(&be));
        }
    }
}

/// The BCD nibble of each character a BCD field's logical value may hold: digits, `D` or `=`
/// for the track separator (and `A`-`F`); anything else (refused on `set`) packs as 0.
static NIBBLES: [u8; 256] = nibbles();

// Runs at compile time over indices 0-255 of a 256-entry array; `get_mut` is not const.
#[allow(clippy::indexing_slicing)]
const fn nibbles() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b'0'..=b'9' => b - b'0',
            b'=' => 0xD,
            b'A'..=b'F' => b - b'A' + 10,
            _ => 0,
        };
        c += 1;
    }
    t
}

#[inline]
fn nibble(c: u8) -> u8 {
    NIBBLES.get(usize::from(c)).copied().unwrap_or(0)
}

/// Packs ASCII digits (and `D` or `=` as the track separator nibble) into BCD.
fn write_bcd(out: &mut [u8], digits: &[u8], pad: Pad, filler: u8) {
    let odd = digits.len() % 2 == 1;
    // With an odd count, one byte holds the filler: the first (left pad) or the last.
    let (pairs, single, single_at) = match (odd, pad) {
        (true, Pad::Left) => (digits.get(1..), digits.first(), 0),
        (true, Pad::Right) => (
            digits.get(..digits.len() - 1),
            digits.last(),
            out.len().saturating_sub(1),
        ),
        (false, _) => (Some(digits), None, 0),
    };
    let body = match (odd, pad) {
        (true, Pad::Left) => out.get_mut(1..),
        _ => out.get_mut(..digits.len() / 2),
    };
    if let (Some(body), Some(pairs)) = (body, pairs) {
        for (b, pair) in body.iter_mut().zip(pairs.chunks_exact(2)) {
            if let [hi, lo] = pair {
                *b = (nibble(*hi) << 4) | nibble(*lo);
            }
        }
    }
    if let (Some(&c), Some(b)) = (single, out.get_mut(single_at)) {
        *b = match pad {
            Pad::Left => (filler << 4) | nibble(c),
            Pad::Right => (nibble(c) << 4) | filler,
        };
    }
}

/// Maps characters written as ASCII (Latin-1) to `charset`, in place.
fn to_charset(text: &mut [u8], charset: Charset) {
    let table = match charset {
        Charset::Ascii => return,
        Charset::Ebcdic(CodePage::Cp037) => &LATIN1_TO_CP037,
        Charset::Ebcdic(CodePage::Cp1047) => &LATIN1_TO_CP1047,
    };
    for c in text {
        // Both tables have 256 entries, so every byte maps.
        *c = table.get(usize::from(*c)).copied().unwrap_or(*c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    /// What a writer puts into exactly `len` bytes of room.
    fn written(len: usize, write: impl FnOnce(&mut Cursor<'_>)) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        let mut cur = Cursor::new(&mut buf);
        write(&mut cur);
        assert!(cur.is_full());
        buf
    }

    #[test]
    fn small_copies_of_every_length() {
        let src: Vec<u8> = (1..=40).collect();
        for len in 0..=src.len() {
            let out = written(len, |cur| cur.put(&src[..len]));
            assert_eq!(out, &src[..len]);
            let out = written(len, |cur| cur.put_4_to_8(&src[..len]));
            assert_eq!(out, &src[..len]);
            let out = written(len, |cur| cur.put_9_to_16(&src[..len]));
            assert_eq!(out, &src[..len]);
        }
    }

    #[test]
    fn hex_of_every_length_and_byte() {
        for x in [0u32, 1, 0x0123_4567, 0x89AB_CDEF, 0xFFFF_FFFF, 0xA0B0_C0D0] {
            assert_eq!(hex8(x), *format!("{x:08X}").as_bytes());
        }
        let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for len in 0..bytes.len() {
            let value = &bytes[..len];
            let out = written(2 * len, |cur| {
                write_hex(cur.take(2 * len), value, Charset::Ascii)
            });
            let expected: String = value.iter().map(|b| format!("{b:02X}")).collect();
            assert_eq!(out, expected.as_bytes(), "{len} bytes");
        }
    }

    /// The packing of BCD as a byte at a time would do it.
    #[test]
    fn bcd_of_every_length_pad_and_filler() {
        let chars = b"0123456789=D4111";
        for len in 0..=chars.len() {
            let digits = &chars[..len];
            let nibbles: Vec<u8> = digits.iter().map(|&c| nibble(c)).collect();
            for pad in [Pad::Left, Pad::Right] {
                for filler in [0x0, 0xF] {
                    let mut padded = nibbles.clone();
                    if len % 2 == 1 {
                        match pad {
                            Pad::Left => padded.insert(0, filler),
                            Pad::Right => padded.push(filler),
                        }
                    }
                    let expected: Vec<u8> = padded.chunks(2).map(|p| (p[0] << 4) | p[1]).collect();
                    let room = len.div_ceil(2);
                    let out = written(room, |cur| write_bcd(cur.take(room), digits, pad, filler));
                    assert_eq!(out, expected, "{len} digits, {pad:?}, filler {filler:X}");
                }
            }
        }
    }

    /// The inline forms `encode` picks from a plan's `write_op` write what the general writer
    /// writes, for every field of every built-in spec taking one and every length it allows.
    #[test]
    fn write_ops_agree_with_the_general_writer() {
        use crate::spec::plan::WriteOp;
        let mut seen = [0usize; 7];
        for name in Spec::builtin_names() {
            let spec = Spec::builtin(name).unwrap();
            for plan in &spec.plans {
                let lengths = match plan.write_op {
                    WriteOp::General => continue,
                    WriteOp::Ascii2Copy | WriteOp::Ascii3Copy | WriteOp::Ascii3Hex => {
                        0..=plan.max_units as usize
                    }
                    _ => plan.units as usize..=plan.units as usize,
                };
                for len in lengths {
                    // `x+n` (fixed fields only) has a sign byte before its digits.
                    let sign = plan.sign.then_some(b'C');
                    let digits = (0..len).map(|i| b'0' + (i % 10) as u8);
                    let value: Vec<u8> = sign.into_iter().chain(digits).collect();
                    let wire = usize::from(plan.prefix_width) + plan.wire_len(len);
                    let general = written(wire, |cur| write_field(cur, plan, &value));
                    let inline = written(wire, |cur| match plan.write_op {
                        WriteOp::Copy => cur.put(&value),
                        WriteOp::Copy4To8 => cur.put_4_to_8(&value),
                        WriteOp::Copy9To16 => cur.put_9_to_16(&value),
                        WriteOp::Ascii2Copy => put_ascii2_copy(cur, &value),
                        WriteOp::Hex => put_hex(cur, &value),
                        WriteOp::Ascii3Hex => put_ascii3_hex(cur, &value),
                        _ => put_ascii3_copy(cur, &value),
                    });
                    assert_eq!(inline, general, "{name} {:?}, {len} bytes", plan.write_op);
                    seen[plan.write_op as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    }

    #[test]
    fn prefix_tables_agree_with_digit_by_digit() {
        for (encoding, digits) in [
            (PrefixEncoding::Ascii, 2),
            (PrefixEncoding::Ascii, 3),
            (PrefixEncoding::Bcd, 1),
            (PrefixEncoding::Bcd, 2),
            (PrefixEncoding::Bcd, 3),
            (PrefixEncoding::Bcd, 4),
        ] {
            let text = format!(
                "[spec]\nname = \"t\"\ndescription = \"t\"\nsources = []\nmti = \"ascii\"\n\
                 bitmap = \"binary\"\ntertiary_bitmap = false\n[defaults]\nnumeric = \"ascii\"\n\
                 text = \"ascii\"\nbinary = \"binary\"\nprefix = \"ascii\"\n[[field]]\n\
                 number = 2\nname = \"f\"\nclass = \"ans\"\nmax = 9\nprefix = {digits}\n\
                 prefix_encoding = \"{}\"\n",
                format!("{encoding:?}").to_lowercase()
            );
            let spec = Spec::from_toml_str(&text).unwrap();
            let plan = spec.plan(2);
            assert_eq!(plan.prefix_encoding, encoding);
            assert_ne!(plan.prefix_writer, PrefixWriter::Digits);
            let width = usize::from(plan.prefix_width);
            for count in 0..20_000 {
                let fast = written(width, |cur| write_prefix(cur, &plan, count));
                let slow = written(width, |cur| {
                    write_prefix_digits(cur.take(width), &plan, count as u64)
                });
                assert_eq!(fast, slow, "{encoding:?} {digits} digits, {count}");
            }
        }
    }
}
