//! The engine: one terminal's batch, driven by inputs and producing [`Output`]s (STYLE §7).
//!
//! Ordering lives in one place, [`Engine::advance`], which picks the next message whenever
//! nothing is in flight: the pending reversal first, then a request parked behind it (a void
//! also behind its sale's tip adjustment advice), then — only while a settlement runs — queued
//! advices and tip adjustments, and only after those the 0500, the uploads and the trailer or
//! closing 0320 (DESIGN §5 state machine). Requests are checked in [`Engine::request`] before
//! anything is stored or sent. The per-exchange rules are in `online.rs` (sales, voids,
//! reversals, advices), `adjust.rs` (tip adjustments) and `settlement.rs`.

use iso8583_codec::{Message, Mti};

use crate::action::{Action, Outcome, Outgoing, Output, Prompt, Purpose};
use crate::config::Config;
use crate::dialect::{Ctx, Fields};
use crate::error::{Error, Rejected};
use crate::record::{Card, Record, RefundOriginal, TxnKind};
use crate::report::Report;
use crate::store::{Op, PendingReversal, Settlement, Snapshot, Store};
use crate::time::Time;
use crate::totals::{CupTotals, IntlTotals, Running};

/// An operator request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Request {
    /// An online sale.
    Sale {
        /// The card.
        card: Card,
        /// Amount, minor units.
        amount: u64,
        /// Tip, minor units.
        tip: u64,
    },
    /// Void the record with this invoice number.
    Void {
        /// Invoice of the sale or completion to void.
        invoice: u32,
    },
    /// A refund.
    Refund {
        /// The card.
        card: Card,
        /// Amount.
        amount: u64,
    },
    /// A refund that names the sale it refunds (UnionPay fields 37 and 61; an international
    /// terminal sends it as a plain refund).
    RefundOf {
        /// The card.
        card: Card,
        /// Amount.
        amount: u64,
        /// The sale refunded, as the host knows it.
        original: RefundOriginal,
    },
    /// A pre-authorisation.
    PreAuth {
        /// The card.
        card: Card,
        /// Amount.
        amount: u64,
    },
    /// Void the approved pre-authorisation with this invoice number: an online 0100 (dialect
    /// I 020000; UnionPay 200000 with 60.1 `11` and field 61), reversible like any online
    /// request, after which the pre-auth is marked voided and can no longer be completed.
    /// Pre-auths are in no total, so the totals do not move.
    VoidPreAuth {
        /// Invoice of the pre-authorisation.
        invoice: u32,
    },
    /// Adjust the tip of an approved sale before settlement (international terminals,
    /// restaurants): done offline, the record takes the new tip at once and a 0220 advice is
    /// queued, flushed before the next settlement like other advices (see `dialect/intl.rs` for
    /// its layout). UnionPay terminals refuse it ([`crate::Rejected::TipAdjustUnsupported`]).
    TipAdjust {
        /// Invoice of the sale.
        invoice: u32,
        /// The new tip, minor units (zero takes the tip away).
        tip: u64,
    },
    /// A pre-authorisation completion.
    Completion {
        /// The card.
        card: Card,
        /// Amount.
        amount: u64,
        /// The pre-authorisation's approval code.
        auth_code: String,
    },
    /// A sale approved offline (voice or floor limit), queued as an advice.
    OfflineSale {
        /// The card.
        card: Card,
        /// Amount.
        amount: u64,
        /// Approval code, when one was given by voice.
        auth_code: String,
    },
    /// The chip card declined (second GENERATE AC) a transaction the host had approved: the
    /// record leaves the batch and a 0400 with reason 06 is sent (DESIGN §5, "Reversals").
    CardDeclined {
        /// Trace of the approved record.
        trace: u32,
    },
    /// Settle the batch (or resume a pending settlement). The supervisor password DESIGN §5
    /// asks for is checked by the caller's keypad, which owns the operator dialogue.
    Settle,
    /// Sign on.
    SignOn,
    /// Echo test.
    Echo,
    /// Sign off (0820; UnionPay 60.3 `002`). The trace number comes from the same counter as
    /// every other request, which is why the engine sends it rather than the caller.
    SignOff,
}

