//! The host's books: per terminal, the open batch's records and the closed batches, kept in
//! memory as the source of truth for every decision and written behind to SQLite
//! ([`crate::store`]).
//!
//! Read DESIGN §6 first. The matching rules live here:
//! - a duplicate is the same terminal, MTI (0100, 0200, 0220) and trace number within the open
//!   batch: answered 94, and nothing is authorised a second time;
//! - a 0400 is matched to its original by terminal, original trace number and amount: 00 when
//!   found (the original leaves the totals), 25 when not, and the same answer on a repeat;
//! - a 0320 is deduplicated by the original trace number it carries (see `settlement`).
//!
//! The settlement side (0500, 0320, closing a batch) is in `settlement.rs`.

use std::collections::HashMap;

use iso8583_crypto::DesKey;

use crate::config::{Dialect, VoidPolicy};
use crate::restore::RestoredBook;
use crate::rules::ResponseCode;
use crate::store::{Op, Writer};
use crate::totals::{Countable, Totals};

/// What kind of transaction a ledger record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TxnKind {
    /// A sale (0200 000000).
    Sale,
    /// A pre-authorisation completion (a 0200 000000 with condition code 06 or UnionPay 60.1
    /// `20`); totalled like a sale.
    Completion,
    /// A void (international 0200 020000, UnionPay 0200 200000) of a sale in the open batch.
    Void,
    /// A refund (international 0200 200000, UnionPay 0220 200000).
    Refund,
    /// A pre-authorisation (0100); in no total.
    PreAuth,
    /// An offline sale (0220 000000).
    OfflineSale,
}

impl TxnKind {
    /// Sales, completions and offline sales: the debit side.
    pub fn is_debit(self) -> bool {
        matches!(
            self,
            TxnKind::Sale | TxnKind::Completion | TxnKind::OfflineSale
        )
    }

    /// The name used in the ledger database and views.
    pub fn name(self) -> &'static str {
        match self {
            TxnKind::Sale => "sale",
            TxnKind::Completion => "completion",
            TxnKind::Void => "void",
            TxnKind::Refund => "refund",
            TxnKind::PreAuth => "preauth",
            TxnKind::OfflineSale => "offline",
        }
    }
}

/// Where a record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordState {
    /// Approved and counted.
    Approved,
    /// A sale that a later void cancelled (UnionPay still counts it as a debit).
    Voided,
    /// Cancelled by a 0400; in no total.
    Reversed,
    /// Approved by the host but absent from the terminal's batch upload: the batch was closed
    /// on the uploaded view (DESIGN §6, "rebuilds its view of a batch from the upload"), so
    /// the record was not settled.
    Unconfirmed,
}

impl RecordState {
    /// The name used in the ledger database and views.
    pub fn name(self) -> &'static str {
        match self {
            RecordState::Approved => "approved",
            RecordState::Voided => "voided",
            RecordState::Reversed => "reversed",
            RecordState::Unconfirmed => "unconfirmed",
        }
    }
}

/// UnionPay's card groups (DESIGN §5): domestic means a UnionPay card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CardGroup {
    /// A UnionPay card (by the configured PAN prefixes).
    Domestic,
    /// Any other card.
    Foreign,
}

/// A PAN as the ledger keeps it: first 6 and last 4 digits, and the length. The full number
/// is never stored.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MaskedPan {
    head: [u8; 6],
    tail: [u8; 4],
    len: u8,
}

impl MaskedPan {
    pub(crate) fn of(pan: &[u8]) -> MaskedPan {
        let mut m = MaskedPan {
            len: pan.len().min(19) as u8,
            ..MaskedPan::default()
        };
        for (to, from) in m.head.iter_mut().zip(pan) {
            *to = *from;
        }
        let tail = pan.get(pan.len().saturating_sub(4)..).unwrap_or(&[]);
        for (to, from) in m.tail.iter_mut().zip(tail) {
            *to = *from;
        }
        m
    }

    /// Back from its text form (`621234******1234`, as stored).
    pub(crate) fn from_masked(text: &[u8]) -> MaskedPan {
        let mut m = MaskedPan::of(text);
        if text.len() < 12 {
            // Stored as stars only: nothing of the number is known.
            m.head = [b'*'; 6];
            m.tail = [b'*'; 4];
        }
        m
    }

