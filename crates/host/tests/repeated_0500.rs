//! Finding 1 of the new-user review (issue #5): a 0500 is a repeat of the one that closed the
//! last batch only when its batch number *and* its totals are those that batch closed with.
//! Every fresh terminal numbers its first batch 1 and its first trace 1, so a second terminal
//! run against the same host sends a 0500 for batch 1 again, with totals of its own: that one
//! is reconciled against the open batch (00 and closed when it balances, 95 when not), while a
//! true repeat of the closing 0500 still gets 00 and books nothing twice.

mod support;

use iso8583_host::{CloseResult, Dialect, TestHost};
use support::*;

/// One terminal run: a fresh connection (traces from 1) selling `sales`, then its 0500 for
/// batch 1 with `block`; the 0510's code.
async fn intl_run(host: &TestHost, sales: &[u64], block: &str) -> (Term, String) {
    let mut t = Term::connect(host, Dialect::International).await;
    for amount in sales {
        let sale = t.sale(*amount, VISA);
        assert_eq!(t.exchange(sale).await.code(), "00", "a new batch's sale");
    }
    let tr = t.next_trace();
    let code = t
        .exchange(intl_0500(&t, tr, "920000", 1, block))
        .await
        .code();
    (t, code)
}

/// The host closes batch 1 with 3 x 42.00.
async fn intl_first_run(host: &TestHost) {
    let block = intl_block(3, 12_600, 0, 0);
    let (_, code) = intl_run(host, &[4200, 4200, 4200], &block).await;
    assert_eq!(code, "00");
}

#[tokio::test]
async fn intl_fresh_terminal_reusing_batch_1_is_reconciled_and_closes() {
    let host = host().await;
    intl_first_run(&host).await;
    let (_, code) = intl_run(&host, &[500], &intl_block(1, 500, 0, 0)).await;
    assert_eq!(code, "00", "the open batch balances");

    let ledger = host.ledger();
    let books = ledger.terminal(INTL_TID).unwrap();
    assert!(books.open.is_empty(), "the 5.00 sale was settled");
    let numbers: Vec<u32> = books.closed.iter().map(|c| c.batch).collect();
    assert_eq!(numbers, [1, 1]);
    let last = books.last_closed().unwrap();
    assert_eq!(
        (last.result, last.settled, last.records.len()),
        (CloseResult::Balanced, 1, 1)
    );
    assert_eq!(books.batch, 2);
    assert_eq!(books.settling, "idle");

    // A third run starts at trace 1 again: a new batch, so no 94.
    let (_, code) = intl_run(&host, &[700, 800], &intl_block(2, 1500, 0, 0)).await;
    assert_eq!(code, "00");
    let summary = host.shutdown().await;
    assert_eq!(summary.batches_reconciled, 3);
    assert_eq!(summary.repeated_closes, 0);
    assert_eq!(summary.answers("0500", "00"), 3);
    assert_eq!(summary.answers("0200", "94"), 0);
}

#[tokio::test]
async fn intl_fresh_terminal_reusing_batch_1_out_of_balance_is_95() {
    let host = host().await;
    intl_first_run(&host).await;
    // The terminal claims 2 x 5.00; the host approved one.
    let (mut t, code) = intl_run(&host, &[500], &intl_block(2, 1000, 0, 0)).await;
    assert_eq!(
        code, "95",
        "reconciled against the open batch, not taken for a repeat"
    );
    let ledger = host.ledger();
    let books = ledger.terminal(INTL_TID).unwrap();
    assert_eq!(books.closed.len(), 1, "nothing closed");
    assert_eq!((books.batch, books.settling), (1, "uploading"));
    assert_eq!(books.open.len(), 1);

    // The upload and trailer then close it on the uploaded view.
    assert_eq!(
        t.exchange(intl_0320(&t, 3, 1, "000001", 500)).await.code(),
        "00"
    );
    let trailer = intl_0500(&t, 4, "960000", 1, &intl_block(1, 500, 0, 0));
    assert_eq!(t.exchange(trailer).await.code(), "00");
    let ledger = host.ledger();
    let books = ledger.terminal(INTL_TID).unwrap();
    assert_eq!(books.closed.len(), 2);
    assert_eq!(books.last_closed().unwrap().result, CloseResult::Uploaded);
    let summary = host.shutdown().await;
    assert_eq!(
        (summary.batches_reconciled, summary.repeated_closes),
        (2, 0)
    );
    assert_eq!(summary.out_of_balance, 1);
}

