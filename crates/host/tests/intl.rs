//! The international dialect end to end: raw frames in, answers and the ledger checked.

mod support;

use iso8583_host::{
    CloseResult, Dialect, HostConfig, RecordState, Rules, Totals, TxnKind, VoidPolicy,
};
use support::*;

#[tokio::test]
async fn sale_is_approved_with_what_terminals_check() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.sale(1250, VISA);
    let reply = t.exchange(sale).await;
    assert_eq!(reply.mti, "0210");
    assert_eq!(reply.code(), "00");
    for (n, v) in [
        (3, "000000"),
        (4, "000000001250"),
        (11, "000001"),
        (41, INTL_TID),
    ] {
        assert_eq!(reply.text(n), v, "field {n}");
    }
    assert_eq!(reply.text(42), INTL_MID);
    assert_eq!(
        (reply.text(12), reply.text(13)),
        ("101010".into(), "1203".into())
    );
    assert_eq!(reply.text(37).len(), 12);
    assert!(reply.text(37).bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(reply.text(38).len(), 6);
    // The TPDU's addresses come back swapped.
    assert_eq!(
        reply.tpdu.unwrap().to_bytes(),
        [0x60, 0x00, 0x00, 0x00, 0x03]
    );

    let ledger = host.ledger();
    let term = ledger.terminal(INTL_TID).unwrap();
    let rec = term.record(1).unwrap();
    assert_eq!(
        (rec.kind, rec.amount, rec.state),
        (TxnKind::Sale, 1250, RecordState::Approved)
    );
    assert_eq!(rec.rrn, reply.text(37));
    assert_eq!(rec.pan, "476173******0010");
    let summary = host.shutdown().await;
    assert_eq!(summary.answers("0200", "00"), 1);
    assert_eq!(summary.received.get("0200"), Some(&1));
}

#[tokio::test]
async fn network_messages_sign_on_echo_sign_off() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    for (mti, pcode, code) in [
        ("0800", "920000", "00"),
        ("0800", "990000", "00"),
        ("0800", "930000", "12"),
    ] {
        let mut b = t.message(mti, t.trace + 1);
        t.trace += 1;
        b.set(3, pcode.to_owned().into_bytes()).unwrap();
        b.set_str(24, "003").unwrap();
        let reply = t.exchange(b).await;
        assert_eq!(
            (reply.mti.as_str(), reply.code().as_str()),
            ("0810", code),
            "{pcode}"
        );
    }
    assert!(host.ledger().terminal(INTL_TID).unwrap().signed_on);
    let b = t.message("0820", 9);
    let reply = t.exchange(b).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0830", "00"));
    assert!(!host.ledger().terminal(INTL_TID).unwrap().signed_on);
}

#[tokio::test]
async fn duplicate_trace_is_94_without_a_second_authorisation() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.financial("0200", "000000", 7, 1000, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    let again = t.financial("0200", "000000", 7, 1000, VISA);
    assert_eq!(t.exchange(again).await.code(), "94");
    // Another class with the same trace is not a duplicate.
    let advice = t.financial("0220", "000000", 7, 300, VISA);
    assert_eq!(t.exchange(advice).await.code(), "00");
    let again = t.financial("0220", "000000", 7, 300, VISA);
    assert_eq!(t.exchange(again).await.code(), "94");
    let ledger = host.ledger();
    let open = &ledger.terminal(INTL_TID).unwrap().open;
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(open[1].kind, TxnKind::OfflineSale);
}

