//! A terminal-side client: send requests over one connection and await the responses that
//! match them, several in flight at once.
//!
//! Read this first. A response matches a request when it has the request's response MTI
//! (`Mti::response`), the same terminal id (field 41) and the same trace number (field 11);
//! pending requests are keyed by (MTI class, terminal id, trace number), so two requests that
//! could not be told apart by their responses are never in flight together (DESIGN §4). A
//! background task reads frames and hands each response to the request waiting for it; a
//! message that matches nothing (late, duplicate, wrong trace number, or a request from the
//! host) is logged at `warn`, masked, and dropped: never paired with another request.
//!
//! Messages the host starts on its own (a 0800 asking the terminal to sign on, say) are not
//! answered: they match no pending request and are dropped like any other unmatched message.
//! That is deliberate for a POS terminal, which speaks only when spoken to on its link: the
//! host asks for a new sign-on through the UnionPay application header's processing
//! requirement of its next response (DESIGN §4), or by answering A0, and the terminal acts on
//! that; a host-started request would need a reply path that no terminal in this project has.
//!
//! With [`ClientOptions::check_tpdu`], a response whose TPDU is not its request's with the two
//! addresses swapped (DESIGN §4: the host answers with destination and source swapped) is
//! answered to its request as [`ClientError::WrongTpdu`] instead of being handed over: the
//! answer came from another NII, so it cannot be trusted as the host's.
//!
//! A request that gives up (timeout, or its future dropped) leaves the pending table at once,
//! so its late reply is unmatched. When the connection ends, or a bad frame makes the reader
//! close it, every pending request fails with [`ClientError::Disconnected`] and the client
//! refuses new ones; reconnecting means building a new client.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use iso8583_codec::{Builder, Decoded, Field, Message, Mti, Spec};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::Instrument;

use crate::config::{FrameConfig, SpecRef};
use crate::error::{ClientError, FrameError};
use crate::frame::{Frame, FrameCodec, MessageFrame};
use crate::header::AppHeader;
use crate::tpdu::Tpdu;

/// The response timeout when none is set: what terminals commonly wait for a host.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The read and write buffers' starting size when none is set: a POS frame is a few hundred
/// bytes, and a larger one grows its buffer. Small buffers keep thousands of connections cheap.
pub const DEFAULT_BUFFER: usize = 1024;

/// Terminal id: the request and its response carry the same one.
const TID: u16 = 41;
/// Trace number (STAN).
const STAN: u16 = 11;
/// Response code, logged with unmatched responses.
const RESPONSE_CODE: u16 = 39;

/// A request to send: message bytes and, where the frame configuration has them, a TPDU and an
/// application header (otherwise the client's defaults from [`ClientOptions`] are used).
#[derive(Clone)]
pub struct Request {
    frame: MessageFrame,
}

impl Request {
    /// A request from encoded message bytes.
    pub fn new(body: impl Into<Bytes>) -> Request {
        Request {
            frame: MessageFrame::new(body),
        }
    }

    /// A request from a builder's message.
    pub fn from_builder(builder: &Builder<'_, '_>) -> Request {
        Request::new(builder.to_bytes().freeze())
    }

    /// This request with its own TPDU.
    pub fn with_tpdu(mut self, tpdu: Tpdu) -> Request {
        self.frame.tpdu = Some(tpdu);
        self
    }

    /// This request with its own application header.
    pub fn with_header(mut self, header: AppHeader) -> Request {
        self.frame.header = Some(header);
        self
    }

    /// The message bytes.
    pub fn body(&self) -> &Bytes {
        &self.frame.body
    }
}

/// Shows the frame parts and the body's length only.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Request").field(&self.frame).finish()
    }
}

/// The response matched to a request.
#[derive(Clone)]
pub struct Response {
    frame: MessageFrame,
    spec: SpecRef,
    mti: Mti,
}

impl Response {
    /// The response's MTI.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// The frame as read: TPDU, header, message bytes.
    pub fn frame(&self) -> &MessageFrame {
        &self.frame
    }

    /// The frame, owned.
    pub fn into_frame(self) -> MessageFrame {
        self.frame
    }

