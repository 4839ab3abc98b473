//! `posemu`: a POS terminal emulator that plays a physical card terminal against an ISO 8583
//! acquirer host (DESIGN §7).
//!
//! A [`Terminal`] is a [`Profile`] (ids, dialect, keys, MAC, batch capacity, timeouts,
//! passwords), the settlement engine of `iso8583-settle` on a store that survives restarts,
//! one host connection and the working keys. It takes operator [`Command`]s (`sign_on`,
//! `sale 12.50 card=visa-swipe`, `void last`, `tip last 2.00`, `void_pre_auth last`, `settle`,
//! `power_cycle`, ...) and reports each as a [`Step`]: the messages exchanged, the prompts
//! shown ("STORAGE FULL, PLEASE SETTLE" / 储存满请结算), the outcomes, and the receipts and
//! settlement slips printed ([`mod@print`]).
//! [`Scenario`] files list commands with expectations; [`run_scenario`] runs one and checks
//! every expectation, which is what `posemu run` does in CI. [`run_load`] runs many terminals
//! at once with their state in memory and checks that every sale was settled once or reversed
//! (`posemu load`); [`PcapTap`] writes every connection's TCP exchange as a pcap file
//! (`--pcap`).
//!
//! # What it does not do
//! It decides nothing about money itself: reversals, advices, settlement and batch upload are
//! the engine's (DESIGN §5). No EMV kernel: chip cards present data made for each transaction
//! with a cryptogram-shaped ARQC that no host can verify ([`cards::TestCard::chip_data`]). No
//! TLS. It
//! never prints or logs a key (check values only), a full PAN, track data or a PIN block.
//! The library logs through `tracing` at `debug` and below; the `posemu` binary adds `info`
//! for lifecycle events.
//!
//! # Main types
//! - [`Profile`], with the built-in `intl` and `cup` profiles that match the test host, and
//!   [`ProfileFile`], a profile file layered over one (its errors name the file and line).
//! - [`Terminal`], [`TerminalOptions`], [`StateSource`] (SQLite or memory) and [`Step`].
//! - [`Command`] and the test cards in [`cards`].
//! - [`Scenario`], [`ScenarioResult`] and [`run_scenario`].
//! - [`FrameTap`]: sees every byte of every connection; [`PcapTap`] writes them as a pcap file.
//! - [`run_load`], [`LoadOptions`], [`LoadProgress`] and [`LoadReport`]: the load mode.
//!
//! # Example
//! ```
//! use posemu::{Command, DialectName, Profile, Scenario};
//!
//! let profile = Profile::builtin(DialectName::Cup);
//! assert_eq!(profile.terminal_id, "20000001");
//! let sale = Command::parse("sale 12.50 card=cup-chip")?;
//! assert_eq!(sale.to_string(), "sale 12.50 card=cup-chip");
//!
//! let scenario = Scenario::from_toml_str(r#"
//!     name = "one sale"
//!     dialect = "cup"
//!     [[step]]
//!     run = "sign_on"
//!     expect = { code = "00" }
//!     [[step]]
//!     run = "sale 12.50"
//!     expect = { outcome = "approved", sent = ["0200"] }
//! "#, "one-sale.toml")?;
//! assert_eq!(scenario.steps.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features and MSRV
//! No optional features. The minimum supported Rust version is 1.85.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod amount;
pub mod cards;
mod clock;
mod command;
mod error;
mod link;
mod load;
mod pcap;
pub mod print;
mod profile;
mod profile_file;
mod runner;
mod scenario;
mod state;
mod step;
mod tap;
mod terminal;

pub use clock::Clock;
pub use command::{parse_duration, AuthRef, Command, Target};
pub use error::{CardError, CommandError, ProfileError, RunError, ScenarioError, TerminalError};
pub use link::{Link, Reply};
pub use load::{
    run_load, terminal_ids, Latency, LedgerCheck, LoadError, LoadOptions, LoadProgress, LoadReport,
    TerminalReport,
};
pub use pcap::{PcapError, PcapStats, PcapTap, MAX_SEGMENT};
pub use profile::{kcv_hex, parse_time_of_day, AutoSettleRule, DialectName, KeyHex, Profile};
pub use profile_file::{ProfileFile, ProfileFileError};
pub use runner::{
    check, outcome_word, prompt_texts, run_scenario, step_lines, Check, HostHook, RunOptions,
    ScenarioResult, StepResult,
};
pub use scenario::{expand_mti, Expect, OneOrMany, Scenario, ScenarioStep, TotalCheck, OUTCOMES};
pub use state::StateSource;
pub use step::{Exchange, Fate, Notice, Printed, Receipt, Shown, Status, Step};
pub use tap::{ConnInfo, Direction, FrameTap, TapStream};
pub use terminal::{TermStore, Terminal, TerminalOptions};
