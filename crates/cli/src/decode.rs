//! `iso8583 decode`: hex in, a field table or JSON out; and the decoding of a framed message
//! that `mac` shares.

use iso8583_codec::json::{field_json, to_json, upper_hex};
use iso8583_codec::{Error, Message, Quirk, QuirkAt, Spec};
use iso8583_wire::{AppHeader, AppType, Nii, ProcessingRequirement, TerminalStatus, Tpdu};
use serde_json::Value as Json;

use crate::frame::{peel, Layout, Peeled};
use crate::input::InputArgs;
use crate::output::{Failure, Output};

/// Arguments of `iso8583 decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Show sensitive fields (PAN, track data, PIN blocks, ...) in full.
    #[arg(long)]
    reveal: bool,
    /// Print one JSON object (or a JSON error) on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs `decode`; returns the exit status.
pub(crate) fn run(args: &DecodeArgs, out: &mut Output) -> u8 {
    let bytes = match args.input.bytes() {
        Ok(bytes) => bytes,
        Err(failure) => return out.fail(args.json, &failure),
    };
    let spec = args.input.spec.get();
    match decode(spec, &bytes, &args.input.layout(), args.input.strict) {
        Ok((peeled, message)) => {
            if args.json {
                out.line(to_json(&message, peeled.header, args.reveal));
                for warning in warnings(&message, peeled.body_offset) {
                    out.note(format_args!("warning: {warning}"));
                }
            } else {
                table(out, &peeled, &message, args.reveal);
            }
            0
        }
        Err(failure) => out.fail(args.json, &failure),
    }
}

/// Peels the parts before the message as `layout` says and decodes the rest as one whole
/// message. Offsets in errors count from the first byte of `input`, length header included.
pub(crate) fn decode<'a>(
    spec: &'a Spec,
    input: &'a [u8],
    layout: &Layout,
    strict: bool,
) -> Result<(Peeled<'a>, Message<'a>), Failure> {
    let peeled = peel(layout, input)?;
    let at = peeled.body_offset;
    let fail = |e: Error| Failure::codec(&shifted(e, at));
    let decoded = spec
        .decoder()
        .strict(strict)
        .decode(peeled.body)
        .map_err(fail)?;
    let message = decoded.complete().map_err(fail)?;
    Ok((peeled, message))
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
        Error::MessageTooLarge { offset } => Error::MessageTooLarge {
            offset: add(offset),
        },
        Error::TrailingData { offset, count } => Error::TrailingData {
            offset: add(offset),
            count,
        },
        // No offset to move.
        Error::MaskedValue { field } => Error::MaskedValue { field },
        // `Error` is non-exhaustive: every variant known today is listed above, so that one
        // added later shows up here, as unshifted, only until it is listed too.
        other => other,
    }
}

/// The readable form: the parts before the message, MTI, one field a line, then warnings for
/// accepted quirks.
fn table(out: &mut Output, peeled: &Peeled<'_>, message: &Message<'_>, reveal: bool) {
    parts(out, peeled);
    out.line(format_args!(
        "MTI {}  ({})",
        message.mti(),
        message.spec().name()
    ));
    let width = message.name_width();
    for field in message.fields() {
        let value = match field_json(&field, reveal) {
            Json::String(text) => text,
            Json::Object(object) => match object.get("hex").and_then(Json::as_str) {
                Some(hex) => format!("hex {hex}"),
                None => Json::Object(object).to_string(),
            },
            other => other.to_string(),
        };
        let name = &field.spec().name;
        out.line(format_args!(
            "{:>5}  {name:<width$.width$} [{value}]",
            field.number()
        ));
    }
    for warning in warnings(message, peeled.body_offset) {
        out.line(format_args!("warning: {warning}"));
    }
}

/// The length header, then the header bytes in hex and, when a TPDU or an application header
/// is among them, each part spelled out on its own indented line.
fn parts(out: &mut Output, peeled: &Peeled<'_>) {
    if let Some((header, length)) = peeled.length {
        out.line(format_args!("length {length}  ({header} length header)"));
    }
    if peeled.header.is_empty() {
        return;
    }
    out.line(format_args!("header {}", upper_hex(peeled.header)));
    if peeled.tpdu.is_none() && peeled.app_header.is_none() {
        return;
    }
    if let Some(tpdu) = &peeled.tpdu {
        out.line(format_args!("  TPDU {tpdu}: {}", describe_tpdu(tpdu)));
    }
    if let Some(header) = &peeled.app_header {
        out.line(format_args!(
            "  app header {header}: {}",
            describe_app_header(header)
        ));
    }
    if !peeled.skipped.is_empty() {
        out.line(format_args!("  skipped {}", upper_hex(peeled.skipped)));
    }
}

/// `id 60 (transaction), destination NII 003, source NII 000`.
fn describe_tpdu(tpdu: &Tpdu) -> String {
    let id = u8::from(tpdu.id);
    let id = match id {
        0x60 => "60 (transaction)".to_string(),
        other => format!("{other:02X}"),
    };
    format!(
        "id {id}, destination NII {}, source NII {}",
        nii(&tpdu.destination),
        nii(&tpdu.source)
    )
}

/// An NII as the three digits it is written with, or its bytes when they are not BCD.
fn nii(nii: &Nii) -> String {
    match nii.value() {
        Some(value) => format!("{value:03}"),
        None => format!("{nii} (not BCD)"),
    }
}