impl Request {
    /// The transaction kind, for financial requests.
    pub fn kind(&self) -> Option<TxnKind> {
        Some(match self {
            Request::Sale { .. } => TxnKind::Sale,
            Request::Void { .. } => TxnKind::Void,
            Request::Refund { .. } | Request::RefundOf { .. } => TxnKind::Refund,
            Request::PreAuth { .. } => TxnKind::PreAuth,
            Request::Completion { .. } => TxnKind::Completion,
            Request::OfflineSale { .. } => TxnKind::OfflineSale,
            Request::VoidPreAuth { .. } => TxnKind::PreAuthVoid,
            Request::TipAdjust { .. } => TxnKind::TipAdjust,
            _ => return None,
        })
    }
}

/// What is waiting for an answer.
#[derive(Debug)]
pub(crate) struct Flight {
    pub purpose: Purpose,
    pub response: Mti,
    pub trace: u32,
    pub deadline: Time,
    pub draft: Option<Record>,
    pub unit: Vec<u32>,
}

/// The settlement engine for one terminal.
#[derive(Debug)]
pub struct Engine<S> {
    pub(crate) cfg: Config,
    pub(crate) store: S,
    pub(crate) state: Snapshot,
    pub(crate) flight: Option<Flight>,
    pub(crate) parked: Option<Request>,
    pub(crate) settling: bool,
    /// The open batch's totals, kept in step with `state.records` by [`Engine::commit`].
    totals: Running,
    /// The next trace number as last stored: a message whose trace number is newer is stored
    /// before it is sent (see [`Engine::send`]).
    durable_trace: u32,
    /// Trace numbers of tip advices that may have reached the host: sent since the engine
    /// opened, or found pending when it opened (sent before a power loss, perhaps). A new
    /// adjustment of such a sale waits for the advice (see [`Engine::tip_advice_before`]).
    pub(crate) tip_advices_out: Vec<u32>,
}

impl<S: Store> Engine<S> {
    /// Opens the terminal from `store` and resumes whatever it finds (DESIGN §5): a pending
    /// reversal is sent first; a settlement in progress continues where it stopped, and one a
    /// count, amount or overflow trigger calls for is started.
    pub fn open(cfg: Config, mut store: S, now: Time) -> Result<(Engine<S>, Output), Error> {
        let state = match store.load()? {
            Some(state) => state,
            None => {
                let mut fresh = Snapshot::new(cfg.first_batch);
                fresh.next_trace = cfg.first_trace;
                store.commit(&[counters(&fresh, fresh.next_trace)])?;
                fresh
            }
        };
        let settling = state.settlement.is_some();
        tracing::debug!(
            batch = state.batch,
            records = state.records.len(),
            settling,
            "opened"
        );
        let totals = Running::of(&state.records, &cfg.dialect);
        let durable_trace = state.next_trace;
        let tip_advices_out = state
            .records
            .iter()
            .filter_map(|r| r.tip_advice.map(|a| a.trace))
            .collect();
        let mut engine = Engine {
            cfg,
            store,
            state,
            flight: None,
            parked: None,
            settling,
            totals,
            durable_trace,
            tip_advices_out,
        };
        let mut out = Output::default();
        engine.auto_settle_if_due(now, &mut out)?;
        engine.advance(now, &mut out)?;
        let out = engine.finish(out);
        Ok((engine, out))
    }

    /// An operator request. A refusal is an `Err` and nothing was stored or sent.
    pub fn request(&mut self, request: Request, now: Time) -> Result<Output, Error> {
        let _span = tracing::debug_span!("request", batch = self.state.batch).entered();
        if let Some(f) = &self.flight {
            return Err(Rejected::Busy {
                mti: f.response.as_str().to_owned(),
                trace: f.trace,
            }
            .into());
        }
        let mut out = Output::default();
        match request {
            Request::Settle => self.start_settlement(now, &mut out)?,
            Request::SignOn => self.send_network(now, Purpose::SignOn, &mut out)?,
            Request::CardDeclined { trace } => self.card_declined(trace, now, &mut out)?,
            Request::Echo => self.send_network(now, Purpose::Echo, &mut out)?,
            Request::SignOff => self.send_network(now, Purpose::SignOff, &mut out)?,
            Request::TipAdjust { invoice, tip } => {
                self.request_tip_adjust(invoice, tip, now, &mut out)?
            }
            financial => self.financial(financial, now, &mut out)?,
        }
        Ok(self.finish(out))
    }

