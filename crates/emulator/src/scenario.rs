//! Scenario files: a list of terminal commands, each with optional expectations, plus an
//! optional profile override and an optional `[host]` section for an in-process test host.
//!
//! ```toml
//! name = "storage full refuses locally"   # default: the file name
//! dialect = "intl"                        # the built-in profile to start from: intl | cup
//!
//! [profile]                               # profile keys to override
//! capacity = 3
//! warn_at = 2
//!
//! [host]                                  # iso8583-host config (faults, rules); only an
//! [[host.faults]]                         # in-process host applies it: `posemu run` against
//! mti = "0500"                            # another host ignores it
//! action = "respond"
//! code = "95"
//!
//! [[step]]
//! run = "sale 12.50 card=visa-swipe"
//! repeat = 3                              # expectations are checked on the last run
//! expect = { outcome = "approved", sent = ["0200"], records = 3 }
//!
//! [[step]]
//! run = "settle"
//! host = { batch = 5 }                    # applied by an in-process host before the step
//! ```
//!
//! Every command and expectation is read and checked when the file is loaded, so a mistake is
//! a scenario error (exit 2) before anything is sent. The keys `expect` takes are those of
//! [`Expect`]; `crates/emulator/README.md` documents them with examples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::amount::parse_amount;
use crate::command::Command;
use crate::error::{ProfileError, ScenarioError};
use crate::profile::{DialectName, Profile};

/// A loaded, checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// What it shows.
    pub description: Option<String>,
    /// The built-in profile it starts from.
    pub dialect: DialectName,
    /// Profile keys it overrides.
    pub profile: toml::Table,
    /// The `[host]` section, for an in-process test host (`iso8583-host` config format).
    pub host: Option<toml::Table>,
    /// The steps, in order.
    pub steps: Vec<ScenarioStep>,
}

/// One step.
#[derive(Debug, Clone)]
pub struct ScenarioStep {
    /// The command as written.
    pub run: String,
    /// The command.
    pub command: Command,
    /// How many times to run it.
    pub repeat: u32,
    /// What must hold after its last run.
    pub expect: Expect,
    /// Totals expectations, read from `expect.totals`.
    pub totals: Vec<TotalCheck>,
    /// A change to an in-process test host, applied just before the step runs (the `[host]`
    /// format, and `batch`: the host's batch number for the terminal).
    pub host: Option<toml::Table>,
}

/// One totals expectation: `sale_count = 3` or `sale_amount = "37.50"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalCheck {
    /// `SALE`, `REFUND` (international) or `DEBIT`, `CREDIT` (UnionPay, both card groups).
    pub label: &'static str,
    /// The count (`false`) or the amount (`true`).
    pub amount: bool,
    /// The value, in minor units for an amount.
    pub value: u64,
}

/// One string or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings.
    pub fn items(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// What must hold after a step; every key is optional. Amounts are written `"12.50"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The last response code received in the step, or `none` when nothing was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Every response code received, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<String>>,
    /// How the request ended: `approved`, `queued`, `declined`, `reversed`, `refused` (locally,
    /// nothing sent), `not_sent` (blocked by a pending reversal, or no connection to the host
    /// could be opened) or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Text each of which some prompt of the step contains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<OneOrMany>,
    /// Text no prompt of the step contains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_prompt: Option<OneOrMany>,
    /// The request MTIs sent, exactly and in order; `"0320*8"` stands for eight 0320s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Vec<String>>,
    /// UnionPay: field 60.3 of each request sent, in order (`201` reconciliation and grouped
    /// uploads, `203`/`205` chip uploads, `207`/`202` the closing 0320).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_codes: Option<Vec<String>>,
    /// The reason code (field 39) of the reversal the step's request ended in: `98`, `A0`
    /// or `06`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversal_reason: Option<String>,
    /// The open batch number after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// Records in the batch log after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<usize>,
    /// Settlement slips printed in the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slips: Option<usize>,
    /// Text each of which the step's settlement slip contains; runs of spaces count as one, so
    /// `"SALE 1 10.00"` finds the padded slip line `  SALE          1          10.00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slip: Option<OneOrMany>,
    /// Text each of which a receipt (or other printout) of the step contains (runs of spaces
    /// count as one, as for `slip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<OneOrMany>,
    /// Totals of the open batch after the step: `sale_count`, `sale_amount`, `refund_count`,
    /// `refund_amount` (international) or `debit_*`, `credit_*` (UnionPay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<BTreeMap<String, toml::Value>>,
    /// A reversal is pending after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversal_pending: Option<bool>,
    /// A settlement is pending (sales blocked) after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_pending: Option<bool>,
    /// The terminal may transact (signed on, or needs no sign-on) after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_on: Option<bool>,
    /// The terminal lost power during the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_lost: Option<bool>,
}

