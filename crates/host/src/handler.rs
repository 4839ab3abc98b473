//! One message in, one delivery out: decode, pick a fault, check the terminal and its MAC,
//! apply the message to the books, build the answer, decide how (and whether) it leaves.
//!
//! Read DESIGN §6 and issue #5 first. The order of checks is the one a real host applies:
//! - a frame that does not decode is answered 30 when its MTI can be read, else the
//!   connection is closed (`unparseable`);
//! - an unknown terminal is answered 03 (international) or 97 (UnionPay);
//! - a message whose field 42 is present and not the terminal's configured merchant is
//!   answered 03, invalid merchant (DESIGN §9), in both dialects;
//! - a terminal that must sign on and has not, or whose MAC does not verify, is answered A0
//!   (and, on UnionPay, asked to sign on again in the application header);
//! - then the message itself ([`financial`](self::financial), `network`, `settlement`).
//!
//! MAC policy (a design choice, see the crate README): for a terminal whose profile names a
//! MAC, 0100, 0200, 0220 and 0400 must carry field 64; 0320 and 0500 are checked when they
//! carry it, and accepted without it, because terminals in the field (and the emulator) send
//! settlement messages unMACed; 08xx never are. An answer carries field 64 exactly when its
//! request did and the host holds a MAC key for the terminal.
//!
//! Nothing here panics on any input: fields are read through checked readers, and a message
//! that lacks what its type needs is answered 30.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use bytes::BytesMut;
use iso8583_codec::{Builder, Message, Mti, MtiEncoding, Spec};
use iso8583_crypto::{DesKey, Mac};
use iso8583_wire::{FrameConfig, MessageFrame, ProcessingRequirement};

use crate::config::{Dialect, TerminalConfig, VoidPolicy};
use crate::fields::{self, Cup60};
use crate::ledger::{Book, CardGroup, MaskedPan, NewRec, TxnKind};
use crate::restore::RestoredBook;
use crate::rules::{Facts, FaultAction, FaultSet, Picked, ResponseCode, Rules, MAX_DELAY};
use crate::stats::Stats;
use crate::store::{Store, Writer};

const A0: ResponseCode = ResponseCode(*b"A0");
const FORMAT_ERROR: ResponseCode = ResponseCode(*b"30");
const INVALID: ResponseCode = ResponseCode(*b"12");
const DUPLICATE: ResponseCode = ResponseCode(*b"94");
const INVALID_MERCHANT: ResponseCode = ResponseCode(*b"03");

/// What every connection shares.
pub(crate) struct Shared {
    pub terminals: HashMap<[u8; 8], Terminal>,
    pub rules: RwLock<Arc<Rules>>,
    pub faults: Mutex<FaultSet>,
    /// False while there are no fault rules, so that the common case takes no lock.
    pub faults_on: AtomicBool,
    pub stats: Stats,
    pub store: Store,
    /// Working keys, from the configured seed.
    pub keys: Mutex<fastrand::Rng>,
    rrn: AtomicU64,
}

/// A terminal the host knows, with its books.
pub(crate) struct Terminal {
    pub config: TerminalConfig,
    pub mac: Option<Mac>,
    pub book: Mutex<Book>,
}

/// What a listener's connections need.
pub(crate) struct Listener {
    pub dialect: Dialect,
    pub spec: &'static Spec,
    pub frame: FrameConfig,
    /// Close a connection silent this long (see `ListenerConfig::idle_timeout_ms`).
    pub idle_timeout: Duration,
    /// Close a connection whose frame is not whole this long after its first byte, or whose
    /// answers are not read for this long.
    pub frame_timeout: Duration,
    /// Connections open at once at most.
    pub max_connections: usize,
}

/// How an answer leaves, or does not.
pub(crate) enum Delivery {
    /// Write it now.
    Reply(MessageFrame),
    /// Write it after a while, reading on meanwhile.
    Delayed(Duration, MessageFrame),
    /// Say nothing.
    Silent,
    /// Close the connection.
    Close,
    /// Write the first part of the frame, then close.
    CloseMidFrame(MessageFrame),
}

