//! Building messages: values are checked against their field's spec when they are set, and the
//! whole message is written into a `BytesMut` in one pass, bitmaps computed from what is set.
//!
//! Values are logical values (see the `field` module): digits and characters as ASCII (Latin-1
//! for EBCDIC text above 0x7F), raw bytes for class `b`. What [`crate::Field::value`] reads can
//! be set again unchanged, and the builder always writes the canonical form: upper-case hex,
//! the spec's filler nibble, and no bitmap without a bit set.

mod check;

use std::borrow::Cow;
use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::content::{self, Bad};
use crate::ebcdic::{LATIN1_TO_CP037, LATIN1_TO_CP1047};
use crate::error::{Error, Expected, FieldPath, Found, LengthProblem};
use crate::field::write_masked;
use crate::message::{Message, Mti};
use crate::spec::plan::{Kind, MaskScan, Plan, PrefixWriter, ValueCheck, Writer};
use crate::spec::{
    BitmapEncoding, Charset, CodePage, ContentClass, DataEncoding, FieldSpec, MtiEncoding, Pad,
    PrefixEncoding, Spec,
};

/// Builds one message for a spec.
///
/// ```
/// use iso8583_codec::{Builder, Mti, Spec};
///
/// let spec = Spec::builtin("iso87-ascii").unwrap();
/// let mut builder = Builder::new(spec, Mti::new("0800").unwrap());
/// builder.set_str(11, "000123")?.set_str(70, "301")?;
/// let bytes = builder.to_bytes();
/// assert_eq!(&bytes[..], b"080080200000000000000400000000000000000123301");
/// # Ok::<(), iso8583_codec::Error>(())
/// ```
#[derive(Clone)]
pub struct Builder<'s, 'v> {
    spec: &'s Spec,
    mti: Mti,
    /// Values in field-number order.
    values: Vec<(u16, Value<'v>)>,
    /// Values the builder owns; `None` for a slot no longer used.
    owned: Vec<Option<Vec<u8>>>,
    strict: bool,
    /// Wire bytes the set fields take with their prefixes, kept as fields are set and removed
    /// so that [`Builder::encoded_len`] need not walk the fields.
    fields_len: usize,
}

/// A stored value: borrowed from the caller, or owned by the builder (a slot of `owned`).
/// Entries are `Copy`, so dropping a builder does not walk them.
#[derive(Debug, Clone, Copy)]
enum Value<'v> {
    Borrowed(&'v [u8]),
    Owned(usize),
}

impl<'s, 'v> Builder<'s, 'v> {
    /// An empty message of type `mti`.
    pub fn new(spec: &'s Spec, mti: Mti) -> Self {
        Builder {
            spec,
            mti,
            // Room for a typical message, so setting its fields does not reallocate.
            values: Vec::with_capacity(32),
            owned: Vec::new(),
            strict: false,
            fields_len: 0,
        }
    }

    /// Refuse values that are accepted but non-canonical in a lenient decode: bytes above
    /// 0x7F in `ans` fields.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// A builder holding every field of a decoded message, for re-encoding (canonically) or
    /// changing a few fields. Values are borrowed where the wire form is the logical value.
    pub fn from_message(message: &Message<'v>) -> Result<Builder<'v, 'v>, Error> {
        let mut builder = Builder::new(message.spec(), message.mti());
        for field in message.fields() {
            let value: Cow<'v, [u8]> = match field.spec().encoding {
                DataEncoding::Text(Charset::Ascii) | DataEncoding::Binary => {
                    Cow::Borrowed(field.raw())
                }
                _ => Cow::Owned(field.to_vec()),
            };
            builder.put(field.number(), value)?;
        }
        Ok(builder)
    }

