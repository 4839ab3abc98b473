//! A read-only copy of the books for tests and tools: [`LedgerView`], per terminal its open
//! batch and its closed batches with their totals, every record with its state.
//!
//! The view makes "every approved sale is either settled once or reversed" checkable:
//! [`TerminalView::settlements_of`] counts in how many closed batches a trace number was
//! settled, and [`TerminalView::record`] finds its state in the open batch. PANs appear masked.
//!
//! "Settled" has one meaning throughout: a record on the *sale side of its batch's totals*
//! (DESIGN §5, "Totals") in a closed batch: a sale, completion or offline sale, approved, or
//! voided where the dialect still counts it (UnionPay always: a voided sale stays in debit;
//! international only under [`VoidPolicy::Refund`]). Refunds, voids, pre-auths, reversed and
//! unconfirmed records are never settled sales. So [`BatchView::settled`] and
//! [`BatchView::settled_amount`] are always the sale count and amount of [`BatchView::totals`]
//! (UnionPay: the debit count and amount of both card groups).

use crate::config::{Dialect, VoidPolicy};
use crate::ledger::{is_settled, Book, CardGroup, CloseResult, Closed, Rec, RecordState, TxnKind};
use crate::totals::Totals;

/// The books of every terminal, copied at one moment (each terminal's under its own lock).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LedgerView {
    /// Per terminal, in terminal id order.
    pub terminals: Vec<TerminalView>,
}

impl LedgerView {
    /// The terminal with this id.
    pub fn terminal(&self, id: &str) -> Option<&TerminalView> {
        self.terminals.iter().find(|t| t.terminal == id)
    }
}

/// One terminal's books.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TerminalView {
    /// Terminal id (field 41).
    pub terminal: String,
    /// Its dialect.
    pub dialect: Dialect,
    /// Whether it is signed on.
    pub signed_on: bool,
    /// The host's batch number for it (UnionPay: issued at sign-on; international: the batch
    /// of the last 0500).
    pub batch: u32,
    /// The open batch's records, in arrival order.
    pub open: Vec<RecordView>,
    /// The open batch's totals as the host counts them.
    pub open_totals: Totals,
    /// Whether a settlement is under way: `idle`, `uploading` or `balanced`.
    pub settling: &'static str,
    /// Closed batches, oldest first.
    pub closed: Vec<BatchView>,
}

impl TerminalView {
    /// How many closed batches settled a sale of this trace number (see the module docs:
    /// on the sale side of the batch's totals), among those whose records the host still
    /// holds (the last 16: see [`BatchView::records_kept`]).
    pub fn settlements_of(&self, trace: u32) -> usize {
        self.closed
            .iter()
            .filter(|b| b.records.iter().any(|r| r.trace == trace && r.is_settled()))
            .count()
    }

    /// The newest open-batch record with this trace number.
    pub fn record(&self, trace: u32) -> Option<&RecordView> {
        self.open.iter().rev().find(|r| r.trace == trace)
    }

    /// The last closed batch.
    pub fn last_closed(&self) -> Option<&BatchView> {
        self.closed.last()
    }

    /// Sales settled in all closed batches, and their amount (the sum of
    /// [`BatchView::settled`] and [`BatchView::settled_amount`]): with the open batch, what a
    /// terminal's own count of its approved sales must match.
    pub fn settled(&self) -> (u64, u64) {
        self.closed
            .iter()
            .fold((0, 0), |(n, a), b| (n + b.settled, a + b.settled_amount))
    }
}

/// A closed batch.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchView {
    /// Batch number.
    pub batch: u32,
    /// How it closed.
    pub result: CloseResult,
    /// Its totals, by the host's count.
    pub totals: Totals,
    /// The upload count the UnionPay closing 0320 claimed.
    pub claimed_uploads: Option<u32>,
    /// Records uploaded (0320) before it closed.
    pub uploads_received: usize,
    /// Sales it settled (see [`RecordView::is_settled`]): the sale count of its totals
    /// (UnionPay: the debit count of both card groups).
    pub settled: u64,
    /// Their amount, minor units: the sale amount of its totals (UnionPay: the debit amount
    /// of both card groups).
    pub settled_amount: u64,
    /// Whether `records` holds its records: the host keeps them in memory for a terminal's
    /// last 16 closed batches only (older ones stay in the ledger database), so that a long
    /// run's memory does not grow with every sale.
    pub records_kept: bool,
    /// Its records (empty unless `records_kept`).
    pub records: Vec<RecordView>,
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordView {
    /// Trace number (field 11 of the original request).
    pub trace: u32,
    /// The original request's MTI.
    pub mti: String,
    /// Its processing code.
    pub processing_code: String,
    /// What it is.
    pub kind: TxnKind,
    /// Amount in minor units.
    pub amount: u64,
    /// Where it stands.
    pub state: RecordState,
    /// Received again in a batch upload.
    pub uploaded: bool,
    /// Added by a batch upload: the host had not approved it online.
    pub from_upload: bool,
    /// Retrieval reference number given (field 37).
    pub rrn: String,
    /// Approval code (field 38).
    pub approval: String,
    /// UnionPay card group.
    pub group: CardGroup,
    /// For a void, the trace of the sale it cancelled.
    pub original_trace: Option<u32>,
    /// The PAN, first 6 and last 4 digits.
    pub pan: String,
    /// On the sale side of its batch's totals, by its terminal's dialect and void policy.
    settled: bool,
}

