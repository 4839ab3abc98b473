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
        }
    }

    /// Applies one step.
    pub fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            self.apply_one(op);
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
            Op::PutRecord(record) => {
                match self.records.iter_mut().find(|r| r.trace == record.trace) {
                    Some(slot) => *slot = Record::clone(record),
                    None => self.records.push(Record::clone(record)),
                }
            }
            Op::RemoveRecord(trace) => self.records.retain(|r| r.trace != *trace),
            Op::ClearRecords => self.records.clear(),
            Op::Settlement(s) => self.settlement = s.clone(),
            Op::LastReport(r) => self.last_report = Some(r.clone()),
            Op::AutoSettledOn(day) => self.auto_settled_day = Some(*day),
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
