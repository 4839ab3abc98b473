//! Peeling a captured frame into its parts, in wire order (DESIGN §4):
//! `[length header][TPDU][application header][skipped bytes][message]`, each part but the
//! message optional.
//!
//! The wire crate reads the parts (`LengthHeader::read`, `Tpdu::from_bytes`,
//! `AppHeader::from_bytes`); its `FrameCodec` is built for a stream, where too few bytes mean
//! "wait", while here the input is one whole capture, so too few (or too many) bytes are an
//! error. Offsets in errors count from the first byte of the input, length header included.
//! The message itself is left to `decode.rs`.

use iso8583_codec::json::upper_hex;
use iso8583_wire::{AppHeader, LengthHeader, Tpdu};

use crate::output::Failure;

/// Which parts come before the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The length header, if the input starts with one.
    pub(crate) length: Option<LengthHeader>,
    /// A TPDU after the length header.
    pub(crate) tpdu: bool,
    /// A UnionPay application header after the TPDU.
    pub(crate) app_header: bool,
    /// Bytes to pass over after those parts, before the MTI.
    pub(crate) skip: usize,
    /// The largest length a length header may announce.
    pub(crate) max_frame: usize,
}

impl Layout {
    /// No length header, no TPDU, no application header: only `skip` bytes before the MTI.
    #[cfg(test)]
    pub(crate) fn skip(skip: usize) -> Layout {
        Layout {
            length: None,
            tpdu: false,
            app_header: false,
            skip,
            max_frame: iso8583_wire::DEFAULT_MAX_FRAME,
        }
    }
}

/// The parts of a frame, each borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peeled<'a> {
    /// The length header and the length it announced.
    pub(crate) length: Option<(LengthHeader, usize)>,
    /// The TPDU, if the layout has one.
    pub(crate) tpdu: Option<Tpdu>,
    /// The application header, if the layout has one.
    pub(crate) app_header: Option<AppHeader>,
    /// Everything between the length header and the message: TPDU, application header and
    /// skipped bytes, as JSON's `header` shows it.
    pub(crate) header: &'a [u8],
    /// The skipped bytes alone.
    pub(crate) skipped: &'a [u8],
    /// The message, from the MTI to the end of the frame.
    pub(crate) body: &'a [u8],
    /// Where the message starts in the input.
    pub(crate) body_offset: usize,
}

/// Splits `input` into its parts as `layout` says.
pub(crate) fn peel<'a>(layout: &Layout, input: &'a [u8]) -> Result<Peeled<'a>, Failure> {
    let (length, frame, start) = match layout.length {
        Some(header) => {
            let announced = read_length(header, input, layout.max_frame)?;
            let frame = input.get(header.width()..).unwrap_or(&[]);
            (Some((header, announced)), frame, header.width())
        }
        None => (None, input, 0),
    };
    let mut cursor = Cursor {
        rest: frame,
        at: start,
        within: if length.is_some() {
            "the frame"
        } else {
            "the input"
        },
    };

    let tpdu = match layout.tpdu {
        true => Some(Tpdu::from_bytes(cursor.take_array("TPDU")?)),
        false => None,
    };

    let app_header = match layout.app_header {
        true => Some(AppHeader::from_bytes(
            cursor.take_array("UnionPay application header")?,
        )),
        false => None,
    };

    // As before framing existed, running out of bytes to skip is `truncated` at the start
    // of the skipped bytes.
    let skip_at = cursor.at;
    let Some((skipped, body)) = cursor.rest.split_at_checked(layout.skip) else {
        return Err(Failure {
            kind: "truncated",
            field: None,
            offset: Some(skip_at),
            message: format!(
                "{} ends inside the {} skipped byte(s) (--skip) at offset {skip_at}: {} more \
                 byte(s) needed",
                cursor.within,
                layout.skip,
                layout.skip.saturating_sub(cursor.rest.len())
            ),
        });
    };
    let body_offset = skip_at + skipped.len();

    Ok(Peeled {
        length,
        tpdu,
        app_header,
        header: frame.get(..body_offset - start).unwrap_or(frame),
        skipped,
        body,
        body_offset,
    })
}

