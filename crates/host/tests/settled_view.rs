//! The ledger view's "settled" means the sale side of the batch's totals (review finding F9,
//! issue #5; DESIGN §5 "Totals"): a voided sale, its void, refunds and the international void
//! policy never make the settled count or amount disagree with the batch's totals, so a check
//! of "every approved sale settled once or reversed" built on them cannot pass on wrong books.

mod support;

use iso8583_host::{BatchView, Dialect, HostConfig, TerminalView, VoidPolicy};
use support::*;

/// Every closed batch's settled pair is its totals' sale side, and the terminal's sum of them.
fn agrees_with_the_totals(books: &TerminalView) {
    let mut sum = (0, 0);
    for batch in &books.closed {
        assert_eq!(
            (batch.settled, batch.settled_amount),
            batch.totals.sales(),
            "batch {}",
            batch.batch
        );
        if batch.records_kept {
            let (n, a) = settled_records(batch);
            assert_eq!(
                (n, a),
                batch.totals.sales(),
                "records of batch {}",
                batch.batch
            );
        }
        sum = (sum.0 + batch.settled, sum.1 + batch.settled_amount);
    }
    assert_eq!(books.settled(), sum);
}

fn settled_records(batch: &BatchView) -> (u64, u64) {
    let settled = batch.records.iter().filter(|r| r.is_settled());
    settled.fold((0, 0), |(n, a), r| (n + 1, a + r.amount))
}

/// Sale 1 of 10.00; sale 2 of 20.00 voided (trace 3); a refund of 3.00 (trace 4); closed
/// balanced on what the void policy counts.
async fn intl_batch(t: &mut Term, batch: u32, block: &str) {
    let s = t.financial("0200", "000000", 1, 1000, VISA);
    assert_eq!(t.exchange(s).await.code(), "00");
    let s = t.financial("0200", "000000", 2, 2000, VISA);
    let rrn = t.exchange(s).await.text(37);
    let mut v = t.financial("0200", "020000", 3, 2000, VISA);
    v.set(37, rrn.into_bytes()).unwrap();
    assert_eq!(t.exchange(v).await.code(), "00");
    let r = t.financial("0200", "200000", 4, 300, VISA);
    assert_eq!(t.exchange(r).await.code(), "00");
    let b = intl_0500(t, 5, "920000", batch, block);
    assert_eq!(t.exchange(b).await.code(), "00", "balanced: {block}");
}

#[tokio::test]
async fn intl_drop_a_voided_sale_and_refunds_are_not_settled() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    // 18 batches: more than the 16 whose records the host keeps, so summaries are checked too.
    for batch in 1..=18 {
        intl_batch(&mut t, batch, &intl_block(1, 1000, 1, 300)).await;
    }
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    assert_eq!(books.settled(), (18, 18_000));
    assert_eq!(books.last_closed().unwrap().settled, 1);
    assert_eq!(books.settlements_of(1), 16, "in each batch with records");
    assert_eq!(
        books.settlements_of(2),
        0,
        "the voided sale was settled nowhere"
    );
    assert_eq!(books.settlements_of(4), 0, "a refund is not a settled sale");
    assert!(books.closed.iter().any(|b| !b.records_kept));
    agrees_with_the_totals(books);
}

#[tokio::test]
async fn intl_refund_policy_settles_the_voided_sale() {
    let mut config = HostConfig::builtin();
    config.terminals[0].void_policy = VoidPolicy::Refund;
    let host = host_with(config).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    // Sales 1 and 2 (the voided one kept), refunds: 3.00 and the voided 20.00.
    intl_batch(&mut t, 1, &intl_block(2, 3000, 2, 2300)).await;
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    assert_eq!(books.settled(), (2, 3000));
    assert_eq!(books.settlements_of(2), 1);
    assert_eq!(books.settlements_of(3), 0, "the void itself is not a sale");
    agrees_with_the_totals(books);
}

#[tokio::test]
async fn cup_a_voided_sale_stays_settled_in_debit() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    let sale = t.sale(1000, CUP_CARD);
    let approved = t.exchange(sale).await;
    let kept = t.sale(500, VISA);
    assert_eq!(t.exchange(kept).await.code(), "00");
    let mut void = t.financial("0200", "200000", 4, 1000, CUP_CARD);
    void.set(37, approved.text(37).into_bytes()).unwrap();
    void.set(60, b"23000001000".to_vec()).unwrap();
    void.set(61, b"000001000002".to_vec()).unwrap();
    assert_eq!(t.exchange(void).await.code(), "00");
    let mut refund = t.financial("0220", "200000", 5, 50, VISA);
    refund.set(60, b"25000001000".to_vec()).unwrap();
    assert_eq!(t.exchange(refund).await.code(), "00");

    let f48 = cup_48((1000, 1, 1000, 1), (500, 1, 50, 1));
    let reply = t.exchange(cup_0500(&t, 6, 1, &f48)).await;
    assert_eq!(
        (&reply.text(48)[30..31], &reply.text(48)[61..62]),
        ("1", "1")
    );
    let mut closing = t.message("0320", 7);
    closing.set_str(48, "0000").unwrap();
    closing.set_str(60, "00000001207").unwrap();
    assert_eq!(t.exchange(closing).await.code(), "00");

    let view = host.ledger();
    let books = view.terminal(CUP_TID).unwrap();
    assert_eq!(
        books.settled(),
        (2, 1500),
        "both sales, the voided one in debit"
    );
    assert_eq!(books.settlements_of(2), 1);
    assert_eq!((books.settlements_of(4), books.settlements_of(5)), (0, 0));
    agrees_with_the_totals(books);
}