    /// The spec.
    pub fn spec(&self) -> &'s Spec {
        self.spec
    }

    /// The MTI.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Changes the MTI.
    pub fn set_mti(&mut self, mti: Mti) -> &mut Self {
        self.mti = mti;
        self
    }

    /// Sets field `n` to a logical value, after checking it against the field's spec.
    #[inline]
    pub fn set(&mut self, n: u16, value: impl Into<Cow<'v, [u8]>>) -> Result<&mut Self, Error> {
        self.insert(n, value.into(), true)
    }

    /// [`Builder::set`] without the mask-character check, for [`Builder::from_message`]: a
    /// decoded value comes from the wire, where `*` is content (track 1 may hold it), not
    /// masked output pasted back in.
    fn put(&mut self, n: u16, value: Cow<'v, [u8]>) -> Result<&mut Self, Error> {
        self.insert(n, value, false)
    }

    /// Checks `value` against field `n`'s plan and stores it.
    #[inline]
    fn insert(
        &mut self,
        n: u16,
        value: Cow<'v, [u8]>,
        refuse_masked: bool,
    ) -> Result<&mut Self, Error> {
        let plan = self.plan_of(n)?;
        if !quick_check(plan, &value, self.strict, refuse_masked) {
            // The full check says what is wrong, or accepts what the quick one would not.
            check_value(n, plan, &value, self.strict, refuse_masked)?;
        }
        let len = field_len(plan, value.len());
        // Fields are usually set in number order: append without searching.
        if self.values.last().is_none_or(|(k, _)| *k < n) {
            let value = self.store(value);
            self.values.push((n, value));
            self.fields_len += len;
        } else {
            self.replace_or_insert(n, plan, value, len);
        }
        Ok(self)
    }

    /// Sets a field out of number order, or one already set.
    fn replace_or_insert(&mut self, n: u16, plan: &Plan, value: Cow<'v, [u8]>, len: usize) {
        match self.values.binary_search_by_key(&n, |(k, _)| *k) {
            Ok(i) => {
                let Some(&(_, old)) = self.values.get(i) else {
                    return;
                };
                let old = self.release(old);
                self.fields_len = self.fields_len - field_len(plan, old.len()) + len;
                let value = self.store(value);
                if let Some(slot) = self.values.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => {
                let value = self.store(value);
                self.values.insert(i, (n, value));
                self.fields_len += len;
            }
        }
    }

    /// Keeps a value: borrowed as it is, owned in a free slot of `owned`.
    #[inline]
    fn store(&mut self, value: Cow<'v, [u8]>) -> Value<'v> {
        match value {
            Cow::Borrowed(bytes) => Value::Borrowed(bytes),
            Cow::Owned(bytes) => {
                let i = match self.owned.iter().position(Option::is_none) {
                    Some(free) => free,
                    None => {
                        self.owned.push(None);
                        self.owned.len() - 1
                    }
                };
                if let Some(slot) = self.owned.get_mut(i) {
                    *slot = Some(bytes);
                }
                Value::Owned(i)
            }
        }
    }

    /// Takes a stored value back, freeing its slot.
    fn release(&mut self, value: Value<'v>) -> Cow<'v, [u8]> {
        match value {
            Value::Borrowed(bytes) => Cow::Borrowed(bytes),
            Value::Owned(i) => Cow::Owned(
                self.owned
                    .get_mut(i)
                    .and_then(Option::take)
                    .unwrap_or_default(),
            ),
        }
    }

    /// The bytes of a stored value.
    fn bytes(&self, value: Value<'v>) -> &[u8] {
        match value {
            Value::Borrowed(bytes) => bytes,
            Value::Owned(i) => self
                .owned
                .get(i)
                .and_then(Option::as_deref)
                .unwrap_or_default(),
        }
    }

    /// Sets field `n` from text (see [`Builder::set`]).
    pub fn set_str(&mut self, n: u16, value: &'v str) -> Result<&mut Self, Error> {
        self.set(n, value.as_bytes())
    }

    /// Removes field `n`, returning its value.
    pub fn remove(&mut self, n: u16) -> Option<Cow<'v, [u8]>> {
        let i = self.values.binary_search_by_key(&n, |(k, _)| *k).ok()?;
        let value = self.values.remove(i).1;
        let value = self.release(value);
        self.fields_len -= field_len(&self.spec.plan(n), value.len());
        Some(value)
    }

    /// The value of field `n`, if set.
    pub fn get(&self, n: u16) -> Option<&[u8]> {
        let i = self.values.binary_search_by_key(&n, |(k, _)| *k).ok()?;
        self.values.get(i).map(|(_, v)| self.bytes(*v))
    }

    /// Every set field and its value, in number order.
    pub fn fields(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        self.values.iter().map(|(n, v)| (*n, self.bytes(*v)))
    }

    /// The plan of a field that can be set: defined, and not a bitmap bit.
    /// (A reference, not a copy: the builder reads a few of its fields.)
    #[inline]
    fn plan_of(&self, n: u16) -> Result<&'s Plan, Error> {
        match self.spec.plans.get(usize::from(n)) {
            Some(plan) if matches!(plan.kind, Kind::Fixed | Kind::Variable) => Ok(plan),
            _ => Err(Error::UnknownField {
                field: FieldPath::field(n),
                offset: 0,
            }),
        }
    }

    /// Bytes [`Builder::encode`] will write.
    pub fn encoded_len(&self) -> usize {
        // Fields are in number order, and only specs with a tertiary bitmap define fields
        // above 128 (whose bit 65 then announces it).
        let last = self.values.last().map_or(0, |(n, _)| *n);
        let bitmaps = 1 + usize::from(last > 64) + usize::from(last > 128);
        self.spec.mti.width() + bitmaps * self.spec.bitmap.width() + self.fields_len
    }

    /// Bitmap words with bits 1 and 65 set as needed, and whether a tertiary bitmap is written.
    fn bitmap_words(&self) -> ([u64; 3], bool) {
        let mut words = [0u64; 3];
        for (n, _) in &self.values {
            let (word, bit) = bit_of(*n);
            if let Some(w) = words.get_mut(word) {
                *w |= bit;
            }
        }
        let tertiary = self.spec.tertiary && words[2] != 0;
        if tertiary {
            words[1] |= 1u64 << 63;
        }
        if words[1] != 0 {
            words[0] |= 1u64 << 63;
        }
        (words, tertiary)
    }

    /// Writes the message at the end of `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        self.write_mti(out);

        let (words, tertiary) = self.bitmap_words();
        self.write_bitmap(out, words[0]);
        if words[1] != 0 {
            self.write_bitmap(out, words[1]);
        }
        let mut tertiary_pending = tertiary;
        for &(n, value) in &self.values {
            if tertiary_pending && n > 65 {
                self.write_bitmap(out, words[2]);
                tertiary_pending = false;
            }
            if let Some(plan) = self.spec.plans.get(usize::from(n)) {
                write_field(out, plan, self.bytes(value));
            }
        }
    }

    /// The message in a new buffer.
    pub fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    fn write_mti(&self, out: &mut BytesMut) {
        let d = self.mti.digits();
        match self.spec.mti {
            MtiEncoding::Ascii => out.put_slice(&d),
            MtiEncoding::Ebcdic => d.iter().for_each(|b| out.put_u8(b - b'0' + 0xF0)),
            MtiEncoding::Bcd => {
                out.put_u8(((d[0] - b'0') << 4) | (d[1] - b'0'));
                out.put_u8(((d[2] - b'0') << 4) | (d[3] - b'0'));
            }
        }
    }

    fn write_bitmap(&self, out: &mut BytesMut, word: u64) {
        match self.spec.bitmap {
            BitmapEncoding::Binary => out.put_u64(word),
            BitmapEncoding::Hex(charset) => {
                let mut text = [0u8; 16];
                let (high, low) = text.split_at_mut(8);
                high.copy_from_slice(&hex8((word >> 32) as u32));
                low.copy_from_slice(&hex8(word as u32));
                put_chars(out, &text, charset);
            }
        }
    }
}

