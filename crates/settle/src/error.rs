//! Errors: why the configuration was refused, why an operator request was refused, why the
//! store failed. Each rejection says what was asked and what stood in the way (STYLE §5).

use crate::record::TxnKind;

/// A configuration value that cannot work, found when the configuration is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Counts travel as n3, so a batch holds at most 999 records (DESIGN §5).
    #[error("capacity {0} is outside 1..=999: record counts travel as three digits")]
    Capacity(u16),
    /// The "settle soon" threshold must leave room before the batch is full.
    #[error("warning threshold {warn} must be at least 1 and below the capacity {capacity}")]
    WarnThreshold {
        /// The threshold asked for.
        warn: u16,
        /// The capacity it must stay below.
        capacity: u16,
    },
    /// Field 41 is ans8.
    #[error("terminal id must be 8 printable characters, found {0} bytes")]
    TerminalId(usize),
    /// Field 42 is ans15.
    #[error("merchant id must be 15 printable characters, found {0} bytes")]
    MerchantId(usize),
    /// A batch number is n6 and never 0 (DESIGN §5).
    #[error("batch number {0} is outside 1..=999999")]
    BatchNumber(u32),
    /// A trace number (STAN, field 11) is n6 and never 0 (DESIGN §10).
    #[error("trace number {0} is outside 1..=999999")]
    TraceNumber(u32),
    /// The auto-settlement time of day.
    #[error("time of day {hour:02}:{minute:02} is not a time of day")]
    TimeOfDay {
        /// Hour asked for.
        hour: u8,
        /// Minute asked for.
        minute: u8,
    },
    /// An amount threshold or overflow margin that does not fit a 12-digit total.
    #[error("amount {0} does not fit in 12 digits")]
    Amount(u64),
    /// The auto-settlement count threshold must not exceed the capacity.
    #[error("auto-settlement count {count} is above the capacity {capacity}")]
    AutoCount {
        /// The count asked for.
        count: u16,
        /// The capacity.
        capacity: u16,
    },
    /// At least one try is needed to send a reversal.
    #[error("reversal tries must be between 1 and 9, found {0}")]
    ReversalTries(u8),
    /// At least one try is needed to send a 0320, and at most 9 are made.
    #[error("upload tries must be between 1 and 9, found {0}")]
    UploadTries(u8),
    /// A response timeout of zero would fire before any answer could come.
    #[error("response timeout must be at least 1 ms")]
    Timeout,
    /// UnionPay field 63 operator number (ans, at most 163 bytes) or field 49 currency (an3).
    #[error("{what} is not valid: {why}")]
    Dialect {
        /// The setting.
        what: &'static str,
        /// What it must look like.
        why: &'static str,
    },
}

/// Why an operator request was refused locally; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// The batch log is at capacity: "STORAGE FULL, PLEASE SETTLE" (储存满请结算).
    #[error("STORAGE FULL, PLEASE SETTLE: {count} of {capacity} records")]
    StorageFull {
        /// Records in the log.
        count: u16,
        /// The configured capacity.
        capacity: u16,
    },
    /// One of the 12-digit amount totals would come too close to overflowing (DESIGN §5).
    #[error("totals near overflow, please settle: {total} plus {amount} is above {limit}")]
    TotalsNearOverflow {
        /// The current total the amount goes into (or the largest one).
        total: u64,
        /// The amount asked for.
        amount: u64,
        /// The highest total allowed before settlement is forced.
        limit: u64,
    },
    /// A settlement is pending: new sales wait until the batch is closed (DESIGN §5).
    #[error("settlement pending: {kind:?} refused until the batch is closed")]
    SettlementPending {
        /// What was asked.
        kind: TxnKind,
    },
    /// A pending reversal could not be delivered: online traffic is blocked (DESIGN §5).
    #[error("reversal of trace {trace:06} pending: online traffic blocked until it goes through")]
    ReversalPending {
        /// Trace number of the request being reversed.
        trace: u32,
    },
    /// One exchange at a time: a request is waiting for its answer.
    #[error("busy: waiting for the answer to {mti} trace {trace:06}")]
    Busy {
        /// MTI of the request in flight.
        mti: String,
        /// Its trace number.
        trace: u32,
    },
    /// The invoice number names no record of the open batch.
    #[error("invoice {invoice:06} is not in the open batch")]
    NoSuchRecord {
        /// The invoice asked for.
        invoice: u32,
    },
    /// The trace number names no online record of the open batch that could be reversed.
    #[error("trace {trace:06} is not an online record of the open batch")]
    NoSuchTrace {
        /// The trace asked for.
        trace: u32,
    },
    /// The record was already voided.
    #[error("invoice {invoice:06} is already voided")]
    AlreadyVoided {
        /// The invoice asked for.
        invoice: u32,
    },
    /// Only sales and completions can be voided (pre-authorisations with their own request).
    #[error("invoice {invoice:06} is a {kind:?}, which cannot be voided")]
    NotVoidable {
        /// The invoice asked for.
        invoice: u32,
        /// What the record is.
        kind: TxnKind,
    },
    /// Only an approved online sale's tip can be adjusted (not a void, refund, pre-auth,
    /// completion or offline sale).
    #[error("invoice {invoice:06} is a {kind:?}, whose tip cannot be adjusted")]
    NotAdjustable {
        /// The invoice asked for.
        invoice: u32,
        /// What the record is.
        kind: TxnKind,
    },
    /// UnionPay terminals do not adjust tips: the dialect has no message for it.
    #[error("tip adjustment is not a UnionPay transaction")]
    TipAdjustUnsupported,
    /// The sale's tip adjustment has not reached the host yet, and this request must carry the
    /// amount the host holds (a card decline's reversal, matched by amount; DESIGN §6).
    #[error("the tip adjustment of invoice {invoice:06} has not reached the host yet")]
    TipAdjustPending {
        /// The sale's invoice.
        invoice: u32,
    },
    /// The pre-authorisation this completion names (by its approval code) was voided.
    #[error("the pre-authorisation of invoice {invoice:06} is voided and cannot be completed")]
    PreAuthVoided {
        /// The pre-authorisation's invoice.
        invoice: u32,
    },
    /// Amounts are n12 and never zero.
    #[error("amount {0} is outside 1..=999999999999")]
    InvalidAmount(u64),
    /// A card value the codec refused (length, class); the field number says which.
    #[error("card data refused for field {field}: {why}")]
    BadCardData {
        /// The field it would have gone in.
        field: u16,
        /// What the codec said, with sensitive content redacted.
        why: String,
    },
}

/// The store could not read or write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused an operation.
    #[cfg(feature = "sqlite")]
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be encoded or decoded.
    #[error("stored {what} is not readable: {source}")]
    Encoding {
        /// Which value.
        what: &'static str,
        /// The serialiser's complaint.
        source: serde_json::Error,
    },
    /// A test store refused the write on purpose (crash injection).
    #[error("injected failure at write {0}")]
    Injected(usize),
}

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request was refused locally; nothing was sent.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The store failed: the step did not happen, reopen the engine to resume.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message could not be built from stored values (a bug or a corrupt store).
    #[error("building {mti}: {source}")]
    Build {
        /// The MTI being built.
        mti: &'static str,
        /// The codec's error.
        source: iso8583_codec::Error,
    },
}