/// Reads the length header at the start of `input` and checks it against the maximum and
/// against the bytes that follow it; returns the announced length.
fn read_length(header: LengthHeader, input: &[u8], max: usize) -> Result<usize, Failure> {
    let width = header.width();
    let Some(raw) = input.get(..width) else {
        return Err(Failure {
            kind: "truncated",
            field: None,
            offset: Some(0),
            message: format!(
                "input ends inside the {header} length header at offset 0: {} more byte(s) \
                 needed",
                width - input.len()
            ),
        });
    };
    let announced = header.read(raw).ok_or_else(|| Failure {
        kind: "invalid_length",
        field: None,
        offset: Some(0),
        message: format!(
            "the {header} length header at offset 0 is not a length (bytes {})",
            upper_hex(raw)
        ),
    })?;

    // The maximum first, as a server would check it: before waiting for (here: before
    // looking at) the bytes of a frame it will not hold.
    if announced > max {
        return Err(Failure {
            kind: "frame_too_large",
            field: None,
            offset: Some(0),
            message: format!(
                "the length header announces a frame of {announced} bytes, over the maximum \
                 of {max} (--max-frame)"
            ),
        });
    }
    let present = input.len() - width;
    match present {
        _ if present == announced => Ok(announced),
        // Too few: the header is what disagrees, so point at it.
        _ if present < announced => Err(Failure {
            kind: "frame_length_mismatch",
            field: None,
            offset: Some(0),
            message: format!(
                "the length header announces {announced} bytes but only {present} follow it"
            ),
        }),
        // Too many: point at the first byte past the frame, as `trailing_data` does.
        _ => Err(Failure {
            kind: "frame_length_mismatch",
            field: None,
            offset: Some(width + announced),
            message: format!(
                "the length header announces {announced} bytes but {present} follow it: {} \
                 byte(s) after the frame at offset {}",
                present - announced,
                width + announced
            ),
        }),
    }
}

/// The bytes not yet peeled and where they start in the input.
struct Cursor<'a> {
    rest: &'a [u8],
    at: usize,
    /// "the frame" or "the input", for messages.
    within: &'static str,
}

impl Cursor<'_> {
    /// Takes the next `N` bytes, the whole of part `what`.
    fn take_array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Failure> {
        let Some((part, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(Failure {
                kind: "truncated",
                field: None,
                offset: Some(self.at),
                message: format!(
                    "{} ends inside the {what} at offset {}: {} more byte(s) needed",
                    self.within,
                    self.at,
                    N - self.rest.len()
                ),
            });
        };
        self.rest = rest;
        self.at += N;
        Ok(*part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUP: [u8; 11] = [
        0x60, 0x00, 0x03, 0x00, 0x00, 0x61, 0x31, 0x00, 0x31, 0x00, 0x01,
    ];

    fn unionpay(length: LengthHeader) -> Layout {
        Layout {
            length: Some(length),
            tpdu: true,
            app_header: true,
            ..Layout::skip(0)
        }
    }

    #[test]
    fn parts_come_off_in_wire_order() {
        let mut input = vec![0x00, 0x0F];
        input.extend_from_slice(&CUP);
        input.extend_from_slice(b"HD02");
        let layout = Layout {
            skip: 2,
            ..unionpay(LengthHeader::Binary2)
        };
        let peeled = peel(&layout, &input).unwrap();
        assert_eq!(peeled.length, Some((LengthHeader::Binary2, 15)));
        assert_eq!(peeled.tpdu.map(|t| t.destination.value()), Some(Some(3)));
        assert_eq!(
            peeled.app_header.map(|h| h.sub_version()),
            Some(Some(310_001))
        );
        assert_eq!(peeled.header.len(), 13);
        assert_eq!(peeled.skipped, b"HD");
        assert_eq!((peeled.body, peeled.body_offset), (&b"02"[..], 15));
    }

    #[test]
    fn length_errors_point_at_the_header_or_past_the_frame() {
        let layout = Layout {
            length: Some(LengthHeader::Ascii4),
            ..Layout::skip(0)
        };
        let kind = |input: &[u8]| {
            let e = peel(&layout, input).unwrap_err();
            (e.kind, e.offset)
        };
        assert_eq!(kind(b"003"), ("truncated", Some(0)));
        assert_eq!(kind(b"00x3abc"), ("invalid_length", Some(0)));
        assert_eq!(kind(b"0003ab"), ("frame_length_mismatch", Some(0)));
        assert_eq!(kind(b"0003abcd"), ("frame_length_mismatch", Some(7)));
        assert_eq!(kind(b"9000abc"), ("frame_too_large", Some(0)));
        assert_eq!(peel(&layout, b"0003abc").unwrap().body, b"abc");
    }

    #[test]
    fn short_frames_are_truncated_inside_their_part() {
        let layout = unionpay(LengthHeader::Bcd2);
        let e = peel(&layout, &[0x00, 0x03, 0x60, 0x00, 0x03]).unwrap_err();
        assert_eq!((e.kind, e.offset), ("truncated", Some(2)));
        assert!(e.message.contains("inside the TPDU"), "{}", e.message);
        let mut input = vec![0x00, 0x07];
        input.extend_from_slice(&CUP[..7]);
        let e = peel(&layout, &input).unwrap_err();
        assert_eq!((e.kind, e.offset), ("truncated", Some(7)));
        assert!(e.message.contains("application header"), "{}", e.message);
    }

    #[test]
    fn too_few_bytes_to_skip_say_so() {
        let e = peel(&Layout::skip(5), b"HDR").unwrap_err();
        assert_eq!((e.kind, e.field, e.offset), ("truncated", None, Some(0)));
        assert_eq!(
            e.message,
            "the input ends inside the 5 skipped byte(s) (--skip) at offset 0: 2 more byte(s) \
             needed"
        );
    }
}
