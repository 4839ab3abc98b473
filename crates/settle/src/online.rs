//! Online requests and advices (DESIGN §5, "Write-ahead order"); the reversals they may need
//! are in `reversal.rs`, tip adjustments in `adjust.rs`.
//!
//! A reversible request (0100, 0200: sales, voids, refunds, pre-auths, their voids and
//! completions) is stored as the pending reversal, reason 98, with its trace already advanced,
//! before it leaves; the matching approval clears it and adds the record (or marks the voided
//! original) in one step, and only then is the outcome shown. Advices (offline sales, UnionPay
//! refunds) are stored first and sent afterwards. Limits are checked before anything is
//! stored.

use iso8583_codec::Message;

use crate::action::{Action, Outcome, Output, Prompt, Purpose, SettleFailure};
use crate::config::MAX_AMOUNT;
use crate::dialect::code_of;
use crate::engine::{Engine, Flight, Request};
use crate::error::{Error, Rejected};
use crate::record::{strip_track_data, AdviceState, Card, Record, RefundOriginal, TxnKind};
use crate::short::ShortStr;
use crate::store::{Op, ReversalReason, Store};
use crate::time::Time;

impl<S: Store> Engine<S> {
    /// Checks a financial request and sends it, or parks it behind the pending reversal.
    pub(crate) fn financial(
        &mut self,
        request: Request,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        self.check(&request)?;
        if let Some(rev) = &self.state.reversal {
            // DESIGN §5: the reversal goes before the next online request.
            tracing::debug!(
                stan = rev.trace,
                "request parked behind the pending reversal"
            );
            self.parked = Some(request);
            return self.advance(now, out);
        }
        if self.tip_advice_before(&request).is_some() {
            tracing::debug!("void parked behind its sale's tip adjustment advice");
            self.parked = Some(request);
            return self.advance(now, out);
        }
        self.start_financial(request, now, out)
    }

    /// The local checks, in the order a terminal applies them (DESIGN §5, "Storage full").
    fn check(&self, request: &Request) -> Result<(), Error> {
        let Some(kind) = request.kind() else {
            return Ok(());
        };
        if self.state.settlement.is_some() {
            tracing::debug!(
                ?kind,
                batch = self.state.batch,
                "refused: settlement pending"
            );
            return Err(Rejected::SettlementPending { kind }.into());
        }
        let amount = amount_of(request, &self.state.records);
        if kind.adds_record(self.cfg.dialect.is_union_pay()) {
            self.check_room(kind, amount)?;
        } else if let (TxnKind::Void, Some(refunds)) = (kind, self.refunds_a_void_adds_to()) {
            // Such a void adds to the refund total, which must stay within 12 digits too.
            self.check_amount(kind, refunds, amount)?;
        }
        match request {
            Request::Void { invoice } => self.voidable(*invoice).map(drop),
            Request::VoidPreAuth { invoice } => self.pre_auth_voidable(*invoice).map(drop),
            Request::Completion { auth_code, .. } => self.completable(auth_code),
            _ => Ok(()),
        }
    }

    fn check_room(&self, kind: TxnKind, amount: u64) -> Result<(), Error> {
        let count = self.state.records.len() as u16;
        if count >= self.cfg.capacity {
            tracing::debug!(
                ?kind,
                count,
                capacity = self.cfg.capacity,
                "refused: storage full"
            );
            return Err(Rejected::StorageFull {
                count,
                capacity: self.cfg.capacity,
            }
            .into());
        }
        self.check_amount(kind, self.max_total(), amount)
    }

    /// The refund total, when an international void keeps the sale and adds a refund
    /// (DESIGN §5, "Totals").
    fn refunds_a_void_adds_to(&self) -> Option<u64> {
        match &self.cfg.dialect {
            crate::Dialect::International(s)
                if s.void_policy == crate::VoidPolicy::AddToRefunds =>
            {
                self.intl_totals().map(|t| t.refund_amount)
            }
            _ => None,
        }
    }

