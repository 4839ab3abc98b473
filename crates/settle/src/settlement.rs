//! The settlement state machine shared by both dialects (DESIGN §5):
//! `Pending → Reconcile (0500) → Upload(scope, cursor) → Closing (trailer or closing 0320) →
//! Clearing → Open(batch + 1)`. Each state is stored before the message it leads to; the
//! dialect answers what the 0500 says, what the upload covers and what ends it.
//!
//! "Settlement pending" is stored before the first 0500, and the reversal and advices are
//! flushed before it by [`Engine::advance`]. After a balanced reply the report is stored with
//! "clearing" before the log is deleted, so a restart finishes the clear without a second 0500.

use iso8583_codec::Message;

use crate::action::{Action, Output, Printout, Prompt, Purpose, SettleFailure};
use crate::dialect::{Scope, Verdict};
use crate::engine::{counter_after, Engine, Flight};
use crate::error::Error;
use crate::record::Record;
use crate::report::{Reconciliation, Report};
use crate::store::{Op, Settlement, Store};
use crate::time::Time;

impl<S: Store> Engine<S> {
    /// Stores "settlement pending" (unless it already is) and drives the settlement.
    pub(crate) fn start_settlement(&mut self, now: Time, out: &mut Output) -> Result<(), Error> {
        if self.state.settlement.is_none() {
            tracing::debug!(
                batch = self.state.batch,
                records = self.state.records.len(),
                "settlement pending"
            );
            self.commit(vec![Op::Settlement(Some(Settlement::Pending))])?;
        }
        self.settling = true;
        self.advance(now, out)
    }

    /// The next settlement message, once the reversal and advices are flushed.
    pub(crate) fn settlement_step(&mut self, now: Time, out: &mut Output) -> Result<(), Error> {
        match self.state.settlement.clone() {
            None => {
                self.settling = false;
                Ok(())
            }
            Some(Settlement::Pending) => {
                let trace = self.next_trace();
                let fields =
                    self.cfg
                        .dialect
                        .reconcile(&self.ctx(), &self.state.records, false, trace);
                self.send(
                    fields,
                    trace,
                    Purpose::Reconcile { trailer: false },
                    now,
                    out,
                )
            }
            Some(Settlement::Upload { scope, .. }) => self.upload_step(scope, now, out),
            Some(Settlement::Closing { scope }) => {
                let trace = self.next_trace();
                let fields =
                    self.cfg
                        .dialect
                        .finish(&self.ctx(), &self.state.records, scope, trace);
                let purpose = match self.cfg.dialect.is_union_pay() {
                    true => Purpose::Closing,
                    false => Purpose::Reconcile { trailer: true },
                };
                self.send(fields, trace, purpose, now, out)
            }
            Some(Settlement::Clearing { report }) => self.clear(report, out),
        }
    }

    /// Sends the next unit of records, or moves on to the trailer or closing 0320.
    fn upload_step(&mut self, scope: Scope, now: Time, out: &mut Output) -> Result<(), Error> {
        let unit = self.cfg.dialect.next_unit(&self.state.records, scope);
        if unit.is_empty() {
            self.commit(vec![Op::Settlement(Some(Settlement::Closing { scope }))])?;
            return self.settlement_step(now, out);
        }
        let carried = {
            let records: Vec<&Record> = unit
                .iter()
                .filter_map(|i| self.state.records.get(*i))
                .collect();
            self.cfg.dialect.upload_carries(&records)
        };
        // A UnionPay single-record 0320 carries its record's trace number in 11 (see
        // dialect/cup.rs) and takes no new one; the answer is matched on whatever 11 holds.
        let trace = carried.unwrap_or_else(|| self.next_trace());
        let records: Vec<&Record> = unit
            .iter()
            .filter_map(|i| self.state.records.get(*i))
            .collect();
        let traces: Vec<u32> = records.iter().map(|r| r.trace).collect();
        let fields = self.cfg.dialect.upload(&self.ctx(), &records, scope, trace);
        debug_assert_eq!(trace_of(&fields), Some(trace), "field 11 of the 0320");
        self.send(fields, trace, Purpose::Upload, now, out)?;
        if let Some(flight) = self.flight.as_mut() {
            flight.unit = traces;
        }
        Ok(())
    }

