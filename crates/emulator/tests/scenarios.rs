//! Every scenario of DESIGN §8 as a file under `examples/scenarios/`, run against an
//! in-process test host on 127.0.0.1 port 0 in each dialect where it applies. A scenario
//! passes only when every expectation in its file holds; some tests also read the host's
//! books, to prove that nothing was counted twice or lost.

mod support;

use iso8583_host::{CloseResult, RecordState, Totals, TxnKind};
use support::passes;

/// Scenario files whose test needs nothing beyond their own expectations.
macro_rules! scenarios {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                passes($file).await;
            }
        )*
        const PLAIN: &[&str] = &[$($file),*];
    };
}

scenarios! {
    intl_sign_on_echo => "intl/sign-on-echo.toml",
    intl_balanced_settlement => "intl/balanced-settlement.toml",
    intl_void_then_settle => "intl/void-then-settle.toml",
    intl_void_then_settle_refund_policy => "intl/void-then-settle-refund-policy.toml",
    intl_refund => "intl/refund.toml",
    intl_out_of_balance_upload => "intl/out-of-balance-upload.toml",
    intl_trailer_95 => "intl/trailer-95.toml",
    intl_reconcile_error_77 => "intl/reconcile-error-77.toml",
    intl_reversal_done_12_25 => "intl/reversal-done-12-25.toml",
    intl_reversal_declined_three_times => "intl/reversal-declined-three-times.toml",
    intl_reversal_no_answer_blocks => "intl/reversal-no-answer-blocks.toml",
    intl_advice_flush => "intl/advice-flush.toml",
    intl_storage_full => "intl/storage-full.toml",
    intl_overflow_forces_settlement => "intl/overflow-forces-settlement.toml",
    intl_no_answer_0500 => "intl/no-answer-0500.toml",
    intl_auto_settle_time => "intl/auto-settle-time.toml",
    intl_empty_batch => "intl/empty-batch.toml",
    intl_preauth_completion => "intl/preauth-completion.toml",
    cup_sign_on_keys => "cup/sign-on-keys.toml",
    cup_bad_check_value => "cup/bad-check-value.toml",
    cup_balanced_settlement => "cup/balanced-settlement.toml",
    cup_chip_balanced => "cup/chip-balanced.toml",
    cup_void_then_settle => "cup/void-then-settle.toml",
    cup_refund => "cup/refund.toml",
    cup_out_of_balance => "cup/out-of-balance.toml",
    cup_reversal_no_answer_blocks => "cup/reversal-no-answer-blocks.toml",
    cup_storage_full => "cup/storage-full.toml",
    cup_no_answer_0500 => "cup/no-answer-0500.toml",
    cup_sign_on_again => "cup/sign-on-again.toml",
    cup_auto_settle_time => "cup/auto-settle-time.toml",
    cup_empty_batch => "cup/empty-batch.toml",
    cup_overflow_forces_settlement => "cup/overflow-forces-settlement.toml",
}

