//! `posemu demo`: the story of a batch, told against a test host started in-process on a
//! loopback port (DESIGN §7), one printed line per step.
//!
//! Sign on; sell until the small batch is full ("SETTLE SOON" on the way); the next sale is
//! refused locally with "STORAGE FULL, PLEASE SETTLE"; settle, which the host answers out of
//! balance (a fault rule on the first 0500); upload every record (`UPLOAD` lines; UnionPay: 8
//! records per 0320, then the closing 0320 with 60.3 `202`); the trailer (international); the
//! slip, which reads `BATCH nnnnnn CLOSED`; one more sale, approved into the new batch. The
//! demo checks each step as it goes and exits 1, saying which step went wrong, if the story
//! does not happen as told. `--state PATH` keeps the terminal's state in that file for a look
//! afterwards; a file that already holds a terminal is refused (exit 2) and left as it is.

use std::path::PathBuf;
use std::sync::Arc;

use iso8583_host::{faults_from_toml, Dialect, HostConfig, TestHost};
use iso8583_settle::{Purpose, Store};
use posemu::print::{exchange_text, outcome_text, printed_text, prompt_text, purpose_label};
use posemu::{amount::format_amount, outcome_word};
use posemu::{
    cards, Command, DialectName, Fate, FrameTap, Notice, Printed, Profile, Shown, StateSource,
    Step, Terminal, TerminalOptions,
};

use crate::out::{print, say};

/// The host answers the first reconciliation out of balance (international 95, UnionPay flag
/// `2`); the international trailer (960000) is answered normally.
const FAULT: &str = r#"
[[faults]]
mti = "0500"
processing_code = "920000"
action = "out_of_balance"
times = 1
[[faults]]
mti = "0500"
network_code = "201"
action = "out_of_balance"
times = 1
"#;

/// Runs the demo; the exit code.
pub(crate) async fn demo(
    dialect: DialectName,
    state: Option<PathBuf>,
    tap: Option<Arc<dyn FrameTap>>,
) -> u8 {
    if let Some(why) = state.as_deref().and_then(used_state) {
        crate::out::note(format_args!("posemu demo: {why}"));
        return 2;
    }
    match story(dialect, state, tap).await {
        Ok(()) => 0,
        Err(why) => {
            crate::out::note(format_args!("posemu demo: {why}"));
            1
        }
    }
}

/// Why `path` cannot hold the demo's terminal: the story starts from an empty batch 000001 on
/// a test host started afresh, so a state that already holds a terminal (a batch, records, a
/// reversal, its trace numbers: say an earlier demo) would not tell it. `None` when the file
/// does not exist or holds no terminal yet. The file is never changed here.
fn used_state(path: &std::path::Path) -> Option<String> {
    if !path.exists() {
        return None;
    }
    let opened = StateSource::Sqlite(path.to_owned()).open();
    let held = match opened.and_then(|mut store| store.load()) {
        Ok(held) => held?,
        Err(e) => {
            return Some(format!(
                "{}: not a terminal state file: {e}",
                path.display()
            ))
        }
    };
    Some(format!(
        "{} already holds a terminal's state (batch {:06}, {} record(s)); the demo tells its \
         story from an empty batch, so give --state a new file, or remove this one",
        path.display(),
        held.batch,
        held.records.len()
    ))
}

async fn story(
    dialect: DialectName,
    state: Option<PathBuf>,
    tap: Option<Arc<dyn FrameTap>>,
) -> Result<(), String> {
    let mut config = HostConfig::builtin().on_ephemeral_ports();
    config.faults = faults_from_toml(FAULT).map_err(|e| e.to_string())?;
    let host = TestHost::spawn(config).await.map_err(|e| e.to_string())?;
    let host_dialect = match dialect {
        DialectName::Intl => Dialect::International,
        DialectName::Cup => Dialect::UnionPay,
    };
    let addr = host
        .addr(host_dialect)
        .ok_or("the test host has no listener")?;
    let (capacity, warn_at) = match dialect {
        DialectName::Intl => (5, 4),
        DialectName::Cup => (10, 8),
    };
    let layer: toml::Table = format!("capacity = {capacity}\nwarn_at = {warn_at}\n")
        .parse()
        .map_err(|e: toml::de::Error| e.to_string())?;
    let profile = Profile::layered(Some(dialect), &[&layer]).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let source = StateSource::Sqlite(state.unwrap_or_else(|| dir.path().join("terminal.sqlite")));
    let mut terminal = Terminal::new(
        profile.clone(),
        source,
        &addr.to_string(),
        TerminalOptions {
            tap,
            no_receipts: false,
        },
    )
    .map_err(|e| e.to_string())?;
    say(format_args!(
        "posemu demo: {dialect} terminal {} merchant {}, batch capacity {capacity}, test host on {addr}",
        profile.terminal_id, profile.merchant_id
    ));
    say("the host answers the first settlement out of balance");
    terminal.power_on().await.map_err(|e| e.to_string())?;
    let mut demo = Demo {
        terminal,
        dialect,
        line: 0,
    };
    demo.tell(capacity).await?;
    let summary = host.shutdown().await;
    say(format_args!(
        "host: {} messages, {} out of balance, {} batch(es) closed",
        summary.received.values().sum::<u64>(),
        summary.out_of_balance,
        summary.batches_reconciled
    ));
    Ok(())
}

struct Demo {
    terminal: Terminal,
    dialect: DialectName,
    line: usize,
}

