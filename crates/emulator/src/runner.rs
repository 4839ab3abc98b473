//! Runs a [`Scenario`] on a fresh terminal and checks every expectation: what `posemu run`
//! does, and what the test suite does against an in-process host.
//!
//! Each scenario gets its own terminal with its own state (a temporary SQLite file unless a
//! state path is given), connects first (a host that cannot be reached ends the run: exit 3),
//! then runs the steps in order. A fresh terminal may start its trace numbers where the last
//! scenario of the same terminal id stopped ([`RunOptions::first_trace`],
//! [`ScenarioResult::next_trace`]): one physical terminal never restarts its STAN, and a host
//! answers a trace number it has seen in the open batch as a duplicate (94, DESIGN §6). A step's expectations are checked after its last repetition,
//! against the step's [`Step`] and the terminal's [`Status`] at that point. The result reads
//! as text lines or as one JSON object per scenario ([`ScenarioResult::to_json`]).

use std::path::PathBuf;
use std::sync::Arc;

use iso8583_settle::{counter_after, Outcome, COUNTER_MAX};
use serde_json::{json, Value};

use crate::amount::format_amount;
use crate::error::{RunError, TerminalError};
use crate::print::{exchange_text, printed_text, prompt_text};
use crate::profile::{DialectName, Profile};
use crate::scenario::{expand_mti, Expect, Scenario, ScenarioStep};
use crate::state::StateSource;
use crate::step::{Notice, Printed, Shown, Status, Step};
use crate::tap::FrameTap;
use crate::terminal::{Terminal, TerminalOptions};

/// Applies a scenario's `[host]` section or a step's `host` table to an in-process test host
/// (the test suite gives one; `posemu run` against another host has none, and the tables are
/// ignored). An error fails the step.
pub type HostHook = Arc<dyn Fn(&toml::Table) -> Result<(), String> + Send + Sync>;

/// How scenarios are run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// The host, `address:port`.
    pub host: String,
    /// A profile layer (`--profile FILE`) between the built-in and the scenario's own.
    pub profile: Option<toml::Table>,
    /// Keep the terminal's state here instead of a fresh temporary file per scenario.
    pub state: Option<PathBuf>,
    /// Sees every byte exchanged.
    pub tap: Option<Arc<dyn FrameTap>>,
    /// Applies the scenario's host tables (see [`HostHook`]).
    pub host_hook: Option<HostHook>,
    /// The trace number a fresh terminal starts with, over the profile's `first_trace`: where
    /// the previous scenario of the same terminal id stopped ([`ScenarioResult::next_trace`]).
    /// A state that already holds a counter keeps its own.
    pub first_trace: Option<u32>,
}

/// One expectation checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The `expect` key.
    pub key: &'static str,
    /// What was expected.
    pub expected: Value,
    /// What happened.
    pub actual: Value,
    /// Whether it held.
    pub ok: bool,
}

/// One step's run and checks.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// Step number, from 1.
    pub index: usize,
    /// The command as written.
    pub run: String,
    /// How many times it ran.
    pub repeat: u32,
    /// What was expected.
    pub expect: Expect,
    /// Each expectation, checked.
    pub checks: Vec<Check>,
    /// What the last run did.
    pub step: Step,
    /// The terminal's state after it.
    pub status: Status,
}

impl StepResult {
    /// Every expectation held and nothing failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok) && self.step.failure.is_none()
    }
}

/// A scenario's run.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its dialect.
    pub dialect: DialectName,
    /// The profile it ran with.
    pub profile: Profile,
    /// The steps run (all of them unless the host became unreachable).
    pub steps: Vec<StepResult>,
    /// Why the host could not be reached, if it could not.
    pub unreachable: Option<String>,
    /// The trace number the terminal would send next when the scenario ended (for the next
    /// scenario of the same terminal id: [`RunOptions::first_trace`]).
    pub next_trace: u32,
}

impl ScenarioResult {
    /// Steps that passed.
    pub fn passed(&self) -> usize {
        self.steps.iter().filter(|s| s.passed()).count()
    }

    /// Steps that failed.
    pub fn failed(&self) -> usize {
        self.steps.len() - self.passed()
    }

