//! The client against tiny in-test hosts over `tokio::io::duplex` (and one over TCP on
//! loopback). Every test runs on a paused clock, so timeouts take no real time and nothing
//! waits unbounded.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use iso8583_wire::{
    AppHeader, Client, ClientError, ClientOptions, Frame, FrameCodec, FrameConfig, FrameError,
    MessageFrame, Nii, Request, Tpdu,
};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio_util::codec::Framed;

type Host = Framed<DuplexStream, FrameCodec>;

const TID: &str = "TERM0001";

/// A client and the host end of its connection.
fn connect(config: FrameConfig, options: ClientOptions) -> (Client, Host) {
    let (terminal, host) = tokio::io::duplex(16 * 1024);
    let client = Client::with_options(terminal, config.clone(), common::spec(), options);
    (client, Framed::new(host, FrameCodec::new(config)))
}

fn short_timeout() -> ClientOptions {
    ClientOptions::new().timeout(Duration::from_secs(5))
}

/// The next message frame the host reads.
async fn next_request(host: &mut Host) -> MessageFrame {
    match host.next().await {
        Some(Ok(Frame::Message(frame))) => frame,
        other => panic!("expected a request, got {other:?}"),
    }
}

async fn reply(host: &mut Host, body: Bytes) {
    host.send(Frame::Message(MessageFrame::new(body)))
        .await
        .unwrap();
}

/// Answers the next request with 00 and an RRN made from its trace number.
async fn approve_next(host: &mut Host) -> Bytes {
    let request = next_request(host).await;
    let stan = common::field(&request.body, 11).unwrap();
    let response = common::response_to(&request.body, "00", &format!("RRN000{stan}"));
    reply(host, response.clone()).await;
    response
}