/// Values of sensitive fields are masked.
impl fmt::Debug for Builder<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = self.fields().filter_map(|(n, value)| {
            let spec = self.spec.field(n)?;
            Some((n, MaskedBytes { spec, value }))
        });
        f.debug_struct("Builder")
            .field("spec", &self.spec.name())
            .field("mti", &self.mti)
            .field("fields", &DebugMap(fields.collect()))
            .finish()
    }
}

struct MaskedBytes<'a> {
    spec: &'a FieldSpec,
    value: &'a [u8],
}

impl fmt::Debug for MaskedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        write_masked(f, self.spec, self.value.iter().copied())?;
        f.write_str("\"")
    }
}

struct DebugMap<'a>(Vec<(u16, MaskedBytes<'a>)>);

impl fmt::Debug for DebugMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| (n, v)))
            .finish()
    }
}

/// True when [`check_value`] certainly accepts `value`: its length and characters are fine
/// and, with `refuse_masked`, an `ans` value holding `*` is not. (Values of other sensitive
/// classes that pass their check hold no `*`.)
#[inline]
fn quick_check(plan: &Plan, value: &[u8], strict: bool, refuse_masked: bool) -> bool {
    let units = units_of(plan, value.len());
    let length_ok = match plan.kind {
        Kind::Fixed => units == plan.units as usize,
        _ => units <= plan.max_units as usize && !(plan.even_units && units % 2 == 1),
    };
    let body = if plan.sign {
        match value.split_first() {
            Some((&sign, rest)) if content::is_sign(sign) => Some(rest),
            _ => None,
        }
    } else {
        Some(value)
    };
    let content_ok = body.is_some_and(|body| match plan.value_check {
        ValueCheck::Nothing => true,
        ValueCheck::Digits => check::is_digits(body),
        ValueCheck::Chars(class) => check::is_class(class, body, strict),
    });
    let masked = refuse_masked && plan.mask_scan == MaskScan::Always && value.contains(&b'*');
    length_ok && content_ok && !masked
}

