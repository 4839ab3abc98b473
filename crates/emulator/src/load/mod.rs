//! The load mode (DESIGN §7, `posemu load`): N terminals at once, each with its own state in
//! memory, its own connection and its own terminal id, each signing on when its profile needs
//! it and then selling M times, settling whenever its batch warns or fills, as a terminal must.
//!
//! Read this first. Every terminal is a [`Terminal`] like the one the other modes drive, with
//! [`StateSource::memory`] and no receipts: the same engine, framing and MACs, so the figures
//! are those of the emulator, not of a lighter client. The terminals connect and sign on
//! first; the sales start together once every terminal is ready, and the sale phase is what
//! the throughput is measured over. Each sale's latency is the time its command took (the
//! engine, framing, MAC, the round trip and the reply's checks), recorded in an HDR histogram.
//!
//! At the end every terminal settles what is left, and the run checks, from the terminals' own
//! reports against what they sent, that every approved sale was settled exactly once (its
//! trace number in exactly one settlement report of its batch) or reversed, and that nothing
//! was settled that was not approved ([`tally`]). When the host is an in-process test host,
//! [`LoadReport::check_ledger`] checks the host's books the same way, by the host's own count.
//! The run's verdict ([`LoadReport::passed`]) also asks that some sale was approved and that
//! none was declined, unless [`LoadOptions::allow_declines`] (`verdict.rs`).

mod report;
mod tally;
mod verdict;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Barrier;

use crate::cards::{self, TestCard};
use crate::command::Command;
use crate::error::TerminalError;
use crate::profile::{DialectName, Profile};
use crate::state::StateSource;
use crate::step::Step;
use crate::tap::FrameTap;
use crate::terminal::{Terminal, TerminalOptions};

pub use report::{Latency, LedgerCheck, LoadReport, TerminalReport};
use tally::Tally;

/// The highest latency the histogram records, in microseconds (a minute; a longer sale is
/// recorded as a minute).
const MAX_LATENCY_US: u64 = 60_000_000;

/// Samples a terminal collects before adding them to the shared histogram.
const FLUSH_EVERY: usize = 256;

/// Settlements tried at the end before a terminal gives up on its last batch.
const FINAL_SETTLE_TRIES: u32 = 3;

/// What a load run does.
#[derive(Clone)]
pub struct LoadOptions {
    /// The host, `address:port`.
    pub host: String,
    /// How many terminals.
    pub terminals: u32,
    /// Sales per terminal.
    pub sales: u32,
    /// The profile every terminal runs with; each gets its own terminal id, counting up from
    /// this profile's (see [`terminal_ids`]).
    pub profile: Profile,
    /// Sees every byte of every connection (`--pcap`).
    pub tap: Option<Arc<dyn FrameTap>>,
    /// Declined sales are expected (`--allow-declines`): they do not fail the run, which then
    /// checks the approved ones only. Otherwise any declined sale fails it
    /// ([`LoadReport::failures`]).
    pub allow_declines: bool,
}

/// Counters the caller may watch while the run goes (the progress bar).
#[derive(Debug, Default)]
pub struct LoadProgress {
    /// Sales done (approved or not).
    pub sales: AtomicU64,
    /// Sales approved.
    pub approved: AtomicU64,
    /// Terminals connected and ready to sell.
    pub ready: AtomicU64,
}

/// A load run that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The first terminal id is not 8 characters (field 41).
    #[error("terminal id {base:?} is not 8 printable characters (field 41)")]
    TerminalId {
        /// The first id.
        base: String,
    },
    /// More than one terminal, but the first id has no digits at its end to count up from.
    #[error(
        "{count} terminals need ids counting up from {base}, but it has no digits at its end \
         to count up from: give --tid-base a numeric suffix (e.g. TERM0001)"
    )]
    NoCounter {
        /// The first id.
        base: String,
        /// How many were asked for.
        count: u32,
    },
    /// The ids run out of digits: the last would need more than 8 characters.
    #[error(
        "{count} terminal ids counting up from {base} do not fit its last {digits} digit(s) \
         (field 41 holds 8 characters)"
    )]
    TerminalIds {
        /// The first id.
        base: String,
        /// How many were asked for.
        count: u32,
        /// The digits at the end of `base`, the counter.
        digits: usize,
    },
    /// A terminal cannot be made from the profile.
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    /// Nothing to do.
    #[error("--terminals and --sales must be at least 1")]
    Empty,
}