    /// `amount` may join `total` (the amount total it goes into, or the largest one).
    fn check_amount(&self, kind: TxnKind, total: u64, amount: u64) -> Result<(), Error> {
        if amount == 0 || amount > MAX_AMOUNT {
            return Err(Rejected::InvalidAmount(amount).into());
        }
        let limit = self.cfg.amount_limit();
        if total >= limit || total + amount > MAX_AMOUNT {
            tracing::debug!(?kind, total, amount, limit, "refused: totals near overflow");
            return Err(Rejected::TotalsNearOverflow {
                total,
                amount,
                limit,
            }
            .into());
        }
        Ok(())
    }

    /// The record of invoice `invoice` a void would cancel (not itself a void).
    fn original(&self, invoice: u32) -> Result<&Record, Error> {
        let record = self
            .state
            .records
            .iter()
            .find(|r| r.invoice == invoice && r.kind != TxnKind::Void);
        Ok(record.ok_or(Rejected::NoSuchRecord { invoice })?)
    }

    fn voidable(&self, invoice: u32) -> Result<&Record, Error> {
        let record = self.original(invoice)?;
        if record.voided {
            return Err(Rejected::AlreadyVoided { invoice }.into());
        }
        let online = record.advice == AdviceState::Online;
        if !online || !matches!(record.kind, TxnKind::Sale | TxnKind::Completion) {
            return Err(Rejected::NotVoidable {
                invoice,
                kind: record.kind,
            }
            .into());
        }
        Ok(record)
    }

    /// The pre-auth a [`Request::VoidPreAuth`] names: an approved online one, not voided.
    fn pre_auth_voidable(&self, invoice: u32) -> Result<&Record, Error> {
        let record = self.original(invoice)?;
        if record.kind != TxnKind::PreAuth || record.advice != AdviceState::Online {
            return Err(Rejected::NotVoidable {
                invoice,
                kind: record.kind,
            }
            .into());
        }
        if record.voided {
            return Err(Rejected::AlreadyVoided { invoice }.into());
        }
        Ok(record)
    }

    /// A completion may not name (by approval code) a pre-auth of the open batch that was
    /// voided, unless another with that code still stands. A code the log does not hold is the
    /// host's to judge: the pre-auth may be from an earlier batch, or given by voice.
    fn completable(&self, auth_code: &str) -> Result<(), Error> {
        let mut named = self
            .state
            .records
            .iter()
            .filter(|r| r.kind == TxnKind::PreAuth && r.auth_code == auth_code);
        let voided = named.clone().find(|r| r.voided);
        match (voided, named.any(|r| !r.voided)) {
            (Some(r), false) => {
                tracing::debug!(
                    invoice = r.invoice,
                    "refused: completion of a voided pre-auth"
                );
                Err(Rejected::PreAuthVoided { invoice: r.invoice }.into())
            }
            _ => Ok(()),
        }
    }

    /// Stores and sends a checked request.
    pub(crate) fn start_financial(
        &mut self,
        request: Request,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let Some(kind) = request.kind() else {
            return Ok(());
        };
        let (draft, card) = self.draft(request, now)?;
        if draft.mti == "0220" {
            // Checked by building the advice before anything is stored.
            let fields = self.cfg.dialect.advice(&self.ctx(), &draft);
            self.build(fields, draft.trace, Purpose::Advice)
                .map_err(card_error)?;
            return self.queue_advice(draft, now, out);
        }
        let fields = self.cfg.dialect.request(&self.ctx(), &draft, &card);
        let reversal = crate::reversal::reversal_of(kind, &draft, &fields.1);
        // Card data the codec refuses is the operator's problem, found before anything is
        // stored or sent.
        let outgoing = self
            .build(fields, draft.trace, Purpose::Online(kind))
            .map_err(card_error)?;
        self.commit(vec![Op::Reversal(Some(reversal))])?;
        self.dispatch(outgoing, now, out);
        if let Some(flight) = self.flight.as_mut() {
            flight.draft = Some(draft);
        }
        Ok(())
    }

