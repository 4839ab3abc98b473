//! `iso8583 decode`: hex in, a field table or JSON out.

use std::ffi::OsString;
use std::io::Read;

use iso8583_codec::json::{field_json, to_json, upper_hex};
use iso8583_codec::{Error, Message, Quirk, QuirkAt, Spec};
use serde_json::Value as Json;

use crate::hexinput;
use crate::output::{Failure, Output};
use crate::specs::{parse_spec, LoadedSpec};

/// Arguments of `iso8583 decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    /// A built-in spec name (see `iso8583 specs`) or the path of a TOML spec file.
    #[arg(long, value_name = "NAME|PATH", value_parser = parse_spec)]
    spec: LoadedSpec,
    /// Treat the first N bytes as a header before the MTI (a TPDU, say).
    #[arg(long, value_name = "N", default_value_t = 0)]
    skip: usize,
    /// Refuse non-canonical input (lower-case hex, odd filler nibbles, empty bitmaps, bytes
    /// above 0x7F in text) instead of accepting it with a warning.
    #[arg(long)]
    strict: bool,
    /// Show sensitive fields (PAN, track data, PIN blocks, ...) in full.
    #[arg(long)]
    reveal: bool,
    /// Print one JSON object (or a JSON error) on stdout.
    #[arg(long)]
    json: bool,
    /// The message as hex or a hexdump; read from stdin when absent. Several arguments are
    /// joined with spaces.
    #[arg(value_name = "HEX")]
    hex: Vec<OsString>,
}

/// Runs `decode`; returns the exit status.
pub(crate) fn run(args: &DecodeArgs, out: &mut Output) -> u8 {
    let text = match input_text(&args.hex) {
        Ok(text) => text,
        Err(e) => {
            return out.fail(
                args.json,
                &Failure::new("io", format!("cannot read stdin: {e}")),
            )
        }
    };
    let bytes = match hexinput::parse(&text) {
        Ok(bytes) => bytes,
        Err(e) => {
            let failure = Failure {
                kind: "invalid_hex",
                field: None,
                offset: Some(e.position),
                message: e.to_string(),
            };
            return out.fail(args.json, &failure);
        }
    };
    let spec = args.spec.get();
    match decode(spec, &bytes, args.skip, args.strict) {
        Ok((header, message)) => {
            if args.json {
                out.line(to_json(&message, header, args.reveal));
                for warning in warnings(&message, args.skip) {
                    out.note(format_args!("warning: {warning}"));
                }
            } else {
                table(out, header, &message, args.skip, args.reveal);
            }
            0
        }
        Err(error) => out.fail(args.json, &Failure::codec(&error)),
    }
}

/// The hex text: the arguments joined by spaces, or all of stdin.
fn input_text(args: &[OsString]) -> std::io::Result<Vec<u8>> {
    if args.is_empty() {
        let mut text = Vec::new();
        std::io::stdin().lock().read_to_end(&mut text)?;
        return Ok(text);
    }
    let mut text = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            text.push(b' ');
        }
        text.extend_from_slice(arg.as_encoded_bytes());
    }
    Ok(text)
}

/// Splits off `skip` header bytes and decodes the rest as one whole message. Offsets in errors
/// count from the first byte of `bytes`, header included.
pub(crate) fn decode<'a>(
    spec: &'a Spec,
    bytes: &'a [u8],
    skip: usize,
    strict: bool,
) -> Result<(&'a [u8], Message<'a>), Error> {
    let Some((header, body)) = bytes.split_at_checked(skip) else {
        return Err(Error::Truncated {
            field: None,
            offset: 0,
            needed: skip - bytes.len(),
        });
    };
    let decoded = spec
        .decoder()
        .strict(strict)
        .decode(body)
        .map_err(|e| shifted(e, skip))?;
    let message = decoded.complete().map_err(|e| shifted(e, skip))?;
    Ok((header, message))
}

