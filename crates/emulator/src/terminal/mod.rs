//! One emulated terminal: a [`Profile`], a settlement [`Engine`] on a store that survives
//! restarts, one host connection ([`Link`]) and the working keys. Every mode drives terminals
//! through [`Terminal::execute`], one [`Command`] at a time, and reads back a [`Step`].
//!
//! Read DESIGN §5 and §7 first. The engine decides everything a terminal decides about
//! money (what to send, reversals, settlement); the terminal does what the engine cannot:
//! the operator's passwords and card reads, framing and MACs (`security.rs`), the network and
//! its failures, the clock, working keys from a UnionPay sign-on, and the UnionPay header's
//! request for a new sign-on. A response is given to the engine only after its MAC verified;
//! a bad one goes to [`Engine::response_bad_mac`], so the engine reverses with `A0`.
//!
//! The per-sale path formats nothing and logs nothing above `debug` (the load mode runs tens
//! of thousands of sales a second): receipts are kept as values and printed by the modes.

mod security;

use std::sync::Arc;
use std::time::Duration;

use iso8583_crypto::{DesKey, Mac};
use iso8583_settle::{
    Action, AdviceState, Config, Engine, Error, FailAfter, Outcome, Output, Printout, Prompt,
    Rejected, Request, Store, TxnKind,
};
use iso8583_wire::AppHeader;
use tracing::Instrument;

use crate::cards::{self, ChipTxn, TestCard};
use crate::clock::Clock;
use crate::command::{AuthRef, Command, Target};
use crate::error::TerminalError;
use crate::link::Link;
use crate::profile::{DialectName, Profile};
use crate::state::StateSource;
use crate::step::{Notice, Printed, Receipt, Shown, Status, Step};
use crate::tap::FrameTap;

/// EMV transaction types (tag 9C, ISO 8583:1987 processing code digits 1-2).
const GOODS: u8 = 0x00;
const REFUND: u8 = 0x20;
const PRE_AUTH: u8 = 0x30;

/// The store under a terminal's engine: whatever [`StateSource`] opened, behind settle's crash
/// injector (armed by [`Command::PowerLoss`], otherwise never tripping).
pub type TermStore = FailAfter<Box<dyn Store + Send>>;

/// How a terminal is set up beyond its profile.
#[derive(Clone, Default)]
pub struct TerminalOptions {
    /// Sees every byte of every connection (the `--pcap` writer).
    pub tap: Option<Arc<dyn FrameTap>>,
    /// Keep no receipts: the load mode prints none.
    pub no_receipts: bool,
}

/// The working keys in use.
#[derive(Default)]
struct Keys {
    mac: Option<DesKey>,
    pin: Option<DesKey>,
}

/// One emulated terminal.
pub struct Terminal {
    profile: Profile,
    config: Config,
    mac: Option<Mac>,
    master: Option<DesKey>,
    keys: Keys,
    header: Option<AppHeader>,
    source: StateSource,
    engine: Option<Engine<TermStore>>,
    link: Link,
    clock: Clock,
    signed_on: bool,
    receipts: bool,
    last_receipt: Option<Receipt>,
    /// The last request sent, as it went, for `resend`.
    last_sent: Option<security::Sent>,
    /// The chip cards' transaction counter (tag 9F36): one per chip transaction presented.
    chip_counter: std::sync::atomic::AtomicU16,
}

impl Terminal {
    /// A terminal of `profile` keeping its state in `source`, for the host at `host`
    /// (`address:port`). It is off: [`Terminal::power_on`] loads the state and resumes.
    pub fn new(
        profile: Profile,
        source: StateSource,
        host: &str,
        options: TerminalOptions,
    ) -> Result<Terminal, TerminalError> {
        profile.check()?;
        let config = profile.settle_config()?;
        let spec = config.dialect().spec();
        let (frame, tpdu, header) = profile.frame_parts()?;
        let connect = (
            Duration::from_millis(profile.connect_timeout_ms),
            profile.connect_tries,
        );
        let link = Link::new(host, frame, spec, tpdu, connect, options.tap);
        let mut terminal = Terminal {
            mac: profile.mac_setting()?,
            master: profile.master()?,
            keys: Keys::default(),
            header,
            signed_on: false,
            receipts: !options.no_receipts,
            config,
            source,
            engine: None,
            link,
            clock: Clock::new(),
            last_receipt: None,
            last_sent: None,
            chip_counter: std::sync::atomic::AtomicU16::new(0),
            profile,
        };
        terminal.forget_session()?;
        Ok(terminal)
    }

