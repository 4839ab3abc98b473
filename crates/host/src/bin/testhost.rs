//! `testhost`: the test acquirer host as a program.
//!
//! With no arguments it runs the built-in configuration (international on 127.0.0.1:8583,
//! UnionPay on 127.0.0.1:8584). It prints one line per terminal, `terminal <TID> merchant <MID>
//! dialect <intl|cup> kcv <hex>` (the master key's check value, or `none`; never a key), then
//! one `listening <dialect> <address>` line per listener, and on Ctrl-C or SIGTERM stops
//! cleanly and prints the summary. Logs go to stderr through `RUST_LOG` (default `info`), in
//! colour only when stderr is a terminal. A terminal whose dialect has no listener is named
//! in a warning on stderr, since the host cannot serve it.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use iso8583_host::{Dialect, HostConfig, ListenerConfig, TestHost};

/// The test acquirer host for ISO 8583 POS terminals.
#[derive(Debug, Parser)]
#[command(name = "testhost", version, about)]
struct Args {
    /// A configuration file (TOML); the built-in configuration when absent.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen here instead of the configured listeners (one listener; with --dialect).
    /// Port 0 picks a free port; the `listening` line shows which.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The dialect of the --listen listener: intl or cup.
    #[arg(long, value_name = "intl|cup", requires = "listen")]
    dialect: Option<Dialect>,
    /// The ledger's SQLite file (in memory by default).
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Seed for fault chances and working keys.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Expand every terminal entry to N terminals with consecutive ids (for load runs).
    #[arg(long, value_name = "N")]
    terminals: Option<u32>,
    /// Worker threads (default: one per core); 1 runs everything on one thread, which leaves
    /// the other cores to a terminal emulator on the same machine.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: redirected to a file they are noise.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = match configure(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("testhost: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match args.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n.max(1))
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("testhost: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

fn configure(args: &Args) -> Result<HostConfig, String> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            HostConfig::from_toml_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => HostConfig::builtin(),
    };
    if let Some(addr) = args.listen {
        let dialect = args.dialect.ok_or("--listen needs --dialect intl or cup")?;
        config.listeners = vec![ListenerConfig::new(dialect, addr)];
    }
    if let Some(db) = &args.db {
        config.db = Some(db.clone());
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(n) = args.terminals {
        config = config.with_terminal_count(n);
    }
    config.check().map_err(|e| e.to_string())?;
    Ok(config)
}

#[allow(clippy::print_stdout)] // The startup lines and the summary are the program's output.
async fn run(config: HostConfig) -> ExitCode {
    let listening: Vec<Dialect> = config.listeners.iter().map(|l| l.dialect).collect();
    for t in config
        .terminals
        .iter()
        .filter(|t| listening.contains(&t.dialect))
    {
        let kcv = t.kcv().unwrap_or_else(|| "none".to_owned());
        for id in t.ids() {
            println!(
                "terminal {id} merchant {} dialect {} kcv {kcv}",
                t.merchant, t.dialect
            );
        }
    }
    warn_unserved(&config);
    let stop = Stop::install();
    let host = match TestHost::spawn(config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("testhost: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (dialect, addr) in host.listeners() {
        println!("listening {dialect} {addr}");
    }
    tracing::info!("test host running; Ctrl-C stops it");
    stop.wait().await;
    tracing::info!("stopping");
    let summary = host.shutdown().await;
    println!("{summary}");
    ExitCode::SUCCESS
}

/// One stderr line per terminal entry whose dialect has no listener (the host logs the same
/// as a warning): otherwise a configuration that serves nobody starts without a word.
fn warn_unserved(config: &HostConfig) {
    for t in config.unserved_terminals() {
        let which = match (t.count, t.ids().last()) {
            (2.., Some(last)) => format!("terminals {} to {last}", t.id),
            _ => format!("terminal {}", t.id),
        };
        eprintln!(
            "testhost: warning: {which} (dialect {}) not served: no {} listener",
            t.dialect, t.dialect
        );
    }
}

/// Ctrl-C, or SIGTERM on Unix. Made before the `listening` lines are printed: a signal that
/// arrives before its handler is installed would kill the process without a summary.
struct Stop {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

/// The next delivery of a signal; never, without a handler.
#[cfg(unix)]
async fn next(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl Stop {
    fn install() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Stop {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Stop {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = next(self.term) => {}
                _ = next(self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