/// Each part of a UnionPay application header, named where the code is known (DESIGN §4).
fn describe_app_header(header: &AppHeader) -> String {
    let [app_type, version, _, s0, s1, s2] = header.to_bytes();
    let app_type = match header.app_type() {
        AppType::MagneticStripe => "60 (magnetic stripe)".to_string(),
        AppType::Chip => "61 (chip)".to_string(),
        AppType::Unknown(_) => format!("{app_type:02X}"),
    };
    let version = match header.spec_version() {
        Some(v) => format!("{v:02}"),
        None => format!("{version:02X} (not BCD)"),
    };
    let status = match header.terminal_status() {
        TerminalStatus::Normal => "0 (normal)".to_string(),
        TerminalStatus::Test => "1 (test)".to_string(),
        TerminalStatus::Unknown(n) => format!("{n:X}"),
    };
    let requirement = match header.processing_requirement() {
        ProcessingRequirement::None => "0 (none)".to_string(),
        ProcessingRequirement::SignOnAgain => "3 (sign on again)".to_string(),
        ProcessingRequirement::Unknown(n) => format!("{n:X}"),
    };
    let sub_version = match header.sub_version() {
        Some(v) => format!("{v:06}"),
        None => format!("{} (not BCD)", upper_hex(&[s0, s1, s2])),
    };
    format!(
        "application type {app_type}, spec version {version}, terminal status {status}, \
         processing requirement {requirement}, sub-version {sub_version}"
    )
}

/// One sentence per quirk the lenient decode accepted, with where it was first seen.
fn warnings(message: &Message<'_>, base: usize) -> Vec<String> {
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
                at.offset.saturating_add(base)
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
        let e = decode(spec, b"HDR02X0", &Layout::skip(3), false).unwrap_err();
        assert_eq!((e.kind, e.offset), ("invalid_mti", Some(5)));
        assert!(e.message.contains("offset 5"), "{}", e.message);
        let e = decode(spec, b"HD", &Layout::skip(3), false).unwrap_err();
        assert_eq!((e.kind, e.offset), ("truncated", Some(0)));
        let e = decode(spec, b"HDR", &Layout::skip(3), false).unwrap_err();
        assert_eq!((e.kind, e.offset), ("truncated", Some(3)));
    }

    #[test]
    fn shifted_moves_every_offset() {
        use iso8583_codec::FieldPath;
        let field = FieldPath::field(2);
        let errors = [
            Error::InvalidMti {
                offset: 1,
                found: iso8583_codec::Found::Byte(b'X'),
            },
            Error::InvalidBitmap {
                which: iso8583_codec::WhichBitmap::Secondary,
                offset: 1,
                problem: iso8583_codec::BitmapProblem::Empty,
            },
            Error::UnknownField { field, offset: 1 },
            Error::InvalidLength {
                field,
                offset: 1,
                problem: iso8583_codec::LengthProblem::TooLong { found: 9, max: 8 },
            },
            Error::InvalidContent {
                field,
                offset: 1,
                expected: iso8583_codec::Expected::Sign,
                found: iso8583_codec::Found::Redacted,
            },
            Error::Truncated {
                field: None,
                offset: 1,
                needed: 2,
            },
            Error::MessageTooLarge { offset: 1 },
            Error::TrailingData {
                offset: 1,
                count: 2,
            },
        ];
        for error in errors {
            let moved = shifted(error.clone(), 10);
            assert_eq!(moved.offset(), 11, "{error:?}");
            assert_eq!(moved.kind(), error.kind(), "{error:?}");
        }
        let masked = Error::MaskedValue { field };
        assert_eq!(shifted(masked.clone(), 10), masked);
        let e = shifted(Error::MessageTooLarge { offset: 65_536 }, 3);
        assert_eq!(e, Error::MessageTooLarge { offset: 65_539 });
        assert!(e.to_string().contains("offset 65539"), "{e}");
    }

    #[test]
    fn errors_count_the_length_header_and_tpdu() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let layout = Layout {
            length: Some(iso8583_wire::LengthHeader::Ascii4),
            tpdu: true,
            ..Layout::skip(1)
        };
        // 4 + 5 + 1 bytes before the MTI, whose third character is bad.
        let mut input = b"0009".to_vec();
        input.extend_from_slice(&[0x60, 0, 3, 0, 0, b'H']);
        input.extend_from_slice(b"02X");
        let e = decode(spec, &input, &layout, false).unwrap_err();
        assert_eq!((e.kind, e.offset), ("invalid_mti", Some(12)));
    }

    #[test]
    fn quirks_become_warnings() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let (_, message) =
            decode(spec, b"08000020000000000000000123", &Layout::skip(0), false).unwrap();
        assert!(warnings(&message, 0).is_empty());
        let wire = b"HD080000000000000000010123456789abcdef";
        let (peeled, message) = decode(spec, wire, &Layout::skip(2), false).unwrap();
        assert_eq!(peeled.header, b"HD");
        let found = warnings(&message, peeled.body_offset);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("lower-case hex digits in field 64 at offset 22"),
            "{found:?}"
        );
        let e = decode(spec, wire, &Layout::skip(2), true).unwrap_err();
        assert_eq!(e.kind, "invalid_content");
    }

    #[test]
    fn parts_are_spelled_out() {
        let tpdu = Tpdu::from_bytes([0x60, 0x01, 0x23, 0x0A, 0xBC]);
        assert_eq!(
            describe_tpdu(&tpdu),
            "id 60 (transaction), destination NII 123, source NII 0ABC (not BCD)"
        );
        let header = AppHeader::from_bytes([0x61, 0x31, 0x13, 0x31, 0x00, 0x01]);
        assert_eq!(
            describe_app_header(&header),
            "application type 61 (chip), spec version 31, terminal status 1 (test), \
             processing requirement 3 (sign on again), sub-version 310001"
        );
    }
}