    /// The record the request will add if approved, and the card for the request itself.
    fn draft(&mut self, request: Request, now: Time) -> Result<(Record, Card), Error> {
        let kind = request.kind().unwrap_or(TxnKind::Sale);
        let (mti, code) = self.cfg.dialect.codes(kind);
        let Parts {
            card,
            amount,
            tip,
            auth_code,
            original,
            refund_of,
        } = self.parts(request)?;
        let trace = self.next_trace();
        // A request that adds no record of its own (an international void, a pre-auth void)
        // keeps the original's invoice.
        let invoice = match (&original, kind.adds_record(self.cfg.dialect.is_union_pay())) {
            (Some(o), false) => o.invoice,
            _ => self.next_invoice(),
        };
        // Pre-authorisations, their voids and their completions carry condition code 06.
        let pre_auth = [TxnKind::PreAuth, TxnKind::Completion, TxnKind::PreAuthVoid];
        let condition = if pre_auth.contains(&kind) { "06" } else { "00" };
        let advice = if mti == "0220" {
            AdviceState::Queued
        } else {
            AdviceState::Online
        };
        let draft = Record {
            trace,
            invoice,
            kind,
            mti: ShortStr::ours(mti),
            processing_code: ShortStr::ours(code),
            amount,
            tip,
            rrn: original.as_ref().map(|o| o.rrn).unwrap_or_default(),
            auth_code: operator_value(&auth_code, 38)?,
            response_code: ShortStr::ours("00"),
            date: ShortStr::ours(&now.mmdd()),
            time: ShortStr::ours(&now.hhmmss()),
            expiry: card
                .expiry
                .as_deref()
                .map(|e| operator_value(e, 14))
                .transpose()?,
            entry_mode: operator_value(&card.entry_mode, 22)?,
            condition_code: ShortStr::ours(condition),
            group: card.group,
            pan: card.pan.clone(),
            icc: card.icc.as_deref().and_then(strip_track_data),
            original_trace: original.as_ref().map(|o| o.trace),
            voided: false,
            advice,
            uploaded: false,
            refund_of,
            tip_advice: None,
        };
        Ok((draft, card))
    }

    /// What a request contributes to its record; a void takes it from the original.
    fn parts(&self, request: Request) -> Result<Parts, Error> {
        let simple = |card, amount, tip, auth_code| Parts {
            card,
            amount,
            tip,
            auth_code,
            original: None,
            refund_of: None,
        };
        Ok(match request {
            Request::Sale { card, amount, tip } => simple(card, amount, tip, String::new()),
            Request::Refund { card, amount } | Request::PreAuth { card, amount } => {
                simple(card, amount, 0, String::new())
            }
            Request::RefundOf {
                card,
                amount,
                original,
            } => Parts {
                refund_of: Some(Box::new(original)),
                ..simple(card, amount, 0, String::new())
            },
            Request::Completion {
                card,
                amount,
                auth_code,
            }
            | Request::OfflineSale {
                card,
                amount,
                auth_code,
            } => simple(card, amount, 0, auth_code),
            Request::Void { invoice } | Request::VoidPreAuth { invoice } => {
                let original = match request {
                    Request::VoidPreAuth { .. } => self.pre_auth_voidable(invoice)?,
                    _ => self.voidable(invoice)?,
                }
                .clone();
                Parts {
                    card: card_of(&original),
                    amount: original.amount,
                    tip: original.tip,
                    auth_code: original.auth_code.to_string(),
                    original: Some(original),
                    refund_of: None,
                }
            }
            _ => return Err(Rejected::NoSuchRecord { invoice: 0 }.into()),
        })
    }

    /// Stores an advice record; a UnionPay refund is then sent at once (DESIGN §5, dialect C),
    /// an offline sale waits for the flush before settlement.
    fn queue_advice(&mut self, draft: Record, now: Time, out: &mut Output) -> Result<(), Error> {
        let (kind, trace, invoice) = (draft.kind, draft.trace, draft.invoice);
        self.commit(vec![Op::put(draft)])?;
        tracing::debug!(?kind, stan = trace, "advice queued");
        Self::outcome(
            out,
            Outcome::Queued {
                kind,
                trace,
                invoice,
            },
        );
        self.after_record_added(now, out)?;
        if kind == TxnKind::Refund && self.flight.is_none() {
            if let Some(i) = self.state.records.iter().position(|r| r.trace == trace) {
                return self.send_advice(i, now, out);
            }
        }
        Ok(())
    }