    /// `posemu run`'s exit code for this scenario alone: 3 unreachable, 1 a step failed, 0.
    pub fn exit_code(&self) -> u8 {
        match (&self.unreachable, self.failed()) {
            (Some(_), _) => 3,
            (None, 0) => 0,
            (None, _) => 1,
        }
    }

    /// The `--json` object: the name, each step with what was expected and what happened,
    /// and the counts passed and failed.
    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.name,
            "file": self.path.display().to_string(),
            "dialect": self.dialect.as_str(),
            "terminal": self.profile.terminal_id,
            "passed": self.passed(),
            "failed": self.failed(),
            "unreachable": self.unreachable,
            "steps": self.steps.iter().map(|s| step_json(s, &self.profile)).collect::<Vec<_>>(),
        })
    }
}

/// Runs `scenario`; `on_step` sees each step as soon as it is checked.
pub async fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
    on_step: impl FnMut(&StepResult, &Profile),
) -> Result<ScenarioResult, RunError> {
    let mut profile = scenario.profile_with(options.profile.as_ref())?;
    if let Some(trace) = options.first_trace {
        profile.first_trace = trace;
    }
    // The temporary directory lives as long as the run.
    let (mut terminal, _dir) = terminal_for(&profile, options)?;
    let mut result = ScenarioResult {
        name: scenario.name.clone(),
        path: scenario.path.clone(),
        dialect: scenario.dialect,
        next_trace: profile.first_trace,
        profile,
        steps: Vec::new(),
        unreachable: None,
    };
    if let Err(why) = terminal.link_mut().connect().await {
        result.unreachable = Some(why);
        return Ok(result);
    }
    let boot = terminal.power_on().await?;
    if let Some(failure) = boot.failure {
        return Err(RunError::Terminal(TerminalError::Resume(failure)));
    }
    let start = terminal.next_trace().unwrap_or(result.next_trace);
    run_steps(scenario, options, &mut terminal, &mut result, on_step).await;
    result.next_trace = next_trace(&terminal, &result, start);
    Ok(result)
}

/// The steps, in order, until the last or until the host cannot be reached.
async fn run_steps(
    scenario: &Scenario,
    options: &RunOptions,
    terminal: &mut Terminal,
    result: &mut ScenarioResult,
    mut on_step: impl FnMut(&StepResult, &Profile),
) {
    for (i, spec) in scenario.steps.iter().enumerate() {
        let host_change = match (&spec.host, &options.host_hook) {
            (Some(table), Some(hook)) => hook(table).err(),
            _ => None,
        };
        let mut step = run_step(terminal, spec).await;
        if let Some(why) = host_change {
            step.failure = Some(format!("host table: {why}"));
        }
        let status = terminal.status();
        let checked = StepResult {
            index: i + 1,
            run: spec.run.clone(),
            repeat: spec.repeat,
            expect: spec.expect.clone(),
            checks: check(spec, &step, &status, &result.profile),
            step,
            status,
        };
        on_step(&checked, &result.profile);
        let unreachable = checked.step.unreachable.clone();
        result.steps.push(checked);
        if unreachable.is_some() {
            result.unreachable = unreachable;
            break;
        }
    }
}

/// The trace number after the scenario (see [`trace_after`]).
fn next_trace(terminal: &Terminal, result: &ScenarioResult, start: u32) -> u32 {
    let sent = result
        .steps
        .iter()
        .flat_map(|s| &s.step.exchanges)
        .map(|x| x.trace);
    trace_after(terminal.next_trace(), sent, start)
}

/// The trace number a terminal sends next after a scenario that began with its counter at
/// `start` and sent messages carrying `sent`.
///
/// The engine stores each trace number before the message carrying it leaves, so its counter
/// (`counter`, the stored one after a power cut) is never behind a trace sent, and is the
/// answer. Without it (the state could not be read), the answer is the trace after the newest
/// one sent. Trace numbers run to 999999 and start again at 1, so "newest" is counted from
/// `start`, not by size; and a message may carry a trace taken before `start` (a reversal its
/// sale's, a UnionPay 0320 its record's), so a trace more than half the range from `start` is
/// taken as one of those, not as new.
fn trace_after(counter: Option<u32>, sent: impl Iterator<Item = u32>, start: u32) -> u32 {
    if let Some(counter) = counter {
        return counter;
    }
    let past_start = |trace: u32| (trace + COUNTER_MAX - start % COUNTER_MAX) % COUNTER_MAX;
    sent.map(counter_after)
        .filter(|&next| past_start(next) <= COUNTER_MAX / 2)
        .max_by_key(|&next| past_start(next))
        .unwrap_or(start)
}

