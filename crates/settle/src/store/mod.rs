//! Persistence in write-ahead order (DESIGN §5). The engine describes each step as a list of
//! [`Op`]s and hands it to [`Store::commit`], which applies all of them or none (one
//! transaction). On start, [`Store::load`] gives back the [`Snapshot`] the last committed step
//! left, and the engine resumes from it.
//!
//! Two stores: [`MemStore`] for tests and [`SqliteStore`] (feature `sqlite`). [`FailAfter`]
//! wraps either and refuses every write after the k-th, to inject a crash.

mod mem;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use mem::MemStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use crate::dialect::Scope;
use crate::error::StoreError;
use crate::record::{Record, TxnKind};
use crate::report::Report;

/// Why a 0400 is sent; the code goes in its field 39 (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReversalReason {
    /// `98`: no response.
    NoResponse,
    /// `A0`: the response MAC was wrong.
    BadMac,
    /// `06`: other (for example a chip card declined after the host approved).
    Other,
}

impl ReversalReason {
    /// The field 39 code.
    pub fn code(self) -> &'static str {
        match self {
            ReversalReason::NoResponse => "98",
            ReversalReason::BadMac => "A0",
            ReversalReason::Other => "06",
        }
    }
}

/// The pending-reversal slot: the original request without 35, 36, 52, 53 and 26, stored before
/// the original leaves (DESIGN §5).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReversal {
    /// The original's trace number, kept by the 0400.
    pub trace: u32,
    /// What was being done.
    pub kind: TxnKind,
    /// Reason for field 39.
    pub reason: ReversalReason,
    /// Replies other than 00, 12 and 25 so far.
    pub tries: u8,
    /// MTI of the original request.
    pub mti: String,
    /// The original's fields without track data, PIN data and tag 57.
    pub fields: Vec<(u16, Vec<u8>)>,
    /// Amount, for the "REVERSAL FAILED" notice.
    pub amount: u64,
    /// Masked PAN, for the notice.
    pub pan_masked: String,
}

/// Shows no field values: they hold the PAN.
impl fmt::Debug for PendingReversal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingReversal")
            .field("trace", &self.trace)
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("tries", &self.tries)
            .field("pan", &self.pan_masked)
            .finish_non_exhaustive()
    }
}

/// Where a settlement stands; stored so a restart finishes it (DESIGN §5 state machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settlement {
    /// Settlement pending: reversal and advices to flush, then the 0500. Sales are refused.
    Pending,
    /// Uploading; the cursor is the first record in scope not yet acknowledged.
    Upload {
        /// Which records.
        scope: Scope,
        /// How many 0330s refused the 0320 at the cursor (reset when one is acknowledged);
        /// at the configured upload tries the settlement stops with "UPLOAD FAILED".
        #[serde(default)]
        refused: u8,
    },
    /// Upload done: the trailer (international) or closing 0320 (UnionPay) is next.
    Closing {
        /// The upload's scope.
        scope: Scope,
    },
    /// The host accepted; the report is kept and the log is being cleared.
    Clearing {
        /// The report to print.
        report: Report,
    },
}

/// Everything the store holds for one terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The open batch number.
    pub batch: u32,
    /// The next trace number.
    pub next_trace: u32,
    /// The next invoice number.
    pub next_invoice: u32,
    /// The batch log, in the order the records were added.
    pub records: Vec<Record>,
    /// The pending-reversal slot.
    pub reversal: Option<PendingReversal>,
    /// The settlement in progress.
    pub settlement: Option<Settlement>,
    /// The last settlement report, for reprint.
    pub last_report: Option<Report>,
    /// The day (days since 1970-01-01, local) of the last time-of-day auto-settlement, so a
    /// restart does not settle twice on one day.
    #[serde(default)]
    pub auto_settled_day: Option<u64>,
    /// Where each trace sits in `records`; derived from them, never stored.
    #[serde(skip)]
    index: TraceIndex,
}

/// Where each record's trace sits in the log, so that a record write finds its slot without a
/// scan: a sale writes its record twice (the engine's copy and the store's), and a full batch
/// is 999 records. It is derived from `records` and rebuilt whenever their length shows the two
/// drifted apart (a removal, a snapshot read back from a store, records pushed or removed
/// directly). A record replaced in place by hand, the length unchanged, is not noticed: every
/// writer in this crate goes through [`Snapshot::apply`] or builds a snapshot by pushing.
#[derive(Clone, Default)]
struct TraceIndex {
    slots: HashMap<u32, usize>,
    /// `records.len()` when `slots` was last in step with them.
    len: usize,
}