/// The ids of `count` terminals from `base`: the digits at the end of `base` count up with
/// the same width (`00000001`, `00000002`, ...; `TERM0098`, `TERM0099`, `TERM0100`), exactly as
/// the test host expands a terminal entry with `count` (`testhost --terminals N`). An id
/// without digits at its end serves one terminal only.
pub fn terminal_ids(base: &str, count: u32) -> Result<Vec<String>, LoadError> {
    let printable = base.bytes().all(|b| (0x20..0x7F).contains(&b));
    if base.len() != 8 || !printable {
        return Err(LoadError::TerminalId {
            base: base.to_owned(),
        });
    }
    let digits = base.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 && count > 1 {
        return Err(LoadError::NoCounter {
            base: base.to_owned(),
            count,
        });
    }
    let mut entry = iso8583_host::TerminalConfig::new(
        base,
        "000000000000000",
        iso8583_host::Dialect::International,
    );
    entry.count = count;
    let ids: Vec<String> = entry.ids().collect();
    if ids.iter().any(|id| id.len() != 8) {
        return Err(LoadError::TerminalIds {
            base: base.to_owned(),
            count,
            digits,
        });
    }
    Ok(ids)
}

/// Runs the load; see the module docs. `progress` is updated as sales finish.
pub async fn run_load(
    options: &LoadOptions,
    progress: Arc<LoadProgress>,
) -> Result<LoadReport, LoadError> {
    if options.terminals == 0 || options.sales == 0 {
        return Err(LoadError::Empty);
    }
    let ids = terminal_ids(&options.profile.terminal_id, options.terminals)?;
    let shared = Arc::new(Shared::new(progress));
    let barrier = Arc::new(Barrier::new(ids.len()));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let worker = Worker::new(id, options, shared.clone())?;
        tasks.spawn(worker.run(barrier.clone(), options.sales));
    }
    let mut tallies = Vec::with_capacity(options.terminals as usize);
    while let Some(done) = tasks.join_next().await {
        // A worker panicking is a bug of ours; its terminal is reported as lost.
        match done {
            Ok(tally) => tallies.push(tally),
            Err(e) => tracing::error!(error = %e, "a load terminal's task failed"),
        }
    }
    let missing = options.terminals as usize - tallies.len();
    Ok(LoadReport::new(
        options,
        tallies,
        missing,
        shared.histogram(),
        started.elapsed(),
    ))
}

/// What the terminals share: the latency histogram and the progress counters.
struct Shared {
    /// `None` only if the histogram could not be made, which its constant bounds rule out.
    histogram: Mutex<Option<Histogram<u64>>>,
    progress: Arc<LoadProgress>,
}

