//! What the host checks in a financial request before it books it (review findings F6, F7
//! and F11, issue #5): a void must be for its sale's amount (25 otherwise, as for a 0400,
//! DESIGN §6), field 42 must be the terminal's merchant (03, DESIGN §9), and the card behind a
//! request sent with track 2 only is read from the track, for its card group (DESIGN §5) and
//! for card-prefix rules.

mod support;

use iso8583_host::{CardGroup, Dialect, HostConfig, RecordState, Rules, Totals};
use support::*;

const TRACK2: &[u8] = b"6212345678901234D22122011143804400000";

#[tokio::test]
async fn intl_void_for_another_amount_is_25_and_the_sale_stays() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let s = t.sale(100_000, VISA);
    let rrn = t.exchange(s).await.text(37);
    for (trace, amount, code) in [(2, 1, "25"), (3, 100_001, "25"), (4, 100_000, "00")] {
        let mut void = t.financial("0200", "020000", trace, amount, VISA);
        void.set(37, rrn.clone().into_bytes()).unwrap();
        assert_eq!(t.exchange(void).await.code(), code, "void of {amount}");
        let state = host
            .ledger()
            .terminal(INTL_TID)
            .unwrap()
            .record(1)
            .unwrap()
            .state;
        let expected = match code {
            "00" => RecordState::Voided,
            _ => RecordState::Approved,
        };
        assert_eq!(state, expected, "after the void of {amount}");
    }
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    // The refused voids left no record; the one that matched did.
    assert!(books.record(2).is_none() && books.record(3).is_none());
    assert_eq!(books.record(4).unwrap().original_trace, Some(1));
    // A repeat of a refused void is a duplicate, not a second try.
    let mut again = t.financial("0200", "020000", 2, 100_000, VISA);
    again.set(37, rrn.into_bytes()).unwrap();
    assert_eq!(t.exchange(again).await.code(), "94");
}

#[tokio::test]
async fn cup_void_for_another_amount_is_25_and_the_totals_stay() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    let sale = t.sale(100_000, CUP_CARD);
    let approved = t.exchange(sale).await;
    // The sign-on took trace 1, the sale 2; 61 names batch 000001, trace 000002.
    let mut void = t.financial("0200", "200000", 3, 1, CUP_CARD);
    void.set(37, approved.text(37).into_bytes()).unwrap();
    void.set(60, b"23000001000".to_vec()).unwrap();
    void.set(61, b"000001000002".to_vec()).unwrap();
    assert_eq!(t.exchange(void).await.code(), "25");
    let view = host.ledger();
    let books = view.terminal(CUP_TID).unwrap();
    assert_eq!(books.record(2).unwrap().state, RecordState::Approved);
    let Totals::Cup(totals) = books.open_totals else {
        panic!("cup")
    };
    assert_eq!(
        (totals.domestic.debit_amount, totals.domestic.credit_count),
        (100_000, 0)
    );
}

#[tokio::test]
async fn a_request_under_another_merchant_is_03_in_both_dialects() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    t.mid = "999999999999999".into();
    let s = t.sale(100, VISA);
    assert_eq!(t.exchange(s).await.code(), "03");
    let mut sign_on = t.message("0800", 2);
    sign_on
        .set_str(3, "920000")
        .unwrap()
        .set_str(24, "003")
        .unwrap();
    assert_eq!(t.exchange(sign_on).await.code(), "03");
    let books = host.ledger();
    assert!(books.terminal(INTL_TID).unwrap().open.is_empty());
    assert!(!books.terminal(INTL_TID).unwrap().signed_on);

    // Its own merchant, or none at all (field 42 is optional in a request): served.
    t.mid = INTL_MID.into();
    let s = t.sale(100, VISA);
    assert_eq!(t.exchange(s).await.code(), "00");
    let mut without = t.sale(200, VISA);
    without.remove(42);
    assert_eq!(t.exchange(without).await.code(), "00");

    let mut cup = Term::connect(&host, Dialect::UnionPay).await;
    cup.mid = INTL_MID.into();
    let (reply, keys) = cup.cup_sign_on("003").await;
    assert_eq!(reply.code(), "03");
    assert!(keys.is_err(), "no keys for another merchant");
    assert!(!host.ledger().terminal(CUP_TID).unwrap().signed_on);
}

#[tokio::test]
async fn a_swiped_unionpay_sale_without_field_2_is_domestic() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    let trace = t.next_trace();
    let mut b = t.financial("0200", "000000", trace, 1000, CUP_CARD);
    b.remove(2);
    b.set(35, TRACK2.to_vec()).unwrap();
    assert_eq!(t.exchange(b).await.code(), "00");
    let view = host.ledger();
    let rec = view
        .terminal(CUP_TID)
        .unwrap()
        .record(trace)
        .unwrap()
        .clone();
    assert_eq!(rec.group, CardGroup::Domestic);
    // Only the masked account number is kept, never the track.
    assert_eq!(rec.pan, "621234******1234");
}

#[tokio::test]
async fn card_prefix_rules_match_the_account_number_of_track_2() {
    let mut config = HostConfig::builtin();
    config.rules =
        toml::from_str::<Rules>("[[auth]]\ncard_prefix = \"621234\"\nrespond = \"14\"").unwrap();
    let host = host_with(config).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let mut swiped = t.sale(1000, VISA);
    swiped.remove(2);
    swiped.set(35, TRACK2.to_vec()).unwrap();
    assert_eq!(t.exchange(swiped).await.code(), "14");
    // A track without a separator within 19 digits gives no account number: no match.
    let mut odd = t.sale(1000, VISA);
    odd.remove(2);
    odd.set(35, b"62123456789012345678901".to_vec()).unwrap();
    assert_eq!(t.exchange(odd).await.code(), "00");
    // Field 2 wins over the track.
    let mut both = t.sale(1000, VISA);
    both.set(35, TRACK2.to_vec()).unwrap();
    assert_eq!(t.exchange(both).await.code(), "00");
}
