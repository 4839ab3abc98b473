//! A view of one decoded field, and readers that interpret it without allocating.
//!
//! [`Field::value`] walks the field's *logical value*: characters for text and numeric classes
//! (EBCDIC mapped to Latin-1, BCD unpacked to ASCII digits with the filler nibble skipped, the
//! track separator nibble as `D`) and raw bytes for class `b` (hex characters decoded). The
//! builder takes the same logical values, so a value read here can be set again unchanged.
//!
//! [`Field::masked`] is the only way this crate shows a value as text; it hides what the spec
//! marks sensitive.

use std::fmt;

use crate::content::{hex_value, to_latin1};
use crate::spec::{Charset, ContentClass, DataEncoding, FieldSpec, Pad, Sensitivity};
use crate::tlv::Tlvs;

/// One present field of a decoded message.
#[derive(Clone, Copy)]
pub struct Field<'a> {
    spec: &'a FieldSpec,
    data: &'a [u8],
    units: usize,
    offset: usize,
}

impl<'a> Field<'a> {
    #[inline]
    pub(crate) fn new(spec: &'a FieldSpec, data: &'a [u8], units: usize, offset: usize) -> Self {
        Field {
            spec,
            data,
            units,
            offset,
        }
    }

    /// The field number.
    pub fn number(&self) -> u16 {
        self.spec.number
    }

    /// The field's definition.
    pub fn spec(&self) -> &'a FieldSpec {
        self.spec
    }

    /// The data bytes as written on the wire, length prefix excluded.
    pub fn raw(&self) -> &'a [u8] {
        self.data
    }

    /// Length in units of the class (digits, characters or bytes).
    pub fn units(&self) -> usize {
        self.units
    }

    /// Offset of the first data byte in the decoder's input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// True if the spec marks the field sensitive.
    pub fn is_sensitive(&self) -> bool {
        self.spec.sensitivity.is_sensitive()
    }

    /// The logical value, one byte at a time (see the module docs).
    pub fn value(&self) -> Value<'a> {
        let (form, len) = match self.spec.encoding {
            DataEncoding::Text(charset) => (Form::Text(to_latin1(charset)), self.data.len()),
            DataEncoding::Binary => (Form::Text(None), self.data.len()),
            DataEncoding::Hex(charset) => (Form::Hex(charset), self.data.len() / 2),
            DataEncoding::Bcd { pad, .. } => {
                let sign = self.spec.class == ContentClass::XN;
                let skip = pad == Pad::Left && self.units % 2 == 1;
                let form = Form::Bcd {
                    sign,
                    first_nibble: usize::from(skip),
                };
                (form, usize::from(sign) + self.units)
            }
        };
        Value {
            data: self.data,
            form,
            next: 0,
            len,
        }
    }

    /// The value as `&str` when the wire bytes are themselves the value in ASCII (ASCII text and
    /// numbers, no bytes above 0x7F); `None` otherwise (BCD, EBCDIC, binary, GBK text).
    pub fn as_str(&self) -> Option<&'a str> {
        match self.spec.encoding {
            DataEncoding::Text(Charset::Ascii) if self.data.is_ascii() => {
                std::str::from_utf8(self.data).ok()
            }
            _ => None,
        }
    }

    /// The digits of a numeric field (`n`, `z`, and the digits of `x+n` after its sign), as
    /// ASCII bytes; `None` for other classes.
    pub fn digits(&self) -> Option<impl Iterator<Item = u8> + 'a> {
        let skip = usize::from(self.spec.class == ContentClass::XN);
        self.spec
            .class
            .is_numeric()
            .then(|| self.value().skip(skip))
    }

    /// The digits of an `n` field as a number, or `None` for other classes, more than 19
    /// digits, or a non-digit (possible only after a structure-only decode).
    pub fn to_u64(&self) -> Option<u64> {
        if self.spec.class != ContentClass::N || self.units > 19 {
            return None;
        }
        parse_u64(self.value())
    }

    /// The field read as an amount in minor units: an `n` field is positive, an `x+n` field
    /// carries its sign (`C` credit, `D` debit). `None` for other classes, more than 18 digits,
    /// or a sign or digit that is not one (possible only after a structure-only decode).
    pub fn amount(&self) -> Option<Amount> {
        let mut value = self.value();
        let credit = match self.spec.class {
            ContentClass::N => None,
            // Any other sign byte (possible only after a structure-only decode) is no amount.
            ContentClass::XN => match value.next()? {
                b'C' => Some(true),
                b'D' => Some(false),
                _ => return None,
            },
            _ => return None,
        };
        if self.units > 18 {
            return None;
        }
        let minor = parse_u64(value)?;
        let minor = i64::try_from(minor).ok()?;
        Some(Amount {
            minor: if credit == Some(false) { -minor } else { minor },
            signed: credit.is_some(),
        })
    }

    /// The value with sensitive content masked, for display.
    pub fn masked(&self) -> Masked<'a> {
        Masked { field: *self }
    }

    /// The field's data objects, for a binary (`b`) field written as bytes, such as EMV data in
    /// field 55; offsets count in the decoder's input. `None` for other fields: for one written
    /// as hex characters, read [`Field::to_vec`] with [`Tlvs::new`].
    pub fn tlvs(&self) -> Option<Tlvs<'a>> {
        let binary =
            self.spec.class == ContentClass::B && self.spec.encoding == DataEncoding::Binary;
        binary.then(|| Tlvs::at(self.spec.number, self.data, self.offset))
    }

    /// The logical value copied into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        self.value().collect()
    }
}

