//! One load terminal's own account of its run: what it sent and what came of it, and the
//! final check that every sale it saw approved was settled exactly once or reversed.
//!
//! The check works from the terminal's reports alone, batch by batch, so its memory stays
//! bounded by the batch size: an approved sale waits in `awaiting` under (batch, trace) until a
//! settlement report of that batch lists its trace; a sale the engine reversed waits in
//! `reversed` until its batch closes, and must not be in that batch's report. A trace in a
//! report that waits for nothing was never approved, or was settled before: both are counted
//! as problems. Whatever still waits when the run ends was neither settled nor reversed.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use iso8583_settle::{Outcome, Printout, Prompt, Purpose, Rejected, Report, TxnKind};

use crate::step::{Fate, Notice, Printed, Shown, Status, Step};

/// Problems kept word for word; beyond this only their number is.
const PROBLEMS_KEPT: usize = 10;

/// What one terminal saw.
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) terminal: String,
    pub(crate) approved: u64,
    pub(crate) settled: u64,
    pub(crate) reversed: u64,
    pub(crate) settlements: u64,
    pub(crate) balanced: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    /// Sales the host declined, by response code (also counted in `errors`).
    pub(crate) declined: BTreeMap<String, u64>,
    pub(crate) problems: Vec<String>,
    pub(crate) problem_count: u64,
    pub(crate) unreachable: Option<String>,
    /// When its sales started and ended.
    pub(crate) sale_phase: Option<(Instant, Instant)>,
    awaiting: HashSet<(u32, u32)>,
    reversed_open: HashSet<(u32, u32)>,
    new_approvals: u64,
}

impl Tally {
    pub(crate) fn new(terminal: String) -> Tally {
        Tally {
            terminal,
            approved: 0,
            settled: 0,
            reversed: 0,
            settlements: 0,
            balanced: 0,
            errors: BTreeMap::new(),
            declined: BTreeMap::new(),
            problems: Vec::new(),
            problem_count: 0,
            unreachable: None,
            sale_phase: None,
            awaiting: HashSet::new(),
            reversed_open: HashSet::new(),
            new_approvals: 0,
        }
    }

    /// Takes in what one command did; `batch` is the batch that was open when it started.
    pub(crate) fn observe(&mut self, step: &Step, batch: u32) {
        for outcome in &step.outcomes {
            self.outcome(outcome, batch);
        }
        for exchange in &step.exchanges {
            match (exchange.fate, exchange.purpose, exchange.code.as_deref()) {
                (Fate::Answered, Purpose::Reversal, Some(code))
                    if !matches!(code, "00" | "12" | "25") =>
                {
                    self.error(&format!("reversal answered {code}"));
                }
                (Fate::Answered, ..) => {}
                (fate, ..) => self.error(fate.as_str()),
            }
        }
        for printed in &step.printed {
            match printed {
                Printed::Slip {
                    report,
                    reprint: false,
                } => self.report(report),
                Printed::Other(Printout::ReversalFailed { trace, .. }) => {
                    // Neither settled nor reversed: the host may still hold the sale.
                    self.reversed_open.retain(|(_, t)| t != trace);
                    self.problem(format!("REVERSAL FAILED for trace {trace:06}"));
                }
                _ => {}
            }
        }
        self.prompts(step);
        if step.unreachable.is_some() {
            self.error("unreachable");
        }
        if let Some(why) = &step.failure {
            self.problem(format!("terminal failure: {why}"));
        }
    }

    fn outcome(&mut self, outcome: &Outcome, batch: u32) {
        match outcome {
            Outcome::Approved {
                kind: TxnKind::Sale,
                trace,
                ..
            } => {
                self.approved += 1;
                self.new_approvals += 1;
                self.awaiting.insert((batch, *trace));
            }
            Outcome::Reversed {
                kind: TxnKind::Sale,
                trace,
                reason,
            } => {
                self.reversed_open.insert((batch, *trace));
                self.error(&format!("reversed ({reason})"));
            }
            Outcome::Declined { kind, code } => {
                if *kind == TxnKind::Sale {
                    *self.declined.entry(code.clone()).or_default() += 1;
                }
                self.error(&format!("declined {code}"));
            }
            Outcome::Refused { reason, .. } => self.error(&format!("refused: {}", refusal(reason))),
            Outcome::NotSent { .. } => self.error("not sent: reversal pending"),
            _ => {}
        }
    }