    /// The message, decoded with the client's spec. It decoded when it was matched, so this
    /// fails only if the spec changed in between, which a [`SpecRef`] does not allow.
    pub fn message(&self) -> Result<Message<'_>, iso8583_codec::Error> {
        self.spec.decode(&self.frame.body)?.complete()
    }
}

/// Shows the message with sensitive fields masked.
impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Ok(message) => f.debug_tuple("Response").field(&message).finish(),
            Err(_) => f.debug_tuple("Response").field(&self.frame).finish(),
        }
    }
}

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    timeout: Duration,
    tpdu: Option<Tpdu>,
    header: Option<AppHeader>,
    check_tpdu: bool,
    buffer: usize,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            timeout: DEFAULT_TIMEOUT,
            tpdu: None,
            header: None,
            check_tpdu: false,
            buffer: DEFAULT_BUFFER,
        }
    }
}

impl ClientOptions {
    /// The defaults: [`DEFAULT_TIMEOUT`], no default TPDU or header, TPDUs not compared,
    /// [`DEFAULT_BUFFER`].
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// Whether a response must carry its request's TPDU with the addresses swapped; one that
    /// does not fails its request with [`ClientError::WrongTpdu`] (module docs). Requests sent
    /// without a TPDU are not checked.
    pub fn check_tpdu(mut self, check: bool) -> ClientOptions {
        self.check_tpdu = check;
        self
    }

    /// The starting size of the read and write buffers (at least 64 bytes).
    pub fn buffer(mut self, bytes: usize) -> ClientOptions {
        self.buffer = bytes.max(64);
        self
    }

    /// How long [`Client::send`] waits for the request to be written and answered.
    pub fn timeout(mut self, timeout: Duration) -> ClientOptions {
        self.timeout = timeout;
        self
    }

    /// The TPDU for requests that do not bring their own.
    pub fn tpdu(mut self, tpdu: Tpdu) -> ClientOptions {
        self.tpdu = Some(tpdu);
        self
    }

    /// The application header for requests that do not bring their own.
    pub fn header(mut self, header: AppHeader) -> ClientOptions {
        self.header = Some(header);
        self
    }
}

/// A terminal's connection to a host; see the module docs for how responses are matched.
///
/// ```
/// use futures_util::{SinkExt, StreamExt};
/// use iso8583_codec::{Builder, Mti, Spec};
/// use iso8583_wire::{Client, Frame, FrameCodec, FrameConfig, MessageFrame, Request};
/// use tokio_util::codec::Framed;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let spec = Spec::builtin("cup-pos").expect("built in");
/// let (terminal_end, host_end) = tokio::io::duplex(4096);
///
/// // A host that approves every request.
/// tokio::spawn(async move {
///     let mut host = Framed::new(host_end, FrameCodec::new(FrameConfig::default()));
///     while let Some(Ok(Frame::Message(frame))) = host.next().await {
///         let Ok(request) = spec.decode(&frame.body).and_then(|d| d.complete()) else { break };
///         let Ok(mut reply) = Builder::from_message(&request) else { break };
///         reply.set_mti(request.mti().response().expect("a request"));
///         if reply.set_str(39, "00").is_err() { break }
///         let _ = host.send(Frame::Message(MessageFrame::new(reply.to_bytes()))).await;
///     }
/// });
///
/// let client = Client::new(terminal_end, FrameConfig::default(), spec);
/// let mut echo = Builder::new(spec, Mti::new("0820").expect("digits"));
/// echo.set_str(11, "000001")?.set_str(41, "TERM0001")?;
/// let response = client.send(Request::from_builder(&echo)).await?;
/// assert_eq!(response.mti().as_str(), "0830");
/// assert_eq!(response.message()?.field(39).and_then(|f| f.as_str()), Some("00"));
/// # Ok(())
/// # }
/// ```
pub struct Client {
    shared: Arc<Shared>,
    spec: SpecRef,
    options: ClientOptions,
    reader: JoinHandle<()>,
    next_id: AtomicU64,
}

