//! The UnionPay dialect end to end: sign-on key delivery, MACs, reconciliation flags, grouped
//! and single uploads, the closing 0320, batch numbers.

mod support;

use iso8583_crypto::{DesKey, KeyError, WorkingKeys};
use iso8583_host::{CardGroup, CloseResult, Dialect, RecordState, Totals, TxnKind};
use iso8583_wire::ProcessingRequirement;
use support::*;

#[tokio::test]
async fn sign_on_delivers_keys_under_the_master_key_in_each_layout() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    for (code, len, key_len, track) in [
        ("001", 24, 8, false),
        ("003", 40, 16, false),
        ("004", 60, 16, true),
    ] {
        let (reply, keys) = t.cup_sign_on(code).await;
        assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0810", "00"));
        assert_eq!(reply.fields[&62].len(), len, "{code}");
        let keys = keys.unwrap();
        assert_eq!(keys.mac.len(), key_len);
        assert_eq!(keys.track.is_some(), track);
        assert!(keys.mac.has_odd_parity());
        // 60: type, the host's batch number, the network code asked for.
        assert_eq!(reply.text(60), format!("00000001{code}"));
        assert_eq!(
            reply.header.unwrap().processing_requirement(),
            ProcessingRequirement::None
        );
    }
    // Each sign-on issues fresh keys.
    let (_, first) = t.cup_sign_on("003").await;
    let (_, second) = t.cup_sign_on("003").await;
    assert_ne!(first.unwrap().mac, second.unwrap().mac);
    // Under another master key the check values do not hold.
    let (reply, _) = t.cup_sign_on("003").await;
    let other = DesKey::from_hex("1111111111111111FEDCBA9876543210").unwrap();
    let err = WorkingKeys::from_field62(
        &other,
        &reply.fields[&62],
        iso8583_crypto::Field62Layout::Double,
    )
    .unwrap_err();
    assert!(matches!(err, KeyError::CheckValueMismatch { .. }), "{err}");
    assert!(host.ledger().terminal(CUP_TID).unwrap().signed_on);
}

#[tokio::test]
async fn must_sign_on_and_mac_every_financial_message() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    let sale = t.sale(1000, CUP_CARD);
    let reply = t.exchange(sale).await;
    assert_eq!(reply.code(), "A0", "not signed on");
    assert_eq!(
        reply.header.unwrap().processing_requirement(),
        ProcessingRequirement::SignOnAgain
    );
    assert!(!reply.fields.contains_key(&64));

    t.cup_sign_on("003").await.1.unwrap();
    let sale = t.sale(1000, CUP_CARD);
    let reply = t.exchange(sale).await;
    assert_eq!(reply.code(), "00");
    assert!(
        t.verify_mac(&reply),
        "the answer's MAC verifies under the issued key"
    );
    assert_eq!(reply.text(49), "156");
    assert_eq!(
        reply.header.unwrap().processing_requirement(),
        ProcessingRequirement::None
    );

    // A wrong MAC: A0, nothing booked.
    let mut bad = t.sale(500, CUP_CARD);
    let mut bytes = t.encode(&mut bad).to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    t.send_raw(t.frame(bytes)).await;
    assert_eq!(t.recv_within(ANSWER).await.unwrap().code(), "A0");
    // No MAC at all: A0 too.
    let key = t.mac_key.take();
    let unmaced = t.sale(500, CUP_CARD);
    assert_eq!(t.exchange(unmaced).await.code(), "A0");
    t.mac_key = key;
    assert_eq!(host.ledger().terminal(CUP_TID).unwrap().open.len(), 1);

    // Unknown terminal: 97.
    let mut stranger = Term::connect_to(
        host.addr(Dialect::UnionPay).unwrap(),
        Dialect::UnionPay,
        "29999999",
        CUP_MID,
    )
    .await;
    let sale = stranger.sale(100, CUP_CARD);
    assert_eq!(stranger.exchange(sale).await.code(), "97");
}

#[tokio::test]
async fn echo_sign_off_void_refund_and_groups() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    let mut echo = t.message("0820", 50);
    echo.set_str(60, "00000001301").unwrap();
    let reply = t.exchange(echo).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0830", "00"));

    let sale = t.sale(1000, CUP_CARD);
    let approved = t.exchange(sale).await;
    let foreign = t.sale(300, VISA);
    assert_eq!(t.exchange(foreign).await.code(), "00");
    // The sign-on took trace 1, the sales 2 and 3.
    let mut void = t.financial("0200", "200000", 4, 1000, CUP_CARD);
    void.set(37, approved.text(37).into_bytes()).unwrap();
    void.set(60, b"23000001000".to_vec()).unwrap();
    void.set(61, b"000001000002".to_vec()).unwrap();
    assert_eq!(t.exchange(void).await.code(), "00");
    let mut refund = t.financial("0220", "200000", 5, 50, VISA);
    refund.set(60, b"25000001000".to_vec()).unwrap();
    let reply = t.exchange(refund).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0230", "00"));

    let ledger = host.ledger();
    let term = ledger.terminal(CUP_TID).unwrap();
    assert_eq!(term.record(2).unwrap().state, RecordState::Voided);
    assert_eq!(term.record(2).unwrap().group, CardGroup::Domestic);
    assert_eq!(term.record(3).unwrap().group, CardGroup::Foreign);
    assert_eq!(term.record(4).unwrap().original_trace, Some(2));
    assert_eq!(term.record(5).unwrap().kind, TxnKind::Refund);
    let Totals::Cup(totals) = term.open_totals else {
        panic!("cup")
    };
    assert_eq!(
        (totals.domestic.debit_amount, totals.domestic.credit_amount),
        (1000, 1000)
    );
    assert_eq!(
        (totals.foreign.debit_amount, totals.foreign.credit_amount),
        (300, 50)
    );

    let mut off = t.message("0820", 60);
    off.set_str(60, "00000001002").unwrap();
    assert_eq!(t.exchange(off).await.code(), "00");
    assert!(!host.ledger().terminal(CUP_TID).unwrap().signed_on);
}

