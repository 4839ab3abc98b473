//! Framing over a real `FramedRead`: every way a stream of several frames can be cut into
//! reads gives the same frames, and bad or oversized frames end the stream with a typed error
//! without buffering what they announce.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use futures_util::{FutureExt, SinkExt, StreamExt};
use iso8583_wire::{
    AppHeader, Frame, FrameCodec, FrameConfig, FrameError, KeepAlive, LengthHeader, MessageFrame,
    Nii, Tpdu,
};
use tokio::io::AsyncRead;
use tokio_util::codec::{Encoder, FramedRead, FramedWrite};

use common::Chunks;

/// How reading a stream ended.
#[derive(Debug)]
enum End {
    Eof,
    Error(FrameError),
    Pending,
}

/// Reads every frame the reader gives, polling without a runtime: the test readers never
/// wait for anything but the end of their chunks.
fn read_all<R: AsyncRead + Unpin>(config: FrameConfig, reader: R) -> (Vec<Frame>, End) {
    let mut framed = FramedRead::new(reader, FrameCodec::new(config));
    let mut frames = Vec::new();
    loop {
        match framed.next().now_or_never() {
            Some(Some(Ok(frame))) => frames.push(frame),
            Some(Some(Err(error))) => {
                // After an error the stream is over: the connection is out of step.
                assert!(matches!(framed.next().now_or_never(), Some(None)));
                return (frames, End::Error(error));
            }
            Some(None) => return (frames, End::Eof),
            None => return (frames, End::Pending),
        }
    }
}

fn encode_all(config: &FrameConfig, frames: &[Frame]) -> Vec<u8> {
    let mut codec = FrameCodec::new(config.clone());
    let mut out = BytesMut::new();
    for frame in frames {
        codec.encode(frame.clone(), &mut out).unwrap();
    }
    out.to_vec()
}

fn tpdu() -> Tpdu {
    Tpdu::new(Nii::new(3).unwrap(), Nii::new(0).unwrap())
}

fn header() -> AppHeader {
    AppHeader::from_bytes([0x61, 0x31, 0x00, 0x31, 0x00, 0x01])
}

/// The layouts under test, each with frames to send through it.
fn layouts() -> Vec<(&'static str, FrameConfig, Vec<Frame>)> {
    let spec = common::spec();
    let yielding = |b: iso8583_wire::FrameConfigBuilder| b.keep_alive(KeepAlive::Yield).build();
    let layouts = [
        ("binary", yielding(FrameConfig::builder())),
        (
            "bcd+tpdu",
            yielding(FrameConfig::builder().length(LengthHeader::Bcd2).tpdu(true)),
        ),
        (
            "ascii counting itself, tpdu, header",
            yielding(
                FrameConfig::builder()
                    .length(LengthHeader::Ascii4)
                    .counts_itself(true)
                    .tpdu(true)
                    .app_header(true),
            ),
        ),
        (
            "binary counting itself, unionpay",
            yielding(
                FrameConfig::builder()
                    .counts_itself(true)
                    .tpdu(true)
                    .app_header(true),
            ),
        ),
        (
            "no length, tpdu, header",
            FrameConfig::builder()
                .without_length(spec)
                .tpdu(true)
                .app_header(true)
                .build(),
        ),
        (
            "no length, bare",
            FrameConfig::builder().without_length(spec).build(),
        ),
    ];
    layouts
        .into_iter()
        .map(|(name, config)| {
            let request = common::request("0200", "000007", "TERM0001");
            let bodies = [
                common::echo("000001", "TERM0001"),
                request.clone(),
                common::response_to(&request, "00", "123456789012"),
            ];
            let mut frames = Vec::new();
            for body in bodies {
                let mut frame = MessageFrame::new(body);
                frame.tpdu = config.has_tpdu().then(tpdu);
                frame.header = config.has_app_header().then(header);
                frames.push(Frame::Message(frame));
                if config.length_header().is_some() {
                    frames.push(Frame::KeepAlive);
                }
            }
            (name, config, frames)
        })
        .collect()
}

fn assert_reads_back(
    name: &str,
    config: &FrameConfig,
    expected: &[Frame],
    reader: Chunks,
    how: &str,
) {
    let (frames, end) = read_all(config.clone(), reader);
    assert!(matches!(end, End::Eof), "{name}, {how}: ended with {end:?}");
    assert_eq!(frames, expected, "{name}, {how}");
}

#[test]
fn every_single_split_position() {
    for (name, config, frames) in layouts() {
        let stream = encode_all(&config, &frames);
        for cut in 0..=stream.len() {
            let reader = Chunks::split_at(&stream, &[cut]);
            assert_reads_back(name, &config, &frames, reader, &format!("cut at {cut}"));
        }
    }
}

#[test]
fn every_pair_of_split_positions() {
    for (name, config, frames) in layouts() {
        let stream = encode_all(&config, &frames);
        for first in 0..=stream.len() {
            for second in first..=stream.len() {
                let reader = Chunks::split_at(&stream, &[first, second]);
                let how = format!("cut at {first} and {second}");
                assert_reads_back(name, &config, &frames, reader, &how);
            }
        }
    }
}