    /// `621234******1234`; short numbers are shown as stars only.
    pub(crate) fn text(&self) -> String {
        let len = usize::from(self.len);
        if len < 12 {
            return "*".repeat(len);
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        format!(
            "{}{}{}",
            text(&self.head),
            "*".repeat(len - 10),
            text(&self.tail)
        )
    }
}

/// One record of a terminal's batch.
#[derive(Clone, Copy)]
pub(crate) struct Rec {
    /// Row id in the ledger database, unique in the host.
    pub id: u64,
    /// Which of the terminal's batches it is in: the count closed before it.
    pub batch_seq: u32,
    pub trace: u32,
    pub mti: [u8; 4],
    pub processing_code: [u8; 6],
    pub kind: TxnKind,
    pub amount: u64,
    pub state: RecordState,
    pub uploaded: bool,
    /// Added from a batch upload rather than approved online.
    pub from_upload: bool,
    pub rrn: [u8; 12],
    pub approval: [u8; 6],
    pub group: CardGroup,
    /// For a void: the trace number of the sale it cancels.
    pub original: Option<u32>,
    pub pan: MaskedPan,
}

impl Countable for Rec {
    fn kind(&self) -> TxnKind {
        self.kind
    }
    fn state(&self) -> RecordState {
        self.state
    }
    fn amount(&self) -> u64 {
        self.amount
    }
    fn group(&self) -> CardGroup {
        self.group
    }
}

/// Where the open batch's settlement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Settling {
    /// No settlement under way.
    #[default]
    Idle,
    /// The host answered out of balance: 0320s rebuild the batch, then the trailer or closing
    /// 0320 closes it.
    Uploading,
    /// UnionPay balanced: chip records may follow, then the closing 0320.
    Balanced,
}

/// How a batch was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseResult {
    /// The first reconciliation balanced (international 00; UnionPay flags `1` and closing
    /// 0320 `207`).
    Balanced,
    /// Closed after a batch upload, on the uploaded view (trailer 00; closing 0320 `202`).
    Uploaded,
}

impl CloseResult {
    /// The name used in the ledger database and views.
    pub fn name(self) -> &'static str {
        match self {
            CloseResult::Balanced => "balanced",
            CloseResult::Uploaded => "uploaded",
        }
    }
}

/// How many of a terminal's closed batches keep their records in memory; older ones keep only
/// their [`Summary`] (their records stay in the ledger database). A long load run would
/// otherwise hold every record it ever settled, so that memory grew with the number of sales
/// rather than with the number of terminals.
pub(crate) const CLOSED_WITH_RECORDS: usize = 16;

/// A closed batch.
pub(crate) struct Closed {
    pub batch: u32,
    pub result: CloseResult,
    /// Its records, while it is among the last [`CLOSED_WITH_RECORDS`] closed batches.
    pub records: Vec<Rec>,
    /// The upload count the UnionPay closing 0320 claimed (field 48).
    pub claimed_uploads: Option<u32>,
    /// What the view shows of it once its records are dropped.
    pub summary: Option<Summary>,
}

/// What is kept of a closed batch without its records.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub totals: Totals,
    pub uploads_received: usize,
    pub settled: u64,
    pub settled_amount: u64,
}

/// True for a record that counts in its batch: a sale, completion, offline sale or refund,
/// approved (or voided, which UnionPay still counts).
pub(crate) fn is_settled(kind: TxnKind, state: RecordState) -> bool {
    !matches!(kind, TxnKind::Void | TxnKind::PreAuth)
        && matches!(state, RecordState::Approved | RecordState::Voided)
}

impl Closed {
    /// Its summary: the kept one, or counted from its records.
    pub(crate) fn summary(&self, dialect: Dialect, policy: VoidPolicy) -> Summary {
        if let Some(summary) = self.summary {
            return summary;
        }
        let settled = || self.records.iter().filter(|r| is_settled(r.kind, r.state));
        Summary {
            totals: Totals::of(&self.records, dialect, policy),
            uploads_received: self.records.iter().filter(|r| r.uploaded).count(),
            settled: settled().count() as u64,
            settled_amount: settled().map(|r| r.amount).sum(),
        }
    }
}

