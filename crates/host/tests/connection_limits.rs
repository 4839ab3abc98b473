//! A connection cannot hold the host by doing nothing (review finding F4, issue #5: "one
//! misbehaving connection never affects another"): a silent connection is closed after the
//! listener's idle timeout (its echoes keep it open, a delayed answer the host holds is not
//! silence), one stalled inside a frame or sending it a byte at a time after the frame
//! timeout, a listener serves at most `max_connections`, and the binary under a low file
//! descriptor limit backs off instead of logging every few milliseconds, serving again once
//! the idle connections are closed. Also F10: a huge delay fault holds the answer, it does not
//! panic the connection. Every wait is bounded; timeouts are short.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use iso8583_host::{Dialect, FaultAction, FaultRule, HostConfig, TestHost};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A host whose international listener has these limits (milliseconds).
async fn limited(idle: u64, frame: u64, max: usize) -> TestHost {
    let mut config = HostConfig::builtin();
    for l in &mut config.listeners {
        l.idle_timeout_ms = idle;
        l.frame_timeout_ms = frame;
        l.max_connections = max;
    }
    host_with(config).await
}

/// Waits (at most `limit`) for the host to close `stream`; how long it took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(limit, stream.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "still open after {limit:?}: {r:?}"
    );
    start.elapsed()
}

fn intl(host: &TestHost) -> SocketAddr {
    host.addr(Dialect::International).unwrap()
}

