//! Every kind of expectation can fail: one scenario runs against an in-process host, then
//! each `expect` key is checked against what its step really did, once with the right value
//! (it holds) and once with a wrong one (exactly that check fails).

mod support;

use posemu::{check, Scenario, ScenarioStep};

const BASE: &str = r#"
name = "every expectation"
dialect = "cup"

[[host.faults]]
mti = "0200"
amount = "3.00"
action = "no_answer"
times = 1

[[step]]
run = "sign_on"
[[step]]
run = "sale 12.50 card=cup-swipe"
[[step]]
run = "sale 3.00"
[[step]]
run = "settle"
[[step]]
run = "power_loss after_writes=0"
[[step]]
run = "sign_on"
[[step]]
run = "sale 1.00"
"#;

/// (step number, key, a value that holds, a value that does not).
const CASES: &[(usize, &str, &str, &str)] = &[
    (2, "code", r#""00""#, r#""05""#),
    (4, "codes", r#"["00", "00"]"#, r#"["00"]"#),
    (2, "outcome", r#""approved""#, r#""declined""#),
    (1, "prompt", r#""SIGN ON OK""#, r#""ECHO OK""#),
    (1, "no_prompt", r#""ECHO""#, r#""SIGN ON""#),
    (4, "sent", r#"["0500", "0320"]"#, r#"["0500"]"#),
    (4, "network_codes", r#"["201", "207"]"#, r#"["201", "202"]"#),
    (3, "reversal_reason", r#""98""#, r#""A0""#),
    (4, "batch", "2", "1"),
    (2, "records", "1", "2"),
    (4, "slips", "1", "0"),
    (
        4,
        "slip",
        r#""BATCH 000001 CLOSED""#,
        r#""BATCH 000002 CLOSED""#,
    ),
    (2, "receipt", r#""CNY 12.50""#, r#""CNY 12.51""#),
    (
        2,
        "totals",
        r#"{ debit_amount = "12.50" }"#,
        r#"{ debit_amount = "12.00" }"#,
    ),
    (3, "reversal_pending", "false", "true"),
    (4, "settlement_pending", "false", "true"),
    (1, "signed_on", "true", "false"),
    // The sign-on after the armed power cut stores its trace number: the first write.
    (6, "power_lost", "true", "false"),
];

fn spec(key: &str, value: &str) -> ScenarioStep {
    let text =
        format!("dialect = \"cup\"\n[[step]]\nrun = \"echo\"\nexpect = {{ {key} = {value} }}");
    let mut scenario = Scenario::from_toml_str(&text, "case.toml").unwrap();
    scenario.steps.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_expectation_holds_when_right_and_fails_when_wrong() {
    let scenario = Scenario::from_toml_str(BASE, "base.toml").unwrap();
    let run = support::run_loaded(&scenario).await;
    let profile = &run.result.profile;
    let steps = &run.result.steps;
    assert_eq!(steps.len(), 7);
    for &(n, key, right, wrong) in CASES {
        let done = &steps[n - 1];
        let checks = check(&spec(key, right), &done.step, &done.status, profile);
        assert_eq!(checks.len(), 1, "{key}");
        assert!(checks[0].ok, "{key} = {right} should hold: {:?}", checks[0]);
        let checks = check(&spec(key, wrong), &done.step, &done.status, profile);
        assert_eq!(checks.len(), 1);
        assert!(
            !checks[0].ok,
            "{key} = {wrong} should fail: {:?}",
            checks[0]
        );
        assert_eq!(checks[0].key, key);
    }
}

#[test]
fn every_expectation_key_is_covered() {
    // Serialising an `Expect` with every key set lists the keys; each needs a case above.
    let all = [
        r#"code = "00", codes = [], outcome = "none", prompt = "", no_prompt = """#,
        r#"sent = [], network_codes = [], reversal_reason = "98", batch = 1, records = 0"#,
        r#"slips = 0, slip = "", receipt = "", totals = { debit_count = 0 }"#,
        r#"reversal_pending = false, settlement_pending = false, signed_on = true"#,
        r#"power_lost = false"#,
    ]
    .join(", ");
    let step = spec("code", "\"00\"");
    let full = Scenario::from_toml_str(
        &format!("dialect = \"cup\"\n[[step]]\nrun = \"echo\"\nexpect = {{ {all} }}"),
        "all.toml",
    )
    .unwrap();
    let value = serde_json::to_value(&full.steps[0].expect).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), CASES.len());
    for key in keys {
        assert!(CASES.iter().any(|c| c.1 == key), "no case for expect.{key}");
    }
    assert!(!step.expect.is_empty());
}
