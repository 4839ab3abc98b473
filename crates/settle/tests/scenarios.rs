//! DESIGN §8 terminal-side scenarios against a scripted fake host, in every dialect that
//! applies. Simulated time only; each test installs its own tracing subscriber.

mod support;

use iso8583_settle::{
    AdviceState, Error, MemStore, Outcome, Printout, Prompt, Reconciliation, RefundOriginal,
    Rejected, Request, SettleFailure, Settlement, TxnKind,
};
use support::{card, chip, config, sale, start, term, trace_subscriber, FakeHost, Script, Term};

const DOMESTIC: &str = "6212345678901234";
const FOREIGN: &str = "4761739001010010";

fn approved(t: &Term<MemStore>) -> bool {
    matches!(t.last_outcome(), Some(Outcome::Approved { .. }))
}

#[test]
fn echo_is_answered() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(Request::Echo).unwrap();
        assert_eq!(t.mtis(), [if cup { "0820" } else { "0800" }]);
        assert!(t.prompts().contains(&Prompt::EchoOk));
    }
}

/// A sign-off is an 0820 with the engine's next trace number (UnionPay 60.3 `002`); 00 signs
/// off, another code is "SIGN OFF FAILED" with it.
#[test]
fn sign_off_is_an_0820_with_the_next_trace() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(Request::Echo).unwrap();
        t.request(Request::SignOff).unwrap();
        assert_eq!(
            t.mtis().last().map(String::as_str),
            Some("0820"),
            "cup={cup}"
        );
        let sent = t.host.seen.last().unwrap();
        assert_eq!(sent.trace(), 2, "cup={cup}: the trace counter is shared");
        if cup {
            assert_eq!(sent.text(60), "00000001002");
        } else {
            assert_eq!(sent.text(3), "");
            assert_eq!(sent.text(41), "TERM0001");
        }
        assert_eq!(t.prompts().last(), Some(&Prompt::SignedOff));
        t.host.next("0820", Script::Code("12"));
        t.request(Request::SignOff).unwrap();
        assert_eq!(
            t.prompts().last(),
            Some(&Prompt::SignOffFailed("12".into()))
        );
        assert_eq!(
            t.prompts().last().unwrap().to_string(),
            "SIGN OFF FAILED 12"
        );
        assert!(t.engine.is_idle());
    }
}

/// Only 00 answers an echo: any other code is "ECHO FAILED" with the code, never "ECHO OK".
#[test]
fn echo_answered_with_another_code_fails_with_the_code() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.host
            .next(if cup { "0820" } else { "0800" }, Script::Code("96"));
        t.request(Request::Echo).unwrap();
        let prompts = t.prompts();
        assert!(!prompts.contains(&Prompt::EchoOk), "cup={cup}: {prompts:?}");
        assert_eq!(prompts, [Prompt::EchoFailed("96".into())], "cup={cup}");
        assert_eq!(prompts[0].to_string(), "ECHO FAILED 96");
        assert!(t.engine.is_idle());
    }
}

#[test]
fn balanced_settlement_closes_and_opens_the_next_batch() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.request(sale(FOREIGN, 2500)).unwrap();
        assert!(approved(&t));
        t.assert_host_agrees();
        t.request(Request::Settle).unwrap();
        let reports = t.reports();
        assert_eq!(reports.len(), 1, "cup={cup}");
        assert_eq!(reports[0].reconciliation, Reconciliation::Balanced);
        assert_eq!(reports[0].batch, 1);
        assert_eq!(t.engine.batch(), 2);
        assert!(t.engine.records().is_empty());
        assert_eq!(t.engine.last_report(), Some(&reports[0]));
        let expected: &[&str] = if cup {
            // Balanced, no chip record: the closing 0320 is still sent, count 0000, 207.
            &["0200", "0200", "0500", "0320"]
        } else {
            &["0200", "0200", "0500"]
        };
        assert_eq!(t.mtis(), expected);
        if cup {
            let closing = t.host.seen_mti("0320")[0].clone();
            assert_eq!(closing.text(48), "0000");
            assert_eq!(closing.text(60), "00000001207");
            let f48 = t.host.seen_mti("0500")[0].text(48);
            assert_eq!(f48.len(), 62);
        } else {
            let settle = t.host.seen_mti("0500")[0].clone();
            assert_eq!(settle.text(3), "920000");
            assert_eq!(settle.text(60), "000001");
            assert_eq!(settle.text(63).len(), 90);
            assert_eq!(&settle.text(63)[..30], "002000000003500000000000000000");
        }
        assert!(t.reports()[0].to_string().contains("BALANCED"));
    }
}

#[test]
fn void_then_settle_excludes_the_void() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.request(sale(DOMESTIC, 700)).unwrap();
        let invoice = match t.last_outcome() {
            Some(Outcome::Approved { invoice, .. }) => invoice,
            other => panic!("{other:?}"),
        };
        t.request(Request::Void { invoice }).unwrap();
        assert!(approved(&t));
        assert!(t.engine.records().iter().any(|r| r.voided));
        assert_eq!(t.engine.records().len(), if cup { 3 } else { 2 });
        let err = t.request(Request::Void { invoice }).unwrap_err();
        assert!(matches!(
            err,
            Error::Rejected(Rejected::AlreadyVoided { .. })
        ));
        t.assert_host_agrees();
        if cup {
            let d = t.engine.cup_totals().unwrap().domestic;
            // A voided sale stays in debit; the void is a credit (DESIGN §5).
            assert_eq!(
                (
                    d.debit_amount,
                    d.debit_count,
                    d.credit_amount,
                    d.credit_count
                ),
                (1700, 2, 700, 1)
            );
        } else {
            let tot = t.engine.intl_totals().unwrap();
            assert_eq!((tot.sale_count, tot.sale_amount), (1, 1000));
        }
        t.request(Request::Settle).unwrap();
        let report = &t.reports()[0];
        assert_eq!(report.reconciliation, Reconciliation::Balanced);
        // Finding 4: the slip's lines and totals are those the 0500 carried.
        let lines: Vec<(TxnKind, u32, u64)> = report
            .lines
            .iter()
            .map(|l| (l.kind, l.count, l.amount))
            .collect();
        let totals: Vec<(u32, u64)> = report.totals.iter().map(|t| (t.count, t.amount)).collect();
        let sent = t.host.seen_mti("0500")[0].clone();
        if cup {
            assert_eq!(lines, [(TxnKind::Sale, 2, 1700), (TxnKind::Void, 1, 700)]);
            assert_eq!(totals, [(2, 1700), (1, 700), (0, 0), (0, 0)]);
            assert!(sent.text(48).starts_with("000000001700002000000000700001"));
        } else {
            assert_eq!(lines, [(TxnKind::Sale, 1, 1000), (TxnKind::Void, 1, 700)]);
            assert_eq!(totals, [(1, 1000), (0, 0)]);
            assert!(sent.text(63).starts_with("001000000001000000000000000000"));
        }
    }
}

