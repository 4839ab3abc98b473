//! The tokio server: one accept loop per listener, one task per connection, and the
//! [`TestHost`] handle that starts, inspects, steers and stops it.
//!
//! A connection reads whatever the socket has, answers every whole frame in it, and writes the
//! answers in one go, so a terminal that pipelines requests costs one write per read. A frame
//! that cannot be framed (a bad length header, over the maximum) closes that connection only;
//! nothing a connection does reaches another except through the books, each terminal's under
//! its own lock.
//!
//! Nor can a connection hold the host by doing nothing ([`crate::limits`]): it is closed when
//! silent for the listener's idle timeout, when a frame is not whole within the frame timeout
//! of its first byte, or when its answers are not read within that time; a listener serves at
//! most `max_connections` at once; and the accept loop backs off when accepting fails.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
use crate::limits::{Backoff, Deadlines, Every};
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
        for t in config.unserved_terminals() {
            tracing::warn!(
                terminal = %t.id,
                count = t.count,
                dialect = %t.dialect,
                "terminal entry not served: no {} listener",
                t.dialect
            );
        }
        let (store, restored) = Store::open(config.db.as_deref())?;
        let last_rrn = restored.last_rrn;
        let terminals = terminals(&config, restored, &store.writer)?;
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
                idle_timeout: l.idle_timeout(),
                frame_timeout: l.frame_timeout(),
                max_connections: l.max_connections,
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
                lock(&t.book).set_batch(batch.clamp(1, 999_999), &self.shared.store.writer);
                true
            }
            None => false,
        }
    }

    /// How many record rows the ledger database holds, once the writes queued so far are
    /// applied; `None` if its writer has stopped. In memory (no `db`), the rows of the closed
    /// batches whose records the books no longer keep are deleted, so this stays bounded by
    /// the open batches and the last 16 closed ones per terminal; a file keeps every row.
    pub async fn stored_records(&self) -> Option<u64> {
        self.shared.store.count().await
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
    writer: &crate::store::Writer,
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
            if map
                .insert(key, Terminal::new(one, key, stored, writer))
                .is_some()
            {
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
    let open = Arc::new(AtomicUsize::new(0));
    let mut backoff = Backoff::new();
    let mut refusals = Every::default();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = socket.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => match pause_after(&e, &mut backoff, &cancel).await {
                true => continue,
                false => return,
            },
        };
        let failures = backoff.succeeded();
        if failures > 0 {
            tracing::warn!(failures, "accepting again");
        }
        if open.load(Ordering::Relaxed) >= listener.max_connections {
            // Closed at once (dropped): the peer learns it rather than waiting in a backlog.
            shared.stats.refused();
            if let Some(refused) = refusals.event(Instant::now(), Backoff::WARN_EVERY) {
                tracing::warn!(%peer, refused, max = listener.max_connections,
                    "connection refused: listener at max_connections");
            }
            continue;
        }
        shared.stats.connection();
        // Answers are small and each is awaited by its terminal: send them at once.
        let _ = stream.set_nodelay(true);
        let slot = Slot::take(&open);
        let conn = serve(stream, listener.clone(), shared.clone(), cancel.clone());
        let conn = async move {
            conn.await;
            drop(slot);
        };
        tracker.spawn(conn.instrument(tracing::debug_span!("conn", %peer)));
    }
}

/// After a failed accept: out of file descriptors, most likely, and they free only as
/// connections close, so wait longer each time rather than retry (and log) every few ms.
/// False when the host stops meanwhile.
async fn pause_after(
    e: &std::io::Error,
    backoff: &mut Backoff,
    cancel: &CancellationToken,
) -> bool {
    let (pause, warn) = backoff.failed(Instant::now());
    if let Some(failures) = warn {
        tracing::warn!(error = %e, failures, pause_ms = pause.as_millis() as u64,
            "accept failed: backing off");
    }
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(pause) => true,
    }
}