#[test]
fn every_chunk_size_from_byte_by_byte_to_one_read() {
    for (name, config, frames) in layouts() {
        let stream = encode_all(&config, &frames);
        for size in 1..=stream.len() {
            let reader = Chunks::sized(&stream, size);
            let how = format!("chunks of {size}");
            assert_reads_back(name, &config, &frames, reader, &how);
        }
    }
}

/// The same with a reader that is pending between reads, as a socket is.
#[tokio::test(start_paused = true)]
async fn reads_that_wait_between_chunks() {
    for (name, config, frames) in layouts() {
        let stream = encode_all(&config, &frames);
        let mut mock = tokio_test::io::Builder::new();
        for chunk in stream.chunks(7) {
            mock.read(chunk).wait(Duration::from_millis(5));
        }
        let mut framed = FramedRead::new(mock.build(), FrameCodec::new(config));
        let mut read = Vec::new();
        while let Some(frame) = framed.next().await {
            read.push(frame.unwrap());
        }
        assert_eq!(read, frames, "{name}");
    }
}

#[tokio::test]
async fn framed_write_and_read_agree() {
    for (name, config, frames) in layouts() {
        let (client, server) = tokio::io::duplex(64);
        let mut writer = FramedWrite::new(client, FrameCodec::new(config.clone()));
        let mut reader = FramedRead::new(server, FrameCodec::new(config));
        let sent = frames.clone();
        let send = tokio::spawn(async move {
            for frame in sent {
                writer.send(frame).await.unwrap();
            }
        });
        let mut read = Vec::new();
        while let Some(frame) = reader.next().await {
            read.push(frame.unwrap());
        }
        send.await.unwrap();
        assert_eq!(read, frames, "{name}");
    }
}

#[test]
fn oversized_frame_is_refused_before_it_is_buffered() {
    // 0xEA60 = 60000 announced, then nothing more arrives.
    let config = FrameConfig::unionpay();
    let reader = Chunks::split_at(&[0xEA, 0x60, 0x60, 0x00], &[]).then_pend();
    let mut framed = FramedRead::new(reader, FrameCodec::new(config));
    let first = framed
        .next()
        .now_or_never()
        .expect("an answer without waiting");
    assert!(
        matches!(
            first,
            Some(Err(FrameError::FrameTooLarge {
                length: 60000,
                max: 8192
            }))
        ),
        "{first:?}"
    );
    assert!(
        framed.read_buffer().capacity() < 60000,
        "nothing reserved for the announced frame"
    );
    assert!(matches!(framed.next().now_or_never(), Some(None)));
}

#[test]
fn configured_maximum_applies_to_every_length_header() {
    for (header, wire) in [
        (LengthHeader::Binary2, &[0x01, 0x01][..]),
        (LengthHeader::Bcd2, &[0x02, 0x57][..]),
        (LengthHeader::Ascii4, &b"0257"[..]),
    ] {
        let config = FrameConfig::builder().length(header).max_frame(256).build();
        let (frames, end) = read_all(config, Chunks::split_at(wire, &[]).then_pend());
        assert!(frames.is_empty());
        assert!(
            matches!(
                end,
                End::Error(FrameError::FrameTooLarge {
                    length: 257,
                    max: 256
                })
            ),
            "{header}: {end:?}"
        );
    }
}

#[test]
fn spec_delimited_frames_are_refused_once_they_must_exceed_the_maximum() {
    // MTI, a bitmap with bit 62, and a length prefix announcing 500 bytes of working keys.
    let mut stream = vec![0x08, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x05, 0x00];
    stream.extend_from_slice(&[0xAB; 20]);
    let config = FrameConfig::builder()
        .without_length(common::spec())
        .max_frame(64)
        .build();
    let (frames, end) = read_all(config, Chunks::sized(&stream, 3).then_pend());
    assert!(frames.is_empty());
    assert!(
        matches!(end, End::Error(FrameError::FrameTooLarge { max: 64, .. })),
        "{end:?}"
    );
}

#[test]
fn garbage_length_headers_end_the_stream() {
    let cases = [
        (LengthHeader::Bcd2, &[0x0A, 0x10, 0x00][..], "0A 10"),
        (LengthHeader::Ascii4, &b"12x4abcd"[..], "31 32 78 34"),
    ];
    for (header, wire, shown) in cases {
        let config = FrameConfig::builder().length(header).build();
        let (frames, end) = read_all(config, Chunks::split_at(wire, &[1]));
        assert!(frames.is_empty());
        match end {
            End::Error(FrameError::InvalidLengthHeader { found, .. }) => {
                assert_eq!(found.to_string(), shown)
            }
            other => panic!("{header}: {other:?}"),
        }
    }
}

#[test]
fn spec_delimited_garbage_is_a_message_error() {
    let config = FrameConfig::builder()
        .without_length(common::spec())
        .build();
    let (frames, end) = read_all(config, Chunks::split_at(&[0x0A, 0x00, 0x00], &[]));
    assert!(frames.is_empty());
    assert!(matches!(end, End::Error(FrameError::Message(_))), "{end:?}");
}

