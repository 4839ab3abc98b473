//! The settlement report: what the slip prints when a batch closes (DESIGN §5, "Close"), kept
//! for reprint. Built from the log before it is deleted and stored with the "clearing" step, so
//! a restart prints the same report.
//!
//! Its lines follow the dialect's totals rules (DESIGN §5, "Totals"), so that a slip never
//! contradicts the totals the 0500 carried:
//! - international, voided sale dropped from the sales (`drop-from-sales`): the SALE line holds
//!   only the sales that stand, and the voided ones are listed on a VOID line of their own,
//!   counted in no total;
//! - international, void added to the refunds (`add-to-refunds`): the SALE line keeps the
//!   voided sales, and the VOID line lists them again as the refunds the totals count them as;
//! - UnionPay: the SALE line keeps the voided sales (debit), and the VOID line holds the void
//!   records (credit).
//!
//! Beside the lines, [`Report::totals`] are the totals themselves, as the 0500 carried them:
//! sales and refunds (international), or debit and credit per card group (UnionPay).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dialect::{Dialect, VoidPolicy};
use crate::record::{CardGroup, Record, TxnKind};
use crate::time::Time;
use crate::totals::{CupGroupTotals, CupTotals, IntlTotals};

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

/// One line of the slip: a card group and transaction type, counted as the dialect's totals
/// count it (module docs). The VOID line of an international report lists the voided sales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    /// Card group.
    pub group: CardGroup,
    /// Transaction type.
    pub kind: TxnKind,
    /// Number of records on the line.
    pub count: u32,
    /// Sum of amount plus tip.
    pub amount: u64,
    /// How many of them were voided afterwards (a UnionPay SALE line, or an international one
    /// under `add-to-refunds`, keeps its voided sales; under `drop-from-sales` always 0).
    pub voided: u32,
}

/// Which total a [`ReportTotal`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TotalName {
    /// International sale count and amount.
    Sales,
    /// International refund count and amount.
    Refunds,
    /// UnionPay debit: sales, completions, offline sales, voided sales included.
    Debit,
    /// UnionPay credit: voids and refunds.
    Credit,
}

impl TotalName {
    /// The slip's word for it.
    pub fn label(self) -> &'static str {
        match self {
            TotalName::Sales => "SALES",
            TotalName::Refunds => "REFUNDS",
            TotalName::Debit => "DEBIT",
            TotalName::Credit => "CREDIT",
        }
    }
}

/// One count and amount pair of the reconciliation, as the 0500 carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportTotal {
    /// The card group (UnionPay); `None` for international totals, which do not split by card.
    pub group: Option<CardGroup>,
    /// Which total.
    pub name: TotalName,
    /// Its count.
    pub count: u32,
    /// Its amount, minor units.
    pub amount: u64,
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
    /// The totals the reconciliation carried, in the 0500's order (empty in a report stored by
    /// an earlier version, which did not keep them).
    #[serde(default)]
    pub totals: Vec<ReportTotal>,
    /// Traces of every record in the closed batch, in log order (for audit and the tests'
    /// "in exactly one closed batch" check).
    pub traces: Vec<u32>,
}

impl Report {
    /// The report of `records` under `dialect`'s totals rules (module docs). The lines cover
    /// only the records in the totals ([`Record::in_totals`]): pre-auths and failed advices are
    /// left out of every line, though their traces are still in `traces`, which lists every
    /// record of the closed batch.
    pub fn new(
        terminal_id: &str,
        batch: u32,
        closed_at: Time,
        reconciliation: Reconciliation,
        records: &[Record],
        dialect: &Dialect,
    ) -> Report {
        Report {
            terminal_id: terminal_id.to_owned(),
            batch,
            closed_at,
            reconciliation,
            uploaded: records.iter().filter(|r| r.uploaded).count() as u32,
            lines: lines(records, dialect),
            totals: totals(records, dialect),
            traces: records.iter().map(|r| r.trace).collect(),
        }
    }

    /// True when the host agreed at the first reconciliation.
    pub fn balanced(&self) -> bool {
        self.reconciliation == Reconciliation::Balanced
    }
}