#[test]
fn refund_is_counted_as_credit_and_settles() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 5000)).unwrap();
        t.request(Request::Refund {
            card: card(DOMESTIC),
            amount: 1200,
        })
        .unwrap();
        let refund_mti = if cup { "0220" } else { "0200" };
        assert_eq!(t.mtis().last().map(String::as_str), Some(refund_mti));
        let refund = t
            .engine
            .records()
            .iter()
            .find(|r| r.kind == TxnKind::Refund)
            .unwrap();
        if cup {
            assert_eq!(refund.advice, AdviceState::Delivered);
        }
        t.assert_host_agrees();
        t.request(Request::Settle).unwrap();
        assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
    }
}

#[test]
fn a_refund_names_its_sale_in_37_and_61_with_union_pay() {
    let _g = trace_subscriber();
    let original = RefundOriginal {
        rrn: "123456789012".into(),
        batch: 7,
        trace: 42,
        date: "1130".into(),
    };
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 5000)).unwrap();
        t.request(Request::RefundOf {
            card: card(DOMESTIC),
            amount: 1200,
            original: original.clone(),
        })
        .unwrap();
        let refund = t
            .engine
            .records()
            .iter()
            .find(|r| r.kind == TxnKind::Refund)
            .unwrap();
        assert_eq!(refund.refund_of.as_deref(), Some(&original));
        let sent = t.host.seen_mti(if cup { "0220" } else { "0200" });
        let sent = sent.last().unwrap();
        if cup {
            assert_eq!(sent.text(37), "123456789012");
            assert_eq!(sent.text(61), "0000070000421130");
            assert_eq!(refund.advice, AdviceState::Delivered);
        } else {
            // The international layout has no field 61: a plain refund (200000).
            assert_eq!(sent.text(3), "200000");
        }
        t.assert_host_agrees();
        t.request(Request::Settle).unwrap();
        assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
    }
}

#[test]
fn intl_out_of_balance_uploads_then_trailer_closes() {
    let _g = trace_subscriber();
    let mut t = term(false);
    for i in 0..3 {
        t.request(sale(DOMESTIC, 1000 + i)).unwrap();
    }
    t.request(Request::PreAuth {
        card: card(DOMESTIC),
        amount: 999,
    })
    .unwrap();
    t.request(sale(DOMESTIC, 50)).unwrap();
    let invoice = t.engine.records().last().unwrap().invoice;
    t.request(Request::Void { invoice }).unwrap();
    t.host.out_of_balance = true;
    t.request(Request::Settle).unwrap();
    // Voids and pre-auths are not uploaded: three 0320s, then the 960000 trailer.
    let mtis = t.mtis();
    let tail: Vec<&str> = mtis
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(tail, ["0500", "0320", "0320", "0320", "0500"]);
    let uploads = t.host.seen_mti("0320");
    let first = uploads[0];
    assert_eq!(first.text(3), "000001");
    assert_eq!(
        first.text(60),
        format!(
            "0200{:06}{}",
            t.host.seen_mti("0200")[0].trace(),
            " ".repeat(12)
        )
    );
    assert_eq!(first.text(39), "00");
    assert_eq!(first.text(62), "000001");
    assert_ne!(
        first.trace(),
        t.host.seen_mti("0200")[0].trace(),
        "a new trace number in 11"
    );
    let trailer = t.host.seen_mti("0500")[1];
    assert_eq!(trailer.text(3), "960000");
    let report = &t.reports()[0];
    assert_eq!(report.reconciliation, Reconciliation::Uploaded);
    assert_eq!(report.uploaded, 3);
    assert_eq!(t.engine.batch(), 2);
}

#[test]
fn intl_tip_is_uploaded_in_field_54() {
    let mut t = term(false);
    t.request(Request::Sale {
        card: card(DOMESTIC),
        amount: 1000,
        tip: 150,
    })
    .unwrap();
    t.host.out_of_balance = true;
    t.request(Request::Settle).unwrap();
    let upload = t.host.seen_mti("0320")[0].clone();
    assert_eq!(upload.text(4), "000000001150");
    assert_eq!(upload.text(54), "000000000150");
}

/// DESIGN §5 dialect I: a 0320 carries the original response code in 39. An offline sale whose
/// advice was delivered on a repeat (answered 94) was approved offline, so its code stays 00.
#[test]
fn intl_advice_delivered_with_94_uploads_its_original_response_code() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(Request::OfflineSale {
        card: card(DOMESTIC),
        amount: 100,
        auth_code: "VOICE1".into(),
    })
    .unwrap();
    // The advice reaches the host, its answer is lost; the repeat is answered 94.
    t.host.next("0220", Script::Lost);
    t.request(Request::Settle).unwrap();
    t.host.out_of_balance = true;
    t.request(Request::Settle).unwrap();
    assert_eq!(t.host.seen_mti("0220").len(), 2);
    let uploads = t.host.seen_mti("0320");
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].text(39), "00");
    assert_eq!(t.reports()[0].reconciliation, Reconciliation::Uploaded);
}

#[test]
fn intl_trailer_answered_95_leaves_the_batch_open() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(sale(DOMESTIC, 1000)).unwrap();
    t.host.out_of_balance = true;
    t.host
        .next("0500", Script::ProcessThen("95"))
        .next("0500", Script::Code("95"));
    t.request(Request::Settle).unwrap();
    assert!(t.reports().is_empty());
    assert_eq!(t.engine.batch(), 1);
    assert_eq!(t.engine.settlement(), None);
    assert!(t.prompts().contains(&Prompt::SettlementFailed(
        SettleFailure::TrailerOutOfBalance
    )));
    assert!(t.engine.records().iter().all(|r| !r.uploaded));
    // The next settlement starts again at 920000.
    t.host.out_of_balance = false;
    t.request(Request::Settle).unwrap();
    let settles = t.host.seen_mti("0500");
    assert_eq!(
        settles.iter().map(|s| s.text(3)).collect::<Vec<_>>(),
        ["920000", "960000", "920000"]
    );
    assert_eq!(t.reports().len(), 1);
}

#[test]
fn intl_77_on_first_0500_closes_with_reconcile_error() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(sale(DOMESTIC, 1000)).unwrap();
    t.host.next("0500", Script::Code("77"));
    t.request(Request::Settle).unwrap();
    let report = &t.reports()[0];
    assert_eq!(report.reconciliation, Reconciliation::ReconcileError);
    assert!(report.to_string().contains("RECONCILE ERROR"));
    assert_eq!(t.engine.batch(), 2);
}