impl Client {
    /// A client over `io` with the default [`ClientOptions`].
    ///
    /// # Panics
    /// When called outside a tokio runtime: the client spawns its reader task.
    pub fn new<T>(io: T, config: FrameConfig, spec: impl Into<SpecRef>) -> Client
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Client::with_options(io, config, spec, ClientOptions::default())
    }

    /// A client over `io`.
    ///
    /// # Panics
    /// When called outside a tokio runtime: the client spawns its reader task.
    pub fn with_options<T>(
        io: T,
        config: FrameConfig,
        spec: impl Into<SpecRef>,
        options: ClientOptions,
    ) -> Client
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let spec = spec.into();
        let (read_half, write_half) = tokio::io::split(io);
        let writer: Box<dyn AsyncWrite + Send + Unpin> = Box::new(write_half);
        let shared = Arc::new(Shared {
            table: Mutex::new(Table::default()),
            writer: tokio::sync::Mutex::new(Some(FramedWrite::with_capacity(
                writer,
                FrameCodec::new(config.clone()),
                options.buffer,
            ))),
            check_tpdu: options.check_tpdu,
        });
        let frames = FramedRead::with_capacity(read_half, FrameCodec::new(config), options.buffer);
        let span = tracing::debug_span!("wire_client", spec = spec.name());
        let reader = tokio::spawn(read_loop(frames, shared.clone(), spec.clone()).instrument(span));
        Client {
            shared,
            spec,
            options,
            reader,
            next_id: AtomicU64::new(0),
        }
    }

    /// Sends `request` and waits for its response, at most the configured timeout.
    pub async fn send(&self, request: Request) -> Result<Response, ClientError> {
        self.send_timeout(request, self.options.timeout).await
    }

    /// Sends `request` and waits for its response, at most `timeout` (writing included).
    pub async fn send_timeout(
        &self,
        request: Request,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        let exchange = Exchange::of(&self.spec, request.body())?;
        let span = tracing::debug_span!(
            "exchange",
            mti = %exchange.mti,
            stan = %exchange.stan,
            tid = %exchange.tid,
        );
        let frame = self.with_defaults(request);
        self.exchange(frame, exchange, timeout)
            .instrument(span)
            .await
    }

    /// Sends a keep-alive (a zero-length frame), for hosts that expect one on an idle
    /// connection. Fails with [`ClientError::Send`] when the frame configuration has no length
    /// header.
    pub async fn send_keep_alive(&self) -> Result<(), ClientError> {
        self.write(Frame::KeepAlive).await
    }

    /// Closes the connection and returns once both halves of the stream are dropped, so the
    /// peer sees it end before this returns. Dropping a client closes the connection too, but
    /// only once its reader task has stopped, a moment later.
    pub async fn close(mut self) {
        self.reader.abort();
        // A cancelled task's future (and the read half in it) is dropped before its handle
        // resolves; the reader ends no other way, so the result says nothing new.
        let _ = (&mut self.reader).await;
        self.shared.close(None).await;
    }

    /// True once the connection has ended: every send fails from then on.
    pub fn is_closed(&self) -> bool {
        self.shared.table().closed.is_some()
    }

    /// Requests waiting for their response.
    pub fn pending(&self) -> usize {
        self.shared.table().pending.len()
    }

    fn with_defaults(&self, request: Request) -> MessageFrame {
        let mut frame = request.frame;
        frame.tpdu = frame.tpdu.or(self.options.tpdu);
        frame.header = frame.header.or(self.options.header);
        frame
    }

    async fn exchange(
        &self,
        frame: MessageFrame,
        exchange: Exchange,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        // Registered before writing, so that a fast reply finds its request.
        let (guard, mut rx) = self.register(&exchange, frame.tpdu)?;

        let outcome = tokio::time::timeout(timeout, async {
            self.write(Frame::Message(frame)).await?;
            match (&mut rx).await {
                Ok(result) => result,
                // The reader task is gone without closing the table (it was aborted).
                Err(_) => Err(ClientError::Disconnected { cause: None }),
            }
        })
        .await;
        if let Ok(result) = outcome {
            return result;
        }

        // Leave the table first, so that any reply from now on is unmatched...
        drop(guard);
        // ...but a reply handed over between the deadline and that removal is still ours.
        if let Ok(result) = rx.try_recv() {
            return result;
        }
        tracing::debug!(after = ?timeout, "no response in time");
        Err(ClientError::Timeout {
            expected: exchange.expected,
            tid: exchange.tid,
            stan: exchange.stan,
            after: timeout,
        })
    }

    fn register(
        &self,
        exchange: &Exchange,
        tpdu: Option<Tpdu>,
    ) -> Result<(PendingGuard<'_>, Receiver), ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut table = self.shared.table();
        if let Some(closed) = &table.closed {
            return Err(closed.error());
        }
        if table.pending.contains_key(&exchange.key) {
            return Err(ClientError::AlreadyPending {
                class: exchange.key.class,
                tid: exchange.tid.clone(),
                stan: exchange.stan.clone(),
            });
        }
        let pending = Pending {
            id,
            expected: exchange.expected,
            reply_tpdu: tpdu.map(|t| t.reply()),
            tx,
        };
        table.pending.insert(exchange.key.clone(), pending);
        let guard = PendingGuard {
            shared: &self.shared,
            key: exchange.key.clone(),
            id,
        };
        Ok((guard, rx))
    }

    async fn write(&self, frame: Frame) -> Result<(), ClientError> {
        let mut writer = self.shared.writer.lock().await;
        let Some(writer) = writer.as_mut() else {
            return Err(self.shared.closed_error());
        };
        writer.send(frame).await.map_err(ClientError::Send)?;
        tracing::trace!("frame written");
        Ok(())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // The reader holds the read half; stopping it lets the connection close.
        self.reader.abort();
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("spec", &self.spec)
            .field("pending", &self.pending())
            .field("closed", &self.is_closed())
            .finish()
    }
}