/// The slip's lines: each record on its kind's line, except that an international voided sale
/// goes on the VOID line instead (dropped from the sales) or as well (added to the refunds).
fn lines(records: &[Record], dialect: &Dialect) -> Vec<ReportLine> {
    let policy = match dialect {
        Dialect::International(s) => Some(s.void_policy),
        Dialect::UnionPay(_) => None,
    };
    let mut lines: BTreeMap<(CardGroup, TxnKind), ReportLine> = BTreeMap::new();
    let mut add = |r: &Record, kind: TxnKind, voided: bool| {
        let line = lines.entry((r.group, kind)).or_insert(ReportLine {
            group: r.group,
            kind,
            count: 0,
            amount: 0,
            voided: 0,
        });
        line.count += 1;
        line.amount += r.total();
        line.voided += u32::from(voided);
    };
    for r in records.iter().filter(|r| r.in_totals()) {
        let voided_sale = r.voided && r.kind != TxnKind::Void;
        match (policy, voided_sale) {
            (Some(VoidPolicy::DropFromSales), true) => add(r, TxnKind::Void, false),
            (Some(VoidPolicy::AddToRefunds), true) => {
                add(r, r.kind, true);
                add(r, TxnKind::Void, false);
            }
            _ => add(r, r.kind, r.voided),
        }
    }
    lines.into_values().collect()
}