/// A new online record, before the book gives it its id and state.
#[derive(Clone, Copy)]
pub(crate) struct NewRec {
    pub trace: u32,
    pub mti: [u8; 4],
    pub processing_code: [u8; 6],
    pub kind: TxnKind,
    pub amount: u64,
    pub group: CardGroup,
    pub pan: MaskedPan,
    pub rrn: [u8; 12],
    pub approval: [u8; 6],
}

/// One terminal's books and session.
pub(crate) struct Book {
    /// The terminal id (field 41), for the store.
    pub terminal: [u8; 8],
    pub signed_on: bool,
    /// The MAC key issued at the last sign-on.
    pub mac_key: Option<DesKey>,
    /// The host's batch number for the terminal (UnionPay: issued in 60.2; international: the
    /// number of the last 0500).
    pub batch: u32,
    pub open: Vec<Rec>,
    /// First answer per (MTI, trace) in the open batch.
    seen: HashMap<([u8; 4], u32), ResponseCode>,
    /// Answer per (trace, amount) of each 0400 in the open batch.
    reversals: HashMap<(u32, Option<u64>), ResponseCode>,
    pub settling: Settling,
    /// Closed batches, oldest first; only the last [`CLOSED_WITH_RECORDS`] with records.
    pub closed: Vec<Closed>,
}

impl Book {
    pub(crate) fn new(terminal: [u8; 8], batch: u32) -> Book {
        Book {
            terminal,
            signed_on: false,
            mac_key: None,
            batch,
            open: Vec::new(),
            seen: HashMap::new(),
            reversals: HashMap::new(),
            settling: Settling::Idle,
            closed: Vec::new(),
        }
    }

    /// A terminal's books read back from the ledger database: its duplicate and reversal
    /// memory is rebuilt from the open batch (approved records were answered 00, reversed ones
    /// reversed with 00), and its batch number follows its last closed batch.
    pub(crate) fn restore(terminal: [u8; 8], batch: u32, stored: RestoredBook) -> Book {
        let mut book = Book::new(terminal, batch);
        if let Some(last) = stored.closed.last() {
            book.batch = if last.batch >= 999_999 {
                1
            } else {
                last.batch + 1
            };
        }
        for r in stored.open.iter().filter(|r| !r.from_upload) {
            book.seen.insert((r.mti, r.trace), ResponseCode::APPROVED);
            if r.state == RecordState::Reversed {
                book.reversals
                    .insert((r.trace, Some(r.amount)), ResponseCode::APPROVED);
            }
        }
        book.open = stored.open;
        book.closed = stored.closed;
        book
    }

    /// True when `mti` with `trace` was already answered in the open batch.
    pub(crate) fn is_duplicate(&self, mti: [u8; 4], trace: u32) -> bool {
        self.seen.contains_key(&(mti, trace))
    }

    /// Records the answer to a sale, refund, pre-auth, completion or advice; approved ones
    /// join the open batch.
    pub(crate) fn authorise(&mut self, new: NewRec, code: ResponseCode, writer: &Writer) {
        self.seen.insert((new.mti, new.trace), code);
        if code == ResponseCode::APPROVED {
            self.push(new, None, writer);
        }
    }

    /// A void: the original sale (found by its RRN, else by its trace number) becomes voided
    /// and the void joins the batch. 25 when no approved sale matches.
    pub(crate) fn void(
        &mut self,
        mut new: NewRec,
        rrn: Option<&[u8]>,
        original_trace: Option<u32>,
        writer: &Writer,
    ) -> ResponseCode {
        let found = self.open.iter_mut().rev().find(|r| {
            matches!(r.kind, TxnKind::Sale | TxnKind::Completion)
                && r.state == RecordState::Approved
                && (rrn.is_some_and(|x| x == r.rrn) || original_trace == Some(r.trace))
        });
        let code = match found {
            Some(original) => {
                original.state = RecordState::Voided;
                writer.send(Op::put(self.terminal, original));
                // A void without a card number takes its sale's group.
                if new.pan.len == 0 {
                    new.group = original.group;
                    new.pan = original.pan;
                }
                let trace = original.trace;
                self.push(new, Some(trace), writer);
                ResponseCode::APPROVED
            }
            None => ResponseCode(*b"25"),
        };
        self.seen.insert((new.mti, new.trace), code);
        code
    }

