//! The tokio server: one accept loop per listener, one task per connection, and the
//! [`TestHost`] handle that starts, inspects, steers and stops it.
//!
//! A connection reads whatever the socket has, answers every whole frame in it, and writes the
//! answers in one go, so a terminal that pipelines requests costs one write per read. A frame
//! that cannot be framed (a bad length header, over the maximum) closes that connection only;
//! nothing a connection does reaches another except through the books, each terminal's under
//! its own lock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use iso8583_codec::Spec;
use iso8583_wire::{Frame, FrameCodec, MessageFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::{Dialect, HostConfig};
use crate::error::{ConfigError, HostError};
use crate::handler::{self, lock, Delivery, Listener, Shared, Terminal};
use crate::restore::Restored;
use crate::rules::{FaultRule, FaultSet, HostPatch, Rules};
use crate::stats::Summary;
use crate::store::Store;
use crate::view::{self, LedgerView};

/// A running test host.
///
/// Dropping it stops the listeners and connections without waiting; [`TestHost::shutdown`]
/// waits for them and for the ledger's last writes.
pub struct TestHost {
    shared: Arc<Shared>,
    listeners: Vec<(Dialect, SocketAddr)>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl TestHost {
    /// Binds every listener and starts serving; returns as soon as the sockets are bound.
    /// Must be called within a tokio runtime.
    pub async fn spawn(config: HostConfig) -> Result<TestHost, HostError> {
        config.check()?;
        let (store, restored) = Store::open(config.db.as_deref())?;
        let last_rrn = restored.last_rrn;
        let terminals = terminals(&config, restored)?;
        let faults = FaultSet::new(config.faults.clone(), config.seed);
        let shared = Arc::new(Shared::new(
            terminals,
            config.rules.clone(),
            faults,
            store,
            config.seed,
            last_rrn,
        ));
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let mut bound = Vec::new();
        for l in &config.listeners {
            let socket = TcpListener::bind(l.addr)
                .await
                .map_err(|source| HostError::Bind {
                    addr: l.addr,
                    source,
                })?;
            let addr = socket.local_addr().map_err(|source| HostError::Bind {
                addr: l.addr,
                source,
            })?;
            let spec = Spec::builtin(l.spec_name()).ok_or_else(|| ConfigError::Value {
                what: "listener spec",
                found: l.spec_name().to_owned(),
                expected: "a built-in spec name",
            })?;
            let listener = Arc::new(Listener {
                dialect: l.dialect,
                spec,
                frame: l.frame_config(),
            });
            let task = accept(
                socket,
                listener,
                shared.clone(),
                cancel.clone(),
                tracker.clone(),
            );
            tracker.spawn(task.instrument(tracing::debug_span!("listener", %addr)));
            bound.push((l.dialect, addr));
        }
        Ok(TestHost {
            shared,
            listeners: bound,
            cancel,
            tracker,
        })
    }

    /// The address of the first listener of `dialect`.
    pub fn addr(&self, dialect: Dialect) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(d, _)| *d == dialect)
            .map(|(_, a)| *a)
    }

    /// Every listener with its bound address, in configuration order.
    pub fn listeners(&self) -> &[(Dialect, SocketAddr)] {
        &self.listeners
    }

    /// Replaces the fault rules; their counters (`nth`, `times`) start again.
    pub fn set_faults(&self, faults: Vec<FaultRule>) {
        let mut set = lock(&self.shared.faults);
        let on = !faults.is_empty();
        set.replace(faults);
        self.shared.faults_on.store(on, Ordering::Relaxed);
    }

    /// Replaces the authorisation rules.
    pub fn set_rules(&self, rules: Rules) {
        match self.shared.rules.write() {
            Ok(mut r) => *r = Arc::new(rules),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(rules),
        }
    }

    /// Applies a scenario's `[host]` table: its rules (if given) and its faults.
    pub fn apply(&self, patch: HostPatch) {
        if let Some(rules) = patch.rules {
            self.set_rules(rules);
        }
        self.set_faults(patch.faults);
    }

    /// Sets the host's batch number for a terminal (what a UnionPay sign-on reports in 60.2,
    /// and what its 0500 must carry); false for an unknown terminal.
    pub fn set_batch(&self, terminal: &str, batch: u32) -> bool {
        let Ok(id) = <[u8; 8]>::try_from(terminal.as_bytes()) else {
            return false;
        };
        match self.shared.terminals.get(&id) {
            Some(t) => {
                lock(&t.book).batch = batch.clamp(1, 999_999);
                true
            }
            None => false,
        }
    }

    /// A copy of the books.
    pub fn ledger(&self) -> LedgerView {
        let mut terminals: Vec<_> = self
            .shared
            .terminals
            .values()
            .map(|t| view::terminal_view(&lock(&t.book), t.config.dialect, t.void_policy()))
            .collect();
        terminals.sort_by(|a, b| a.terminal.cmp(&b.terminal));
        LedgerView { terminals }
    }

    /// The counters so far.
    pub fn stats(&self) -> Summary {
        self.shared.stats.summary()
    }

    /// Stops accepting, closes every connection, writes the ledger's last changes and returns
    /// the final counters.
    pub async fn shutdown(self) -> Summary {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || shared.store.finish()).await;
        self.shared.stats.summary()
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Every configured terminal id with its books.
fn terminals(
    config: &HostConfig,
    mut restored: Restored,
) -> Result<HashMap<[u8; 8], Terminal>, ConfigError> {
    let mut map = HashMap::new();
    for entry in &config.terminals {
        for id in entry.ids() {
            let key: [u8; 8] = id
                .as_bytes()
                .try_into()
                .map_err(|_| ConfigError::DuplicateTerminal(id.clone()))?;
            let mut one = entry.clone();
            one.id = id.clone();
            one.count = 1;
            let stored = restored.books.remove(&key);
            if map.insert(key, Terminal::new(one, key, stored)).is_some() {
                return Err(ConfigError::DuplicateTerminal(id));
            }
        }
    }
    if !restored.books.is_empty() {
        tracing::warn!(
            terminals = restored.books.len(),
            "the ledger database has books of terminals no longer configured: not loaded"
        );
    }
    Ok(map)
}

async fn accept(
    socket: TcpListener,
    listener: Arc<Listener>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = socket.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                shared.stats.connection();
                // Answers are small and each is awaited by its terminal: send them at once.
                let _ = stream.set_nodelay(true);
                let conn = serve(stream, listener.clone(), shared.clone(), cancel.clone());
                tracker.spawn(conn.instrument(tracing::debug_span!("conn", %peer)));
            }
            Err(e) => {
                // Out of file descriptors, most likely: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

/// One connection, until the peer closes, a fault closes it, or the host stops.
async fn serve(
    mut stream: TcpStream,
    listener: Arc<Listener>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let mut conn = Conn {
        codec: FrameCodec::new(listener.frame.clone()),
        out: BytesMut::with_capacity(1024),
        delayed: Vec::new(),
    };
    let mut input = BytesMut::with_capacity(1024);
    tracing::debug!("connected");
    loop {
        let due = conn.delayed.iter().map(|(t, _)| *t).min();
        let read = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = sleep_until(due), if due.is_some() => {
                conn.release_due();
                None
            }
            read = stream.read_buf(&mut input) => Some(read),
        };
        let go_on = match read {
            None => true,
            Some(Ok(0)) => false,
            Some(Ok(_)) => conn.answer_all(&mut input, &listener, &shared),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "read failed");
                false
            }
        };
        if !conn.out.is_empty() {
            if let Err(e) = stream.write_all(&conn.out).await {
                tracing::debug!(error = %e, "write failed");
                break;
            }
            conn.out.clear();
        }
        if !go_on {
            break;
        }
        if input.capacity() - input.len() < 256 {
            input.reserve(1024);
        }
    }
    let _ = stream.shutdown().await;
    tracing::debug!("closed");
}