impl fmt::Debug for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Field")
            .field("number", &self.number())
            .field("offset", &self.offset)
            .field("value", &format_args!("{}", self.masked()))
            .finish()
    }
}

fn parse_u64(digits: impl Iterator<Item = u8>) -> Option<u64> {
    digits.into_iter().try_fold(0u64, |acc, d| {
        let d = d.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// An amount in minor units (cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    /// Minor units; negative for a debit (`D`) `x+n` amount.
    pub minor: i64,
    /// True when the field carried a sign (`x+n`).
    pub signed: bool,
}

#[derive(Clone, Copy)]
enum Form {
    /// One value byte per wire byte, through an optional code page map.
    Text(Option<&'static [u8; 256]>),
    /// Two hex characters per value byte.
    Hex(Charset),
    /// Packed BCD, an optional ASCII sign byte first.
    Bcd { sign: bool, first_nibble: usize },
}

/// Iterator over a field's logical value (see [`Field::value`]).
#[derive(Clone)]
pub struct Value<'a> {
    data: &'a [u8],
    form: Form,
    next: usize,
    len: usize,
}

impl Value<'_> {
    fn at(&self, i: usize) -> u8 {
        match self.form {
            Form::Text(map) => {
                let b = self.data.get(i).copied().unwrap_or(0);
                map.and_then(|m| m.get(usize::from(b)).copied())
                    .unwrap_or(b)
            }
            Form::Hex(charset) => {
                let nibble = |k: usize| {
                    self.data
                        .get(k)
                        .and_then(|&b| hex_value(b, charset))
                        .map_or(0, |(v, _)| v)
                };
                (nibble(2 * i) << 4) | nibble(2 * i + 1)
            }
            Form::Bcd { sign, first_nibble } => {
                if sign && i == 0 {
                    return self.data.first().copied().unwrap_or(0);
                }
                let k = i - usize::from(sign) + first_nibble + 2 * usize::from(sign);
                let byte = self.data.get(k / 2).copied().unwrap_or(0);
                let nibble = if k % 2 == 0 { byte >> 4 } else { byte & 0x0F };
                nibble_char(nibble)
            }
        }
    }
}

/// The character a BCD nibble stands for: a digit, `D` as the track separator, or the hex
/// digit (only after a structure-only decode).
fn nibble_char(nibble: u8) -> u8 {
    match nibble {
        0..=9 => b'0' + nibble,
        _ => b'A' + nibble - 10,
    }
}

impl Iterator for Value<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.next >= self.len {
            return None;
        }
        let b = self.at(self.next);
        self.next += 1;
        Some(b)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Value<'_> {}

/// A field's value for display, with what the spec marks sensitive masked:
/// a PAN as its first 6 and last 4 digits, track data as the masked PAN, the separator, and `*`
/// for the rest, and PIN blocks, keys, CVVs and EMV data as `*` to the length they would show.
/// Class `b` values show as upper-case hex.
pub struct Masked<'a> {
    field: Field<'a>,
}

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_masked(f, self.field.spec, self.field.value())
    }
}