    fn push(&mut self, new: NewRec, original: Option<u32>, writer: &Writer) {
        let rec = Rec {
            id: writer.next_id(),
            batch_seq: self.batch_seq(),
            trace: new.trace,
            mti: new.mti,
            processing_code: new.processing_code,
            kind: new.kind,
            amount: new.amount,
            state: RecordState::Approved,
            uploaded: false,
            from_upload: false,
            rrn: new.rrn,
            approval: new.approval,
            group: new.group,
            original,
            pan: new.pan,
        };
        writer.send(Op::put(self.terminal, &rec));
        self.open.push(rec);
    }

    /// A 0400: the original (same trace, 0100 or 0200, same amount when the 0400 carries one)
    /// leaves the totals, and a reversed void gives its sale back. A repeat gets the first
    /// answer again.
    pub(crate) fn reverse(
        &mut self,
        trace: u32,
        amount: Option<u64>,
        writer: &Writer,
    ) -> ResponseCode {
        if let Some(code) = self.reversals.get(&(trace, amount)) {
            return *code;
        }
        let found = self.open.iter().rposition(|r| {
            r.trace == trace
                && matches!(&r.mti, b"0100" | b"0200")
                && !r.from_upload
                && amount.is_none_or(|a| a == r.amount)
                && r.state != RecordState::Reversed
        });
        let code = match found {
            Some(i) => {
                self.reverse_at(i, writer);
                ResponseCode::APPROVED
            }
            None => ResponseCode(*b"25"),
        };
        self.reversals.insert((trace, amount), code);
        code
    }

    fn reverse_at(&mut self, i: usize, writer: &Writer) {
        let Some(rec) = self.open.get_mut(i) else {
            return;
        };
        rec.state = RecordState::Reversed;
        writer.send(Op::put(self.terminal, rec));
        let (kind, original) = (rec.kind, rec.original);
        if let (TxnKind::Void, Some(trace)) = (kind, original) {
            let sale = self
                .open
                .iter_mut()
                .find(|r| r.trace == trace && r.state == RecordState::Voided);
            if let Some(sale) = sale {
                sale.state = RecordState::Approved;
                writer.send(Op::put(self.terminal, sale));
            }
        }
    }

    /// Forgets the open batch's duplicate and reversal memory: a new batch starts.
    pub(crate) fn reset_matching(&mut self) {
        self.seen.clear();
        self.reversals.clear();
    }

    /// The open batch's place among the terminal's batches: the count closed before it.
    pub(crate) fn batch_seq(&self) -> u32 {
        u32::try_from(self.closed.len()).unwrap_or(u32::MAX)
    }

    /// Drops the records of all but the last [`CLOSED_WITH_RECORDS`] closed batches, keeping
    /// their summaries.
    pub(crate) fn trim_closed(&mut self, dialect: Dialect, policy: VoidPolicy) {
        let old = self.closed.len().saturating_sub(CLOSED_WITH_RECORDS);
        for batch in self.closed.iter_mut().take(old) {
            if batch.summary.is_none() {
                batch.summary = Some(batch.summary(dialect, policy));
                batch.records = Vec::new();
            }
        }
    }

