//! The settlement sequence is enforced (review finding F2, issue #5; DESIGN §5 state diagram):
//! a trailer, an upload or a closing 0320 out of turn is refused and closes nothing, a closing
//! 0320 must carry the host's batch number and agree with the 0510's flags, and a terminal
//! that retries after a lost reply still gets its first answer. Also the 0500's own checks:
//! an unknown processing code is 12, a totals field that is not totals is 30.

mod support;

use iso8583_codec::Builder;
use iso8583_host::{CloseResult, Dialect, RecordState};
use support::*;

fn cup_closing(t: &mut Term, sixty: &str, count: &str) -> Builder<'static, 'static> {
    let tr = t.next_trace();
    let mut b = t.message("0320", tr);
    b.set(48, count.as_bytes().to_vec()).unwrap();
    b.set(60, sixty.as_bytes().to_vec()).unwrap();
    b
}

fn closed(host: &iso8583_host::TestHost, tid: &str) -> usize {
    host.ledger().terminal(tid).unwrap().closed.len()
}

/// A UnionPay terminal, signed on, with one domestic sale of 10.00.
async fn cup_with_a_sale(host: &iso8583_host::TestHost) -> Term {
    let mut t = Term::connect(host, Dialect::UnionPay).await;
    t.cup_sign_on("003").await.1.unwrap();
    let s = t.sale(1000, CUP_CARD);
    assert_eq!(t.exchange(s).await.code(), "00");
    t
}

#[tokio::test]
async fn intl_trailer_without_a_95_is_12_and_closes_nothing() {
    let host = host().await;
    let (mut t, _) = intl_with_a_sale(&host).await;
    let trailer = intl_0500(&t, 50, "960000", 1, &intl_block(0, 0, 0, 0));
    assert_eq!(t.exchange(trailer).await.code(), "12");
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    assert!(books.closed.is_empty(), "closed {:?}", books.closed);
    assert_eq!(books.record(1).unwrap().state, RecordState::Approved);
    assert_eq!(books.settling, "idle");
}

#[tokio::test]
async fn intl_upload_outside_a_settlement_is_12() {
    let host = host().await;
    let mut t = Term::connect(&host, Dialect::International).await;
    let up = intl_0320(&t, 60, 999, "000001", 5000);
    assert_eq!(t.exchange(up).await.code(), "12");
    assert!(host.ledger().terminal(INTL_TID).unwrap().open.is_empty());
}

#[tokio::test]
async fn intl_trailer_for_another_batch_than_the_0500s_is_12() {
    let host = host().await;
    let (mut t, _) = intl_with_a_sale(&host).await;
    let wrong = intl_0500(&t, 2, "920000", 3, &intl_block(0, 0, 0, 0));
    assert_eq!(t.exchange(wrong).await.code(), "95");
    let up = intl_0320(&t, 3, 1, "000001", 1000);
    assert_eq!(t.exchange(up).await.code(), "00");
    let other = intl_0500(&t, 4, "960000", 4, &intl_block(1, 1000, 0, 0));
    assert_eq!(t.exchange(other).await.code(), "12");
    assert_eq!(closed(&host, INTL_TID), 0);
    // The right batch number closes it.
    let trailer = intl_0500(&t, 5, "960000", 3, &intl_block(1, 1000, 0, 0));
    assert_eq!(t.exchange(trailer).await.code(), "00");
    assert_eq!(closed(&host, INTL_TID), 1);
}

/// A trailer answered 95 leaves the batch open and the settlement idle: its repeat (the reply
/// was lost) gets 95 again, another trailer without a new 920000 gets 12, and the next round
/// from 920000 closes as before.
#[tokio::test]
async fn intl_repeated_trailer_gets_its_first_answer() {
    let host = host().await;
    let (mut t, _) = intl_with_a_sale(&host).await;
    let wrong = intl_block(1, 9999, 0, 0);
    assert_eq!(
        t.exchange(intl_0500(&t, 2, "920000", 1, &wrong))
            .await
            .code(),
        "95"
    );
    assert_eq!(
        t.exchange(intl_0320(&t, 3, 1, "000001", 1000)).await.code(),
        "00"
    );
    let trailer = || intl_0500(&t, 4, "960000", 1, &wrong);
    let (first, repeat) = (trailer(), trailer());
    assert_eq!(t.exchange(first).await.code(), "95");
    assert_eq!(
        t.exchange(repeat).await.code(),
        "95",
        "a repeat: first answer"
    );
    let fresh = intl_0500(&t, 5, "960000", 1, &wrong);
    assert_eq!(t.exchange(fresh).await.code(), "12", "no 920000 since");
    assert_eq!(closed(&host, INTL_TID), 0);

    let right = intl_block(1, 1000, 0, 0);
    assert_eq!(
        t.exchange(intl_0500(&t, 6, "920000", 1, &right))
            .await
            .code(),
        "00"
    );
    assert_eq!(closed(&host, INTL_TID), 1);
}