/// Checks a logical value against a field's plan; with `refuse_masked`, a sensitive text value
/// holding `*` (copied from masked output) is refused before anything else is said about it.
/// Only called when [`quick_check`] has not accepted the value.
#[cold]
#[inline(never)]
fn check_value(
    n: u16,
    plan: &Plan,
    value: &[u8],
    strict: bool,
    refuse_masked: bool,
) -> Result<(), Error> {
    let result = check_length(n, plan, value).and_then(|()| check_content(n, plan, value, strict));
    // Only `ans` allows `*`, so for other classes a value holding one has failed its check and
    // the scan can wait for the error path.
    let scan = match plan.mask_scan {
        MaskScan::Never => false,
        MaskScan::OnError => result.is_err(),
        MaskScan::Always => true,
    };
    if refuse_masked && scan && value.contains(&b'*') {
        let field = FieldPath::field(n);
        return Err(Error::MaskedValue { field });
    }
    result
}

/// Checks the length of a logical value in units of its class.
#[inline]
fn check_length(n: u16, plan: &Plan, value: &[u8]) -> Result<(), Error> {
    let units = units_of(plan, value.len());
    let problem = match plan.kind {
        Kind::Fixed if units != plan.units as usize => LengthProblem::NotFixed {
            found: units as u64,
            expected: plan.units.into(),
        },
        Kind::Variable if units > plan.max_units as usize => LengthProblem::TooLong {
            found: units as u64,
            max: plan.max_units.into(),
        },
        Kind::Variable if plan.even_units && units % 2 == 1 => LengthProblem::NotWholeUnits {
            found: units as u64,
        },
        _ => return Ok(()),
    };
    Err(Error::InvalidLength {
        field: FieldPath::field(n),
        offset: 0,
        problem,
    })
}

