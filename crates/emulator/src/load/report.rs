//! A load run's summary: approved sales per second over the sale phase, latency percentiles,
//! errors by kind, settlements, and the final check (the terminals' own, and the host's books
//! when the host is in-process), as text lines or one JSON object. Whether the run passed,
//! which also asks that sales were approved and none declined, is in `verdict.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use iso8583_host::{LedgerView, RecordState, TxnKind};
use serde_json::{json, Value};

use super::tally::Tally;
use super::LoadOptions;

/// Latency percentiles of the sales, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    /// Sales measured.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// The slowest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// One terminal's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalReport {
    /// Terminal id.
    pub terminal: String,
    /// Sales approved.
    pub approved: u64,
    /// Approved sales found in exactly one settlement report of their batch.
    pub settled: u64,
    /// Sales reversed (reversal delivered).
    pub reversed: u64,
    /// Sales the host declined.
    pub declined: u64,
    /// Batches it closed.
    pub settlements: u64,
    /// Whether its own account holds (every sale it saw approved settled once or reversed).
    pub holds: bool,
}

/// The host's books checked against the terminals' accounts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerCheck {
    /// Sales the host settled: on the sale side of a closed batch's totals (approved, or
    /// voided where the dialect still counts a voided sale; see `iso8583_host::BatchView`).
    pub settled: u64,
    /// Sales the host reversed (in the open batch and the closed batches whose records it
    /// still holds).
    pub reversed: u64,
    /// What does not hold, terminal by terminal (the first few).
    pub problems: Vec<String>,
    /// How many things do not hold.
    pub problem_count: u64,
}

impl LedgerCheck {
    /// True when nothing is wrong.
    pub fn holds(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < 10 {
            self.problems.push(text);
        }
    }
}

/// What a load run did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The host.
    pub host: String,
    /// The dialect.
    pub dialect: &'static str,
    /// Terminals asked for.
    pub terminals: u32,
    /// Sales per terminal.
    pub sales_per_terminal: u32,
    /// Sales approved, all terminals.
    pub approved: u64,
    /// From the first terminal's first sale to the last terminal's last sale (settlements on
    /// the way included).
    pub sale_phase: Duration,
    /// The whole run: connecting, signing on, selling, the final settlements.
    pub elapsed: Duration,
    /// Sale latencies.
    pub latency: Latency,
    /// Errors by kind (response codes, no answer, reversals, refusals...).
    pub errors: BTreeMap<String, u64>,
    /// Sales the host declined, by response code (in `errors` too): any fails the run unless
    /// `allow_declines`.
    pub declined: BTreeMap<String, u64>,
    /// Declined sales were expected ([`super::LoadOptions::allow_declines`]): they do not fail
    /// the run.
    pub allow_declines: bool,
    /// Batches closed.
    pub settlements: u64,
    /// Of which balanced at the first 0500.
    pub balanced: u64,
    /// Terminals that could not reach the host, with the first reason.
    pub unreachable: (u64, Option<String>),
    /// Per terminal.
    pub per_terminal: Vec<TerminalReport>,
    /// What did not hold in the terminals' accounts (the first few).
    pub problems: Vec<String>,
    /// How many things did not hold.
    pub problem_count: u64,
    /// The host's books, when checked ([`LoadReport::check_ledger`]).
    pub ledger: Option<LedgerCheck>,
}

impl LoadReport {
    pub(super) fn new(
        options: &LoadOptions,
        mut tallies: Vec<Tally>,
        missing: usize,
        histogram: Option<Histogram<u64>>,
        elapsed: Duration,
    ) -> LoadReport {
        tallies.sort_by(|a, b| a.terminal.cmp(&b.terminal));
        let mut report = LoadReport {
            host: options.host.clone(),
            dialect: options.profile.dialect.as_str(),
            terminals: options.terminals,
            sales_per_terminal: options.sales,
            approved: 0,
            sale_phase: sale_phase(&tallies),
            elapsed,
            latency: histogram.as_ref().map(Latency::of).unwrap_or_default(),
            errors: BTreeMap::new(),
            declined: BTreeMap::new(),
            allow_declines: options.allow_declines,
            settlements: 0,
            balanced: 0,
            unreachable: (0, None),
            per_terminal: Vec::with_capacity(tallies.len()),
            problems: Vec::new(),
            problem_count: 0,
            ledger: None,
        };
        for tally in tallies {
            report.add(tally);
        }
        if missing > 0 {
            report.problem_count += missing as u64;
            report
                .problems
                .push(format!("{missing} terminal(s) stopped without a report"));
        }
        report
    }