impl Expect {
    /// True when nothing is expected.
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    dialect: Option<DialectName>,
    #[serde(default)]
    profile: toml::Table,
    host: Option<toml::Table>,
    #[serde(default)]
    step: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    run: String,
    #[serde(default = "one")]
    repeat: u32,
    #[serde(default)]
    expect: Expect,
    host: Option<toml::Table>,
}

fn one() -> u32 {
    1
}

impl Scenario {
    /// Reads and checks the scenario file at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_owned(),
            source,
        })?;
        Scenario::from_toml_str(&text, path)
    }

    /// Reads and checks a scenario; `path` names it in errors and gives its default name.
    pub fn from_toml_str(text: &str, path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref().to_owned();
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Toml {
            path: path.clone(),
            message: toml_message(text, &e),
        })?;
        if raw.step.is_empty() {
            return Err(ScenarioError::Empty { path });
        }
        let dialect = raw.dialect.unwrap_or(DialectName::Intl);
        let mut steps = Vec::with_capacity(raw.step.len());
        for (i, step) in raw.step.into_iter().enumerate() {
            steps.push(read_step(&path, i + 1, step, dialect)?);
        }
        let scenario = Scenario {
            name: raw.name.unwrap_or_else(|| stem(&path)),
            description: raw.description,
            dialect,
            profile: raw.profile,
            host: raw.host,
            steps,
            path,
        };
        scenario.profile_with(None)?;
        Ok(scenario)
    }

    /// The profile the scenario runs with: its dialect's built-in, then `layer` (a `--profile`
    /// file), then the scenario's own `[profile]`.
    pub fn profile_with(&self, layer: Option<&toml::Table>) -> Result<Profile, ScenarioError> {
        let mut layers: Vec<&toml::Table> = layer.into_iter().collect();
        layers.push(&self.profile);
        Profile::layered(Some(self.dialect), &layers).map_err(|source| self.profile_error(source))
    }

    /// True when the scenario has a `[host]` section or a step with a `host` table: parts an
    /// in-process test host applies and another host ignores.
    pub fn uses_host(&self) -> bool {
        self.host.is_some() || self.steps.iter().any(|s| s.host.is_some())
    }

    fn profile_error(&self, source: ProfileError) -> ScenarioError {
        ScenarioError::Profile {
            path: self.path.clone(),
            source,
        }
    }
}

/// The parser's message with its line number, without the quoted source line: a scenario's
/// `[profile]` (or a profile file) may hold a key, which must not be printed.
pub(crate) fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(0, |t| t.matches('\n').count())
                + 1;
            format!("line {line}: {message}")
        }
        None => message.to_owned(),
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into())
}

fn read_step(
    path: &Path,
    n: usize,
    raw: RawStep,
    dialect: DialectName,
) -> Result<ScenarioStep, ScenarioError> {
    let command = Command::parse(&raw.run).map_err(|source| ScenarioError::Step {
        path: path.to_owned(),
        step: n,
        source,
    })?;
    let bad = |key: &'static str, why: String| ScenarioError::Expectation {
        path: path.to_owned(),
        step: n,
        key,
        why,
    };
    if raw.repeat == 0 || raw.repeat > 10_000 {
        return Err(bad("repeat", format!("{} is not 1 to 10000", raw.repeat)));
    }
    check_values(&raw.expect).map_err(|(key, why)| bad(key, why))?;
    let totals = match &raw.expect.totals {
        None => Vec::new(),
        Some(map) => read_totals(map, dialect).map_err(|why| bad("totals", why))?,
    };
    Ok(ScenarioStep {
        run: raw.run,
        command,
        repeat: raw.repeat,
        expect: raw.expect,
        totals,
        host: raw.host,
    })
}

/// The outcome words [`Expect::outcome`] takes.
pub const OUTCOMES: [&str; 7] = [
    "approved", "queued", "declined", "reversed", "refused", "not_sent", "none",
];

fn check_values(e: &Expect) -> Result<(), (&'static str, String)> {
    if let Some(outcome) = &e.outcome {
        if !OUTCOMES.contains(&outcome.as_str()) {
            return Err(("outcome", format!("{outcome:?} is not one of {OUTCOMES:?}")));
        }
    }
    for (key, code) in e
        .code
        .iter()
        .map(|c| ("code", c))
        .chain(e.codes.iter().flatten().map(|c| ("codes", c)))
    {
        let ok = code == "none" && key == "code"
            || code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err((
                key,
                format!("{code:?} is not a two-character response code"),
            ));
        }
    }
    if let Some(sent) = &e.sent {
        for mti in sent {
            expand_mti(mti).ok_or(("sent", format!("{mti:?} is not an MTI or MTI*N")))?;
        }
    }
    Ok(())
}

