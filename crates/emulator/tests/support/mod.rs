//! Test support: run a scenario file of `examples/scenarios/` against an in-process test host
//! on 127.0.0.1 port 0, with its `[host]` section applied and timeouts to suit it (short only
//! where the host goes silent), and show every step on stderr (cargo shows it when a test
//! fails).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use iso8583_host::{Dialect, HostConfig, HostPatch, TestHost, VoidPolicy};
use posemu::{
    run_scenario, step_lines, DialectName, HostHook, RunOptions, Scenario, ScenarioResult,
};
use serde::Deserialize;

/// Timeouts for a host that answers everything: long, so that a stall of a loaded machine is
/// never taken for a silent host (under load, a 500 ms wait once turned one sale in 1,600
/// into a timeout and its reversal, failing a test that expected it approved).
pub const TEST_PROFILE: &str = "response_timeout_ms = 10000\nconnect_timeout_ms = 2000\n";

/// Timeouts for tests that make the host silent: each silence costs the whole wait, so it is
/// short (issue #6: the suite stays under about two minutes on two cores), yet three times the
/// 500 ms that a loaded machine once took to answer, for the messages these tests expect
/// answered.
pub const SILENT_HOST_PROFILE: &str = "response_timeout_ms = 1500\nconnect_timeout_ms = 2000\n";

/// Host faults after which the terminal waits out its response timeout.
pub const SILENT_FAULTS: [&str; 3] = ["no_answer", "delay", "wrong_trace"];

/// The repository's scenario directory.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios")
}

/// The profile layer of a host that answers everything.
pub fn test_layer() -> toml::Table {
    TEST_PROFILE.parse().unwrap()
}

/// The profile layer of a host that goes silent.
pub fn silent_host_layer() -> toml::Table {
    SILENT_HOST_PROFILE.parse().unwrap()
}

/// The profile layer for `scenario`: short timeouts when its `[host]` section or a step's
/// `host` table injects a fault that leaves the terminal waiting, long ones otherwise.
pub fn layer_for(scenario: &Scenario) -> toml::Table {
    let tables = scenario
        .host
        .iter()
        .chain(scenario.steps.iter().filter_map(|s| s.host.as_ref()));
    let silent = tables.into_iter().any(has_silent_fault);
    match silent {
        true => silent_host_layer(),
        false => test_layer(),
    }
}

/// True when `table` holds, at any depth, an `action` naming one of [`SILENT_FAULTS`].
fn has_silent_fault(table: &toml::Table) -> bool {
    fn silent(value: &toml::Value) -> bool {
        match value {
            toml::Value::Table(t) => has_silent_fault(t),
            toml::Value::Array(items) => items.iter().any(silent),
            _ => false,
        }
    }
    table.iter().any(|(key, value)| {
        let named = key == "action" && value.as_str().is_some_and(|a| SILENT_FAULTS.contains(&a));
        named || silent(value)
    })
}

/// An address on loopback where a connection is refused: the socket is bound but never
/// listens, so no test host started meanwhile can be given its port while it lives.
pub fn refused_addr() -> (tokio::net::TcpSocket, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    (socket, addr)
}

pub fn host_dialect(d: DialectName) -> Dialect {
    match d {
        DialectName::Intl => Dialect::International,
        DialectName::Cup => Dialect::UnionPay,
    }
}

/// A built-in test host on port 0 with the scenario's `[host]` section applied. Its
/// `void_policy` (`drop` or `refund`, the host's own words) is how the host counts a voided
/// international sale: set before the host starts, for every terminal.
pub async fn host_for(scenario: &Scenario) -> Arc<TestHost> {
    let mut config = HostConfig::builtin().on_ephemeral_ports();
    let mut table = scenario.host.clone();
    if let Some(policy) = table.as_mut().and_then(|t| t.remove("void_policy")) {
        let policy = VoidPolicy::deserialize(policy)
            .unwrap_or_else(|e| panic!("{}: [host] void_policy: {e}", scenario.path.display()));
        for terminal in &mut config.terminals {
            terminal.void_policy = policy;
        }
    }
    let host = Arc::new(TestHost::spawn(config).await.unwrap());
    if let Some(table) = &table {
        apply(&host, &terminal_of(scenario), table)
            .unwrap_or_else(|e| panic!("{}: [host]: {e}", scenario.path.display()));
    }
    host
}

/// The terminal id the scenario runs with.
fn terminal_of(scenario: &Scenario) -> String {
    scenario
        .profile_with(Some(&layer_for(scenario)))
        .unwrap()
        .terminal_id
}

/// Applies a `[host]` section or a step's `host` table: `batch` sets the host's batch number
/// for the scenario's terminal; `rules` and `faults` are the host's own format, and replace
/// the host's when present.
pub fn apply(host: &TestHost, terminal: &str, table: &toml::Table) -> Result<(), String> {
    let mut table = table.clone();
    if let Some(batch) = table.remove("batch") {
        let batch = batch
            .as_integer()
            .and_then(|b| u32::try_from(b).ok())
            .ok_or("batch: expected a batch number")?;
        if !host.set_batch(terminal, batch) {
            return Err(format!("batch: the host does not know terminal {terminal}"));
        }
    }
    if table.contains_key("void_policy") {
        return Err("void_policy: the host starts with it, so only [host] takes it".into());
    }
    if table.is_empty() {
        return Ok(());
    }
    let patch = HostPatch::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string())?;
    host.apply(patch);
    Ok(())
}

/// A scenario run with the host it ran against.
pub struct Run {
    pub result: ScenarioResult,
    pub host: Arc<TestHost>,
}

/// Runs `examples/scenarios/<name>` against its own test host.
pub async fn run_file(name: &str) -> Run {
    let scenario = Scenario::load(&scenarios_dir().join(name)).unwrap();
    run_loaded(&scenario).await
}

pub async fn run_loaded(scenario: &Scenario) -> Run {
    let host = host_for(scenario).await;
    let addr = host.addr(host_dialect(scenario.dialect)).unwrap();
    let hook_host = host.clone();
    let terminal = terminal_of(scenario);
    let hook: HostHook = Arc::new(move |table| apply(&hook_host, &terminal, table));
    let options = RunOptions {
        host: addr.to_string(),
        profile: Some(layer_for(scenario)),
        host_hook: Some(hook),
        ..RunOptions::default()
    };
    eprintln!("scenario {} ({})", scenario.name, scenario.path.display());
    let result = run_scenario(scenario, &options, |step, profile| {
        for line in step_lines(step, profile) {
            eprintln!("{line}");
        }
    })
    .await
    .unwrap();
    Run { result, host }
}

/// Runs the scenario and fails the test unless every expectation held.
pub async fn passes(name: &str) -> Run {
    let run = run_file(name).await;
    let r = &run.result;
    assert!(r.unreachable.is_none(), "{name}: host unreachable");
    assert_eq!(
        r.failed(),
        0,
        "{name}: {} step(s) failed (see stderr)",
        r.failed()
    );
    assert!(!r.steps.is_empty());
    run
}