#[tokio::test]
async fn reversal_and_its_repeat_get_the_same_answer() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.sale(2000, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");

    // Wrong amount: not the original.
    let wrong = t.financial("0400", "000000", 1, 1999, VISA);
    assert_eq!(t.exchange(wrong).await.code(), "25");
    assert_eq!(
        host.ledger()
            .terminal(INTL_TID)
            .unwrap()
            .record(1)
            .unwrap()
            .state,
        RecordState::Approved
    );

    for _ in 0..2 {
        let mut rev = t.financial("0400", "000000", 1, 2000, VISA);
        rev.set_str(39, "98").unwrap();
        let reply = t.exchange(rev).await;
        assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0410", "00"));
        assert_eq!(reply.text(11), "000001");
    }
    let ledger = host.ledger();
    let term = ledger.terminal(INTL_TID).unwrap();
    assert_eq!(term.record(1).unwrap().state, RecordState::Reversed);
    assert_eq!(term.open_totals, Totals::Intl(Default::default()));

    // A reversal of something never approved: 25, and 25 again.
    for _ in 0..2 {
        let rev = t.financial("0400", "000000", 50, 100, VISA);
        assert_eq!(t.exchange(rev).await.code(), "25");
    }
}

#[tokio::test]
async fn void_by_rrn_refund_and_preauth() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.sale(5000, VISA);
    let approved = t.exchange(sale).await;
    let sale2 = t.sale(700, VISA);
    assert_eq!(t.exchange(sale2).await.code(), "00");

    let mut void = t.financial("0200", "020000", 3, 5000, VISA);
    void.set(37, approved.text(37).into_bytes()).unwrap();
    void.set(38, approved.text(38).into_bytes()).unwrap();
    assert_eq!(t.exchange(void).await.code(), "00");
    let mut unknown = t.financial("0200", "020000", 4, 5000, VISA);
    unknown.set_str(37, "999999999999").unwrap();
    assert_eq!(t.exchange(unknown).await.code(), "25");

    let refund = t.financial("0200", "200000", 5, 300, VISA);
    assert_eq!(t.exchange(refund).await.code(), "00");
    let preauth = t.financial("0100", "000000", 6, 9900, VISA);
    let reply = t.exchange(preauth).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0110", "00"));

    let ledger = host.ledger();
    let term = ledger.terminal(INTL_TID).unwrap();
    assert_eq!(term.record(1).unwrap().state, RecordState::Voided);
    assert_eq!(term.record(3).unwrap().original_trace, Some(1));
    assert_eq!(term.record(6).unwrap().kind, TxnKind::PreAuth);
    let Totals::Intl(totals) = term.open_totals else {
        panic!("intl")
    };
    assert_eq!((totals.sale_count, totals.sale_amount), (1, 700));
    assert_eq!((totals.refund_count, totals.refund_amount), (1, 300));
}

#[tokio::test]
async fn rules_give_their_codes_and_unknown_terminals_03() {
    let mut config = HostConfig::builtin();
    config.rules = toml::from_str::<Rules>(
        r#"
        max_amount = "500.00"
        [[auth]]
        cents = 51
        respond = "51"
        [[auth]]
        card_prefix = "4000"
        respond = "14"
        [[auth]]
        trace = 44
        respond = "05"
        "#,
    )
    .unwrap();
    let host = host_with(config).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    for (trace, amount, pan, code) in [
        (1, 1251, VISA, "51"),
        (2, 50_001, VISA, "13"),
        (3, 1000, "4000123412341234", "14"),
        (44, 1000, VISA, "05"),
        (5, 1000, VISA, "00"),
    ] {
        let b = t.financial("0200", "000000", trace, amount, pan);
        let reply = t.exchange(b).await;
        assert_eq!(reply.code(), code, "trace {trace}");
        assert_eq!(reply.fields.contains_key(&38), code == "00");
    }
    assert_eq!(host.ledger().terminal(INTL_TID).unwrap().open.len(), 1);

    let mut stranger = Term::connect_to(
        host.addr(Dialect::International).unwrap(),
        Dialect::International,
        "99999999",
        INTL_MID,
    )
    .await;
    let sale = stranger.sale(100, VISA);
    assert_eq!(stranger.exchange(sale).await.code(), "03");
    // The UnionPay terminal is not known on the international listener either.
    let mut wrong = Term::connect_to(
        host.addr(Dialect::International).unwrap(),
        Dialect::International,
        CUP_TID,
        CUP_MID,
    )
    .await;
    let sale = wrong.sale(100, VISA);
    assert_eq!(wrong.exchange(sale).await.code(), "03");
}