/// Writes a logical value for display, masked as its spec's sensitivity says.
pub(crate) fn write_masked<I>(f: &mut fmt::Formatter<'_>, spec: &FieldSpec, value: I) -> fmt::Result
where
    I: ExactSizeIterator<Item = u8> + Clone,
{
    let binary = spec.class == ContentClass::B;
    let shown_len = if binary { 2 * value.len() } else { value.len() };
    let mut value = value;
    match spec.sensitivity {
        Sensitivity::None if binary => value.try_for_each(|b| write!(f, "{b:02X}")),
        Sensitivity::None => value.try_for_each(|b| write_char(f, b)),
        Sensitivity::Pan => write_masked_pan(f, value, shown_len),
        Sensitivity::Track => {
            write_masked_track(f, value, matches!(spec.encoding, DataEncoding::Bcd { .. }))
        }
        Sensitivity::Pin | Sensitivity::Key | Sensitivity::Cvv | Sensitivity::Emv => {
            stars(f, shown_len)
        }
    }
}

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

fn write_char(f: &mut fmt::Formatter<'_>, b: u8) -> fmt::Result {
    use fmt::Write;
    // Latin-1 bytes map one to one onto the first 256 code points.
    f.write_char(char::from(b))
}

fn stars(f: &mut fmt::Formatter<'_>, n: usize) -> fmt::Result {
    (0..n).try_for_each(|_| f.write_str("*"))
}

/// Shortest PAN of which the first 6 and last 4 digits may be shown: below it, ten shown
/// digits would leave too few hidden, so everything is hidden.
const SHORTEST_PARTLY_SHOWN_PAN: usize = 13;

fn write_masked_pan(
    f: &mut fmt::Formatter<'_>,
    value: impl ExactSizeIterator<Item = u8>,
    len: usize,
) -> fmt::Result {
    if len < SHORTEST_PARTLY_SHOWN_PAN {
        return stars(f, len);
    }
    for (i, b) in value.enumerate() {
        if i < 6 || i >= len - 4 {
            write_char(f, b)?;
        } else {
            f.write_str("*")?;
        }
    }
    Ok(())
}

fn write_masked_track<I>(f: &mut fmt::Formatter<'_>, value: I, bcd: bool) -> fmt::Result
where
    I: ExactSizeIterator<Item = u8> + Clone,
{
    // Track 2 separates with `=` (nibble `D` in BCD), track 1 with `^`; a `D` in text is a
    // letter of the cardholder's name, not a separator.
    let pan_len = value
        .clone()
        .position(|b| b == b'=' || b == b'^' || (bcd && b == b'D'));
    let Some(pan_len) = pan_len else {
        return stars(f, value.len());
    };
    let total = value.len();
    write_masked_pan(f, value.clone().take(pan_len), pan_len)?;
    write_char(f, value.clone().nth(pan_len).unwrap_or(b'='))?;
    stars(f, total - pan_len - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LengthKind, Prefix, PrefixCounts, PrefixEncoding};

    fn spec(class: ContentClass, encoding: DataEncoding, sensitivity: Sensitivity) -> FieldSpec {
        FieldSpec {
            number: 2,
            name: "test".into(),
            class,
            length: LengthKind::Variable {
                prefix: Prefix {
                    digits: 2,
                    encoding: PrefixEncoding::Ascii,
                    counts: PrefixCounts::Units,
                },
                max: 99,
            },
            encoding,
            sensitivity,
        }
    }

    const BCD_RIGHT: DataEncoding = DataEncoding::Bcd {
        pad: Pad::Right,
        filler: 0,
    };
    const BCD_LEFT: DataEncoding = DataEncoding::Bcd {
        pad: Pad::Left,
        filler: 0,
    };

    #[test]
    fn bcd_digits_skip_the_filler() {
        let f = spec(ContentClass::N, BCD_RIGHT, Sensitivity::None);
        let field = Field::new(&f, &[0x05, 0x10], 3, 0);
        assert_eq!(field.to_vec(), b"051");
        let f = spec(ContentClass::N, BCD_LEFT, Sensitivity::None);
        let field = Field::new(&f, &[0x00, 0x51], 3, 0);
        assert_eq!(field.to_vec(), b"051");
        assert_eq!(field.to_u64(), Some(51));
    }

    #[test]
    fn track_separator_reads_as_d() {
        let f = spec(ContentClass::Z, BCD_RIGHT, Sensitivity::None);
        let field = Field::new(&f, &[0x41, 0x11, 0xD2, 0x81, 0x20], 9, 0);
        assert_eq!(field.to_vec(), b"4111D2812");
    }

    #[test]
    fn amounts() {
        let f = spec(
            ContentClass::N,
            DataEncoding::Text(Charset::Ascii),
            Sensitivity::None,
        );
        let field = Field::new(&f, b"000000001000", 12, 0);
        assert_eq!(
            field.amount(),
            Some(Amount {
                minor: 1000,
                signed: false
            })
        );
        let f = spec(
            ContentClass::XN,
            DataEncoding::Text(Charset::Ascii),
            Sensitivity::None,
        );
        let field = Field::new(&f, b"D00000150", 8, 0);
        assert_eq!(
            field.amount(),
            Some(Amount {
                minor: -150,
                signed: true
            })
        );
        let f = spec(ContentClass::XN, BCD_LEFT, Sensitivity::None);
        let field = Field::new(&f, &[b'C', 0x00, 0x01, 0x50], 5, 0);
        assert_eq!(field.to_vec(), b"C00150");
        assert_eq!(
            field.amount(),
            Some(Amount {
                minor: 150,
                signed: true
            })
        );
    }

    #[test]
    fn hex_fields_decode_to_bytes() {
        let f = spec(
            ContentClass::B,
            DataEncoding::Hex(Charset::Ascii),
            Sensitivity::None,
        );
        let field = Field::new(&f, b"9F2a", 2, 0);
        assert_eq!(field.to_vec(), vec![0x9F, 0x2A]);
        assert_eq!(field.masked().to_string(), "9F2A");
    }

    #[test]
    fn masking() {
        let f = spec(
            ContentClass::N,
            DataEncoding::Text(Charset::Ascii),
            Sensitivity::Pan,
        );
        let field = Field::new(&f, b"6212345678901234", 16, 0);
        assert_eq!(field.masked().to_string(), "621234******1234");
        let short = Field::new(&f, b"123456789012", 12, 0);
        assert_eq!(short.masked().to_string(), "************");

        let f = spec(
            ContentClass::Z,
            DataEncoding::Text(Charset::Ascii),
            Sensitivity::Track,
        );
        let field = Field::new(&f, b"4111111111111111=2812101", 23, 0);
        assert_eq!(field.masked().to_string(), "411111******1111=*******");

        let f = spec(
            ContentClass::Ans,
            DataEncoding::Text(Charset::Ascii),
            Sensitivity::Track,
        );
        let field = Field::new(&f, b"B4111111111111111^DOE/JOHN^2812", 31, 0);
        assert_eq!(
            field.masked().to_string(),
            format!("B41111*******1111^{}", "*".repeat(13))
        );

        let f = spec(ContentClass::B, DataEncoding::Binary, Sensitivity::Pin);
        let field = Field::new(&f, &[1, 2, 3, 4, 5, 6, 7, 8], 8, 0);
        assert_eq!(field.masked().to_string(), "*".repeat(16));
        assert!(!format!("{field:?}").contains("0102"));
    }
}
