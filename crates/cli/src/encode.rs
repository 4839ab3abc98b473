//! `iso8583 encode`: the JSON that `decode --json` prints, in; one line of hex out.

use iso8583_codec::json::{from_json, upper_hex, JsonError};

use crate::input::read_capped;
use crate::output::{Failure, Output};
use crate::specs::{parse_spec, LoadedSpec};

/// Arguments of `iso8583 encode`.
#[derive(Debug, clap::Args)]
pub(crate) struct EncodeArgs {
    /// A built-in spec name (see `iso8583 specs`) or the path of a TOML spec file.
    #[arg(long, value_name = "NAME|PATH", value_parser = parse_spec)]
    spec: LoadedSpec,
    /// Report errors as a JSON object on stdout (the encoded hex is printed as it is).
    #[arg(long)]
    json: bool,
}

/// Most bytes of JSON read from stdin: 1 MiB. The JSON of the largest message (65,535
/// bytes) is well under that even with every byte of binary fields written as hex.
pub(crate) const MAX_JSON: usize = 1 << 20;

/// Runs `encode` on the JSON read from stdin; returns the exit status.
pub(crate) fn run(args: &EncodeArgs, out: &mut Output) -> u8 {
    let bytes = match read_capped(std::io::stdin().lock(), MAX_JSON) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let failure = Failure {
                kind: "invalid_json",
                field: None,
                offset: Some(MAX_JSON),
                message: format!(
                    "the JSON on stdin runs past {MAX_JSON} bytes (1 MiB), more than any \
                     message needs"
                ),
            };
            return out.fail(args.json, &failure);
        }
        Err(e) => {
            return out.fail(
                args.json,
                &Failure::new("io", format!("cannot read stdin: {e}")),
            );
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return out.fail(
            args.json,
            &Failure::new("invalid_json", "stdin is not UTF-8 text"),
        );
    };
    match encode(args.spec.get(), &text) {
        Ok(hex) => {
            out.line(hex);
            0
        }
        Err(failure) => out.fail(args.json, &failure),
    }
}

/// The upper-case hex of header and message for the JSON form of a message. A message longer
/// than 65,535 bytes (a spec may allow fields that long) is refused by the builder, unwritten:
/// the decoder would not read it back.
pub(crate) fn encode(spec: &iso8583_codec::Spec, text: &str) -> Result<String, Failure> {
    let (builder, header) = from_json(spec, text).map_err(|e| failure(&e))?;
    let mut hex = upper_hex(&header);
    hex.push_str(&upper_hex(&builder.to_bytes()));
    Ok(hex)
}

/// How a JSON problem is reported. Values that break their field's spec keep the codec's kinds
/// (`masked_value`, `invalid_length`, `invalid_content`, `unknown_field`); a bad header is
/// `invalid_hex`, a bad MTI `invalid_mti`, and anything else about the document `invalid_json`.
fn failure(error: &JsonError) -> Failure {
    let message = error.to_string();
    match error {
        JsonError::Codec(e) => Failure::codec(e),
        JsonError::Mti(_) => Failure::new("invalid_mti", message),
        JsonError::Hex { path, index, .. } => match path.strip_prefix("fields.") {
            Some(field) => Failure {
                kind: "invalid_content",
                field: Some(field.to_string()),
                offset: Some(*index),
                message,
            },
            None => Failure {
                kind: "invalid_hex",
                field: None,
                offset: Some(*index),
                message,
            },
        },
        JsonError::Character { field, index } => Failure {
            kind: "invalid_content",
            field: Some(field.to_string()),
            offset: Some(*index),
            message,
        },
        _ => Failure::new("invalid_json", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iso8583_codec::Spec;

    #[test]
    fn masked_values_are_refused() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let text = r#"{"mti":"0200","header":"","fields":{"2":"411111******1111"}}"#;
        let e = encode(spec, text).unwrap_err();
        assert_eq!((e.kind, e.field.as_deref()), ("masked_value", Some("2")));
        let text = r#"{"mti":"0200","header":"6000","fields":{"3":"000000"}}"#;
        assert_eq!(
            encode(spec, text).unwrap(),
            format!("6000{}", upper_hex(b"02002000000000000000000000"))
        );
    }

    #[test]
    fn messages_over_65535_bytes_are_refused() {
        // A field as long as a 5-digit prefix allows: a message can outgrow the limit.
        let spec = Spec::from_toml_str(
            "[spec]\nname = \"big\"\nmti = \"ascii\"\nbitmap = \"hex\"\n\n[[field]]\n\
             number = 48\nname = \"huge\"\nclass = \"ans\"\nmax = 99999\nprefix = 5\n",
        )
        .unwrap();
        // MTI (4), bitmap (16), prefix (5): 65,510 bytes of value make 65,535.
        let json = |n: usize| {
            format!(
                r#"{{"mti":"0200","header":"","fields":{{"48":"{}"}}}}"#,
                "A".repeat(n)
            )
        };
        assert_eq!(encode(&spec, &json(65_510)).unwrap().len(), 2 * 65_535);
        let e = encode(&spec, &json(65_511)).unwrap_err();
        assert_eq!((e.kind, e.field), ("invalid_length", None));
        assert!(
            e.message.contains("65536") && e.message.contains("65535"),
            "{}",
            e.message
        );
    }

    #[test]
    fn document_problems_have_kinds() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        assert_eq!(encode(spec, "{").unwrap_err().kind, "invalid_json");
        assert_eq!(
            encode(spec, r#"{"mti":"02"}"#).unwrap_err().kind,
            "invalid_mti"
        );
        let e = encode(spec, r#"{"mti":"0200","header":"6G"}"#).unwrap_err();
        assert_eq!((e.kind, e.offset), ("invalid_hex", Some(1)));
        assert_eq!(e.message, "header: character 1 is not a hex digit");
        let e = encode(spec, r#"{"mti":"0200","header":"6F0"}"#).unwrap_err();
        assert_eq!((e.kind, e.offset), ("invalid_hex", Some(3)));
        assert_eq!(e.message, "header: an odd number of hex digits (3)");
        let e = encode(spec, r#"{"mti":"0200","fields":{"64":"01X"}}"#).unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_deref()),
            ("invalid_content", Some("64"))
        );
    }
}