/// The trailer that closed the batch, repeated: 00 again, and nothing else changes.
#[tokio::test]
async fn intl_repeated_closing_trailer_is_00() {
    let host = host().await;
    let (mut t, _) = intl_with_a_sale(&host).await;
    let block = intl_block(1, 1000, 0, 0);
    let forced = intl_0500(&t, 2, "920000", 1, &intl_block(0, 0, 0, 0));
    assert_eq!(t.exchange(forced).await.code(), "95");
    assert_eq!(
        t.exchange(intl_0320(&t, 3, 1, "000001", 1000)).await.code(),
        "00"
    );
    for _ in 0..2 {
        let trailer = intl_0500(&t, 4, "960000", 1, &block);
        assert_eq!(t.exchange(trailer).await.code(), "00");
    }
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    assert_eq!(books.closed.len(), 1);
    assert_eq!(books.last_closed().unwrap().result, CloseResult::Uploaded);
    assert_eq!(books.settlements_of(1), 1);
}

#[tokio::test]
async fn intl_0500_checks_its_processing_code_and_totals_field() {
    let host = host().await;
    let (mut t, _) = intl_with_a_sale(&host).await;
    let right = intl_block(1, 1000, 0, 0);
    let other_code = intl_0500(&t, 2, "930000", 1, &right);
    assert_eq!(t.exchange(other_code).await.code(), "12");

    // Not digits in the totals, and totals shorter than the four of them: format errors.
    let mut garbage = intl_0500(&t, 3, "920000", 1, &right);
    garbage
        .set(63, b"00100000000100000x000000000000".to_vec())
        .unwrap();
    assert_eq!(t.exchange(garbage).await.code(), "30");
    let mut short = intl_0500(&t, 4, "920000", 1, &right);
    short.set(63, right.as_bytes()[..29].to_vec()).unwrap();
    assert_eq!(t.exchange(short).await.code(), "30");
    let view = host.ledger();
    let books = view.terminal(INTL_TID).unwrap();
    assert_eq!((books.closed.len(), books.settling), (0, "idle"));
    assert_eq!(host.stats().out_of_balance, 0, "no 95 was given");

    // Exactly 30 characters (terminals without the 60 filler digits) is a totals block.
    let mut thirty = intl_0500(&t, 5, "920000", 1, &right);
    thirty.set(63, right.clone().into_bytes()).unwrap();
    assert_eq!(t.exchange(thirty).await.code(), "00");
}

#[tokio::test]
async fn cup_closing_0320_without_a_0500_is_12() {
    let host = host().await;
    let mut t = cup_with_a_sale(&host).await;
    for sixty in ["00000001207", "00000001202"] {
        let b = cup_closing(&mut t, sixty, "0000");
        assert_eq!(t.exchange(b).await.code(), "12", "{sixty}");
    }
    // An upload before the 0500 is out of turn too.
    let tr = t.next_trace();
    let mut single = t.financial("0320", "000000", tr, 1000, CUP_CARD);
    single.set(60, b"00000001203".to_vec()).unwrap();
    assert_eq!(t.exchange(single).await.code(), "12");
    let view = host.ledger();
    let books = view.terminal(CUP_TID).unwrap();
    assert!(books.closed.is_empty());
    assert!(books.open.iter().all(|r| !r.uploaded && !r.from_upload));
}