/// A terminal for one scenario, on the given state file or a fresh temporary one.
fn terminal_for(
    profile: &Profile,
    options: &RunOptions,
) -> Result<(Terminal, Option<tempfile::TempDir>), RunError> {
    let (source, dir) = match &options.state {
        Some(path) => (StateSource::Sqlite(path.clone()), None),
        None => {
            let dir = tempfile::tempdir().map_err(RunError::State)?;
            (
                StateSource::Sqlite(dir.path().join("terminal.sqlite")),
                Some(dir),
            )
        }
    };
    let terminal_options = TerminalOptions {
        tap: options.tap.clone(),
        no_receipts: false,
    };
    let terminal = Terminal::new(profile.clone(), source, &options.host, terminal_options)?;
    Ok((terminal, dir))
}

async fn run_step(terminal: &mut Terminal, spec: &ScenarioStep) -> Step {
    let mut step = Step::default();
    for _ in 0..spec.repeat {
        step = terminal.execute(&spec.command).await;
        if step.unreachable.is_some() {
            break;
        }
    }
    step
}

/// Checks every expectation of `spec` against what the step did and the state after it.
pub fn check(spec: &ScenarioStep, step: &Step, status: &Status, profile: &Profile) -> Vec<Check> {
    let mut checks = Checks(Vec::new());
    let e = &spec.expect;
    checks.answers(e, step);
    checks.prompts(e, step, profile.dialect);
    checks.messages(e, step);
    checks.state(e, status);
    checks.printed(e, step, profile);
    checks.totals(spec, status);
    if let Some(lost) = e.power_lost {
        checks.add(
            "power_lost",
            json!(lost),
            json!(step.power_lost),
            lost == step.power_lost,
        );
    }
    checks.0
}