    /// The reply to a 0500, 0320 or the closing message.
    pub(crate) fn settlement_reply(
        &mut self,
        flight: &Flight,
        reply: &Message<'_>,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        if flight.purpose != Purpose::Upload && crate::dialect::code_of(reply).is_none() {
            // A 0510 (or closing 0330) without a code says nothing, and the host may have
            // closed its side: taken as no answer, the settlement stays pending (sales stay
            // blocked) and the next try repeats the message, which a closed batch answers 00.
            tracing::warn!(
                mti = reply.mti().as_str(),
                "reply without a response code: taken as no answer"
            );
            self.halt(SettleFailure::NoResponse, out);
            return Ok(());
        }
        let verdict = match (flight.purpose, self.state.settlement.clone()) {
            (Purpose::Reconcile { trailer: false }, _) => self.cfg.dialect.verdict(reply, false),
            (Purpose::Upload, _) => return self.upload_reply(&flight.unit, reply, out),
            (_, Some(Settlement::Closing { scope })) => {
                self.cfg.dialect.finish_verdict(reply, scope)
            }
            _ => return Ok(()),
        };
        self.apply_verdict(verdict, now, out)
    }

    /// The 0330. Answered 00, each record of the unit is marked (DESIGN §5), in one step per
    /// 0320 that also clears the refusal count. Any other code (or none) marks nothing: the
    /// refusal is stored and the same records go again in a new 0320, up to the configured
    /// upload tries; after the last the settlement stops with "UPLOAD FAILED" and the batch
    /// stays open, its upload marks cleared so the next settlement starts afresh.
    fn upload_reply(
        &mut self,
        unit: &[u32],
        reply: &Message<'_>,
        out: &mut Output,
    ) -> Result<(), Error> {
        let Some(Settlement::Upload { scope, refused }) = self.state.settlement.clone() else {
            return Ok(());
        };
        let code = crate::dialect::response_code(reply);
        if code == "00" {
            let mut ops: Vec<Op> = self
                .state
                .records
                .iter()
                .filter(|r| unit.contains(&r.trace))
                .map(|r| {
                    Op::put(Record {
                        uploaded: true,
                        ..r.clone()
                    })
                })
                .collect();
            if refused > 0 {
                let upload = Settlement::Upload { scope, refused: 0 };
                ops.push(Op::Settlement(Some(upload)));
            }
            return self.commit(ops);
        }
        let refused = refused.saturating_add(1);
        if refused < self.cfg.upload_tries {
            tracing::warn!(code, ?unit, refused, "0320 refused, sent again");
            let upload = Settlement::Upload { scope, refused };
            return self.commit(vec![Op::Settlement(Some(upload))]);
        }
        tracing::warn!(
            code,
            ?unit,
            refused,
            "0320 refused on every try: UPLOAD FAILED"
        );
        let failure = SettleFailure::UploadFailed {
            code: code.to_owned(),
        };
        self.reopen(failure, true, out)
    }

    fn apply_verdict(
        &mut self,
        verdict: Verdict,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        tracing::debug!(batch = self.state.batch, ?verdict, "reconciliation verdict");
        match verdict {
            Verdict::Close(reconciliation) => self.begin_clearing(reconciliation, now, out),
            Verdict::Upload(scope) => {
                let upload = Settlement::Upload { scope, refused: 0 };
                self.commit(vec![Op::Settlement(Some(upload))])
            }
            Verdict::Open { failure, reset } => self.reopen(failure, reset, out),
        }
    }

    /// The settlement ends with the batch still open; sales are allowed again.
    fn reopen(
        &mut self,
        failure: SettleFailure,
        reset: bool,
        out: &mut Output,
    ) -> Result<(), Error> {
        let mut ops = vec![Op::Settlement(None)];
        if reset {
            ops.extend(self.state.records.iter().filter(|r| r.uploaded).map(|r| {
                Op::put(Record {
                    uploaded: false,
                    ..r.clone()
                })
            }));
        }
        self.commit(ops)?;
        self.settling = false;
        if failure == SettleFailure::BatchMismatch {
            out.actions.push(Action::Prompt(Prompt::SignOnRequired));
        }
        out.actions
            .push(Action::Prompt(Prompt::SettlementFailed(failure)));
        Ok(())
    }

    /// Stores "clearing" with the report before the log is deleted (DESIGN §5).
    fn begin_clearing(
        &mut self,
        reconciliation: Reconciliation,
        now: Time,
        out: &mut Output,
    ) -> Result<(), Error> {
        let report = Report::new(
            &self.cfg.terminal_id,
            self.state.batch,
            now,
            reconciliation,
            &self.state.records,
            &self.cfg.dialect,
        );
        self.commit(vec![Op::Settlement(Some(Settlement::Clearing {
            report: report.clone(),
        }))])?;
        self.clear(report, out)
    }

    /// Deletes the log, opens batch + 1 (999999 wraps to 1) and prints the report.
    fn clear(&mut self, report: Report, out: &mut Output) -> Result<(), Error> {
        let batch = counter_after(report.batch);
        let ops = vec![
            Op::ClearRecords,
            Op::Counters {
                batch,
                next_trace: self.state.next_trace,
                next_invoice: self.state.next_invoice,
            },
            Op::LastReport(report.clone()),
            Op::Settlement(None),
        ];
        self.commit(ops)?;
        self.settling = false;
        self.tip_advices_out.clear();
        tracing::debug!(closed = report.batch, batch, "batch closed");
        out.actions.push(Action::Print(Printout::Report(report)));
        Ok(())
    }
}

fn trace_of((_, fields): &crate::dialect::Fields) -> Option<u32> {
    let (_, v) = fields.iter().find(|(n, _)| *n == 11)?;
    std::str::from_utf8(v).ok()?.parse().ok()
}