#[tokio::test]
async fn a_stalled_half_frame_is_closed_after_the_frame_timeout() {
    let host = limited(60_000, 200, 100).await;
    let mut stream = TcpStream::connect(intl(&host)).await.unwrap();
    // A length header announcing 0x40 bytes, and one of them.
    stream.write_all(&[0x00, 0x40, 0x60]).await.unwrap();
    let took = closed_within(&mut stream, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(190), "closed after {took:?}");
    // Exactly a length header, nothing after it: the codec has consumed it, still a frame.
    let mut stream = TcpStream::connect(intl(&host)).await.unwrap();
    stream.write_all(&[0x00, 0x40]).await.unwrap();
    closed_within(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(host.stats().connections_timed_out, 2);
}

#[tokio::test]
async fn a_frame_sent_a_byte_at_a_time_is_closed_although_bytes_keep_coming() {
    let host = limited(60_000, 300, 100).await;
    let mut stream = TcpStream::connect(intl(&host)).await.unwrap();
    let start = Instant::now();
    stream.write_all(&[0x00, 0xF0]).await.unwrap();
    let mut closed = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if stream.write_all(&[0x30]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 8];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "a slow frame still open after {:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_silent_connection_is_closed_and_echoes_keep_one_open() {
    let host = limited(400, 100, 100).await;
    let mut silent = TcpStream::connect(intl(&host)).await.unwrap();
    let mut t = Term::connect(&host, Dialect::International).await;
    let start = Instant::now();
    let mut last_echo = start;
    // An echo every 150 ms for well over the idle timeout.
    while start.elapsed() < Duration::from_millis(1200) {
        let trace = t.next_trace();
        let mut echo = t.message("0800", trace);
        echo.set_str(3, "990000")
            .unwrap()
            .set_str(24, "003")
            .unwrap();
        // Taken before the echo leaves: the host cannot read it, and start its idle clock,
        // any earlier, however the test thread is scheduled.
        last_echo = Instant::now();
        assert_eq!(t.exchange(echo).await.code(), "00");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // The silent one was closed meanwhile.
    closed_within(&mut silent, Duration::from_millis(100)).await;
    let stats = host.stats();
    assert_eq!(stats.connections_timed_out, 1, "only the silent one");
    // Now silent too: closed no sooner than the idle timeout after its last echo, and within
    // one more frame timeout or so.
    let end = t.next_event().await;
    let quiet = last_echo;
    assert!(end.is_none(), "the host closes it: {end:?}");
    assert!(quiet.elapsed() >= Duration::from_millis(390));
    assert!(quiet.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_answer_the_host_holds_back_is_not_idleness() {
    let host = limited(300, 100, 100).await;
    let delay = FaultAction::Delay(Duration::from_millis(900));
    host.set_faults(vec![FaultRule::new(delay).mti("0200")]);
    let mut t = Term::connect(&host, Dialect::International).await;
    let s = t.sale(100, VISA);
    let start = Instant::now();
    let reply = t.exchange(s).await;
    assert_eq!(reply.code(), "00");
    assert!(start.elapsed() >= Duration::from_millis(850));
    assert_eq!(host.stats().connections_timed_out, 0);
}

/// F10: a delay too long for the clock (a rule built in code, not checked) holds the answer;
/// the connection is neither answered nor dropped.
#[tokio::test]
async fn a_huge_delay_keeps_the_connection_open() {
    let host = host().await;
    let huge = FaultAction::Delay(Duration::from_secs(u64::MAX / 2));
    host.set_faults(vec![FaultRule::new(huge)]);
    let mut t = Term::connect(&host, Dialect::International).await;
    let s = t.sale(100, VISA);
    t.send(s).await;
    let next = futures_util::StreamExt::next(&mut t.io);
    let ev = tokio::time::timeout(Duration::from_secs(1), next).await;
    assert!(ev.is_err(), "connection ended instead of waiting: {ev:?}");
    // The connection task is alive: a second request on it is read (and held too).
    assert_eq!(host.stats().received.get("0200"), Some(&1));
    let s = t.sale(200, VISA);
    t.send(s).await;
    eventually(|| host.stats().received.get("0200") == Some(&2)).await;
    // Read back from TOML, such a delay is refused.
    let err =
        iso8583_host::faults_from_toml("[[faults]]\naction = \"delay\"\nms = 3600001").unwrap_err();
    assert!(err.to_string().contains("at most 3600000"), "{err}");
}

#[tokio::test]
async fn one_connection_over_max_connections_is_closed_at_once() {
    let host = limited(60_000, 10_000, 2).await;
    let mut a = Term::connect(&host, Dialect::International).await;
    let mut b = Term::connect(&host, Dialect::International).await;
    // One terminal on both connections: trace numbers apart, or the second is a duplicate.
    b.trace = 50;
    for t in [&mut a, &mut b] {
        let s = t.sale(100, VISA);
        assert_eq!(t.exchange(s).await.code(), "00");
    }
    let mut third = TcpStream::connect(intl(&host)).await.unwrap();
    let took = closed_within(&mut third, Duration::from_secs(2)).await;
    assert!(
        took < Duration::from_secs(1),
        "closed at once, not after a timeout"
    );
    assert_eq!(host.stats().connections_refused, 1);
    // The others are served on; once one leaves, a new one is served again.
    let s = a.sale(100, VISA);
    assert_eq!(a.exchange(s).await.code(), "00");
    drop(b);
    let start = Instant::now();
    loop {
        let mut c = Term::connect(&host, Dialect::International).await;
        c.trace = 100 + start.elapsed().as_millis() as u32;
        let s = c.sale(100, VISA);
        c.send(s).await;
        if let Ok(Some(Ok(_))) =
            tokio::time::timeout(ANSWER, futures_util::StreamExt::next(&mut c.io)).await
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "no slot came free"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The reviewer's reproduction (04_idle.py) in a test: `testhost` with 64 file descriptors
/// and 80 idle connections. Accepting fails with EMFILE; the host backs off (a few warnings,
/// not one per 20 ms), closes the idle connections after its idle timeout, and answers the
/// terminal waiting behind them.
#[tokio::test]
async fn out_of_file_descriptors_the_binary_backs_off_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        format!(
            "[[listener]]\ndialect = \"intl\"\naddr = \"127.0.0.1:0\"\n\
             idle_timeout_ms = 1000\nframe_timeout_ms = 500\n\
             [[terminal]]\nid = \"{INTL_TID}\"\nmerchant = \"{INTL_MID}\"\ndialect = \"intl\"\n"
        ),
    )
    .unwrap();
    let stderr = dir.path().join("stderr");
    // The limit is set by the shell (POSIX `ulimit`), so the test needs no extra tool.
    let script = "ulimit -n 64 && exec \"$0\" --config \"$1\" 2>\"$2\"";
    let mut child = Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_testhost")])
        .arg(&config)
        .arg(&stderr)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let addr = listening_addr(&mut stdout);

    let mut idle = Vec::new();
    for _ in 0..80 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut t = Term::connect_to(addr, Dialect::International, INTL_TID, INTL_MID).await;
    let s = t.sale(100, VISA);
    t.send(s).await;
    let reply = t.recv_within(Duration::from_secs(15)).await;
    assert_eq!(reply.map(|r| r.code()).as_deref(), Some("00"));

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let log = std::fs::read_to_string(&stderr).unwrap();
    let failures = log.lines().filter(|l| l.contains("accept failed")).count();
    assert!(
        log.contains("accept failed"),
        "the limit was not reached, nothing proven: {log}"
    );
    assert!(failures <= 3, "{failures} accept warnings:\n{log}");
    drop(idle);
}

fn listening_addr(stdout: &mut BufReader<std::process::ChildStdout>) -> SocketAddr {
    for _ in 0..10 {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(addr) = line.trim_end().strip_prefix("listening intl ") {
            return addr.parse().unwrap();
        }
    }
    panic!("testhost printed no listening line");
}