/// Flags 2, then a closing 207 without an upload: 95 (upload first), the batch stays open;
/// the upload and a closing 202 then close it on the uploaded view.
#[tokio::test]
async fn cup_207_after_not_balanced_is_95_until_uploaded_and_closed_202() {
    let host = host().await;
    let mut t = cup_with_a_sale(&host).await;
    let tr = t.next_trace();
    let r = t
        .exchange(cup_0500(&t, tr, 1, &cup_48((1, 1, 0, 0), (0, 0, 0, 0))))
        .await;
    assert_eq!(&r.text(48)[30..31], "2", "domestic group not balanced");
    let b = cup_closing(&mut t, "00000001207", "0000");
    assert_eq!(t.exchange(b).await.code(), "95");
    assert!(host.ledger().terminal(CUP_TID).unwrap().closed.is_empty());

    // One record per 0320: field 11 is the original trace (the sale's, 2; sign-on took 1).
    let mut single = t.financial("0320", "000000", 2, 1000, CUP_CARD);
    single.set(60, b"00000001201".to_vec()).unwrap();
    assert_eq!(t.exchange(single).await.code(), "00");
    let b = cup_closing(&mut t, "00000001202", "0001");
    assert_eq!(t.exchange(b).await.code(), "00");
    let view = host.ledger();
    let books = view.terminal(CUP_TID).unwrap();
    let batch = books.last_closed().unwrap();
    assert_eq!(
        (batch.result, batch.uploads_received),
        (CloseResult::Uploaded, 1)
    );
    assert_eq!(books.settlements_of(2), 1);
}

/// Flags 1, then a closing 202: 12 (closing on an upload of chip records only would drop the
/// magnetic-stripe sales); the 207 it should have sent closes the batch as balanced.
#[tokio::test]
async fn cup_202_after_balanced_is_12() {
    let host = host().await;
    let mut t = cup_with_a_sale(&host).await;
    let tr = t.next_trace();
    let r = t
        .exchange(cup_0500(&t, tr, 1, &cup_48((1000, 1, 0, 0), (0, 0, 0, 0))))
        .await;
    assert_eq!(&r.text(48)[30..31], "1");
    let b = cup_closing(&mut t, "00000001202", "0000");
    assert_eq!(t.exchange(b).await.code(), "12");
    assert!(host.ledger().terminal(CUP_TID).unwrap().closed.is_empty());
    let b = cup_closing(&mut t, "00000001207", "0000");
    assert_eq!(t.exchange(b).await.code(), "00");
    let view = host.ledger();
    let batch = view
        .terminal(CUP_TID)
        .unwrap()
        .last_closed()
        .unwrap()
        .clone();
    assert_eq!(batch.result, CloseResult::Balanced);
    assert_eq!(batch.records[0].state, RecordState::Approved);
}

#[tokio::test]
async fn cup_closing_0320_for_another_batch_number_is_77() {
    let host = host().await;
    let mut t = cup_with_a_sale(&host).await;
    let tr = t.next_trace();
    let r = t
        .exchange(cup_0500(&t, tr, 1, &cup_48((1000, 1, 0, 0), (0, 0, 0, 0))))
        .await;
    assert_eq!(r.code(), "00");
    let b = cup_closing(&mut t, "00000777207", "0000");
    assert_eq!(t.exchange(b).await.code(), "77");
    assert!(host.ledger().terminal(CUP_TID).unwrap().closed.is_empty());
    // Without a 0500 at all, the sequence is checked first.
    let fresh = support::host().await;
    let mut t = cup_with_a_sale(&fresh).await;
    let b = cup_closing(&mut t, "00000777202", "0000");
    assert_eq!(t.exchange(b).await.code(), "12");
}

/// The closing 0320 repeated after a lost reply: its first answer (00), one closed batch.
#[tokio::test]
async fn cup_repeated_closing_0320_is_00_once_closed() {
    let host = host().await;
    let mut t = cup_with_a_sale(&host).await;
    let tr = t.next_trace();
    let f48 = cup_48((1000, 1, 0, 0), (0, 0, 0, 0));
    assert_eq!(t.exchange(cup_0500(&t, tr, 1, &f48)).await.code(), "00");
    let tr = t.next_trace();
    for _ in 0..2 {
        let mut b = t.message("0320", tr);
        b.set_str(48, "0000").unwrap();
        b.set_str(60, "00000001207").unwrap();
        assert_eq!(t.exchange(b).await.code(), "00");
    }
    let view = host.ledger();
    let books = view.terminal(CUP_TID).unwrap();
    assert_eq!(books.closed.len(), 1);
    assert_eq!(books.batch, 2);
    assert_eq!(books.settling, "idle");
}
