//! What a long run, or a peer, can make the host remember is bounded (review findings F3 and
//! F5, issue #5). Counted, not measured as RSS: the in-memory ledger database's rows stay
//! within the open batch and the last 16 closed ones (a file keeps every row), and a stream of
//! 0400s for ever-new amounts is answered 25 without the host keeping each one.

mod support;

use iso8583_host::{Dialect, HostConfig, TestHost};
use support::*;

const SALES: u32 = 40;
const BATCHES: u32 = 40;
/// `CLOSED_WITH_RECORDS` in the host: closed batches whose records stay in memory.
const KEPT: u64 = 16;

/// Sells `SALES` sales (pipelined) and closes the batch balanced, `BATCHES` times.
async fn sell_and_settle(host: &TestHost) {
    let mut t = Term::connect(host, Dialect::International).await;
    for batch in 1..=BATCHES {
        t.trace = 0;
        for _ in 0..SALES {
            let s = t.sale(100, VISA);
            t.send(s).await;
        }
        for _ in 0..SALES {
            assert_eq!(t.recv_within(ANSWER).await.unwrap().code(), "00");
        }
        let block = intl_block(SALES, u64::from(SALES) * 100, 0, 0);
        let b = intl_0500(&t, 999_000, "920000", batch, &block);
        assert_eq!(t.exchange(b).await.code(), "00");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_memory_ledger_keeps_only_what_the_books_keep() {
    let host = host().await;
    sell_and_settle(&host).await;
    let rows = host.stored_records().await.unwrap();
    assert_eq!(
        rows,
        KEPT * u64::from(SALES),
        "rows of the last 16 batches only"
    );
    // The books agree with themselves: every batch still counts in the view's summaries.
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    assert_eq!(books.closed.len(), BATCHES as usize);
    assert_eq!(books.settled().0, u64::from(SALES * BATCHES));
    assert_eq!(
        books.closed.iter().filter(|b| b.records_kept).count() as u64,
        KEPT
    );
    // A new batch adds its rows again.
    let mut t = Term::connect(&host, Dialect::International).await;
    let s = t.sale(100, VISA);
    assert_eq!(t.exchange(s).await.code(), "00");
    assert_eq!(host.stored_records().await, Some(rows + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_file_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = HostConfig::builtin();
    config.db = Some(dir.path().join("ledger.sqlite"));
    let host = host_with(config).await;
    sell_and_settle(&host).await;
    let rows = host.stored_records().await.unwrap();
    assert_eq!(rows, u64::from(SALES * BATCHES));
}

/// 0400s for one trace and 3,000 amounts the host never approved: each is 25, a recent one
/// repeated is 25, and a matched reversal stays 00 on a repeat however many came between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_reversals_are_25_and_a_matched_one_stays_00() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.financial("0200", "000000", 7, 5000, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    let reversal = |t: &Term, amount| {
        let mut rev = t.financial("0400", "000000", 7, amount, VISA);
        rev.set_str(39, "98").unwrap();
        rev
    };
    assert_eq!(t.exchange(reversal(&t, 5000)).await.code(), "00");
    for amount in 1..=3000u64 {
        t.send(reversal(&t, 10_000 + amount)).await;
    }
    for _ in 0..3000 {
        assert_eq!(t.recv_within(ANSWER).await.unwrap().code(), "25");
    }
    assert_eq!(t.exchange(reversal(&t, 13_000)).await.code(), "25");
    assert_eq!(
        t.exchange(reversal(&t, 5000)).await.code(),
        "00",
        "its repeat"
    );
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    assert_eq!(books.open.len(), 1, "no 0400 added a record");
    assert_eq!(
        books.record(7).unwrap().state,
        iso8583_host::RecordState::Reversed
    );
}
