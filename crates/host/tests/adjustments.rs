//! Tip adjustments (international 0220 naming its sale in 60) and pre-authorisation voids
//! (international 0100 020000, UnionPay 0100 200000 with 60.1 `11` and 61), with raw frames:
//! what the host answers, what its books hold, how a repeat, a reversal, a restart and a
//! completion of a voided pre-auth are answered, and the totals a 0500 is reconciled against.

mod support;

use iso8583_codec::Builder;
use iso8583_host::{Dialect, HostConfig, RecordState, Totals, TxnKind};
use support::*;

/// The tip adjustment advice as the settlement engine lays it out: a new trace, the sale's
/// processing code, 4 the new amount plus tip, 54 the new tip, 60 the original MTI and trace.
fn tip_advice(
    t: &Term,
    trace: u32,
    sale: u32,
    rrn: &str,
    total: u64,
    tip: u64,
) -> Builder<'static, 'static> {
    let mut b = t.financial("0220", "000000", trace, total, VISA);
    b.set(37, rrn.as_bytes().to_vec()).unwrap();
    b.set(54, format!("{tip:012}").into_bytes()).unwrap();
    b.set(60, format!("0200{sale:06}{}", " ".repeat(12)).into_bytes())
        .unwrap();
    b.set_str(62, "000001").unwrap();
    b
}

fn intl_sale_total(host: &iso8583_host::TestHost) -> (u64, u64) {
    let ledger = host.ledger();
    match ledger.terminal(INTL_TID).unwrap().open_totals {
        Totals::Intl(t) => (t.sale_count, t.sale_amount),
        other => panic!("international totals expected: {other:?}"),
    }
}

#[tokio::test]
async fn a_tip_adjustment_changes_the_sales_amount_once_and_the_totals_follow() {
    let host = host().await;
    let (mut t, rrn) = intl_with_a_sale(&host).await;
    let other = t.sale(500, VISA);
    assert_eq!(t.exchange(other).await.code(), "00");

    let reply = t.exchange(tip_advice(&t, 3, 1, &rrn, 1150, 150)).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0230", "00"));
    assert_eq!(reply.text(37), "", "an advice gets no RRN");
    assert_eq!(
        host.ledger()
            .terminal(INTL_TID)
            .unwrap()
            .record(1)
            .unwrap()
            .amount,
        1150
    );
    assert_eq!(intl_sale_total(&host), (2, 1650));
    // The advice is no record of its own.
    assert!(host
        .ledger()
        .terminal(INTL_TID)
        .unwrap()
        .record(3)
        .is_none());

    // A repeat (its answer lost) is a duplicate; a second adjustment, its own trace, applies.
    let again = t.exchange(tip_advice(&t, 3, 1, &rrn, 1400, 400)).await;
    assert_eq!(again.code(), "94");
    assert_eq!(intl_sale_total(&host), (2, 1650));
    let second = t.exchange(tip_advice(&t, 4, 1, &rrn, 1000, 0)).await;
    assert_eq!(second.code(), "00");
    assert_eq!(intl_sale_total(&host), (2, 1500));

    // The terminal's 0500 with the adjusted totals balances.
    let block = intl_block(2, 1500, 0, 0);
    let reply = t.exchange(intl_0500(&t, 5, "920000", 1, &block)).await;
    assert_eq!(reply.code(), "00");
    let summary = host.shutdown().await;
    assert_eq!(summary.answers("0220", "00"), 2);
    assert_eq!(summary.answers("0220", "94"), 1);
}

