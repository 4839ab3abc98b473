//! Every fault action, the matchers, `nth`, `times`, `chance` and `process`, over raw frames.

mod support;

use std::time::{Duration, Instant};

use iso8583_crypto::{KeyError, KeyRole};
use iso8583_host::{
    faults_from_toml, Dialect, FaultAction, FaultRule, HostConfig, RecordState, ResponseCode,
};
use iso8583_wire::{Frame, FrameError, ProcessingRequirement};
use support::*;

fn code(c: &str) -> ResponseCode {
    ResponseCode::new(c).unwrap()
}

async fn intl_host(faults: &str) -> iso8583_host::TestHost {
    let mut config = HostConfig::builtin();
    config.faults = faults_from_toml(faults).unwrap();
    host_with(config).await
}

/// A short wait for an answer that should not come.
const SILENCE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn respond_times_three_then_the_real_answer() {
    let host = intl_host(
        r#"
        [[faults]]
        mti = "0400"
        action = "respond"
        code = "05"
        times = 3
        "#,
    )
    .await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.sale(1000, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    let mut codes = Vec::new();
    for _ in 0..4 {
        let rev = t.financial("0400", "000000", 1, 1000, VISA);
        codes.push(t.exchange(rev).await.code());
    }
    assert_eq!(codes, ["05", "05", "05", "00"]);
    let ledger = host.ledger();
    assert_eq!(
        ledger.terminal(INTL_TID).unwrap().record(1).unwrap().state,
        RecordState::Reversed
    );
    assert_eq!(host.stats().faults_of("respond"), 3);
}

#[tokio::test]
async fn respond_leaves_the_books_alone_unless_told_to_process() {
    let host = intl_host(
        r#"
        [[faults]]
        mti = "0500"
        nth = 1
        action = "respond"
        code = "77"
        [[faults]]
        cents = 51
        action = "respond"
        code = "05"
        process = true
        "#,
    )
    .await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.sale(1051, VISA);
    assert_eq!(t.exchange(sale).await.code(), "05");
    // Processed: the host booked the approval it did not send.
    assert_eq!(host.ledger().terminal(INTL_TID).unwrap().open.len(), 1);

    let first = intl_0500(&t, 2, "920000", 1, &intl_block(1, 1051, 0, 0));
    assert_eq!(t.exchange(first).await.code(), "77");
    assert!(
        host.ledger()
            .terminal(INTL_TID)
            .unwrap()
            .last_closed()
            .is_none(),
        "not processed"
    );
    let second = intl_0500(&t, 3, "920000", 1, &intl_block(1, 1051, 0, 0));
    assert_eq!(
        t.exchange(second).await.code(),
        "00",
        "nth = 1 applies once"
    );
}

#[tokio::test]
async fn delay_answers_later_while_the_connection_reads_on() {
    let host = intl_host(
        r#"
        [[faults]]
        mti = "0200"
        action = "delay"
        ms = 1500
        "#,
    )
    .await;
    // Long enough that a loaded machine still answers the echo well before the sale.
    let delay = Duration::from_millis(1500);
    let mut t = Term::connect(&host, Dialect::International).await;
    let start = Instant::now();
    let sale = t.sale(1000, VISA);
    t.send(sale).await;
    let mut echo = t.message("0800", 50);
    echo.set_str(3, "990000")
        .unwrap()
        .set_str(24, "003")
        .unwrap();
    t.send(echo).await;
    let first = t.recv_within(ANSWER).await.unwrap();
    assert_eq!(
        first.mti, "0810",
        "the echo is answered while the sale waits"
    );
    assert!(start.elapsed() < delay);
    let second = t.recv_within(ANSWER).await.unwrap();
    assert_eq!(
        (second.mti.as_str(), second.code().as_str()),
        ("0210", "00")
    );
    assert!(start.elapsed() >= delay);
}

#[tokio::test]
async fn no_answer_processes_unless_told_not_to() {
    let host = intl_host(
        r#"
        [[faults]]
        amount = "10.00"
        action = "no_answer"
        [[faults]]
        amount = "20.00"
        action = "no_answer"
        process = false
        "#,
    )
    .await;
    let mut t = Term::connect(&host, Dialect::International).await;
    for amount in [1000, 2000] {
        let sale = t.sale(amount, VISA);
        t.send(sale).await;
        assert!(t.recv_within(SILENCE).await.is_none());
    }
    let ledger = host.ledger();
    let term = ledger.terminal(INTL_TID).unwrap();
    assert_eq!(
        term.record(1).unwrap().amount,
        1000,
        "the answer was lost, the sale booked"
    );
    assert!(term.record(2).is_none(), "never arrived");
    // The connection is still in step.
    let sale = t.sale(3000, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    assert_eq!(host.stats().faults_of("no_answer"), 2);
}

#[tokio::test]
async fn close_and_close_mid_frame_drop_only_that_connection() {
    let host = intl_host(
        r#"
        [[faults]]
        trace = 1
        action = "close"
        [[faults]]
        trace = 2
        action = "close_mid_frame"
        "#,
    )
    .await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.sale(1000, VISA);
    t.send(sale).await;
    assert!(t.next_event().await.is_none(), "closed without an answer");

    let mut t = Term::connect(&host, Dialect::International).await;
    t.trace = 1;
    let sale = t.sale(1000, VISA);
    t.send(sale).await;
    match t.next_event().await {
        Some(Err(FrameError::Truncated {
            received,
            expected: Some(len),
        })) => {
            assert!(received < len, "{received} of {len}");
        }
        other => panic!("expected a frame cut short, got {other:?}"),
    }
    let ledger = host.ledger();
    assert_eq!(
        ledger.terminal(INTL_TID).unwrap().open.len(),
        2,
        "both processed"
    );
    let mut other = Term::connect(&host, Dialect::International).await;
    other.trace = 10;
    let sale = other.sale(1000, VISA);
    assert_eq!(other.exchange(sale).await.code(), "00");
}

#[tokio::test]
async fn wrong_trace_and_matchers() {
    let host = intl_host(
        r#"
        [[faults]]
        processing_code = "200000"
        card_prefix = "4761"
        amount_above = "5.00"
        amount_below = "6.00"
        terminal = "00000001"
        action = "wrong_trace"
        "#,
    )
    .await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let refund = t.financial("0200", "200000", 5, 550, VISA);
    assert_eq!(t.exchange(refund).await.text(11), "000006");
    for (trace, pcode, amount, pan) in [
        (6, "000000", 550, VISA),
        (7, "200000", 650, VISA),
        (8, "200000", 550, "5100000000000008"),
    ] {
        let b = t.financial("0200", pcode, trace, amount, pan);
        assert_eq!(
            t.exchange(b).await.text(11),
            format!("{trace:06}"),
            "{trace}"
        );
    }
}

#[tokio::test]
async fn out_of_balance_in_both_dialects() {
    let mut config = HostConfig::builtin();
    config.faults = vec![
        FaultRule::new(FaultAction::OutOfBalance)
            .mti("0500")
            .processing_code("920000"),
        FaultRule::new(FaultAction::OutOfBalance)
            .mti("0500")
            .terminal(CUP_TID),
    ];
    let host = host_with(config).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let empty = intl_0500(&t, 1, "920000", 1, &intl_block(0, 0, 0, 0));
    assert_eq!(t.exchange(empty).await.code(), "95");
    // The trailer does not match the rule: it balances and closes.
    let trailer = intl_0500(&t, 2, "960000", 1, &intl_block(0, 0, 0, 0));
    assert_eq!(t.exchange(trailer).await.code(), "00");

    let mut c = Term::connect(&host, Dialect::UnionPay).await;
    c.cup_sign_on("003").await.1.unwrap();
    let reply = c
        .exchange(cup_0500(&c, 2, 1, &cup_48((0, 0, 0, 0), (0, 0, 0, 0))))
        .await;
    let f48 = reply.text(48);
    assert_eq!(
        (reply.code().as_str(), &f48[30..31], &f48[61..62]),
        ("00", "2", "2")
    );
    let summary = host.stats();
    assert_eq!(
        (summary.faults_of("out_of_balance"), summary.out_of_balance),
        (2, 2)
    );
}

#[tokio::test]
async fn wrong_mac_bad_check_value_and_sign_on_again() {
    let mut config = HostConfig::builtin();
    config.faults = vec![
        FaultRule::new(FaultAction::BadCheckValue)
            .network_code("003")
            .nth(1),
        FaultRule::new(FaultAction::WrongMac).mti("0200").cents(11),
        FaultRule::new(FaultAction::SignOnAgain)
            .mti("0200")
            .cents(22),
    ];
    let host = host_with(config).await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    let (reply, keys) = t.cup_sign_on("003").await;
    assert_eq!(reply.code(), "00");
    let expected = KeyError::CheckValueMismatch { role: KeyRole::Mac }.to_string();
    assert_eq!(
        keys.unwrap_err(),
        expected,
        "the terminal must reject these keys"
    );
    t.cup_sign_on("003").await.1.unwrap();

    let sale = t.sale(1011, CUP_CARD);
    let reply = t.exchange(sale).await;
    assert_eq!(reply.code(), "00");
    assert!(!t.verify_mac(&reply), "a MAC that does not verify");

    let sale = t.sale(1022, CUP_CARD);
    let reply = t.exchange(sale).await;
    assert_eq!(reply.code(), "00");
    assert!(
        t.verify_mac(&reply),
        "still MACed with the keys the request used"
    );
    let header = reply.header.unwrap();
    assert_eq!(
        header.processing_requirement(),
        ProcessingRequirement::SignOnAgain
    );
    let sale = t.sale(1000, CUP_CARD);
    assert_eq!(
        t.exchange(sale).await.code(),
        "A0",
        "keys dropped until a sign-on"
    );
    t.cup_sign_on("003").await.1.unwrap();
    let sale = t.sale(1000, CUP_CARD);
    assert_eq!(t.exchange(sale).await.code(), "00");
}

#[tokio::test]
async fn fourth_0320_closes_and_the_resumed_upload_counts_once() {
    let host = intl_host(
        r#"
        [[faults]]
        mti = "0320"
        nth = 4
        action = "close"
        process = false
        "#,
    )
    .await;
    let mut t = Term::connect(&host, Dialect::International).await;
    for i in 1..=10 {
        let sale = t.sale(100 * i, VISA);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    let block = intl_block(10, 5500, 0, 0);
    let reconcile = intl_0500(&t, 11, "920000", 1, &intl_block(0, 0, 0, 0));
    assert_eq!(t.exchange(reconcile).await.code(), "95");
    for original in 1..=4u32 {
        let up = intl_0320(
            &t,
            11 + original,
            original,
            "000001",
            100 * u64::from(original),
        );
        t.send(up).await;
        match t.next_event().await {
            Some(Ok(Frame::Message(frame))) => assert_eq!(t.read(frame).code(), "00"),
            None => assert_eq!(original, 4, "the 4th 0320 drops the connection"),
            other => panic!("{other:?}"),
        }
    }
    // The terminal reconnects and resumes from the 4th, sending the 3rd again for good measure.
    let mut t = Term::connect(&host, Dialect::International).await;
    for original in 3..=10u32 {
        let up = intl_0320(
            &t,
            20 + original,
            original,
            "000001",
            100 * u64::from(original),
        );
        assert_eq!(t.exchange(up).await.code(), "00");
    }
    let trailer = intl_0500(&t, 40, "960000", 1, &block);
    assert_eq!(t.exchange(trailer).await.code(), "00");
    let ledger = host.ledger();
    let term = ledger.terminal(INTL_TID).unwrap();
    let batch = term.last_closed().unwrap();
    assert_eq!(batch.uploads_received, 10);
    assert!((1..=10).all(|trace| term.settlements_of(trace) == 1));
    assert_eq!(host.stats().faults_of("close"), 1);
}

#[tokio::test]
async fn chance_is_repeatable_with_the_seed_and_set_faults_replaces_rules() {
    let run = |seed| async move {
        let mut config = HostConfig::builtin();
        config.seed = seed;
        config.faults = vec![FaultRule::new(FaultAction::Respond(code("05"))).chance(0.5)];
        let host = host_with(config).await;
        let mut t = Term::connect(&host, Dialect::International).await;
        let mut codes = String::new();
        for _ in 0..24 {
            let sale = t.sale(100, VISA);
            codes.push(if t.exchange(sale).await.code() == "05" {
                'x'
            } else {
                '.'
            });
        }
        (host, t, codes)
    };
    let (_, _, a) = run(42).await;
    let (host, mut t, b) = run(42).await;
    assert_eq!(a, b);
    assert!(a.contains('x') && a.contains('.'), "{a}");

    host.set_faults(vec![]);
    for _ in 0..5 {
        let sale = t.sale(100, VISA);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    host.set_faults(vec![
        FaultRule::new(FaultAction::Respond(code("91"))).times(1)
    ]);
    let sale = t.sale(100, VISA);
    assert_eq!(t.exchange(sale).await.code(), "91");
    let sale = t.sale(100, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
}

/// Finding 5 of the new-user review: `nth` alone is the n-th matching message only (the 2nd of
/// four sales is 05, the others 00); with `times` the rule applies from the n-th on, that many
/// times.
#[tokio::test]
async fn nth_alone_is_one_message_and_with_times_from_the_nth_on() {
    for (times, expected) in [
        ("", ["00", "05", "00", "00"]),
        ("times = 2", ["00", "05", "05", "00"]),
    ] {
        let host = intl_host(&format!(
            "[[faults]]\nmti = \"0200\"\nnth = 2\n{times}\naction = \"respond\"\ncode = \"05\"\n"
        ))
        .await;
        let mut t = Term::connect(&host, Dialect::International).await;
        let mut codes = Vec::new();
        for _ in 0..4 {
            let sale = t.sale(1000, VISA);
            codes.push(t.exchange(sale).await.code());
        }
        assert_eq!(codes, expected, "{times:?}");
        assert_eq!(
            host.stats().faults_of("respond"),
            if times.is_empty() { 1 } else { 2 }
        );
    }
}