/// The answer to one message, before it is encoded.
pub(crate) struct Answer {
    pub code: ResponseCode,
    pub rrn: Option<[u8; 12]>,
    pub approval: Option<[u8; 6]>,
    /// Fields set by the message's handler (48, 60, 62), logical values.
    pub extra: Vec<(u16, Vec<u8>)>,
    /// The MAC and key for field 64.
    pub mac: Option<(Mac, DesKey)>,
    /// Ask for a new sign-on (UnionPay header processing requirement 3).
    pub sign_on_again: bool,
}

impl Answer {
    pub(crate) fn code(code: ResponseCode) -> Answer {
        Answer {
            code,
            rrn: None,
            approval: None,
            extra: Vec::new(),
            mac: None,
            sign_on_again: false,
        }
    }

    pub(crate) fn with(mut self, n: u16, value: Vec<u8>) -> Answer {
        self.extra.push((n, value));
        self
    }
}

/// One message being handled.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Shared,
    pub dialect: Dialect,
    pub msg: &'a Message<'a>,
    pub facts: &'a Facts<'a>,
    pub fault: Option<Picked>,
}

impl Ctx<'_> {
    /// True when the picked fault is `action`.
    pub(crate) fn fault_is(&self, action: FaultAction) -> bool {
        self.fault.is_some_and(|p| p.action == action)
    }
}

impl Shared {
    pub(crate) fn new(
        terminals: HashMap<[u8; 8], Terminal>,
        rules: Rules,
        faults: FaultSet,
        store: Store,
        seed: u64,
        last_rrn: u64,
    ) -> Shared {
        let faults_on = AtomicBool::new(!faults.is_empty());
        Shared {
            terminals,
            rules: RwLock::new(Arc::new(rules)),
            faults: Mutex::new(faults),
            faults_on,
            stats: Stats::new(),
            store,
            keys: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x6b65_7973)),
            rrn: AtomicU64::new(last_rrn + 1),
        }
    }

    /// A fresh retrieval reference number (12 digits) and approval code (6 digits).
    pub(crate) fn reference(&self) -> ([u8; 12], [u8; 6]) {
        let n = self.rrn.fetch_add(1, Ordering::Relaxed);
        // The approval code is a scrambled counter, so that consecutive sales do not show
        // consecutive codes (a terminal must not rely on them being in order).
        let approval = n.wrapping_mul(7_919).wrapping_add(104_729) % 1_000_000;
        (fields::digits(n), fields::digits(approval))
    }

    pub(crate) fn rules(&self) -> Arc<Rules> {
        match self.rules.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn pick_fault(&self, facts: &Facts<'_>) -> Option<Picked> {
        if !self.faults_on.load(Ordering::Relaxed) {
            return None;
        }
        lock(&self.faults).pick(facts)
    }
}

/// Locks a mutex; a panic elsewhere while it was held leaves data that is still consistent
/// enough for a test host (each update is a single assignment), so poisoning is ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Terminal {
    /// A terminal with the books read back from the database, if any.
    pub(crate) fn new(
        config: TerminalConfig,
        id: [u8; 8],
        stored: Option<RestoredBook>,
        writer: &Writer,
    ) -> Terminal {
        let mut book = match stored {
            Some(stored) => Book::restore(id, config.batch, stored),
            None => Book::new(id, config.batch),
        };
        book.trim_closed(config.dialect, config.void_policy, writer);
        Terminal {
            mac: config.mac(),
            book: Mutex::new(book),
            config,
        }
    }

    /// The MAC key in force: the one issued at the last sign-on, else the profile's fixed key.
    fn mac_key(&self, book: &Book) -> Option<DesKey> {
        book.mac_key
            .clone()
            .or_else(|| self.config.mac_key.as_ref().map(|k| k.0.clone()))
    }

    pub(crate) fn tmk(&self) -> Option<&DesKey> {
        self.config.master_key.as_ref().map(|k| &k.0)
    }

    pub(crate) fn void_policy(&self) -> VoidPolicy {
        self.config.void_policy
    }
}