    fn prompts(&mut self, step: &Step) {
        for prompt in &step.prompts {
            match prompt {
                Shown::Local(Notice::Refused(reason)) => {
                    self.error(&format!("refused: {}", refusal(reason)));
                }
                Shown::Local(Notice::SignOnFirst) => self.error("refused: sign on first"),
                Shown::Engine(Prompt::SettlementFailed(why)) => {
                    self.error(&format!("settlement failed: {why:?}"));
                }
                _ => {}
            }
        }
    }

    /// A batch closed: each trace of its report must be an approved sale waiting for it.
    fn report(&mut self, report: &Report) {
        self.settlements += 1;
        self.balanced += u64::from(report.balanced());
        for &trace in &report.traces {
            let key = (report.batch, trace);
            if self.awaiting.remove(&key) {
                self.settled += 1;
            } else if self.reversed_open.contains(&key) {
                self.problem(format!(
                    "batch {:06}: trace {trace:06} was reversed and settled",
                    report.batch
                ));
            } else {
                self.problem(format!(
                    "batch {:06}: trace {trace:06} settled but not approved, or settled twice",
                    report.batch
                ));
            }
        }
        let before = self.reversed_open.len();
        self.reversed_open.retain(|(b, _)| *b != report.batch);
        self.reversed += (before - self.reversed_open.len()) as u64;
        let missing: Vec<_> = self
            .awaiting
            .iter()
            .filter(|(b, _)| *b == report.batch)
            .copied()
            .collect();
        for key in missing {
            self.awaiting.remove(&key);
            self.problem(format!(
                "batch {:06}: approved trace {:06} is not in its settlement report",
                key.0, key.1
            ));
        }
    }

    /// The run is over: what still waits was neither settled nor reversed.
    pub(crate) fn finish(&mut self, status: &Status) {
        if let Some(trace) = status.reversal {
            self.problem(format!("a reversal is still pending (trace {trace:06})"));
        }
        if status.settlement_pending {
            self.problem("a settlement is still pending".to_owned());
        }
        let awaiting = std::mem::take(&mut self.awaiting);
        for (batch, trace) in awaiting {
            self.problem(format!(
                "batch {batch:06}: approved trace {trace:06} was never settled"
            ));
        }
        // A reversal no longer pending went through (a failed one is a problem above): the
        // sale is reversed even though its batch never closed (it held nothing else).
        if status.reversal.is_none() {
            self.reversed += self.reversed_open.len() as u64;
            self.reversed_open.clear();
        }
    }

    /// Approvals since the last call (for the progress counters).
    pub(crate) fn take_new_approvals(&mut self) -> u64 {
        std::mem::take(&mut self.new_approvals)
    }

    pub(crate) fn error(&mut self, kind: &str) {
        match self.errors.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(kind.to_owned(), 1);
            }
        }
    }

    pub(crate) fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(format!("{}: {text}", self.terminal));
        }
    }

    /// True when the terminal's own account holds: every sale it saw approved was settled
    /// once or reversed, and nothing else went wrong. A terminal that never reached the host
    /// sold nothing, so its account holds; the run fails on its being unreachable instead.
    pub(crate) fn holds(&self) -> bool {
        self.problem_count == 0 && self.approved == self.settled
    }
}

/// True when the step says the batch must be settled now: "SETTLE SOON", storage full, or a
/// sale refused because a settlement is pending.
pub(crate) fn needs_settlement(step: &Step) -> bool {
    step.prompts.iter().any(|p| {
        matches!(
            p,
            Shown::Engine(Prompt::SettleSoon { .. } | Prompt::StorageFull)
                | Shown::Local(Notice::Refused(
                    Rejected::StorageFull { .. }
                        | Rejected::TotalsNearOverflow { .. }
                        | Rejected::SettlementPending { .. }
                ))
        )
    })
}

