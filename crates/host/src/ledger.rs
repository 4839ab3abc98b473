//! The host's books: per terminal, the open batch's records and the closed batches, kept in
//! memory as the source of truth for every decision and written behind to SQLite
//! ([`crate::store`]).
//!
//! Read DESIGN §6 first. The matching rules live here:
//! - a duplicate is the same terminal, MTI (0100, 0200, 0220) and trace number within the open
//!   batch: answered 94, and nothing is authorised a second time;
//! - a 0400 is matched to its original by terminal, original trace number and amount: 00 when
//!   found (the original leaves the totals), 25 when not, and the same answer on a repeat;
//! - a void is matched to its sale by RRN (UnionPay: or the original trace in 61) *and amount*,
//!   the same rule as a reversal: a void for another amount finds no original (25); a
//!   pre-auth void is matched to its pre-auth the same way, and a completion that names (by
//!   approval code) only a voided pre-auth is declined;
//! - a tip adjustment (international 0220 naming its sale in 60) is matched to an approved
//!   sale of the open batch by the original trace (and RRN, when it carries one): the sale's
//!   amount becomes amount plus the new tip, 25 when no such sale stands;
//! - a 0320 is deduplicated by the original trace number it carries (see `settlement`).
//!
//! What a peer can make the books remember is bounded: the duplicate memory is keyed by MTI
//! class and trace number (n6), a reversal answered 00 is remembered by the record it
//! reversed, and a reversal answered 25 by a short ring of the last [`NOT_FOUND_MEMO`].
//!
//! The settlement side (0500, 0320, closing a batch) is in `settlement.rs`.

use std::collections::{HashMap, VecDeque};

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
    /// The void of a pre-authorisation (international 0100 020000, UnionPay 0100 200000 with
    /// 60.1 `11`); in no total. The pre-auth it cancels is [`RecordState::Voided`] and no
    /// completion of it is approved.
    PreAuthVoid,
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
            TxnKind::PreAuthVoid => "preauth_void",
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

/// Where the open batch's settlement stands; `settlement.rs` refuses what does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Settling {
    /// No settlement under way: only a 0500 920000 (UnionPay: a 0500) may start one.
    #[default]
    Idle,
    /// The host answered out of balance (international 95, UnionPay a flag `2`): 0320s
    /// rebuild the batch, then the trailer or closing 0320 `202` closes it.
    Uploading,
    /// UnionPay balanced (both flags `1`): chip records may follow, then the closing 0320
    /// `207`.
    Balanced,
}

impl Settling {
    /// The name used in the ledger database and views.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Settling::Idle => "idle",
            Settling::Uploading => "uploading",
            Settling::Balanced => "balanced",
        }
    }

    /// Back from its name.
    pub(crate) fn from_name(name: &str) -> Option<Settling> {
        [Settling::Idle, Settling::Uploading, Settling::Balanced]
            .into_iter()
            .find(|s| s.name() == name)
    }
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

/// How many 0400s answered 25 a terminal's books remember for a repeat (per open batch). A
/// repeat older than that is looked up again, which still answers 25 unless the original
/// has arrived since; a peer sending 0400s for ever-new amounts cannot grow the memory.
pub(crate) const NOT_FOUND_MEMO: usize = 64;

