//! `posemu shell`: type terminal commands at a host, as at a terminal's keypad, with line
//! editing and history from `rustyline`. Each command prints the messages exchanged, what the
//! screen shows and what the printer prints.

use std::path::PathBuf;
use std::sync::Arc;

use posemu::print::{exchange_text, outcome_text, printed_text, prompt_text};
use posemu::{
    cards, Command, DialectName, FrameTap, Profile, StateSource, Step, Terminal, TerminalOptions,
};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use tokio::runtime::Runtime;

use crate::out::{note, print, say};

/// What the shell runs with.
pub(crate) struct Args {
    pub host: String,
    pub dialect: Option<DialectName>,
    pub profile: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub history: Option<PathBuf>,
    pub tap: Option<Arc<dyn FrameTap>>,
}

pub(crate) fn shell(runtime: &Runtime, args: Args) -> u8 {
    match session(runtime, args) {
        Ok(()) => 0,
        Err(why) => {
            note(format_args!("posemu shell: {why}"));
            2
        }
    }
}

fn session(runtime: &Runtime, args: Args) -> Result<(), String> {
    let Args {
        host,
        dialect,
        profile,
        state,
        history,
        tap,
    } = args;
    let host = host.as_str();
    let file = crate::profile_file(&profile)?;
    let layers: Vec<&toml::Table> = file.iter().map(|f| f.table()).collect();
    let profile = Profile::layered(dialect, &layers).map_err(|e| match &file {
        Some(file) => file.blame(e).to_string(),
        None => e.to_string(),
    })?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = state.unwrap_or_else(|| dir.path().join("terminal.sqlite"));
    say(format_args!("{}", profile.summary()));
    say(format_args!(
        "state in {} ; host {host} ; type help",
        path.display()
    ));
    let mut terminal = Terminal::new(
        profile,
        StateSource::Sqlite(path),
        host,
        TerminalOptions {
            tap,
            no_receipts: false,
        },
    )
    .map_err(|e| e.to_string())?;
    let boot = runtime
        .block_on(terminal.power_on())
        .map_err(|e| e.to_string())?;
    show(&terminal, &boot);
    let mut editor = DefaultEditor::new().map_err(|e| e.to_string())?;
    if let Some(file) = &history {
        // A first session has no history file yet.
        let _ = editor.load_history(file);
    }
    repl(runtime, &mut terminal, &mut editor)?;
    if let Some(file) = &history {
        editor.save_history(file).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Reads and runs commands until `quit`, end of input or Ctrl-C.
fn repl(
    runtime: &Runtime,
    terminal: &mut Terminal,
    editor: &mut DefaultEditor,
) -> Result<(), String> {
    let prompt = format!("{}> ", terminal.profile().terminal_id);
    loop {
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line);
        match line {
            "quit" | "exit" => return Ok(()),
            "help" => say(Command::help()),
            "cards" => list_cards(),
            _ => match Command::parse(line) {
                Ok(command) => {
                    let step = runtime.block_on(terminal.execute(&command));
                    crate::out::lifecycle(&step);
                    show(terminal, &step);
                }
                Err(e) => say(format_args!("? {e}")),
            },
        }
    }
}

fn show(terminal: &Terminal, step: &Step) {
    let dialect = terminal.profile().dialect;
    for e in &step.exchanges {
        say(format_args!("  -> {}", exchange_text(e)));
    }
    for p in &step.prompts {
        say(format_args!("  [{}]", prompt_text(p, dialect)));
    }
    for o in &step.outcomes {
        say(format_args!("  {}", outcome_text(o)));
    }
    for p in &step.printed {
        print(&printed_text(p, terminal.profile()));
    }
    if let Some(why) = &step.unreachable {
        say(format_args!("  host unreachable: {why}"));
    }
    if let Some(why) = &step.failure {
        say(format_args!("  failure: {why}"));
    }
    if let Some(status) = &step.status {
        let totals: Vec<String> = status
            .totals
            .iter()
            .map(|(label, count, amount)| {
                format!("{label} {count} {}", posemu::amount::format_amount(*amount))
            })
            .collect();
        say(format_args!(
            "  batch {:06}, {} of {} records, {}; reversal pending: {}; settlement pending: {}; \
             signed on: {}; connected: {}",
            status.batch,
            status.records,
            status.capacity,
            totals.join(", "),
            status
                .reversal
                .map_or("no".to_owned(), |t| format!("trace {t:06}")),
            status.settlement_pending,
            status.signed_on,
            status.connected
        ));
    }
}

fn list_cards() {
    for c in cards::all() {
        let pan = iso8583_settle::Pan::new(c.pan)
            .map(|p| p.masked())
            .unwrap_or_default();
        say(format_args!(
            "  {:<16} {:<11} {pan}  entry {}  {:?}{}",
            c.name,
            c.scheme,
            c.entry_mode,
            c.group,
            if c.pin.is_some() { "  PIN" } else { "" }
        ));
    }
}