fn rrn(response: &iso8583_wire::Response) -> String {
    common::field(&response.frame().body, 37).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_response_is_matched_to_its_request() {
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let host = tokio::spawn(async move {
        approve_next(&mut host).await;
        host
    });
    let request = Request::new(common::request("0200", "000042", TID));
    let response = client.send(request).await.unwrap();
    assert_eq!(response.mti().as_str(), "0210");
    assert_eq!(rrn(&response), "RRN000000042");
    let message = response.message().unwrap();
    assert_eq!(message.field(39).and_then(|f| f.as_str()), Some("00"));
    assert_eq!(client.pending(), 0);
    drop(host.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn out_of_order_replies_reach_their_own_requests() {
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let host = tokio::spawn(async move {
        let mut requests = Vec::new();
        for _ in 0..3 {
            requests.push(next_request(&mut host).await);
        }
        for request in requests.iter().rev() {
            let stan = common::field(&request.body, 11).unwrap();
            let body = common::response_to(&request.body, "00", &format!("RRN000{stan}"));
            reply(&mut host, body).await;
        }
        host
    });
    let send = |stan: &'static str| client.send(Request::new(common::request("0200", stan, TID)));
    let (a, b, c) = tokio::join!(send("000001"), send("000002"), send("000003"));
    assert_eq!(rrn(&a.unwrap()), "RRN000000001");
    assert_eq!(rrn(&b.unwrap()), "RRN000000002");
    assert_eq!(rrn(&c.unwrap()), "RRN000000003");
    drop(host.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_reply_is_logged_masked_and_dropped() {
    let (logs, _guard) = common::capture_logs();
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let host = tokio::spawn(async move {
        let first = approve_next(&mut host).await;
        reply(&mut host, first).await;
        approve_next(&mut host).await;
        host
    });
    let first = client
        .send(Request::new(common::request("0200", "000010", TID)))
        .await
        .unwrap();
    assert_eq!(rrn(&first), "RRN000000010");

    // The next request must get its own reply, never the duplicate of the first.
    let second = client
        .send(Request::new(common::request("0200", "000011", TID)))
        .await
        .unwrap();
    assert_eq!(rrn(&second), "RRN000000011");
    drop(host.await.unwrap());

    let warnings = logs.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let warning = &warnings[0];
    assert!(warning.contains("matches no pending request"), "{warning}");
    assert!(
        warning.contains("mti=0210") && warning.contains("stan=000010"),
        "{warning}"
    );
    assert!(warning.contains(&format!("tid={TID}")), "{warning}");
    assert!(warning.contains(common::PAN_MASKED), "{warning}");
    assert!(!logs.text().contains(common::PAN), "a full PAN was logged");
}

#[tokio::test(start_paused = true)]
async fn a_wrong_trace_number_is_dropped_and_the_request_times_out() {
    let (logs, _guard) = common::capture_logs();
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let host = tokio::spawn(async move {
        let request = next_request(&mut host).await;
        let response = common::response_to(&request.body, "00", "RRN000000020");
        reply(&mut host, common::with_stan(&response, "000021")).await;
        // The right reply, after the client has given up: unmatched too.
        tokio::time::sleep(Duration::from_secs(10)).await;
        reply(&mut host, response).await;
        host
    });
    let started = tokio::time::Instant::now();
    let outcome = client
        .send(Request::new(common::request("0200", "000020", TID)))
        .await;
    match outcome {
        Err(ClientError::Timeout {
            expected,
            stan,
            tid,
            after,
        }) => {
            assert_eq!(expected.as_str(), "0210");
            assert_eq!((stan.as_str(), tid.as_str()), ("000020", TID));
            assert_eq!(after, Duration::from_secs(5));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(client.pending(), 0, "a timed-out request leaves the table");

    let host = host.await.unwrap();
    tokio::task::yield_now().await;
    let warnings = logs.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[0].contains("stan=000021"), "{}", warnings[0]);
    assert!(warnings[1].contains("stan=000020"), "late: {}", warnings[1]);
    assert!(!logs.text().contains(common::PAN));
    drop(host);
}

#[tokio::test(start_paused = true)]
async fn a_message_with_the_request_mti_is_not_a_response() {
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let host = tokio::spawn(async move {
        let request = next_request(&mut host).await;
        // Same class, terminal and trace number, but the request's own MTI echoed back.
        reply(&mut host, request.body).await;
        host
    });
    let outcome = client
        .send(Request::new(common::request("0200", "000030", TID)))
        .await;
    assert!(
        matches!(outcome, Err(ClientError::Timeout { .. })),
        "{outcome:?}"
    );
    drop(host.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_disconnect_fails_every_pending_request() {
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let host = tokio::spawn(async move {
        for _ in 0..3 {
            next_request(&mut host).await;
        }
        drop(host);
    });
    let send = |stan: &'static str| client.send(Request::new(common::request("0200", stan, TID)));
    let (a, b, c) = tokio::join!(send("000001"), send("000002"), send("000003"));
    for outcome in [a, b, c] {
        assert!(
            matches!(outcome, Err(ClientError::Disconnected { cause: None })),
            "{outcome:?}"
        );
    }
    host.await.unwrap();
    assert!(client.is_closed());
    assert_eq!(client.pending(), 0);

    let after = client
        .send(Request::new(common::request("0200", "000004", TID)))
        .await;
    assert!(
        matches!(after, Err(ClientError::Disconnected { .. })),
        "{after:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_oversized_frame_closes_the_connection() {
    let (client, host) = connect(FrameConfig::default(), short_timeout());
    let mut host = host.into_inner();
    let host = tokio::spawn(async move {
        // Wait for the request, then announce a 60000-byte frame.
        let mut first = [0u8; 2];
        tokio::io::AsyncReadExt::read_exact(&mut host, &mut first)
            .await
            .unwrap();
        host.write_all(&[0xEA, 0x60, 0x00]).await.unwrap();
        // The client closes its end: reading sees the end of the stream.
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut host, &mut rest)
            .await
            .unwrap();
    });
    let outcome = client
        .send(Request::new(common::request("0200", "000001", TID)))
        .await;
    match outcome {
        Err(ClientError::Disconnected { cause: Some(cause) }) => assert!(
            matches!(
                *cause,
                FrameError::FrameTooLarge {
                    length: 60000,
                    max: 8192
                }
            ),
            "{cause:?}"
        ),
        other => panic!("expected a disconnect, got {other:?}"),
    }
    tokio::time::timeout(Duration::from_secs(1), host)
        .await
        .expect("the connection was closed")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_second_request_with_the_same_key_is_refused_while_the_first_waits() {
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let (received_tx, received) = tokio::sync::oneshot::channel();
    let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
    let host = tokio::spawn(async move {
        let request = next_request(&mut host).await;
        received_tx.send(()).unwrap();
        go_rx.await.unwrap();
        let body = common::response_to(&request.body, "00", "RRN000000050");
        reply(&mut host, body).await;
        host
    });
    let body = common::request("0200", "000050", TID);
    let first = client.send(Request::new(body.clone()));
    let second = async {
        // The first is registered and written once the host has it.
        received.await.unwrap();
        let second = client.send(Request::new(body.clone())).await;
        go.send(()).unwrap();
        second
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(rrn(&first.unwrap()), "RRN000000050");
    assert!(
        matches!(second, Err(ClientError::AlreadyPending { class: 2, .. })),
        "{second:?}"
    );
    drop(host.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn requests_that_cannot_be_matched_are_refused_before_sending() {
    let (client, _host) = connect(FrameConfig::default(), short_timeout());
    let response = common::response_to(
        &common::request("0200", "000001", TID),
        "00",
        "RRN000000001",
    );
    let outcome = client.send(Request::new(response)).await;
    assert!(
        matches!(outcome, Err(ClientError::NotARequest { .. })),
        "{outcome:?}"
    );

    let mut builder =
        iso8583_codec::Builder::new(common::spec(), iso8583_codec::Mti::new("0800").unwrap());
    builder.set_str(11, "000001").unwrap();
    let outcome = client.send(Request::from_builder(&builder)).await;
    assert!(
        matches!(
            outcome,
            Err(ClientError::MissingMatchField { field: 41, .. })
        ),
        "{outcome:?}"
    );

    let outcome = client.send(Request::new(&b"\x02"[..])).await;
    assert!(
        matches!(outcome, Err(ClientError::Request(_))),
        "{outcome:?}"
    );
    assert_eq!(client.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_request_leaves_the_table() {
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let body = common::request("0200", "000060", TID);
    let cancelled = tokio::time::timeout(
        Duration::from_millis(10),
        client.send(Request::new(body.clone())),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(client.pending(), 0);
    // The same trace number can be sent again (a repeat), and is answered.
    let host = tokio::spawn(async move {
        next_request(&mut host).await;
        approve_next(&mut host).await;
        host
    });
    let response = client.send(Request::new(body)).await.unwrap();
    assert_eq!(rrn(&response), "RRN000000060");
    drop(host.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn unionpay_frames_carry_the_default_tpdu_and_header() {
    let tpdu = Tpdu::new(Nii::new(3).unwrap(), Nii::new(0).unwrap());
    let header = AppHeader::from_bytes([0x60, 0x31, 0x00, 0x31, 0x00, 0x01]);
    let options = short_timeout().tpdu(tpdu).header(header);
    let (client, mut host) = connect(FrameConfig::unionpay(), options);
    let host = tokio::spawn(async move {
        let request = next_request(&mut host).await;
        assert_eq!(request.tpdu, Some(tpdu));
        assert_eq!(request.header, Some(header));
        let body = common::response_to(&request.body, "00", "RRN000000001");
        let mut response = MessageFrame::new(body).with_tpdu(tpdu.reply());
        response.header = request.header;
        host.send(Frame::Message(response)).await.unwrap();
        host
    });
    let response = client
        .send(Request::new(common::echo("000001", TID)))
        .await
        .unwrap();
    assert_eq!(response.frame().tpdu, Some(tpdu.reply()));
    assert_eq!(response.frame().header, Some(header));
    drop(host.await.unwrap());
}

/// A UnionPay-framed client whose host answers each request with `answer(request TPDU)` as
/// the response TPDU; the client checks TPDUs when `check` is set.
async fn tpdu_exchange(
    check: bool,
    answer: fn(Tpdu) -> Option<Tpdu>,
) -> Result<String, ClientError> {
    let tpdu = Tpdu::new(Nii::new(3).unwrap(), Nii::new(0).unwrap());
    let header = AppHeader::from_bytes([0x60, 0x31, 0x00, 0x31, 0x00, 0x01]);
    let options = short_timeout().tpdu(tpdu).header(header).check_tpdu(check);
    let (client, mut host) = connect(FrameConfig::unionpay(), options);
    let host = tokio::spawn(async move {
        let request = next_request(&mut host).await;
        let body = common::response_to(&request.body, "00", "RRN000000001");
        let mut response = MessageFrame::new(body);
        response.tpdu = request.tpdu.and_then(answer);
        response.header = request.header;
        host.send(Frame::Message(response)).await.unwrap();
        host
    });
    let result = client
        .send(Request::new(common::echo("000001", TID)))
        .await
        .map(|r| rrn(&r));
    // Dropped first: a host still waiting for a request that never came sees the end.
    drop(client);
    drop(host.await.unwrap());
    result
}

#[tokio::test(start_paused = true)]
async fn a_response_tpdu_must_be_the_requests_swapped_when_checked() {
    let swapped = |t: Tpdu| Some(t.reply());
    let unswapped = |t: Tpdu| Some(t);
    let elsewhere = |_| Some(Tpdu::new(Nii::new(7).unwrap(), Nii::new(3).unwrap()));
    assert_eq!(tpdu_exchange(true, swapped).await.unwrap(), "RRN000000001");
    for answer in [unswapped, elsewhere] {
        match tpdu_exchange(true, answer).await {
            Err(ClientError::WrongTpdu { expected, found }) => {
                let sent = Tpdu::new(Nii::new(3).unwrap(), Nii::new(0).unwrap());
                assert_eq!(expected, sent.reply());
                assert_eq!(found, answer(sent));
            }
            other => panic!("WrongTpdu expected, got {other:?}"),
        }
        // Without the check, the same answer is handed over as before.
        assert!(tpdu_exchange(false, answer).await.is_ok());
    }
    let text = tpdu_exchange(true, unswapped)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        text,
        "response TPDU 6000030000 is not the request's swapped, 6000000003"
    );
}

#[tokio::test(start_paused = true)]
async fn a_frame_larger_than_the_starting_buffer_grows_it() {
    // 64 bytes to start with; the response is several times that.
    let (client, mut host) = connect(FrameConfig::default(), short_timeout().buffer(1));
    let host = tokio::spawn(async move {
        let request = next_request(&mut host).await;
        let body = common::response_to(&request.body, "00", "RRN000000009");
        let spec = common::spec();
        let message = spec.decode(&body).unwrap().complete().unwrap();
        let mut big = iso8583_codec::Builder::from_message(&message).unwrap();
        big.set(62, vec![0x5A; 400]).unwrap();
        reply(&mut host, big.to_bytes().freeze()).await;
        host
    });
    let response = client
        .send(Request::new(common::request("0200", "000009", TID)))
        .await
        .unwrap();
    assert!(response.frame().body.len() > 400);
    assert_eq!(rrn(&response), "RRN000000009");
    drop(host.await.unwrap());
}

#[tokio::test]
async fn over_tcp_on_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let host = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut host = Framed::new(socket, FrameCodec::new(FrameConfig::default()));
        while let Some(Ok(Frame::Message(request))) = host.next().await {
            let stan = common::field(&request.body, 11).unwrap();
            let body = common::response_to(&request.body, "00", &format!("RRN000{stan}"));
            host.send(Frame::Message(MessageFrame::new(body)))
                .await
                .unwrap();
        }
    });
    let socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let client = Arc::new(Client::with_options(
        socket,
        FrameConfig::default(),
        common::spec(),
        short_timeout(),
    ));
    let mut sends = Vec::new();
    for i in 1..=20u32 {
        let client = client.clone();
        sends.push(tokio::spawn(async move {
            let stan = format!("{i:06}");
            let body = common::request("0200", &stan, TID);
            let response = client.send(Request::new(body)).await.unwrap();
            assert_eq!(rrn(&response), format!("RRN000{stan}"));
        }));
    }
    let all = async {
        for send in sends {
            send.await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(10), all)
        .await
        .expect("all answered in time");
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), host)
        .await
        .expect("the host saw the connection close")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn keep_alives_are_sent_where_there_is_a_length_header() {
    let (terminal, host) = tokio::io::duplex(1024);
    let client = Client::new(terminal, FrameConfig::default(), common::spec());
    let host_config = FrameConfig::builder()
        .keep_alive(iso8583_wire::KeepAlive::Yield)
        .build();
    let mut host = Framed::new(host, FrameCodec::new(host_config));
    client.send_keep_alive().await.unwrap();
    assert!(matches!(host.next().await, Some(Ok(Frame::KeepAlive))));

    let (terminal, _host) = tokio::io::duplex(1024);
    let bare = FrameConfig::builder()
        .without_length(common::spec())
        .build();
    let client = Client::new(terminal, bare, common::spec());
    let outcome = client.send_keep_alive().await;
    assert!(
        matches!(
            outcome,
            Err(ClientError::Send(FrameError::KeepAliveWithoutLength))
        ),
        "{outcome:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn close_returns_once_the_stream_is_gone() {
    use futures_util::FutureExt;
    let (client, mut host) = connect(FrameConfig::default(), short_timeout());
    let answered = tokio::join!(
        client.send(Request::new(common::request("0200", "000001", TID))),
        approve_next(&mut host)
    )
    .0;
    assert!(answered.is_ok(), "{answered:?}");
    // Let the reader go back to waiting on the stream, as it would between transactions.
    tokio::task::yield_now().await;
    assert!(host.next().now_or_never().is_none(), "still open");

    client.close().await;
    // No waiting: both halves of the terminal's end are gone, so the end is there to read.
    assert!(
        matches!(host.next().now_or_never(), Some(None)),
        "the host sees the end as soon as close returns"
    );
}
