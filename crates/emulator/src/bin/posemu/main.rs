//! `posemu`: the POS terminal emulator as a program (DESIGN §7).
//!
//! - `posemu demo [--dialect intl|cup]`: the whole story against a test host started
//!   in-process on a loopback port: sign on, sell until storage is full, settle out of
//!   balance, upload, print the slip, sell into the next batch.
//! - `posemu run --host ADDR [--profile FILE] [--json] SCENARIO...`: scenario files, for CI.
//!   Exit 0 when every expectation holds, 1 when one fails, 2 for a usage or scenario-file
//!   error, 3 when the host cannot be reached.
//! - `posemu shell --host ADDR`: type terminal commands, with line editing and history.
//! - `posemu load [--host ADDR] --terminals N --sales M`: N terminals at once with state in
//!   memory, a progress bar, latency percentiles and the settled-once-or-reversed check. Exit
//!   0 when the check holds, 1 when it does not, 2 for a usage error, 3 when the host cannot be
//!   reached. Without `--host` it starts the test host in-process.
//!
//! `--pcap FILE`, on every mode, writes the TCP exchange of every connection as a pcap file.
//!
//! Logs go to stderr through `RUST_LOG` (default `warn`; `info` shows connections,
//! settlement results and closed batches). Nothing printed or logged shows a key, a full PAN,
//! track data or a PIN block.

mod demo;
mod load;
mod out;
mod run;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use posemu::{DialectName, FrameTap, PcapTap};

/// mimalloc rather than the system allocator: see `Cargo.toml` (the load mode's allocations).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A POS terminal emulator for ISO 8583 hosts.
#[derive(Debug, Parser)]
#[command(name = "posemu", version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
    /// Write the TCP exchange of every connection (handshake, each read and write, the close)
    /// to this file as a pcap capture for Wireshark. It holds the messages as sent: full PANs
    /// and track data included.
    #[arg(long, global = true, value_name = "FILE")]
    pcap: Option<PathBuf>,
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
    /// Many terminals at once with in-memory state: throughput, latency percentiles and the
    /// check that every sale was settled once or reversed; exit 0 (holds), 1 (does not), 2
    /// (usage) or 3 (host unreachable).
    Load(load::Args),
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
    let threads = match &cli.mode {
        Mode::Load(args) => args.threads,
        _ => None,
    };
    let mut builder = match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if let Some(n) = threads.filter(|n| *n > 1) {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            out::note(format_args!("posemu: cannot start the runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    let capture = match &cli.pcap {
        Some(path) => match PcapTap::create(path) {
            Ok(tap) => Some((Arc::new(tap), path.clone())),
            Err(e) => {
                out::note(format_args!("posemu: {}: {e}", path.display()));
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let tap = capture
        .as_ref()
        .map(|(tap, _)| tap.clone() as Arc<dyn FrameTap>);
    let code = run_mode(cli.mode, &runtime, tap);
    ExitCode::from(finish_capture(capture, code))
}

fn run_mode(mode: Mode, runtime: &tokio::runtime::Runtime, tap: Option<Arc<dyn FrameTap>>) -> u8 {
    match mode {
        Mode::Demo { dialect, state } => runtime.block_on(demo::demo(dialect, state, tap)),
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
            tap,
        })),
        Mode::Shell {
            host,
            dialect,
            profile,
            state,
            history,
        } => shell::shell(
            runtime,
            shell::Args {
                host,
                dialect,
                profile,
                state,
                history,
                tap,
            },
        ),
        Mode::Load(args) => runtime.block_on(load::load(args, tap)),
    }
}

/// Closes the capture and says what it holds. A capture that could not be written turns an
/// exit code of 0 into 2 (the run itself went as its own code says).
fn finish_capture(capture: Option<(Arc<PcapTap>, PathBuf)>, code: u8) -> u8 {
    let Some((tap, path)) = capture else {
        return code;
    };
    match tap.finish() {
        Ok(stats) => {
            tracing::info!(
                file = %path.display(),
                packets = stats.packets,
                connections = stats.connections,
                "capture written"
            );
            code
        }
        Err(e) => {
            out::note(format_args!("posemu: {}: {e}", path.display()));
            if code == 0 {
                2
            } else {
                code
            }
        }
    }
}

/// Reads a profile file (2 on error is the caller's); its errors name the file and line.
fn profile_file(path: &Option<PathBuf>) -> Result<Option<posemu::ProfileFile>, String> {
    path.as_deref()
        .map(posemu::ProfileFile::load)
        .transpose()
        .map_err(|e| e.to_string())
}

/// Reads a profile file as a layer (2 on error is the caller's).
fn profile_layer(path: &Option<PathBuf>) -> Result<Option<toml::Table>, String> {
    Ok(profile_file(path)?.map(|file| file.table().clone()))
}