    /// Turns the terminal on: loads the state and resumes whatever was unfinished (a pending
    /// reversal first, then a settlement; DESIGN §5). Fails when the store cannot be opened.
    pub async fn power_on(&mut self) -> Result<Step, TerminalError> {
        let mut step = Step::default();
        let store = self.source.open()?;
        let (engine, out) = Engine::open(
            self.config.clone(),
            FailAfter::new(store, usize::MAX),
            self.clock.now(),
        )?;
        self.engine = Some(engine);
        self.pump(out, &mut step).await;
        Ok(step)
    }

    /// Runs one command and reports what it did. Time-of-day auto-settlement is checked after
    /// every command while the terminal is idle (DESIGN §5).
    pub async fn execute(&mut self, command: &Command) -> Step {
        let span = tracing::debug_span!(
            "command",
            terminal = %self.profile.terminal_id,
            command = command.name()
        );
        self.execute_in(command).instrument(span).await
    }

    async fn execute_in(&mut self, command: &Command) -> Step {
        let mut step = Step::default();
        let connections = self.link.connections();
        match command {
            Command::PowerCycle => self.restart(None, &mut step).await,
            Command::PowerLoss { after_writes } => {
                self.restart(Some(*after_writes), &mut step).await
            }
            Command::Wait(pause) => tokio::time::sleep(*pause).await,
            Command::SetTime { hour, minute } => self.clock.set_time_of_day(*hour, *minute),
            Command::Status => {}
            Command::Reprint { settlement } => self.reprint(*settlement, &mut step),
            Command::Resend => self.resend(&mut step).await,
            other => self.operate(other, &mut step).await,
        }
        self.tick(&mut step).await;
        if *command == Command::Status {
            step.status = Some(self.status());
        }
        step.connections = self.link.connections() - connections;
        step
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The settlement engine, while the terminal is on.
    pub fn engine(&self) -> Option<&Engine<TermStore>> {
        self.engine.as_ref()
    }

    /// The host connection.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The host connection, to connect ahead of the first command.
    pub fn link_mut(&mut self) -> &mut Link {
        &mut self.link
    }

    /// The check values of the PIN and MAC keys in use (never the keys), as upper-case hex.
    pub fn key_check_values(&self) -> (Option<String>, Option<String>) {
        (
            self.keys.pin.as_ref().map(crate::profile::kcv_hex),
            self.keys.mac.as_ref().map(crate::profile::kcv_hex),
        )
    }

    /// The trace number the terminal would send next: the engine's counter while the terminal
    /// is on, else the one its state holds (`None` when there is none, or it cannot be read).
    pub fn next_trace(&self) -> Option<u32> {
        if let Some(engine) = &self.engine {
            return Some(engine.next_trace_number());
        }
        let snapshot = self.source.open().ok()?.load().ok()??;
        Some(snapshot.next_trace)
    }

    /// True when transactions are allowed: signed on, or the profile needs no sign-on.
    pub fn signed_on(&self) -> bool {
        self.signed_on
    }

    /// The terminal's clock.
    pub fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    /// The terminal's state now.
    pub fn status(&self) -> Status {
        let Some(engine) = &self.engine else {
            return Status::default();
        };
        let totals = match (engine.intl_totals(), engine.cup_totals()) {
            (Some(t), _) => vec![
                ("SALE", u64::from(t.sale_count), t.sale_amount),
                ("REFUND", u64::from(t.refund_count), t.refund_amount),
            ],
            (None, Some(t)) => {
                let (d, f) = (t.domestic, t.foreign);
                vec![
                    (
                        "DEBIT",
                        u64::from(d.debit_count + f.debit_count),
                        d.debit_amount + f.debit_amount,
                    ),
                    (
                        "CREDIT",
                        u64::from(d.credit_count + f.credit_count),
                        d.credit_amount + f.credit_amount,
                    ),
                ]
            }
            (None, None) => Vec::new(),
        };
        Status {
            powered: true,
            batch: engine.batch(),
            records: engine.records().len(),
            capacity: engine.config().capacity(),
            reversal: engine.pending_reversal().map(|r| r.trace),
            settlement_pending: engine.settlement().is_some(),
            signed_on: self.signed_on,
            connected: self.link.is_connected(),
            totals,
        }
    }

    /// Drops the connection and the engine and opens both again on what the store holds, with
    /// a power cut armed after `fail_after` writes when given. Working keys delivered by a
    /// sign-on live in memory only, so a UnionPay terminal must sign on again.
    async fn restart(&mut self, fail_after: Option<usize>, step: &mut Step) {
        self.link.disconnect().await;
        self.engine = None;
        if let Err(e) = self.forget_session() {
            step.failure = Some(e.to_string());
            return;
        }
        let store = match self.source.open() {
            Ok(store) => store,
            Err(e) => {
                step.failure = Some(format!("state store: {e}"));
                return;
            }
        };
        let store = FailAfter::new(store, fail_after.unwrap_or(usize::MAX));
        match Engine::open(self.config.clone(), store, self.clock.now()) {
            Ok((engine, out)) => {
                self.engine = Some(engine);
                step.notice(Notice::PoweredOn);
                self.pump(out, step).await;
            }
            // The armed cut hit while opening (a fresh store's first write): still off.
            Err(Error::Store(_)) if fail_after.is_some() => {
                step.power_lost = true;
                step.notice(Notice::PowerLost);
            }
            Err(e) => self.engine_error(e, step).await,
        }
    }

    /// Back to the keys of the profile and the sign-on state of a terminal just turned on.
    fn forget_session(&mut self) -> Result<(), TerminalError> {
        let (mac, pin) = self.profile.profile_keys()?;
        self.keys = Keys { mac, pin };
        self.signed_on = !self.profile.must_sign_on;
        Ok(())
    }

    /// An operator request for the engine.
    async fn operate(&mut self, command: &Command, step: &mut Step) {
        if self.engine.is_none() {
            step.notice(Notice::PowerOff);
            return;
        }
        let request = match self.request_for(command) {
            Ok(request) => request,
            Err(notice) => {
                step.notice(notice);
                return;
            }
        };
        let now = self.clock.now();
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        match engine.request(request, now) {
            Ok(out) => self.pump(out, step).await,
            Err(e) => self.engine_error(e, step).await,
        }
    }

    /// The engine request a command stands for, after the checks the keypad makes.
    fn request_for(&self, command: &Command) -> Result<Request, Notice> {
        Ok(match command {
            Command::SignOn { password } => {
                check_password(password, &self.profile.operator_password)?;
                Request::SignOn
            }
            Command::Echo => Request::Echo,
            Command::SignOff => Request::SignOff,
            Command::Settle { password } => {
                check_password(password, &self.profile.supervisor_password)?;
                Request::Settle
            }
            Command::CardDeclined { target } => Request::CardDeclined {
                trace: self.pick(*target, |r| r.trace, |r| r.kind != TxnKind::Void)?,
            },
            financial => {
                if !self.signed_on {
                    return Err(Notice::SignOnFirst);
                }
                self.financial(financial)?
            }
        })
    }

    fn financial(&self, command: &Command) -> Result<Request, Notice> {
        Ok(match command {
            Command::Sale { amount, tip, card } => Request::Sale {
                card: self.card(*card, amount + tip, GOODS)?,
                amount: *amount,
                tip: *tip,
            },
            Command::Void { target } => Request::Void {
                invoice: self.pick(
                    *target,
                    |r| r.invoice,
                    |r| matches!(r.kind, TxnKind::Sale | TxnKind::Completion),
                )?,
            },
            Command::VoidPreAuth { target } => Request::VoidPreAuth {
                invoice: self.pick(*target, |r| r.invoice, |r| r.kind == TxnKind::PreAuth)?,
            },
            Command::TipAdjust { target, tip } => Request::TipAdjust {
                invoice: self.pick(*target, |r| r.invoice, |r| r.kind == TxnKind::Sale)?,
                tip: *tip,
            },
            Command::Refund {
                amount,
                card,
                original: None,
            } => Request::Refund {
                card: self.card(*card, *amount, REFUND)?,
                amount: *amount,
            },
            Command::Refund {
                amount,
                card,
                original: Some(original),
            } => Request::RefundOf {
                card: self.card(*card, *amount, REFUND)?,
                amount: *amount,
                original: original.clone(),
            },
            Command::PreAuth { amount, card } => Request::PreAuth {
                card: self.card(*card, *amount, PRE_AUTH)?,
                amount: *amount,
            },
            Command::Completion { amount, card, auth } => Request::Completion {
                card: self.card(*card, *amount, GOODS)?,
                amount: *amount,
                auth_code: match auth {
                    AuthRef::Code(code) => code.clone(),
                    AuthRef::Last => self.last_pre_auth()?,
                },
            },
            Command::Offline { amount, card, auth } => Request::OfflineSale {
                card: self.card(*card, *amount, GOODS)?,
                amount: *amount,
                auth_code: auth.clone().unwrap_or_default(),
            },
            // Every other command is handled before it gets here.
            _ => return Err(Notice::NothingToVoid),
        })
    }

    /// The card for a request of `amount` (chip data follows it; `kind` is EMV tag 9C); the
    /// dialect's usual card when none was named.
    fn card(
        &self,
        card: Option<&'static TestCard>,
        amount: u64,
        kind: u8,
    ) -> Result<iso8583_settle::Card, Notice> {
        let fallback = match self.profile.dialect {
            DialectName::Intl => "visa-swipe",
            DialectName::Cup => "cup-swipe",
        };
        let card = card
            .or_else(|| cards::find(fallback))
            .ok_or(Notice::NothingToVoid)?;
        let now = self.clock.now();
        // An atomic only so that a terminal stays `Sync`; one task drives it.
        let atc = self
            .chip_counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1);
        let txn = ChipTxn {
            amount,
            date: now.date(),
            kind,
            currency: self.profile.currency.parse().unwrap_or(0),
            // Unpredictable enough for a test card: the clock's milliseconds and the counter.
            unpredictable: (now.0 as u32).rotate_left(16) ^ u32::from(atc),
            atc,
        };
        card.card_for(self.keys.pin.as_ref(), &txn).map_err(|e| {
            Notice::Refused(Rejected::BadCardData {
                field: 2,
                why: e.to_string(),
            })
        })
    }

