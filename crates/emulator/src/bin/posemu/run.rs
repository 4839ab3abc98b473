//! `posemu run`: scenario files against a host, for CI (DESIGN §7).
//!
//! Every file is read and checked before anything is sent: a bad file is exit 2, and a profile
//! (`--profile FILE`) that cannot work with a scenario is reported against the profile file and
//! its line. Scenarios then run in order, each on a fresh terminal; the first host that cannot
//! be reached ends the run with exit 3. Otherwise the exit code is 1 when any expectation
//! failed, else 0. With `--json`, stdout carries one JSON object per scenario and nothing else.
//!
//! One invocation is one physical terminal per terminal id, running the scenarios in turn: each
//! fresh terminal starts its trace numbers after the last one the previous scenario of that id
//! sent, so that a host's duplicate rule (DESIGN §6) does not fire on the next scenario. Batch
//! numbers start as each scenario's profile says.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use posemu::{
    run_scenario, step_lines, FrameTap, ProfileFile, RunOptions, Scenario, ScenarioError,
    ScenarioResult,
};

use crate::out::{note, say};

pub(crate) struct Args {
    pub host: String,
    pub profile: Option<PathBuf>,
    pub json: bool,
    pub state: Option<PathBuf>,
    pub scenarios: Vec<PathBuf>,
    pub tap: Option<Arc<dyn FrameTap>>,
}

pub(crate) async fn run(args: Args) -> u8 {
    let (scenarios, layer) = match load(&args) {
        Ok(loaded) => loaded,
        Err(why) => {
            note(format_args!("posemu run: {why}"));
            return 2;
        }
    };
    let options = RunOptions {
        host: args.host.clone(),
        profile: layer,
        state: args.state.clone(),
        tap: args.tap.clone(),
        host_hook: None,
        first_trace: None,
    };
    let mut worst = 0;
    let (mut passed, mut failed) = (0, 0);
    let mut traces: HashMap<String, u32> = HashMap::new();
    for scenario in &scenarios {
        let terminal = terminal_id(scenario, &options);
        let options = RunOptions {
            first_trace: traces.get(&terminal).copied(),
            ..options.clone()
        };
        let result = match one(scenario, &options, args.json).await {
            Ok(result) => result,
            Err(why) => {
                note(format_args!(
                    "posemu run: {}: {why}",
                    scenario.path.display()
                ));
                return 2;
            }
        };
        traces.insert(terminal, result.next_trace);
        passed += result.passed();
        failed += result.failed();
        worst = worst.max(result.exit_code());
        if result.exit_code() == 3 {
            break;
        }
    }
    if !args.json {
        say(format_args!(
            "total: {passed} step(s) passed, {failed} failed"
        ));
    }
    worst
}

/// Runs one scenario, printing its steps as they finish (text) or its object at the end.
async fn one(
    scenario: &Scenario,
    options: &RunOptions,
    json: bool,
) -> Result<ScenarioResult, String> {
    if scenario.uses_host() {
        note(format_args!(
            "note: {}: [host] and step host tables apply to an in-process test host only; \
             ignored against {}",
            scenario.path.display(),
            options.host
        ));
    }
    if !json {
        say(format_args!(
            "scenario {} ({})",
            scenario.name,
            scenario.path.display()
        ));
    }
    tracing::info!(scenario = %scenario.name, host = %options.host, "scenario started");
    let result = run_scenario(scenario, options, |step, profile| {
        crate::out::lifecycle(&step.step);
        if !json {
            for line in step_lines(step, profile) {
                say(line);
            }
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!(
        scenario = %result.name,
        passed = result.passed(),
        failed = result.failed(),
        unreachable = result.unreachable.is_some(),
        "scenario finished"
    );
    report(&result, json);
    Ok(result)
}

/// The terminal id a scenario runs as (its profile was checked when it was loaded).
fn terminal_id(scenario: &Scenario, options: &RunOptions) -> String {
    scenario
        .profile_with(options.profile.as_ref())
        .map(|p| p.terminal_id)
        .unwrap_or_default()
}

fn load(args: &Args) -> Result<(Vec<Scenario>, Option<toml::Table>), String> {
    let file = crate::profile_file(&args.profile)?;
    let mut scenarios = Vec::with_capacity(args.scenarios.len());
    for path in &args.scenarios {
        let scenario = Scenario::load(path).map_err(|e| e.to_string())?;
        if let Some(file) = &file {
            check_layer(&scenario, file)?;
        }
        scenarios.push(scenario);
    }
    Ok((scenarios, file.map(|f| f.table().clone())))
}

/// The profile file over the scenario's profile. The scenario's own profile was checked alone
/// when it was loaded, so a refusal now is the file's: it is reported against the file.
fn check_layer(scenario: &Scenario, file: &ProfileFile) -> Result<(), String> {
    match scenario.profile_with(Some(file.table())) {
        Ok(_) => Ok(()),
        Err(ScenarioError::Profile { source, .. }) => Err(format!(
            "{} (the profile of {} with this file)",
            file.blame(source),
            scenario.path.display()
        )),
        Err(other) => Err(other.to_string()),
    }
}

fn report(result: &ScenarioResult, json: bool) {
    if json {
        say(result.to_json());
        return;
    }
    if let Some(why) = &result.unreachable {
        say(format_args!("{}: host unreachable: {why}", result.name));
    }
    say(format_args!(
        "{}: {} step(s) passed, {} failed",
        result.name,
        result.passed(),
        result.failed()
    ));
}
