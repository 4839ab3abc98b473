//! The load mode, bounded (a few terminals, a few hundred sales each) and on loopback only:
//! against an in-process test host on 127.0.0.1 port 0, every sale is settled once or
//! reversed by the terminals' own account and by the host's books, with small batches so that
//! terminals settle on "SETTLE SOON" along the way; lost answers are reversed and still add up;
//! a reversal that never goes through makes the check fail; declined sales, or none approved,
//! fail the run unless declines are allowed (new-user finding 3); and the binary's exit codes
//! and messages.

mod support;

use std::sync::Arc;

use iso8583_host::{faults_from_toml, Dialect, HostConfig, TestHost};
use posemu::{run_load, DialectName, LoadOptions, LoadProgress, LoadReport, Profile};
use serde_json::Value;

/// A host that knows `terminals` ids of the dialect's built-in terminal.
async fn host(dialect: Dialect, terminals: u32, faults: &str) -> (TestHost, String) {
    let mut config = HostConfig::builtin().on_ephemeral_ports();
    for t in config.terminals.iter_mut().filter(|t| t.dialect == dialect) {
        t.count = terminals;
    }
    config.faults = faults_from_toml(faults).unwrap();
    config.seed = 7;
    let host = TestHost::spawn(config).await.unwrap();
    let addr = host.addr(dialect).unwrap().to_string();
    (host, addr)
}

fn profile(dialect: DialectName, extra: &str) -> Profile {
    let extra: toml::Table = extra.parse().unwrap();
    Profile::layered(Some(dialect), &[&support::test_layer(), &extra]).unwrap()
}