/// Handles one frame.
pub(crate) fn handle(shared: &Shared, listener: &Listener, frame: &MessageFrame) -> Delivery {
    let msg = match listener.spec.decode_complete(&frame.body) {
        Ok(msg) => msg,
        Err(e) => return unparseable(shared, listener, frame, &e),
    };
    if !msg.mti().expects_response() {
        tracing::warn!(mti = %msg.mti(), "a response sent to the host: dropped");
        return Delivery::Silent;
    }
    let mut pan = [0u8; 19];
    let facts = Facts::read(&msg, listener.dialect, &mut pan);
    shared.stats.received(&facts.mti);
    let fault = shared.pick_fault(&facts);
    if let Some(p) = &fault {
        shared.stats.fault(&p.action);
        tracing::debug!(mti = %msg.mti(), stan = ?facts.trace, fault = p.action.name(), "fault");
    }
    let ctx = Ctx {
        shared,
        dialect: listener.dialect,
        msg: &msg,
        facts: &facts,
        fault,
    };
    let silent = matches!(fault, Some(p) if !p.process
        && matches!(p.action, FaultAction::NoAnswer | FaultAction::Close));
    if silent {
        return deliver(fault, None);
    }
    let answer = answer(&ctx);
    shared.stats.answered(&facts.mti, answer.code.bytes());
    tracing::trace!(mti = %msg.mti(), stan = ?facts.trace, code = %answer.code, "answered");
    match build_reply(&ctx, &answer) {
        Ok(body) => deliver(fault, Some(reply_frame(frame, &answer, body))),
        Err(e) => {
            // Our own answer did not build: a value the request gave us broke a field's rules
            // in a way the decoder accepted. Closing is safer than a half-right answer.
            tracing::warn!(mti = %msg.mti(), error = %e, "answer could not be built");
            Delivery::Close
        }
    }
}

/// The answer's frame: the TPDU's addresses swapped, the request's UnionPay header (asking
/// for a sign-on when the answer says so).
fn reply_frame(request: &MessageFrame, answer: &Answer, body: BytesMut) -> MessageFrame {
    let header = request.header.map(|h| match answer.sign_on_again {
        true => h
            .with_processing_requirement(ProcessingRequirement::SignOnAgain)
            .unwrap_or(h),
        false => h,
    });
    MessageFrame {
        tpdu: request.tpdu.map(|t| t.reply()),
        header,
        body: body.freeze(),
    }
}

fn deliver(fault: Option<Picked>, reply: Option<MessageFrame>) -> Delivery {
    let Some(reply) = reply else {
        return match fault.map(|p| p.action) {
            Some(FaultAction::Close) => Delivery::Close,
            _ => Delivery::Silent,
        };
    };
    match fault.map(|p| p.action) {
        // A rule built in code is not checked the way a configuration is: never hold an
        // answer longer than a configured delay may (no arithmetic on the deadline can fail).
        Some(FaultAction::Delay(d)) => Delivery::Delayed(d.min(MAX_DELAY), reply),
        Some(FaultAction::NoAnswer) => Delivery::Silent,
        Some(FaultAction::Close) => Delivery::Close,
        Some(FaultAction::CloseMidFrame) => Delivery::CloseMidFrame(reply),
        _ => Delivery::Reply(reply),
    }
}

/// The answer: forced by a fault, or the message applied to the books.
fn answer(ctx: &Ctx<'_>) -> Answer {
    let forced = match ctx.fault {
        Some(Picked {
            action: FaultAction::Respond(code),
            process,
        }) => Some((code, process)),
        _ => None,
    };
    let mut answer = match (forced, ctx.fault) {
        (Some((code, false)), _) => unprocessed(ctx, code),
        (None, Some(p)) if !p.process => unprocessed(ctx, ResponseCode::APPROVED),
        _ => process(ctx),
    };
    if let Some((code, _)) = forced {
        answer.code = code;
    }
    answer
}

/// An answer that leaves the books alone: the code, and the terminal's MAC if it has one.
fn unprocessed(ctx: &Ctx<'_>, code: ResponseCode) -> Answer {
    let mut answer = Answer::code(code);
    if let Some(term) = terminal_of(ctx) {
        let book = lock(&term.book);
        answer.mac = reply_mac(ctx, term, &book);
    }
    answer
}

fn terminal_of<'a>(ctx: &Ctx<'a>) -> Option<&'a Terminal> {
    let id: [u8; 8] = ctx.facts.terminal?.try_into().ok()?;
    ctx.shared
        .terminals
        .get(&id)
        .filter(|t| t.config.dialect == ctx.dialect)
}