#[test]
fn cup_out_of_balance_uploads_eight_per_0320_and_ends_202() {
    let _g = trace_subscriber();
    let mut t = term(true);
    for i in 0..10 {
        t.request(sale(DOMESTIC, 100 + i)).unwrap();
    }
    t.request(Request::Sale {
        card: chip(FOREIGN),
        amount: 300,
        tip: 0,
    })
    .unwrap();
    t.request(Request::Refund {
        card: card(DOMESTIC),
        amount: 40,
    })
    .unwrap();
    t.host.out_of_balance = true;
    t.request(Request::Settle).unwrap();
    let uploads = t.host.seen_mti("0320");
    // 8 + 2 magnetic-stripe sales, one chip record, one refund, then the closing 0320.
    assert_eq!(uploads.len(), 5);
    let group = uploads[0].text(48);
    assert_eq!(&group[..2], "08");
    assert_eq!(group.len(), 2 + 8 * 40);
    assert_eq!(&group[2..4], "00");
    assert_eq!(&group[10..30], format!("{:0>20}", DOMESTIC));
    assert_eq!(uploads[0].text(60), "00000001201");
    assert_eq!(&uploads[1].text(48)[..2], "02");
    let chip_upload = uploads
        .iter()
        .find(|u| u.text(22).starts_with("05"))
        .unwrap();
    assert_eq!(&chip_upload.text(60)[8..], "205");
    let closing = uploads.last().unwrap();
    assert_eq!(closing.text(48), "0012");
    assert_eq!(&closing.text(60)[8..], "202");
    assert_eq!(t.reports()[0].reconciliation, Reconciliation::Uploaded);
    assert_eq!(t.reports()[0].uploaded, 12);
}

#[test]
fn cup_balanced_uploads_chip_records_and_ends_207() {
    let _g = trace_subscriber();
    let mut t = term(true);
    t.request(sale(DOMESTIC, 100)).unwrap();
    t.request(Request::Sale {
        card: chip(DOMESTIC),
        amount: 300,
        tip: 0,
    })
    .unwrap();
    t.request(Request::Settle).unwrap();
    let uploads = t.host.seen_mti("0320");
    assert_eq!(uploads.len(), 2);
    assert_eq!(&uploads[0].text(60)[8..], "203");
    assert_eq!(uploads[1].text(48), "0001");
    assert_eq!(&uploads[1].text(60)[8..], "207");
    // Tag 57 was sent in the sale but is not in the stored record or the upload.
    assert!(!uploads[0].fields[&55].windows(2).any(|w| w == [0x57, 0x02]));
    assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
}

fn chip_sales(t: &mut Term<MemStore>, amounts: &[u64]) {
    for amount in amounts {
        // Chip records go one per 0320 in both dialects.
        t.request(Request::Sale {
            card: chip(DOMESTIC),
            amount: *amount,
            tip: 0,
        })
        .unwrap();
    }
}

/// A 0330 with a code other than 00 acknowledges nothing: the same record goes again in a new
/// 0320, and only the accepted one counts as uploaded.
#[test]
fn refused_0320_is_sent_again_and_not_counted_until_accepted() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        chip_sales(&mut t, &[100, 200, 300]);
        t.host.out_of_balance = true;
        t.host
            .next("0320", Script::Code("00"))
            .next("0320", Script::Code("05"))
            .next("0320", Script::Code("96"));
        t.request(Request::Settle).unwrap();
        let uploads = t.host.seen_mti("0320");
        let data: Vec<u32> = uploads
            .iter()
            .filter(|s| !cup || s.fields.contains_key(&2))
            .map(|s| {
                if cup {
                    s.trace()
                } else {
                    s.text(60)[4..10].parse().unwrap()
                }
            })
            .collect();
        let traces: Vec<u32> = t.host.seen_mti("0200").iter().map(|s| s.trace()).collect();
        // The second record was refused twice and sent three times.
        assert_eq!(
            data,
            [traces[0], traces[1], traces[1], traces[1], traces[2]],
            "cup={cup}"
        );
        let report = &t.reports()[0];
        assert_eq!(report.reconciliation, Reconciliation::Uploaded);
        assert_eq!(report.uploaded, 3);
        if cup {
            assert_eq!(uploads.last().unwrap().text(48), "0003");
        }
        assert_eq!(t.engine.batch(), 2);
    }
}

/// Refused on every configured try, the upload stops the settlement with "UPLOAD FAILED": no
/// trailer or closing 0320, the batch stays open with nothing counted as uploaded, sales work
/// again, and a later settlement starts again at the 0500 and closes.
#[test]
fn upload_refused_on_every_try_fails_and_leaves_the_batch_open() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        for tries in [1u8, 3] {
            let cfg = config(cup).upload_tries(tries).build().unwrap();
            let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(cup), start()).unwrap();
            chip_sales(&mut t, &[100, 200]);
            t.host.out_of_balance = true;
            t.host.next("0320", Script::Code("00"));
            for _ in 0..tries {
                t.host.next("0320", Script::Code("05"));
            }
            t.request(Request::Settle).unwrap();
            let failed =
                Prompt::SettlementFailed(SettleFailure::UploadFailed { code: "05".into() });
            assert!(t.prompts().contains(&failed), "cup={cup} tries={tries}");
            assert_eq!(failed.text(), "UPLOAD FAILED");
            assert_eq!(failed.to_string(), "UPLOAD FAILED 05");
            assert_eq!(t.host.seen_mti("0320").len(), 1 + usize::from(tries));
            assert_eq!(t.host.seen_mti("0500").len(), 1, "no trailer");
            assert!(t.reports().is_empty());
            assert_eq!(t.engine.batch(), 1);
            assert_eq!(t.engine.settlement(), None);
            assert!(t.engine.records().iter().all(|r| !r.uploaded));
            assert!(t.engine.is_idle());
            // The batch is open: a sale goes through.
            chip_sales(&mut t, &[400]);
            assert!(approved(&t));
            // Settling again reconciles afresh, uploads every record and closes.
            t.request(Request::Settle).unwrap();
            assert_eq!(t.host.seen_mti("0500").len(), if cup { 2 } else { 3 });
            if !cup {
                assert_eq!(t.host.seen_mti("0500")[1].text(3), "920000");
            }
            let report = &t.reports()[0];
            assert_eq!(report.uploaded, 3, "cup={cup} tries={tries}");
            assert_eq!(report.reconciliation, Reconciliation::Uploaded);
            assert_eq!(t.engine.batch(), 2);
            if cup {
                assert_eq!(t.host.seen_mti("0320").last().unwrap().text(48), "0003");
            }
        }
    }
}

