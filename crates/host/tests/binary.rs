//! The `testhost` binary: its startup lines, a sale through it, SIGTERM and the summary.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iso8583_host::Dialect;
use support::*;

fn start(args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_testhost"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

/// Reads lines up to the `listening` ones (as many as `listeners`).
fn startup(stdout: &mut BufReader<std::process::ChildStdout>, listeners: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while lines
        .iter()
        .filter(|l: &&String| l.starts_with("listening "))
        .count()
        < listeners
    {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "ended early: {lines:?}"
        );
        lines.push(line.trim_end().to_owned());
    }
    lines
}

fn stop(mut child: Child, mut stdout: BufReader<std::process::ChildStdout>) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "testhost did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    rest
}

#[tokio::test]
async fn listen_on_port_0_sell_and_stop_with_a_summary() {
    let (child, mut stdout) = start(&["--listen", "127.0.0.1:0", "--dialect", "intl"]);
    let lines = startup(&mut stdout, 1);
    assert_eq!(
        lines[0],
        "terminal 00000001 merchant 123456789012345 dialect intl kcv none"
    );
    let addr: SocketAddr = lines[1]
        .strip_prefix("listening intl ")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0);

    let mut t = Term::connect_to(addr, Dialect::International, INTL_TID, INTL_MID).await;
    let sale = t.sale(1250, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    drop(t);

    let summary = stop(child, stdout);
    assert!(summary.contains("received 0200: 1"), "{summary}");
    assert!(summary.contains("answered 0200 with 00: 1"), "{summary}");
    assert!(summary.contains("faults injected: 0"), "{summary}");
}

#[test]
fn config_file_terminals_print_their_check_values_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.toml");
    std::fs::write(
        &path,
        format!(
            r#"
            [[listener]]
            dialect = "cup"
            addr = "127.0.0.1:0"
            [[terminal]]
            id = "20000001"
            merchant = "898310012340001"
            dialect = "cup"
            master_key = "{TMK}"
            mac = "cup-ecb"
            sign_on_required = true
            count = 2
            "#
        ),
    )
    .unwrap();
    let (child, mut stdout) = start(&["--config", path.to_str().unwrap(), "--seed", "3"]);
    let lines = startup(&mut stdout, 1);
    assert_eq!(
        lines[..2],
        [
            "terminal 20000001 merchant 898310012340001 dialect cup kcv 08D7B4",
            "terminal 20000002 merchant 898310012340001 dialect cup kcv 08D7B4",
        ]
    );
    assert!(
        lines[2].starts_with("listening cup 127.0.0.1:"),
        "{lines:?}"
    );
    let all = format!("{lines:?}");
    assert!(!all.contains(&TMK[..16]), "never a key");
    let summary = stop(child, stdout);
    assert!(summary.contains("summary: 0 connection(s)"), "{summary}");
}

#[test]
fn a_bad_configuration_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.toml");
    std::fs::write(&path, "[[terminal]]\nid = \"short\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_testhost"))
        .args(["--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("testhost:"));
    let out = Command::new(env!("CARGO_BIN_EXE_testhost"))
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--listen without --dialect");
}

/// New-user findings 9 and 15: a terminal whose dialect has no listener is named on stderr at
/// start (the built-in UnionPay terminal, with one intl listener), and stderr, not a terminal
/// here, carries no ANSI colour codes.
#[test]
fn an_unserved_terminal_is_warned_about_and_stderr_has_no_colours() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_testhost"))
        .args(["--listen", "127.0.0.1:0", "--dialect", "intl"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let lines = startup(&mut stdout, 1);
    assert!(
        !lines.iter().any(|l| l.contains("20000001")),
        "an unserved terminal is not listed as served: {lines:?}"
    );
    stop(child, stdout);
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert!(
        err.contains(
            "testhost: warning: terminal 20000001 (dialect cup) not served: no cup listener"
        ),
        "{err}"
    );
    assert!(
        err.contains("WARN") && err.contains("terminal=20000001"),
        "{err}"
    );
    assert!(err.contains("INFO"), "the info lines are there: {err}");
    assert!(!err.contains('\u{1b}'), "no escape codes: {err:?}");
}
