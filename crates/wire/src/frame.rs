//! Frames and the `tokio_util` codec that reads and writes them:
//! `[length][TPDU][application header][message]`, each part but the message as the
//! [`FrameConfig`] says.
//!
//! Read this first: the decoder is a two-state machine when there is a length header (waiting
//! for the header, then for the announced bytes) and a one-state one when the spec delimits
//! messages (decode what is buffered; "incomplete" means wait). In both, a length is checked
//! against the maximum before any buffer space is reserved for it, and the message body is
//! split off the read buffer without copying.
//!
//! No input makes this code panic or buffer without bound: every read is a checked slice, a
//! frame over the maximum is an error as soon as its length (or, without a length header, the
//! least length it can have) is known, and after any error `FramedRead` ends the stream.

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use iso8583_codec::{Decoded, Spec};
use tokio_util::codec::{Decoder, Encoder};

use crate::config::{Delimiting, FrameConfig, KeepAlive, LengthHeader};
use crate::error::{FrameError, LengthBytes, Part};
use crate::header::AppHeader;
use crate::tpdu::Tpdu;

/// One frame read from or written to a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A zero-length frame, when the configuration yields keep-alives
    /// ([`crate::KeepAlive::Yield`]); writing one sends an empty frame.
    KeepAlive,
    /// A message with the parts before it.
    Message(MessageFrame),
}

impl Frame {
    /// The message frame, unless this is a keep-alive.
    pub fn into_message(self) -> Option<MessageFrame> {
        match self {
            Frame::Message(frame) => Some(frame),
            Frame::KeepAlive => None,
        }
    }
}

impl From<MessageFrame> for Frame {
    fn from(frame: MessageFrame) -> Frame {
        Frame::Message(frame)
    }
}

/// A message and the optional parts before it.
///
/// `Debug` shows the TPDU, the header and the body's length, never the body: it may hold card
/// data. Decode the body with the spec to see it masked.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageFrame {
    /// The TPDU, present exactly when the configuration has one.
    pub tpdu: Option<Tpdu>,
    /// The UnionPay application header, present exactly when the configuration has one.
    pub header: Option<AppHeader>,
    /// The message bytes, from the MTI on; when read, a view into the read buffer.
    pub body: Bytes,
}

impl MessageFrame {
    /// A frame with only a message.
    pub fn new(body: impl Into<Bytes>) -> MessageFrame {
        MessageFrame {
            tpdu: None,
            header: None,
            body: body.into(),
        }
    }

    /// This frame with a TPDU.
    pub fn with_tpdu(mut self, tpdu: Tpdu) -> MessageFrame {
        self.tpdu = Some(tpdu);
        self
    }

    /// This frame with an application header.
    pub fn with_header(mut self, header: AppHeader) -> MessageFrame {
        self.header = Some(header);
        self
    }
}

impl fmt::Debug for MessageFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageFrame")
            .field("tpdu", &self.tpdu)
            .field("header", &self.header)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Reads and writes [`Frame`]s for `tokio_util::codec::{FramedRead, FramedWrite, Framed}`.
///
/// See the crate docs for an example.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    config: FrameConfig,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a length header, or (without one) for `want` bytes before decoding again.
    Head { want: usize },
    /// The length header was read: waiting for this many bytes.
    Body { len: usize },
}