/// The closing 0500 sent again (its 0510 lost), twice: 00 each time, one closed batch, each
/// sale settled once, and the summary counts one batch and two repeats.
#[tokio::test]
async fn intl_true_repeat_of_the_closing_0500_is_00_and_books_nothing_twice() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    for amount in [4200, 4200, 4200] {
        let sale = t.sale(amount, VISA);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    let block = intl_block(3, 12_600, 0, 0);
    for _ in 0..3 {
        assert_eq!(
            t.exchange(intl_0500(&t, 4, "920000", 1, &block))
                .await
                .code(),
            "00"
        );
    }
    let ledger = host.ledger();
    let books = ledger.terminal(INTL_TID).unwrap();
    assert_eq!(books.closed.len(), 1);
    assert_eq!(books.last_closed().unwrap().settled, 3);
    for trace in 1..=3 {
        assert_eq!(books.settlements_of(trace), 1, "trace {trace}");
    }
    assert_eq!((books.batch, books.settling), (2, "idle"));
    let summary = host.shutdown().await;
    assert_eq!(summary.batches_reconciled, 1);
    assert_eq!(summary.repeated_closes, 2);
    assert_eq!(summary.answers("0500", "00"), 3);
}

/// A fresh terminal that happens to sell what the closed batch held (3 x 42.00 again): the open
/// batch holds those totals, so it is that batch's 0500 and closes it.
#[tokio::test]
async fn intl_fresh_terminal_with_the_closed_batch_totals_closes_its_own_batch() {
    let host = host().await;
    intl_first_run(&host).await;
    let (_, code) = intl_run(&host, &[4200, 4200, 4200], &intl_block(3, 12_600, 0, 0)).await;
    assert_eq!(code, "00");
    let ledger = host.ledger();
    let books = ledger.terminal(INTL_TID).unwrap();
    assert!(books.open.is_empty());
    assert_eq!(books.closed.len(), 2);
    assert_eq!(host.stats().repeated_closes, 0);
}

/// UnionPay: after batch 1 closed, a 0500 for batch 1 with other totals is not a repeat; the
/// batch number is not the host's (2), so it is 77 as before; a true repeat is 00 with both
/// flags `1`, and the host's batch 2 is reconciled as usual.
#[tokio::test]
async fn cup_0500_for_the_closed_batch_with_other_totals_is_77() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    let s = t.sale(1000, CUP_CARD);
    assert_eq!(t.exchange(s).await.code(), "00");
    let closed_48 = cup_48((1000, 1, 0, 0), (0, 0, 0, 0));
    let tr = t.next_trace();
    assert_eq!(
        t.exchange(cup_0500(&t, tr, 1, &closed_48)).await.code(),
        "00"
    );
    let tr = t.next_trace();
    let mut closing = t.message("0320", tr);
    closing.set_str(48, "0000").unwrap();
    closing.set_str(60, "00000001207").unwrap();
    assert_eq!(t.exchange(closing).await.code(), "00");

    let s = t.sale(500, CUP_CARD);
    assert_eq!(t.exchange(s).await.code(), "00");
    let other = cup_48((500, 1, 0, 0), (0, 0, 0, 0));
    let tr = t.next_trace();
    assert_eq!(t.exchange(cup_0500(&t, tr, 1, &other)).await.code(), "77");
    let tr = t.next_trace();
    let repeat = t.exchange(cup_0500(&t, tr, 1, &closed_48)).await;
    assert_eq!(
        (repeat.code().as_str(), &repeat.text(48)[30..31]),
        ("00", "1")
    );
    let ledger = host.ledger();
    let books = ledger.terminal(CUP_TID).unwrap();
    assert_eq!(
        (books.closed.len(), books.batch, books.settling),
        (1, 2, "idle")
    );

    let tr = t.next_trace();
    let reply = t.exchange(cup_0500(&t, tr, 2, &other)).await;
    assert_eq!(
        (reply.code().as_str(), &reply.text(48)[30..31]),
        ("00", "1")
    );
    let summary = host.shutdown().await;
    assert_eq!(summary.answers("0500", "77"), 1);
    assert_eq!(summary.repeated_closes, 1);
}