/// The batch number after `batch` (1 to 999999, then 1 again; DESIGN §5).
pub(crate) fn next_batch(batch: u32) -> u32 {
    if batch >= 999_999 {
        1
    } else {
        batch + 1
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

/// True for a record on the sale side of its batch's totals (DESIGN §5, "Totals"): a sale,
/// completion or offline sale that is approved, or voided where the dialect still counts it
/// (UnionPay keeps a voided sale in debit; international only under [`VoidPolicy::Refund`]).
/// Refunds, voids, pre-auths and reversed or unconfirmed records are never settled sales.
pub(crate) fn is_settled(
    kind: TxnKind,
    state: RecordState,
    dialect: Dialect,
    policy: VoidPolicy,
) -> bool {
    let voided_counts = dialect == Dialect::UnionPay || policy == VoidPolicy::Refund;
    kind.is_debit()
        && (state == RecordState::Approved || (state == RecordState::Voided && voided_counts))
}

impl Closed {
    /// Its summary: the kept one, or counted from its records.
    pub(crate) fn summary(&self, dialect: Dialect, policy: VoidPolicy) -> Summary {
        if let Some(summary) = self.summary {
            return summary;
        }
        let totals = Totals::of(&self.records, dialect, policy);
        // The settled sales are read off the totals, so that the two can never disagree.
        let (settled, settled_amount) = totals.sales();
        Summary {
            totals,
            uploads_received: self.records.iter().filter(|r| r.uploaded).count(),
            settled,
            settled_amount,
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
    /// First answer per (MTI, trace) in the open batch: 0100, 0200 and 0220 (duplicates), and
    /// trailers that left the batch open. Bounded by the trace numbers (n6) of four MTIs.
    seen: HashMap<([u8; 4], u32), ResponseCode>,
    /// The last 0400s answered 25, by (trace, amount), newest last, at most
    /// [`NOT_FOUND_MEMO`]; a 0400 answered 00 is remembered by the record it reversed.
    not_found: VecDeque<(u32, Option<u64>)>,
    settling: Settling,
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
            not_found: VecDeque::new(),
            settling: Settling::Idle,
            closed: Vec::new(),
        }
    }

    /// A terminal's books read back from the ledger database: its duplicate memory is rebuilt
    /// from the open batch (approved records were answered 00) and the stored answers of the
    /// others (declined requests), its reversal memory is in the records' states, and its batch
    /// number and settlement state are the stored session's (else the batch follows the last
    /// closed one).
    pub(crate) fn restore(terminal: [u8; 8], batch: u32, stored: RestoredBook) -> Book {
        let mut book = Book::new(terminal, batch);
        if let Some(last) = stored.closed.last() {
            book.batch = next_batch(last.batch);
        }
        book.closed = stored.closed;
        let seq = book.batch_seq();
        for r in stored.open.iter().filter(|r| !r.from_upload) {
            book.seen.insert((r.mti, r.trace), ResponseCode::APPROVED);
        }
        for a in stored.answers.iter().filter(|a| a.batch_seq == seq) {
            book.seen.entry((a.mti, a.trace)).or_insert(a.code);
        }
        if let Some(session) = stored.session.filter(|s| s.batch_seq == seq) {
            book.batch = session.batch;
            book.settling = session.settling;
        }
        book.open = stored.open;
        book
    }

    /// True when `mti` with `trace` was already answered in the open batch.
    pub(crate) fn is_duplicate(&self, mti: [u8; 4], trace: u32) -> bool {
        self.seen.contains_key(&(mti, trace))
    }

    /// The first answer to `mti` with `trace` in the open batch, if any.
    pub(crate) fn first_answer(&self, mti: [u8; 4], trace: u32) -> Option<ResponseCode> {
        self.seen.get(&(mti, trace)).copied()
    }

    /// Remembers the answer to `mti` with `trace` for a repeat; one other than 00 leaves no
    /// record, so it is stored on its own (a repeat after a restart gets it too).
    pub(crate) fn remember(&mut self, mti: [u8; 4], trace: u32, code: ResponseCode, w: &Writer) {
        self.seen.insert((mti, trace), code);
        if code != ResponseCode::APPROVED {
            w.send(Op::Answer {
                terminal: self.terminal,
                batch_seq: self.batch_seq(),
                mti,
                trace,
                code,
            });
        }
    }

    /// Records the answer to a sale, refund, pre-auth, completion or advice; approved ones
    /// join the open batch.
    pub(crate) fn authorise(&mut self, new: NewRec, code: ResponseCode, writer: &Writer) {
        self.remember(new.mti, new.trace, code, writer);
        if code == ResponseCode::APPROVED {
            self.push(new, None, writer);
        }
    }

    /// A void: the original (found by its RRN, else by its trace number, and by its amount)
    /// becomes voided and the void joins the batch. A void cancels a sale or completion; a
    /// pre-auth void, a pre-auth. 25 when no approved original matches: a void for another
    /// amount than its original's cancels nothing (DESIGN §6 matches a 0400 by amount; a void
    /// is the same kind of cancellation).
    pub(crate) fn void(
        &mut self,
        mut new: NewRec,
        rrn: Option<&[u8]>,
        original_trace: Option<u32>,
        writer: &Writer,
    ) -> ResponseCode {
        let cancels = |kind: TxnKind| match new.kind {
            TxnKind::PreAuthVoid => kind == TxnKind::PreAuth,
            _ => matches!(kind, TxnKind::Sale | TxnKind::Completion),
        };
        let found = self.open.iter_mut().rev().find(|r| {
            cancels(r.kind)
                && r.state == RecordState::Approved
                && r.amount == new.amount
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
        self.remember(new.mti, new.trace, code, writer);
        code
    }

    /// A tip adjustment: the approved sale (or completion) with the `original` MTI and trace
    /// (and `rrn`, when the advice carries one) takes `amount`, its amount plus the new tip. The advice's answer is
    /// stored even when 00, since it leaves no record of its own: a repeat is then 94 after a
    /// restart too, and a later adjustment (its own trace) is applied.
    pub(crate) fn adjust_tip(
        &mut self,
        (mti, trace): ([u8; 4], u32),
        (original_mti, original): ([u8; 4], u32),
        rrn: Option<&[u8]>,
        amount: u64,
        writer: &Writer,
    ) -> ResponseCode {
        let sale = self.open.iter_mut().rev().find(|r| {
            r.trace == original
                && r.mti == original_mti
                && matches!(r.kind, TxnKind::Sale | TxnKind::Completion)
                && r.state == RecordState::Approved
                && !r.from_upload
                && rrn.is_none_or(|x| x == r.rrn)
        });
        let code = match sale {
            Some(sale) => {
                sale.amount = amount;
                writer.send(Op::put(self.terminal, sale));
                ResponseCode::APPROVED
            }
            None => ResponseCode(*b"25"),
        };
        self.seen.insert((mti, trace), code);
        writer.send(Op::Answer {
            terminal: self.terminal,
            batch_seq: self.batch_seq(),
            mti,
            trace,
            code,
        });
        code
    }

    /// True when the pre-auths with this approval code, in the open batch and the closed ones
    /// kept in memory, are all voided (and there is one): a completion of it is declined.
    pub(crate) fn pre_auth_voided(&self, approval: &[u8; 6]) -> bool {
        let closed = self.closed.iter().flat_map(|c| c.records.iter());
        let mut named = self
            .open
            .iter()
            .chain(closed)
            .filter(|r| r.kind == TxnKind::PreAuth && &r.approval == approval);
        let first = named.next();
        first.is_some_and(|r| r.state == RecordState::Voided)
            && named.all(|r| r.state == RecordState::Voided)
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
    /// answer again: 00 when the original is already reversed (the record is the memory, so
    /// nothing grows), 25 while the key is among the last [`NOT_FOUND_MEMO`] not found.
    pub(crate) fn reverse(
        &mut self,
        trace: u32,
        amount: Option<u64>,
        writer: &Writer,
    ) -> ResponseCode {
        const NOT_FOUND: ResponseCode = ResponseCode(*b"25");
        if self.not_found.contains(&(trace, amount)) {
            return NOT_FOUND;
        }
        let original = |r: &Rec| {
            r.trace == trace
                && matches!(&r.mti, b"0100" | b"0200")
                && !r.from_upload
                && amount.is_none_or(|a| a == r.amount)
        };
        if self
            .open
            .iter()
            .any(|r| original(r) && r.state == RecordState::Reversed)
        {
            return ResponseCode::APPROVED;
        }
        match self.open.iter().rposition(original) {
            Some(i) => {
                self.reverse_at(i, writer);
                ResponseCode::APPROVED
            }
            None => {
                if self.not_found.len() >= NOT_FOUND_MEMO {
                    self.not_found.pop_front();
                }
                self.not_found.push_back((trace, amount));
                NOT_FOUND
            }
        }
    }

    fn reverse_at(&mut self, i: usize, writer: &Writer) {
        let Some(rec) = self.open.get_mut(i) else {
            return;
        };
        rec.state = RecordState::Reversed;
        writer.send(Op::put(self.terminal, rec));
        let (kind, original) = (rec.kind, rec.original);
        if let (TxnKind::Void | TxnKind::PreAuthVoid, Some(trace)) = (kind, original) {
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
        self.not_found.clear();
    }

    /// Where the open batch's settlement stands.
    pub(crate) fn settling(&self) -> Settling {
        self.settling
    }

    /// Moves the settlement on, and stores where it stands with the host's batch number.
    pub(crate) fn set_settling(&mut self, settling: Settling, writer: &Writer) {
        self.settling = settling;
        self.store_session(writer);
    }

    /// Sets the host's batch number for the terminal, and stores it.
    pub(crate) fn set_batch(&mut self, batch: u32, writer: &Writer) {
        self.batch = batch;
        self.store_session(writer);
    }

    fn store_session(&self, writer: &Writer) {
        writer.send(Op::Session {
            terminal: self.terminal,
            batch_seq: self.batch_seq(),
            batch: self.batch,
            settling: self.settling,
        });
    }

    /// The open batch's place among the terminal's batches: the count closed before it.
    pub(crate) fn batch_seq(&self) -> u32 {
        u32::try_from(self.closed.len()).unwrap_or(u32::MAX)
    }

    /// Drops the records of all but the last [`CLOSED_WITH_RECORDS`] closed batches, keeping
    /// their summaries; an in-memory ledger database drops their rows too (F3 of the review:
    /// otherwise it grew by every sale for as long as the host ran).
    pub(crate) fn trim_closed(&mut self, dialect: Dialect, policy: VoidPolicy, writer: &Writer) {
        let old = self.closed.len().saturating_sub(CLOSED_WITH_RECORDS);
        for (seq, batch) in self.closed.iter_mut().take(old).enumerate() {
            if batch.summary.is_some() {
                continue;
            }
            batch.summary = Some(batch.summary(dialect, policy));
            let records = std::mem::take(&mut batch.records);
            if writer.forgets() {
                writer.send(Op::Forget {
                    terminal: self.terminal,
                    batch_seq: u32::try_from(seq).unwrap_or(u32::MAX),
                    ids: records.iter().map(|r| r.id).collect(),
                });
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
            book.trim_closed(Dialect::UnionPay, VoidPolicy::Drop, &writer);
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

    /// F5 of the review: 0400s for ever-new amounts, none of them matching, leave at most
    /// NOT_FOUND_MEMO entries; the last of them is still answered from the memory.
    #[test]
    fn unmatched_reversals_leave_a_bounded_memory() {
        let writer = Writer::discard();
        let mut book = Book::new(*b"TERM0001", 1);
        book.authorise(sale(5, 1000), ResponseCode::APPROVED, &writer);
        for amount in 0..20_000 {
            assert_eq!(book.reverse(5, Some(2000 + amount), &writer).as_str(), "25");
        }
        assert_eq!(book.not_found.len(), NOT_FOUND_MEMO);
        assert!(book.not_found.contains(&(5, Some(2000 + 19_999))));
        assert_eq!(book.reverse(5, Some(1000), &writer).as_str(), "00");
        assert_eq!(book.not_found.len(), NOT_FOUND_MEMO);
        assert_eq!(
            book.seen.len(),
            1,
            "reversals add nothing to the duplicate memory"
        );
        book.reset_matching();
        assert!(book.not_found.is_empty());
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
