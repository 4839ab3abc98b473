//! Tip adjustment (international terminals, restaurants): after a sale is approved and before
//! the batch settles, the operator changes its tip. Real terminals do it offline: the record
//! takes the new tip (so the totals and a later 0320 carry the new amount) and a 0220 advice
//! tells the host, flushed with the other advices before the next 0500 (DESIGN §5, "Offline
//! advices"). Its layout is in `dialect/intl.rs`.
//!
//! Write-ahead order: the record with its new tip and the pending advice ([`TipAdvice`], with
//! its own trace) are one store step, so a crash leaves either the old tip and nothing to send,
//! or the new tip and its advice. The 0230 clears the advice in one more step: 00 and 94
//! deliver it; another code means the host kept the tip it had, and the record goes back to
//! that tip, so terminal and host still agree; no code at all, or no answer, leaves it queued
//! and stops the settlement, like any advice. A void of the sale waits for the advice (see
//! [`Engine::advance`]): it carries the amount the host holds. So does a new adjustment of a
//! sale whose advice may already have reached the host (sent, or found pending after a power
//! loss): the record could not otherwise go back to the tip the host holds if the new advice
//! is refused.

use iso8583_codec::Message;

use crate::action::{Outcome, Output, Purpose};
use crate::config::MAX_AMOUNT;
use crate::engine::{Engine, Flight, Request};
use crate::error::{Error, Rejected};
use crate::record::{AdviceState, Record, TipAdvice, TxnKind};
use crate::store::{Op, Store};
use crate::time::Time;

impl<S: Store> Engine<S> {
    /// A tip adjustment asked for by the operator: made at once, or, when the sale's earlier
    /// advice may already have reached the host, parked until that advice is answered. Its
    /// answer tells what the host holds, which a refused new advice goes back to; adjusting
    /// over it would leave the terminal guessing.
    pub(crate) fn request_tip_adjust(
        &mut self,
        invoice: u32,
        tip: u64,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let request = Request::TipAdjust { invoice, tip };
        if self.tip_advice_before(&request).is_none() {
            return self.tip_adjust(invoice, tip, now, out);
        }
        self.adjustable(invoice, tip)?;
        tracing::debug!(
            invoice,
            "tip adjustment parked behind the sale's earlier advice"
        );
        self.parked = Some(request);
        self.advance(now, out)
    }

    /// Changes the tip of the sale with `invoice` and queues the advice, in one step.
    pub(crate) fn tip_adjust(
        &mut self,
        invoice: u32,
        tip: u64,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let record = self.adjustable(invoice, tip)?.clone();
        let trace = self.next_trace();
        let advice = TipAdvice {
            trace,
            host_tip: record.host_tip(),
        };
        let adjusted = Record {
            tip,
            tip_advice: Some(advice),
            ..record
        };
        // Checked by building the advice before anything is stored (a stored value the codec
        // refuses would otherwise stop every later settlement).
        if let Some(fields) = self.cfg.dialect.tip_advice(&self.ctx(), &adjusted, trace) {
            self.build(fields, trace, Purpose::TipAdjust)?;
        }
        let sale = adjusted.trace;
        tracing::debug!(stan = trace, sale, invoice, "tip adjusted, advice queued");
        self.commit(vec![Op::put(adjusted)])?;
        let kind = TxnKind::TipAdjust;
        let (trace, invoice) = (sale, invoice);
        Self::outcome(
            out,
            Outcome::Queued {
                kind,
                trace,
                invoice,
            },
        );
        // A larger tip may reach an amount trigger (DESIGN §5, "Limits").
        self.auto_settle_if_due(now, out)
    }