    /// A decoded response (its MAC verified by the caller, or not used).
    pub fn response(&mut self, reply: &Message<'_>, now: Time) -> Result<Output, Error> {
        let _span = tracing::debug_span!("response", mti = reply.mti().as_str()).entered();
        let mut out = Output::default();
        let Some(flight) = self.take_matching(reply) else {
            return Ok(self.finish(out));
        };
        match flight.purpose {
            Purpose::Online(_) => self.online_reply(flight, reply, now, &mut out)?,
            Purpose::Reversal => self.reversal_reply(reply, &mut out)?,
            Purpose::Advice => self.advice_reply(&flight, reply, &mut out)?,
            Purpose::TipAdjust => self.tip_advice_reply(&flight, reply, &mut out)?,
            Purpose::SignOn => self.sign_on_reply(reply, &mut out)?,
            Purpose::Echo => out.actions.push(Action::Prompt(echo_prompt(reply))),
            Purpose::SignOff => out.actions.push(Action::Prompt(sign_off_prompt(reply))),
            Purpose::Reconcile { .. } | Purpose::Upload | Purpose::Closing => {
                self.settlement_reply(&flight, reply, now, &mut out)?
            }
        }
        self.advance(now, &mut out)?;
        Ok(self.finish(out))
    }

    /// A response whose MAC did not verify: an online request is reversed with reason A0
    /// (DESIGN §5); anything else is treated as unanswered.
    pub fn response_bad_mac(&mut self, reply: &Message<'_>, now: Time) -> Result<Output, Error> {
        let mut out = Output::default();
        let Some(flight) = self.take_matching(reply) else {
            return Ok(self.finish(out));
        };
        out.actions.push(Action::Prompt(Prompt::BadMac));
        if let Purpose::Online(kind) = flight.purpose {
            self.reverse_online(kind, crate::store::ReversalReason::BadMac, &mut out)?;
            self.advance(now, &mut out)?;
        } else {
            self.flight = Some(flight);
            self.unanswered(now, &mut out)?;
        }
        Ok(self.finish(out))
    }

    /// The deadline passed or the connection failed before an answer came.
    pub fn timeout(&mut self, now: Time) -> Result<Output, Error> {
        let _span = tracing::debug_span!("timeout", stan = ?self.flight.as_ref().map(|f| f.trace))
            .entered();
        let mut out = Output::default();
        if self.flight.is_some() {
            self.unanswered(now, &mut out)?;
        }
        Ok(self.finish(out))
    }

    /// The message in flight never left: no connection to the host could be opened (refused,
    /// or none within the connect timeout) before a byte of it was written. Unlike
    /// [`Engine::timeout`], nothing can have reached the host, so an online request's reversal,
    /// stored before the request was to leave (DESIGN §5), is dropped in one store step and the
    /// request ends [`Outcome::HostUnreachable`]. A reversal, an advice or a settlement message
    /// stays where it was, uses none of its tries and goes again later; a settlement stops with
    /// [`crate::SettleFailure::HostUnreachable`] (or the reversal's or advice's own failure).
    ///
    /// Only the caller knows that no byte was written. When it cannot tell (the connection
    /// broke while writing, or the terminal restarted between storing the reversal and
    /// connecting), the request may have reached the host: it must call [`Engine::timeout`],
    /// or, after a restart, let [`Engine::open`] send the stored reversal.
    pub fn not_sent(&mut self, now: Time) -> Result<Output, Error> {
        let _span = tracing::debug_span!("not_sent", stan = ?self.flight.as_ref().map(|f| f.trace))
            .entered();
        let mut out = Output::default();
        if self.flight.is_some() {
            self.unsent(now, &mut out)?;
        }
        Ok(self.finish(out))
    }

    /// Time passes with nothing else happening: starts a time-of-day auto-settlement when idle
    /// (DESIGN §5). Auto-settlement skips an empty batch.
    pub fn tick(&mut self, now: Time) -> Result<Output, Error> {
        let mut out = Output::default();
        let due = self.cfg.auto.time_of_day.is_some_and(|(h, m)| {
            now.minute_of_day() >= u32::from(h) * 60 + u32::from(m)
                && self.state.auto_settled_day != Some(now.day())
        });
        if due && self.is_idle() && !self.state.records.is_empty() {
            // Stored in one step with "settlement pending", so a restart later the same day
            // neither settles again nor loses the day's settlement.
            let mut ops = vec![Op::AutoSettledOn(now.day())];
            if self.state.settlement.is_none() {
                ops.push(Op::Settlement(Some(Settlement::Pending)));
            }
            self.commit(ops)?;
            tracing::debug!(batch = self.state.batch, "auto-settlement at time of day");
            out.actions.push(Action::Prompt(Prompt::AutoSettlement));
            self.start_settlement(now, &mut out)?;
        }
        Ok(self.finish(out))
    }