/// Checks the characters of a logical value against its class (the sign of `x+n` first).
#[inline]
fn check_content(n: u16, plan: &Plan, value: &[u8], strict: bool) -> Result<(), Error> {
    let content_error = |index: usize, expected| Error::InvalidContent {
        field: FieldPath::field(n),
        offset: index,
        expected,
        found: Found::byte(value.get(index).copied().unwrap_or(0), plan.sensitive),
    };
    let body = if plan.sign {
        match value.split_first() {
            Some((&s, rest)) if content::is_sign(s) => rest,
            _ => return Err(content_error(0, Expected::Sign)),
        }
    } else {
        value
    };
    let class = match plan.value_check {
        ValueCheck::Nothing => return Ok(()),
        ValueCheck::Digits => ContentClass::N,
        ValueCheck::Chars(class) => class,
    };
    let skip = value.len() - body.len();
    content::check_chars(class, None, body, strict)
        .map(|_| ())
        .map_err(|Bad { index, expected }| content_error(index + skip, expected))
}

/// Length of a logical value in units of its class: `x+n` has a sign byte besides its digits.
#[inline]
fn units_of(plan: &Plan, len: usize) -> usize {
    len.saturating_sub(usize::from(plan.sign))
}

/// Wire bytes of a field whose logical value is `len` bytes long, prefix included.
#[inline]
fn field_len(plan: &Plan, len: usize) -> usize {
    usize::from(plan.prefix_width) + plan.wire_len(units_of(plan, len))
}

/// Word and bit of field `n` in the bitmap words.
#[inline]
fn bit_of(n: u16) -> (usize, u64) {
    let i = usize::from(n.saturating_sub(1));
    (i / 64, 1u64 << (63 - i % 64))
}

#[inline]
fn write_field(out: &mut BytesMut, plan: &Plan, value: &[u8]) {
    if plan.prefix_writer != PrefixWriter::None {
        let units = units_of(plan, value.len());
        let count = if plan.counts_bytes {
            plan.wire_len(units)
        } else {
            units
        };
        write_prefix(out, plan, count);
    }
    match plan.writer {
        Writer::Copy => out.put_slice(value),
        Writer::Ebcdic(page) => value
            .iter()
            .for_each(|&b| put_char(out, b, Charset::Ebcdic(page))),
        Writer::Hex(charset) => write_hex(out, value, charset),
        Writer::Bcd { pad, filler } => {
            let digits = match value.split_first() {
                Some((&sign, rest)) if plan.sign => {
                    out.put_u8(sign);
                    rest
                }
                _ => value,
            };
            write_bcd(out, digits, pad, filler);
        }
    }
}