    /// A number from the last online record that `eligible` accepts, or `target`'s own.
    fn pick(
        &self,
        target: Target,
        number: impl Fn(&iso8583_settle::Record) -> u32,
        eligible: impl Fn(&iso8583_settle::Record) -> bool,
    ) -> Result<u32, Notice> {
        if let Target::Number(n) = target {
            return Ok(n);
        }
        let engine = self.engine.as_ref().ok_or(Notice::PowerOff)?;
        engine
            .records()
            .iter()
            .rev()
            .find(|r| r.advice == AdviceState::Online && !r.voided && eligible(r))
            .map(number)
            .ok_or(Notice::NothingToVoid)
    }

    /// The approval code of the last pre-auth of the open batch, voided or not: a completion of
    /// a voided one is the engine's to refuse ([`Rejected::PreAuthVoided`]).
    fn last_pre_auth(&self) -> Result<String, Notice> {
        let engine = self.engine.as_ref().ok_or(Notice::PowerOff)?;
        engine
            .records()
            .iter()
            .rev()
            .find(|r| r.kind == TxnKind::PreAuth)
            .map(|r| r.auth_code.to_string())
            .ok_or(Notice::NoPreAuth)
    }

    /// Performs the engine's actions, exchanging each message it asks to send, until it has
    /// nothing more to send.
    async fn pump(&mut self, mut out: Output, step: &mut Step) {
        loop {
            let deadline = out.deadline;
            let mut send = None;
            for action in std::mem::take(&mut out.actions) {
                match action {
                    Action::Send(outgoing) => send = Some(outgoing),
                    Action::Prompt(prompt) => self.on_prompt(prompt, step),
                    Action::Print(printout) => self.on_print(printout, step),
                    Action::Outcome(outcome) => self.on_outcome(outcome, step),
                    _ => {}
                }
            }
            let Some(outgoing) = send else {
                return;
            };
            out = match self.exchange(outgoing, deadline, step).await {
                Ok(next) => next,
                Err(e) => {
                    self.engine_error(e, step).await;
                    return;
                }
            };
        }
    }