impl TraceIndex {
    fn rebuild(&mut self, records: &[Record]) {
        self.slots.clear();
        for (i, r) in records.iter().enumerate() {
            // The first record of a trace is the one a write replaces, as a scan would find.
            self.slots.entry(r.trace).or_insert(i);
        }
        self.len = records.len();
    }
}

/// The index is a function of the records, which the derived comparison already compares.
impl PartialEq for TraceIndex {
    fn eq(&self, _: &TraceIndex) -> bool {
        true
    }
}

impl Eq for TraceIndex {}

impl fmt::Debug for TraceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceIndex({})", self.slots.len())
    }
}

impl Snapshot {
    /// A fresh terminal.
    pub fn new(batch: u32) -> Snapshot {
        Snapshot {
            batch,
            next_trace: 1,
            next_invoice: 1,
            records: Vec::new(),
            reversal: None,
            settlement: None,
            last_report: None,
            auto_settled_day: None,
            index: TraceIndex::default(),
        }
    }

    /// Applies one step.
    pub fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            self.apply_one(op);
        }
    }

    /// Applies one change, taking its record, reversal or report rather than copying it: for
    /// the engine, which no longer needs a step once the store has it.
    pub(crate) fn apply_owned(&mut self, op: Op) {
        match op {
            Op::PutRecord(record) => self.put_owned(*record),
            Op::Reversal(r) => self.reversal = r,
            Op::Settlement(s) => self.settlement = s,
            Op::LastReport(r) => self.last_report = Some(r),
            other => self.apply_one(&other),
        }
    }

    fn apply_one(&mut self, op: &Op) {
        match op {
            Op::Counters {
                batch,
                next_trace,
                next_invoice,
            } => {
                self.batch = *batch;
                self.next_trace = *next_trace;
                self.next_invoice = *next_invoice;
            }
            Op::Reversal(r) => self.reversal = r.clone(),
            Op::PutRecord(record) => self.put(record),
            // The index sees the shorter log and is rebuilt at the next look-up.
            Op::RemoveRecord(trace) => self.records.retain(|r| r.trace != *trace),
            Op::ClearRecords => {
                self.records.clear();
                self.index.rebuild(&[]);
            }
            Op::Settlement(s) => self.settlement = s.clone(),
            Op::LastReport(r) => self.last_report = Some(r.clone()),
            Op::AutoSettledOn(day) => self.auto_settled_day = Some(*day),
        }
    }

    /// The record with this trace number, if the log holds one.
    pub(crate) fn record(&mut self, trace: u32) -> Option<&Record> {
        let slot = self.slot(trace)?;
        self.records.get(slot)
    }

    /// Replaces the record with the same trace, or appends it.
    fn put(&mut self, record: &Record) {
        self.put_owned(Record::clone(record));
    }

    fn put_owned(&mut self, record: Record) {
        match self.slot(record.trace) {
            Some(i) => {
                if let Some(slot) = self.records.get_mut(i) {
                    *slot = record;
                }
            }
            None => {
                self.index.slots.insert(record.trace, self.records.len());
                self.records.push(record);
                self.index.len = self.records.len();
            }
        }
    }

    /// Where the record with `trace` is, through the index (rebuilt when out of step).
    fn slot(&mut self, trace: u32) -> Option<usize> {
        if self.index.len != self.records.len() {
            self.index.rebuild(&self.records);
        }
        let holds = |records: &[Record], i: usize| records.get(i).is_some_and(|r| r.trace == trace);
        match self.index.slots.get(&trace) {
            Some(&i) if holds(&self.records, i) => Some(i),
            None => None,
            // A stale slot although the length agrees (records moved by hand): rebuild.
            Some(_) => {
                self.index.rebuild(&self.records);
                let i = *self.index.slots.get(&trace)?;
                holds(&self.records, i).then_some(i)
            }
        }
    }
}