/// A 0510 (or UnionPay closing 0330) without 39 says nothing, though the host may have closed
/// its side: it is no answer, so the settlement stays pending with sales refused, and the next
/// try closes the batch the host has (no sale slips into a batch the host already closed).
#[test]
fn settlement_reply_without_response_code_is_taken_as_no_answer() {
    let _g = trace_subscriber();
    for (cup, mti) in [(false, "0500"), (true, "0500"), (true, "0320")] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.host.next(mti, Script::ProcessThenField(39, None));
        t.request(Request::Settle).unwrap();
        assert!(
            t.prompts()
                .contains(&Prompt::SettlementFailed(SettleFailure::NoResponse)),
            "cup={cup} {mti}"
        );
        assert!(t.engine.settlement().is_some());
        assert!(t.reports().is_empty());
        let err = t.request(sale(DOMESTIC, 500)).unwrap_err();
        assert!(matches!(
            err,
            Error::Rejected(Rejected::SettlementPending { .. })
        ));
        t.request(Request::Settle).unwrap();
        let report = &t.reports()[0];
        assert_eq!(report.batch, 1);
        assert_eq!(t.engine.batch(), 2);
        assert_eq!(t.host.closed.len(), 1, "cup={cup} {mti}");
        assert_eq!(t.host.closed[0].1.len(), 1);
        t.assert_host_agrees();
    }
}

#[test]
fn pending_reversal_is_sent_before_settlement() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        // The reply to the second sale is lost and so is the first 0400.
        t.host.next("0200", Script::Lost).next("0400", Script::Drop);
        t.request(sale(DOMESTIC, 2000)).unwrap();
        assert!(t.engine.pending_reversal().is_some());
        assert!(t.prompts().contains(&Prompt::NoResponse));
        t.request(Request::Settle).unwrap();
        let mtis = t.mtis();
        let at = mtis.iter().position(|m| m == "0500").unwrap();
        assert_eq!(mtis[at - 1], "0400");
        let rev = t.host.seen_mti("0400")[1].clone();
        assert_eq!(rev.text(39), "98");
        assert_eq!(
            rev.trace(),
            t.host.seen_mti("0200")[1].trace(),
            "the original trace number"
        );
        assert!(!rev.fields.contains_key(&35) && !rev.fields.contains_key(&52));
        assert_eq!(
            t.reports()[0].reconciliation,
            Reconciliation::Balanced,
            "cup={cup}"
        );
    }
}

#[test]
fn reversal_answered_12_or_25_is_done() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        for code in ["12", "25"] {
            let mut t = term(cup);
            t.host
                .next("0200", Script::Drop)
                .next("0400", Script::Code(code));
            t.request(sale(DOMESTIC, 1000)).unwrap();
            assert!(t.engine.pending_reversal().is_none());
            assert_eq!(
                t.last_outcome(),
                Some(Outcome::Reversed {
                    kind: TxnKind::Sale,
                    trace: 1,
                    reason: "98"
                })
            );
            assert!(t.engine.records().is_empty());
        }
    }
}

#[test]
fn reversal_answered_05_three_times_is_dropped() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.host.next("0200", Script::Drop);
        for _ in 0..3 {
            t.host.next("0400", Script::Code("05"));
        }
        t.request(sale(DOMESTIC, 1000)).unwrap();
        assert_eq!(t.host.seen_mti("0400").len(), 3);
        assert!(t.engine.pending_reversal().is_none());
        assert!(t.printouts().iter().any(
            |p| matches!(p, Printout::ReversalFailed { pan, .. } if pan == "621234******1234")
        ));
    }
}

#[test]
fn unanswered_reversal_is_kept_and_blocks_online_traffic() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.host.next("0200", Script::Drop).next("0400", Script::Drop);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        assert!(t.engine.pending_reversal().is_some());
        // The next sale sends the reversal first; unanswered again, the sale never leaves.
        t.host.next("0400", Script::Drop);
        t.request(sale(DOMESTIC, 500)).unwrap();
        assert_eq!(t.host.seen_mti("0200").len(), 1);
        assert!(matches!(t.last_outcome(), Some(Outcome::NotSent { .. })));
        assert_eq!(
            t.engine.pending_reversal().unwrap().tries,
            0,
            "timeouts use no try"
        );
        // Once it goes through, the parked sale follows it.
        t.request(sale(DOMESTIC, 500)).unwrap();
        assert_eq!(
            t.mtis().iter().rev().take(2).collect::<Vec<_>>(),
            ["0200", "0400"]
        );
        assert!(approved(&t));
        t.assert_host_agrees();
    }
}

/// Finding 13: a request whose connection could not even be opened never left, so it keeps no
/// reversal: the one stored before it was to leave is dropped in one store step and the request
/// ends "host unreachable". Nothing reached the host, and the next sale needs no 0400 first.
#[test]
fn a_request_that_never_left_drops_its_reversal() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        let writes = t.engine.store().clone();
        t.host.next("0200", Script::Unreachable);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        assert_eq!(
            t.last_outcome(),
            Some(Outcome::HostUnreachable {
                kind: TxnKind::Sale,
                trace: 1
            })
        );
        assert!(t.engine.pending_reversal().is_none());
        assert!(t.engine.records().is_empty());
        assert!(t.engine.is_idle());
        assert!(t.host.seen.is_empty(), "nothing reached the host");
        // What is stored agrees: no reversal survives a restart.
        let stored = iso8583_settle::Store::load(&mut writes.clone())
            .unwrap()
            .unwrap();
        assert!(stored.reversal.is_none());
        assert_eq!(stored.next_trace, 2, "the trace number is used up");

        t.request(sale(DOMESTIC, 500)).unwrap();
        assert_eq!(t.mtis(), ["0200"], "no 0400 before the next sale");
        assert!(approved(&t));
        t.assert_host_agrees();
    }
}

/// A pending reversal, an advice or a settlement message that could not be sent stays as it
/// was and uses none of its tries, even where timeouts count as tries; the settlement stops and
/// sales stay blocked behind it, as after a timeout.
#[test]
fn messages_that_never_left_stay_pending_and_use_no_try() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        // Two tries, timeouts counted: the first 0400 times out and uses one.
        let cfg = config(cup).reversal(2, true).build().unwrap();
        let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(cup), start()).unwrap();
        t.host.next("0200", Script::Lost).next("0400", Script::Drop);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        let rev = t.engine.pending_reversal().unwrap().clone();
        assert_eq!(rev.tries, 1);
        t.host.next("0400", Script::Unreachable);
        t.request(sale(DOMESTIC, 500)).unwrap();
        assert_eq!(t.engine.pending_reversal(), Some(&rev), "kept, no try used");
        assert!(matches!(t.last_outcome(), Some(Outcome::NotSent { .. })));

        t.request(sale(DOMESTIC, 700)).unwrap();
        assert!(t.engine.pending_reversal().is_none());
        assert!(approved(&t));

        t.host.next("0500", Script::Unreachable);
        t.request(Request::Settle).unwrap();
        assert!(t
            .prompts()
            .contains(&Prompt::SettlementFailed(SettleFailure::HostUnreachable)));
        assert_eq!(t.engine.settlement(), Some(&Settlement::Pending));
        assert!(t.request(sale(DOMESTIC, 1)).is_err(), "sales stay blocked");
        t.request(Request::Settle).unwrap();
        assert_eq!(t.reports().len(), 1);
        assert_eq!(
            t.host.seen_mti("0500").len(),
            1,
            "sent once, when it could be"
        );
    }
}

