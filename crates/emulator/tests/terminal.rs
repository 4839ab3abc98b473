//! The terminal as a library, against an in-process test host on 127.0.0.1 port 0: MACs
//! loaded from an international profile, the transport tap, a host that cannot be reached,
//! and state kept in memory across a power cycle.

mod support;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use iso8583_crypto::{DesKey, MacAlgorithm};
use iso8583_host::{faults_from_toml, ConfigKey, Dialect, HostConfig, MacSetting, TestHost};
use iso8583_settle::Outcome;
use posemu::{
    outcome_word, Command, ConnInfo, DialectName, Direction, FrameTap, Notice, Profile, Shown,
    StateSource, Terminal, TerminalOptions,
};

const MAC_KEY: &str = "3D3D3D3D3D3D3D3D4C4C4C4C4C4C4C4C";

fn profile(dialect: DialectName, extra: &str) -> Profile {
    layered(dialect, support::TEST_PROFILE, extra)
}

/// [`profile`] with the short timeouts of a test whose host goes silent.
fn silent_host_profile(dialect: DialectName) -> Profile {
    layered(dialect, support::SILENT_HOST_PROFILE, "")
}

fn layered(dialect: DialectName, timeouts: &str, extra: &str) -> Profile {
    let layer: toml::Table = format!("{timeouts}{extra}").parse().unwrap();
    Profile::layered(Some(dialect), &[&layer]).unwrap()
}

