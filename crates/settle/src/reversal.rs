//! Reversals (DESIGN §5, "Reversals"): the pending-reversal slot, filled before a reversible
//! request leaves (`online.rs`) or when a chip card declines after the host approved, sent
//! before the next online request and before settlement, and ended by 00, 12 or 25, or by the
//! last of the configured tries ("REVERSAL FAILED"). A timeout keeps it pending; so does a
//! reversal that could not be sent. Only a request known never to have left (no connection
//! could be opened, [`Engine::not_sent`]) drops its own reversal.

use iso8583_codec::Message;

use crate::action::{Action, Outcome, Output, Printout, Purpose, SettleFailure};
use crate::dialect::{field, response_code};
use crate::engine::Engine;
use crate::error::{Error, Rejected};
use crate::online::card_of;
use crate::record::{strip_track_data, AdviceState, Card, Record, TxnKind};
use crate::store::{Op, PendingReversal, ReversalReason, Store};
use crate::time::Time;

/// Fields a 0400 never repeats: track 2 and 3, PIN data, security control, PIN capture code.
const NOT_REVERSED: [u16; 5] = [26, 35, 36, 52, 53];

/// Codes that end a reversal (DESIGN §5): done, or the host never saw the original.
const REVERSAL_DONE: [&str; 3] = ["00", "12", "25"];

impl<S: Store> Engine<S> {
    /// Keep the reversal with `reason`; the outcome says the request was reversed.
    pub(crate) fn reverse_online(
        &mut self,
        kind: TxnKind,
        reason: ReversalReason,
        out: &mut Output,
    ) -> Result<(), Error> {
        let mut trace = 0;
        if let Some(mut rev) = self.state.reversal.clone() {
            trace = rev.trace;
            if rev.reason != reason {
                rev.reason = reason;
                self.commit(vec![Op::Reversal(Some(rev))])?;
            }
        }
        Self::outcome(
            out,
            Outcome::Reversed {
                kind,
                trace,
                reason: reason.code(),
            },
        );
        Ok(())
    }

    /// A chip card declined after the host approved: the record leaves the batch and the
    /// reversal slot takes the rebuilt request with reason 06, in one step, before the 0400.
    pub(crate) fn card_declined(
        &mut self,
        trace: u32,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let record = self
            .state
            .records
            .iter()
            .find(|r| {
                r.trace == trace
                    && r.advice == AdviceState::Online
                    && !r.voided
                    && r.kind != TxnKind::Void
            })
            .cloned()
            .ok_or(Rejected::NoSuchTrace { trace })?;
        if self.state.settlement.is_some() {
            return Err(Rejected::SettlementPending { kind: record.kind }.into());
        }
        if record.tip_advice.is_some() {
            // The 0400 is matched by amount (DESIGN §6), and the host may not hold the new tip.
            let invoice = record.invoice;
            return Err(Rejected::TipAdjustPending { invoice }.into());
        }
        if let Some(rev) = &self.state.reversal {
            // One reversal slot (DESIGN §5): the caller asks again once it is flushed.
            return Err(Rejected::ReversalPending { trace: rev.trace }.into());
        }
        let card = Card {
            icc: record.icc.clone(),
            ..card_of(&record)
        };
        let fields = self.cfg.dialect.request(&self.ctx(), &record, &card);
        let reversal = PendingReversal {
            reason: ReversalReason::Other,
            ..reversal_of(record.kind, &record, &fields.1)
        };
        tracing::debug!(stan = trace, "card declined after approval: reversal 06");
        self.commit(vec![Op::RemoveRecord(trace), Op::Reversal(Some(reversal))])?;
        Self::outcome(
            out,
            Outcome::Reversed {
                kind: record.kind,
                trace,
                reason: ReversalReason::Other.code(),
            },
        );
        self.advance(now, out)
    }

