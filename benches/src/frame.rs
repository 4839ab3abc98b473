//! The frame that `benches/wire.rs` encodes and decodes: message (b) behind a 2-byte binary
//! length, the TPDU `6000030000` and a UnionPay application header (`FrameConfig::unionpay()`),
//! and [`verify_frame`], the check made before anything is timed.

use bytes::BytesMut;
use iso8583_wire::{
    AppHeader, AppType, Frame, FrameCodec, FrameConfig, MessageFrame, Nii, ProcessingRequirement,
    TerminalStatus, Tpdu,
};
use tokio_util::codec::{Decoder, Encoder};

use crate::BenchMessage;

/// The TPDU on the wire: id `60`, destination NII 003, source NII 000.
pub const TPDU: [u8; 5] = [0x60, 0x00, 0x03, 0x00, 0x00];

/// The application header on the wire: `60` magnetic stripe, spec version 31, normal status,
/// no processing requirement, sub-version 310001 (as the wire crate's tests use).
pub const APP_HEADER: [u8; 6] = [0x60, 0x31, 0x00, 0x31, 0x00, 0x01];

/// The codec the benchmark uses: `FrameConfig::unionpay()` (2-byte binary length that does
/// not count itself, TPDU, application header).
pub fn codec() -> FrameCodec {
    FrameCodec::new(FrameConfig::unionpay())
}

/// `m` as a message frame with [`TPDU`] and [`APP_HEADER`], built through the typed
/// constructors (so a change in how they write their bytes shows up in [`verify_frame`]).
///
/// # Panics
/// If the constants above are out of range for the constructors (they are not).
pub fn message_frame(m: &BenchMessage) -> MessageFrame {
    let tpdu = Tpdu::new(Nii::new(3).expect("NII 3"), Nii::new(0).expect("NII 0"));
    let header = AppHeader::new(
        AppType::MagneticStripe,
        31,
        TerminalStatus::Normal,
        ProcessingRequirement::None,
        310_001,
    )
    .expect("header values in range");
    MessageFrame::new(m.wire.clone())
        .with_tpdu(tpdu)
        .with_header(header)
}

/// The bytes the frame of `m` must encode to, written out by hand: length (TPDU + header +
/// message, big-endian), TPDU, header, message.
///
/// # Panics
/// If the frame would not fit a 2-byte length (message (b) is 161 bytes).
pub fn expected_wire(m: &BenchMessage) -> Vec<u8> {
    let len = u16::try_from(TPDU.len() + APP_HEADER.len() + m.wire.len()).expect("fits");
    let mut wire = len.to_be_bytes().to_vec();
    wire.extend_from_slice(&TPDU);
    wire.extend_from_slice(&APP_HEADER);
    wire.extend_from_slice(&m.wire);
    wire
}

/// Checks that the frame of `m` encodes to exactly [`expected_wire`], that those bytes decode
/// to the same frame (TPDU, header and body) with nothing left over, and that the decoded
/// frame encodes to the same bytes again. Returns the encoded bytes.
///
/// # Panics
/// When any of that does not hold: what the benchmarks time would not be the work they name.
pub fn verify_frame(m: &BenchMessage) -> Vec<u8> {
    let frame = message_frame(m);
    assert_eq!(frame.tpdu.map(|t| t.to_bytes()), Some(TPDU), "TPDU bytes");
    assert_eq!(
        frame.header.map(|h| h.to_bytes()),
        Some(APP_HEADER),
        "application header bytes"
    );

    let mut codec = codec();
    let mut wire = BytesMut::new();
    codec
        .encode(Frame::Message(frame.clone()), &mut wire)
        .expect("the frame encodes");
    assert_eq!(&wire[..], &expected_wire(m)[..], "frame ({}) bytes", m.name);
    let encoded = wire.to_vec();

    let decoded = codec
        .decode(&mut wire)
        .expect("the frame decodes")
        .and_then(Frame::into_message)
        .expect("one whole message frame");
    assert!(wire.is_empty(), "the decoder took the whole frame");
    assert_eq!(decoded, frame, "frame ({}) round-trips", m.name);
    assert_eq!(codec.decode(&mut wire).ok(), Some(None), "nothing more");

    let mut again = BytesMut::new();
    codec
        .encode(decoded, &mut again)
        .expect("the decoded frame encodes");
    assert_eq!(&again[..], &encoded[..], "re-encoded frame ({})", m.name);
    encoded
}