/// The totals as the dialect computes them for the 0500 (`totals.rs`).
fn totals(records: &[Record], dialect: &Dialect) -> Vec<ReportTotal> {
    let total = |group, name, count, amount| ReportTotal {
        group,
        name,
        count,
        amount,
    };
    match dialect {
        Dialect::International(settings) => {
            let t = IntlTotals::of(records, settings);
            vec![
                total(None, TotalName::Sales, t.sale_count, t.sale_amount),
                total(None, TotalName::Refunds, t.refund_count, t.refund_amount),
            ]
        }
        Dialect::UnionPay(_) => {
            let t = CupTotals::of(records);
            let pair = |group, g: CupGroupTotals| {
                [
                    total(Some(group), TotalName::Debit, g.debit_count, g.debit_amount),
                    total(
                        Some(group),
                        TotalName::Credit,
                        g.credit_count,
                        g.credit_amount,
                    ),
                ]
            };
            let mut all = pair(CardGroup::Domestic, t.domestic).to_vec();
            all.extend(pair(CardGroup::Foreign, t.foreign));
            all
        }
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
        for total in &self.totals {
            let group = match total.group {
                Some(CardGroup::Domestic) => "DOMESTIC",
                Some(CardGroup::Foreign) => "FOREIGN",
                None => "TOTAL",
            };
            let (units, cents) = (total.amount / 100, total.amount % 100);
            writeln!(
                f,
                "{group:<9}{:<11}{:>4}{:>12}.{cents:02}",
                total.name.label(),
                total.count,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{CupSettings, IntlSettings};

    fn rec(trace: u32, kind: TxnKind, amount: u64, voided: bool) -> Record {
        Record {
            voided,
            ..crate::totals::tests::rec(trace, kind, amount)
        }
    }

    /// (kind, count, amount, voided) of each line.
    fn lines_of(report: &Report) -> Vec<(TxnKind, u32, u64, u32)> {
        let lines = report.lines.iter();
        lines
            .map(|l| (l.kind, l.count, l.amount, l.voided))
            .collect()
    }

    fn totals_of(report: &Report) -> Vec<(Option<CardGroup>, TotalName, u32, u64)> {
        let totals = report.totals.iter();
        totals
            .map(|t| (t.group, t.name, t.count, t.amount))
            .collect()
    }

    fn report(records: &[Record], dialect: &Dialect) -> Report {
        let at = Time::from_civil(2026, 12, 3, 10, 0, 0);
        Report::new(
            "TERM0001",
            1,
            at,
            Reconciliation::Balanced,
            records,
            dialect,
        )
    }

    fn intl(void_policy: VoidPolicy) -> Dialect {
        Dialect::International(IntlSettings {
            void_policy,
            ..IntlSettings::default()
        })
    }

    /// Finding 4: a voided sale is not on the SALE line under `drop-from-sales`, so the line is
    /// what the 0500 carried; the void has a line of its own.
    #[test]
    fn intl_drop_from_sales_lists_the_voided_sale_apart() {
        let records = [
            rec(1, TxnKind::Sale, 1000, false),
            rec(2, TxnKind::Sale, 2000, true),
            rec(3, TxnKind::Refund, 500, false),
        ];
        let dialect = intl(VoidPolicy::DropFromSales);
        let r = report(&records, &dialect);
        assert_eq!(
            lines_of(&r),
            [
                (TxnKind::Sale, 1, 1000, 0),
                (TxnKind::Void, 1, 2000, 0),
                (TxnKind::Refund, 1, 500, 0)
            ]
        );
        assert_eq!(
            totals_of(&r),
            [
                (None, TotalName::Sales, 1, 1000),
                (None, TotalName::Refunds, 1, 500)
            ]
        );
        let Dialect::International(settings) = &dialect else {
            unreachable!()
        };
        let sent = IntlTotals::of(&records, settings);
        assert_eq!((sent.sale_count, sent.sale_amount), (1, 1000));
        let text = r.to_string();
        assert!(
            text.contains("TOTAL    SALES         1          10.00"),
            "{text}"
        );
    }

    /// Under `add-to-refunds` the voided sale stays on the SALE line and the void is counted as
    /// a refund: the VOID line shows it, and the refund total holds refunds and voids.
    #[test]
    fn intl_add_to_refunds_keeps_the_sale_and_counts_the_void_as_a_refund() {
        let records = [
            rec(1, TxnKind::Sale, 1000, false),
            rec(2, TxnKind::Sale, 2000, true),
            rec(3, TxnKind::Refund, 500, false),
        ];
        let r = report(&records, &intl(VoidPolicy::AddToRefunds));
        assert_eq!(
            lines_of(&r),
            [
                (TxnKind::Sale, 2, 3000, 1),
                (TxnKind::Void, 1, 2000, 0),
                (TxnKind::Refund, 1, 500, 0)
            ]
        );
        assert_eq!(
            totals_of(&r),
            [
                (None, TotalName::Sales, 2, 3000),
                (None, TotalName::Refunds, 2, 2500)
            ]
        );
    }

    /// UnionPay: the voided sale stays in debit and on the SALE line; the void record is a
    /// credit on the VOID line; totals per card group, both groups as the 0500's field 48.
    #[test]
    fn cup_lines_and_totals_follow_debit_and_credit() {
        let mut void = rec(3, TxnKind::Void, 2000, false);
        void.original_trace = Some(2);
        let mut foreign = rec(4, TxnKind::Sale, 700, false);
        foreign.group = CardGroup::Foreign;
        let mut pre_auth = rec(5, TxnKind::PreAuth, 900, false);
        pre_auth.group = CardGroup::Foreign;
        let records = [
            rec(1, TxnKind::Sale, 1000, false),
            rec(2, TxnKind::Sale, 2000, true),
            void,
            foreign,
            pre_auth,
        ];
        let r = report(&records, &Dialect::UnionPay(CupSettings::default()));
        assert_eq!(
            lines_of(&r),
            [
                (TxnKind::Sale, 2, 3000, 1),
                (TxnKind::Void, 1, 2000, 0),
                (TxnKind::Sale, 1, 700, 0)
            ]
        );
        let d = Some(CardGroup::Domestic);
        let f = Some(CardGroup::Foreign);
        assert_eq!(
            totals_of(&r),
            [
                (d, TotalName::Debit, 2, 3000),
                (d, TotalName::Credit, 1, 2000),
                (f, TotalName::Debit, 1, 700),
                (f, TotalName::Credit, 0, 0)
            ]
        );
        assert_eq!(r.traces, [1, 2, 3, 4, 5]);
    }

    /// A report stored before the totals were kept reads back, with no totals.
    #[test]
    fn a_report_stored_without_totals_reads_back() {
        let r = report(
            &[rec(1, TxnKind::Sale, 1000, false)],
            &intl(VoidPolicy::default()),
        );
        let mut json = serde_json::to_value(&r).unwrap();
        json.as_object_mut().unwrap().remove("totals");
        let back: Report = serde_json::from_value(json).unwrap();
        assert!(back.totals.is_empty());
        assert_eq!(back.lines, r.lines);
    }
}
