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
    let out = posemu(&[
        "run",
        "--host",
        &addr,
        "--profile",
        path(&profile),
        path(&file),
    ])
    .await;
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
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    drop(socket);
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
    let out = posemu(&[
        "run",
        "--host",
        &addr,
        "--profile",
        path(&profile),
        path(&good),
    ])
    .await;
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
    let out = posemu(&[
        "run",
        "--host",
        &addr,
        "--profile",
        path(&profile),
        path(&file),
    ])
    .await;
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