#[test]
fn timeouts_count_as_tries_when_the_profile_says_so() {
    let cfg = config(true).reversal(3, true).build().unwrap();
    let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(true), start()).unwrap();
    t.host.next("0200", Script::Drop);
    for _ in 0..3 {
        t.host.next("0400", Script::Drop);
    }
    t.request(sale(DOMESTIC, 1000)).unwrap();
    t.request(Request::Echo).unwrap();
    t.request(sale(DOMESTIC, 1)).unwrap();
    t.request(sale(DOMESTIC, 2)).unwrap();
    assert!(t
        .printouts()
        .iter()
        .any(|p| matches!(p, Printout::ReversalFailed { .. })));
    assert!(t.engine.pending_reversal().is_none());
}

#[test]
fn advices_flush_before_settlement_with_00_and_94() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        let offline = |amount| Request::OfflineSale {
            card: card(DOMESTIC),
            amount,
            auth_code: "VOICE1".into(),
        };
        t.request(offline(100)).unwrap();
        t.request(offline(200)).unwrap();
        t.request(offline(300)).unwrap();
        assert!(t.mtis().is_empty(), "offline sales wait for the flush");
        // The first advice reaches the host but its answer is lost; the repeat is a 94.
        t.host.next("0220", Script::Lost);
        t.request(Request::Settle).unwrap();
        assert!(t
            .prompts()
            .contains(&Prompt::SettlementFailed(SettleFailure::AdviceNotDelivered)));
        assert!(matches!(t.engine.settlement(), Some(Settlement::Pending)));
        assert!(matches!(
            t.request(sale(DOMESTIC, 5)),
            Err(Error::Rejected(Rejected::SettlementPending { .. }))
        ));
        t.host
            .next("0220", Script::Code("94"))
            .next("0220", Script::Code("05"));
        t.request(Request::Settle).unwrap();
        let states: Vec<_> = t.host.seen_mti("0220").iter().map(|s| s.trace()).collect();
        assert_eq!(states.len(), 4);
        assert_eq!(t.host.authorisations, 0);
        let report = &t.reports()[0];
        // 100 was delivered on its repeat (94), 200 failed (05) and is out of the totals.
        assert_eq!(report.lines.iter().map(|l| l.amount).sum::<u64>(), 400);
        assert_eq!(report.reconciliation, Reconciliation::Balanced, "cup={cup}");
    }
}

/// An advice the host declines leaves the totals; the operator, who was told it was queued,
/// is told it was declined (a UnionPay refund goes at once, an offline sale at the flush).
#[test]
fn declined_advice_is_reported_to_the_operator() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.host.next("0220", Script::Code("05"));
        let (request, kind) = if cup {
            let refund = Request::Refund {
                card: card(DOMESTIC),
                amount: 500,
            };
            (refund, TxnKind::Refund)
        } else {
            let offline = Request::OfflineSale {
                card: card(DOMESTIC),
                amount: 500,
                auth_code: "VOICE1".into(),
            };
            (offline, TxnKind::OfflineSale)
        };
        t.request(request).unwrap();
        if !cup {
            t.request(Request::Settle).unwrap();
        }
        assert_eq!(t.engine.records().len(), usize::from(cup));
        assert!(
            t.outcomes().contains(&Outcome::Declined {
                kind,
                code: "05".into()
            }),
            "cup={cup}: {:?}",
            t.outcomes()
        );
    }
}

/// `Report::new` lists in its lines only what is in the totals: a pre-auth and an advice the
/// host declined are left out of every line, but their traces stay in the report's `traces`.
#[test]
fn report_lines_leave_out_pre_auths_and_failed_advices() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.request(Request::PreAuth {
            card: card(DOMESTIC),
            amount: 300,
        })
        .unwrap();
        t.request(Request::OfflineSale {
            card: card(DOMESTIC),
            amount: 500,
            auth_code: "VOICE1".into(),
        })
        .unwrap();
        let traces: Vec<u32> = t.engine.records().iter().map(|r| r.trace).collect();
        assert_eq!(traces.len(), 3, "cup={cup}");
        t.host.next("0220", Script::Code("05"));
        t.request(Request::Settle).unwrap();
        let report = &t.reports()[0];
        let kinds: Vec<TxnKind> = report.lines.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, [TxnKind::Sale], "cup={cup}");
        assert_eq!(report.lines[0].count, 1);
        assert_eq!(report.lines[0].amount, 1000);
        assert_eq!(report.traces, traces, "cup={cup}");
    }
}

/// A 0210 or 0110 without field 39 may hide an approval: the request is reversed with reason
/// 06 and reported as failed, never as declined, so the host's books and the terminal's agree.
#[test]
fn reply_without_response_code_is_reversed_with_06_not_declined() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        for preauth in [false, true] {
            let mut t = term(cup);
            let (mti, request, kind) = if preauth {
                let r = Request::PreAuth {
                    card: card(DOMESTIC),
                    amount: 700,
                };
                ("0100", r, TxnKind::PreAuth)
            } else {
                ("0200", sale(DOMESTIC, 700), TxnKind::Sale)
            };
            t.host.next(mti, Script::ProcessThenField(39, None));
            t.request(request).unwrap();
            let trace = t.host.seen_mti(mti)[0].trace();
            let outcomes = t.outcomes();
            assert!(
                !outcomes
                    .iter()
                    .any(|o| matches!(o, Outcome::Declined { .. } | Outcome::Approved { .. })),
                "cup={cup} {mti}: {outcomes:?}"
            );
            assert_eq!(
                outcomes,
                [Outcome::Reversed {
                    kind,
                    trace,
                    reason: "06"
                }]
            );
            assert!(t.prompts().contains(&Prompt::InvalidResponse));
            // The 0400 went at once, with the original trace and reason 06; the host undid it.
            assert_eq!(t.mtis(), [mti, "0400"]);
            let reversal = t.host.seen_mti("0400")[0].clone();
            assert_eq!(reversal.trace(), trace);
            assert_eq!(reversal.text(39), "06");
            assert!(t.engine.pending_reversal().is_none());
            assert!(t.engine.records().is_empty());
            assert!(t.host.ledger.is_empty(), "cup={cup} {mti}");
            t.assert_host_agrees();
        }
    }
}