    /// Time passes: the engine may start a time-of-day settlement while idle.
    async fn tick(&mut self, step: &mut Step) {
        let now = self.clock.now();
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        if !engine.is_idle() {
            return;
        }
        match engine.tick(now) {
            Ok(out) if out.actions.is_empty() => {}
            Ok(out) => self.pump(out, step).await,
            Err(e) => self.engine_error(e, step).await,
        }
    }

    fn on_prompt(&mut self, prompt: Prompt, step: &mut Step) {
        match prompt {
            Prompt::SignedOn => self.signed_on = true,
            // A signed-off UnionPay terminal has no working keys until it signs on again.
            Prompt::SignedOff if self.profile.must_sign_on => {
                self.signed_on = false;
                self.keys.mac = None;
                self.keys.pin = None;
            }
            // A0 to a request, or 77 to a UnionPay 0500 (DESIGN §8): sign on again first.
            Prompt::SignOnRequired if self.profile.must_sign_on => self.signed_on = false,
            _ => {}
        }
        step.prompts.push(Shown::Engine(prompt));
    }

    fn on_print(&mut self, printout: Printout, step: &mut Step) {
        match printout {
            Printout::Report(report) => step.printed.push(Printed::Slip {
                report,
                reprint: false,
            }),
            other => step.printed.push(Printed::Other(other)),
        }
    }