/// A refusal's kind, without its numbers (errors are counted by kind).
fn refusal(reason: &Rejected) -> &'static str {
    match reason {
        Rejected::StorageFull { .. } => "storage full",
        Rejected::TotalsNearOverflow { .. } => "totals near overflow",
        Rejected::SettlementPending { .. } => "settlement pending",
        Rejected::ReversalPending { .. } => "reversal pending",
        Rejected::Busy { .. } => "busy",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use iso8583_settle::{Dialect, IntlSettings, Reconciliation, Time};

    use super::*;

    fn approved(trace: u32) -> Step {
        Step {
            outcomes: vec![Outcome::Approved {
                kind: TxnKind::Sale,
                trace,
                invoice: trace,
                auth_code: "123456".into(),
            }],
            ..Step::default()
        }
    }

    fn reversed(trace: u32) -> Step {
        Step {
            outcomes: vec![Outcome::Reversed {
                kind: TxnKind::Sale,
                trace,
                reason: "98",
            }],
            ..Step::default()
        }
    }

    fn slip(batch: u32, traces: &[u32]) -> Step {
        let mut report = Report::new(
            "00000001",
            batch,
            Time(0),
            Reconciliation::Balanced,
            &[],
            &Dialect::International(IntlSettings::default()),
        );
        report.traces = traces.to_vec();
        Step {
            printed: vec![Printed::Slip {
                report,
                reprint: false,
            }],
            ..Step::default()
        }
    }

    fn idle() -> Status {
        Status::default()
    }

    #[test]
    fn settled_once_or_reversed_holds() {
        let mut t = Tally::new("00000001".into());
        t.observe(&approved(1), 1);
        t.observe(&reversed(2), 1);
        t.observe(&approved(3), 1);
        t.observe(&slip(1, &[1, 3]), 1);
        t.observe(&approved(5), 2);
        t.observe(&slip(2, &[5]), 2);
        t.finish(&idle());
        assert!(t.holds(), "{:?}", t.problems);
        assert_eq!((t.approved, t.settled, t.reversed), (3, 3, 1));
        assert_eq!(t.settlements, 2);
        assert_eq!(t.errors.get("reversed (98)"), Some(&1));
    }

    #[test]
    fn a_sale_settled_twice_or_missing_or_reversed_and_settled_fails() {
        let mut twice = Tally::new("00000001".into());
        twice.observe(&approved(1), 1);
        twice.observe(&slip(1, &[1]), 1);
        twice.observe(&slip(1, &[1]), 1);
        twice.finish(&idle());
        assert!(!twice.holds());
        assert!(
            twice.problems[0].contains("settled twice"),
            "{:?}",
            twice.problems
        );

        let mut missing = Tally::new("00000001".into());
        missing.observe(&approved(1), 1);
        missing.observe(&approved(2), 1);
        missing.observe(&slip(1, &[1]), 1);
        missing.finish(&idle());
        assert!(!missing.holds());
        assert_eq!(missing.problem_count, 1);

        let mut both = Tally::new("00000001".into());
        both.observe(&reversed(4), 1);
        both.observe(&slip(1, &[4]), 1);
        both.finish(&idle());
        assert!(both.problems[0].contains("reversed and settled"));

        let mut never = Tally::new("00000001".into());
        never.observe(&approved(9), 3);
        never.finish(&idle());
        assert!(never.problems[0].contains("never settled"));
    }

    #[test]
    fn declined_sales_are_counted_by_code_apart_from_other_declines() {
        let declined = |kind, code: &str| Step {
            outcomes: vec![Outcome::Declined {
                kind,
                code: code.into(),
            }],
            ..Step::default()
        };
        let mut t = Tally::new("00000001".into());
        t.observe(&declined(TxnKind::Sale, "03"), 1);
        t.observe(&declined(TxnKind::Sale, "03"), 1);
        t.observe(&declined(TxnKind::Sale, "94"), 1);
        t.observe(&declined(TxnKind::Refund, "05"), 1);
        t.finish(&idle());
        let by_code: Vec<_> = t.declined.iter().map(|(c, n)| (c.as_str(), *n)).collect();
        assert_eq!(by_code, [("03", 2), ("94", 1)]);
        assert_eq!(t.errors.get("declined 05"), Some(&1));
        assert!(t.holds(), "declines alone leave the account whole");
    }

    #[test]
    fn a_pending_reversal_at_the_end_fails() {
        let mut t = Tally::new("00000001".into());
        t.observe(&reversed(2), 1);
        t.finish(&Status {
            reversal: Some(2),
            ..Status::default()
        });
        assert!(!t.holds());
        assert_eq!(t.reversed, 0);
    }
}
