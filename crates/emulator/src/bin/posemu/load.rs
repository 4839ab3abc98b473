//! `posemu load`: N terminals at once against a host, with a progress bar on stderr (hidden
//! when stderr is not a terminal) and a summary on stdout, as text or one JSON object
//! (`--json`). The work and the check are the library's (`posemu::run_load`).
//!
//! Without `--host`, the test host is started in-process on a loopback port with the built-in
//! configuration, its terminal entry of the dialect expanded to the N terminal ids the load
//! uses; the check then also reads the host's books. Against another host, its terminals must
//! be registered: `testhost --terminals N` registers `00000001`... (and `20000001`... for
//! UnionPay), the ids `posemu load` uses by default; `--tid-base` starts elsewhere.
//!
//! The exit code is the run's verdict (`LoadReport::exit_code`): a declined sale fails the run
//! unless `--allow-declines`, and so does a run that approved nothing; `--terminals 0` or
//! `--sales 0` is a usage error (2) before any host is started.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use iso8583_host::{Dialect, HostConfig, TestHost};
use posemu::{run_load, DialectName, FrameTap, LoadOptions, LoadProgress, LoadReport, Profile};

use crate::out::{note, say};

/// `posemu load`'s options.
#[derive(Debug, Parser)]
pub(crate) struct Args {
    /// The host, ADDRESS:PORT; without it the test host runs in-process on a loopback port.
    #[arg(long, value_name = "ADDR")]
    host: Option<String>,
    /// Terminals at once, each with its own connection and terminal id.
    #[arg(long, default_value_t = 1, value_name = "N")]
    terminals: u32,
    /// Sales per terminal.
    #[arg(long, default_value_t = 100, value_name = "M")]
    sales: u32,
    /// The built-in profile to start from: intl or cup (default: the profile file's
    /// `dialect`, else intl).
    #[arg(long, value_parser = crate::dialect)]
    dialect: Option<DialectName>,
    /// A profile file (TOML) layered over the built-in profile.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The first terminal id (default: the profile's); the others count up from it.
    #[arg(long, value_name = "TID")]
    tid_base: Option<String>,
    /// Declined sales are expected: they do not fail the run (the check then covers the
    /// approved ones). Without it any declined sale, or no sale approved, fails the run.
    #[arg(long)]
    allow_declines: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Runtime worker threads (default: one per core; 1 runs every terminal on one thread).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

pub(crate) async fn load(args: Args, tap: Option<Arc<dyn FrameTap>>) -> u8 {
    if args.terminals == 0 || args.sales == 0 {
        note(format_args!(
            "posemu load: --terminals and --sales must be at least 1"
        ));
        return 2;
    }
    let profile = match profile(&args) {
        Ok(p) => p,
        Err(why) => {
            note(format_args!("posemu load: {why}"));
            return 2;
        }
    };
    let host = match &args.host {
        Some(_) => None,
        None => match in_process_host(&profile, args.terminals).await {
            Ok(host) => Some(host),
            Err(why) => {
                note(format_args!("posemu load: test host: {why}"));
                return 2;
            }
        },
    };
    let addr = match (&args.host, &host) {
        (Some(addr), _) => addr.clone(),
        (None, Some((_, addr))) => addr.clone(),
        (None, None) => return 2,
    };
    let options = LoadOptions {
        host: addr,
        terminals: args.terminals,
        sales: args.sales,
        profile,
        tap,
        allow_declines: args.allow_declines,
    };
    let report = match measured(&options).await {
        Ok(r) => r,
        Err(why) => {
            note(format_args!("posemu load: {why}"));
            return 2;
        }
    };
    finish(report, host.map(|(h, _)| h), args.json).await
}

/// The load run with the progress bar.
async fn measured(options: &LoadOptions) -> Result<LoadReport, String> {
    tracing::info!(
        terminals = options.terminals,
        sales = options.sales,
        host = %options.host,
        "load started"
    );
    let progress = Arc::new(LoadProgress::default());
    let total = u64::from(options.terminals) * u64::from(options.sales);
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} sales, {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let ticker = tokio::spawn(tick(bar.clone(), progress.clone()));
    let report = run_load(options, progress).await;
    ticker.abort();
    bar.finish_and_clear();
    let report = report.map_err(|e| e.to_string())?;
    tracing::info!(
        approved = report.approved,
        per_second = report.approved_per_second() as u64,
        holds = report.holds(),
        passed = report.passed(),
        "load finished"
    );
    Ok(report)
}

/// Moves the bar ten times a second.
async fn tick(bar: ProgressBar, progress: Arc<LoadProgress>) {
    let mut every = tokio::time::interval(Duration::from_millis(100));
    loop {
        every.tick().await;
        let sales = progress.sales.load(Ordering::Relaxed);
        bar.set_message(match sales {
            0 => format!(
                "{} terminal(s) ready",
                progress.ready.load(Ordering::Relaxed)
            ),
            _ => format!("{} approved", progress.approved.load(Ordering::Relaxed)),
        });
        bar.set_position(sales);
    }
}

/// Checks the in-process host's books, prints the summary, stops the host: the exit code.
async fn finish(mut report: LoadReport, host: Option<TestHost>, json: bool) -> u8 {
    if let Some(host) = host {
        report.check_ledger(&host.ledger());
        host.shutdown().await;
    }
    if json {
        say(report.to_json());
    } else {
        report.lines().into_iter().for_each(say);
    }
    report.exit_code()
}

fn profile(args: &Args) -> Result<Profile, String> {
    let layer = crate::profile_layer(&args.profile)?;
    let mut profile = Profile::layered(args.dialect, &layer.iter().collect::<Vec<_>>())
        .map_err(|e| e.to_string())?;
    if let Some(base) = &args.tid_base {
        profile.terminal_id = base.clone();
    }
    posemu::terminal_ids(&profile.terminal_id, args.terminals).map_err(|e| e.to_string())?;
    Ok(profile)
}

/// The built-in test host on a loopback port, knowing the load's terminal ids.
async fn in_process_host(profile: &Profile, terminals: u32) -> Result<(TestHost, String), String> {
    let dialect = match profile.dialect {
        DialectName::Intl => Dialect::International,
        DialectName::Cup => Dialect::UnionPay,
    };
    let mut config = HostConfig::builtin().on_ephemeral_ports();
    for entry in config.terminals.iter_mut().filter(|t| t.dialect == dialect) {
        entry.id = profile.terminal_id.clone();
        entry.merchant = profile.merchant_id.clone();
        entry.count = terminals;
    }
    let host = TestHost::spawn(config).await.map_err(|e| e.to_string())?;
    let addr = host
        .addr(dialect)
        .ok_or("no listener of the dialect")?
        .to_string();
    Ok((host, addr))
}