impl FrameCodec {
    /// A codec for frames laid out as `config` says.
    pub fn new(config: FrameConfig) -> FrameCodec {
        FrameCodec {
            config,
            state: State::Head { want: 0 },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FrameConfig {
        &self.config
    }

    /// With a length header: reads the header, then waits for the frame it announces.
    fn decode_length_delimited(
        &mut self,
        buf: &mut BytesMut,
        header: LengthHeader,
        counts_itself: bool,
        keep_alive: KeepAlive,
    ) -> Result<Option<Frame>, FrameError> {
        loop {
            let len = match self.state {
                State::Body { len } => len,
                State::Head { .. } => {
                    let Some(len) = self.read_length(buf, header, counts_itself)? else {
                        return Ok(None);
                    };
                    if len == 0 {
                        match keep_alive {
                            KeepAlive::Yield => return Ok(Some(Frame::KeepAlive)),
                            KeepAlive::Skip => {
                                tracing::trace!("skipped a keep-alive frame");
                                continue;
                            }
                            KeepAlive::Reject => return Err(FrameError::UnexpectedKeepAlive),
                        }
                    }
                    buf.reserve(len.saturating_sub(buf.len()));
                    self.state = State::Body { len };
                    len
                }
            };
            if buf.len() < len {
                return Ok(None);
            }
            self.state = State::Head { want: 0 };
            let bytes = buf.split_to(len);
            return split_parts(&self.config, bytes).map(|frame| Some(Frame::Message(frame)));
        }
    }

    /// Reads and checks a length header and removes it from `buf`; `None` until it is all
    /// there. Returns the length of the frame after the header.
    fn read_length(
        &self,
        buf: &mut BytesMut,
        header: LengthHeader,
        counts_itself: bool,
    ) -> Result<Option<usize>, FrameError> {
        let width = header.width();
        let Some(raw) = buf.get(..width) else {
            return Ok(None);
        };
        let announced = header
            .read(raw)
            .ok_or_else(|| FrameError::InvalidLengthHeader {
                header,
                found: LengthBytes::new(raw),
            })?;
        let len = match counts_itself {
            true => announced
                .checked_sub(width)
                .ok_or(FrameError::LengthBelowHeader { header, announced })?,
            false => announced,
        };

        // Refuse before consuming or reserving anything: the peer may announce up to 64 KiB
        // per frame, and only the configured maximum may be held for it.
        check_max(&self.config, len)?;
        let needed = self.config.prefix_len();
        if len != 0 && len < needed {
            return Err(FrameError::FrameTooShort {
                length: len,
                needed,
            });
        }
        buf.advance(width);
        Ok(Some(len))
    }

    fn encode_message(&self, frame: MessageFrame, dst: &mut BytesMut) -> Result<(), FrameError> {
        check_part(Part::Tpdu, self.config.tpdu, frame.tpdu.is_some())?;
        check_part(
            Part::AppHeader,
            self.config.app_header,
            frame.header.is_some(),
        )?;
        let len = self.config.prefix_len() + frame.body.len();
        check_max(&self.config, len)?;

        match &self.config.delimiting {
            Delimiting::Length { .. } => self.write_length(len, dst)?,
            // The peer finds the end of the message by decoding it: anything but exactly one
            // message would leave both sides out of step.
            Delimiting::Spec(spec) => {
                spec.decode(&frame.body)?.complete()?;
                dst.reserve(len);
            }
        }
        if let Some(tpdu) = frame.tpdu {
            dst.put_slice(&tpdu.to_bytes());
        }
        if let Some(header) = frame.header {
            dst.put_slice(&header.to_bytes());
        }
        dst.put_slice(&frame.body);
        Ok(())
    }

    fn write_length(&self, len: usize, dst: &mut BytesMut) -> Result<(), FrameError> {
        let Delimiting::Length {
            header,
            counts_itself,
            ..
        } = self.config.delimiting
        else {
            return Err(FrameError::KeepAliveWithoutLength);
        };
        let announced = len + if counts_itself { header.width() } else { 0 };
        let (bytes, width) = header
            .write(announced)
            .ok_or(FrameError::LengthUnrepresentable {
                header,
                length: announced,
                max: header.max_value(),
            })?;
        dst.reserve(width + len);
        dst.put_slice(bytes.get(..width).unwrap_or(&[]));
        Ok(())
    }
}

/// Without a length header: decodes what is buffered with the spec to find the end.
fn decode_spec_delimited(
    config: &FrameConfig,
    state: &mut State,
    spec: &Spec,
    buf: &mut BytesMut,
) -> Result<Option<Frame>, FrameError> {
    let State::Head { want } = *state else {
        return Ok(None);
    };
    // Decoding again before the bytes the last attempt asked for are there would only repeat
    // its answer; this keeps byte-at-a-time arrival linear rather than quadratic.
    if buf.is_empty() || buf.len() < want {
        return Ok(None);
    }
    let prefix = config.prefix_len();
    let Some(input) = buf.get(prefix..) else {
        check_max(config, prefix)?;
        *state = State::Head { want: prefix + 1 };
        return Ok(None);
    };

    // The next frame may already be buffered behind this message: keep trailing bytes.
    match spec.decoder().keep_trailing(true).decode(input)? {
        Decoded::Complete(message) => {
            let len = prefix + message.as_bytes().len();
            check_max(config, len)?;
            *state = State::Head { want: 0 };
            let bytes = buf.split_to(len);
            split_parts(config, bytes).map(|frame| Some(Frame::Message(frame)))
        }
        Decoded::Incomplete(incomplete) => {
            let want = buf.len().saturating_add(incomplete.needed);
            check_max(config, want)?;
            buf.reserve(want.saturating_sub(buf.len()));
            *state = State::Head { want };
            Ok(None)
        }
    }
}

fn check_max(config: &FrameConfig, len: usize) -> Result<(), FrameError> {
    let max = config.max_frame;
    if len > max {
        return Err(FrameError::FrameTooLarge { length: len, max });
    }
    Ok(())
}

/// Splits a whole frame (length header removed) into its parts; the body keeps pointing into
/// the read buffer.
fn split_parts(config: &FrameConfig, mut bytes: BytesMut) -> Result<MessageFrame, FrameError> {
    let length = bytes.len();
    let too_short = || FrameError::FrameTooShort {
        length,
        needed: config.prefix_len(),
    };
    let tpdu = match config.tpdu {
        true => Some(Tpdu::from_bytes(take(&mut bytes).ok_or_else(too_short)?)),
        false => None,
    };
    let header = match config.app_header {
        true => Some(AppHeader::from_bytes(
            take(&mut bytes).ok_or_else(too_short)?,
        )),
        false => None,
    };
    tracing::trace!(len = length, tpdu = ?tpdu, header = ?header, "frame read");
    Ok(MessageFrame {
        tpdu,
        header,
        body: bytes.freeze(),
    })
}

fn check_part(part: Part, configured: bool, present: bool) -> Result<(), FrameError> {
    match (configured, present) {
        (true, false) => Err(FrameError::MissingPart(part)),
        (false, true) => Err(FrameError::UnexpectedPart(part)),
        _ => Ok(()),
    }
}

/// Removes the first `N` bytes of `bytes` as an array, if there are that many.
fn take<const N: usize>(bytes: &mut BytesMut) -> Option<[u8; N]> {
    let array: [u8; N] = bytes.get(..N)?.try_into().ok()?;
    bytes.advance(N);
    Some(array)
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        match &self.config.delimiting {
            &Delimiting::Length {
                header,
                counts_itself,
                keep_alive,
            } => self.decode_length_delimited(buf, header, counts_itself, keep_alive),
            Delimiting::Spec(spec) => {
                decode_spec_delimited(&self.config, &mut self.state, spec, buf)
            }
        }
    }

    /// At the end of the stream a partly received frame is [`FrameError::Truncated`], not the
    /// generic I/O error `tokio_util` would give.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        let state = std::mem::replace(&mut self.state, State::Head { want: 0 });
        match state {
            State::Head { .. } if buf.is_empty() => Ok(None),
            State::Head { .. } => Err(FrameError::Truncated {
                received: buf.len(),
                expected: None,
            }),
            State::Body { len } => Err(FrameError::Truncated {
                received: buf.len(),
                expected: Some(len),
            }),
        }
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        match frame {
            Frame::Message(frame) => self.encode_message(frame, dst),
            Frame::KeepAlive => self.write_length(0, dst),
        }
    }
}