    fn on_outcome(&mut self, outcome: Outcome, step: &mut Step) {
        if self.receipts {
            if let Some(receipt) = self.receipt_for(&outcome) {
                self.last_receipt = Some(receipt.clone());
                step.printed.push(Printed::Receipt(receipt));
            }
        }
        step.outcomes.push(outcome);
    }

    /// The receipt of an approved or queued transaction, from the record the engine stored
    /// (an international void has no record of its own: the voided original is printed).
    fn receipt_for(&self, outcome: &Outcome) -> Option<Receipt> {
        let (kind, trace, invoice, auth, queued) = match outcome {
            Outcome::Approved {
                kind,
                trace,
                invoice,
                auth_code,
            } => (*kind, *trace, *invoice, Some(auth_code), false),
            Outcome::Queued {
                kind,
                trace,
                invoice,
            } => (*kind, *trace, *invoice, None, true),
            _ => return None,
        };
        let engine = self.engine.as_ref()?;
        let records = engine.records();
        let record = records
            .iter()
            .find(|r| r.trace == trace)
            .or_else(|| records.iter().find(|r| r.invoice == invoice))?;
        Some(Receipt {
            kind,
            trace,
            invoice,
            batch: engine.batch(),
            pan: record.pan.masked(),
            entry_mode: record.entry_mode.to_string(),
            amount: record.amount,
            tip: record.tip,
            auth_code: auth.map_or_else(|| record.auth_code.to_string(), String::clone),
            rrn: record.rrn.to_string(),
            at: self.clock.now(),
            queued,
            reprint: false,
        })
    }

    fn reprint(&mut self, settlement: bool, step: &mut Step) {
        let printed = match settlement {
            true => self
                .engine
                .as_ref()
                .and_then(|e| e.last_report())
                .map(|report| Printed::Slip {
                    report: report.clone(),
                    reprint: true,
                }),
            false => self
                .last_receipt
                .clone()
                .map(|r| Printed::Receipt(Receipt { reprint: true, ..r })),
        };
        match (printed, settlement) {
            (Some(p), _) => step.printed.push(p),
            (None, true) => step.notice(Notice::NoSlipToPrint),
            (None, false) => step.notice(Notice::NothingToPrint),
        }
    }

    /// An engine error: a refusal is shown; a store failure is a power loss (injected or not:
    /// the engine must be reopened either way); anything else is reported as a failure.
    async fn engine_error(&mut self, error: Error, step: &mut Step) {
        match error {
            Error::Rejected(reason) => {
                tracing::debug!(%reason, "refused locally");
                step.notice(Notice::Refused(reason));
            }
            Error::Store(e) => {
                let injected = self.engine.as_ref().is_some_and(|e| e.store().tripped());
                tracing::debug!(error = %e, injected, "store write failed: power lost");
                if !injected {
                    step.failure = Some(format!("state store: {e}"));
                }
                self.engine = None;
                self.link.disconnect().await;
                step.power_lost = true;
                step.notice(Notice::PowerLost);
            }
            other => step.failure = Some(other.to_string()),
        }
    }
}

/// The keypad's password check; no password typed means the profile's (scenarios rarely type).
fn check_password(typed: &Option<String>, expected: &str) -> Result<(), Notice> {
    match typed {
        Some(p) if p != expected => Err(Notice::WrongPassword),
        _ => Ok(()),
    }
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("terminal_id", &self.profile.terminal_id)
            .field("dialect", &self.profile.dialect)
            .field("signed_on", &self.signed_on)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}
