//! Many terminals at once on loopback (bounded: 200 connections × 25 sales), and the ledger
//! written to a SQLite file.

mod support;

use std::time::Duration;

use iso8583_host::{Dialect, HostConfig, Totals};
use support::*;

const TERMINALS: u32 = 200;
const SALES: u32 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_connections_each_selling() {
    let config = HostConfig::builtin().with_terminal_count(TERMINALS);
    let host = host_with(config).await;
    let addr = host.addr(Dialect::International).unwrap();
    let mut tasks = Vec::new();
    for i in 0..TERMINALS {
        tasks.push(tokio::spawn(async move {
            let tid = format!("{:08}", i + 1);
            let mut t = Term::connect_to(addr, Dialect::International, &tid, INTL_MID).await;
            let mut approved = 0;
            for _ in 0..SALES {
                let sale = t.sale(100 + u64::from(i), VISA);
                let reply = t.exchange(sale).await;
                assert_eq!(reply.text(41), tid, "each answer to its own terminal");
                approved += u32::from(reply.code() == "00");
            }
            approved
        }));
    }
    let run = async {
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    };
    let total = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap();
    assert_eq!(total, TERMINALS * SALES);

    let ledger = host.ledger();
    assert_eq!(
        ledger.terminals.len(),
        2 * TERMINALS as usize,
        "UnionPay ones too"
    );
    for i in 0..TERMINALS {
        let term = ledger.terminal(&format!("{:08}", i + 1)).unwrap();
        let Totals::Intl(t) = term.open_totals else {
            panic!("intl")
        };
        assert_eq!(t.sale_count, u64::from(SALES));
        assert_eq!(t.sale_amount, u64::from(SALES) * (100 + u64::from(i)));
    }
    let summary = host.shutdown().await;
    assert_eq!(summary.answers("0200", "00"), u64::from(TERMINALS * SALES));
    assert_eq!(summary.connections, u64::from(TERMINALS));
}

#[tokio::test]
async fn the_ledger_is_written_to_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.sqlite");
    let mut config = HostConfig::builtin();
    config.db = Some(path.clone());
    let host = host_with(config).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    for amount in [1000, 2000] {
        let sale = t.sale(amount, VISA);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    let rev = t.financial("0400", "000000", 2, 2000, VISA);
    assert_eq!(t.exchange(rev).await.code(), "00");
    let reconcile = intl_0500(&t, 3, "920000", 4, &intl_block(1, 1000, 0, 0));
    assert_eq!(t.exchange(reconcile).await.code(), "00");
    let sale = t.sale(300, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    host.shutdown().await;

    let db = rusqlite::Connection::open(&path).unwrap();
    let rows: Vec<(Option<u32>, u32, String, i64, String)> = db
        .prepare("SELECT batch, trace, kind, amount, state || '/' || pan FROM ledger ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            (
                Some(4),
                1,
                "sale".into(),
                1000,
                "approved/476173******0010".into()
            ),
            (
                Some(4),
                2,
                "sale".into(),
                2000,
                "reversed/476173******0010".into()
            ),
            (
                None,
                3,
                "sale".into(),
                300,
                "approved/476173******0010".into()
            ),
        ]
    );
    let (batch, result, totals): (u32, String, String) = db
        .query_row("SELECT batch, result, totals FROM batch", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((batch, result.as_str()), (4, "balanced"));
    assert_eq!(totals, intl_block(1, 1000, 0, 0));
    let full_pans: i64 = db
        .query_row("SELECT COUNT(*) FROM txn WHERE pan = ?1", [VISA], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(full_pans, 0, "PANs are stored masked");
}

#[tokio::test]
async fn a_restarted_host_reads_its_books_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = HostConfig::builtin();
    config.db = Some(dir.path().join("host.sqlite"));

    let host = host_with(config.clone()).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let sale = t.sale(1000, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    let close = intl_0500(&t, 2, "920000", 1, &intl_block(1, 1000, 0, 0));
    assert_eq!(t.exchange(close).await.code(), "00");
    t.trace = 2;
    for amount in [300, 400] {
        let sale = t.sale(amount, VISA);
        assert_eq!(t.exchange(sale).await.code(), "00");
    }
    let rev = t.financial("0400", "000000", 4, 400, VISA);
    assert_eq!(t.exchange(rev).await.code(), "00");
    let before = host.ledger();
    host.shutdown().await;

    let host = host_with(config).await;
    let after = host.ledger();
    let (b, a) = (
        before.terminal(INTL_TID).unwrap(),
        after.terminal(INTL_TID).unwrap(),
    );
    assert_eq!(
        (a.open.clone(), a.closed.clone(), a.batch),
        (b.open.clone(), b.closed.clone(), b.batch)
    );
    assert!(!a.signed_on, "sessions are not stored");

    let mut t = Term::connect(&host, Dialect::International).await;
    let again = t.financial("0200", "000000", 3, 300, VISA);
    assert_eq!(
        t.exchange(again).await.code(),
        "94",
        "a repeat from before the restart"
    );
    let rev = t.financial("0400", "000000", 4, 400, VISA);
    assert_eq!(
        t.exchange(rev).await.code(),
        "00",
        "the same answer to a repeated reversal"
    );
    let repeat = intl_0500(&t, 5, "920000", 1, &intl_block(1, 1000, 0, 0));
    assert_eq!(
        t.exchange(repeat).await.code(),
        "00",
        "the batch closed before the restart"
    );
    let close = intl_0500(&t, 6, "920000", 2, &intl_block(1, 300, 0, 0));
    assert_eq!(t.exchange(close).await.code(), "00");
    let ledger = host.ledger();
    let term = ledger.terminal(INTL_TID).unwrap();
    assert_eq!(term.closed.len(), 2);
    assert_eq!(
        (
            term.settlements_of(1),
            term.settlements_of(3),
            term.settlements_of(4)
        ),
        (1, 1, 0)
    );
    host.shutdown().await;
}