impl Encoder<MessageFrame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: MessageFrame, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode_message(frame, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut FrameCodec, wire: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let mut buf = BytesMut::from(wire);
        let mut frames = Vec::new();
        while let Some(frame) = codec.decode_eof(&mut buf)? {
            frames.push(frame);
        }
        Ok(frames)
    }

    #[test]
    fn unionpay_frame_round_trips() {
        let wire = [
            0x00, 0x0D, // length 13
            0x60, 0x00, 0x03, 0x00, 0x00, // TPDU
            0x61, 0x31, 0x00, 0x31, 0x00, 0x01, // header
            0x08, 0x00, // body (not decoded here)
        ];
        let mut codec = FrameCodec::new(FrameConfig::unionpay());
        let frames = decode_all(&mut codec, &wire).unwrap();
        let [Frame::Message(frame)] = frames.as_slice() else {
            panic!("one message frame, got {frames:?}");
        };
        assert_eq!(frame.tpdu.map(|t| t.destination.value()), Some(Some(3)));
        assert_eq!(frame.header.map(|h| h.to_bytes()[0]), Some(0x61));
        assert_eq!(&frame.body[..], &[0x08, 0x00]);

        let mut out = BytesMut::new();
        codec
            .encode(Frame::Message(frame.clone()), &mut out)
            .unwrap();
        assert_eq!(&out[..], &wire[..]);
    }

    #[test]
    fn body_is_split_from_the_read_buffer_without_copying() {
        let wire = [0x00, 0x07, 0x60, 0x00, 0x03, 0x00, 0x00, 0x08, 0x00];
        let mut buf = BytesMut::from(&wire[..]);
        let start = buf.as_ptr() as usize;
        let mut codec = FrameCodec::new(FrameConfig::international());
        let Some(Frame::Message(frame)) = codec.decode(&mut buf).unwrap() else {
            panic!("one message frame");
        };
        assert_eq!(frame.body.as_ptr() as usize, start + 7);
    }

    #[test]
    fn length_counting_itself() {
        let config = FrameConfig::builder()
            .length(LengthHeader::Ascii4)
            .counts_itself(true)
            .build();
        let mut codec = FrameCodec::new(config);
        let mut out = BytesMut::new();
        codec
            .encode(MessageFrame::new(&b"ab"[..]), &mut out)
            .unwrap();
        assert_eq!(&out[..], b"0006ab");
        let frames = decode_all(&mut codec, b"0006ab0004").unwrap();
        assert_eq!(frames.len(), 1, "the empty frame after it was skipped");

        let err = decode_all(&mut codec, b"0003").unwrap_err();
        assert!(matches!(
            err,
            FrameError::LengthBelowHeader { announced: 3, .. }
        ));
    }

    #[test]
    fn parts_must_match_the_config() {
        let mut codec = FrameCodec::new(FrameConfig::international());
        let mut out = BytesMut::new();
        let err = codec
            .encode(MessageFrame::new(&b"x"[..]), &mut out)
            .unwrap_err();
        assert!(matches!(err, FrameError::MissingPart(Part::Tpdu)));
        let header = AppHeader::from_bytes([0; 6]);
        let frame = MessageFrame::new(&b"x"[..])
            .with_tpdu(Tpdu::from_bytes([0x60, 0, 0, 0, 0]))
            .with_header(header);
        let err = codec.encode(frame, &mut out).unwrap_err();
        assert!(matches!(err, FrameError::UnexpectedPart(Part::AppHeader)));
        assert!(out.is_empty(), "nothing written for a refused frame");
    }

    #[test]
    fn frame_too_short_for_its_parts() {
        let mut codec = FrameCodec::new(FrameConfig::unionpay());
        let err = decode_all(&mut codec, &[0x00, 0x04, 0x60, 0, 0, 0]).unwrap_err();
        assert!(matches!(
            err,
            FrameError::FrameTooShort {
                length: 4,
                needed: 11
            }
        ));
    }

    #[test]
    fn writes_refuse_what_the_header_cannot_carry() {
        let config = FrameConfig::builder()
            .length(LengthHeader::Bcd2)
            .max_frame(20_000)
            .build();
        let mut codec = FrameCodec::new(config);
        let mut out = BytesMut::new();
        let err = codec
            .encode(MessageFrame::new(vec![0u8; 10_000]), &mut out)
            .unwrap_err();
        assert!(matches!(
            err,
            FrameError::LengthUnrepresentable { length: 10_000, .. }
        ));
        codec.encode(Frame::KeepAlive, &mut out).unwrap();
        assert_eq!(&out[..], &[0x00, 0x00]);
    }
}