/// Until the 0400 goes through, the reversal with reason 06 stays stored: a reply without 39
/// followed by a lost 0410 leaves it pending, and it is sent first after that.
#[test]
fn reversal_06_for_a_reply_without_response_code_stays_pending_until_sent() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.host
        .next("0200", Script::ProcessThenField(39, None))
        .next("0400", Script::Drop);
    t.request(sale(DOMESTIC, 700)).unwrap();
    let rev = t.engine.pending_reversal().expect("kept");
    assert_eq!(rev.reason.code(), "06");
    t.request(sale(DOMESTIC, 800)).unwrap();
    assert_eq!(t.mtis(), ["0200", "0400", "0400", "0200"]);
    assert_eq!(t.host.seen_mti("0400")[1].text(39), "06");
    assert_eq!(t.engine.records().len(), 1);
    assert_eq!(t.engine.records()[0].amount, 800);
    t.assert_host_agrees();
}

/// An approval whose field 4 is not the amount asked for cannot be trusted: reversed with 06
/// and reported as failed; nothing enters the batch.
#[test]
fn approval_for_another_amount_is_reversed_with_06() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.host
            .next("0200", Script::ProcessThenField(4, Some("000000000070")));
        t.request(sale(DOMESTIC, 700)).unwrap();
        let trace = t.host.seen_mti("0200")[0].trace();
        assert_eq!(
            t.outcomes(),
            [Outcome::Reversed {
                kind: TxnKind::Sale,
                trace,
                reason: "06"
            }],
            "cup={cup}"
        );
        assert_eq!(t.host.seen_mti("0400")[0].text(39), "06");
        assert!(t.engine.records().is_empty());
        assert!(t.engine.pending_reversal().is_none());
        t.assert_host_agrees();
        // The same amount echoed back is an ordinary approval.
        t.host
            .next("0200", Script::ProcessThenField(4, Some("000000000700")));
        t.request(sale(DOMESTIC, 700)).unwrap();
        assert!(approved(&t), "cup={cup}");
        assert_eq!(t.engine.records().len(), 1);
    }
}

/// A 0230 without 39 says nothing: the advice stays queued and in the totals (neither
/// delivered nor failed), the settlement stops as on a timeout, and the next one resends it.
#[test]
fn advice_reply_without_response_code_keeps_the_advice_queued() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.host.next("0220", Script::ProcessThenField(39, None));
        t.request(Request::OfflineSale {
            card: card(DOMESTIC),
            amount: 500,
            auth_code: "VOICE1".into(),
        })
        .unwrap();
        t.request(Request::Settle).unwrap();
        let offline = t.engine.records()[1].clone();
        assert_eq!(offline.advice, AdviceState::Queued, "cup={cup}");
        assert_eq!(offline.response_code, "00");
        assert!(t
            .prompts()
            .contains(&Prompt::SettlementFailed(SettleFailure::AdviceNotDelivered)));
        assert_eq!(t.engine.settlement(), Some(&Settlement::Pending));
        assert!(!t
            .outcomes()
            .iter()
            .any(|o| matches!(o, Outcome::Declined { .. })));
        assert_eq!(t.host.seen_mti("0500").len(), 0);
        // The next settlement resends it (the host answers 94: it had it) and counts it.
        t.request(Request::Settle).unwrap();
        assert_eq!(t.host.seen_mti("0220").len(), 2, "cup={cup}");
        let report = &t.reports()[0];
        assert_eq!(report.reconciliation, Reconciliation::Balanced, "cup={cup}");
        let amount: u64 = report.lines.iter().map(|l| l.amount).sum();
        assert_eq!(amount, 1500);
    }
}

#[test]
fn storage_full_refuses_locally_and_settlement_clears_it() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let cfg = config(cup).capacity(5, 3).build().unwrap();
        let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(cup), start()).unwrap();
        for i in 0..5 {
            t.request(sale(DOMESTIC, 100 + i)).unwrap();
        }
        assert!(t.prompts().contains(&Prompt::SettleSoon {
            count: 3,
            capacity: 5
        }));
        assert!(t.prompts().contains(&Prompt::StorageFull));
        let sent = t.host.seen.len();
        let err = t.request(sale(DOMESTIC, 1)).unwrap_err();
        assert!(matches!(
            err,
            Error::Rejected(Rejected::StorageFull {
                count: 5,
                capacity: 5
            })
        ));
        assert_eq!(
            err.to_string(),
            "STORAGE FULL, PLEASE SETTLE: 5 of 5 records"
        );
        assert_eq!(Prompt::StorageFull.text_zh(), Some("储存满请结算"));
        let refund = t
            .request(Request::Refund {
                card: card(DOMESTIC),
                amount: 1,
            })
            .unwrap_err();
        assert!(matches!(
            refund,
            Error::Rejected(Rejected::StorageFull { .. })
        ));
        let offline = Request::OfflineSale {
            card: card(DOMESTIC),
            amount: 1,
            auth_code: String::new(),
        };
        assert!(matches!(
            t.request(offline).unwrap_err(),
            Error::Rejected(Rejected::StorageFull { .. })
        ));
        let void = t.request(Request::Void { invoice: 1 });
        if cup {
            assert!(matches!(
                void.unwrap_err(),
                Error::Rejected(Rejected::StorageFull { .. })
            ));
        } else {
            void.unwrap();
        }
        assert_eq!(
            t.host.seen.len(),
            sent + usize::from(!cup),
            "nothing sent for a refused request"
        );
        // Echo, sign-on and settlement stay allowed.
        t.request(Request::Echo).unwrap();
        t.request(Request::SignOn).unwrap();
        assert!(t.prompts().contains(&Prompt::SignedOn));
        t.request(Request::Settle).unwrap();
        assert_eq!(t.reports().len(), 1);
        t.request(sale(DOMESTIC, 1)).unwrap();
        assert!(approved(&t));
    }
}

#[test]
fn amount_near_overflow_forces_settlement() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let cfg = config(cup).overflow_margin(1_000_000).build().unwrap();
        let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(cup), start()).unwrap();
        t.request(sale(DOMESTIC, 999_998_000_000)).unwrap();
        let err = t.request(sale(DOMESTIC, 2_000_000)).unwrap_err();
        assert!(matches!(
            err,
            Error::Rejected(Rejected::TotalsNearOverflow { .. })
        ));
        // This one brings the total past the limit: settlement starts by itself.
        t.request(sale(DOMESTIC, 1_500_000)).unwrap();
        assert!(t.prompts().contains(&Prompt::AutoSettlement));
        assert_eq!(t.reports().len(), 1, "cup={cup}");
        assert_eq!(t.engine.batch(), 2);
    }
}