async fn run(terminal: &mut Terminal, line: &str) -> posemu::Step {
    terminal.execute(&Command::parse(line).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn international_terminal_with_an_x919_mac_from_its_profile() {
    let mut config = HostConfig::builtin().on_ephemeral_ports();
    let intl = config
        .terminals
        .iter_mut()
        .find(|t| t.dialect == Dialect::International)
        .unwrap();
    intl.mac = MacSetting::Algorithm(MacAlgorithm::X919);
    intl.mac_key = Some(ConfigKey(DesKey::from_hex(MAC_KEY).unwrap()));
    let host = TestHost::spawn(config).await.unwrap();
    let addr = host.addr(Dialect::International).unwrap().to_string();

    let extra = format!("mac = \"x919\"\nmac_key = \"{MAC_KEY}\"\n");
    let p = profile(DialectName::Intl, &extra);
    let mut terminal =
        Terminal::new(p, StateSource::memory(), &addr, TerminalOptions::default()).unwrap();
    terminal.power_on().await.unwrap();
    let step = run(&mut terminal, "sale 12.50").await;
    // The host verified our field 64 (else A0) and we verified its answer (else a reversal).
    assert_eq!(outcome_word(&step), "approved", "{step:?}");
    assert_eq!(step.last_code(), Some("00"));
    let step = run(&mut terminal, "settle").await;
    assert_eq!(step.reports().count(), 1);

    // A terminal with another MAC key is refused (A0) and never keeps a sale.
    let wrong = format!("mac = \"x919\"\nmac_key = \"{}\"\n", "1C".repeat(16));
    let p = profile(DialectName::Intl, &wrong);
    let mut terminal =
        Terminal::new(p, StateSource::memory(), &addr, TerminalOptions::default()).unwrap();
    terminal.power_on().await.unwrap();
    let step = run(&mut terminal, "sale 30.00").await;
    assert_ne!(outcome_word(&step), "approved", "{step:?}");
    assert_eq!(terminal.status().records, 0);
}

#[derive(Default)]
struct Recorder {
    bytes: Mutex<Vec<(Direction, Vec<u8>)>>,
    events: Mutex<Vec<(&'static str, u64)>>,
}

impl FrameTap for Recorder {
    fn opened(&self, conn: &ConnInfo, _: SystemTime) {
        self.events.lock().unwrap().push(("opened", conn.id));
    }
    fn data(&self, _: &ConnInfo, direction: Direction, _: SystemTime, bytes: &[u8]) {
        self.bytes.lock().unwrap().push((direction, bytes.to_vec()));
    }
    fn closed(&self, conn: &ConnInfo, _: SystemTime) {
        self.events.lock().unwrap().push(("closed", conn.id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tap_sees_every_frame_of_every_connection() {
    let host = TestHost::spawn(HostConfig::builtin().on_ephemeral_ports())
        .await
        .unwrap();
    let addr = host.addr(Dialect::International).unwrap().to_string();
    let recorder = Arc::new(Recorder::default());
    let options = TerminalOptions {
        tap: Some(recorder.clone()),
        no_receipts: true,
    };
    let p = profile(DialectName::Intl, "");
    let mut terminal = Terminal::new(p, StateSource::memory(), &addr, options).unwrap();
    terminal.power_on().await.unwrap();
    let step = run(&mut terminal, "sale 12.50").await;
    assert_eq!(outcome_word(&step), "approved");
    assert!(step.printed.is_empty(), "no receipts were asked for");
    run(&mut terminal, "power_cycle").await;
    run(&mut terminal, "echo").await;
    drop(terminal);
    // The stream is dropped with the client's reader task, which stops shortly after.
    for _ in 0..100 {
        if recorder.events.lock().unwrap().len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let bytes = recorder.bytes.lock().unwrap().clone();
    let sent: Vec<u8> = bytes
        .iter()
        .filter(|(d, _)| *d == Direction::Sent)
        .flat_map(|(_, b)| b.clone())
        .collect();
    let received: Vec<u8> = bytes
        .iter()
        .filter(|(d, _)| *d == Direction::Received)
        .flat_map(|(_, b)| b.clone())
        .collect();
    // 2-byte length, then TPDU 60 0003 0000, then the 0200 (BCD MTI).
    let len = usize::from(u16::from_be_bytes([sent[0], sent[1]]));
    assert_eq!(&sent[2..7], &[0x60, 0x00, 0x03, 0x00, 0x00]);
    assert_eq!(&sent[7..9], &[0x02, 0x00]);
    // The answer comes back with the TPDU's addresses swapped.
    assert_eq!(&received[2..7], &[0x60, 0x00, 0x00, 0x00, 0x03]);
    assert_eq!(&received[7..9], &[0x02, 0x10]);
    // Two connections (the power cycle dropped the first), each opened and closed.
    assert!(
        sent.len() > len + 2,
        "the echo went on the second connection"
    );
    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(
        events,
        [("opened", 1), ("closed", 1), ("opened", 2), ("closed", 2)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_loses_nothing() {
    let (_refusing, addr) = support::refused_addr();
    let p = profile(DialectName::Intl, "");
    let mut terminal =
        Terminal::new(p, StateSource::memory(), &addr, TerminalOptions::default()).unwrap();
    terminal.power_on().await.unwrap();
    let step = run(&mut terminal, "sale 12.50").await;
    assert!(step
        .unreachable
        .as_deref()
        .is_some_and(|w| w.contains(&addr)));
    assert!(step.prompts.contains(&Shown::Local(Notice::Unreachable)));
    // Finding 13: no connection could be opened, so the 0200 never left: the reversal stored
    // before it (DESIGN §5, "Write-ahead order") is dropped and nothing is pending.
    assert_eq!(outcome_word(&step), "not_sent");
    assert!(matches!(
        step.outcomes.last(),
        Some(Outcome::HostUnreachable { trace: 1, .. })
    ));
    assert_eq!(terminal.status().reversal, None);
    assert_eq!(terminal.status().records, 0);
}

/// A reversal pending from a request that may have reached the host stays pending while the
/// host cannot be reached, and keeps the next sale from leaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_keeps_a_pending_reversal() {
    let mut config = HostConfig::builtin().on_ephemeral_ports();
    let silent = "[[faults]]\nmti = \"0200\"\naction = \"no_answer\"\n\
                  [[faults]]\nmti = \"0400\"\naction = \"no_answer\"\n";
    config.faults = faults_from_toml(silent).unwrap();
    let host = TestHost::spawn(config).await.unwrap();
    let addr = host.addr(Dialect::International).unwrap().to_string();
    let state = StateSource::memory();
    let p = silent_host_profile(DialectName::Intl);
    let mut terminal =
        Terminal::new(p.clone(), state.clone(), &addr, TerminalOptions::default()).unwrap();
    terminal.power_on().await.unwrap();
    let step = run(&mut terminal, "sale 12.50").await;
    assert_eq!(outcome_word(&step), "reversed", "{step:?}");
    assert_eq!(terminal.status().reversal, Some(1));
    drop(terminal);

    // The same terminal (its state) now finds no host at all.
    let (_refusing, closed) = support::refused_addr();
    let mut terminal = Terminal::new(p, state, &closed, TerminalOptions::default()).unwrap();
    terminal.power_on().await.unwrap();
    assert_eq!(terminal.status().reversal, Some(1));
    let step = run(&mut terminal, "sale 5.00").await;
    assert_eq!(outcome_word(&step), "not_sent");
    assert!(matches!(
        step.outcomes.last(),
        Some(Outcome::NotSent {
            reversal_trace: 1,
            ..
        })
    ));
    let reversal = terminal.engine().unwrap().pending_reversal().unwrap();
    assert_eq!((reversal.trace, reversal.tries), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_state_survives_a_power_cycle() {
    let host = TestHost::spawn(HostConfig::builtin().on_ephemeral_ports())
        .await
        .unwrap();
    let addr = host.addr(Dialect::UnionPay).unwrap().to_string();
    let p = profile(DialectName::Cup, "");
    let mut terminal =
        Terminal::new(p, StateSource::memory(), &addr, TerminalOptions::default()).unwrap();
    terminal.power_on().await.unwrap();
    run(&mut terminal, "sign_on").await;
    let (pin, mac) = terminal.key_check_values();
    assert_eq!(
        (pin.map(|k| k.len()), mac.map(|k| k.len())),
        (Some(6), Some(6))
    );
    run(&mut terminal, "sale 12.50 card=cup-chip").await;
    run(&mut terminal, "sale 7.00 card=cup-swipe").await;
    let step = run(&mut terminal, "status").await;
    let status = step.status.unwrap();
    assert_eq!(
        (status.records, status.total("debit")),
        (2, Some((2, 1950)))
    );

    run(&mut terminal, "power_cycle").await;
    assert_eq!(terminal.status().records, 2);
    assert_eq!(
        terminal.key_check_values(),
        (None, None),
        "working keys are in RAM only"
    );
    assert!(!terminal.signed_on());
    let step = run(&mut terminal, "reprint").await;
    let text = posemu::print::printed_text(&step.printed[0], terminal.profile());
    assert!(
        text.contains("REPRINT") && text.contains("CNY 7.00"),
        "{text}"
    );
    let step = run(&mut terminal, "reprint settlement").await;
    assert!(step.prompts.contains(&Shown::Local(Notice::NoSlipToPrint)));
    let text = posemu::print::prompt_text(&step.prompts[0], DialectName::Intl);
    assert_eq!(text, "NO SETTLEMENT SLIP TO REPRINT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_before_any_request_sends_nothing() {
    let host = TestHost::spawn(HostConfig::builtin().on_ephemeral_ports())
        .await
        .unwrap();
    let addr = host.addr(Dialect::International).unwrap().to_string();
    let p = profile(DialectName::Intl, "");
    let mut terminal =
        Terminal::new(p, StateSource::memory(), &addr, TerminalOptions::default()).unwrap();
    terminal.power_on().await.unwrap();
    let step = run(&mut terminal, "resend").await;
    assert!(step.exchanges.is_empty());
    assert!(step
        .prompts
        .contains(&Shown::Local(Notice::NothingToResend)));
    // After a sale, the resend is the same 0200, answered 94, and the batch is unchanged.
    run(&mut terminal, "sale 3.00").await;
    let step = run(&mut terminal, "resend").await;
    assert_eq!(
        step.sent()
            .map(|m| m.as_str().to_owned())
            .collect::<Vec<_>>(),
        ["0200"]
    );
    assert_eq!(step.last_code(), Some("94"));
    assert!(step.outcomes.is_empty(), "the engine was not given the 94");
    assert_eq!(terminal.status().records, 1);
    assert_eq!(terminal.status().reversal, None);
}
