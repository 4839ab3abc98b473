//! The transport hook: every byte a terminal writes to or reads from its host connection can
//! be handed to a [`FrameTap`], with the direction and the time, so that a capture (the
//! `--pcap` option) sees exactly the TCP exchange.
//!
//! [`TapStream`] wraps the socket below the wire crate's framing, so what the tap sees is TCP
//! payload: a write is normally one whole frame (the framing writes each frame in one go), and
//! a read holds whatever the socket had, part of a frame or several. That is what a pcap
//! stores. The tap also hears when each connection opens and closes, to write the handshake
//! and the close. Nothing here decodes or logs the bytes: they hold PANs and PIN blocks.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Terminal to host.
    Sent,
    /// Host to terminal.
    Received,
}

/// One TCP connection, as the tap is told about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// Distinct per connection a terminal opens (a reconnect gets a new one).
    pub id: u64,
    /// The terminal's end.
    pub local: SocketAddr,
    /// The host's end.
    pub peer: SocketAddr,
}

/// Receives every chunk of bytes of every connection it is attached to. Called from the
/// terminal's task on each read and write: keep it quick (buffer, then write elsewhere).
pub trait FrameTap: Send + Sync {
    /// A connection opened.
    fn opened(&self, _conn: &ConnInfo, _at: SystemTime) {}

    /// Bytes went over `conn`.
    fn data(&self, conn: &ConnInfo, direction: Direction, at: SystemTime, bytes: &[u8]);

    /// The connection closed (dropped by the terminal or ended by the host). Called when the
    /// stream is dropped. A terminal that lets its connection go (a power cycle) waits for
    /// this before it connects again; a connection the host ended, or the last one of a
    /// terminal that is dropped, closes when the wire client's reader task stops, a moment
    /// later.
    fn closed(&self, _conn: &ConnInfo, _at: SystemTime) {}
}

/// A stream that shows every byte to a tap; without one it only passes bytes through.
pub struct TapStream<T> {
    inner: T,
    tap: Option<(Arc<dyn FrameTap>, ConnInfo)>,
}

impl<T> TapStream<T> {
    /// Wraps `inner`; tells `tap` the connection opened.
    pub fn new(inner: T, tap: Option<(Arc<dyn FrameTap>, ConnInfo)>) -> TapStream<T> {
        if let Some((tap, conn)) = &tap {
            tap.opened(conn, SystemTime::now());
        }
        TapStream { inner, tap }
    }

    fn show(&self, direction: Direction, bytes: &[u8]) {
        if let (Some((tap, conn)), false) = (&self.tap, bytes.is_empty()) {
            tap.data(conn, direction, SystemTime::now(), bytes);
        }
    }
}

impl<T> Drop for TapStream<T> {
    fn drop(&mut self) {
        if let Some((tap, conn)) = &self.tap {
            tap.closed(conn, SystemTime::now());
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TapStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            this.show(
                Direction::Received,
                buf.filled().get(before..).unwrap_or_default(),
            );
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TapStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.show(Direction::Sent, buf.get(..n).unwrap_or_default());
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(Direction, Vec<u8>)>>, Mutex<Vec<&'static str>>);

    impl FrameTap for Recorder {
        fn opened(&self, _: &ConnInfo, _: SystemTime) {
            self.1.lock().unwrap().push("opened");
        }
        fn data(&self, _: &ConnInfo, direction: Direction, _: SystemTime, bytes: &[u8]) {
            self.0.lock().unwrap().push((direction, bytes.to_vec()));
        }
        fn closed(&self, _: &ConnInfo, _: SystemTime) {
            self.1.lock().unwrap().push("closed");
        }
    }

    #[tokio::test]
    async fn every_byte_both_ways_and_the_close() {
        let (a, mut b) = tokio::io::duplex(64);
        let recorder = Arc::new(Recorder::default());
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let conn = ConnInfo {
            id: 7,
            local: addr,
            peer: addr,
        };
        let mut stream = TapStream::new(a, Some((recorder.clone() as Arc<dyn FrameTap>, conn)));
        stream.write_all(b"\x00\x03abc").await.unwrap();
        let mut got = [0u8; 5];
        b.read_exact(&mut got).await.unwrap();
        b.write_all(b"xyz").await.unwrap();
        let mut back = [0u8; 3];
        stream.read_exact(&mut back).await.unwrap();
        drop(stream);
        let seen = recorder.0.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (Direction::Sent, b"\x00\x03abc".to_vec()),
                (Direction::Received, b"xyz".to_vec())
            ]
        );
        assert_eq!(*recorder.1.lock().unwrap(), vec!["opened", "closed"]);
    }
}