    /// The open batch number.
    pub fn batch(&self) -> u32 {
        self.state.batch
    }

    /// The trace number the next message will carry (1-999999; it wraps to 1). The counter is
    /// stored before any message carrying a trace number is sent (a sign-on and an echo
    /// included), so after a crash no trace number a host has seen is used again.
    pub fn next_trace_number(&self) -> u32 {
        self.state.next_trace
    }

    /// The batch log.
    pub fn records(&self) -> &[Record] {
        &self.state.records
    }

    /// The pending reversal.
    pub fn pending_reversal(&self) -> Option<&PendingReversal> {
        self.state.reversal.as_ref()
    }

    /// The settlement in progress.
    pub fn settlement(&self) -> Option<&Settlement> {
        self.state.settlement.as_ref()
    }

    /// The last settlement report, for reprint.
    pub fn last_report(&self) -> Option<&Report> {
        self.state.last_report.as_ref()
    }

    /// When an answer is due, if one is awaited.
    pub fn deadline(&self) -> Option<Time> {
        self.flight.as_ref().map(|f| f.deadline)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the store back, ending this engine (what is stored is already durable).
    pub fn into_store(self) -> S {
        self.store
    }

    /// International totals of the open batch.
    pub fn intl_totals(&self) -> Option<IntlTotals> {
        match self.totals {
            Running::Intl(t) => Some(t),
            Running::Cup(_) => None,
        }
    }

    /// UnionPay totals of the open batch.
    pub fn cup_totals(&self) -> Option<CupTotals> {
        match self.totals {
            Running::Cup(t) => Some(t),
            Running::Intl(_) => None,
        }
    }

    /// The largest 12-digit amount total of the open batch under the dialect's rules.
    pub fn max_total(&self) -> u64 {
        self.totals.max_amount()
    }

    /// Nothing in flight and nothing waiting.
    pub fn is_idle(&self) -> bool {
        self.flight.is_none() && self.parked.is_none() && !self.settling
    }

    /// Picks the next message when nothing is in flight: the one transition table of the
    /// engine's ordering rules (module docs).
    pub(crate) fn advance(&mut self, now: Time, out: &mut Output) -> Result<(), Error> {
        if self.flight.is_some() {
            return Ok(());
        }
        if self.state.reversal.is_some() {
            return self.send_reversal(now, out);
        }
        // A void waits for its sale's tip adjustment to reach the host: it carries the amount
        // the host holds.
        if let Some(i) = self.parked.as_ref().and_then(|p| self.tip_advice_before(p)) {
            return self.send_tip_advice(i, now, out);
        }
        if let Some(parked) = self.parked.take() {
            let kind = parked.kind();
            let started = match parked {
                Request::TipAdjust { invoice, tip } => self.tip_adjust(invoice, tip, now, out),
                financial => self.start_financial(financial, now, out),
            };
            return match (started, kind) {
                (Err(Error::Rejected(reason)), Some(kind)) => {
                    Self::outcome(out, Outcome::Refused { kind, reason });
                    Ok(())
                }
                (result, _) => result,
            };
        }
        if !self.settling {
            return Ok(());
        }
        let queued = |r: &Record| r.advice == crate::AdviceState::Queued || r.tip_advice.is_some();
        if let Some(i) = self.state.records.iter().position(queued) {
            return match self.state.records.get(i).and_then(|r| r.tip_advice) {
                Some(_) => self.send_tip_advice(i, now, out),
                None => self.send_advice(i, now, out),
            };
        }
        self.settlement_step(now, out)
    }

    /// Commits one step (counters always included), then mirrors it in memory.
    ///
    /// While a settlement goes on after the step, the trace counter is stored one ahead of
    /// the number the next message will take, so that message is stored before it leaves
    /// without a write of its own (see [`Engine::send`]): each settlement message follows a
    /// step of its own, and a 999-record settlement would otherwise write twice per message.
    /// A power loss then skips that one number if it was never sent; hosts refuse a trace
    /// number seen before, not a gap.
    pub(crate) fn commit(&mut self, ops: Vec<Op>) -> Result<(), Error> {
        let settling_after = ops
            .iter()
            .rev()
            .find_map(|op| match op {
                Op::Settlement(settlement) => Some(settlement.is_some()),
                _ => None,
            })
            .unwrap_or(self.state.settlement.is_some());
        // A step that writes counters of its own (the batch's close) stores them as they are.
        let own_counters = ops.iter().any(|op| matches!(op, Op::Counters { .. }));
        let next_trace = self.state.next_trace;
        let reserve = settling_after && !own_counters;
        let stored_trace = match reserve {
            true => counter_after(next_trace),
            false => next_trace,
        };
        let mut all = Vec::with_capacity(ops.len() + 1);
        all.push(counters(&self.state, stored_trace));
        all.extend(ops);
        self.store.commit(&all)?;
        for op in all {
            self.track_totals(&op);
            self.state.apply_owned(op);
        }
        self.durable_trace = self.state.next_trace;
        if reserve {
            // The next message takes the number as counted, not the one stored ahead of it.
            self.state.next_trace = next_trace;
        }
        debug_assert_eq!(
            self.totals,
            Running::of(&self.state.records, &self.cfg.dialect),
            "running totals out of step with the log"
        );
        Ok(())
    }

    /// True when every trace number taken so far is stored: the counter as stored is the
    /// one the next message takes, or one ahead of it (see [`Engine::commit`]).
    fn traces_stored(&self) -> bool {
        let next = self.state.next_trace;
        self.durable_trace == next || self.durable_trace == counter_after(next)
    }

    /// Moves the running totals by what `op` is about to change in the log.
    fn track_totals(&mut self, op: &Op) {
        let dialect = &self.cfg.dialect;
        match op {
            Op::PutRecord(record) => {
                if let Some(old) = self.state.record(record.trace) {
                    self.totals.remove(old, dialect);
                }
                self.totals.add(record, dialect);
            }
            Op::RemoveRecord(trace) => {
                if let Some(old) = self.state.record(*trace) {
                    self.totals.remove(old, dialect);
                }
            }
            Op::ClearRecords => self.totals = Running::of(&[], dialect),
            _ => {}
        }
    }

    /// Allocates a trace number (1-999999, then 1 again); stored at the latest when the
    /// message carrying it is sent (see [`Engine::send`]).
    pub(crate) fn next_trace(&mut self) -> u32 {
        let trace = self.state.next_trace;
        self.state.next_trace = counter_after(trace);
        trace
    }

    /// Allocates an invoice number.
    pub(crate) fn next_invoice(&mut self) -> u32 {
        let invoice = self.state.next_invoice;
        self.state.next_invoice = counter_after(invoice);
        invoice
    }

    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            cfg: &self.cfg,
            batch: self.state.batch,
        }
    }

    /// Builds `fields`, records the flight and emits the send action.
    pub(crate) fn send(
        &mut self,
        fields: Fields,
        trace: u32,
        purpose: Purpose,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let outgoing = self.build(fields, trace, purpose)?;
        // Write-ahead for the trace number too: a network message or a settlement step that
        // stores nothing else still takes a trace number, which must be stored before the
        // message leaves, or after a power loss the next message would reuse it (hosts match
        // replies and detect duplicates on field 11).
        if !self.traces_stored() {
            self.commit(Vec::new())?;
        }
        self.dispatch(outgoing, now, out);
        Ok(())
    }

    /// Builds and checks a message with the codec builder.
    pub(crate) fn build(
        &self,
        (mti, fields): Fields,
        trace: u32,
        purpose: Purpose,
    ) -> Result<Outgoing, Error> {
        Outgoing::build(self.cfg.dialect.spec(), mti, trace, purpose, fields)
            .map_err(|source| Error::Build { mti, source })
    }

    /// Records the flight and emits the send action.
    pub(crate) fn dispatch(&mut self, outgoing: Outgoing, now: Time, out: &mut Output) {
        let response = outgoing.mti().response().unwrap_or(outgoing.mti());
        let (trace, purpose) = (outgoing.trace(), outgoing.purpose());
        tracing::debug!(
            mti = outgoing.mti().as_str(),
            stan = trace,
            batch = self.state.batch,
            ?purpose,
            "send"
        );
        self.flight = Some(Flight {
            purpose,
            response,
            trace,
            deadline: now.plus_ms(self.cfg.response_timeout_ms),
            draft: None,
            unit: Vec::new(),
        });
        out.actions.push(Action::Send(outgoing));
    }

    fn send_network(&mut self, now: Time, purpose: Purpose, out: &mut Output) -> Result<(), Error> {
        let trace = self.next_trace();
        let fields = match purpose {
            Purpose::SignOn => self.cfg.dialect.sign_on(&self.ctx(), trace),
            Purpose::SignOff => self.cfg.dialect.sign_off(&self.ctx(), trace),
            _ => self.cfg.dialect.echo(&self.ctx(), trace),
        };
        self.send(fields, trace, purpose, now, out)
    }

    fn sign_on_reply(&mut self, reply: &Message<'_>, out: &mut Output) -> Result<(), Error> {
        if crate::dialect::response_code(reply) != "00" {
            out.actions.push(Action::Prompt(Prompt::SignOnRequired));
            return Ok(());
        }
        // The host's batch number is adopted only while no settlement is under way: a
        // settlement in progress reports the batch it started with (DESIGN §5).
        if let Some(batch) = self.cfg.dialect.host_batch(reply) {
            if batch != self.state.batch && self.state.settlement.is_none() {
                tracing::debug!(
                    batch,
                    old = self.state.batch,
                    "adopting the host's batch number"
                );
                self.state.batch = batch;
                self.commit(Vec::new())?;
            }
        }
        out.actions.push(Action::Prompt(Prompt::SignedOn));
        Ok(())
    }

    /// The flight a reply answers, or `None` (logged, dropped) when it matches nothing: a reply
    /// is never paired with a request it does not answer (DESIGN §4).
    fn take_matching(&mut self, reply: &Message<'_>) -> Option<Flight> {
        let trace = reply.field(11).and_then(|f| f.to_u64());
        // Field 41, when the reply carries it, must be this terminal's (DESIGN §4 matching).
        let terminal = reply.field(41).and_then(|f| f.as_str());
        let ours = terminal.is_none_or(|t| t == self.cfg.terminal_id);
        let matches = ours
            && self
                .flight
                .as_ref()
                .is_some_and(|f| f.response == reply.mti() && trace == Some(u64::from(f.trace)));
        if !matches {
            tracing::warn!(mti = reply.mti().as_str(), stan = ?trace, "response matches nothing in flight, dropped");
            return None;
        }
        self.flight.take()
    }

    fn finish(&self, mut out: Output) -> Output {
        out.deadline = self.deadline();
        out
    }

    /// Emits an outcome.
    pub(crate) fn outcome(out: &mut Output, outcome: Outcome) {
        out.actions.push(Action::Outcome(outcome));
    }
}