/// The MAC for the answer: when the request carried one and a key is in force.
fn reply_mac(ctx: &Ctx<'_>, term: &Terminal, book: &Book) -> Option<(Mac, DesKey)> {
    if !ctx.msg.has(64) {
        return None;
    }
    term.mac.zip(term.mac_key(book))
}

/// Applies the message to its terminal's books.
fn process(ctx: &Ctx<'_>) -> Answer {
    let Some(term) = terminal_of(ctx) else {
        tracing::debug!(terminal = ?ctx.facts.terminal.map(String::from_utf8_lossy),
            "unknown terminal");
        return Answer::code(ResponseCode(*ctx.dialect.unknown_terminal()));
    };
    let merchant = term.config.merchant.as_bytes();
    if ctx
        .msg
        .field(42)
        .is_some_and(|f| !f.value().eq(merchant.iter().copied()))
    {
        tracing::debug!(mti = %ctx.msg.mti(), "field 42 is not the terminal's merchant: 03");
        return Answer::code(INVALID_MERCHANT);
    }
    let mut book = lock(&term.book);
    let mac = reply_mac(ctx, term, &book);
    if let Err(code) = check_security(ctx, term, &book) {
        let mut answer = Answer::code(code);
        answer.mac = mac;
        answer.sign_on_again = ctx.dialect == Dialect::UnionPay;
        return answer;
    }
    let mut answer = dispatch(ctx, term, &mut book);
    if answer.mac.is_none() {
        answer.mac = mac;
    }
    if ctx.fault_is(FaultAction::SignOnAgain) {
        // The answer still carries the MAC of the keys the request used; the next message
        // needs new ones.
        book.signed_on = false;
        book.mac_key = None;
        answer.sign_on_again = true;
    }
    answer
}

/// Sign-on requirement and MAC (see the module docs for which messages need which).
fn check_security(ctx: &Ctx<'_>, term: &Terminal, book: &Book) -> Result<(), ResponseCode> {
    let class = ctx.facts.mti.get(1).copied().unwrap_or(b'0');
    if class == b'8' {
        return Ok(());
    }
    if term.config.sign_on_required && !book.signed_on {
        tracing::debug!(mti = %ctx.msg.mti(), "not signed on: A0");
        return Err(A0);
    }
    let Some(mac) = term.mac else {
        return Ok(());
    };
    let required = matches!(class, b'1' | b'2' | b'4');
    if !required && !ctx.msg.has(64) {
        return Ok(());
    }
    let key = term.mac_key(book).ok_or(A0)?;
    mac.verify_message(&key, ctx.msg, 64).map_err(|e| {
        tracing::debug!(mti = %ctx.msg.mti(), stan = ?ctx.facts.trace, error = %e, "MAC: A0");
        A0
    })
}

fn dispatch(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book) -> Answer {
    match &ctx.facts.mti {
        b"0100" | b"0200" | b"0220" => financial(ctx, book),
        b"0400" => reversal(ctx, book),
        b"0500" => crate::settlement::reconcile(ctx, term, book),
        b"0320" => crate::settlement::upload(ctx, term, book),
        b"0800" | b"0820" => crate::network::network(ctx, term, book),
        _ => Answer::code(INVALID),
    }
}

/// What a financial request is, by MTI, processing code and (completions) 25 or 60.1.
fn kind_of(ctx: &Ctx<'_>) -> Option<TxnKind> {
    let pcode = ctx.facts.processing_code?;
    let head = pcode.get(..2)?;
    let cup = ctx.dialect == Dialect::UnionPay;
    Some(match (&ctx.facts.mti, head) {
        // A void takes the original's MTI: international 02 (as a sale's void, 0200 020000),
        // UnionPay 20 with 60.1 `11` (预授权撤销).
        (b"0100", b"02") if !cup => TxnKind::PreAuthVoid,
        (b"0100", b"20") if cup => TxnKind::PreAuthVoid,
        (b"0100", _) => TxnKind::PreAuth,
        (b"0200", b"00") if completion(ctx) => TxnKind::Completion,
        (b"0200", b"00") => TxnKind::Sale,
        (b"0200", b"02") if !cup => TxnKind::Void,
        (b"0200", b"20") if cup => TxnKind::Void,
        (b"0200", b"20") => TxnKind::Refund,
        (b"0220", b"00") => TxnKind::OfflineSale,
        (b"0220", b"20") => TxnKind::Refund,
        _ => return None,
    })
}