    fn add(&mut self, t: Tally) {
        self.approved += t.approved;
        self.settlements += t.settlements;
        self.balanced += t.balanced;
        for (kind, n) in &t.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        for (code, n) in &t.declined {
            *self.declined.entry(code.clone()).or_default() += n;
        }
        if let Some(why) = &t.unreachable {
            self.unreachable.0 += 1;
            self.unreachable.1.get_or_insert_with(|| why.clone());
        }
        self.problem_count += t.problem_count;
        let room = 10usize.saturating_sub(self.problems.len());
        self.problems.extend(t.problems.iter().take(room).cloned());
        let holds = t.holds();
        if !holds && t.problem_count == 0 {
            // Approved and settled counts differ without a named cause: count it too.
            self.problem_count += 1;
        }
        self.per_terminal.push(TerminalReport {
            terminal: t.terminal,
            approved: t.approved,
            settled: t.settled,
            reversed: t.reversed,
            declined: t.declined.values().sum(),
            settlements: t.settlements,
            holds,
        });
    }

    /// Approved sales per second over the sale phase.
    pub fn approved_per_second(&self) -> f64 {
        let secs = self.sale_phase.as_secs_f64();
        if secs > 0.0 {
            self.approved as f64 / secs
        } else {
            0.0
        }
    }

    /// Sales settled once, all terminals.
    pub fn settled(&self) -> u64 {
        self.per_terminal.iter().map(|t| t.settled).sum()
    }

    /// Sales reversed, all terminals.
    pub fn reversed(&self) -> u64 {
        self.per_terminal.iter().map(|t| t.reversed).sum()
    }

    /// True when the check holds: every terminal's account (every sale it saw approved was
    /// settled once or reversed, nothing settled that was not approved), and the host's books
    /// when checked. It says nothing of sales that were never approved, nor of terminals that
    /// never reached the host: [`LoadReport::passed`] is the run's verdict.
    pub fn holds(&self) -> bool {
        self.problem_count == 0
            && self.per_terminal.iter().all(|t| t.holds)
            && self.ledger.as_ref().is_none_or(LedgerCheck::holds)
    }

    /// Checks the host's books (an in-process test host's [`LedgerView`]): for each terminal,
    /// every sale it approved is in exactly one closed batch, settled there (the host's
    /// `RecordView::is_settled`: on the sale side of the batch's totals), or reversed; none is
    /// left approved in the open batch or unconfirmed by an upload; and the host settled as
    /// many sales as the terminal did. A terminal the host does not know is a problem only if
    /// it had sales approved (else its sales were declined, which `failures` reports).
    pub fn check_ledger(&mut self, ledger: &LedgerView) {
        let mut check = LedgerCheck::default();
        for t in &self.per_terminal {
            let Some(books) = ledger.terminal(&t.terminal) else {
                // A terminal the host does not know had every sale declined (03 / 97), which
                // fails the run on its own (`verdict.rs`); its books have nothing to agree with.
                if t.approved > 0 {
                    check.problem(format!("{}: unknown to the host", t.terminal));
                }
                continue;
            };
            let (settled, reversed) = host_sales(books, &mut check);
            check.settled += settled;
            check.reversed += reversed;
            if settled != t.settled {
                check.problem(format!(
                    "{}: the host settled {settled} sales, the terminal {}",
                    t.terminal, t.settled
                ));
            }
        }
        self.ledger = Some(check);
    }