    /// The sale a tip adjustment may change, after the local checks: the dialect, a pending
    /// settlement, the invoice, the record's kind and state, and the amounts.
    fn adjustable(&self, invoice: u32, tip: u64) -> Result<&Record, Error> {
        let kind = TxnKind::TipAdjust;
        if self.cfg.dialect.is_union_pay() {
            return Err(Rejected::TipAdjustUnsupported.into());
        }
        if self.state.settlement.is_some() {
            tracing::debug!(batch = self.state.batch, "refused: settlement pending");
            return Err(Rejected::SettlementPending { kind }.into());
        }
        let record = self
            .state
            .records
            .iter()
            .find(|r| r.invoice == invoice)
            .ok_or(Rejected::NoSuchRecord { invoice })?;
        if record.voided {
            return Err(Rejected::AlreadyVoided { invoice }.into());
        }
        if record.kind != TxnKind::Sale || record.advice != AdviceState::Online {
            let kind = record.kind;
            return Err(Rejected::NotAdjustable { invoice, kind }.into());
        }
        let total = record.amount.saturating_add(tip);
        if total > MAX_AMOUNT {
            return Err(Rejected::InvalidAmount(total).into());
        }
        self.check_tip_increase(tip.saturating_sub(record.tip))?;
        Ok(record)
    }

    /// A larger tip joins the sale total, which must stay below the overflow limit like a new
    /// sale's amount (DESIGN §5).
    fn check_tip_increase(&self, increase: u64) -> Result<(), Error> {
        let total = self.intl_totals().map_or(0, |t| t.sale_amount);
        let limit = self.cfg.amount_limit();
        if increase > 0 && (total >= limit || total.saturating_add(increase) > MAX_AMOUNT) {
            tracing::debug!(total, increase, limit, "refused: totals near overflow");
            let amount = increase;
            return Err(Rejected::TotalsNearOverflow {
                total,
                amount,
                limit,
            }
            .into());
        }
        Ok(())
    }

    /// Where the record sits whose tip advice must reach the host before `request` goes: a
    /// void of an adjusted sale, whose 0200 carries the amount the host holds; or a new
    /// adjustment of a sale whose advice may already have reached the host.
    pub(crate) fn tip_advice_before(&self, request: &Request) -> Option<usize> {
        let (invoice, only_if_out) = match request {
            Request::Void { invoice } => (invoice, false),
            Request::TipAdjust { invoice, .. } => (invoice, true),
            _ => return None,
        };
        self.state.records.iter().position(|r| {
            r.invoice == *invoice
                && r.tip_advice.is_some_and(|advice| {
                    !only_if_out || self.tip_advices_out.contains(&advice.trace)
                })
        })
    }

    /// Sends the tip advice of record `i`.
    pub(crate) fn send_tip_advice(
        &mut self,
        i: usize,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let Some(record) = self.state.records.get(i).cloned() else {
            return Ok(());
        };
        let Some(advice) = record.tip_advice else {
            return Ok(());
        };
        match self
            .cfg
            .dialect
            .tip_advice(&self.ctx(), &record, advice.trace)
        {
            Some(fields) => {
                if !self.tip_advices_out.contains(&advice.trace) {
                    self.tip_advices_out.push(advice.trace);
                }
                self.send(fields, advice.trace, Purpose::TipAdjust, now, out)
            }
            None => {
                // Only a store written by something else holds one in this dialect; dropping
                // it (the tip stays) keeps the settlement from waiting for ever.
                tracing::error!(stan = advice.trace, "a UnionPay record with a tip advice");
                self.commit(vec![Op::put(Record {
                    tip_advice: None,
                    ..record
                })])?;
                self.advance(now, out)
            }
        }
    }

    /// The 0230 of a tip advice (module docs).
    pub(crate) fn tip_advice_reply(
        &mut self,
        flight: &Flight,
        reply: &Message<'_>,
        out: &mut Output,
    ) -> Result<(), Error> {
        let adjusting = |r: &&Record| r.tip_advice.is_some_and(|a| a.trace == flight.trace);
        let Some(record) = self.state.records.iter().find(adjusting).cloned() else {
            return Ok(());
        };
        let Some(code) = self.advice_code(flight, reply, "tip advice", out) else {
            return Ok(());
        };
        let delivered = crate::online::advice_delivered(code);
        tracing::debug!(stan = flight.trace, code, delivered, "tip advice answered");
        let tip = match delivered {
            true => record.tip,
            false => record.host_tip(),
        };
        let updated = Record {
            tip,
            tip_advice: None,
            ..record
        };
        self.commit(vec![Op::put(updated)])?;
        self.tip_advices_out.retain(|&t| t != flight.trace);
        if !delivered {
            let kind = TxnKind::TipAdjust;
            let code = code.to_owned();
            Self::outcome(out, Outcome::Declined { kind, code });
        }
        Ok(())
    }
}