/// Files with a test of their own below.
const CHECKED: &[&str] = &[
    "intl/pending-reversal-before-settlement.toml",
    "intl/advice-duplicate-94.toml",
    "intl/upload-interrupted.toml",
    "intl/power-loss-after-balanced.toml",
    "cup/pending-reversal-before-settlement.toml",
    "cup/advice-flush.toml",
    "cup/upload-interrupted.toml",
    "cup/power-loss-after-balanced.toml",
    "cup/bad-mac.toml",
    "cup/batch-mismatch-77.toml",
    "intl/duplicate-trace-94.toml",
    "cup/duplicate-trace-94.toml",
    "intl/tip-adjust-then-settle.toml",
    "intl/tip-adjust-out-of-balance.toml",
    "intl/pre-auth-void.toml",
    "cup/pre-auth-void.toml",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_pending_reversal_before_settlement() {
    let run = passes("intl/pending-reversal-before-settlement.toml").await;
    let ledger = run.host.ledger();
    let books = ledger.terminal("00000001").unwrap();
    let closed = books.last_closed().unwrap();
    // The host approved the 33.00 sale whose answer was lost; the 0400 took it out again.
    let reversed = closed.records.iter().find(|r| r.amount == 3300).unwrap();
    assert_eq!(reversed.state, RecordState::Reversed);
    assert_eq!(books.settlements_of(reversed.trace), 0);
    assert_eq!(closed.records.iter().filter(|r| r.is_settled()).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_advice_duplicate_94() {
    let run = passes("intl/advice-duplicate-94.toml").await;
    let stats = run.host.stats();
    assert_eq!(stats.answers("0220", "94"), 1);
    let ledger = run.host.ledger();
    let closed = ledger.terminal("00000001").unwrap().last_closed().unwrap();
    let advices: Vec<_> = closed.records.iter().filter(|r| r.mti == "0220").collect();
    assert_eq!(advices.len(), 1, "booked once: {advices:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_upload_interrupted_counts_nothing_twice() {
    let run = passes("intl/upload-interrupted.toml").await;
    let ledger = run.host.ledger();
    let books = ledger.terminal("00000001").unwrap();
    let closed = books.last_closed().unwrap();
    let sales: Vec<_> = closed.records.iter().filter(|r| r.is_settled()).collect();
    assert_eq!(sales.len(), 10);
    for r in &sales {
        assert_eq!(books.settlements_of(r.trace), 1, "trace {}", r.trace);
        assert!(r.uploaded);
    }
    // Eleven 0320s reached the host (the fourth twice), one per record was kept.
    assert_eq!(run.host.stats().received.get("0320"), Some(&11));
    match &closed.totals {
        iso8583_host::Totals::Intl(t) => assert_eq!(t.sale_count, 10),
        other => panic!("international totals expected: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_power_loss_after_balanced_reply_sends_no_second_0500() {
    let run = passes("intl/power-loss-after-balanced.toml").await;
    let stats = run.host.stats();
    // One 0500 for batch 000001, none again on restart, and the last step's for 000002.
    assert_eq!(stats.received.get("0500"), Some(&2));
    assert_eq!(stats.batches_reconciled, 2);
    let ledger = run.host.ledger();
    let books = ledger.terminal("00000001").unwrap();
    assert_eq!(books.last_closed().unwrap().batch, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cup_pending_reversal_before_settlement() {
    let run = passes("cup/pending-reversal-before-settlement.toml").await;
    let ledger = run.host.ledger();
    let books = ledger.terminal("20000001").unwrap();
    let closed = books.last_closed().unwrap();
    let reversed = closed.records.iter().find(|r| r.amount == 3300).unwrap();
    assert_eq!(reversed.state, RecordState::Reversed);
    assert_eq!(books.settlements_of(reversed.trace), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cup_advice_flush_and_duplicate_94() {
    let run = passes("cup/advice-flush.toml").await;
    assert_eq!(run.host.stats().answers("0220", "94"), 1);
    let ledger = run.host.ledger();
    let closed = ledger.terminal("20000001").unwrap().last_closed().unwrap();
    let amounts: Vec<u64> = closed
        .records
        .iter()
        .filter(|r| r.is_settled())
        .map(|r| r.amount)
        .collect();
    assert_eq!(amounts.len(), 2, "each advice booked once: {amounts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cup_upload_interrupted_counts_nothing_twice() {
    let run = passes("cup/upload-interrupted.toml").await;
    let ledger = run.host.ledger();
    let books = ledger.terminal("20000001").unwrap();
    let closed = books.last_closed().unwrap();
    let sales: Vec<_> = closed.records.iter().filter(|r| r.is_settled()).collect();
    assert_eq!(sales.len(), 10);
    for r in &sales {
        assert_eq!(books.settlements_of(r.trace), 1, "trace {}", r.trace);
    }
    // The closing 0320 claimed all ten, those acknowledged before the drop included.
    assert_eq!(closed.claimed_uploads, Some(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cup_power_loss_after_balanced_reply_sends_no_second_0500() {
    let run = passes("cup/power-loss-after-balanced.toml").await;
    let stats = run.host.stats();
    assert_eq!(stats.received.get("0500"), Some(&1));
    assert_eq!(stats.batches_reconciled, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cup_bad_mac_reverses_with_a0() {
    let run = passes("cup/bad-mac.toml").await;
    assert_eq!(run.host.stats().faults_of("wrong_mac"), 1);
    let ledger = run.host.ledger();
    let books = ledger.terminal("20000001").unwrap();
    let states: Vec<_> = books.open.iter().map(|r| (r.amount, r.state)).collect();
    assert_eq!(
        states,
        [(2500, RecordState::Reversed), (2500, RecordState::Approved)],
        "the untrusted approval was reversed, the second sale kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cup_batch_mismatch_77_resolved_by_sign_on() {
    let run = passes("cup/batch-mismatch-77.toml").await;
    assert_eq!(run.host.stats().answers("0500", "77"), 1);
    let ledger = run.host.ledger();
    let books = ledger.terminal("20000001").unwrap();
    // The sale was settled once, in the batch the host had moved the terminal to.
    assert_eq!(books.closed.len(), 1);
    let closed = books.last_closed().unwrap();
    assert_eq!(closed.batch, 5);
    let settled: Vec<_> = closed.records.iter().filter(|r| r.is_settled()).collect();
    assert_eq!(settled.len(), 1);
    assert_eq!(books.settlements_of(settled[0].trace), 1);
    assert_eq!(books.batch, 6);
}

/// Both dialects: the resent 0200 was answered 94 and the host booked one authorisation.
async fn duplicate_books_one_sale(file: &str, terminal: &str, resends: u64) {
    let run = passes(file).await;
    let stats = run.host.stats();
    assert_eq!(stats.answers("0200", "94"), resends);
    assert_eq!(stats.answers("0200", "00"), 1);
    let ledger = run.host.ledger();
    let books = ledger.terminal(terminal).unwrap();
    let closed = books.last_closed().unwrap();
    let sales: Vec<_> = closed.records.iter().filter(|r| r.mti == "0200").collect();
    assert_eq!(sales.len(), 1, "one authorisation: {sales:?}");
    assert_eq!(books.settlements_of(sales[0].trace), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_duplicate_trace_94() {
    duplicate_books_one_sale("intl/duplicate-trace-94.toml", "00000001", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cup_duplicate_trace_94() {
    duplicate_books_one_sale("cup/duplicate-trace-94.toml", "20000001", 1).await;
}

/// The host applied both adjustments (each its own 0220, answered 00) and closed the batch
/// balanced on the adjusted amounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_tip_adjust_then_settle_balances_in_the_hosts_books() {
    let run = passes("intl/tip-adjust-then-settle.toml").await;
    assert_eq!(run.host.stats().answers("0220", "00"), 2);
    let ledger = run.host.ledger();
    let closed = ledger.terminal("00000001").unwrap().last_closed().unwrap();
    assert_eq!(closed.result, CloseResult::Balanced);
    let amounts: Vec<u64> = closed.records.iter().map(|r| r.amount).collect();
    assert_eq!(
        amounts,
        [1250, 2000],
        "sales with their new tips, no advice records"
    );
}

/// The host lost the adjustment (answered 00, booked nothing): the 0500 was out of balance and
/// the upload carried the adjusted amount, which the host's books now hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_tip_adjust_out_of_balance_upload_carries_the_adjusted_amount() {
    let run = passes("intl/tip-adjust-out-of-balance.toml").await;
    let ledger = run.host.ledger();
    let closed = ledger.terminal("00000001").unwrap().last_closed().unwrap();
    assert_eq!(closed.result, CloseResult::Uploaded);
    let first = closed.records.iter().find(|r| r.trace == 1).unwrap();
    assert_eq!((first.amount, first.uploaded), (1150, true));
    match &closed.totals {
        Totals::Intl(t) => assert_eq!((t.sale_count, t.sale_amount), (2, 1650)),
        other => panic!("international totals expected: {other:?}"),
    }
}

/// The host marked the pre-auth voided, booked the void (in no total), and never saw the
/// completion the terminal refused.
async fn pre_auth_voided_in_the_hosts_books(file: &str, terminal: &str) {
    let run = passes(file).await;
    let ledger = run.host.ledger();
    let books = ledger.terminal(terminal).unwrap();
    let closed = books.last_closed().unwrap();
    let kinds: Vec<(TxnKind, RecordState)> =
        closed.records.iter().map(|r| (r.kind, r.state)).collect();
    assert!(
        kinds.contains(&(TxnKind::PreAuth, RecordState::Voided)),
        "{kinds:?}"
    );
    assert!(kinds.contains(&(TxnKind::PreAuthVoid, RecordState::Approved)));
    assert!(!kinds.iter().any(|(k, _)| *k == TxnKind::Completion));
    assert_eq!(run.host.stats().received.get("0100"), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_pre_auth_void() {
    pre_auth_voided_in_the_hosts_books("intl/pre-auth-void.toml", "00000001").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cup_pre_auth_void() {
    pre_auth_voided_in_the_hosts_books("cup/pre-auth-void.toml", "20000001").await;
}

#[test]
fn every_scenario_file_has_a_test() {
    let dir = support::scenarios_dir();
    let mut files = Vec::new();
    for dialect in ["intl", "cup"] {
        for entry in std::fs::read_dir(dir.join(dialect)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            files.push(format!("{dialect}/{name}"));
        }
    }
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !PLAIN.contains(&f.as_str()) && !CHECKED.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "scenario files without a test: {missing:?}"
    );
}

/// Scenarios that make the host silent get the short timeouts, the rest the long ones: the
/// support code finds the faults in `[host]` and in the steps' `host` tables.
#[test]
fn only_scenarios_with_a_silent_host_get_short_timeouts() {
    let dir = support::scenarios_dir();
    let mut short = 0;
    for dialect in ["intl", "cup"] {
        for entry in std::fs::read_dir(dir.join(dialect)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let silent = support::SILENT_FAULTS
                .iter()
                .any(|a| text.contains(&format!("action = \"{a}\"")));
            let scenario = posemu::Scenario::load(&path).unwrap();
            let want = match silent {
                true => support::silent_host_layer(),
                false => support::test_layer(),
            };
            assert_eq!(support::layer_for(&scenario), want, "{}", path.display());
            short += usize::from(silent);
        }
    }
    assert!(short >= 10, "{short} scenarios with a silent host");
    let in_a_step = "[[step]]\nrun = \"echo\"\nhost = { faults = [{ mti = \"0800\", \
                     action = \"no_answer\" }] }\n";
    let scenario = posemu::Scenario::from_toml_str(in_a_step, "step.toml").unwrap();
    assert_eq!(support::layer_for(&scenario), support::silent_host_layer());
}

/// Trace numbers that wrap from 999999 to 1 inside a scenario: the next scenario of the same
/// terminal id starts after the last one sent (3), not at 1, which the host has just seen
/// (`ScenarioResult::next_trace` used to take the highest trace sent as the newest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_scenario_starts_after_traces_that_wrapped() {
    for dialect in ["intl", "cup"] {
        let text = format!(
            "name = \"wrap\"\ndialect = \"{dialect}\"\n[profile]\nfirst_trace = 999998\n\
             {}",
            "[[step]]\nrun = \"echo\"\n".repeat(4)
        );
        let scenario = posemu::Scenario::from_toml_str(&text, "wrap.toml").unwrap();
        let run = support::run_loaded(&scenario).await;
        let sent: Vec<u32> = run
            .result
            .steps
            .iter()
            .flat_map(|s| &s.step.exchanges)
            .map(|x| x.trace)
            .collect();
        assert_eq!(sent, [999_998, 999_999, 1, 2], "{dialect}");
        assert_eq!(run.result.next_trace, 3, "{dialect}");
    }
}