/// Upper-case hex of the four bytes of `x`, most significant first.
#[inline]
fn hex8(x: u32) -> [u8; 8] {
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

/// Writes each byte as two hex characters.
fn write_hex(out: &mut BytesMut, value: &[u8], charset: Charset) {
    // Through a stack buffer, so the output is written a slice at a time; four bytes at a time.
    let mut text = [0u8; 128];
    for chunk in value.chunks(64) {
        let mut quads = chunk.chunks_exact(4);
        for (dst, quad) in text.chunks_exact_mut(8).zip(&mut quads) {
            let word = quad.try_into().map_or(0, u32::from_be_bytes);
            dst.copy_from_slice(&hex8(word));
        }
        let rest = quads.remainder();
        if !rest.is_empty() {
            // The last 1-3 bytes, left-aligned in a word; only their characters are kept.
            let word = rest
                .iter()
                .fold(0u32, |w, &b| (w << 8) | u32::from(b))
                .wrapping_shl(8 * (4 - rest.len() as u32));
            let done = 2 * (chunk.len() - rest.len());
            let hex = hex8(word);
            if let (Some(dst), Some(src)) = (
                text.get_mut(done..2 * chunk.len()),
                hex.get(..2 * rest.len()),
            ) {
                dst.copy_from_slice(src);
            }
        }
        put_chars(out, text.get(..2 * chunk.len()).unwrap_or(&text), charset);
    }
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
fn write_prefix(out: &mut BytesMut, plan: &Plan, count: usize) {
    let done = match plan.prefix_writer {
        PrefixWriter::Ascii2 => DIGIT_PAIRS.get(count).map(|pair| out.put_slice(pair)),
        PrefixWriter::Ascii3 => DIGIT_PAIRS.get(count % 100).and_then(|&[tens, ones]| {
            let hundreds = u8::try_from(count / 100).ok().filter(|h| *h < 10)?;
            out.put_slice(&[b'0' + hundreds, tens, ones]);
            Some(())
        }),
        PrefixWriter::Bcd1 => bcd_byte(count).map(|b| out.put_u8(b)),
        PrefixWriter::Bcd2 => bcd_byte(count / 100)
            .zip(bcd_byte(count % 100))
            .map(|(high, low)| out.put_slice(&[high, low])),
        PrefixWriter::None | PrefixWriter::Digits => None,
    };
    if done.is_none() {
        write_prefix_digits(out, plan, count as u64);
    }
}

fn write_prefix_digits(out: &mut BytesMut, plan: &Plan, count: u64) {
    let digits = u32::from(plan.prefix_digits);
    match plan.prefix_encoding {
        PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => {
            let zero = if plan.prefix_encoding == PrefixEncoding::Ascii {
                b'0'
            } else {
                0xF0
            };
            for i in (0..digits).rev() {
                out.put_u8(zero + ((count / 10u64.pow(i)) % 10) as u8);
            }
        }
        PrefixEncoding::Bcd => {
            let bytes = u32::from(plan.prefix_width);
            for i in (0..bytes).rev() {
                let pair = (count / 100u64.pow(i)) % 100;
                out.put_u8((((pair / 10) as u8) << 4) | (pair % 10) as u8);
            }
        }
        PrefixEncoding::Binary => {
            let bytes = usize::from(plan.prefix_width);
            let be = count.to_be_bytes();
            out.put_slice(be.get(8 - bytes..).unwrap_or(&be));
        }
    }
}

/// Packs ASCII digits (and `D` or `=` as the track separator nibble) into BCD.
fn write_bcd(out: &mut BytesMut, digits: &[u8], pad: Pad, filler: u8) {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'=' => 0xD,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    };
    let odd = digits.len() % 2 == 1;
    let mut rest = digits;
    if odd && pad == Pad::Left {
        if let Some((&first, tail)) = rest.split_first() {
            out.put_u8((filler << 4) | nibble(first));
            rest = tail;
        }
    }
    let mut pairs = rest.chunks_exact(2);
    for pair in &mut pairs {
        if let [hi, lo] = pair {
            out.put_u8((nibble(*hi) << 4) | nibble(*lo));
        }
    }
    if let [last] = pairs.remainder() {
        out.put_u8((nibble(*last) << 4) | filler);
    }
}

/// Writes characters in `charset`: ASCII in one copy, EBCDIC a byte at a time.
fn put_chars(out: &mut BytesMut, chars: &[u8], charset: Charset) {
    match charset {
        Charset::Ascii => out.put_slice(chars),
        Charset::Ebcdic(_) => chars.iter().for_each(|&c| put_char(out, c, charset)),
    }
}

fn put_char(out: &mut BytesMut, c: u8, charset: Charset) {
    let b = match charset {
        Charset::Ascii => Some(c),
        Charset::Ebcdic(CodePage::Cp037) => LATIN1_TO_CP037.get(usize::from(c)).copied(),
        Charset::Ebcdic(CodePage::Cp1047) => LATIN1_TO_CP1047.get(usize::from(c)).copied(),
    };
    // Both tables have 256 entries, so every byte maps.
    out.put_u8(b.unwrap_or(c));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `MaskScan::OnError` relies on every class but `ans` (and `b`, never scanned) refusing `*`.
    #[test]
    fn only_ans_allows_the_mask_character() {
        use ContentClass::*;
        for class in [N, A, An, Z, XN] {
            assert!(content::check_chars(class, None, b"1*", false).is_err());
        }
        assert!(content::check_chars(Ans, None, b"1*", true).is_ok());
    }

    #[test]
    fn hex_of_every_length_and_byte() {
        for x in [0u32, 1, 0x0123_4567, 0x89AB_CDEF, 0xFFFF_FFFF, 0xA0B0_C0D0] {
            assert_eq!(hex8(x), *format!("{x:08X}").as_bytes());
        }
        let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for len in 0..bytes.len() {
            let value = &bytes[..len];
            let mut out = BytesMut::new();
            write_hex(&mut out, value, Charset::Ascii);
            let expected: String = value.iter().map(|b| format!("{b:02X}")).collect();
            assert_eq!(&out[..], expected.as_bytes(), "{len} bytes");
        }
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
            for count in 0..20_000 {
                let (mut fast, mut slow) = (BytesMut::new(), BytesMut::new());
                write_prefix(&mut fast, &plan, count);
                write_prefix_digits(&mut slow, &plan, count as u64);
                assert_eq!(fast, slow, "{encoding:?} {digits} digits, {count}");
            }
        }
    }

    /// Owned values are kept in slots that are freed and reused as they are replaced.
    #[test]
    fn owned_values_are_replaced_removed_and_their_slots_reused() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
        builder.set(11, b"000001".to_vec()).unwrap();
        builder.set(3, b"000000".to_vec()).unwrap();
        builder.set(11, &b"000002"[..]).unwrap();
        builder.set(4, b"000000001000".to_vec()).unwrap();
        assert_eq!(builder.owned.len(), 2);
        assert_eq!(builder.get(4), Some(&b"000000001000"[..]));
        builder.set(3, b"300000".to_vec()).unwrap();
        assert_eq!(builder.owned.len(), 2);
        let fields: Vec<_> = builder.fields().collect();
        assert_eq!(
            fields,
            [
                (3, &b"300000"[..]),
                (4, &b"000000001000"[..]),
                (11, &b"000002"[..])
            ]
        );
        assert!(matches!(builder.remove(4), Some(Cow::Owned(v)) if v == b"000000001000"));
        let copy = builder.clone();
        assert_eq!(&copy.to_bytes()[..], b"02002020000000000000300000000002");
        assert_eq!(builder.encoded_len(), builder.to_bytes().len());
    }

    /// The length kept as fields are set, replaced and removed is the length written.
    #[test]
    fn encoded_len_follows_sets_replacements_and_removals() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
        let check = |b: &Builder<'_, '_>| assert_eq!(b.encoded_len(), b.to_bytes().len());
        builder.set_str(11, "000001").unwrap();
        builder.set_str(2, "4111111111111111").unwrap();
        check(&builder);
        builder.set_str(2, "41111111").unwrap();
        builder.set(55, &[0x9F, 0x26][..]).unwrap();
        builder.set_str(102, "ACCOUNT").unwrap();
        check(&builder);
        assert!(builder.set_str(2, "4111*111").is_err());
        assert_eq!(builder.get(2), Some(&b"41111111"[..]));
        check(&builder);
        assert_eq!(builder.remove(102).as_deref(), Some(&b"ACCOUNT"[..]));
        assert_eq!(builder.remove(102), None);
        check(&builder);
        builder.remove(2);
        builder.remove(11);
        builder.remove(55);
        assert_eq!(builder.encoded_len(), 20);
        check(&builder);
    }
}
