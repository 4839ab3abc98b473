//! Building messages: values are checked against their field's spec when they are set, and the
//! whole message is written into a `BytesMut` in one pass, bitmaps computed from what is set.
//!
//! Values are logical values (see the `field` module): digits and characters as ASCII (Latin-1
//! for EBCDIC text above 0x7F), raw bytes for class `b`. What [`crate::Field::value`] reads can
//! be set again unchanged, and the builder always writes the canonical form: upper-case hex,
//! the spec's filler nibble, and no bitmap without a bit set.

use std::borrow::Cow;
use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::content::{self, Bad};
use crate::ebcdic::{LATIN1_TO_CP037, LATIN1_TO_CP1047};
use crate::error::{Error, Expected, FieldPath, Found, LengthProblem};
use crate::field::write_masked;
use crate::message::{Message, Mti};
use crate::spec::{
    BitmapEncoding, Charset, CodePage, ContentClass, DataEncoding, FieldSpec, LengthKind,
    MtiEncoding, Pad, Prefix, PrefixCounts, PrefixEncoding, Spec,
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
    values: Vec<(u16, Cow<'v, [u8]>)>,
    strict: bool,
}

impl<'s, 'v> Builder<'s, 'v> {
    /// An empty message of type `mti`.
    pub fn new(spec: &'s Spec, mti: Mti) -> Self {
        Builder {
            spec,
            mti,
            // Room for a typical message, so setting its fields does not reallocate.
            values: Vec::with_capacity(32),
            strict: false,
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
    pub fn set(&mut self, n: u16, value: impl Into<Cow<'v, [u8]>>) -> Result<&mut Self, Error> {
        let value = value.into();
        refuse_masked(self.field_spec(n)?, &value)?;
        self.put(n, value)
    }

    /// [`Builder::set`] without the mask-character check, for [`Builder::from_message`]: a
    /// decoded value comes from the wire, where `*` is content (track 1 may hold it), not
    /// masked output pasted back in.
    fn put(&mut self, n: u16, value: Cow<'v, [u8]>) -> Result<&mut Self, Error> {
        let spec = self.field_spec(n)?;
        check_value(spec, &value, self.strict)?;
        // Fields are usually set in number order: append without searching.
        if self.values.last().is_none_or(|(k, _)| *k < n) {
            self.values.push((n, value));
            return Ok(self);
        }
        match self.values.binary_search_by_key(&n, |(k, _)| *k) {
            Ok(i) => {
                if let Some(slot) = self.values.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => self.values.insert(i, (n, value)),
        }
        Ok(self)
    }

    /// Sets field `n` from text (see [`Builder::set`]).
    pub fn set_str(&mut self, n: u16, value: &'v str) -> Result<&mut Self, Error> {
        self.set(n, value.as_bytes())
    }

    /// Removes field `n`, returning its value.
    pub fn remove(&mut self, n: u16) -> Option<Cow<'v, [u8]>> {
        let i = self.values.binary_search_by_key(&n, |(k, _)| *k).ok()?;
        Some(self.values.remove(i).1)
    }

    /// The value of field `n`, if set.
    pub fn get(&self, n: u16) -> Option<&[u8]> {
        let i = self.values.binary_search_by_key(&n, |(k, _)| *k).ok()?;
        self.values.get(i).map(|(_, v)| v.as_ref())
    }

    /// Every set field and its value, in number order.
    pub fn fields(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        self.values.iter().map(|(n, v)| (*n, v.as_ref()))
    }

    fn field_spec(&self, n: u16) -> Result<&'s FieldSpec, Error> {
        let unknown = Error::UnknownField {
            field: FieldPath::field(n),
            offset: 0,
        };
        if self.spec.is_bitmap_bit(n) {
            return Err(unknown);
        }
        self.spec.field(n).ok_or(unknown)
    }

    /// Bytes [`Builder::encode`] will write.
    pub fn encoded_len(&self) -> usize {
        let (words, _) = self.bitmap_words();
        let bitmaps = words.iter().filter(|w| **w != 0).count().max(1);
        let fields: usize = self
            .values
            .iter()
            .filter_map(|(n, v)| {
                let spec = self.spec.field(*n)?;
                Some(spec.prefix().map_or(0, Prefix::width) + spec.wire_len(units_of(spec, v)))
            })
            .sum();
        self.spec.mti.width() + bitmaps * self.spec.bitmap.width() + fields
    }

    /// Bitmap words with bits 1 and 65 set as needed, and whether a tertiary bitmap is written.
    fn bitmap_words(&self) -> ([u64; 3], bool) {
        let mut words = [0u64; 3];
        for (n, _) in &self.values {
            let i = usize::from(n - 1);
            if let Some(w) = words.get_mut(i / 64) {
                *w |= 1u64 << (63 - i % 64);
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
        for (n, value) in &self.values {
            if tertiary_pending && *n > 65 {
                self.write_bitmap(out, words[2]);
                tertiary_pending = false;
            }
            if let Some(spec) = self.spec.field(*n) {
                write_field(out, spec, value);
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
                for (i, c) in text.iter_mut().enumerate() {
                    *c = hex_digit((word >> (60 - 4 * i)) as u8);
                }
                put_chars(out, &text, charset);
            }
        }
    }
}

/// Values of sensitive fields are masked.
impl fmt::Debug for Builder<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = self.values.iter().filter_map(|(n, v)| {
            let spec = self.spec.field(*n)?;
            Some((*n, MaskedBytes { spec, value: v }))
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

/// Refuses `*` in a sensitive text value: it was copied from masked output.
fn refuse_masked(spec: &FieldSpec, value: &[u8]) -> Result<(), Error> {
    if spec.sensitivity.is_sensitive() && spec.class != ContentClass::B && value.contains(&b'*') {
        let field = FieldPath::field(spec.number);
        return Err(Error::MaskedValue { field });
    }
    Ok(())
}

/// Checks a logical value against a field's spec.
fn check_value(spec: &FieldSpec, value: &[u8], strict: bool) -> Result<(), Error> {
    let field = FieldPath::field(spec.number);
    let units = units_of(spec, value);
    let length_error = |problem| Error::InvalidLength {
        field,
        offset: 0,
        problem,
    };
    match spec.length {
        LengthKind::Fixed(len) if units != len as usize => {
            let problem = LengthProblem::NotFixed {
                found: units as u64,
                expected: len.into(),
            };
            return Err(length_error(problem));
        }
        LengthKind::Variable { max, prefix } => {
            if units > max as usize {
                let problem = LengthProblem::TooLong {
                    found: units as u64,
                    max: max.into(),
                };
                return Err(length_error(problem));
            }
            let bcd = matches!(spec.encoding, DataEncoding::Bcd { .. });
            if prefix.counts == PrefixCounts::Bytes && bcd && units % 2 == 1 {
                // A prefix counting BCD bytes cannot say that a digit is filler.
                let problem = LengthProblem::NotWholeUnits {
                    found: units as u64,
                };
                return Err(length_error(problem));
            }
        }
        LengthKind::Fixed(_) => {}
    }

    let sensitive = spec.sensitivity.is_sensitive();
    let content_error = |index: usize, expected| Error::InvalidContent {
        field,
        offset: index,
        expected,
        found: Found::byte(value.get(index).copied().unwrap_or(0), sensitive),
    };
    let body = if spec.class == ContentClass::XN {
        match value.first() {
            Some(&s) if content::is_sign(s) => value.get(1..).unwrap_or(&[]),
            _ => return Err(content_error(0, Expected::Sign)),
        }
    } else {
        value
    };
    let skip = value.len() - body.len();
    let result = match (spec.class, spec.encoding) {
        (ContentClass::B, _) => Ok(Default::default()),
        (class, _) => content::check_chars(class, None, body, strict),
    };
    result
        .map(|_| ())
        .map_err(|Bad { index, expected }| content_error(index + skip, expected))
}

/// Length of a logical value in units of its class.
fn units_of(spec: &FieldSpec, value: &[u8]) -> usize {
    match spec.class {
        ContentClass::XN => value.len().saturating_sub(1),
        _ => value.len(),
    }
}

fn write_field(out: &mut BytesMut, spec: &FieldSpec, value: &[u8]) {
    let units = units_of(spec, value);
    if let Some(prefix) = spec.prefix() {
        let count = match prefix.counts {
            PrefixCounts::Units => units,
            PrefixCounts::Bytes => spec.wire_len(units),
        };
        write_prefix(out, prefix, count as u64);
    }
    match spec.encoding {
        DataEncoding::Text(Charset::Ascii) | DataEncoding::Binary => out.put_slice(value),
        DataEncoding::Text(charset) => value.iter().for_each(|&b| put_char(out, b, charset)),
        DataEncoding::Hex(charset) => {
            // Through a stack buffer, so the output is written a slice at a time.
            let mut text = [0u8; 128];
            for chunk in value.chunks(64) {
                for (pair, &b) in text.chunks_exact_mut(2).zip(chunk) {
                    if let [hi, lo] = pair {
                        *hi = hex_digit(b >> 4);
                        *lo = hex_digit(b);
                    }
                }
                put_chars(out, text.get(..2 * chunk.len()).unwrap_or(&text), charset);
            }
        }
        DataEncoding::Bcd { pad, filler } => {
            let digits = match value.split_first() {
                Some((&sign, rest)) if spec.class == ContentClass::XN => {
                    out.put_u8(sign);
                    rest
                }
                _ => value,
            };
            write_bcd(out, digits, pad, filler);
        }
    }
}

fn write_prefix(out: &mut BytesMut, prefix: &Prefix, count: u64) {
    let digits = u32::from(prefix.digits);
    match prefix.encoding {
        PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => {
            let zero = if prefix.encoding == PrefixEncoding::Ascii {
                b'0'
            } else {
                0xF0
            };
            for i in (0..digits).rev() {
                out.put_u8(zero + ((count / 10u64.pow(i)) % 10) as u8);
            }
        }
        PrefixEncoding::Bcd => {
            let bytes = prefix.width() as u32;
            for i in (0..bytes).rev() {
                let pair = (count / 100u64.pow(i)) % 100;
                out.put_u8((((pair / 10) as u8) << 4) | (pair % 10) as u8);
            }
        }
        PrefixEncoding::Binary => {
            let bytes = prefix.width();
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

/// The upper-case hex digit of the low nibble of `v`.
fn hex_digit(v: u8) -> u8 {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    DIGITS.get(usize::from(v & 0x0F)).copied().unwrap_or(b'0')
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
