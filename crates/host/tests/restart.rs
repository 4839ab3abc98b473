//! A host restarted on its ledger file answers as it did before (review finding F12, issue
//! #5): a repeat of a declined request is a duplicate (94), not authorised again; a trailer
//! answered 95 gets 95 on a repeat; an upload interrupted by the restart goes on (the
//! settlement state is stored), and the host's batch number for a terminal survives.

mod support;

use std::path::Path;

use iso8583_host::{CloseResult, Dialect, HostConfig, Rules, TestHost};
use support::*;

fn config(db: &Path) -> HostConfig {
    let mut c = HostConfig::builtin();
    c.db = Some(db.to_path_buf());
    c
}

#[tokio::test]
async fn a_declined_sale_repeated_after_a_restart_is_94() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.sqlite");
    {
        let host = host_with(config(&db)).await;
        let mut t = Term::connect(&host, Dialect::International).await;
        for code in ["13", "94"] {
            let big = t.financial("0200", "000000", 4, 999_999_999_999, VISA);
            assert_eq!(t.exchange(big).await.code(), code);
        }
        // A void of nothing is a declined request too.
        let mut void = t.financial("0200", "020000", 5, 100, VISA);
        void.set_str(37, "999999999999").unwrap();
        assert_eq!(t.exchange(void).await.code(), "25");
        host.shutdown().await;
    }
    // After the restart the rules would approve anything: only the memory can say 94.
    let mut c = config(&db);
    c.rules = toml::from_str::<Rules>("max_amount = 999999999999").unwrap();
    let host = host_with(c).await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let big = t.financial("0200", "000000", 4, 999_999_999_999, VISA);
    assert_eq!(t.exchange(big).await.code(), "94");
    let mut void = t.financial("0200", "020000", 5, 100, VISA);
    void.set_str(37, "999999999999").unwrap();
    assert_eq!(t.exchange(void).await.code(), "94");
    assert!(host.ledger().terminal(INTL_TID).unwrap().open.is_empty());
    // A new trace number is a new request.
    let fresh = t.financial("0200", "000000", 6, 999_999_999_999, VISA);
    assert_eq!(t.exchange(fresh).await.code(), "00");
}

/// A settlement half done when the host stops: after the restart the upload goes on (not 12)
/// and the trailer closes the batch with every record uploaded once.
#[tokio::test]
async fn an_upload_goes_on_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.sqlite");
    let block = intl_block(3, 6000, 0, 0);
    {
        let host = host_with(config(&db)).await;
        let mut t = Term::connect(&host, Dialect::International).await;
        for amount in [1000, 2000, 3000] {
            let s = t.sale(amount, VISA);
            assert_eq!(t.exchange(s).await.code(), "00");
        }
        let forced = intl_0500(&t, 4, "920000", 9, &intl_block(0, 0, 0, 0));
        assert_eq!(t.exchange(forced).await.code(), "95");
        let up = intl_0320(&t, 5, 1, "000001", 1000);
        assert_eq!(t.exchange(up).await.code(), "00");
        // A trailer with wrong totals: 95, and the settlement starts again at 920000.
        let trailer = intl_0500(&t, 6, "960000", 9, &intl_block(1, 1, 0, 0));
        assert_eq!(t.exchange(trailer).await.code(), "95");
        let again = intl_0500(&t, 7, "920000", 9, &intl_block(0, 0, 0, 0));
        assert_eq!(t.exchange(again).await.code(), "95");
        let up = intl_0320(&t, 8, 1, "000001", 1000);
        assert_eq!(t.exchange(up).await.code(), "00");
        host.shutdown().await;
    }
    let host = restarted(&db).await;
    let view = host.ledger();
    assert_eq!(view.terminal(INTL_TID).unwrap().settling, "uploading");
    let mut t = Term::connect(&host, Dialect::International).await;
    // The first trailer's repeat still gets its first answer.
    let trailer = intl_0500(&t, 6, "960000", 9, &intl_block(1, 1, 0, 0));
    assert_eq!(t.exchange(trailer).await.code(), "95");
    for (trace, original, amount) in [(9, 2, 2000), (10, 3, 3000)] {
        let up = intl_0320(&t, trace, original, "000001", amount);
        assert_eq!(t.exchange(up).await.code(), "00", "upload of {original}");
    }
    let trailer = intl_0500(&t, 11, "960000", 9, &block);
    assert_eq!(t.exchange(trailer).await.code(), "00");
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    let batch = books.last_closed().unwrap();
    assert_eq!(
        (batch.batch, batch.result, batch.uploads_received),
        (9, CloseResult::Uploaded, 3)
    );
    assert!((1..=3).all(|trace| books.settlements_of(trace) == 1));
}

#[tokio::test]
async fn the_host_batch_number_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.sqlite");
    {
        let host = host_with(config(&db)).await;
        assert!(host.set_batch(CUP_TID, 42));
        host.shutdown().await;
    }
    let host = restarted(&db).await;
    let mut t = Term::connect(&host, Dialect::UnionPay).await;
    let (reply, keys) = t.cup_sign_on("003").await;
    keys.unwrap();
    assert_eq!(reply.text(60), "00000042003");
}

async fn restarted(db: &Path) -> TestHost {
    host_with(config(db)).await
}
