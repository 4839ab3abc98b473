//! JSON form of messages, as the `iso8583` CLI prints and reads it.
//!
//! ```json
//! {"mti":"0200","header":"","fields":{"2":"411111******1111","3":"000000","55":"9F2608..."}}
//! ```
//!
//! - numeric fields (`n`, `z`, `x+n`) appear as their characters: digits, the sign of an
//!   amount, the track separator (`D` where the spec writes BCD, as written in text);
//! - text fields as their characters, or `{"hex":"…"}` holding the value's bytes when any of
//!   them is not printable ASCII (GBK text, say);
//! - binary fields as upper-case hex of their bytes;
//! - `header` is upper-case hex of whatever came before the MTI, or `""`.
//!
//! Sensitive fields are masked unless the caller asks to reveal them. Reading JSON back refuses a
//! masked value (one holding `*`) in a sensitive field, so masked output is never sent.

use serde_json::{Map, Value as Json};

use crate::encode::Builder;
use crate::error::{Error, FieldPath};
use crate::field::Field;
use crate::message::{Message, Mti};
use crate::spec::{ContentClass, Spec};

/// Problems turning JSON into a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON.
    #[error("not valid JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// A required member is missing or of the wrong type.
    #[error("expected {expected} at {path}")]
    Shape {
        /// Where (`mti`, `fields.35`, ...).
        path: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// The MTI is not four digits.
    #[error("mti {0:?} is not four decimal digits")]
    Mti(String),
    /// A member of `fields` is not a field number.
    #[error("fields key {0:?} is not a field number")]
    FieldKey(String),
    /// A hex string has a character that is not a hex digit, or an odd number of digits.
    #[error("{path}: {}", hex_problem(*odd, *index))]
    Hex {
        /// Where (`header`, `fields.52`, ...).
        path: String,
        /// Position of the first bad character, or the count of digits when it is odd.
        index: usize,
        /// True when every character is a hex digit but there is an odd number of them.
        odd: bool,
    },
    /// A text value holds a character that no single byte of the field can carry.
    #[error("field {field}: character {index} cannot be written in one byte")]
    Character {
        /// The field.
        field: FieldPath,
        /// Position of the character.
        index: usize,
    },
    /// The value does not fit the field's spec.
    #[error(transparent)]
    Codec(#[from] Error),
}

/// A message as JSON; `header` is whatever came before the MTI, `reveal` shows sensitive fields
/// in full.
pub fn to_json(message: &Message<'_>, header: &[u8], reveal: bool) -> Json {
    let mut fields = Map::new();
    for field in message.fields() {
        fields.insert(field.number().to_string(), field_json(&field, reveal));
    }
    let mut object = Map::new();
    object.insert("mti".into(), Json::String(message.mti().to_string()));
    object.insert("header".into(), Json::String(upper_hex(header)));
    object.insert("fields".into(), Json::Object(fields));
    Json::Object(object)
}

/// One field's JSON value (see the module docs).
pub fn field_json(field: &Field<'_>, reveal: bool) -> Json {
    if field.is_sensitive() && !reveal {
        return Json::String(field.masked().to_string());
    }
    let value = field.to_vec();
    match field.spec().class {
        ContentClass::B => Json::String(upper_hex(&value)),
        _ if value.iter().all(|b| (0x20..0x7F).contains(b)) => {
            Json::String(value.iter().map(|&b| char::from(b)).collect())
        }
        _ => {
            let mut object = Map::new();
            object.insert("hex".into(), Json::String(upper_hex(&value)));
            Json::Object(object)
        }
    }
}

/// Reads the JSON form back: a builder holding every field, and the header bytes.
pub fn from_json<'s>(
    spec: &'s Spec,
    text: &str,
) -> Result<(Builder<'s, 'static>, Vec<u8>), JsonError> {
    let json: Json = serde_json::from_str(text)?;
    let shape = |path: &str, expected| JsonError::Shape {
        path: path.into(),
        expected,
    };
    let object = json
        .as_object()
        .ok_or_else(|| shape("top level", "an object"))?;

    let mti_text = object.get("mti").and_then(Json::as_str);
    let mti_text = mti_text.ok_or_else(|| shape("mti", "a string of four digits"))?;
    let mti = Mti::new(mti_text).ok_or_else(|| JsonError::Mti(mti_text.into()))?;

    let header = match object.get("header") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(h)) => parse_hex(h).map_err(|index| hex_error("header", index))?,
        Some(_) => return Err(shape("header", "a hex string")),
    };

    let mut builder = Builder::new(spec, mti);
    let fields = match object.get("fields") {
        None => return Ok((builder, header)),
        Some(Json::Object(fields)) => fields,
        Some(_) => return Err(shape("fields", "an object")),
    };
    for (key, value) in fields {
        let n: u16 = key.parse().map_err(|_| JsonError::FieldKey(key.clone()))?;
        let bytes = field_bytes(spec, n, value)?;
        builder.set(n, bytes)?;
    }
    Ok((builder, header))
}