type Receiver = oneshot::Receiver<Result<Response, ClientError>>;
type Writer = FramedWrite<Box<dyn AsyncWrite + Send + Unpin>, FrameCodec>;

/// What the client and its reader task share.
struct Shared {
    table: Mutex<Table>,
    /// `None` once the connection is closed.
    writer: tokio::sync::Mutex<Option<Writer>>,
    /// [`ClientOptions::check_tpdu`].
    check_tpdu: bool,
}

#[derive(Default)]
struct Table {
    pending: HashMap<Key, Pending>,
    closed: Option<Closed>,
}

/// Why the connection closed: a framing error, or `None` for the peer's orderly close.
struct Closed(Option<Arc<FrameError>>);

impl Closed {
    fn error(&self) -> ClientError {
        ClientError::Disconnected {
            cause: self.0.clone(),
        }
    }
}

/// How a response finds its request: MTI class, terminal id, trace number (logical values).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    class: u8,
    tid: Vec<u8>,
    stan: Vec<u8>,
}

impl Key {
    fn new(mti: Mti, tid: &Field<'_>, stan: &Field<'_>) -> Key {
        Key {
            class: mti.class(),
            tid: tid.to_vec(),
            stan: stan.to_vec(),
        }
    }
}

struct Pending {
    /// Tells this request from a later one with the same key.
    id: u64,
    expected: Mti,
    /// The TPDU its response must carry: the request's with the addresses swapped.
    reply_tpdu: Option<Tpdu>,
    tx: oneshot::Sender<Result<Response, ClientError>>,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Table> {
        // The table stays consistent through any panic: each change is one map operation.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn closed_error(&self) -> ClientError {
        match &self.table().closed {
            Some(closed) => closed.error(),
            None => ClientError::Disconnected { cause: None },
        }
    }

    /// Takes the pending request `mti` answers, if there is one.
    fn take_matching(&self, key: &Key, mti: Mti) -> Option<Pending> {
        let mut table = self.table();
        match table.pending.get(key) {
            Some(pending) if pending.expected == mti => table.pending.remove(key),
            _ => None,
        }
    }

    /// Marks the connection closed, fails every pending request and drops the write half.
    async fn close(&self, cause: Option<Arc<FrameError>>) {
        let pending = {
            let mut table = self.table();
            table.closed = Some(Closed(cause.clone()));
            std::mem::take(&mut table.pending)
        };
        if !pending.is_empty() {
            tracing::debug!(count = pending.len(), "failing pending requests");
        }
        for (_, request) in pending {
            let error = ClientError::Disconnected {
                cause: cause.clone(),
            };
            // A request that gave up meanwhile needs no answer.
            let _ = request.tx.send(Err(error));
        }
        drop(self.writer.lock().await.take());
    }
}