/// `"0320*8"` as eight `"0320"`s; `None` when it is not four digits with an optional count.
pub fn expand_mti(text: &str) -> Option<Vec<String>> {
    let (mti, count) = match text.split_once('*') {
        Some((mti, n)) => (
            mti,
            n.parse::<usize>().ok().filter(|n| (1..=999).contains(n))?,
        ),
        None => (text, 1),
    };
    (mti.len() == 4 && mti.bytes().all(|b| b.is_ascii_digit())).then(|| vec![mti.to_owned(); count])
}

fn read_totals(
    map: &BTreeMap<String, toml::Value>,
    dialect: DialectName,
) -> Result<Vec<TotalCheck>, String> {
    let labels: &[&'static str] = match dialect {
        DialectName::Intl => &["SALE", "REFUND"],
        DialectName::Cup => &["DEBIT", "CREDIT"],
    };
    let mut checks = Vec::new();
    for (key, value) in map {
        let (label, part) = key
            .rsplit_once('_')
            .ok_or_else(|| format!("{key:?} is not LABEL_count or LABEL_amount"))?;
        let label = labels
            .iter()
            .find(|l| l.eq_ignore_ascii_case(label))
            .ok_or_else(|| format!("{key:?}: {dialect} totals are {labels:?}"))?;
        let (amount, value) = match (part, value) {
            ("count", toml::Value::Integer(n)) if *n >= 0 => (false, *n as u64),
            ("amount", toml::Value::String(s)) => (
                true,
                parse_amount(s).ok_or_else(|| format!("{key} = {s:?} is not an amount"))?,
            ),
            _ => {
                return Err(format!(
                    "{key}: a count is a number, an amount a string like \"12.50\""
                ))
            }
        };
        checks.push(TotalCheck {
            label,
            amount,
            value,
        });
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_toml_str(text, "t.toml")
    }

    #[test]
    fn reads_a_full_scenario() {
        let s = load(
            r#"
            dialect = "cup"
            [profile]
            capacity = 3
            warn_at = 2
            [host]
            seed = 1
            [[host.faults]]
            mti = "0500"
            action = "out_of_balance"
            [[step]]
            run = "sign_on"
            [[step]]
            run = "sale 1.00"
            repeat = 3
            expect = { prompt = "STORAGE FULL", records = 3, totals = { debit_count = 3, debit_amount = "3.00" } }
            [[step]]
            run = "settle"
            expect = { sent = ["0500", "0320", "0320"], slip = ["BATCH 000001 CLOSED"] }
            "#,
        )
        .unwrap();
        assert_eq!(s.name, "t");
        assert_eq!(s.dialect, DialectName::Cup);
        assert_eq!(s.steps.len(), 3);
        assert_eq!(s.steps[1].repeat, 3);
        assert_eq!(s.steps[1].totals.len(), 2);
        assert!(s.host.as_ref().unwrap().contains_key("faults"));
        assert_eq!(s.profile_with(None).unwrap().capacity, 3);
    }

    #[test]
    fn mistakes_are_scenario_errors() {
        let err = |text: &str| load(text).unwrap_err().to_string();
        assert!(err("").contains("no [[step]]"));
        assert!(err("[[step]]\nrun = \"dance\"").contains("step 1"));
        assert!(err("[[step]]\nrun = \"echo\"\nexpect = { colour = 1 }").contains("colour"));
        assert!(
            err("[[step]]\nrun = \"echo\"\nexpect = { outcome = \"fine\" }").contains("outcome")
        );
        assert!(err("[[step]]\nrun = \"echo\"\nexpect = { code = \"000\" }").contains("code"));
        assert!(err("[[step]]\nrun = \"echo\"\nexpect = { sent = [\"08\"] }").contains("sent"));
        assert!(
            err("[[step]]\nrun = \"echo\"\nexpect = { totals = { debit_count = 1 } }")
                .contains("totals")
        );
        assert!(err("[profile]\ncapacity = 0\n[[step]]\nrun = \"echo\"").contains("capacity"));
        assert!(
            err("dialect = \"xx\"\n[[step]]\nrun = \"echo\"").contains("line 1: unknown variant")
        );
        assert!(err("[[step]]\nrun = \"echo\"\nrepeat = 0").contains("repeat"));
    }

    #[test]
    fn toml_errors_name_the_line_but_quote_nothing() {
        let text =
            "[profile]\nmaster_key = \"0123456789ABCDEFFEDCBA98765432\n[[step]]\nrun = \"echo\"";
        let err = load(text).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("0123456789"), "{err}");
    }

    #[test]
    fn mti_counts_expand() {
        assert_eq!(expand_mti("0320*3").unwrap().len(), 3);
        assert_eq!(expand_mti("0200").unwrap(), vec!["0200".to_owned()]);
        assert!(expand_mti("0320*0").is_none());
        assert!(expand_mti("032").is_none());
    }
}