fn completion(ctx: &Ctx<'_>) -> bool {
    match ctx.dialect {
        Dialect::International => {
            fields::text(ctx.msg, 25) == Some(b"06")
                || fields::fixed::<2>(ctx.msg, 25) == Some(*b"06")
        }
        Dialect::UnionPay => {
            Cup60::read(ctx.msg).is_some_and(|f| f.type_code() == Some(&b"20"[..]))
        }
    }
}

/// 0100, 0200 and 0220: duplicates first, then tip adjustments, voids, completions of a
/// voided pre-auth, then the rules.
fn financial(ctx: &Ctx<'_>, book: &mut Book) -> Answer {
    let (Some(trace), Some(kind), Some(amount), Some(pcode)) = (
        ctx.facts.trace,
        kind_of(ctx),
        ctx.facts.amount,
        ctx.facts.processing_code,
    ) else {
        return Answer::code(match kind_of(ctx) {
            None if ctx.facts.processing_code.is_some() => INVALID,
            _ => FORMAT_ERROR,
        });
    };
    if book.is_duplicate(ctx.facts.mti, trace) {
        tracing::debug!(stan = trace, "duplicate: 94");
        return Answer::code(DUPLICATE);
    }
    if is_tip_adjustment(ctx) {
        return tip_adjustment(ctx, book, trace, amount);
    }
    let rules = ctx.shared.rules();
    let new = new_record(ctx, &rules, trace, kind, amount, pcode);
    let (rrn, approval) = (new.rrn, new.approval);
    let writer = &ctx.shared.store.writer;
    let code = match kind {
        TxnKind::Void | TxnKind::PreAuthVoid => {
            let original_trace = match ctx.dialect {
                Dialect::UnionPay => original_trace_61(ctx.msg),
                Dialect::International => None,
            };
            book.void(new, fields::text(ctx.msg, 37), original_trace, writer)
        }
        TxnKind::Completion if completes_a_voided_pre_auth(ctx, book) => {
            tracing::debug!(stan = trace, "completion of a voided pre-auth: 12");
            book.authorise(new, INVALID, writer);
            INVALID
        }
        _ => {
            let code = rules.decide(ctx.facts);
            book.authorise(new, code, writer);
            code
        }
    };
    let mut answer = Answer::code(code);
    if &ctx.facts.mti != b"0220" {
        answer.rrn = Some(rrn);
    }
    if code == ResponseCode::APPROVED {
        answer.approval = Some(approval);
    }
    answer
}

/// An international 0220 whose field 60 names its original (MTI + trace, as in a 0320) is a
/// tip adjustment; an offline sale's advice carries no field 60 (see the settlement engine's
/// `dialect/intl.rs`, which lays the message out).
fn is_tip_adjustment(ctx: &Ctx<'_>) -> bool {
    ctx.dialect == Dialect::International && &ctx.facts.mti == b"0220" && ctx.msg.has(60)
}

/// A tip adjustment: 4 is the sale's new amount plus tip, 54 the new tip (12 digits), 60 the
/// original MTI and trace. 30 when those are not readable, 13 when the tip is more than the
/// amount; else the sale's amount changes (00) or no sale with that MTI and trace stands (25).
/// Answered without an RRN or approval code, like every advice.
fn tip_adjustment(ctx: &Ctx<'_>, book: &mut Book, trace: u32, amount: u64) -> Answer {
    let f60 = fields::text(ctx.msg, 60).unwrap_or(&[]);
    let original = f60
        .get(4..10)
        .and_then(fields::parse_digits)
        .and_then(|t| u32::try_from(t).ok());
    let mti: Option<[u8; 4]> = f60.get(..4).and_then(|m| m.try_into().ok());
    let tip = fields::fixed::<12>(ctx.msg, 54).and_then(|t| fields::parse_digits(&t));
    let (Some(original), Some(mti), Some(tip)) = (original, mti, tip) else {
        return Answer::code(FORMAT_ERROR);
    };
    if tip > amount {
        return Answer::code(ResponseCode(*b"13"));
    }
    let rrn = fields::text(ctx.msg, 37);
    let writer = &ctx.shared.store.writer;
    let advice = (ctx.facts.mti, trace);
    let code = book.adjust_tip(advice, (mti, original), rrn, amount, writer);
    tracing::debug!(stan = trace, sale = original, code = %code, "tip adjustment");
    Answer::code(code)
}