#[tokio::test]
async fn balanced_reconciliation_flags_1_and_closing_207() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    for amount in [1000, 2500] {
        let sale = t.sale(amount, CUP_CARD);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    let visa = t.sale(700, VISA);
    assert_eq!(t.exchange(visa).await.code(), "00");

    let f48 = cup_48((3500, 2, 0, 0), (700, 1, 0, 0));
    let reply = t.exchange(cup_0500(&t, 10, 1, &f48)).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0510", "00"));
    let flags = reply.text(48);
    assert_eq!((&flags[30..31], &flags[61..62]), ("1", "1"));
    assert_eq!(&flags[..30], &f48[..30]);
    assert!(t.verify_mac(&reply));

    let mut closing = t.message("0320", 11);
    closing.set_str(48, "0000").unwrap();
    closing.set_str(60, "00000001207").unwrap();
    assert_eq!(t.exchange(closing).await.code(), "00");
    let ledger = host.ledger();
    let term = ledger.terminal(CUP_TID).unwrap();
    let batch = term.last_closed().unwrap();
    assert_eq!(
        (batch.batch, batch.result, batch.claimed_uploads),
        (1, CloseResult::Balanced, Some(0))
    );
    assert_eq!(term.batch, 2, "the next batch");

    // A repeated 0500 for the closed batch: 00 with flags 1.
    let reply = t.exchange(cup_0500(&t, 12, 1, &f48)).await;
    assert_eq!(
        (reply.code().as_str(), &reply.text(48)[30..31]),
        ("00", "1")
    );
    // The next sign-on reports batch 000002.
    let (reply, _) = t.cup_sign_on("003").await;
    assert_eq!(reply.text(60), "00000002003");
}

#[tokio::test]
async fn out_of_balance_groups_of_eight_singles_and_closing_202() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    for i in 0..10u64 {
        let sale = t.sale(100 + i, CUP_CARD);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    // The terminal claims one sale too many.
    let f48 = cup_48((1045 + 999, 11, 0, 0), (0, 0, 0, 0));
    let reply = t.exchange(cup_0500(&t, 20, 1, &f48)).await;
    assert_eq!(reply.code(), "00");
    let flags = reply.text(48);
    assert_eq!((&flags[30..31], &flags[61..62]), ("2", "1"));
    assert_eq!(
        host.ledger().terminal(CUP_TID).unwrap().settling,
        "uploading"
    );

    // 8 per 0320, then the rest (the first group sent twice: it replaces), then a record the
    // host never saw, alone in its 0320.
    let group = |traces: std::ops::Range<u32>| {
        let mut f48 = format!("{:02}", traces.len());
        for trace in traces {
            f48.push_str(&format!(
                "00{trace:06}{CUP_CARD:0>20}{:012}",
                98 + u64::from(trace)
            ));
        }
        f48
    };
    for (trace, traces) in [(21, 2..10), (22, 2..10), (23, 10..12)] {
        let mut up = t.message("0320", trace);
        up.set(48, group(traces).into_bytes()).unwrap();
        up.set_str(60, "00000001201").unwrap();
        let reply = t.exchange(up).await;
        assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0330", "00"));
    }
    let mut single = t.financial("0320", "000000", 40, 999, CUP_CARD);
    single.set(60, b"00000001201".to_vec()).unwrap();
    assert_eq!(t.exchange(single).await.code(), "00");

    let mut closing = t.message("0320", 24);
    closing.set_str(48, "0011").unwrap();
    closing.set_str(60, "00000001202").unwrap();
    assert_eq!(t.exchange(closing).await.code(), "00");

    let ledger = host.ledger();
    let term = ledger.terminal(CUP_TID).unwrap();
    let batch = term.last_closed().unwrap();
    assert_eq!(
        (batch.result, batch.uploads_received, batch.claimed_uploads),
        (CloseResult::Uploaded, 11, Some(11))
    );
    let Totals::Cup(totals) = batch.totals else {
        panic!("cup")
    };
    assert_eq!(
        (totals.domestic.debit_amount, totals.domestic.debit_count),
        (2044, 11)
    );
    assert!(batch.records.iter().any(|r| r.trace == 40 && r.from_upload));
    // The sign-on took trace 1; the sales are 2 to 11.
    assert!((2..=11).all(|trace| term.settlements_of(trace) == 1));
    assert!(batch
        .records
        .iter()
        .all(|r| r.state == RecordState::Approved));
}

#[tokio::test]
async fn batch_number_mismatch_is_77_and_a_sign_on_resolves_it() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    let f48 = cup_48((0, 0, 0, 0), (0, 0, 0, 0));
    assert!(host.set_batch(CUP_TID, 5));
    assert!(!host.set_batch("nobody!!", 5));
    let reply = t.exchange(cup_0500(&t, 2, 1, &f48)).await;
    assert_eq!(reply.code(), "77");
    let (reply, _) = t.cup_sign_on("003").await;
    assert_eq!(reply.text(60), "00000005003");
    let reply = t.exchange(cup_0500(&t, 4, 5, &f48)).await;
    assert_eq!(
        (reply.code().as_str(), &reply.text(48)[30..31]),
        ("00", "1")
    );
}
