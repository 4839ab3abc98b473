//! Framing and a request-matching client for ISO 8583 over TCP, on tokio.
//!
//! Card terminals and hosts put a few bytes before each message:
//! `[length][TPDU][application header][message]`. This crate reads and writes those frames
//! with a `tokio_util` codec, gives the TPDU and the China UnionPay application header typed
//! access, and offers a terminal-side [`Client`] that sends requests and pairs each response
//! with its request by MTI class, terminal id (field 41) and trace number (field 11).
//!
//! # Main types
//! - [`FrameConfig`]: which parts a frame has. The length header is 2-byte binary (default),
//!   2-byte BCD or 4 ASCII digits, counting itself or not; or there is none and the spec finds
//!   where each message ends. Zero-length frames are keep-alives ([`KeepAlive`]); frames over
//!   [`FrameConfig::max_frame`] are refused before they are buffered.
//! - [`FrameCodec`]: the `Decoder`/`Encoder` for [`Frame`]s. A [`MessageFrame`] holds the
//!   typed [`Tpdu`] and [`AppHeader`] and the message body as `bytes::Bytes`, split from the
//!   read buffer without copying and ready for `Spec::decode`.
//! - [`Client`]: several requests in flight over one connection, each with a timeout.
//! - [`FrameError`], [`ClientError`]: typed errors that never carry message content.
//!
//! # What it does not do
//! No message decoding of its own (that is `iso8583-codec`), no MACs or keys (the crypto
//! crate), no reconnecting (the caller builds a new [`Client`]), no TLS (wrap the stream before
//! handing it over). Nothing here logs a PAN, track data, a PIN block or a key: logs show the
//! MTI, trace number, terminal id and fields as the codec masks them. No input makes the codec
//! panic.
//!
//! # Example
//! ```
//! use bytes::BytesMut;
//! use iso8583_codec::{Builder, Mti, Spec};
//! use iso8583_wire::{Frame, FrameCodec, FrameConfig, MessageFrame, Nii, Tpdu};
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! let spec = Spec::builtin("cup-pos").expect("built in");
//! let mut echo = Builder::new(spec, Mti::new("0820").expect("digits"));
//! echo.set_str(11, "000001")?.set_str(41, "TERM0001")?;
//!
//! // International terminals: 2-byte binary length, then a TPDU, then the message.
//! let mut codec = FrameCodec::new(FrameConfig::international());
//! let tpdu = Tpdu::new(Nii::new(3)?, Nii::new(0)?);
//! let mut wire = BytesMut::new();
//! codec.encode(Frame::Message(MessageFrame::new(echo.to_bytes()).with_tpdu(tpdu)), &mut wire)?;
//! assert_eq!(&wire[..7], &[0x00, 0x1A, 0x60, 0x00, 0x03, 0x00, 0x00]);
//!
//! let Some(Frame::Message(frame)) = codec.decode(&mut wire)? else { panic!("one frame") };
//! assert_eq!(frame.tpdu.map(|t| t.reply()), Some(Tpdu::new(Nii::new(0)?, Nii::new(3)?)));
//! let message = spec.decode(&frame.body)?.complete()?;
//! assert_eq!(message.field(41).and_then(|f| f.as_str()), Some("TERM0001"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features and MSRV
//! No optional features. The minimum supported Rust version is 1.85.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod bcd;
mod client;
mod config;
mod error;
mod frame;
mod header;
mod tpdu;

pub use client::{Client, ClientOptions, Request, Response, DEFAULT_BUFFER, DEFAULT_TIMEOUT};
pub use config::{
    FrameConfig, FrameConfigBuilder, KeepAlive, LengthHeader, SpecRef, DEFAULT_MAX_FRAME,
};
pub use error::{ClientError, FrameError, LengthBytes, Part, ValueError};
pub use frame::{Frame, FrameCodec, MessageFrame};
pub use header::{AppHeader, AppType, ProcessingRequirement, TerminalStatus};
pub use tpdu::{Nii, Tpdu, TpduId};
