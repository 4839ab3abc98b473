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

impl InputArgs {
    /// The input's bytes: hex from the arguments or stdin, read as `hexinput` says.
    pub(crate) fn bytes(&self) -> Result<Vec<u8>, Failure> {
        let text = input_text(&self.hex)
            .map_err(|e| Failure::new("io", format!("cannot read stdin: {e}")))?;
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