impl RecordView {
    /// True for a record on the sale side of its batch's totals: a sale, completion or
    /// offline sale, approved, or voided where the dialect counts it (UnionPay; international
    /// under [`VoidPolicy::Refund`]). For a record of the open batch: what would count if the
    /// batch closed now.
    pub fn is_settled(&self) -> bool {
        self.settled
    }
}

pub(crate) fn terminal_view(book: &Book, dialect: Dialect, policy: VoidPolicy) -> TerminalView {
    TerminalView {
        terminal: String::from_utf8_lossy(&book.terminal).into_owned(),
        dialect,
        signed_on: book.signed_on,
        batch: book.batch,
        open: book
            .open
            .iter()
            .map(|r| record_view(r, dialect, policy))
            .collect(),
        open_totals: Totals::of(&book.open, dialect, policy),
        settling: book.settling().name(),
        closed: book
            .closed
            .iter()
            .map(|c| batch_view(c, dialect, policy))
            .collect(),
    }
}

fn batch_view(c: &Closed, dialect: Dialect, policy: VoidPolicy) -> BatchView {
    let summary = c.summary(dialect, policy);
    BatchView {
        batch: c.batch,
        result: c.result,
        totals: summary.totals,
        claimed_uploads: c.claimed_uploads,
        uploads_received: summary.uploads_received,
        settled: summary.settled,
        settled_amount: summary.settled_amount,
        records_kept: c.summary.is_none(),
        records: c
            .records
            .iter()
            .map(|r| record_view(r, dialect, policy))
            .collect(),
    }
}

fn record_view(r: &Rec, dialect: Dialect, policy: VoidPolicy) -> RecordView {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    RecordView {
        trace: r.trace,
        mti: text(&r.mti),
        processing_code: text(&r.processing_code),
        kind: r.kind,
        amount: r.amount,
        state: r.state,
        uploaded: r.uploaded,
        from_upload: r.from_upload,
        rrn: text(&r.rrn),
        approval: text(&r.approval),
        group: r.group,
        original_trace: r.original,
        pan: r.pan.text(),
        settled: is_settled(r.kind, r.state, dialect, policy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::MaskedPan;

    fn rec(trace: u32, kind: TxnKind, state: RecordState, amount: u64) -> Rec {
        Rec {
            id: u64::from(trace),
            batch_seq: 0,
            trace,
            mti: *b"0200",
            processing_code: *b"000000",
            kind,
            amount,
            state,
            uploaded: false,
            from_upload: false,
            rrn: [b'0'; 12],
            approval: [b'0'; 6],
            group: match trace % 2 {
                0 => CardGroup::Domestic,
                _ => CardGroup::Foreign,
            },
            original: None,
            pan: MaskedPan::default(),
        }
    }

    /// F9 of the review: in every dialect and void policy, the records the view calls settled
    /// add up to the sale side of the batch's totals, and so does the batch's settled pair.
    #[test]
    fn settled_records_add_up_to_the_totals_sale_side() {
        use RecordState::*;
        use TxnKind::*;
        let mut records = Vec::new();
        let kinds = [
            Sale,
            Completion,
            Void,
            Refund,
            PreAuth,
            OfflineSale,
            PreAuthVoid,
        ];
        let states = [Approved, Voided, Reversed, Unconfirmed];
        for (i, (kind, state)) in kinds
            .iter()
            .flat_map(|k| states.iter().map(move |s| (*k, *s)))
            .enumerate()
        {
            let trace = u32::try_from(i).unwrap() + 1;
            records.push(rec(trace, kind, state, 100 * u64::from(trace)));
        }
        for (dialect, policy) in [
            (Dialect::International, VoidPolicy::Drop),
            (Dialect::International, VoidPolicy::Refund),
            (Dialect::UnionPay, VoidPolicy::Drop),
        ] {
            let closed = Closed {
                batch: 1,
                result: CloseResult::Balanced,
                records: records.clone(),
                claimed_uploads: None,
                summary: None,
            };
            let view = batch_view(&closed, dialect, policy);
            let settled = view.records.iter().filter(|r| r.is_settled());
            let pair = settled.fold((0, 0), |(n, a), r| (n + 1, a + r.amount));
            assert_eq!(pair, view.totals.sales(), "{dialect:?} {policy:?}");
            assert_eq!((view.settled, view.settled_amount), pair);
            let voided_sale = view
                .records
                .iter()
                .find(|r| r.kind == Sale && r.state == Voided);
            let counted = dialect == Dialect::UnionPay || policy == VoidPolicy::Refund;
            assert_eq!(voided_sale.unwrap().is_settled(), counted);
            assert!(view
                .records
                .iter()
                .filter(|r| r.kind == Refund)
                .all(|r| !r.is_settled()));
        }
    }
}
