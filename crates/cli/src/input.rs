//! The input options every message-reading command shares (`decode`, `mac`): the spec, how the
//! captured bytes are framed, and the hex itself, from the arguments or stdin.
//!
//! Turning the bytes into a frame's parts is `frame.rs`; decoding the message is `decode.rs`.

use std::ffi::OsString;
use std::io::Read;

use iso8583_wire::{LengthHeader, DEFAULT_MAX_FRAME};

use crate::frame::Layout;
use crate::hexinput;
use crate::output::Failure;
use crate::specs::{parse_spec, LoadedSpec};

/// Where the message comes from and what comes before it on the wire.
#[derive(Debug, clap::Args)]
pub(crate) struct InputArgs {
    /// A built-in spec name (see `iso8583 specs`) or the path of a TOML spec file.
    #[arg(long, value_name = "NAME|PATH", value_parser = parse_spec)]
    pub(crate) spec: LoadedSpec,
    /// The length header the input starts with: 2-byte binary big-endian, 2-byte BCD, 4 ASCII
    /// digits, or none. It counts the bytes after it and must agree with the input.
    #[arg(long, value_enum, value_name = "KIND", default_value_t = FrameArg::None)]
    frame: FrameArg,
    /// A 5-byte TPDU (`60`, destination NII, source NII) follows the length header.
    #[arg(long)]
    tpdu: bool,
    /// A 6-byte UnionPay application header follows the TPDU.
    #[arg(long)]
    cup_header: bool,
    /// Treat the next N bytes (after the length header, TPDU and application header) as a
    /// header before the MTI.
    #[arg(long, value_name = "N", default_value_t = 0)]
    skip: usize,
    /// The largest frame a length header may announce, in bytes after the header.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME)]
    max_frame: usize,
    /// Refuse non-canonical input (lower-case hex, odd filler nibbles, empty bitmaps, bytes
    /// above 0x7F in text) instead of accepting it with a warning.
    #[arg(long)]
    pub(crate) strict: bool,
    /// The message as hex or a hexdump; read from stdin when absent. Several arguments are
    /// joined with spaces.
    #[arg(value_name = "HEX")]
    hex: Vec<OsString>,
}

/// The values of `--frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FrameArg {
    /// 2 bytes, binary, big-endian.
    #[value(name = "len2")]
    Len2,
    /// 2 bytes of packed BCD.
    #[value(name = "len2bcd")]
    Len2Bcd,
    /// 4 ASCII digits.
    #[value(name = "len4ascii")]
    Len4Ascii,
    /// No length header.
    #[value(name = "none")]
    None,
}

impl FrameArg {
    fn header(self) -> Option<LengthHeader> {
        match self {
            FrameArg::Len2 => Some(LengthHeader::Binary2),
            FrameArg::Len2Bcd => Some(LengthHeader::Bcd2),
            FrameArg::Len4Ascii => Some(LengthHeader::Ascii4),
            FrameArg::None => None,
        }
    }
}

/// Most hex text read, from stdin or the arguments: 1 MiB. A message is at most 65,535 bytes,
/// and even a verbose hexdump of that (`hexdump -C`, 4.6 characters a byte) stays under
/// 400 KB; more is refused before it is all held in memory.
pub(crate) const MAX_HEX_TEXT: usize = 1 << 20;

/// Reads `reader` to its end if it holds at most `cap` bytes; `Ok(None)` if it holds more.
/// At most `cap + 1` bytes are ever read, so an endless source (`/dev/zero`) ends too.
pub(crate) fn read_capped(reader: impl Read, cap: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(limit).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= cap).then_some(bytes))
}

impl InputArgs {
    /// The input's bytes: hex from the arguments or stdin, read as `hexinput` says.
    pub(crate) fn bytes(&self) -> Result<Vec<u8>, Failure> {
        let text = input_text(&self.hex)?;
        hexinput::parse(&text).map_err(|e| Failure {
            kind: "invalid_hex",
            field: None,
            offset: Some(e.position),
            message: e.to_string(),
        })
    }

    /// The parts before the message, as the options say.
    pub(crate) fn layout(&self) -> Layout {
        Layout {
            length: self.frame.header(),
            tpdu: self.tpdu,
            app_header: self.cup_header,
            skip: self.skip,
            max_frame: self.max_frame,
        }
    }
}

/// The hex text: the arguments joined by spaces, or all of stdin; either at most
/// [`MAX_HEX_TEXT`] bytes.
fn input_text(args: &[OsString]) -> Result<Vec<u8>, Failure> {
    let text = if args.is_empty() {
        read_capped(std::io::stdin().lock(), MAX_HEX_TEXT)
            .map_err(|e| Failure::new("io", format!("cannot read stdin: {e}")))?
    } else {
        let mut text = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                text.push(b' ');
            }
            text.extend_from_slice(arg.as_encoded_bytes());
        }
        Some(text).filter(|text| text.len() <= MAX_HEX_TEXT)
    };
    text.ok_or_else(|| Failure {
        kind: "invalid_hex",
        field: None,
        offset: Some(MAX_HEX_TEXT),
        message: format!(
            "the hex text runs past {MAX_HEX_TEXT} bytes (1 MiB), more than any message needs \
             (a message is at most 65535 bytes)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_capped_reads_at_most_one_byte_past_the_cap() {
        assert_eq!(read_capped(&b"abc"[..], 3).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_capped(&b"abcd"[..], 3).unwrap(), None);
        // An endless source ends.
        assert_eq!(read_capped(std::io::repeat(b'0'), 10).unwrap(), None);
        let mut source = std::io::repeat(b'0').take(100);
        assert_eq!(read_capped(&mut source, 10).unwrap(), None);
        assert_eq!(source.limit(), 89);
    }

    #[test]
    fn arguments_are_capped_at_1_mib_joined() {
        let half = OsString::from("0".repeat(MAX_HEX_TEXT / 2));
        let short = OsString::from("0".repeat(MAX_HEX_TEXT / 2 - 1));
        // The two halves and the space between them: one byte too many.
        let e = input_text(&[half.clone(), half.clone()]).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            ("invalid_hex", Some(MAX_HEX_TEXT)),
            "{}",
            e.message
        );
        assert!(e.message.contains("1 MiB"), "{}", e.message);
        let text = input_text(&[half, short]).unwrap();
        assert_eq!(text.len(), MAX_HEX_TEXT);
    }
}
