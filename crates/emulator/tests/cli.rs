//! The real `posemu` binary: `demo` in both dialects (exit code and slip), and `run`'s exit
//! codes against an in-process test host on 127.0.0.1 port 0: 0 when every expectation
//! holds, 1 when one fails, 2 for a bad scenario file or usage, 3 when the host cannot be
//! reached; `--json` prints one object per scenario.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use iso8583_host::{Dialect, HostConfig, TestHost};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the binary off the runtime's threads, so the in-process host keeps answering.
async fn posemu(args: &[&str]) -> Output {
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

async fn intl_host() -> (TestHost, String) {
    let host = TestHost::spawn(HostConfig::builtin().on_ephemeral_ports())
        .await
        .unwrap();
    let addr = host.addr(Dialect::International).unwrap().to_string();
    (host, addr)
}

/// A temporary directory with the test profile and, optionally, a scenario file.
fn files(scenario: Option<&str>) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.toml");
    std::fs::write(&profile, support::TEST_PROFILE).unwrap();
    let file = dir.path().join("scenario.toml");
    if let Some(text) = scenario {
        std::fs::write(&file, text).unwrap();
    }
    (dir, profile, file)
}

/// `posemu run --host addr --profile profile scenario`.
async fn run_with_profile(addr: &str, profile: &Path, scenario: &Path) -> Output {
    posemu(&[
        "run",
        "--host",
        addr,
        "--profile",
        path(profile),
        path(scenario),
    ])
    .await
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_passes_with_exit_0_and_one_json_object_per_scenario() {
    let (_host, addr) = intl_host().await;
    let (_dir, profile, _) = files(None);
    let dir = support::scenarios_dir();
    let balanced = dir.join("intl/balanced-settlement.toml");
    let refund = dir.join("intl/refund.toml");
    let out = posemu(&[
        "run",
        "--host",
        &addr,
        "--profile",
        path(&profile),
        "--json",
        path(&balanced),
        path(&refund),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let objects: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 2);
    let first = &objects[0];
    assert_eq!(first["scenario"], "intl: balanced settlement");
    assert_eq!(first["failed"], 0);
    assert_eq!(first["passed"], 7);
    let settle = &first["steps"][5];
    assert_eq!(settle["run"], "settle");
    assert_eq!(settle["expected"]["sent"], serde_json::json!(["0500"]));
    assert_eq!(settle["actual"]["sent"], serde_json::json!(["0500"]));
    assert_eq!(settle["happened"]["codes"], serde_json::json!(["00"]));
    assert_eq!(settle["passed"], true);
    // Masked everywhere: no full PAN of a test card in the JSON.
    assert!(!stdout.contains("4761739001010010"));
    assert!(stdout.contains("476173******0010"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_expectation_exits_1_and_says_which() {
    let (_host, addr) = intl_host().await;
    let scenario = r#"
        name = "wrong"
        [[step]]
        run = "echo"
        expect = { code = "05" }
        [[step]]
        run = "sale 1.00"
        expect = { outcome = "approved" }
    "#;
    let (_dir, profile, file) = files(Some(scenario));
    let out = run_with_profile(&addr, &profile, &file).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL   1 echo"), "{stdout}");
    assert!(
        stdout.contains("expect.code = \"05\", got \"00\""),
        "{stdout}"
    );
    assert!(stdout.contains("ok     2 sale 1.00"), "{stdout}");

    // A fresh host: a second terminal with the same id and a fresh memory would repeat trace
    // numbers, which the host rightly answers 94 (duplicate).
    let (_host, addr) = intl_host().await;
    let out = posemu(&["run", "--host", &addr, "--json", path(&file)]).await;
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(
        (json["passed"].as_u64(), json["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(json["steps"][0]["failed"], serde_json::json!(["code"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_exits_3() {
    // A port that was just free: nothing listens there.
    let (_refusing, addr) = support::refused_addr();
    let scenario = support::scenarios_dir().join("intl/sign-on-echo.toml");
    let out = posemu(&["run", "--host", &addr, path(&scenario)]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("host unreachable"));
    let out = posemu(&["run", "--host", &addr, "--json", path(&scenario)]).await;
    assert_eq!(out.status.code(), Some(3));
    let json: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert!(json["unreachable"]
        .as_str()
        .is_some_and(|s| s.contains(&addr)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_and_usage_exit_2_before_anything_is_sent() {
    let (host, addr) = intl_host().await;
    let (_dir, profile, file) = files(Some("[[step]]\nrun = \"sale twelve\"\n"));
    let out = posemu(&["run", "--host", &addr, path(&file)]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("step 1"),
        "{}",
        text(&out.stderr)
    );

    let good = support::scenarios_dir().join("intl/refund.toml");
    let missing = Path::new("/nonexistent/scenario.toml");
    let out = posemu(&["run", "--host", &addr, path(&good), path(missing)]).await;
    assert_eq!(out.status.code(), Some(2));

    std::fs::write(&profile, "capacity = 0\n").unwrap();
    let out = run_with_profile(&addr, &profile, &good).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("capacity"));

    let out = posemu(&["run", path(&good)]).await;
    assert_eq!(out.status.code(), Some(2), "no --host is a usage error");
    // Nothing reached the host: every file is checked first.
    assert_eq!(host.stats().connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_section_is_ignored_against_an_external_host() {
    let (_host, addr) = intl_host().await;
    // Against an in-process host this fault would make the settlement a RECONCILE ERROR.
    let scenario = r#"
        [[host.faults]]
        mti = "0500"
        action = "respond"
        code = "77"
        [[step]]
        run = "settle"
        expect = { code = "00", slip = "BALANCED" }
    "#;
    let (_dir, profile, file) = files(Some(scenario));
    let out = run_with_profile(&addr, &profile, &file).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("ignored"));
}

async fn demo(dialect: &str) -> String {
    let started = Instant::now();
    let out = posemu(&["demo", "--dialect", dialect]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the demo takes seconds"
    );
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_tells_the_international_story() {
    let out = demo("intl").await;
    let refused = out
        .lines()
        .find(|l| l.contains("nothing sent"))
        .unwrap_or_else(|| panic!("no refused sale in\n{out}"));
    assert!(refused.contains("STORAGE FULL, PLEASE SETTLE"));
    assert!(out.contains("0510 95"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("0320 UPLOAD")).count(),
        5,
        "{out}"
    );
    assert!(out.contains("0500 TRAILER 960000"));
    assert!(out.contains("NOT BALANCED"));
    assert!(out.contains("UPLOADED 5 RECORDS"));
    assert!(out.contains("BATCH 000001 CLOSED"));
    let after = out.split("BATCH 000001 CLOSED").nth(1).unwrap();
    assert!(
        after.contains("APPROVED SALE"),
        "one more sale in the new batch:\n{after}"
    );
    assert!(!out.contains("4761739001010010"), "PANs are masked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_tells_the_unionpay_story() {
    let out = demo("cup").await;
    assert!(
        out.contains("储存满请结算 / STORAGE FULL, PLEASE SETTLE"),
        "{out}"
    );
    assert!(out.contains("flags 22 (not balanced)"), "{out}");
    assert!(out.contains("UPLOAD 60.3=201 8 records"));
    assert!(out.contains("UPLOAD 60.3=201 2 records"));
    assert!(out.contains("UPLOAD END 60.3=202"));
    assert!(out.contains("UPLOADED 10 RECORDS"));
    assert!(out.contains("BATCH 000001 CLOSED"));
    assert!(out.contains("WORKING KEYS LOADED"));
    assert!(!out.contains("0123456789ABCDEF"), "no key is printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_reads_commands_from_stdin() {
    let (_host, addr) = intl_host().await;
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_posemu"))
            .args(["shell", "--host", &addr])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"sale 12.50 card=mc-keyed\nbogus\nstatus\nsettle\nquit\n")
            .unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("APPROVED SALE"), "{stdout}");
    assert!(stdout.contains("unknown command \"bogus\""));
    assert!(stdout.contains("1 of 999 records"));
    assert!(stdout.contains("BATCH 000001 CLOSED"));
}

/// Finding 2: one `posemu run` over every fault-free international scenario against one host,
/// as one physical terminal running them in turn: each fresh terminal starts its trace numbers
/// after the previous scenario's, so the host's duplicate rule does not fire, and every
/// scenario passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_free_scenarios_pass_in_one_run_against_one_host() {
    let (host, addr) = intl_host().await;
    let (_dir, profile, _) = files(None);
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(support::scenarios_dir().join("intl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !posemu::Scenario::load(p).unwrap().uses_host())
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 14, "{scenarios:?}");
    let mut args = vec![
        "run",
        "--host",
        &addr,
        "--profile",
        path(&profile),
        "--json",
    ];
    args.extend(scenarios.iter().map(|p| path(p)));
    let out = posemu(&args).await;
    let stdout = text(&out.stdout);
    let objects: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), scenarios.len());
    for o in &objects {
        assert_eq!(
            o["failed"],
            0,
            "{}",
            serde_json::to_string_pretty(o).unwrap()
        );
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The trace numbers only ever go up, from one scenario to the next.
    let firsts_and_lasts: Vec<(u64, u64)> = objects
        .iter()
        .filter_map(|o| {
            let traces: Vec<u64> = o["steps"]
                .as_array()?
                .iter()
                .flat_map(|s| {
                    s["happened"]["exchanges"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|x| {
                    let x = x.as_str()?;
                    x.split("trace ").nth(1)?.get(..6)?.parse().ok()
                })
                .collect();
            Some((*traces.first()?, *traces.iter().max()?))
        })
        .collect();
    assert!(firsts_and_lasts.len() > 10);
    for pair in firsts_and_lasts.windows(2) {
        assert!(
            pair[1].0 > pair[0].1,
            "traces restarted: {firsts_and_lasts:?}"
        );
    }
    // The only 94s are the duplicate-trace scenario's resends, never a fresh sale's.
    let stats = host.stats();
    let resends = objects
        .iter()
        .flat_map(|o| o["steps"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["run"] == "resend")
        .count() as u64;
    assert_eq!(stats.answers("0200", "94"), resends);
    assert_eq!(stats.answers("0500", "95"), 0, "every 0500 balanced");
}

/// Finding 12: a bad `--profile` file is reported against that file and its line, not against
/// the scenario it was layered under; an unknown key too. Nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_profile_file_is_reported_against_itself() {
    let (host, addr) = intl_host().await;
    let (_dir, profile, _) = files(None);
    let scenario = support::scenarios_dir().join("cup/sign-on-keys.toml");
    for (body, line, what) in [
        (
            "nii = 3\nmaster_key = \"zz\"\n",
            2,
            "profile key master_key",
        ),
        ("\ncolour = \"red\"\n", 2, "unknown field `colour`"),
    ] {
        std::fs::write(&profile, body).unwrap();
        let out = run_with_profile(&addr, &profile, &scenario).await;
        assert_eq!(out.status.code(), Some(2));
        let stderr = text(&out.stderr);
        let blamed = format!("posemu run: {}: line {line}: ", profile.display());
        assert!(stderr.starts_with(&blamed), "{stderr}");
        assert!(stderr.contains(what), "{stderr}");
        assert!(!stderr.contains("zz"), "no value is quoted: {stderr}");
        assert!(
            !stderr.contains(&format!("{}:", scenario.display())),
            "the scenario is not blamed: {stderr}"
        );
    }
    assert_eq!(host.stats().connections, 0);
}

/// Finding 11: an expected amount and the amount found read the same way, "42.00", in text
/// and in `--json`; and finding 15: a `reprint settlement` step says what it reprinted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_read_alike_and_reprints_say_what_they_printed() {
    let scenario = r#"
        [[step]]
        run = "reprint settlement"
        expect = { prompt = "NO SETTLEMENT SLIP TO REPRINT" }
        [[step]]
        run = "sale 20.00"
        expect = { totals = { sale_count = 1, sale_amount = "42.00" } }
        [[step]]
        run = "settle"
        [[step]]
        run = "reprint settlement"
    "#;
    let (_dir, profile, file) = files(Some(scenario));
    let (_host, addr) = intl_host().await;
    let args = [
        "run",
        "--host",
        &addr,
        "--profile",
        path(&profile),
        path(&file),
    ];
    let out = posemu(&args).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            r#"expect.totals = {"sale_amount":"42.00","sale_count":1}, got {"sale_amount":"20.00","sale_count":1}"#
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok     1 reprint settlement: NO SETTLEMENT SLIP TO REPRINT"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok     4 reprint settlement: REPRINTED SLIP: BATCH 000001, BALANCED"),
        "{stdout}"
    );

    let (_host, addr) = intl_host().await;
    let args = [
        "run",
        "--host",
        &addr,
        "--profile",
        path(&profile),
        "--json",
        path(&file),
    ];
    let out = posemu(&args).await;
    let json: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let sale = &json["steps"][1];
    assert_eq!(sale["expected"]["totals"]["sale_amount"], "42.00");
    assert_eq!(sale["actual"]["totals"]["sale_amount"], "20.00");
    assert_eq!(sale["actual"]["totals"]["sale_count"], 1);
}

/// Finding 10: `demo --state PATH` tells its story once; a state file that holds a terminal
/// already is refused with exit 2 before anything starts, and left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_refuses_a_state_file_that_holds_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("demo.sqlite");
    let out = posemu(&["demo", "--state", path(&state)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = posemu(&["demo", "--state", path(&state)]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("already holds a terminal's state (batch 000002, 1 record(s))"),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty(), "no story was told");
    // Still the first demo's terminal: batch 2 with its one sale.
    let mut store = iso8583_settle::SqliteStore::open(&state).unwrap();
    let held = iso8583_settle::Store::load(&mut store).unwrap().unwrap();
    assert_eq!((held.batch, held.records.len()), (2, 1));

    std::fs::write(dir.path().join("junk"), "not a database, just text").unwrap();
    let out = posemu(&["demo", "--state", path(&dir.path().join("junk"))]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a terminal state file"));
}

/// Finding 13: a shell whose host refuses the connection sends nothing, so nothing is left to
/// reverse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_against_a_closed_port_leaves_no_reversal() {
    let (_refusing, addr) = support::refused_addr();
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_posemu"))
            .args(["shell", "--host", &addr])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"sale 1.00\nsale 1.5\nstatus\n").unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("0200 SALE trace 000001 -> UNREACHABLE"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SALE NOT SENT: HOST UNREACHABLE"),
        "{stdout}"
    );
    assert!(!stdout.contains("REVERSAL 98"), "{stdout}");
    assert!(
        stdout.contains("two decimals or none"),
        "sale 1.5 is refused: {stdout}"
    );
    assert!(stdout.contains("reversal pending: no"), "{stdout}");
}
