//! What a terminal's session logs, against an in-process test host on 127.0.0.1 port 0 (new-user
//! finding 15): each command's span covers that command only, never the connection's reader
//! task, which outlives the command that connected; and check values are upper-case hex, the
//! form `testhost` and the demo print them in.

use std::io::Write;
use std::sync::{Arc, Mutex};

use iso8583_host::{Dialect, HostConfig, TestHost};
use posemu::{Command, DialectName, Profile, StateSource, Terminal, TerminalOptions};
use tracing_subscriber::fmt::MakeWriter;

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// One thread: the terminal, its connection's reader task and the host all log to this test's
/// subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_command_span_covers_that_command_only_and_check_values_are_hex() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    anchor_subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let host = TestHost::spawn(HostConfig::builtin().on_ephemeral_ports())
        .await
        .unwrap();
    let addr = host.addr(Dialect::UnionPay).unwrap().to_string();
    let profile = Profile::builtin(DialectName::Cup);
    let mut terminal = Terminal::new(
        profile,
        StateSource::memory(),
        &addr,
        TerminalOptions::default(),
    )
    .unwrap();
    terminal.power_on().await.unwrap();
    for line in ["sign_on", "sale 1.00", "sale 2.00"] {
        terminal.execute(&Command::parse(line).unwrap()).await;
    }
    let mac_kcv = terminal.key_check_values().1.unwrap();
    drop(terminal);
    host.shutdown().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let answers: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("response matched"))
        .collect();
    assert_eq!(answers.len(), 3, "one per request:\n{text}");
    for line in &answers {
        assert!(line.contains("connection{"), "{line}");
        assert!(
            !line.contains("command{"),
            "the reader is no command's: {line}"
        );
    }
    let sale = lines
        .iter()
        .filter(|l| l.contains("command=\"sale\""))
        .count();
    assert!(sale > 0, "the sales log under their own span:\n{text}");
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("command=\"sign_on\"")
                && (l.contains("stan=2") || l.contains("stan=3"))),
        "nothing of a sale under the sign-on's span:\n{text}"
    );

    // The host's sign-on line: mac_kcv=FA7784, as the terminal computes it, not a byte list.
    let kcv: String = text
        .split("mac_kcv=")
        .nth(1)
        .unwrap_or_else(|| panic!("no mac_kcv in\n{text}"))
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    assert_eq!(kcv, mac_kcv);
    assert!(
        kcv.len() == 6
            && kcv
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );
}

/// Keeps scoped log captures from going blind. `tracing` caches each callsite's interest once
/// for the whole process, asking the subscriber of whichever thread reaches the callsite
/// first; a sibling test's thread with no subscriber of its own would cache "never" and the
/// capturing test would see nothing (tokio-rs/tracing#3611). A global subscriber that is
/// interested in everything and writes nothing (a registry without layers) gives those
/// threads an answer of "always"; the capture itself stays thread-local.
fn anchor_subscriber() {
    static ANCHOR: std::sync::Once = std::sync::Once::new();
    ANCHOR.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}
