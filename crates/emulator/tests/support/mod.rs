//! Test support: run a scenario file of `examples/scenarios/` against an in-process test host
//! on 127.0.0.1 port 0, with its `[host]` section applied and short timeouts, and show every
//! step on stderr (cargo shows it when a test fails).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use iso8583_host::{Dialect, HostConfig, HostPatch, TestHost};
use posemu::{run_scenario, step_lines, DialectName, RunOptions, Scenario, ScenarioResult};
use serde::Deserialize;

/// Short timeouts, so that the faults that make a host silent cost little time (issue #6:
/// the suite stays under about two minutes on two cores).
pub const TEST_PROFILE: &str = "response_timeout_ms = 500\nconnect_timeout_ms = 2000\n";

/// The repository's scenario directory.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios")
}

/// The short-timeout profile layer.
pub fn test_layer() -> toml::Table {
    TEST_PROFILE.parse().unwrap()
}

pub fn host_dialect(d: DialectName) -> Dialect {
    match d {
        DialectName::Intl => Dialect::International,
        DialectName::Cup => Dialect::UnionPay,
    }
}

/// A built-in test host on port 0 with the scenario's `[host]` section applied.
pub async fn host_for(scenario: &Scenario) -> TestHost {
    let host = TestHost::spawn(HostConfig::builtin().on_ephemeral_ports())
        .await
        .unwrap();
    if let Some(table) = &scenario.host {
        let patch = HostPatch::deserialize(toml::Value::Table(table.clone()))
            .unwrap_or_else(|e| panic!("{}: [host]: {e}", scenario.path.display()));
        host.apply(patch);
    }
    host
}

/// A scenario run with the host it ran against.
pub struct Run {
    pub result: ScenarioResult,
    pub host: TestHost,
}

/// Runs `examples/scenarios/<name>` against its own test host.
pub async fn run_file(name: &str) -> Run {
    let scenario = Scenario::load(&scenarios_dir().join(name)).unwrap();
    run_loaded(&scenario).await
}

pub async fn run_loaded(scenario: &Scenario) -> Run {
    let host = host_for(scenario).await;
    let addr = host.addr(host_dialect(scenario.dialect)).unwrap();
    let options = RunOptions {
        host: addr.to_string(),
        profile: Some(test_layer()),
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