/// The checks made so far.
struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, key: &'static str, expected: Value, actual: Value, ok: bool) {
        self.0.push(Check {
            key,
            expected,
            actual,
            ok,
        });
    }

    /// Response codes, the outcome and the reversal reason.
    fn answers(&mut self, e: &Expect, step: &Step) {
        if let Some(code) = &e.code {
            let actual = step.last_code().unwrap_or("none");
            self.add("code", json!(code), json!(actual), actual == code);
        }
        if let Some(codes) = &e.codes {
            let actual: Vec<&str> = step.codes().collect();
            self.add("codes", json!(codes), json!(actual), actual == *codes);
        }
        if let Some(outcome) = &e.outcome {
            let actual = outcome_word(step);
            self.add("outcome", json!(outcome), json!(actual), actual == outcome);
        }
        if let Some(reason) = &e.reversal_reason {
            let actual = step.outcomes.iter().rev().find_map(|o| match o {
                Outcome::Reversed { reason, .. } => Some(*reason),
                _ => None,
            });
            let ok = actual == Some(reason.as_str());
            self.add("reversal_reason", json!(reason), json!(actual), ok);
        }
    }

    /// Text that must (or must not) be among the prompts.
    fn prompts(&mut self, e: &Expect, step: &Step, dialect: DialectName) {
        let prompts = prompt_texts(step, dialect);
        let shown = |w: &String| prompts.iter().any(|p| p.contains(w.as_str()));
        if let Some(wanted) = &e.prompt {
            let ok = wanted.items().iter().all(shown);
            self.add("prompt", json!(wanted.items()), json!(prompts), ok);
        }
        if let Some(unwanted) = &e.no_prompt {
            let ok = !unwanted.items().iter().any(shown);
            self.add("no_prompt", json!(unwanted.items()), json!(prompts), ok);
        }
    }

    /// The MTIs and UnionPay network codes sent.
    fn messages(&mut self, e: &Expect, step: &Step) {
        if let Some(sent) = &e.sent {
            let expected: Vec<String> = sent
                .iter()
                .filter_map(|m| expand_mti(m))
                .flatten()
                .collect();
            let actual: Vec<String> = step.sent().map(|m| m.as_str().to_owned()).collect();
            self.add("sent", json!(expected), json!(actual), actual == expected);
        }
        if let Some(codes) = &e.network_codes {
            let actual: Vec<&str> = step
                .exchanges
                .iter()
                .filter_map(|x| x.network_code.as_deref())
                .collect();
            self.add(
                "network_codes",
                json!(codes),
                json!(actual),
                actual == *codes,
            );
        }
    }

    /// The terminal's state after the step.
    fn state(&mut self, e: &Expect, status: &Status) {
        if let Some(batch) = e.batch {
            self.add(
                "batch",
                json!(batch),
                json!(status.batch),
                status.batch == batch,
            );
        }
        if let Some(records) = e.records {
            let ok = status.records == records;
            self.add("records", json!(records), json!(status.records), ok);
        }
        let flags = [
            (
                "reversal_pending",
                e.reversal_pending,
                status.reversal.is_some(),
            ),
            (
                "settlement_pending",
                e.settlement_pending,
                status.settlement_pending,
            ),
            ("signed_on", e.signed_on, status.signed_on),
        ];
        for (key, expected, actual) in flags {
            if let Some(expected) = expected {
                self.add(key, json!(expected), json!(actual), expected == actual);
            }
        }
    }

    /// Slips and receipts, as printed.
    fn printed(&mut self, e: &Expect, step: &Step, profile: &Profile) {
        let (slips, others): (Vec<&Printed>, Vec<&Printed>) = step
            .printed
            .iter()
            .partition(|p| matches!(p, Printed::Slip { .. }));
        let text = |ps: Vec<&Printed>| -> Vec<String> {
            ps.into_iter().map(|p| printed_text(p, profile)).collect()
        };
        let (slips, others) = (text(slips), text(others));
        // A slip pads its columns with spaces: `SALE 1 10.00` finds `  SALE          1 ...`.
        let contains = |texts: &[String], w: &String| {
            let wanted = squeeze_spaces(w);
            texts.iter().any(|t| squeeze_spaces(t).contains(&wanted))
        };
        if let Some(n) = e.slips {
            self.add("slips", json!(n), json!(slips.len()), slips.len() == n);
        }
        if let Some(wanted) = &e.slip {
            let ok = wanted.items().iter().all(|w| contains(&slips, w));
            self.add("slip", json!(wanted.items()), json!(slips), ok);
        }
        if let Some(wanted) = &e.receipt {
            let ok = wanted.items().iter().all(|w| contains(&others, w));
            self.add("receipt", json!(wanted.items()), json!(others), ok);
        }
    }

    /// The open batch's totals.
    fn totals(&mut self, spec: &ScenarioStep, status: &Status) {
        if spec.totals.is_empty() {
            return;
        }
        let mut expected = serde_json::Map::new();
        let mut actual = serde_json::Map::new();
        let mut ok = true;
        for t in &spec.totals {
            let (count, amount) = status.total(t.label).unwrap_or((0, 0));
            let (part, got) = if t.amount {
                ("amount", amount)
            } else {
                ("count", count)
            };
            // Amounts as the file writes them, "42.00", in both; counts as numbers.
            let shown = |v: u64| match t.amount {
                true => json!(format_amount(v)),
                false => json!(v),
            };
            let key = format!("{}_{part}", t.label.to_lowercase());
            expected.insert(key.clone(), shown(t.value));
            actual.insert(key, shown(got));
            ok &= got == t.value;
        }
        self.add("totals", Value::Object(expected), Value::Object(actual), ok);
    }
}

/// `text` with every run of spaces made one space (line breaks kept).
fn squeeze_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out
}

/// The prompts of a step as the terminal showed them.
pub fn prompt_texts(step: &Step, dialect: DialectName) -> Vec<String> {
    step.prompts
        .iter()
        .map(|p| prompt_text(p, dialect))
        .collect()
}