/// With voids added to the refund pair (DESIGN §5, "Totals"), an international void raises the
/// refund total: it is refused before that total outgrows its 12 digits in field 63.
#[test]
fn intl_void_added_to_refunds_cannot_overflow_the_refund_total() {
    let _g = trace_subscriber();
    let settings = iso8583_settle::IntlSettings {
        void_policy: iso8583_settle::VoidPolicy::AddToRefunds,
        ..Default::default()
    };
    let dialect = iso8583_settle::Dialect::International(settings);
    let cfg = iso8583_settle::Config::builder("TERM0001", "MERCHANT0000001", dialect)
        .build()
        .unwrap();
    let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(false), start()).unwrap();
    t.request(sale(DOMESTIC, 900_000_000_000)).unwrap();
    t.request(sale(DOMESTIC, 1_000)).unwrap();
    for _ in 0..9 {
        let refund = Request::Refund {
            card: card(DOMESTIC),
            amount: 99_000_000_000,
        };
        t.request(refund).unwrap();
    }
    let err = t.request(Request::Void { invoice: 1 }).unwrap_err();
    assert!(matches!(
        err,
        Error::Rejected(Rejected::TotalsNearOverflow { .. })
    ));
    assert_eq!(t.host.seen_mti("0200").len(), 11, "nothing sent");
    // A void that fits is still allowed.
    t.request(Request::Void { invoice: 2 }).unwrap();
    assert!(approved(&t));
    let totals = t.engine.intl_totals().unwrap();
    assert_eq!(totals.refund_amount, 891_000_001_000);
    assert!(totals
        .field63(Default::default())
        .starts_with("002900000001000010891000001000"));
}

#[test]
fn no_answer_to_0500_keeps_sales_blocked() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.host.next("0500", Script::Drop);
        t.request(Request::Settle).unwrap();
        assert!(t
            .prompts()
            .contains(&Prompt::SettlementFailed(SettleFailure::NoResponse)));
        let err = t.request(sale(DOMESTIC, 1)).unwrap_err();
        assert!(matches!(
            err,
            Error::Rejected(Rejected::SettlementPending {
                kind: TxnKind::Sale
            })
        ));
        t.request(Request::Settle).unwrap();
        assert_eq!(t.reports().len(), 1);
        t.request(sale(DOMESTIC, 1)).unwrap();
        assert!(approved(&t));
    }
}

#[test]
fn bad_mac_on_a_response_reverses_with_a0() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.host.next("0200", Script::BadMac);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        assert!(t.prompts().contains(&Prompt::BadMac));
        let rev = t.host.seen_mti("0400")[0].clone();
        assert_eq!(rev.text(39), "A0");
        assert!(t.engine.records().is_empty());
        assert!(t.engine.pending_reversal().is_none());
        t.assert_host_agrees();
    }
}

#[test]
fn host_asking_for_sign_on_with_a0() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.host.next("0200", Script::Code("A0"));
        t.request(sale(DOMESTIC, 1000)).unwrap();
        assert!(t.prompts().contains(&Prompt::SignOnRequired));
        assert!(matches!(t.last_outcome(), Some(Outcome::Declined { .. })));
        t.request(Request::SignOn).unwrap();
        assert!(t.prompts().contains(&Prompt::SignedOn));
    }
}

#[test]
fn cup_batch_mismatch_77_is_resolved_by_sign_on() {
    let _g = trace_subscriber();
    let mut t = term(true);
    t.host.batch = Some(42);
    t.request(sale(DOMESTIC, 1000)).unwrap();
    t.request(Request::Settle).unwrap();
    assert!(t
        .prompts()
        .contains(&Prompt::SettlementFailed(SettleFailure::BatchMismatch)));
    assert!(t.prompts().contains(&Prompt::SignOnRequired));
    assert_eq!(t.engine.batch(), 1);
    t.request(Request::SignOn).unwrap();
    assert_eq!(t.engine.batch(), 42, "adopted from 60.2");
    t.request(Request::Settle).unwrap();
    assert_eq!(t.reports()[0].batch, 42);
    assert_eq!(t.engine.batch(), 43);
}

#[test]
fn duplicate_advice_answered_94_is_delivered_once() {
    let _g = trace_subscriber();
    let mut t = term(true);
    t.host.next("0220", Script::Lost);
    t.request(Request::Refund {
        card: card(DOMESTIC),
        amount: 500,
    })
    .unwrap();
    assert_eq!(t.engine.records()[0].advice, AdviceState::Queued);
    t.request(Request::Settle).unwrap();
    assert_eq!(t.host.seen_mti("0220").len(), 2);
    assert_eq!(t.host.closed[0].1.len(), 1, "one refund at the host");
    assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
}

#[test]
fn auto_settlement_at_time_of_day_while_idle() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let auto = iso8583_settle::AutoSettle {
            time_of_day: Some((9, 30)),
            ..Default::default()
        };
        let cfg = config(cup).auto_settle(auto).build().unwrap();
        let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(cup), start()).unwrap();
        t.tick().unwrap();
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.tick().unwrap();
        assert!(t.reports().is_empty(), "not yet 09:30");
        t.now = iso8583_settle::Time::from_civil(2026, 12, 3, 9, 31, 0);
        t.tick().unwrap();
        assert_eq!(t.reports().len(), 1);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.tick().unwrap();
        assert_eq!(t.reports().len(), 1, "once a day");
    }
}

#[test]
fn auto_settlement_by_count() {
    let auto = iso8583_settle::AutoSettle {
        count: Some(3),
        ..Default::default()
    };
    let cfg = config(false).auto_settle(auto).build().unwrap();
    let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(false), start()).unwrap();
    for _ in 0..3 {
        t.request(sale(DOMESTIC, 10)).unwrap();
    }
    assert_eq!(t.reports().len(), 1);
}

#[test]
fn empty_batch_settles() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(Request::Settle).unwrap();
        let report = &t.reports()[0];
        assert!(report.lines.is_empty());
        assert!(report.balanced());
        assert_eq!(t.engine.batch(), 2);
    }
}