#[tokio::test]
async fn balanced_reconciliation_closes_and_a_repeat_is_00() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    for amount in [1000, 250] {
        let sale = t.sale(amount, VISA);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    let refund = t.financial("0200", "200000", 3, 100, VISA);
    assert_eq!(t.exchange(refund).await.code(), "00");

    let wrong = intl_0500(&t, 4, "920000", 1, &intl_block(2, 1250, 0, 0));
    assert_eq!(
        t.exchange(wrong).await.code(),
        "95",
        "the refund is missing"
    );
    let right = intl_0500(&t, 5, "920000", 1, &intl_block(2, 1250, 1, 100));
    let reply = t.exchange(right).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0510", "00"));

    // A repeat carries the totals the batch closed with.
    let repeat = intl_0500(&t, 6, "920000", 1, &intl_block(2, 1250, 1, 100));
    assert_eq!(t.exchange(repeat).await.code(), "00");

    let ledger = host.ledger();
    let term = ledger.terminal(INTL_TID).unwrap();
    assert!(term.open.is_empty());
    let batch = term.last_closed().unwrap();
    assert_eq!((batch.batch, batch.result), (1, CloseResult::Balanced));
    assert_eq!(batch.records.len(), 3);
    assert_eq!(term.settlements_of(1), 1);
    // Trace numbers start again in the new batch without being duplicates.
    let sale = t.financial("0200", "000000", 1, 10, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    let summary = host.shutdown().await;
    assert_eq!(summary.batches_reconciled, 1);
    assert_eq!(summary.repeated_closes, 1);
    assert_eq!(summary.answers("0500", "00"), 2);
    assert_eq!(summary.out_of_balance, 1);
    assert_eq!(summary.answers("0500", "95"), 1);
}

#[tokio::test]
async fn out_of_balance_upload_repeated_then_trailer_closes_on_the_uploaded_view() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    for amount in [1000, 2000, 3000] {
        let sale = t.sale(amount, VISA);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    // The terminal lost sale 3 (say it reversed it without telling) and has an offline sale the
    // host never saw: its totals disagree.
    let block = intl_block(3, 3500, 0, 0);
    let reconcile = intl_0500(&t, 10, "920000", 7, &block);
    assert_eq!(t.exchange(reconcile).await.code(), "95");
    assert_eq!(
        host.ledger().terminal(INTL_TID).unwrap().settling,
        "uploading"
    );

    let uploads = [(11, 1, 1000), (12, 2, 2000), (13, 2, 2000), (14, 9, 500)];
    for (trace, original, amount) in uploads {
        let mut up = intl_0320(&t, trace, original, "000001", amount);
        if original == 9 {
            up.set(
                60,
                format!("0220{original:06}{}", " ".repeat(12)).into_bytes(),
            )
            .unwrap();
        }
        let reply = t.exchange(up).await;
        assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0330", "00"));
    }
    // A trailer with totals other than the uploaded view's: 95, the batch stays open.
    let bad = intl_0500(&t, 15, "960000", 7, &intl_block(4, 6000, 0, 0));
    assert_eq!(t.exchange(bad).await.code(), "95");
    assert!(host
        .ledger()
        .terminal(INTL_TID)
        .unwrap()
        .last_closed()
        .is_none());

    // Again: 920000 answered 95, upload (the re-sent 0320 replaces), trailer balanced.
    let reconcile = intl_0500(&t, 16, "920000", 7, &block);
    assert_eq!(t.exchange(reconcile).await.code(), "95");
    for (trace, original, amount) in [(17, 1, 1000), (18, 2, 2000), (19, 9, 500), (20, 9, 500)] {
        let mut up = intl_0320(&t, trace, original, "000001", amount);
        if original == 9 {
            up.set(
                60,
                format!("0220{original:06}{}", " ".repeat(12)).into_bytes(),
            )
            .unwrap();
        }
        assert_eq!(t.exchange(up).await.code(), "00");
    }
    let trailer = intl_0500(&t, 21, "960000", 7, &block);
    assert_eq!(t.exchange(trailer).await.code(), "00");

    let ledger = host.ledger();
    let term = ledger.terminal(INTL_TID).unwrap();
    let batch = term.last_closed().unwrap();
    assert_eq!((batch.batch, batch.result), (7, CloseResult::Uploaded));
    let Totals::Intl(totals) = batch.totals else {
        panic!("intl")
    };
    assert_eq!((totals.sale_count, totals.sale_amount), (3, 3500));
    let sale3 = batch.records.iter().find(|r| r.trace == 3).unwrap();
    assert_eq!(sale3.state, RecordState::Unconfirmed);
    let offline = batch.records.iter().find(|r| r.trace == 9).unwrap();
    assert!(offline.from_upload && offline.uploaded);
    assert_eq!(offline.kind, TxnKind::OfflineSale);
    assert_eq!(
        batch.uploads_received, 3,
        "re-sent uploads replace, never add"
    );
    assert_eq!((term.settlements_of(1), term.settlements_of(3)), (1, 0));
    // The repeated trailer for the closed batch is 00.
    let again = intl_0500(&t, 22, "960000", 7, &block);
    assert_eq!(t.exchange(again).await.code(), "00");
}

#[tokio::test]
async fn void_policy_refund_counts_a_voided_sale_twice() {
    let mut config = HostConfig::builtin();
    config.terminals[0].void_policy = VoidPolicy::Refund;
    let host = host_with(config).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.sale(800, VISA);
    let approved = t.exchange(sale).await;
    let mut void = t.financial("0200", "020000", 2, 800, VISA);
    void.set(37, approved.text(37).into_bytes()).unwrap();
    assert_eq!(t.exchange(void).await.code(), "00");
    let dropped = intl_0500(&t, 3, "920000", 1, &intl_block(0, 0, 0, 0));
    assert_eq!(t.exchange(dropped).await.code(), "95");
    let both = intl_0500(&t, 4, "920000", 1, &intl_block(1, 800, 1, 800));
    assert_eq!(t.exchange(both).await.code(), "00");
}

#[tokio::test]
async fn malformed_frames_get_30_or_close_only_their_connection() {
    let host = host().await;
    // Same terminal id, other trace numbers: not duplicates of each other.
    let mut bystander = Term::connect(&host, Dialect::International).await;
    bystander.trace = 500;
    let mut t = Term::connect(&host, Dialect::International).await;

    // A readable MTI and trace, then garbage where field 41 should be: 30, echoing 11.
    let garbled = t.sale(100, VISA);
    let mut bytes = garbled.to_bytes().to_vec();
    bytes.extend_from_slice(b"trailing");
    t.send_raw(t.frame(bytes)).await;
    let reply = t.recv_within(ANSWER).await.expect("a 30");
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0210", "30"));
    assert_eq!(reply.text(11), "000001");

    // The connection still works.
    let sale = t.sale(100, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    sale_ok(&mut bystander).await;

    // No readable MTI: the host closes this connection.
    t.send_raw(t.frame(&b"\xFF\xFF\x00"[..])).await;
    assert!(t.next_event().await.is_none(), "closed");

    // A length header over the maximum: closed too, before anything is buffered.
    let mut raw = Term::connect(&host, Dialect::International).await;
    use tokio::io::AsyncWriteExt;
    raw.io
        .get_mut()
        .write_all(&[0xFF, 0xFF, 0x60])
        .await
        .unwrap();
    assert!(raw.next_event().await.is_none(), "closed");

    sale_ok(&mut bystander).await;
    let summary = host.shutdown().await;
    assert_eq!(summary.unparseable, 3);
    assert_eq!(summary.answers("0200", "30"), 1);
}

async fn sale_ok(t: &mut Term) {
    let sale = t.sale(100, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
}