/// `error` with every offset it carries moved on by `by` bytes (the header the decoder did not
/// see), so that its message and its offset agree with the input as given.
fn shifted(error: Error, by: usize) -> Error {
    let add = |offset: usize| offset.saturating_add(by);
    match error {
        Error::InvalidMti { offset, found } => Error::InvalidMti {
            offset: add(offset),
            found,
        },
        Error::InvalidBitmap {
            which,
            offset,
            problem,
        } => Error::InvalidBitmap {
            which,
            offset: add(offset),
            problem,
        },
        Error::UnknownField { field, offset } => Error::UnknownField {
            field,
            offset: add(offset),
        },
        Error::InvalidLength {
            field,
            offset,
            problem,
        } => Error::InvalidLength {
            field,
            offset: add(offset),
            problem,
        },
        Error::InvalidContent {
            field,
            offset,
            expected,
            found,
        } => Error::InvalidContent {
            field,
            offset: add(offset),
            expected,
            found,
        },
        Error::Truncated {
            field,
            offset,
            needed,
        } => Error::Truncated {
            field,
            offset: add(offset),
            needed,
        },
        Error::TrailingData { offset, count } => Error::TrailingData {
            offset: add(offset),
            count,
        },
        other => other,
    }
}

/// The readable form: header, MTI, one field a line, then warnings for accepted quirks.
fn table(out: &mut Output, header: &[u8], message: &Message<'_>, skip: usize, reveal: bool) {
    if !header.is_empty() {
        out.line(format_args!("header {}", upper_hex(header)));
    }
    out.line(format_args!(
        "MTI {}  ({})",
        message.mti(),
        message.spec().name()
    ));
    for field in message.fields() {
        let value = match field_json(&field, reveal) {
            Json::String(text) => text,
            Json::Object(object) => match object.get("hex").and_then(Json::as_str) {
                Some(hex) => format!("hex {hex}"),
                None => Json::Object(object).to_string(),
            },
            other => other.to_string(),
        };
        let name: String = field.spec().name.chars().take(40).collect();
        out.line(format_args!("{:>5}  {name:<40} [{value}]", field.number()));
    }
    for warning in warnings(message, skip) {
        out.line(format_args!("warning: {warning}"));
    }
}

/// One sentence per quirk the lenient decode accepted, with where it was first seen.
fn warnings(message: &Message<'_>, skip: usize) -> Vec<String> {
    let spec = message.spec();
    message
        .quirks()
        .iter()
        .map(|(quirk, at)| {
            let what = match quirk {
                Quirk::LowerCaseHex => "lower-case hex digits",
                Quirk::FillerNibble => "a BCD filler nibble other than the spec's",
                Quirk::EmptyBitmap => "a bitmap announced with no bit set",
                Quirk::NonAsciiText => "bytes above 0x7F in text",
            };
            format!(
                "{what} in {} at offset {} (accepted; --strict refuses it)",
                place(spec, at),
                at.offset.saturating_add(skip)
            )
        })
        .collect()
}

fn place(spec: &Spec, at: QuirkAt) -> String {
    match at.field {
        None => "the primary bitmap".into(),
        Some(path) if path.field == 1 && path.sub.is_none() => "the secondary bitmap".into(),
        Some(path) if path.field == 65 && path.sub.is_none() && spec.has_tertiary_bitmap() => {
            "the tertiary bitmap".into()
        }
        Some(path) => format!("field {path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_count_the_header() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let e = decode(spec, b"HDR02X0", 3, false).unwrap_err();
        assert_eq!((e.kind(), e.offset()), ("invalid_mti", 5));
        assert!(e.to_string().contains("offset 5"), "{e}");
        let e = decode(spec, b"HD", 3, false).unwrap_err();
        assert_eq!((e.kind(), e.offset()), ("truncated", 0));
        let e = decode(spec, b"HDR", 3, false).unwrap_err();
        assert_eq!((e.kind(), e.offset()), ("truncated", 3));
    }

    #[test]
    fn quirks_become_warnings() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let (_, message) = decode(spec, b"08000020000000000000000123", 0, false).unwrap();
        assert!(warnings(&message, 0).is_empty());
        let wire = b"HD080000000000000000010123456789abcdef";
        let (header, message) = decode(spec, wire, 2, false).unwrap();
        assert_eq!(header, b"HD");
        let found = warnings(&message, 2);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("lower-case hex digits in field 64 at offset 22"),
            "{found:?}"
        );
        let e = decode(spec, wire, 2, true).unwrap_err();
        assert_eq!(e.kind(), "invalid_content");
    }
}