fn field_bytes(spec: &Spec, n: u16, value: &Json) -> Result<Vec<u8>, JsonError> {
    let path = format!("fields.{n}");
    let field = FieldPath::field(n);
    let Some(fspec) = spec.field(n).filter(|_| !spec.is_bitmap_bit(n)) else {
        return Err(Error::UnknownField { field, offset: 0 }.into());
    };
    let masked = |s: &str| fspec.sensitivity.is_sensitive() && s.contains('*');
    match value {
        Json::String(s) if masked(s) => Err(Error::MaskedValue { field }.into()),
        Json::String(s) if fspec.class == ContentClass::B => {
            parse_hex(s).map_err(|index| hex_error(&path, index))
        }
        Json::String(s) => s
            .chars()
            .enumerate()
            .map(|(index, c)| {
                u8::try_from(u32::from(c)).map_err(|_| JsonError::Character { field, index })
            })
            .collect(),
        Json::Object(o) => match o.get("hex").and_then(Json::as_str) {
            Some(h) if masked(h) => Err(Error::MaskedValue { field }.into()),
            Some(h) => parse_hex(h).map_err(|index| hex_error(&path, index)),
            None => Err(JsonError::Shape {
                path,
                expected: "{\"hex\": \"...\"}",
            }),
        },
        _ => Err(JsonError::Shape {
            path,
            expected: "a string or {\"hex\": \"...\"}",
        }),
    }
}

fn hex_error(path: &str, (index, odd): (usize, bool)) -> JsonError {
    JsonError::Hex {
        path: path.into(),
        index,
        odd,
    }
}

fn hex_problem(odd: bool, index: usize) -> String {
    match odd {
        true => format!("an odd number of hex digits ({index})"),
        false => format!("character {index} is not a hex digit"),
    }
}

/// Upper-case hex of `bytes`.
pub fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0x0F] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// Bytes of a hex string (either case); on failure, the index of the first bad character, or
/// the count of digits and `true` when it is odd.
fn parse_hex(text: &str) -> Result<Vec<u8>, (usize, bool)> {
    let digit = |(i, c): (usize, char)| c.to_digit(16).map(|d| d as u8).ok_or((i, false));
    let nibbles: Vec<u8> = text
        .chars()
        .enumerate()
        .map(digit)
        .collect::<Result<_, _>>()?;
    if nibbles.len() % 2 == 1 {
        return Err((nibbles.len(), true));
    }
    Ok(nibbles
        .chunks_exact(2)
        .map(|p| (p.first().copied().unwrap_or(0) << 4) | p.get(1).copied().unwrap_or(0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_reveals_only_on_request() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let mut b = Builder::new(spec, Mti::new("0200").unwrap());
        b.set_str(2, "4111111111111111")
            .unwrap()
            .set_str(3, "000000")
            .unwrap();
        let wire = b.to_bytes();
        let message = spec.decode(&wire).unwrap().complete().unwrap();

        let masked = to_json(&message, &[], false);
        assert_eq!(masked["fields"]["2"], "411111******1111");
        let text = to_json(&message, &[0x60, 0x00, 0x01], true).to_string();
        assert!(text.contains("\"header\":\"600001\""), "{text}");

        let (back, header) = from_json(spec, &text).unwrap();
        assert_eq!(header, vec![0x60, 0x00, 0x01]);
        assert_eq!(&back.to_bytes()[..], &wire[..]);

        let refused = from_json(spec, &masked.to_string()).unwrap_err();
        assert!(
            matches!(refused, JsonError::Codec(Error::MaskedValue { .. })),
            "{refused}"
        );
    }
}