/// Sleeps until `due`; never wakes for `None`. Nothing is made until it is polled, so the
/// common case (no delayed answer) costs no timer.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A connection's framing state and pending output.
struct Conn {
    codec: FrameCodec,
    out: BytesMut,
    /// Answers held back by a delay fault, with when they are due.
    delayed: Vec<(Instant, MessageFrame)>,
}

impl Conn {
    /// Answers every whole frame in `input`; false when the connection must close.
    fn answer_all(&mut self, input: &mut BytesMut, listener: &Listener, shared: &Shared) -> bool {
        loop {
            let frame = match self.codec.decode(input) {
                Ok(Some(Frame::Message(frame))) => frame,
                Ok(Some(Frame::KeepAlive)) => continue,
                Ok(None) => return true,
                Err(e) => {
                    shared.stats.unparseable();
                    tracing::warn!(error = %e, "frame refused: connection closed");
                    return false;
                }
            };
            match handler::handle(shared, listener, &frame) {
                Delivery::Reply(reply) => self.write(reply),
                Delivery::Delayed(delay, reply) => {
                    self.delayed.push((Instant::now() + delay, reply));
                }
                Delivery::Silent => {}
                Delivery::Close => return false,
                Delivery::CloseMidFrame(reply) => {
                    let mut whole = BytesMut::new();
                    if self.codec.encode(reply, &mut whole).is_ok() {
                        // Length header and about half the rest: the peer is left waiting
                        // inside a frame when the connection drops.
                        let part = whole.len() / 2;
                        self.out.extend_from_slice(whole.get(..part).unwrap_or(&[]));
                    }
                    return false;
                }
            }
        }
    }

    fn write(&mut self, reply: MessageFrame) {
        if let Err(e) = self.codec.encode(reply, &mut self.out) {
            tracing::warn!(error = %e, "answer could not be framed");
        }
    }

    /// Moves the delayed answers that are due to the output, oldest first.
    fn release_due(&mut self) {
        let now = Instant::now();
        self.delayed.sort_by_key(|(t, _)| *t);
        let due = self.delayed.iter().take_while(|(t, _)| *t <= now).count();
        let ready: Vec<_> = self.delayed.drain(..due).collect();
        for (_, reply) in ready {
            self.write(reply);
        }
    }
}