/// How the step's request ended, as [`Expect::outcome`] names it.
pub fn outcome_word(step: &Step) -> &'static str {
    if let Some(outcome) = step.outcomes.last() {
        return match outcome {
            Outcome::Approved { .. } => "approved",
            Outcome::Queued { .. } => "queued",
            Outcome::Declined { .. } => "declined",
            Outcome::Reversed { .. } => "reversed",
            Outcome::Refused { .. } => "refused",
            Outcome::NotSent { .. }
            | Outcome::TipAdviceNotDelivered { .. }
            | Outcome::HostUnreachable { .. } => "not_sent",
            _ => "none",
        };
    }
    let refused = step.prompts.iter().any(|p| {
        matches!(
            p,
            Shown::Local(
                Notice::Refused(_)
                    | Notice::WrongPassword
                    | Notice::SignOnFirst
                    | Notice::PowerOff
                    | Notice::NothingToVoid
                    | Notice::NoPreAuth
            )
        )
    });
    if refused {
        "refused"
    } else {
        "none"
    }
}

fn step_json(s: &StepResult, profile: &Profile) -> Value {
    let actual: serde_json::Map<String, Value> = s
        .checks
        .iter()
        .map(|c| (c.key.to_owned(), c.actual.clone()))
        .collect();
    let failed: Vec<&str> = s.checks.iter().filter(|c| !c.ok).map(|c| c.key).collect();
    json!({
        "step": s.index,
        "run": s.run,
        "repeat": s.repeat,
        "passed": s.passed(),
        "expected": s.expect,
        "actual": actual,
        "failed": failed,
        "happened": {
            "sent": s.step.sent().map(|m| m.as_str().to_owned()).collect::<Vec<_>>(),
            "codes": s.step.codes().collect::<Vec<_>>(),
            "outcome": outcome_word(&s.step),
            "prompts": prompt_texts(&s.step, profile.dialect),
            "exchanges": s.step.exchanges.iter().map(exchange_text).collect::<Vec<_>>(),
            "batch": s.status.batch,
            "records": s.status.records,
            "failure": s.step.failure,
            "unreachable": s.step.unreachable,
        },
    })
}

/// A step as text lines: `ok`/`FAIL`, the command and what happened, then each failed check.
pub fn step_lines(s: &StepResult, profile: &Profile) -> Vec<String> {
    let mark = if s.passed() { "ok  " } else { "FAIL" };
    let repeat = if s.repeat > 1 {
        format!(" (x{})", s.repeat)
    } else {
        String::new()
    };
    let mut summary: Vec<String> = s.step.exchanges.iter().map(exchange_text).collect();
    summary.extend(prompt_texts(&s.step, profile.dialect));
    summary.extend(s.step.outcomes.iter().map(crate::print::outcome_text));
    summary.extend(
        s.step
            .printed
            .iter()
            .filter_map(crate::print::reprint_summary),
    );
    let mut lines = vec![format!(
        "{mark} {:>3} {}{repeat}: {}",
        s.index,
        s.run,
        summary.join("; ")
    )];
    for c in s.checks.iter().filter(|c| !c.ok) {
        lines.push(format!(
            "         expect.{} = {}, got {}",
            c.key, c.expected, c.actual
        ));
    }
    if let Some(failure) = &s.step.failure {
        lines.push(format!("         failure: {failure}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_after_a_scenario_follows_the_counter_or_the_newest_sent() {
        // The counter, whenever there is one, even when traces sent look higher.
        assert_eq!(
            trace_after(Some(3), [999_998, 999_999, 1, 2].into_iter(), 999_998),
            3
        );
        // Without it: after the newest trace sent, counted across the wrap.
        assert_eq!(
            trace_after(None, [999_998, 999_999, 1, 2].into_iter(), 999_998),
            3
        );
        assert_eq!(trace_after(None, [999_999].into_iter(), 999_999), 1);
        // A reversal of a sale from before the scenario carries an older trace.
        assert_eq!(trace_after(None, [100, 5, 101].into_iter(), 100), 102);
        assert_eq!(trace_after(None, [7, 700_000].into_iter(), 7), 8);
        // Nothing sent: where the scenario began.
        assert_eq!(trace_after(None, std::iter::empty(), 42), 42);
    }
}