impl Shared {
    fn new(progress: Arc<LoadProgress>) -> Shared {
        // Three significant figures between 1 µs and a minute.
        let histogram = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).ok();
        Shared {
            histogram: Mutex::new(histogram),
            progress,
        }
    }

    fn record(&self, samples: &mut Vec<u64>) {
        let mut guard = self
            .histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match guard.as_mut() {
            Some(h) => samples
                .drain(..)
                .for_each(|us| h.saturating_record(us.clamp(1, MAX_LATENCY_US))),
            None => samples.clear(),
        }
    }

    fn histogram(&self) -> Option<Histogram<u64>> {
        self.histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One terminal of the run and what it has seen.
struct Worker {
    terminal: Terminal,
    tally: Tally,
    shared: Arc<Shared>,
    card: &'static TestCard,
    samples: Vec<u64>,
}

impl Worker {
    fn new(id: String, options: &LoadOptions, shared: Arc<Shared>) -> Result<Worker, LoadError> {
        let mut profile = options.profile.clone();
        profile.terminal_id = id.clone();
        let terminal_options = TerminalOptions {
            tap: options.tap.clone(),
            no_receipts: true,
        };
        let terminal = Terminal::new(
            profile,
            StateSource::memory(),
            &options.host,
            terminal_options,
        )?;
        let fallback = match options.profile.dialect {
            DialectName::Intl => "visa-swipe",
            DialectName::Cup => "cup-swipe",
        };
        let card = cards::find(fallback).ok_or(LoadError::Empty)?;
        Ok(Worker {
            terminal,
            tally: Tally::new(id),
            shared,
            card,
            samples: Vec::with_capacity(FLUSH_EVERY),
        })
    }

    /// Connects and signs on, waits for every other terminal, sells, settles what is left.
    async fn run(mut self, barrier: Arc<Barrier>, sales: u32) -> Tally {
        let ready = self.prepare().await;
        if ready {
            self.shared.progress.ready.fetch_add(1, Ordering::Relaxed);
        }
        barrier.wait().await;
        if ready {
            let start = Instant::now();
            self.sell(sales).await;
            self.tally.sale_phase = Some((start, Instant::now()));
            self.settle_rest().await;
        }
        self.shared.record(&mut self.samples);
        let status = self.terminal.status();
        self.tally.finish(&status);
        self.tally
    }

    /// Connect, power on, sign on when the profile needs it. False when the terminal cannot
    /// sell (the reason is in the tally).
    async fn prepare(&mut self) -> bool {
        if let Err(why) = self.terminal.link_mut().connect().await {
            self.tally.unreachable = Some(why);
            return false;
        }
        match self.terminal.power_on().await {
            Ok(step) => self.observe(&step),
            Err(e) => {
                self.tally
                    .problem(format!("the terminal cannot start: {e}"));
                return false;
            }
        }
        if self.terminal.signed_on() {
            return true;
        }
        let step = self.run_command(&Command::SignOn { password: None }).await;
        if !self.terminal.signed_on() {
            let code = step.last_code().unwrap_or("none");
            self.tally
                .problem(format!("sign-on failed (response {code})"));
            self.tally.error(&format!("sign-on failed {code}"));
            return false;
        }
        true
    }

    async fn sell(&mut self, sales: u32) {
        for n in 0..sales {
            let sale = Command::Sale {
                amount: amount(n),
                tip: 0,
                card: Some(self.card),
            };
            let began = Instant::now();
            let step = self.run_command(&sale).await;
            self.latency(began.elapsed());
            self.shared.progress.sales.fetch_add(1, Ordering::Relaxed);
            if tally::needs_settlement(&step) {
                self.run_command(&Command::Settle { password: None }).await;
            }
            if step.unreachable.is_some() && !self.terminal.link().is_connected() {
                // The host went away: give it a moment rather than spinning through the sales.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Settles until the batch is empty and nothing is pending, a few tries at most.
    async fn settle_rest(&mut self) {
        for _ in 0..FINAL_SETTLE_TRIES {
            let status = self.terminal.status();
            let done =
                status.records == 0 && !status.settlement_pending && status.reversal.is_none();
            if done {
                return;
            }
            self.run_command(&Command::Settle { password: None }).await;
        }
    }

    async fn run_command(&mut self, command: &Command) -> Step {
        let batch = self.batch();
        let step = self.terminal.execute(command).await;
        self.tally.observe(&step, batch);
        let approved = self.tally.take_new_approvals();
        if approved > 0 {
            self.shared
                .progress
                .approved
                .fetch_add(approved, Ordering::Relaxed);
        }
        step
    }

    fn observe(&mut self, step: &Step) {
        let batch = self.batch();
        self.tally.observe(step, batch);
    }

    /// The open batch (cheap: [`Terminal::status`] adds up the totals, once a sale is too often).
    fn batch(&self) -> u32 {
        self.terminal.engine().map_or(0, |e| e.batch())
    }

    fn latency(&mut self, took: Duration) {
        self.samples
            .push(u64::try_from(took.as_micros()).unwrap_or(MAX_LATENCY_US));
        if self.samples.len() >= FLUSH_EVERY {
            self.shared.record(&mut self.samples);
        }
    }
}

/// The n-th sale's amount: 1.00 to 100.99, never a round figure a fault rule is likely to
/// match by its cents.
fn amount(n: u32) -> u64 {
    100 + u64::from(n.wrapping_mul(37) % 10_000)
}
