//! Shared by the integration tests: messages of the `cup-pos` spec, a reader that hands out
//! chosen chunks, and a log capture.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use iso8583_codec::{Builder, Mti, Spec};
use tokio::io::{AsyncRead, ReadBuf};

/// A PAN that must never show in full in any log.
pub const PAN: &str = "6212345678901234";
/// How masking shows [`PAN`].
pub const PAN_MASKED: &str = "621234******1234";

pub fn spec() -> &'static Spec {
    Spec::builtin("cup-pos").expect("cup-pos is built in")
}

/// A request with a PAN, an amount, a trace number and a terminal id.
pub fn request(mti: &str, stan: &str, tid: &str) -> Bytes {
    let mut b = Builder::new(spec(), Mti::new(mti).expect("MTI digits"));
    b.set(2, PAN.as_bytes().to_vec()).unwrap();
    b.set_str(3, "000000").unwrap();
    b.set(4, b"000000001000".to_vec()).unwrap();
    b.set(11, stan.as_bytes().to_vec()).unwrap();
    b.set(41, tid.as_bytes().to_vec()).unwrap();
    b.to_bytes().freeze()
}

/// A short network-management request: trace number and terminal id only.
pub fn echo(stan: &str, tid: &str) -> Bytes {
    let mut b = Builder::new(spec(), Mti::new("0820").expect("MTI digits"));
    b.set(11, stan.as_bytes().to_vec()).unwrap();
    b.set(41, tid.as_bytes().to_vec()).unwrap();
    b.to_bytes().freeze()
}

/// The response to `request`: its fields, the response MTI, the response code `rc` and an
/// RRN of `rrn`.
pub fn response_to(request: &[u8], rc: &str, rrn: &str) -> Bytes {
    let message = spec().decode(request).unwrap().complete().unwrap();
    let mut b = Builder::from_message(&message).unwrap();
    b.set_mti(message.mti().response().expect("a request"));
    b.set(39, rc.as_bytes().to_vec()).unwrap();
    b.set(37, rrn.as_bytes().to_vec()).unwrap();
    b.to_bytes().freeze()
}

/// `message` with another trace number.
pub fn with_stan(message: &[u8], stan: &str) -> Bytes {
    let message = spec().decode(message).unwrap().complete().unwrap();
    let mut b = Builder::from_message(&message).unwrap();
    b.set(11, stan.as_bytes().to_vec()).unwrap();
    b.to_bytes().freeze()
}

/// Field `n` of `body` as text (ASCII fields) or digits (BCD fields).
pub fn field(body: &[u8], n: u16) -> Option<String> {
    let message = spec().decode(body).ok()?.complete().ok()?;
    let value = message.field(n)?.to_vec();
    String::from_utf8(value).ok()
}

/// Hands out its chunks one `poll_read` at a time, then ends (or, if told, waits forever).
pub struct Chunks {
    chunks: VecDeque<Vec<u8>>,
    pend_at_end: bool,
}

impl Chunks {
    /// The stream cut at each of `cuts` (ascending offsets).
    pub fn split_at(stream: &[u8], cuts: &[usize]) -> Chunks {
        let mut chunks = VecDeque::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
            chunks.push_back(stream[start..cut].to_vec());
            start = cut;
        }
        Chunks {
            chunks,
            pend_at_end: false,
        }
    }

    /// The stream in chunks of `size` bytes.
    pub fn sized(stream: &[u8], size: usize) -> Chunks {
        Chunks {
            chunks: stream.chunks(size).map(<[u8]>::to_vec).collect(),
            pend_at_end: false,
        }
    }

    /// Never end: after the last chunk, every read is pending.
    pub fn then_pend(mut self) -> Chunks {
        self.pend_at_end = true;
        self
    }
}

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Empty chunks (a cut at 0 or twice at one place) say nothing; skip them.
        while self.chunks.front().is_some_and(Vec::is_empty) {
            self.chunks.pop_front();
        }
        let Some(chunk) = self.chunks.front_mut() else {
            // With nothing scheduled to wake us this stays pending: tests poll once.
            return match self.pend_at_end {
                true => Poll::Pending,
                false => Poll::Ready(Ok(())),
            };
        };
        let n = chunk.len().min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        chunk.drain(..n);
        Poll::Ready(Ok(()))
    }
}

/// Captures what `tracing` writes while the returned guard lives (on this thread).
pub fn capture_logs() -> (Logs, tracing::subscriber::DefaultGuard) {
    anchor_subscriber();
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        // Plain text to match against: another package of the workspace may turn on the
        // subscriber's `ansi` feature, and colour codes would split `stan=` apart.
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    (logs, guard)
}

/// Keeps scoped log captures from going blind. `tracing` caches each callsite's interest once
/// for the whole process, asking the subscriber of whichever thread reaches the callsite
/// first; a sibling test's thread with no subscriber of its own would cache "never" and the
/// capturing test would see nothing (tokio-rs/tracing#3611). A global subscriber that is
/// interested in everything and writes nothing (a registry without layers) gives those
/// threads an answer of "always"; the capture itself stays thread-local.
pub fn anchor_subscriber() {
    static ANCHOR: std::sync::Once = std::sync::Once::new();
    ANCHOR.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}

/// Log text written so far.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Lines at `WARN`.
    pub fn warnings(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains("WARN"))
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Logs {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