#[tokio::test]
async fn a_tip_adjustment_of_no_standing_sale_is_25_and_a_malformed_one_30_or_13() {
    let host = host().await;
    let (mut t, rrn) = intl_with_a_sale(&host).await;
    // Unknown trace; the right trace with another RRN.
    assert_eq!(
        t.exchange(tip_advice(&t, 2, 9, &rrn, 1100, 100))
            .await
            .code(),
        "25"
    );
    let wrong = tip_advice(&t, 3, 1, "000000000999", 1100, 100);
    assert_eq!(t.exchange(wrong).await.code(), "25");
    // A voided sale takes no tip.
    let mut void = t.financial("0200", "020000", 4, 1000, VISA);
    void.set(37, rrn.clone().into_bytes()).unwrap();
    assert_eq!(t.exchange(void).await.code(), "00");
    assert_eq!(
        t.exchange(tip_advice(&t, 5, 1, &rrn, 1100, 100))
            .await
            .code(),
        "25"
    );
    // 54 not 12 digits (30); 60 naming a 0100, which is no sale (25); a tip above the amount
    // (13).
    let mut short = tip_advice(&t, 6, 1, &rrn, 1100, 100);
    short.set_str(54, "100").unwrap();
    assert_eq!(t.exchange(short).await.code(), "30");
    let mut not_a_sale = tip_advice(&t, 7, 1, &rrn, 1100, 100);
    not_a_sale
        .set(60, format!("0100000001{}", " ".repeat(12)).into_bytes())
        .unwrap();
    assert_eq!(t.exchange(not_a_sale).await.code(), "25");
    assert_eq!(
        t.exchange(tip_advice(&t, 8, 1, &rrn, 100, 200))
            .await
            .code(),
        "13"
    );
    assert_eq!(
        host.ledger()
            .terminal(INTL_TID)
            .unwrap()
            .record(1)
            .unwrap()
            .amount,
        1000
    );
    // A 0220 without 60 is still an offline sale.
    let offline = t.financial("0220", "000000", 9, 300, VISA);
    assert_eq!(t.exchange(offline).await.code(), "00");
    let ledger = host.ledger();
    let rec = ledger.terminal(INTL_TID).unwrap().record(9).unwrap();
    assert_eq!((rec.kind, rec.amount), (TxnKind::OfflineSale, 300));
}

/// The adjusted amount is stored: a host restarted on its file holds it, and the adjustment's
/// repeat is still a duplicate (its 00 is stored, since it leaves no record).
#[tokio::test]
async fn a_tip_adjustment_survives_a_restart_and_its_repeat_is_still_94() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.sqlite");
    let mut config = HostConfig::builtin();
    config.db = Some(db.clone());
    let rrn = {
        let host = host_with(config.clone()).await;
        let (mut t, rrn) = intl_with_a_sale(&host).await;
        assert_eq!(
            t.exchange(tip_advice(&t, 2, 1, &rrn, 1200, 200))
                .await
                .code(),
            "00"
        );
        host.shutdown().await;
        rrn
    };
    let host = host_with(config).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    assert_eq!(
        host.ledger()
            .terminal(INTL_TID)
            .unwrap()
            .record(1)
            .unwrap()
            .amount,
        1200
    );
    assert_eq!(
        t.exchange(tip_advice(&t, 2, 1, &rrn, 1200, 200))
            .await
            .code(),
        "94"
    );
    let block = intl_block(1, 1200, 0, 0);
    assert_eq!(
        t.exchange(intl_0500(&t, 3, "920000", 1, &block))
            .await
            .code(),
        "00"
    );
}