    /// The answer to an online request.
    pub(crate) fn online_reply(
        &mut self,
        flight: Flight,
        reply: &Message<'_>,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let Some(mut draft) = flight.draft else {
            return Ok(());
        };
        // A reply without a code may hide an approval: the customer could be charged while
        // the terminal keeps nothing, so it is reversed, never taken as a decline.
        let Some(code) = code_of(reply) else {
            tracing::warn!(
                stan = draft.trace,
                "reply without a response code: reversed with 06"
            );
            return self.untrustworthy(draft.kind, out);
        };
        if code == "00" {
            if let Some(replied) = other_amount(reply, draft.total()) {
                tracing::warn!(
                    stan = draft.trace,
                    sent = draft.total(),
                    replied,
                    "approval for another amount: reversed with 06"
                );
                return self.untrustworthy(draft.kind, out);
            }
        }
        if code != "00" {
            self.commit(vec![Op::Reversal(None)])?;
            tracing::debug!(stan = draft.trace, code, "declined");
            if code == "A0" {
                out.actions.push(Action::Prompt(Prompt::SignOnRequired));
            }
            Self::outcome(
                out,
                Outcome::Declined {
                    kind: draft.kind,
                    code: code.to_owned(),
                },
            );
            return Ok(());
        }
        draft.rrn = text(reply, 37).unwrap_or(draft.rrn);
        draft.auth_code = text(reply, 38).unwrap_or(draft.auth_code);
        let (kind, trace, invoice, auth_code) = (
            draft.kind,
            draft.trace,
            draft.invoice,
            draft.auth_code.to_string(),
        );
        self.commit(self.approval_ops(draft))?;
        Self::outcome(
            out,
            Outcome::Approved {
                kind,
                trace,
                invoice,
                auth_code,
            },
        );
        if kind.adds_record(self.cfg.dialect.is_union_pay()) {
            self.after_record_added(now, out)?;
        }
        Ok(())
    }

    /// Clear the reversal and add the record (and mark the voided original) in one step.
    fn approval_ops(&self, draft: Record) -> Vec<Op> {
        let mut ops = vec![Op::Reversal(None)];
        if let Some(original) = draft.original_trace {
            if let Some(o) = self.state.records.iter().find(|r| r.trace == original) {
                ops.push(Op::put(Record {
                    voided: true,
                    ..o.clone()
                }));
            }
        }
        if draft.kind.adds_record(self.cfg.dialect.is_union_pay()) {
            ops.push(Op::put(draft));
        }
        ops
    }

    /// Prompts and auto-settlement triggers after a record was added (DESIGN §5, "Limits").
    fn after_record_added(&mut self, now: Time, out: &mut Output) -> Result<(), Error> {
        let count = self.state.records.len() as u16;
        if count >= self.cfg.capacity {
            out.actions.push(Action::Prompt(Prompt::StorageFull));
        } else if count >= self.cfg.warn_at {
            out.actions.push(Action::Prompt(Prompt::SettleSoon {
                count,
                capacity: self.cfg.capacity,
            }));
        }
        self.auto_settle_if_due(now, out)
    }

    /// Starts a settlement when a count, amount or overflow trigger holds and none is stored
    /// (DESIGN §5, "Limits"). Also called on open: a crash between the step that added the
    /// record and "settlement pending" must not lose the settlement the record forced.
    pub(crate) fn auto_settle_if_due(&mut self, now: Time, out: &mut Output) -> Result<(), Error> {
        let count = self.state.records.len() as u16;
        let total = self.max_total();
        let auto = self.cfg.auto;
        let forced = total >= self.cfg.amount_limit();
        let by_count = auto.count.is_some_and(|c| count >= c);
        let by_amount = auto.amount.is_some_and(|a| total >= a);
        if (forced || by_count || by_amount) && self.state.settlement.is_none() {
            tracing::debug!(forced, by_count, by_amount, count, total, "auto-settlement");
            if forced {
                out.actions.push(Action::Prompt(Prompt::StorageFull));
            }
            out.actions.push(Action::Prompt(Prompt::AutoSettlement));
            self.start_settlement(now, out)?;
        }
        Ok(())
    }

    /// A reply that cannot be trusted: the reversal is kept with reason 06 (DESIGN §5, "06
    /// other") and sent next; the operator is told the transaction failed, not that the host
    /// declined it.
    fn untrustworthy(&mut self, kind: TxnKind, out: &mut Output) -> Result<(), Error> {
        out.actions.push(Action::Prompt(Prompt::InvalidResponse));
        self.reverse_online(kind, ReversalReason::Other, out)
    }

    /// Sends the advice of record `i`, with its own trace so a repeat is seen as one (94).
    pub(crate) fn send_advice(
        &mut self,
        i: usize,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let Some(record) = self.state.records.get(i).cloned() else {
            return Ok(());
        };
        let fields = self.cfg.dialect.advice(&self.ctx(), &record);
        self.send(fields, record.trace, Purpose::Advice, now, out)
    }

    /// The 0230: 00 and 94 deliver; another code fails the advice, out of the totals, and the
    /// operator is told (the refund or offline sale was shown as queued); no code at all
    /// changes nothing and stops the settlement, so the advice is sent again.
    pub(crate) fn advice_reply(
        &mut self,
        flight: &Flight,
        reply: &Message<'_>,
        out: &mut Output,
    ) -> Result<(), Error> {
        let answered = |r: &&Record| r.trace == flight.trace;
        let Some(record) = self.state.records.iter().find(answered).cloned() else {
            return Ok(());
        };
        let Some(code) = self.advice_code(flight, reply, "advice", out) else {
            return Ok(());
        };
        let advice = if advice_delivered(code) {
            AdviceState::Delivered
        } else {
            AdviceState::Failed
        };
        tracing::debug!(stan = flight.trace, code, ?advice, "advice answered");
        // A delivered advice keeps its original response code: its 0320 carries that in 39
        // (DESIGN §5, dialect I), and a 94 only says the host had it already.
        let response_code = match advice {
            AdviceState::Failed => ShortStr::ours(code),
            _ => record.response_code,
        };
        let updated = Record {
            advice,
            response_code,
            ..record
        };
        let kind = updated.kind;
        self.commit(vec![Op::put(updated)])?;
        if advice == AdviceState::Failed {
            let code = code.to_owned();
            Self::outcome(out, Outcome::Declined { kind, code });
        }
        Ok(())
    }

    /// No answer (timeout, connection lost, or an unverifiable reply to a non-online message).
    pub(crate) fn unanswered(&mut self, now: Time, out: &mut Output) -> Result<(), Error> {
        let Some(flight) = self.flight.take() else {
            return Ok(());
        };
        tracing::debug!(stan = flight.trace, purpose = ?flight.purpose, "no answer");
        match flight.purpose {
            Purpose::Online(kind) => {
                out.actions.push(Action::Prompt(Prompt::NoResponse));
                self.reverse_online(kind, ReversalReason::NoResponse, out)?;
                // Real terminals send the 0400 right away; if it too goes unanswered, it stays.
                return self.advance(now, out);
            }
            Purpose::Reversal => {
                if self.cfg.count_timeouts_as_tries {
                    self.use_reversal_try(out)?;
                }
                self.halt(SettleFailure::ReversalNotDelivered, out);
            }
            Purpose::Advice | Purpose::TipAdjust => {
                self.halt(SettleFailure::AdviceNotDelivered, out)
            }
            Purpose::Reconcile { .. } | Purpose::Upload | Purpose::Closing => {
                self.halt(SettleFailure::NoResponse, out)
            }
            Purpose::SignOn | Purpose::Echo | Purpose::SignOff => {}
        }
        Ok(())
    }

    /// The response code of the 0230 answering an advice (`what`, for the log). Without one
    /// the advice is neither delivered nor failed: it stays queued, in the totals, and is sent
    /// again; like a timeout, that stops the settlement (DESIGN §5, dialect C), and `None`.
    pub(crate) fn advice_code<'r>(
        &mut self,
        flight: &Flight,
        reply: &'r Message<'_>,
        what: &'static str,
        out: &mut Output,
    ) -> Option<&'r str> {
        let code = code_of(reply);
        if code.is_none() {
            tracing::warn!(
                stan = flight.trace,
                what,
                "0230 without a response code: the advice stays queued"
            );
            self.halt(SettleFailure::AdviceNotDelivered, out);
        }
        code
    }

    /// Stops the drive until the operator asks again: a parked request is not sent, and a
    /// settlement stays pending (sales stay blocked; DESIGN §8 "no answer to 0500").
    pub(crate) fn halt(&mut self, failure: SettleFailure, out: &mut Output) {
        if let Some(parked) = self.parked.take() {
            let advice = self
                .tip_advice_before(&parked)
                .and_then(|i| self.state.records.get(i))
                .and_then(|r| r.tip_advice);
            let outcome = match (parked.kind(), &self.state.reversal, advice) {
                (Some(kind), None, Some(advice)) => Some(Outcome::TipAdviceNotDelivered {
                    kind,
                    advice_trace: advice.trace,
                }),
                (Some(kind), rev, _) => Some(Outcome::NotSent {
                    kind,
                    reversal_trace: rev.as_ref().map_or(0, |r| r.trace),
                }),
                (None, ..) => None,
            };
            if let Some(outcome) = outcome {
                Self::outcome(out, outcome);
            }
        }
        if self.settling {
            self.settling = false;
            out.actions
                .push(Action::Prompt(Prompt::SettlementFailed(failure)));
        }
    }
}