    /// The message in flight was never sent ([`Engine::not_sent`]).
    pub(crate) fn unsent(&mut self, now: Time, out: &mut Output) -> Result<(), Error> {
        let Some(flight) = self.flight.take() else {
            return Ok(());
        };
        tracing::debug!(stan = flight.trace, purpose = ?flight.purpose, "not sent: host unreachable");
        let failure = match flight.purpose {
            Purpose::Online(kind) => return self.online_unsent(kind, flight.trace, now, out),
            Purpose::Reversal => SettleFailure::ReversalNotDelivered,
            Purpose::Advice | Purpose::TipAdjust => SettleFailure::AdviceNotDelivered,
            Purpose::Reconcile { .. } | Purpose::Upload | Purpose::Closing => {
                SettleFailure::HostUnreachable
            }
            Purpose::SignOn | Purpose::Echo | Purpose::SignOff => return Ok(()),
        };
        self.halt(failure, out);
        Ok(())
    }

    /// An online request that never left: its reversal goes in one step, the request fails.
    fn online_unsent(
        &mut self,
        kind: TxnKind,
        trace: u32,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        // An online request leaves only when no other reversal is pending (`advance`), so the
        // slot holds this request's own; the check keeps any other.
        if self
            .state
            .reversal
            .as_ref()
            .is_some_and(|r| r.trace == trace)
        {
            self.commit(vec![Op::Reversal(None)])?;
        }
        Self::outcome(out, Outcome::HostUnreachable { kind, trace });
        self.advance(now, out)
    }

    /// Sends the pending 0400: the original's stored fields and the reason in 39.
    pub(crate) fn send_reversal(&mut self, now: Time, out: &mut Output) -> Result<(), Error> {
        let Some(rev) = self.state.reversal.clone() else {
            return Ok(());
        };
        let mut fields = rev.fields.clone();
        fields.retain(|(n, _)| *n != 39);
        fields.push(field(39, rev.reason.code()));
        fields.sort_by_key(|(n, _)| *n);
        tracing::debug!(
            stan = rev.trace,
            reason = rev.reason.code(),
            tries = rev.tries,
            "reversal"
        );
        self.send(("0400", fields), rev.trace, Purpose::Reversal, now, out)
    }

    /// The 0410: done, another try used, or dropped after the last (DESIGN §5).
    pub(crate) fn reversal_reply(
        &mut self,
        reply: &Message<'_>,
        out: &mut Output,
    ) -> Result<(), Error> {
        let code = response_code(reply);
        if REVERSAL_DONE.contains(&code) {
            tracing::debug!(code, "reversal done");
            return self.commit(vec![Op::Reversal(None)]);
        }
        self.use_reversal_try(out)
    }

    pub(crate) fn use_reversal_try(&mut self, out: &mut Output) -> Result<(), Error> {
        let Some(mut rev) = self.state.reversal.clone() else {
            return Ok(());
        };
        rev.tries += 1;
        if rev.tries < self.cfg.reversal_tries {
            return self.commit(vec![Op::Reversal(Some(rev))]);
        }
        tracing::debug!(
            stan = rev.trace,
            tries = rev.tries,
            "reversal dropped: REVERSAL FAILED"
        );
        self.commit(vec![Op::Reversal(None)])?;
        out.actions.push(Action::Print(Printout::ReversalFailed {
            trace: rev.trace,
            pan: rev.pan_masked.clone(),
            amount: rev.amount,
        }));
        Ok(())
    }
}

/// The reversal slot for a request: its fields without track, PIN and tag 57.
pub(crate) fn reversal_of(
    kind: TxnKind,
    draft: &Record,
    fields: &[(u16, Vec<u8>)],
) -> PendingReversal {
    let kept = fields
        .iter()
        .filter(|(n, _)| !NOT_REVERSED.contains(n))
        .filter_map(|(n, v)| match n {
            55 => strip_track_data(v).map(|v| (55, v)),
            _ => Some((*n, v.clone())),
        })
        .collect();
    PendingReversal {
        trace: draft.trace,
        kind,
        reason: ReversalReason::NoResponse,
        tries: 0,
        mti: draft.mti.to_string(),
        fields: kept,
        amount: draft.total(),
        pan_masked: draft.pan.masked(),
    }
}