/// Removes its request from the table when the request stops waiting, whatever the reason.
struct PendingGuard<'c> {
    shared: &'c Shared,
    key: Key,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let mut table = self.shared.table();
        if table
            .pending
            .get(&self.key)
            .is_some_and(|p| p.id == self.id)
        {
            table.pending.remove(&self.key);
        }
    }
}

/// What a request is matched by, read from its message.
struct Exchange {
    mti: Mti,
    expected: Mti,
    key: Key,
    /// Field 41 and 11 as masking shows them, for logs and errors.
    tid: String,
    stan: String,
}

impl Exchange {
    fn of(spec: &Spec, body: &[u8]) -> Result<Exchange, ClientError> {
        let message = spec
            .decode(body)
            .and_then(Decoded::complete)
            .map_err(ClientError::Request)?;
        let mti = message.mti();
        let expected = mti.response().ok_or(ClientError::NotARequest { mti })?;
        let field = |field| {
            message
                .field(field)
                .ok_or(ClientError::MissingMatchField { mti, field })
        };
        let (tid, stan) = (field(TID)?, field(STAN)?);
        Ok(Exchange {
            mti,
            expected,
            key: Key::new(mti, &tid, &stan),
            tid: tid.masked().to_string(),
            stan: stan.masked().to_string(),
        })
    }
}

/// Reads frames until the connection ends, handing responses to their requests.
async fn read_loop<R>(mut frames: FramedRead<R, FrameCodec>, shared: Arc<Shared>, spec: SpecRef)
where
    R: AsyncRead + Unpin,
{
    let cause = loop {
        match frames.next().await {
            Some(Ok(Frame::Message(frame))) => dispatch(&shared, &spec, frame),
            Some(Ok(Frame::KeepAlive)) => tracing::trace!("keep-alive"),
            Some(Err(error)) => {
                tracing::warn!(%error, "closing the connection");
                break Some(Arc::new(error));
            }
            None => {
                tracing::debug!("the peer closed the connection");
                break None;
            }
        }
    };
    drop(frames);
    shared.close(cause).await;
}

/// Hands one message to the request it answers, or logs and drops it.
fn dispatch(shared: &Shared, spec: &SpecRef, frame: MessageFrame) {
    let message = match spec.decode(&frame.body).and_then(Decoded::complete) {
        Ok(message) => message,
        Err(error) => {
            // Codec errors never show sensitive content.
            let len = frame.body.len();
            tracing::warn!(%error, len, "dropped a frame whose message does not decode");
            return;
        }
    };
    let mti = message.mti();
    let (Some(tid), Some(stan)) = (message.field(TID), message.field(STAN)) else {
        unmatched(
            &message,
            "it has no terminal id or trace number to match by",
        );
        return;
    };
    // A message the host started ends here too (module docs).
    let Some(pending) = shared.take_matching(&Key::new(mti, &tid, &stan), mti) else {
        unmatched(&message, "it matches no pending request");
        return;
    };

    if let (true, Some(expected)) = (shared.check_tpdu, pending.reply_tpdu) {
        if frame.tpdu != Some(expected) {
            tracing::warn!(%mti, %expected, found = ?frame.tpdu, "response from another NII");
            let _ = pending.tx.send(Err(ClientError::WrongTpdu {
                expected,
                found: frame.tpdu,
            }));
            return;
        }
    }
    tracing::trace!(%mti, "response matched");
    let response = Response {
        frame,
        spec: spec.clone(),
        mti,
    };
    if let Err(Ok(response)) = pending.tx.send(Ok(response)) {
        // The request gave up between the match and the hand-over.
        let message = response.message();
        if let Ok(message) = message {
            unmatched(&message, "its request stopped waiting");
        }
    }
}

/// Logs a dropped message: MTI, trace number, terminal id, response code, and the whole
/// message as its masked `Debug` shows it.
fn unmatched(message: &Message<'_>, why: &'static str) {
    tracing::warn!(
        mti = %message.mti(),
        stan = %Shown(message.field(STAN)),
        tid = %Shown(message.field(TID)),
        rc = %Shown(message.field(RESPONSE_CODE)),
        ?message,
        "dropped a message: {why}"
    );
}

/// A field as masking shows it, or `-` when absent.
struct Shown<'a>(Option<Field<'a>>);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(field) => write!(f, "{}", field.masked()),
            None => f.write_str("-"),
        }
    }
}