    /// The number of the last closed batch.
    pub(crate) fn last_closed(&self) -> Option<u32> {
        self.closed.last().map(|c| c.batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(trace: u32, amount: u64) -> NewRec {
        NewRec {
            trace,
            mti: *b"0200",
            processing_code: *b"000000",
            kind: TxnKind::Sale,
            amount,
            group: CardGroup::Domestic,
            pan: MaskedPan::of(b"6212345678901234"),
            rrn: *b"000000000001",
            approval: *b"123456",
        }
    }

    /// Closing batch after batch keeps the records of the last few only, and what the view
    /// shows of each older batch (totals, counts) is what it showed while it had its records.
    #[test]
    fn old_closed_batches_keep_their_summary_not_their_records() {
        let writer = Writer::discard();
        let mut book = Book::new(*b"TERM0001", 1);
        let mut before = Vec::new();
        for batch in 0..CLOSED_WITH_RECORDS as u32 + 5 {
            for i in 0..=batch % 4 {
                book.authorise(
                    sale(batch * 10 + i, 100 + u64::from(i)),
                    ResponseCode::APPROVED,
                    &writer,
                );
            }
            let records = std::mem::take(&mut book.open);
            book.closed.push(Closed {
                batch: batch + 1,
                result: CloseResult::Balanced,
                records,
                claimed_uploads: None,
                summary: None,
            });
            let last = book.closed.last().unwrap();
            before.push(format!(
                "{:?}",
                last.summary(Dialect::UnionPay, VoidPolicy::Drop)
            ));
            book.trim_closed(Dialect::UnionPay, VoidPolicy::Drop);
        }
        let kept: Vec<bool> = book.closed.iter().map(|c| !c.records.is_empty()).collect();
        assert_eq!(kept.iter().filter(|k| **k).count(), CLOSED_WITH_RECORDS);
        assert!(kept.iter().skip(5).all(|k| *k) && kept.iter().take(5).all(|k| !*k));
        let after: Vec<String> = book
            .closed
            .iter()
            .map(|c| format!("{:?}", c.summary(Dialect::UnionPay, VoidPolicy::Drop)))
            .collect();
        assert_eq!(after, before);
        assert_eq!(book.batch_seq(), CLOSED_WITH_RECORDS as u32 + 5);

        let (mut count, mut amount) = (0, 0);
        for batch in 0..CLOSED_WITH_RECORDS as u64 + 5 {
            for i in 0..=batch % 4 {
                count += 1;
                amount += 100 + i;
            }
        }
        let view = crate::view::terminal_view(&book, Dialect::UnionPay, VoidPolicy::Drop);
        assert_eq!(view.settled(), (count, amount));
        assert_eq!(
            view.closed.iter().filter(|b| b.records_kept).count(),
            CLOSED_WITH_RECORDS
        );
    }

    #[test]
    fn masked_pan_keeps_six_and_four() {
        assert_eq!(
            MaskedPan::of(b"6212345678901234").text(),
            "621234******1234"
        );
        assert_eq!(MaskedPan::of(b"1234").text(), "****");
    }

    #[test]
    fn reversal_matches_trace_and_amount_and_repeats_its_answer() {
        let writer = Writer::discard();
        let mut book = Book::new(*b"TERM0001", 1);
        book.authorise(sale(5, 1000), ResponseCode::APPROVED, &writer);
        assert!(book.is_duplicate(*b"0200", 5));
        assert!(!book.is_duplicate(*b"0220", 5));
        assert_eq!(book.reverse(5, Some(999), &writer).as_str(), "25");
        assert_eq!(book.reverse(5, Some(1000), &writer).as_str(), "00");
        assert_eq!(book.open[0].state, RecordState::Reversed);
        assert_eq!(book.reverse(5, Some(1000), &writer).as_str(), "00");
        assert_eq!(book.reverse(5, Some(999), &writer).as_str(), "25");
    }

    #[test]
    fn void_by_rrn_and_its_reversal_gives_the_sale_back() {
        let writer = Writer::discard();
        let mut book = Book::new(*b"TERM0001", 1);
        book.authorise(sale(1, 1000), ResponseCode::APPROVED, &writer);
        let mut void = sale(2, 1000);
        void.kind = TxnKind::Void;
        void.pan = MaskedPan::default();
        let code = book.void(void, Some(b"000000000001"), None, &writer);
        assert_eq!(code.as_str(), "00");
        assert_eq!(book.open[0].state, RecordState::Voided);
        assert_eq!(book.open[1].original, Some(1));
        assert_eq!(book.open[1].pan.text(), "621234******1234");
        let mut again = sale(3, 1000);
        again.kind = TxnKind::Void;
        assert_eq!(book.void(again, None, Some(1), &writer).as_str(), "25");
        assert_eq!(book.reverse(2, Some(1000), &writer).as_str(), "00");
        assert_eq!(book.open[0].state, RecordState::Approved);
    }
}
