//! Sans-IO settlement engine for ISO 8583 POS terminals: the batch log, "STORAGE FULL, PLEASE
//! SETTLE" (储存满请结算), reversals, advices, reconciliation, batch upload and close.
//!
//! `iso8583-settle` is what a terminal does between its first sale and a closed batch (DESIGN
//! §5). Operator requests, decoded responses, timeouts and the current time go in; messages to
//! send (built with [`iso8583_codec::Builder`] for the `intl-pos` or `cup-pos` spec), prompts,
//! printouts, outcomes and the next deadline come out. Two dialects share one state machine:
//! international (0500 920000, upload on 95, trailer 960000) and China UnionPay (0500 with
//! field 48 totals, flags decide the upload, closing 0320).
//!
//! The transactions: sale, void, refund, pre-authorisation and its void and completion, offline
//! sale, the chip card's decline after approval, and (international terminals) tip adjustment,
//! done offline and told to the host by a 0220 advice before settlement; then settlement,
//! sign-on, echo and sign-off.
//!
//! # What it does not do
//! No I/O and no clock: it never opens a socket, reads the time or touches a disk except
//! through the [`Store`] trait, so every behaviour can be driven from a test. It does not frame
//! messages or compute MACs (see the wire and crypto crates): the caller adds field 64 through
//! [`Outgoing::builder`] and tells the engine when a response MAC is wrong.
//!
//! # Main types
//! - [`Engine`]: one terminal. [`Engine::open`] resumes from the store (pending reversal first,
//!   then an unfinished settlement); [`Engine::request`], [`Engine::response`],
//!   [`Engine::response_bad_mac`], [`Engine::timeout`], [`Engine::not_sent`] (the connection
//!   could not be opened, so nothing left) and [`Engine::tick`] are the inputs.
//! - [`Config`]: capacity (at most 999), warning threshold, auto-settlement, reversal policy,
//!   checked when built; [`Dialect`] with [`IntlSettings`] or [`CupSettings`].
//! - [`Record`]: what a 0320 needs; never track data, PIN blocks or CVV; `Debug` masks the PAN.
//! - [`Output`] of [`Action`]s: [`Outgoing`] messages, [`Prompt`]s, [`Printout`]s, [`Outcome`]s.
//! - [`Report`]: the settlement slip's lines and totals, under the dialect's totals rules.
//! - [`Store`] with [`MemStore`] and (feature `sqlite`) [`SqliteStore`]; each step is one
//!   transaction, in write-ahead order.
//! - [`Rejected`]: why a request was refused locally, such as [`Rejected::StorageFull`].
//!
//! # Example
//! ```
//! use iso8583_codec::{Builder, Mti};
//! use iso8583_settle::{Card, Config, Dialect, Engine, IntlSettings, MemStore, Pan, Request, Time};
//!
//! let dialect = Dialect::International(IntlSettings::default());
//! let config = Config::builder("TERM0001", "MERCHANT0000001", dialect).build()?;
//! let now = Time::from_civil(2026, 12, 3, 10, 0, 0);
//! let (mut engine, _) = Engine::open(config, MemStore::new(), now)?;
//!
//! let card = Card::swiped(Pan::new("4761739001010010").expect("digits"));
//! let out = engine.request(Request::Sale { card, amount: 1000, tip: 0 }, now)?;
//! let sale = out.sent().next().expect("a 0200");
//! assert_eq!(sale.mti().as_str(), "0200");
//! assert!(engine.pending_reversal().is_some()); // stored before the 0200 leaves
//!
//! // The host approves.
//! let spec = engine.config().dialect().spec();
//! let mut reply = Builder::new(spec, Mti::new("0210").expect("digits"));
//! reply.set_str(11, "000001")?.set_str(37, "000000000001")?.set_str(38, "A1B2C3")?
//!     .set_str(39, "00")?;
//! let bytes = reply.to_bytes();
//! let out = engine.response(&spec.decode(&bytes)?.complete()?, now)?;
//! assert_eq!(engine.records().len(), 1);
//! assert!(engine.pending_reversal().is_none());
//! # let _ = out;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features and MSRV
//! - `sqlite` (default): [`SqliteStore`], on `rusqlite` with the bundled SQLite, in WAL mode.
//!
//! The minimum supported Rust version is 1.85.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod action;
mod adjust;
mod config;
pub mod dialect;
mod engine;
mod error;
mod online;
mod record;
mod report;
mod reversal;
mod settlement;
mod short;
pub mod store;
mod time;
pub mod totals;

pub use action::{Action, Outcome, Outgoing, Output, Printout, Prompt, Purpose, SettleFailure};
pub use config::{AutoSettle, Config, ConfigBuilder, MAX_AMOUNT, MAX_CAPACITY};
pub use dialect::{CupSettings, Dialect, IntlSettings, Scope, TotalsLength, VoidPolicy};
pub use engine::{counter_after, Engine, Request, COUNTER_MAX};
pub use error::{ConfigError, Error, Rejected, StoreError};
pub use record::{
    strip_track_data, AdviceState, Card, CardGroup, Pan, Record, RefundOriginal, TipAdvice,
    TxnKind, MAX_TLV_DEPTH,
};
pub use report::{Reconciliation, Report, ReportLine, ReportTotal, TotalName};
pub use short::ShortStr;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{
    FailAfter, MemStore, Op, PendingReversal, ReversalReason, Settlement, Snapshot, Store,
};
pub use time::Time;