impl Demo {
    async fn tell(&mut self, capacity: u16) -> Result<(), String> {
        let sign_on = self.run("sign_on").await?;
        if !self.terminal.signed_on() || !sign_on.prompts.iter().any(is_signed_on) {
            return Err("the sign-on did not succeed".into());
        }
        if let (Some(pin), Some(mac)) = self.terminal.key_check_values() {
            self.say(&format!(
                "{:<30} PIN key kcv {pin}, MAC key kcv {mac}",
                "WORKING KEYS LOADED"
            ));
        }
        for n in 1..=usize::from(capacity) {
            let step = self.sale(n).await?;
            if outcome_word(&step) != "approved" {
                return Err(format!("sale {n} was not approved"));
            }
        }
        let refused = self.sale(usize::from(capacity) + 1).await?;
        if refused.sent().next().is_some() || !refused.prompts.iter().any(is_storage_full) {
            return Err("the sale after a full batch was not refused locally".into());
        }
        self.settle().await?;
        let last = self.sale(usize::from(capacity) + 2).await?;
        let batch = self.terminal.status().batch;
        if outcome_word(&last) != "approved" || batch != 2 {
            return Err("the sale after settlement was not approved into batch 000002".into());
        }
        Ok(())
    }

    async fn run(&mut self, line: &str) -> Result<Step, String> {
        let command = Command::parse(line).map_err(|e| e.to_string())?;
        let step = self.terminal.execute(&command).await;
        crate::out::lifecycle(&step);
        if let Some(why) = step.unreachable.as_ref().or(step.failure.as_ref()) {
            return Err(format!("{line}: {why}"));
        }
        let mut parts: Vec<String> = step.exchanges.iter().map(exchange_text).collect();
        parts.extend(step.prompts.iter().map(|p| prompt_text(p, self.dialect)));
        parts.extend(step.outcomes.iter().map(outcome_text));
        if parts.is_empty() {
            parts.push("done".into());
        }
        self.say(&format!(
            "{:<30} {}",
            line.to_uppercase().replace('_', " "),
            parts.join("  ")
        ));
        Ok(step)
    }

    /// Sale `n` of the story, with varied amounts and cards.
    async fn sale(&mut self, n: usize) -> Result<Step, String> {
        let names: &[&str] = match self.dialect {
            DialectName::Intl => &["visa-swipe", "mc-swipe", "visa-keyed", "mc-keyed"],
            DialectName::Cup => &["cup-swipe", "cup-keyed", "visa-swipe", "mc-swipe"],
        };
        let card = names.get(n % names.len()).copied().unwrap_or("visa-swipe");
        let amount = 500 + (n as u64 * 1_375) % 9_000;
        let pan = cards::find(card)
            .and_then(|c| iso8583_settle::Pan::new(c.pan))
            .map(|p| p.masked())
            .unwrap_or_default();
        let line = format!("sale {} card={card}", format_amount(amount));
        let command = Command::parse(&line).map_err(|e| e.to_string())?;
        let step = self.terminal.execute(&command).await;
        crate::out::lifecycle(&step);
        if let Some(why) = step.unreachable.as_ref().or(step.failure.as_ref()) {
            return Err(format!("{line}: {why}"));
        }
        let mut parts: Vec<String> = step.exchanges.iter().map(exchange_text).collect();
        parts.extend(step.prompts.iter().map(|p| prompt_text(p, self.dialect)));
        parts.extend(step.outcomes.iter().map(outcome_text));
        if step.exchanges.is_empty() && step.refused().is_some() {
            parts.push("(refused at the terminal, nothing sent)".into());
        }
        let what = format!("SALE {:>6} {pan}", format_amount(amount));
        self.say(&format!("{what:<30} {}", parts.join("  ")));
        Ok(step)
    }

    /// The settlement, one line per message, then the slip.
    async fn settle(&mut self) -> Result<(), String> {
        let command = Command::parse("settle").map_err(|e| e.to_string())?;
        let step = self.terminal.execute(&command).await;
        crate::out::lifecycle(&step);
        if let Some(why) = step.unreachable.as_ref().or(step.failure.as_ref()) {
            return Err(format!("settle: {why}"));
        }
        for e in &step.exchanges {
            if e.fate != Fate::Answered {
                return Err(format!("settle: {}", exchange_text(e)));
            }
            let unbalanced = e.code.as_deref() == Some("95")
                || e.flags
                    .as_ref()
                    .is_some_and(|f| f.chars().any(|c| c != '1'));
            let what = match (e.purpose, unbalanced) {
                (Purpose::Reconcile { trailer: false }, true) => "SETTLE: OUT OF BALANCE",
                (purpose, _) => purpose_label(purpose),
            };
            self.say(&format!("{what:<30} {}", exchange_text(e)));
        }
        for p in &step.prompts {
            self.say(&format!("{:<30} {}", "", prompt_text(p, self.dialect)));
        }
        let uploads = step
            .exchanges
            .iter()
            .filter(|e| e.purpose == Purpose::Upload)
            .count();
        let slip = step
            .printed
            .iter()
            .find(|p| matches!(p, Printed::Slip { .. }));
        let Some(slip) = slip else {
            return Err("settle: no settlement slip was printed".into());
        };
        self.say(&format!(
            "{:<30} {uploads} upload message(s), slip:",
            "BATCH CLOSED"
        ));
        let text = printed_text(slip, self.terminal.profile());
        print(&text);
        if uploads == 0 || !text.contains("BATCH 000001 CLOSED") {
            return Err("settle: the batch was not uploaded and closed".into());
        }
        Ok(())
    }

    fn say(&mut self, text: &str) {
        self.line += 1;
        say(format_args!("{:>2}. {text}", self.line));
    }
}

fn is_signed_on(p: &Shown) -> bool {
    matches!(p, Shown::Engine(iso8583_settle::Prompt::SignedOn))
}

fn is_storage_full(p: &Shown) -> bool {
    matches!(
        p,
        Shown::Local(Notice::Refused(
            iso8583_settle::Rejected::StorageFull { .. }
        ))
    )
}