#[test]
fn end_of_stream_inside_a_frame_is_truncation() {
    let config = FrameConfig::default();
    let body = common::echo("000001", "TERM0001");
    let stream = encode_all(&config, &[Frame::Message(MessageFrame::new(body.clone()))]);

    // Inside the body: the announced length is known.
    let (frames, end) = read_all(config.clone(), Chunks::split_at(&stream[..10], &[]));
    assert!(frames.is_empty());
    assert!(
        matches!(
            end,
            End::Error(FrameError::Truncated { received: 8, expected: Some(n) }) if n == body.len()
        ),
        "{end:?}"
    );

    // Inside the length header.
    let (_, end) = read_all(config.clone(), Chunks::split_at(&stream[..1], &[]));
    assert!(
        matches!(
            end,
            End::Error(FrameError::Truncated {
                received: 1,
                expected: None
            })
        ),
        "{end:?}"
    );

    // After a whole frame: an orderly end.
    let mut two = stream.clone();
    two.extend_from_slice(&stream[..5]);
    let (frames, end) = read_all(config, Chunks::sized(&two, 4));
    assert_eq!(frames.len(), 1);
    assert!(
        matches!(end, End::Error(FrameError::Truncated { .. })),
        "{end:?}"
    );
}

#[test]
fn spec_delimited_end_of_stream_inside_a_message_is_truncation() {
    let config = FrameConfig::builder()
        .without_length(common::spec())
        .build();
    let body = common::request("0200", "000001", "TERM0001");
    let (_, end) = read_all(config, Chunks::split_at(&body[..body.len() - 1], &[3]));
    assert!(
        matches!(
            end,
            End::Error(FrameError::Truncated { expected: None, .. })
        ),
        "{end:?}"
    );
}

#[test]
fn keep_alive_policies() {
    let body = common::echo("000001", "TERM0001");
    let message = Frame::Message(MessageFrame::new(body));
    let stream = encode_all(
        &FrameConfig::default(),
        &[Frame::KeepAlive, message.clone(), Frame::KeepAlive],
    );
    let with = |policy| FrameConfig::builder().keep_alive(policy).build();

    let (frames, _) = read_all(with(KeepAlive::Yield), Chunks::sized(&stream, 1));
    assert_eq!(
        frames,
        [Frame::KeepAlive, message.clone(), Frame::KeepAlive]
    );

    let (frames, end) = read_all(with(KeepAlive::Skip), Chunks::sized(&stream, 1));
    assert_eq!(frames, [message]);
    assert!(matches!(end, End::Eof));

    let (frames, end) = read_all(with(KeepAlive::Reject), Chunks::sized(&stream, 1));
    assert!(frames.is_empty());
    assert!(matches!(end, End::Error(FrameError::UnexpectedKeepAlive)));
}

#[test]
fn partial_frames_wait_for_more() {
    let config = FrameConfig::unionpay();
    let frame = MessageFrame::new(common::echo("000001", "TERM0001"))
        .with_tpdu(tpdu())
        .with_header(header());
    let stream = encode_all(&config, &[Frame::Message(frame)]);
    for cut in 0..stream.len() {
        let (frames, end) = read_all(
            config.clone(),
            Chunks::split_at(&stream[..cut], &[]).then_pend(),
        );
        assert!(
            frames.is_empty() && matches!(end, End::Pending),
            "cut {cut}: {end:?}"
        );
    }
}

/// Every layout, with a small maximum so that arbitrary input reaches that check too.
fn small_layouts() -> Vec<FrameConfig> {
    let spec = common::spec();
    let max = 96;
    vec![
        FrameConfig::builder().max_frame(max).build(),
        FrameConfig::builder()
            .length(LengthHeader::Bcd2)
            .tpdu(true)
            .keep_alive(KeepAlive::Yield)
            .max_frame(max)
            .build(),
        FrameConfig::builder()
            .length(LengthHeader::Ascii4)
            .counts_itself(true)
            .tpdu(true)
            .app_header(true)
            .keep_alive(KeepAlive::Reject)
            .max_frame(max)
            .build(),
        FrameConfig::builder()
            .without_length(spec)
            .tpdu(true)
            .app_header(true)
            .max_frame(max)
            .build(),
        FrameConfig::builder()
            .without_length(spec)
            .max_frame(max)
            .build(),
    ]
}

proptest::proptest! {
    /// Arbitrary bytes, cut arbitrarily, end the stream with frames, an orderly end or a typed
    /// error: never a panic, never a frame over the maximum.
    #[test]
    fn arbitrary_input_never_panics(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        chunk in 1usize..64,
        layout in 0usize..5,
    ) {
        let config = small_layouts().swap_remove(layout);
        let max = config.max_frame();
        let (frames, _end) = read_all(config, Chunks::sized(&bytes, chunk));
        for frame in frames {
            if let Frame::Message(frame) = frame {
                proptest::prop_assert!(frame.body.len() <= max);
            }
        }
    }
}