    /// The summary as text lines, ending with the verdict (`result: ...`) and, for declined
    /// sales, what their codes most likely mean.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "posemu load: {} terminal(s) x {} sale(s), {} dialect, host {}",
            self.terminals, self.sales_per_terminal, self.dialect, self.host
        )];
        if self.reached() > 0 {
            lines.extend(self.figures());
        }
        if let (n @ 1.., why) = &self.unreachable {
            lines.push(format!(
                "unreachable: {n} terminal(s) of {} could not reach the host: {}",
                self.terminals,
                why.as_deref().unwrap_or("")
            ));
        }
        if self.reached() > 0 {
            lines.push(self.check_line());
            lines.extend(self.problems.iter().map(|p| format!("  {p}")));
            if let Some(ledger) = &self.ledger {
                lines.extend(ledger.problems.iter().map(|p| format!("  host: {p}")));
            }
        } else {
            lines.push("nothing was sold, so nothing was checked".to_owned());
        }
        lines.push(self.result_line());
        lines.extend(self.decline_hints().into_iter().map(|h| format!("  {h}")));
        lines
    }

    /// Throughput, latency, settlements and errors.
    fn figures(&self) -> [String; 4] {
        let l = &self.latency;
        [
            format!(
                "approved {} sale(s) in {:.2} s: {:.0} approved sales/s ({:.2} s in all)",
                self.approved,
                self.sale_phase.as_secs_f64(),
                self.approved_per_second(),
                self.elapsed.as_secs_f64()
            ),
            format!(
                "latency per sale: p50 {} p90 {} p99 {} max {} (mean {}; {} sales)",
                micros(l.p50),
                micros(l.p90),
                micros(l.p99),
                micros(l.max),
                micros(l.mean.round() as u64),
                l.count
            ),
            format!(
                "settlements: {} ({} balanced)",
                self.settlements, self.balanced
            ),
            format!("errors: {}", self.errors_text()),
        ]
    }

    /// Terminals that reached the host (connected at the start).
    pub fn reached(&self) -> u64 {
        u64::from(self.terminals).saturating_sub(self.unreachable.0)
    }

    fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "none".into();
        }
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        parts.join(", ")
    }

    fn check_line(&self) -> String {
        let verdict = if self.holds() { "holds" } else { "FAILS" };
        // The check is about approved sales; saying it holds over none would read as a pass.
        let verdict = match self.approved {
            0 if self.holds() => "holds, but no sale was approved",
            _ => verdict,
        };
        let host = match &self.ledger {
            Some(l) if l.holds() => format!(
                "; host ledger agrees ({} settled, {} reversed)",
                l.settled, l.reversed
            ),
            Some(l) => format!("; host ledger: {} problem(s)", l.problem_count),
            None => String::new(),
        };
        format!(
            "check: every approved sale settled once or reversed {verdict}: {} settled, \
             {} reversed, {} problem(s){host}",
            self.settled(),
            self.reversed(),
            self.problem_count
        )
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> Value {
        let l = &self.latency;
        json!({
            "host": self.host,
            "dialect": self.dialect,
            "terminals": self.terminals,
            "sales_per_terminal": self.sales_per_terminal,
            "approved": self.approved,
            "sale_phase_s": self.sale_phase.as_secs_f64(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "approved_per_s": self.approved_per_second(),
            "latency_us": {
                "count": l.count, "p50": l.p50, "p90": l.p90, "p99": l.p99,
                "max": l.max, "mean": l.mean,
            },
            "errors": self.errors,
            "declined": self.declined,
            "allow_declines": self.allow_declines,
            "settlements": self.settlements,
            "balanced": self.balanced,
            "unreachable": self.unreachable.0,
            "check": {
                "holds": self.holds(),
                "settled": self.settled(),
                "reversed": self.reversed(),
                "problems": self.problem_count,
                "first_problems": self.problems,
                "host": self.ledger.as_ref().map(|c| json!({
                    "holds": c.holds(),
                    "settled": c.settled,
                    "reversed": c.reversed,
                    "problems": c.problem_count,
                    "first_problems": c.problems,
                })),
            },
            "passed": self.passed(),
            "exit_code": self.exit_code(),
            "failures": self.failures(),
            "hints": self.decline_hints(),
        })
    }
}

/// A terminal's sales in the host's books: (settled, reversed); anything else is a problem.
/// Batches the host keeps only as a summary (all but its last 16 per terminal) add their
/// settled count; the others are checked record by record. Reversed counts come from those.
fn host_sales(books: &iso8583_host::TerminalView, check: &mut LedgerCheck) -> (u64, u64) {
    let (mut settled, mut reversed) = (0, 0);
    for batch in &books.closed {
        if !batch.records_kept {
            // An old batch the host keeps as a summary: its count is all there is to check.
            settled += batch.settled;
            continue;
        }
        let mut seen = std::collections::HashSet::new();
        for r in batch.records.iter().filter(|r| r.kind == TxnKind::Sale) {
            match r.state {
                RecordState::Reversed => reversed += 1,
                _ if r.is_settled() => {
                    settled += 1;
                    if !seen.insert(r.trace) {
                        check.problem(format!(
                            "{}: batch {:06} settles trace {:06} twice",
                            books.terminal, batch.batch, r.trace
                        ));
                    }
                }
                state => check.problem(format!(
                    "{}: batch {:06} trace {:06} is {}",
                    books.terminal,
                    batch.batch,
                    r.trace,
                    state.name()
                )),
            }
        }
    }
    for r in books.open.iter().filter(|r| r.kind == TxnKind::Sale) {
        match r.state {
            RecordState::Reversed => reversed += 1,
            state => check.problem(format!(
                "{}: trace {:06} is {} in the open batch, never settled",
                books.terminal,
                r.trace,
                state.name()
            )),
        }
    }
    (settled, reversed)
}

/// From the earliest start of a terminal's sales to the latest end.
fn sale_phase(tallies: &[Tally]) -> Duration {
    let start = tallies
        .iter()
        .filter_map(|t| t.sale_phase.map(|p| p.0))
        .min();
    let end = tallies
        .iter()
        .filter_map(|t| t.sale_phase.map(|p| p.1))
        .max();
    match (start, end) {
        (Some(s), Some(e)) => e.saturating_duration_since(s),
        _ => Duration::ZERO,
    }
}

/// Microseconds as the summary shows them: `850 us`, `1.25 ms`, `2.1 s`.
fn micros(us: u64) -> String {
    match us {
        0..=999 => format!("{us} us"),
        1_000..=999_999 => format!("{:.2} ms", us as f64 / 1_000.0),
        _ => format!("{:.2} s", us as f64 / 1_000_000.0),
    }
}