async fn load(host: &TestHost, options: LoadOptions) -> LoadReport {
    let progress = Arc::new(LoadProgress::default());
    let mut report = run_load(&options, progress.clone()).await.unwrap();
    report.check_ledger(&host.ledger());
    for line in report.lines() {
        eprintln!("{line}");
    }
    let sales = progress.sales.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(sales, u64::from(options.terminals * options.sales));
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_terminals_settle_every_sale_once() {
    let (host, addr) = host(Dialect::International, 8, "").await;
    let options = LoadOptions {
        host: addr,
        terminals: 8,
        sales: 200,
        profile: profile(DialectName::Intl, "capacity = 60\nwarn_at = 50\n"),
        tap: None,
        allow_declines: false,
    };
    let report = load(&host, options).await;
    assert!(report.holds(), "{:?}", report.problems);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.approved, 1600);
    assert_eq!(report.settled(), 1600);
    // 200 sales in batches that warn at 50: four settlements each, the last at the end.
    assert_eq!(report.settlements, 8 * 4);
    assert_eq!(report.balanced, report.settlements);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let ledger = report.ledger.as_ref().unwrap();
    assert_eq!((ledger.settled, ledger.reversed), (1600, 0));
    let ids: Vec<_> = report
        .per_terminal
        .iter()
        .map(|t| t.terminal.as_str())
        .collect();
    assert_eq!(ids.first(), Some(&"00000001"));
    assert_eq!(ids.last(), Some(&"00000008"));
    assert_eq!(report.latency.count, 1600);
    assert!(report.latency.p50 <= report.latency.p99);
    assert!(report.latency.p99 <= report.latency.max);
    assert!(report.approved_per_second() > 0.0);
    let summary = host.shutdown().await;
    assert_eq!(summary.answers("0200", "00"), 1600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_batches_than_the_host_keeps_records_of_still_add_up() {
    let (host, addr) = host(Dialect::International, 2, "").await;
    let options = LoadOptions {
        host: addr,
        terminals: 2,
        sales: 120,
        profile: profile(DialectName::Intl, "capacity = 8\nwarn_at = 5\n"),
        tap: None,
        allow_declines: false,
    };
    let report = load(&host, options).await;
    assert!(report.holds(), "{:?}", report.problems);
    assert_eq!(report.settlements, 2 * 24);
    let books = host.ledger();
    let books = books.terminal("00000001").unwrap();
    assert!(books.closed.iter().any(|b| !b.records_kept));
    assert_eq!(books.settled().0, 120);
    assert_eq!(report.ledger.as_ref().unwrap().settled, 240);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn union_pay_terminals_sign_on_mac_and_settle() {
    let (host, addr) = host(Dialect::UnionPay, 4, "").await;
    let options = LoadOptions {
        host: addr,
        terminals: 4,
        sales: 100,
        profile: profile(DialectName::Cup, "capacity = 40\nwarn_at = 30\n"),
        tap: None,
        allow_declines: false,
    };
    let report = load(&host, options).await;
    assert!(report.holds(), "{:?}", report.problems);
    assert_eq!(report.approved, 400);
    let json = report.to_json();
    assert_eq!(json["dialect"], "cup");
    assert_eq!(json["check"]["holds"], true);
    assert_eq!(json["check"]["host"]["settled"], 400);
    assert_eq!(host.stats().answers("0800", "00"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_reversed_and_everything_still_adds_up() {
    // About one sale in fifty is approved and booked by the host, but its answer is lost.
    let faults = "[[faults]]\nmti = \"0200\"\naction = \"no_answer\"\nchance = 0.02\n";
    let (host, addr) = host(Dialect::International, 4, faults).await;
    let options = LoadOptions {
        host: addr,
        terminals: 4,
        sales: 100,
        profile: profile(DialectName::Intl, "response_timeout_ms = 200\n"),
        tap: None,
        allow_declines: false,
    };
    let report = load(&host, options).await;
    assert!(report.holds(), "{:?}", report.problems);
    let reversed = report.reversed();
    assert!(reversed > 0, "the seeded chance loses some answers");
    assert_eq!(report.approved + reversed, 400);
    assert_eq!(report.errors.get("reversed (98)"), Some(&reversed));
    assert_eq!(report.errors.get("no_answer"), Some(&reversed));
    let ledger = report.ledger.as_ref().unwrap();
    assert_eq!(ledger.reversed, reversed, "the host took each one back");
    assert_eq!(ledger.settled, report.approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversal_that_never_goes_through_fails_the_check() {
    // One sale's answer is lost (the host booked it); every 0400 is refused with 05, so the
    // terminal drops the reversal ("REVERSAL FAILED") and the host keeps a sale nobody settled.
    let faults = "[[faults]]\nmti = \"0200\"\naction = \"no_answer\"\nnth = 3\ntimes = 1\n\
                  [[faults]]\nmti = \"0400\"\naction = \"respond\"\ncode = \"05\"\n";
    let (host, addr) = host(Dialect::International, 1, faults).await;
    let options = LoadOptions {
        host: addr,
        terminals: 1,
        sales: 10,
        profile: profile(DialectName::Intl, "response_timeout_ms = 200\n"),
        tap: None,
        allow_declines: false,
    };
    let report = load(&host, options).await;
    assert!(!report.holds());
    assert_eq!(report.exit_code(), 1);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("REVERSAL FAILED")),
        "{:?}",
        report.problems
    );
    let ledger = report.ledger.as_ref().unwrap();
    assert!(!ledger.holds(), "the host's books show the lost sale too");
}

/// Runs the binary off the runtime's threads.
async fn posemu(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_posemu"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_with_its_own_host_exits_0_and_prints_json() {
    let out = posemu(&["load", "--terminals", "3", "--sales", "40", "--json"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["approved"], 120);
    assert_eq!(json["terminals"], 3);
    assert_eq!(json["check"]["holds"], true);
    assert_eq!(json["check"]["host"]["settled"], 120);
    for key in ["p50", "p90", "p99", "max"] {
        assert!(json["latency_us"][key].as_u64().unwrap() > 0, "{key}");
    }
    assert!(json["approved_per_s"].as_f64().unwrap() > 0.0);
    // No progress bar when stderr is not a terminal.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_3_when_unreachable_and_2_on_usage() {
    let (_refusing, addr) = support::refused_addr();
    let out = posemu(&["load", "--host", &addr, "--terminals", "2", "--sales", "3"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unreachable: 2 terminal(s)"));

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("result: FAILED (exit 3)"), "{stdout}");
    // Nothing was sold: no error list and no check to call failed (finding 15).
    assert!(!stdout.contains("errors:"), "{stdout}");
    assert!(!stdout.contains("problem(s)"), "{stdout}");
    assert!(stdout.contains("nothing was sold"), "{stdout}");

    let out = posemu(&["load", "--terminals", "2", "--tid-base", "TERM9999"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("do not fit its last 4 digit(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("8 characters"), "{stderr}");
}

/// Finding 15: `--terminals 0` is a usage error in plain words, not the test host's complaint
/// about a terminal entry; `--tid-base` without digits says it needs a numeric suffix, and
/// serves one terminal well enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_says_plainly_what_is_wrong_with_its_arguments() {
    for args in [["load", "--terminals", "0"], ["load", "--sales", "0"]] {
        let out = posemu(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--terminals and --sales must be at least 1"),
            "{stderr}"
        );
        assert!(!stderr.contains("test host"), "{stderr}");
    }

    let out = posemu(&["load", "--terminals", "2", "--tid-base", "ABCDEFGH"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("numeric suffix"), "{stderr}");
    assert!(!stderr.contains("8 characters"), "{stderr}");

    let out = posemu(&["load", "--tid-base", "ABCDEFGH", "--sales", "5", "--json"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["approved"], 5);
}

/// Finding 3: a host that knows one of three terminal ids declines the other two's sales with
/// 03. The check over the approved ones holds, but the run fails and says why; with
/// `allow_declines` it passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_sales_fail_the_run_unless_allowed() {
    for allow_declines in [false, true] {
        let (host, addr) = host(Dialect::International, 1, "").await;
        let options = LoadOptions {
            host: addr,
            terminals: 3,
            sales: 20,
            profile: profile(DialectName::Intl, ""),
            tap: None,
            allow_declines,
        };
        let report = load(&host, options).await;
        assert!(report.holds(), "{:?}", report.problems);
        assert_eq!(report.approved, 20);
        assert_eq!(report.declined.get("03"), Some(&40));
        assert_eq!(report.declined_sales(), 40);
        let lines = report.lines().join("\n");
        let hint = "03: unknown terminal: the host must know ids 00000001 to 00000003";
        assert!(lines.contains(hint), "{lines}");
        assert!(lines.contains("`testhost --terminals 3`"), "{lines}");
        match allow_declines {
            false => {
                assert!(!report.passed());
                assert_eq!(report.exit_code(), 1);
                assert_eq!(
                    report.failures(),
                    ["40 sale(s) declined (03 x 40); --allow-declines if declines are expected"]
                );
                assert!(
                    lines.contains("result: FAILED (exit 1): 40 sale(s)"),
                    "{lines}"
                );
            }
            true => {
                assert!(report.passed(), "{:?}", report.failures());
                assert_eq!(report.exit_code(), 0);
                let passed = "result: passed (40 declined sale(s) allowed by --allow-declines)";
                assert!(lines.contains(passed), "{lines}");
            }
        }
        let json = report.to_json();
        assert_eq!(json["declined"]["03"], 40);
        assert_eq!(json["passed"], allow_declines);
        assert_eq!(json["allow_declines"], allow_declines);
    }
}

/// Finding 3, the other trap: a host that already holds these terminals' trace numbers in their
/// open batches (here: a first run whose every 0500 the host refused, so nothing closed)
/// declines every sale of a second run with 94. Nothing approved fails the run even with
/// `allow_declines`, and the 94 line says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_approved_fails_the_run_even_with_declines_allowed() {
    let refuse_0500 = "[[faults]]\nmti = \"0500\"\naction = \"respond\"\ncode = \"96\"\n";
    let (host, addr) = host(Dialect::International, 2, refuse_0500).await;
    let options = |allow_declines| LoadOptions {
        host: addr.clone(),
        terminals: 2,
        sales: 10,
        profile: profile(DialectName::Intl, ""),
        tap: None,
        allow_declines,
    };
    let first = load(&host, options(false)).await;
    assert_eq!(first.approved, 20);
    assert!(!first.holds(), "nothing was settled");
    host.set_faults(Vec::new());

    // Not checked against the host's books: they still hold the first run's unsettled sales.
    let second = run_load(&options(true), Arc::default()).await.unwrap();
    assert_eq!(second.approved, 0);
    assert_eq!(second.declined.get("94"), Some(&20));
    assert!(second.holds(), "no approved sale to account for");
    assert_eq!(second.exit_code(), 1);
    assert_eq!(second.failures(), ["no sale was approved"]);
    let lines = second.lines().join("\n");
    assert!(lines.contains("holds, but no sale was approved"), "{lines}");
    assert!(lines.contains("94: duplicate trace"), "{lines}");
    assert!(
        lines.contains("result: FAILED (exit 1): no sale was approved"),
        "{lines}"
    );
}

/// The binary, against a host that knows one of its two terminals: exit 1 and the reason on
/// stdout; exit 0 with `--allow-declines`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_fails_on_declines_unless_allowed() {
    let (_host, addr) = host(Dialect::International, 1, "").await;
    let base = ["load", "--host", &addr, "--terminals", "2", "--sales", "5"];
    let out = posemu(&base).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("result: FAILED (exit 1): 5 sale(s) declined (03 x 5)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the host must know ids 00000001 to 00000002"),
        "{stdout}"
    );

    let mut allowed = base.to_vec();
    allowed.extend(["--allow-declines", "--json"]);
    let out = posemu(&allowed).await;
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["passed"].clone(), json["declined"]["03"].clone()),
        (true.into(), 5.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_against_a_host_that_loses_a_sale_exits_1() {
    let faults = "[[faults]]\nmti = \"0200\"\naction = \"no_answer\"\nnth = 2\ntimes = 1\n\
                  [[faults]]\nmti = \"0400\"\naction = \"respond\"\ncode = \"05\"\n";
    let (_host, addr) = host(Dialect::International, 2, faults).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("profile.toml");
    std::fs::write(&file, "response_timeout_ms = 200\n").unwrap();
    let out = posemu(&[
        "load",
        "--host",
        &addr,
        "--terminals",
        "2",
        "--sales",
        "5",
        "--profile",
        file.to_str().unwrap(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILS"), "{stdout}");
    assert!(stdout.contains("REVERSAL FAILED"), "{stdout}");
}

/// Findings 1 and 3 together: load runs one after another against the same host. Every run's
/// fresh terminals start at batch 000001 and trace 000001 again; the host reconciles each
/// run's batches (rather than taking their 0500s for repeats of the last run's) and every run
/// passes, with no 94.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_one_after_another_against_one_host_all_pass() {
    let (host, addr) = host(Dialect::International, 2, "").await;
    for run in 1..=3 {
        let options = LoadOptions {
            host: addr.clone(),
            terminals: 2,
            sales: 30,
            profile: profile(DialectName::Intl, ""),
            tap: None,
            allow_declines: false,
        };
        // The host's books hold the earlier runs too, so only the terminals' check applies.
        let report = run_load(&options, Arc::default()).await.unwrap();
        assert!(report.passed(), "run {run}: {:?}", report.lines());
        assert_eq!(report.approved, 60, "run {run}");
        assert_eq!(report.balanced, report.settlements, "run {run}");
    }
    let books = host.ledger();
    let books = books.terminal("00000001").unwrap();
    assert_eq!(books.settled().0, 90);
    let summary = host.shutdown().await;
    assert_eq!(summary.answers("0200", "94"), 0);
    assert_eq!(summary.batches_reconciled, 6);
    assert_eq!(summary.repeated_closes, 0);
}