/// The parts of a financial request that go into its record.
struct Parts {
    card: Card,
    amount: u64,
    tip: u64,
    auth_code: String,
    original: Option<Record>,
    refund_of: Option<Box<RefundOriginal>>,
}

fn amount_of(request: &Request, records: &[Record]) -> u64 {
    match request {
        Request::Sale { amount, tip, .. } => amount.saturating_add(*tip),
        Request::Refund { amount, .. }
        | Request::RefundOf { amount, .. }
        | Request::PreAuth { amount, .. }
        | Request::Completion { amount, .. }
        | Request::OfflineSale { amount, .. } => *amount,
        Request::Void { invoice } | Request::VoidPreAuth { invoice } => records
            .iter()
            .find(|r| r.invoice == *invoice)
            .map_or(1, Record::total),
        _ => 0,
    }
}

/// An advice answered 00, or 94 (the host already has it), was delivered (DESIGN §5); any other
/// code declines it.
pub(crate) fn advice_delivered(code: &str) -> bool {
    code == "00" || code == "94"
}

/// A void is sent with the original's card details from the log (PAN, expiry, entry mode).
pub(crate) fn card_of(r: &Record) -> Card {
    Card {
        pan: r.pan.clone(),
        expiry: r.expiry.map(String::from),
        entry_mode: r.entry_mode.to_string(),
        group: r.group,
        track2: None,
        pin_block: None,
        icc: None,
    }
}

