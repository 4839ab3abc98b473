//! `posemu`: the POS terminal emulator as a program (DESIGN §7).
//!
//! - `posemu demo [--dialect intl|cup]`: the whole story against a test host started
//!   in-process on a loopback port: sign on, sell until storage is full, settle out of
//!   balance, upload, print the slip, sell into the next batch.
//! - `posemu run --host ADDR [--profile FILE] [--json] SCENARIO...`: scenario files, for CI.
//!   Exit 0 when every expectation holds, 1 when one fails, 2 for a usage or scenario-file
//!   error, 3 when the host cannot be reached.
//! - `posemu shell --host ADDR`: type terminal commands, with line editing and history.
//!
//! Logs go to stderr through `RUST_LOG` (default `warn`; `info` shows connections,
//! settlement results and closed batches). Nothing printed or logged shows a key, a full PAN,
//! track data or a PIN block.

mod demo;
mod out;
mod run;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use posemu::DialectName;

/// A POS terminal emulator for ISO 8583 hosts.
#[derive(Debug, Parser)]
#[command(name = "posemu", version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Fill a batch, hit "STORAGE FULL", settle out of balance and upload, against a test host
    /// started in-process.
    Demo {
        /// The terminal's dialect: intl or cup.
        #[arg(long, default_value = "intl", value_parser = dialect)]
        dialect: DialectName,
        /// Keep the terminal's state here (a temporary file by default).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
    /// Run scenario files against a host; exit 0, 1 (an expectation failed), 2 (usage or
    /// scenario error) or 3 (host unreachable).
    Run {
        /// The host, ADDRESS:PORT.
        #[arg(long, value_name = "ADDR")]
        host: String,
        /// A profile file (TOML) layered over each scenario's built-in profile.
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Print one JSON object per scenario instead of text.
        #[arg(long)]
        json: bool,
        /// Keep the terminal's state here, shared by the scenarios in order (a fresh temporary
        /// file per scenario by default).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
        /// Scenario files.
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
    },
    /// Type terminal commands at a host (`help` lists them).
    Shell {
        /// The host, ADDRESS:PORT.
        #[arg(long, value_name = "ADDR")]
        host: String,
        /// The built-in profile to start from: intl or cup (default: the profile file's
        /// `dialect`, else intl).
        #[arg(long, value_parser = dialect)]
        dialect: Option<DialectName>,
        /// A profile file (TOML) layered over the built-in profile.
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Keep the terminal's state here (a temporary file by default).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
        /// Keep the command history in this file.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
    },
    /// Many terminals at once with in-memory state (not yet available).
    Load,
}

fn dialect(text: &str) -> Result<DialectName, String> {
    text.parse()
        .map_err(|e: posemu::ProfileError| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // TODO(#6): `--pcap FILE` on every mode: a FrameTap (posemu::FrameTap) that writes each
    // connection's bytes as TCP segments; the terminal already hands every byte to the tap.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            out::note(format_args!("posemu: cannot start the runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    let code = match cli.mode {
        Mode::Demo { dialect, state } => runtime.block_on(demo::demo(dialect, state)),
        Mode::Run {
            host,
            profile,
            json,
            state,
            scenarios,
        } => runtime.block_on(run::run(run::Args {
            host,
            profile,
            json,
            state,
            scenarios,
        })),
        Mode::Shell {
            host,
            dialect,
            profile,
            state,
            history,
        } => shell::shell(&runtime, &host, dialect, profile, state, history),
        Mode::Load => {
            // TODO(#6): the load mode (N terminals with in-memory state, a progress bar,
            // latency percentiles and the settled-once-or-reversed check) comes in part 2.
            out::note("posemu load: not yet available");
            2
        }
    };
    ExitCode::from(code)
}

/// Reads a profile file as a layer (2 on error is the caller's).
fn profile_layer(path: &Option<PathBuf>) -> Result<Option<toml::Table>, String> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse::<toml::Table>()
        .map(Some)
        .map_err(|e| format!("{}: {}", path.display(), e.message()))
}
