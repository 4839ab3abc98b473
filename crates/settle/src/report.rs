//! The settlement report: what the slip prints when a batch closes (DESIGN §5, "Close"), kept
//! for reprint. Built from the log before it is deleted and stored with the "clearing" step, so
//! a restart prints the same report.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::record::{CardGroup, Record, TxnKind};
use crate::time::Time;

/// How the reconciliation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reconciliation {
    /// The host agreed with the terminal's totals.
    Balanced,
    /// Out of balance; the records were uploaded and the host accepted the batch.
    Uploaded,
    /// International 77: closed with "RECONCILE ERROR" on the slip.
    ReconcileError,
}

/// One line of the slip: a card group and transaction type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    /// Card group.
    pub group: CardGroup,
    /// Transaction type.
    pub kind: TxnKind,
    /// Number of records (voided ones included; see `voided`).
    pub count: u32,
    /// Sum of amount plus tip.
    pub amount: u64,
    /// How many of them were voided.
    pub voided: u32,
}

/// A closed batch's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Terminal id.
    pub terminal_id: String,
    /// The batch closed.
    pub batch: u32,
    /// When it closed.
    pub closed_at: Time,
    /// The outcome.
    pub reconciliation: Reconciliation,
    /// Records uploaded.
    pub uploaded: u32,
    /// Lines per card group and type, in that order.
    pub lines: Vec<ReportLine>,
    /// Traces of every record in the closed batch, in log order (for audit and the tests'
    /// "in exactly one closed batch" check).
    pub traces: Vec<u32>,
}

impl Report {
    /// The report of `records`. The lines cover only the records in the totals
    /// ([`Record::in_totals`]): pre-auths and failed advices are left out of every line, though
    /// their traces are still in `traces`, which lists every record of the closed batch.
    pub fn new(
        terminal_id: &str,
        batch: u32,
        closed_at: Time,
        reconciliation: Reconciliation,
        records: &[Record],
    ) -> Report {
        let mut lines: BTreeMap<(CardGroup, TxnKind), ReportLine> = BTreeMap::new();
        for r in records.iter().filter(|r| r.in_totals()) {
            let line = lines.entry((r.group, r.kind)).or_insert(ReportLine {
                group: r.group,
                kind: r.kind,
                count: 0,
                amount: 0,
                voided: 0,
            });
            line.count += 1;
            line.amount += r.total();
            line.voided += u32::from(r.voided);
        }
        Report {
            terminal_id: terminal_id.to_owned(),
            batch,
            closed_at,
            reconciliation,
            uploaded: records.iter().filter(|r| r.uploaded).count() as u32,
            lines: lines.into_values().collect(),
            traces: records.iter().map(|r| r.trace).collect(),
        }
    }

    /// True when the host agreed at the first reconciliation.
    pub fn balanced(&self) -> bool {
        self.reconciliation == Reconciliation::Balanced
    }
}

/// The slip text.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "SETTLEMENT REPORT")?;
        writeln!(f, "TERMINAL {}  BATCH {:06}", self.terminal_id, self.batch)?;
        writeln!(f, "{}", self.closed_at.display())?;
        for line in &self.lines {
            let group = match line.group {
                CardGroup::Domestic => "DOMESTIC",
                CardGroup::Foreign => "FOREIGN",
            };
            let (units, cents) = (line.amount / 100, line.amount % 100);
            writeln!(
                f,
                "{group:<9}{:<11}{:>4}{:>12}.{cents:02}",
                line.kind.label(),
                line.count,
                units
            )?;
        }
        let verdict = match self.reconciliation {
            Reconciliation::Balanced => "BALANCED",
            Reconciliation::Uploaded => "NOT BALANCED, UPLOADED",
            Reconciliation::ReconcileError => "RECONCILE ERROR",
        };
        writeln!(f, "{verdict}")
    }
}