/// One change within a step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Batch, trace and invoice counters (written with every step).
    Counters {
        /// Open batch.
        batch: u32,
        /// Next trace.
        next_trace: u32,
        /// Next invoice.
        next_invoice: u32,
    },
    /// Set or clear the pending reversal.
    Reversal(Option<PendingReversal>),
    /// Add a record, or replace the one with the same trace.
    PutRecord(Box<Record>),
    /// Remove the record with this trace (a chip card declined after the host approved).
    RemoveRecord(u32),
    /// Delete the log.
    ClearRecords,
    /// Set or clear the settlement state.
    Settlement(Option<Settlement>),
    /// Keep this report for reprint.
    LastReport(Report),
    /// A time-of-day auto-settlement started on this day.
    AutoSettledOn(u64),
}

impl Op {
    /// [`Op::PutRecord`] of `record`.
    pub fn put(record: Record) -> Op {
        Op::PutRecord(Box::new(record))
    }
}

/// Where the engine keeps its state.
pub trait Store {
    /// What the last committed step left, or `None` for a fresh store.
    fn load(&mut self) -> Result<Option<Snapshot>, StoreError>;

    /// Applies every op or none.
    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError>;
}

/// A boxed store (for callers that choose the store at run time) is a store.
impl<S: Store + ?Sized> Store for Box<S> {
    fn load(&mut self) -> Result<Option<Snapshot>, StoreError> {
        (**self).load()
    }

    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        (**self).commit(ops)
    }
}

/// Refuses every write after the first `k`, like a power cut after write `k` (crash injection).
#[derive(Debug, Clone)]
pub struct FailAfter<S> {
    inner: S,
    allowed: usize,
    done: usize,
}

impl<S> FailAfter<S> {
    /// Lets `k` writes through.
    pub fn new(inner: S, k: usize) -> Self {
        FailAfter {
            inner,
            allowed: k,
            done: 0,
        }
    }

    /// Writes attempted so far, refused ones included.
    pub fn attempted(&self) -> usize {
        self.done
    }

    /// True once a write was refused.
    pub fn tripped(&self) -> bool {
        self.done > self.allowed
    }
}

impl<S: Store> Store for FailAfter<S> {
    fn load(&mut self) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load()
    }

    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        self.done += 1;
        if self.done > self.allowed {
            return Err(StoreError::Injected(self.done));
        }
        self.inner.commit(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(trace: u32, amount: u64) -> Record {
        crate::totals::tests::rec(trace, TxnKind::Sale, amount)
    }

    fn traces(s: &Snapshot) -> Vec<(u32, u64)> {
        s.records.iter().map(|r| (r.trace, r.amount)).collect()
    }

    #[test]
    fn record_writes_append_replace_and_survive_removal_and_clear() {
        let mut s = Snapshot::new(1);
        s.apply(&[
            Op::put(rec(5, 100)),
            Op::put(rec(6, 200)),
            Op::put(rec(7, 300)),
        ]);
        s.apply(&[Op::put(rec(6, 250))]);
        assert_eq!(traces(&s), [(5, 100), (6, 250), (7, 300)]);
        s.apply(&[
            Op::RemoveRecord(5),
            Op::put(rec(7, 350)),
            Op::put(rec(8, 400)),
        ]);
        assert_eq!(traces(&s), [(6, 250), (7, 350), (8, 400)]);
        assert_eq!(s.record(8).map(|r| r.amount), Some(400));
        assert!(s.record(5).is_none());
        s.apply(&[Op::ClearRecords, Op::put(rec(7, 1))]);
        assert_eq!(traces(&s), [(7, 1)]);
    }

    #[test]
    fn records_changed_behind_the_index_are_found_again() {
        let mut s = Snapshot::new(1);
        s.apply(&[Op::put(rec(1, 10)), Op::put(rec(2, 20))]);
        // As a store does when it reads a snapshot back, or a test that builds one.
        s.records.push(rec(3, 30));
        s.apply(&[Op::put(rec(3, 33))]);
        assert_eq!(traces(&s), [(1, 10), (2, 20), (3, 33)]);
        s.records.remove(0);
        s.apply(&[Op::put(rec(9, 99)), Op::put(rec(1, 11))]);
        assert_eq!(traces(&s), [(2, 20), (3, 33), (9, 99), (1, 11)]);
        let copy: Snapshot = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(copy, s);
        let mut copy = copy;
        copy.apply(&[Op::put(rec(2, 22))]);
        assert_eq!(traces(&copy), [(2, 22), (3, 33), (9, 99), (1, 11)]);
    }
}