/// Only 00 is a working link; any other code (or none) is reported with it.
fn echo_prompt(reply: &Message<'_>) -> Prompt {
    match crate::dialect::response_code(reply) {
        "00" => Prompt::EchoOk,
        code => {
            tracing::warn!(code, "echo answered with a code other than 00");
            Prompt::EchoFailed(code.to_owned())
        }
    }
}

/// A sign-off answered 00 signs the terminal off; another code leaves it signed on.
fn sign_off_prompt(reply: &Message<'_>) -> Prompt {
    match crate::dialect::response_code(reply) {
        "00" => Prompt::SignedOff,
        code => {
            tracing::warn!(code, "sign-off answered with a code other than 00");
            Prompt::SignOffFailed(code.to_owned())
        }
    }
}

/// The counters of `state`, with `next_trace` as the trace counter to store.
fn counters(state: &Snapshot, next_trace: u32) -> Op {
    Op::Counters {
        batch: state.batch,
        next_trace,
        next_invoice: state.next_invoice,
    }
}

/// The largest value of the six-digit counters: trace (STAN), invoice and batch numbers run
/// from 1 to this, then start again at 1.
pub const COUNTER_MAX: u32 = 999_999;

/// The number after `n` on a six-digit counter (trace, invoice or batch number): 1-999999,
/// then 1 again.
pub fn counter_after(n: u32) -> u32 {
    if n >= COUNTER_MAX {
        1
    } else {
        n + 1
    }
}