/// International: 0100 020000 naming the pre-auth by RRN and amount marks it voided (25 when
/// none matches), a completion of it is declined 12, and a 0400 of the void gives it back.
#[tokio::test]
async fn intl_pre_auth_void_marks_it_and_its_completion_is_declined() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let pre = t.financial("0100", "000000", 1, 8000, VISA);
    let approved = t.exchange(pre).await;
    assert_eq!(approved.code(), "00");
    let (rrn, approval) = (approved.text(37), approved.text(38));
    let void = |t: &Term, trace: u32, amount: u64, rrn: &str| {
        let mut b = t.financial("0100", "020000", trace, amount, VISA);
        b.set(37, rrn.as_bytes().to_vec()).unwrap();
        b.set(38, approval.as_bytes().to_vec()).unwrap();
        b.set_str(25, "06").unwrap();
        b
    };
    assert_eq!(
        t.exchange(void(&t, 2, 7999, &rrn)).await.code(),
        "25",
        "another amount"
    );
    assert_eq!(
        t.exchange(void(&t, 3, 8000, "000000000999")).await.code(),
        "25"
    );
    let reply = t.exchange(void(&t, 4, 8000, &rrn)).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0110", "00"));
    assert_eq!(reply.text(3), "020000");
    let ledger = host.ledger();
    let books = ledger.terminal(INTL_TID).unwrap();
    assert_eq!(books.record(1).unwrap().state, RecordState::Voided);
    let v = books.record(4).unwrap();
    assert_eq!((v.kind, v.original_trace), (TxnKind::PreAuthVoid, Some(1)));
    assert_eq!(intl_sale_total(&host), (0, 0), "in no total");
    // A second void finds no approved pre-auth.
    assert_eq!(t.exchange(void(&t, 5, 8000, &rrn)).await.code(), "25");

    let completion = |t: &Term, trace: u32| {
        let mut b = t.financial("0200", "000000", trace, 7500, VISA);
        b.set_str(25, "06").unwrap();
        b.set(38, approval.as_bytes().to_vec()).unwrap();
        b
    };
    assert_eq!(t.exchange(completion(&t, 6)).await.code(), "12");
    assert_eq!(t.exchange(completion(&t, 6)).await.code(), "94", "a repeat");
    assert!(host
        .ledger()
        .terminal(INTL_TID)
        .unwrap()
        .record(6)
        .is_none());

    // The void reversed (its answer, say, lost): the pre-auth stands again and completes.
    let mut rev = t.financial("0400", "020000", 4, 8000, VISA);
    rev.set(37, rrn.clone().into_bytes()).unwrap();
    rev.set_str(25, "06").unwrap().set_str(39, "98").unwrap();
    assert_eq!(t.exchange(rev).await.code(), "00");
    assert_eq!(
        host.ledger()
            .terminal(INTL_TID)
            .unwrap()
            .record(1)
            .unwrap()
            .state,
        RecordState::Approved
    );
    let reply = t.exchange(completion(&t, 7)).await;
    assert_eq!(reply.code(), "00");
    assert_eq!(intl_sale_total(&host), (1, 7500));
}

/// UnionPay: 0100 200000 with 60.1 `11` and 61 = batch + the pre-auth's trace; the pre-auth is
/// found by that trace (or the RRN) and amount, and the debit and credit totals do not move.
#[tokio::test]
async fn cup_pre_auth_void_by_field_61() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    let mut pre = t.financial("0100", "030000", 2, 6000, CUP_CARD);
    pre.set(60, b"10000001000".to_vec()).unwrap();
    pre.set_str(25, "06").unwrap();
    let approved = t.exchange(pre).await;
    assert_eq!(approved.code(), "00");
    let sale = t.financial("0200", "000000", 3, 1000, CUP_CARD);
    assert_eq!(t.exchange(sale).await.code(), "00");
    let void = |t: &Term, trace: u32, original: u32| {
        let mut b = t.financial("0100", "200000", trace, 6000, CUP_CARD);
        b.set(38, approved.text(38).into_bytes()).unwrap();
        b.set(60, b"11000001000".to_vec()).unwrap();
        b.set(61, format!("000001{original:06}").into_bytes())
            .unwrap();
        b.set_str(25, "06").unwrap();
        b
    };
    // 61 naming the sale: a pre-auth void cancels pre-auths only.
    assert_eq!(t.exchange(void(&t, 4, 3)).await.code(), "25");
    let reply = t.exchange(void(&t, 5, 2)).await;
    assert_eq!((reply.mti.as_str(), reply.code().as_str()), ("0110", "00"));
    assert!(t.verify_mac(&reply));
    let ledger = host.ledger();
    let books = ledger.terminal(CUP_TID).unwrap();
    assert_eq!(books.record(2).unwrap().state, RecordState::Voided);
    assert_eq!(books.record(5).unwrap().kind, TxnKind::PreAuthVoid);
    let Totals::Cup(totals) = books.open_totals else {
        panic!("cup")
    };
    assert_eq!(
        (totals.domestic.debit_count, totals.domestic.debit_amount),
        (1, 1000)
    );
    assert_eq!(
        totals.domestic.credit_count, 0,
        "a pre-auth void is no credit"
    );
    // Settles balanced on the sale alone, the void neither uploaded nor counted.
    let f48 = cup_48((1000, 1, 0, 0), (0, 0, 0, 0));
    let reply = t.exchange(cup_0500(&t, 6, 1, &f48)).await;
    assert_eq!(&reply.text(48)[30..31], "1");
}