/// A completion whose approval code (38) names only voided pre-auths.
fn completes_a_voided_pre_auth(ctx: &Ctx<'_>, book: &Book) -> bool {
    fields::fixed::<6>(ctx.msg, 38).is_some_and(|code| book.pre_auth_voided(&code))
}

/// The record an approval would add, with a fresh RRN and approval code.
fn new_record(
    ctx: &Ctx<'_>,
    rules: &Rules,
    trace: u32,
    kind: TxnKind,
    amount: u64,
    processing_code: [u8; 6],
) -> NewRec {
    let (rrn, approval) = ctx.shared.reference();
    let approval = match (&ctx.facts.mti, fields::fixed::<6>(ctx.msg, 38)) {
        // An advice carries the approval it was given (offline: the terminal's own).
        (b"0220", Some(given)) => given,
        _ => approval,
    };
    let group = match rules.is_domestic(ctx.facts.pan) {
        true => CardGroup::Domestic,
        false => CardGroup::Foreign,
    };
    NewRec {
        trace,
        mti: ctx.facts.mti,
        processing_code,
        kind,
        amount,
        group,
        pan: MaskedPan::of(ctx.facts.pan),
        rrn,
        approval,
    }
}

/// UnionPay 61: original batch n6, original trace n6, ...
fn original_trace_61(msg: &Message<'_>) -> Option<u32> {
    let mut buf = [0u8; 29];
    let digits = fields::value_into(&msg.field(61)?, &mut buf)?;
    let trace = fields::parse_digits(digits.get(6..12)?)?;
    u32::try_from(trace).ok()
}

/// 0400: matched by trace and amount (DESIGN §6).
fn reversal(ctx: &Ctx<'_>, book: &mut Book) -> Answer {
    let Some(trace) = ctx.facts.trace else {
        return Answer::code(FORMAT_ERROR);
    };
    let code = book.reverse(trace, ctx.facts.amount, &ctx.shared.store.writer);
    tracing::debug!(stan = trace, code = %code, "reversal");
    Answer::code(code)
}

/// Encodes the answer: MTI + 10; 3, 4, 11, 12, 13, 41, 42 echoed (and 49 and 60 for
/// UnionPay unless the handler set them); 37, 38, 39; the handler's fields; field 64.
fn build_reply(ctx: &Ctx<'_>, answer: &Answer) -> Result<BytesMut, iso8583_codec::Error> {
    // The values borrowed by the builder live in these buffers, declared before it.
    let mut bufs = [[0u8; 32]; 9];
    let code = answer.code.bytes();
    let wrong_trace = ctx
        .facts
        .trace
        .filter(|_| ctx.fault_is(FaultAction::WrongTrace))
        .map(|t| fields::digits::<6>(u64::from(t % 999_999 + 1)));
    let spec = ctx.msg.spec();
    let mti = ctx.msg.mti().response().unwrap_or(ctx.msg.mti());
    let mut b = Builder::new(spec, mti);
    let [b3, b4, b11, b12, b13, b41, b42, b49, b60] = &mut bufs;
    echo(&mut b, ctx.msg, 3, b3)?;
    echo(&mut b, ctx.msg, 4, b4)?;
    match &wrong_trace {
        Some(trace) => {
            b.set(11, &trace[..])?;
        }
        None => echo(&mut b, ctx.msg, 11, b11)?,
    }
    echo(&mut b, ctx.msg, 12, b12)?;
    echo(&mut b, ctx.msg, 13, b13)?;
    if let Some(rrn) = &answer.rrn {
        b.set(37, &rrn[..])?;
    }
    if let Some(approval) = &answer.approval {
        b.set(38, &approval[..])?;
    }
    b.set(39, &code[..])?;
    echo(&mut b, ctx.msg, 41, b41)?;
    echo(&mut b, ctx.msg, 42, b42)?;
    if ctx.dialect == Dialect::UnionPay {
        echo(&mut b, ctx.msg, 49, b49)?;
        echo(&mut b, ctx.msg, 60, b60)?;
    }
    for (n, value) in &answer.extra {
        b.set(*n, &value[..])?;
    }
    Ok(finish_mac(ctx, &mut b, answer))
}

