//! A test acquirer host for ISO 8583 POS terminals: authorisation rules, a per-terminal ledger,
//! reconciliation, batch upload, and faults on demand.
//!
//! `iso8583-host` behaves toward a terminal the way an acquirer's host does (DESIGN §6), in
//! either dialect per listener: international (`intl-pos`, 0500 920000 / 960000) or China
//! UnionPay (`cup-pos`, field 48 totals and flags). Tests start it in-process on port 0
//! ([`TestHost::spawn`] with [`HostConfig::on_ephemeral_ports`]); the `testhost` binary runs
//! it standalone.
//!
//! What it does:
//! - **Messages**: sign-on (UnionPay working keys in field 62 under the master key, with check
//!   values, and the batch number in 60.2), echo, sign-off, 0100 pre-auth and pre-auth void,
//!   0200 sale, void, completion and (international) refund, 0220 advice, UnionPay refund and
//!   (international) tip adjustment, 0400 reversal, 0500 reconciliation, 0320 batch upload,
//!   the 960000 trailer and the closing 0320. Answers echo
//!   what terminals check (MTI + 10, 3, 4, 11, 41, 42; the TPDU's addresses swapped).
//! - **Checks**: duplicates (94, no second authorisation), reversal and void matching by
//!   trace or RRN and amount (00 or 25, the same again on a repeat), a tip adjustment matched
//!   to its sale (25 when none stands), a completion of a voided pre-auth (12), upload deduplication by
//!   original trace, MACs (A0), unknown terminals (03 / 97) and merchants (03), unparseable
//!   messages (30, or the connection closed), and the settlement sequence (a trailer, upload
//!   or closing 0320 out of turn is 12; a closing 0320 for another batch number 77).
//! - **Rules** ([`Rules`]): amount limits and card-prefix, amount, cents or trace rules giving
//!   any response code.
//! - **Faults** ([`FaultRule`]): by rule or seeded chance, delay, no answer, close, close in
//!   the middle of a frame, wrong MAC, wrong trace number, out of balance, a bad check value
//!   at sign-on, or a request to sign on again.
//! - **Ledger**: per terminal the open batch (approved, voided, reversed, uploaded records)
//!   and the closed batches with their totals, computed by the host's own totals code from
//!   its own books; readable as a [`LedgerView`], written behind to SQLite (in memory, only
//!   what the books still hold), read back on restart.
//! - **Connections**: an idle timeout, a timeout for completing a frame, a cap per listener
//!   and an accept loop that backs off when out of file descriptors ([`ListenerConfig`]).
//!
//! The crate's `README.md` has the configuration format, the answer codes, the settlement
//! sequence and the MAC policy (0500 and 0320 are checked only when they carry a MAC).
//!
//! # What it does not do
//! It does not depend on the settlement engine (`iso8583-settle`): its totals are a second
//! implementation on purpose, so that a reconciliation test can catch a mistake on either
//! side. No TLS, no PIN verification, no issuer routing: every authorisation is decided here.
//! Keys are test keys; the host prints their check values, never the keys. PANs are kept and
//! logged masked. Nothing a terminal sends makes it panic; a connection that sends garbage is
//! closed without affecting the others.
//!
//! # Main types
//! - [`HostConfig`] with [`ListenerConfig`], [`TerminalConfig`], [`Rules`] and [`FaultRule`]:
//!   the configuration, from TOML ([`HostConfig::from_toml_str`]) or built in
//!   ([`HostConfig::builtin`]).
//! - [`TestHost`]: a running host; [`TestHost::ledger`], [`TestHost::stats`],
//!   [`TestHost::set_faults`], [`TestHost::shutdown`].
//! - [`LedgerView`], [`Summary`]: what the host booked and counted.
//! - [`ConfigError`], [`HostError`].
//!
//! # Example
//! ```
//! use iso8583_codec::{Builder, Mti, Spec};
//! use iso8583_host::{Dialect, HostConfig, TestHost};
//! use iso8583_wire::{Client, FrameConfig, Nii, Request, Tpdu};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let host = TestHost::spawn(HostConfig::builtin().on_ephemeral_ports()).await?;
//! let addr = host.addr(Dialect::International).expect("an international listener");
//!
//! let spec = Spec::builtin("intl-pos").expect("built in");
//! let stream = tokio::net::TcpStream::connect(addr).await?;
//! let client = Client::new(stream, FrameConfig::international(), spec);
//! let mut sale = Builder::new(spec, Mti::new("0200").expect("digits"));
//! sale.set_str(2, "4761739001010010")?.set_str(3, "000000")?.set_str(4, "000000001250")?
//!     .set_str(11, "000001")?.set_str(22, "021")?.set_str(24, "003")?
//!     .set_str(41, "00000001")?.set_str(42, "123456789012345")?;
//! let tpdu = Tpdu::new(Nii::new(3)?, Nii::new(0)?);
//! let response = client.send(Request::from_builder(&sale).with_tpdu(tpdu)).await?;
//! let reply = response.message()?;
//! assert_eq!(reply.field(39).and_then(|f| f.as_str()), Some("00"));
//!
//! let ledger = host.ledger();
//! assert_eq!(ledger.terminal("00000001").map(|t| t.open.len()), Some(1));
//! let summary = host.shutdown().await;
//! assert_eq!(summary.answers("0200", "00"), 1);
//! # Ok(())
//! # }
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

mod config;
mod error;
mod fields;
mod handler;
mod ledger;
mod limits;
mod network;
mod restore;
mod rules;
mod server;
mod settlement;
mod stats;
mod store;
mod totals;
mod view;

pub use config::{
    ConfigKey, Dialect, HostConfig, LengthKind, ListenerConfig, MacKeyUse, MacSetting,
    TerminalConfig, VoidPolicy, CUP_PORT, INTL_PORT,
};
pub use error::{ConfigError, HostError};
pub use ledger::{CardGroup, CloseResult, RecordState, TxnKind};
pub use rules::{
    faults_from_toml, AuthRule, Cents, FaultAction, FaultRule, HostPatch, Match, ResponseCode,
    Rules, MAX_DELAY,
};
pub use server::TestHost;
pub use stats::Summary;
pub use totals::{CupGroupTotals, CupTotals, IntlTotals, Totals};
pub use view::{BatchView, LedgerView, RecordView, TerminalView};