#[test]
fn busy_while_waiting_and_unmatched_replies_are_dropped() {
    let cfg = config(false).build().unwrap();
    let (mut engine, _) = iso8583_settle::Engine::open(cfg, MemStore::new(), start()).unwrap();
    let out = engine.request(sale(DOMESTIC, 10), start()).unwrap();
    assert!(out.deadline.is_some());
    let err = engine.request(sale(DOMESTIC, 10), start()).unwrap_err();
    assert!(matches!(err, Error::Rejected(Rejected::Busy { .. })));
    let mut host = FakeHost::new(false);
    host.next("0200", Script::Code("00"));
    let bytes = match host.answer(out.sent().next().unwrap().bytes()) {
        support::host::Answer::Reply(b) => b,
        other => panic!("{other:?}"),
    };
    // A reply with another trace number matches nothing.
    let spec = host.spec;
    let msg = spec.decode(&bytes).unwrap().complete().unwrap();
    let mut b = iso8583_codec::Builder::from_message(&msg).unwrap();
    b.set_str(11, "999999").unwrap();
    let wrong = b.to_bytes();
    let out = engine
        .response(&spec.decode(&wrong).unwrap().complete().unwrap(), start())
        .unwrap();
    assert!(out.actions.is_empty());
    assert!(engine.deadline().is_some());
    // The right trace number for another terminal matches nothing either.
    let mut b = iso8583_codec::Builder::from_message(&msg).unwrap();
    b.set_str(41, "TERM0002").unwrap();
    let other = b.to_bytes();
    let out = engine
        .response(&spec.decode(&other).unwrap().complete().unwrap(), start())
        .unwrap();
    assert!(out.actions.is_empty());
    let out = engine.response(&msg, start()).unwrap();
    assert!(matches!(
        out.outcomes().next(),
        Some(Outcome::Approved { .. })
    ));
    assert_eq!(out.deadline, None);
}

#[test]
fn chip_card_declined_after_approval_reverses_with_06() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(Request::Sale {
            card: chip(DOMESTIC),
            amount: 800,
            tip: 0,
        })
        .unwrap();
        let trace = t.engine.records()[0].trace;
        t.request(Request::CardDeclined { trace }).unwrap();
        let rev = t.host.seen_mti("0400")[0].clone();
        assert_eq!(rev.text(39), "06");
        assert_eq!(rev.trace(), trace);
        assert!(
            !rev.fields[&55].windows(2).any(|w| w == [0x57, 0x02]),
            "no tag 57"
        );
        assert!(t.engine.records().is_empty());
        assert!(t.engine.pending_reversal().is_none());
        t.assert_host_agrees();
        let err = t.request(Request::CardDeclined { trace }).unwrap_err();
        assert!(matches!(err, Error::Rejected(Rejected::NoSuchTrace { .. })));
    }
}

/// Everything the engine logs or shows goes through masking: no full PAN, no track data.
#[test]
fn logs_and_debug_output_never_show_a_full_pan() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf(Arc::new(Mutex::new(Vec::new())));
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        // Plain text to match against: another package of the workspace may turn on the
        // subscriber's `ansi` feature, and colour codes would split `stan=` apart.
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    support::anchor_subscriber();
    let _g = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(Request::Sale {
            card: chip(DOMESTIC),
            amount: 100,
            tip: 5,
        })
        .unwrap();
        t.request(sale(DOMESTIC, 200)).unwrap();
        t.host.next("0200", Script::Lost);
        t.request(sale(DOMESTIC, 300)).unwrap();
        t.request(Request::Void { invoice: 2 }).unwrap();
        t.host.out_of_balance = true;
        t.request(Request::Settle).unwrap();
        let shown = format!(
            "{:?} {:?} {:?}",
            t.actions,
            t.engine.records(),
            t.engine.last_report()
        );
        assert!(!shown.contains(DOMESTIC), "{shown}");
        assert!(shown.contains("621234******1234"));
    }
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("stan="), "structured fields are logged");
    assert!(!logs.contains(DOMESTIC));
    assert!(!logs.contains("D3012"), "no track data");
    assert!(!logs.contains(" INFO "), "library crates never log at info");
}

#[test]
fn batch_number_wraps_from_999999_to_1() {
    for cup in [false, true] {
        let cfg = config(cup).first_batch(999_999).build().unwrap();
        let mut t = Term::open(cfg, MemStore::new(), FakeHost::new(cup), start()).unwrap();
        t.request(sale(DOMESTIC, 10)).unwrap();
        t.request(Request::Settle).unwrap();
        assert_eq!(t.reports()[0].batch, 999_999);
        assert_eq!(t.engine.batch(), 1);
        let f60 = t.host.seen_mti("0500")[0].text(60);
        assert!(f60.contains("999999"), "{f60}");
    }
}

/// A fresh store starts at the configured trace number (a terminal that takes over from another
/// with the same id, as `posemu run` does from one scenario to the next), wraps from 999999 to
/// 1, and a store that holds a state keeps its own counter whatever the configuration says.
#[test]
fn first_trace_starts_a_fresh_store_and_only_a_fresh_one() {
    for cup in [false, true] {
        let cfg = config(cup).first_trace(999_998).build().unwrap();
        let store = MemStore::new();
        let mut t = Term::open(cfg, store.clone(), FakeHost::new(cup), start()).unwrap();
        assert_eq!(t.engine.next_trace_number(), 999_998);
        t.request(sale(DOMESTIC, 10)).unwrap();
        t.request(sale(DOMESTIC, 20)).unwrap();
        let traces: Vec<u32> = t.host.seen_mti("0200").iter().map(|s| s.trace()).collect();
        assert_eq!(traces, [999_998, 999_999]);
        assert_eq!(t.engine.next_trace_number(), 1, "wraps to 1");
        t.request(Request::Echo).unwrap();
        assert_eq!(t.engine.next_trace_number(), 2);

        // Reopened with another first trace: the stored counter wins, and it includes the
        // echo's trace number, stored before the echo was sent, so it is not used again.
        drop(t);
        let cfg = config(cup).first_trace(500).build().unwrap();
        let t = Term::open(cfg, store, FakeHost::new(cup), start()).unwrap();
        assert_eq!(t.engine.next_trace_number(), 2);
        assert_eq!(t.engine.records().len(), 2);
    }
}

/// The largest batch the counts allow (n3): 999 records, the 1000th refused, then a
/// settlement with a full upload.
#[test]
fn a_full_batch_of_999_settles_with_full_upload() {
    for cup in [false, true] {
        let mut t = term(cup);
        for i in 0..999 {
            t.request(sale(DOMESTIC, 100 + i)).unwrap();
        }
        let err = t.request(sale(DOMESTIC, 1)).unwrap_err();
        assert!(matches!(
            err,
            Error::Rejected(Rejected::StorageFull {
                count: 999,
                capacity: 999
            })
        ));
        t.host.out_of_balance = true;
        t.request(Request::Settle).unwrap();
        let report = &t.reports()[0];
        assert_eq!(report.uploaded, 999);
        let uploads = t.host.seen_mti("0320");
        if cup {
            // 124 groups of 8 and one of 7, then the closing 0320 with the count.
            assert_eq!(uploads.len(), 126);
            assert_eq!(uploads.last().unwrap().text(48), "0999");
        } else {
            assert_eq!(uploads.len(), 999);
            assert_eq!(&t.host.seen_mti("0500")[0].text(63)[..3], "999");
        }
        assert!(t.engine.records().is_empty());
    }
}