/// One of a listener's open connections, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Slot {
        open.fetch_add(1, Ordering::Relaxed);
        Slot(open.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One connection, until the peer closes, a fault closes it, a limit closes it, or the host
/// stops.
async fn serve(
    mut stream: TcpStream,
    listener: Arc<Listener>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let mut conn = Conn::new(&listener);
    let mut input = BytesMut::with_capacity(1024);
    // One timer for the connection's life, re-armed only when it fires: reads cost no timer.
    let check = tokio::time::sleep_until(conn.next_check(&listener, Instant::now()));
    tokio::pin!(check);
    tracing::debug!("connected");
    loop {
        let due = conn.delayed.iter().map(|(t, _)| *t).min();
        let go_on = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = sleep_until(due), if due.is_some() => {
                conn.release_due();
                true
            }
            () = &mut check => {
                let now = Instant::now();
                if !conn.within_limits(&listener, &shared, now) {
                    break;
                }
                check.as_mut().reset(conn.next_check(&listener, now));
                true
            }
            read = stream.read_buf(&mut input) => conn.on_read(read, &mut input, &listener, &shared),
        };
        if !conn.out.is_empty() {
            if let Err(e) = write_out(&mut stream, &conn.out, listener.frame_timeout).await {
                if e.kind() == std::io::ErrorKind::TimedOut {
                    shared.stats.timed_out();
                }
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

/// Writes the answers; a peer that does not read them for `limit` is given up on. Most
/// answers fit the socket's buffer and leave at once, with no timer.
async fn write_out(stream: &mut TcpStream, out: &[u8], limit: Duration) -> std::io::Result<()> {
    let written = match stream.try_write(out) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e),
    };
    let rest = out.get(written..).unwrap_or(&[]);
    if rest.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(limit, stream.write_all(rest)).await {
        Ok(written) => written,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the peer does not read its answers",
        )),
    }
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
    /// Bytes of a frame not yet whole have arrived (still buffered, or their length header
    /// already read by the codec).
    in_frame: bool,
    deadlines: Deadlines,
}

impl Conn {
    fn new(listener: &Listener) -> Conn {
        Conn {
            codec: FrameCodec::new(listener.frame.clone()),
            out: BytesMut::with_capacity(1024),
            delayed: Vec::new(),
            in_frame: false,
            deadlines: Deadlines::new(Instant::now()),
        }
    }

    /// What a read gave: answers every whole frame; false when the connection must close.
    fn on_read(
        &mut self,
        read: std::io::Result<usize>,
        input: &mut BytesMut,
        listener: &Listener,
        shared: &Shared,
    ) -> bool {
        match read {
            Ok(0) => false,
            Ok(_) => {
                let go_on = self.answer_all(input, listener, shared);
                self.deadlines.read(Instant::now(), self.in_frame);
                go_on
            }
            Err(e) => {
                tracing::debug!(error = %e, "read failed");
                false
            }
        }
    }

    /// False (and counted) when the connection has outlived its idle or frame timeout.
    fn within_limits(&self, listener: &Listener, shared: &Shared, now: Instant) -> bool {
        let (idle, frame) = (listener.idle_timeout, listener.frame_timeout);
        let holding = !self.delayed.is_empty();
        match self.deadlines.expired(now, idle, frame, holding) {
            Some(why) => {
                shared.stats.timed_out();
                tracing::debug!(reason = why.reason(), "connection closed");
                false
            }
            None => true,
        }
    }

    fn next_check(&self, listener: &Listener, now: Instant) -> Instant {
        let (idle, frame) = (listener.idle_timeout, listener.frame_timeout);
        self.deadlines.next_check(now, idle, frame)
    }

    /// Answers every whole frame in `input`; false when the connection must close.
    fn answer_all(&mut self, input: &mut BytesMut, listener: &Listener, shared: &Shared) -> bool {
        loop {
            let before = input.len();
            let frame = match self.codec.decode(input) {
                Ok(Some(Frame::Message(frame))) => {
                    self.in_frame = false;
                    frame
                }
                Ok(Some(Frame::KeepAlive)) => {
                    self.in_frame = false;
                    continue;
                }
                Ok(None) => {
                    // The codec consumes a length header before its frame is whole.
                    self.in_frame |= input.len() < before || !input.is_empty();
                    return true;
                }
                Err(e) => {
                    shared.stats.unparseable();
                    tracing::warn!(error = %e, "frame refused: connection closed");
                    return false;
                }
            };
            match handler::handle(shared, listener, &frame) {
                Delivery::Reply(reply) => self.write(reply),
                Delivery::Delayed(delay, reply) => {
                    // The delay is at most MAX_DELAY (handler); should the clock still not
                    // reach that far, the answer goes now rather than the task panicking.
                    match Instant::now().checked_add(delay) {
                        Some(due) => self.delayed.push((due, reply)),
                        None => self.write(reply),
                    }
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

    /// Moves the delayed answers that are due to the output, oldest first. The peer's
    /// silence while it waited for them was the host's doing, not idleness.
    fn release_due(&mut self) {
        let now = Instant::now();
        self.deadlines.touch(now);
        self.delayed.sort_by_key(|(t, _)| *t);
        let due = self.delayed.iter().take_while(|(t, _)| *t <= now).count();
        let ready: Vec<_> = self.delayed.drain(..due).collect();
        for (_, reply) in ready {
            self.write(reply);
        }
    }
}