fn card_error(e: Error) -> Error {
    match e {
        Error::Build { source, .. } => Rejected::BadCardData {
            field: source.field().map_or(0, |f| f.field),
            why: source.to_string(),
        }
        .into(),
        other => other,
    }
}

/// Field 4 of a reply when it is there and is not `sent` (an unreadable one included).
fn other_amount(reply: &Message<'_>, sent: u64) -> Option<String> {
    let field = reply.field(4)?;
    let amount = field.to_u64();
    (amount != Some(sent)).then(|| String::from_utf8_lossy(&field.to_vec()).into_owned())
}

/// A reply's text field, when it fits the record's (the spec gives 37 and 38 exactly that
/// width, so a wider one is not read).
fn text<const N: usize>(reply: &Message<'_>, n: u16) -> Option<ShortStr<N>> {
    reply
        .field(n)
        .and_then(|f| f.as_str())
        .and_then(ShortStr::new)
}

/// A value the operator or the card brought (approval code, expiry, entry mode), for the
/// record: one wider than its field is refused like any card data the codec refuses.
fn operator_value<const N: usize>(text: &str, field: u16) -> Result<ShortStr<N>, Error> {
    ShortStr::new(text).ok_or_else(|| {
        let why = format!("{} characters, the field holds {N}", text.len());
        Rejected::BadCardData { field, why }.into()
    })
}