/// Copies field `n` of the request into the answer, if present.
fn echo<'v>(
    b: &mut Builder<'_, 'v>,
    msg: &Message<'_>,
    n: u16,
    buf: &'v mut [u8; 32],
) -> Result<(), iso8583_codec::Error> {
    if let Some(value) = msg.field(n).and_then(|f| fields::value_into(&f, buf)) {
        b.set(n, value)?;
    }
    Ok(())
}

/// Encodes the message, with field 64 last when the answer is MACed.
fn finish_mac(ctx: &Ctx<'_>, b: &mut Builder<'_, '_>, answer: &Answer) -> BytesMut {
    let Some((mac, key)) = &answer.mac else {
        return b.to_bytes();
    };
    // Field 64 is the last field and 8 bytes: the MAC covers everything before it, the
    // bitmap announcing it included (DESIGN §4).
    if b.set(64, &[0u8; 8][..]).is_err() {
        return b.to_bytes();
    }
    let mut bytes = b.to_bytes();
    let split = bytes.len().saturating_sub(8);
    let Some((data, field64)) = bytes.split_at_mut_checked(split) else {
        return bytes;
    };
    if let Ok(value) = mac.compute(key, data) {
        field64.copy_from_slice(&value);
        if ctx.fault_is(FaultAction::WrongMac) {
            // A different MAC that still looks like one (upper-case hex stays hex).
            if let Some(last) = field64.last_mut() {
                *last = if *last == b'0' { b'1' } else { b'0' };
            }
        }
    }
    bytes
}

/// A frame that did not decode: 30 when its MTI is a readable request, else close.
fn unparseable(
    shared: &Shared,
    listener: &Listener,
    frame: &MessageFrame,
    error: &iso8583_codec::Error,
) -> Delivery {
    shared.stats.unparseable();
    let spec = listener.spec;
    let Some(mti) = read_mti(spec, &frame.body).filter(Mti::expects_response) else {
        tracing::warn!(error = %error, "unreadable frame: connection closed");
        return Delivery::Close;
    };
    tracing::warn!(mti = %mti, error = %error, "unparseable message: 30");
    // Whatever the structure still shows is echoed, so the terminal can match the answer.
    let salvage = spec
        .decoder()
        .structure_only(true)
        .keep_trailing(true)
        .decode_complete(&frame.body);
    let mut bufs = [[0u8; 32]; 3];
    let mut b = Builder::new(spec, mti.response().unwrap_or(mti));
    if let Ok(msg) = &salvage {
        for (n, buf) in [11u16, 41, 3].into_iter().zip(bufs.iter_mut()) {
            let value = msg.field(n).and_then(|f| fields::value_into(&f, buf));
            if let Some(value) = value {
                // A salvaged value that breaks its field's rules is left out.
                let _ = b.set(n, value);
            }
        }
    }
    let mti_digits = mti.digits();
    shared.stats.received(&mti_digits);
    shared.stats.answered(&mti_digits, *b"30");
    if b.set(39, &b"30"[..]).is_err() {
        return Delivery::Close;
    }
    Delivery::Reply(MessageFrame {
        tpdu: frame.tpdu.map(|t| t.reply()),
        header: frame.header,
        body: b.to_bytes().freeze(),
    })
}

/// The MTI at the start of a body, in the spec's encoding.
fn read_mti(spec: &Spec, body: &[u8]) -> Option<Mti> {
    let digits: [u8; 4] = match spec.mti_encoding() {
        MtiEncoding::Bcd => {
            let [a, b]: [u8; 2] = body.get(..2)?.try_into().ok()?;
            [a >> 4, a & 0x0F, b >> 4, b & 0x0F].map(|n| if n <= 9 { b'0' + n } else { b'X' })
        }
        MtiEncoding::Ascii => body.get(..4)?.try_into().ok()?,
        MtiEncoding::Ebcdic => {
            let raw: [u8; 4] = body.get(..4)?.try_into().ok()?;
            raw.map(|c| match c {
                0xF0..=0xF9 => c - 0xF0 + b'0',
                _ => b'X',
            })
        }
    };
    Mti::from_digits(digits)
}
