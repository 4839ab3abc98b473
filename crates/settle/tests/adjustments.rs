//! Tip adjustment (international) and pre-authorisation void (both dialects) against the
//! scripted fake host, on simulated time: what goes on the wire, what the log and the totals
//! hold, the local refusals, and the host's answers that take an adjustment back.

mod support;

use iso8583_settle::{
    Error, Outcome, Prompt, Reconciliation, Record, Rejected, Request, SettleFailure, TipAdvice,
    TxnKind,
};
use support::{card, config, sale, term, trace_subscriber, FakeHost, Script, Term};

const DOMESTIC: &str = "6212345678901234";
const FOREIGN: &str = "4761739001010010";

fn tip(invoice: u32, tip: u64) -> Request {
    Request::TipAdjust { invoice, tip }
}

fn rejected<S: iso8583_settle::Store>(t: &mut Term<S>, request: Request) -> Rejected {
    match t.request(request) {
        Err(Error::Rejected(r)) => r,
        other => panic!("expected a local refusal, got {other:?}"),
    }
}

fn record(t: &Term<iso8583_settle::MemStore>, invoice: u32) -> Record {
    t.engine
        .records()
        .iter()
        .find(|r| r.invoice == invoice)
        .cloned()
        .unwrap()
}

fn pre_auth(amount: u64) -> Request {
    Request::PreAuth {
        card: card(FOREIGN),
        amount,
    }
}

/// The adjustment is offline: nothing is sent, the record and the totals take the new tip at
/// once, and the 0220 (its own trace; the sale named in 60 as a 0320 names it) goes before the
/// 0500, which then balances with the host that applied it.
#[test]
fn intl_tip_adjust_then_settle_balances() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(sale(DOMESTIC, 1000)).unwrap();
    t.request(sale(DOMESTIC, 2000)).unwrap();
    let sent = t.mtis().len();
    t.request(tip(1, 250)).unwrap();
    assert_eq!(t.mtis().len(), sent, "a tip adjustment is offline");
    let sale_trace = record(&t, 1).trace;
    assert_eq!(
        t.last_outcome(),
        Some(Outcome::Queued {
            kind: TxnKind::TipAdjust,
            trace: sale_trace,
            invoice: 1
        })
    );
    let adjusted = record(&t, 1);
    assert_eq!(
        (adjusted.amount, adjusted.tip, adjusted.total()),
        (1000, 250, 1250)
    );
    let advice = adjusted.tip_advice.expect("queued");
    assert_eq!(advice.host_tip, 0);
    assert_eq!(t.engine.intl_totals().unwrap().sale_amount, 3250);

    t.request(Request::Settle).unwrap();
    assert_eq!(&t.mtis()[sent..], ["0220", "0500"]);
    let m = t.host.seen_mti("0220")[0].clone();
    assert_eq!(m.trace(), advice.trace);
    assert_ne!(m.trace(), sale_trace, "a new trace number in 11");
    assert_eq!(m.text(3), "000000", "the sale's processing code");
    assert_eq!(m.text(4), "000000001250");
    assert_eq!(m.text(54), "000000000250");
    assert_eq!(m.text(60), format!("0200{sale_trace:06}{}", " ".repeat(12)));
    assert_eq!(m.text(62), "000001");
    assert_eq!(m.text(37), format!("{sale_trace:012}"), "the sale's RRN");
    assert_eq!(m.text(38), "AUTH01");
    let report = &t.reports()[0];
    assert_eq!(report.reconciliation, Reconciliation::Balanced);
    assert_eq!(report.lines.iter().map(|l| l.amount).sum::<u64>(), 3250);
    assert_eq!(t.host.closed[0].1[&sale_trace].amount, 1250);
}

/// Out of balance (the host is told so), the 0320 of the adjusted sale carries amount plus the
/// new tip in 4 and the tip in 54.
#[test]
fn intl_tip_adjust_then_out_of_balance_uploads_the_adjusted_amount() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(Request::Sale {
        card: card(DOMESTIC),
        amount: 1000,
        tip: 100,
    })
    .unwrap();
    t.request(tip(1, 300)).unwrap();
    t.host.out_of_balance = true;
    t.request(Request::Settle).unwrap();
    let upload = t.host.seen_mti("0320")[0].clone();
    assert_eq!(upload.text(4), "000000001300");
    assert_eq!(upload.text(54), "000000000300");
    let report = &t.reports()[0];
    assert_eq!(report.reconciliation, Reconciliation::Uploaded);
    assert_eq!(report.lines.iter().map(|l| l.amount).sum::<u64>(), 1300);
}

/// Adjusting again before the flush replaces the advice: one 0220 with the last tip, and the
/// tip the host holds is still the original one until it is delivered. After delivery a new
/// adjustment is a new advice with a new trace, which the host applies (not a 94).
#[test]
fn intl_tip_adjusted_twice_sends_the_last_tip_and_a_later_one_again() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(Request::Sale {
        card: card(DOMESTIC),
        amount: 1000,
        tip: 50,
    })
    .unwrap();
    t.request(tip(1, 100)).unwrap();
    let first = record(&t, 1).tip_advice.unwrap();
    t.request(tip(1, 0)).unwrap();
    let second = record(&t, 1).tip_advice.unwrap();
    assert_ne!(first.trace, second.trace);
    assert_eq!(second.host_tip, 50);
    assert_eq!(record(&t, 1).total(), 1000);
    // A settlement that fails at the 0500 still flushed the advice.
    t.host.next("0500", Script::Drop);
    t.request(Request::Settle).unwrap();
    let advices = t.host.seen_mti("0220");
    assert_eq!(advices.len(), 1);
    assert_eq!(
        advices[0].text(54),
        "000000000000",
        "a zero tip is said, not left out"
    );
    assert!(record(&t, 1).tip_advice.is_none());
    t.request(Request::Settle).unwrap();
    assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
    // The next batch: adjusted once more after delivery, it is applied again.
    t.request(sale(DOMESTIC, 500)).unwrap();
    let invoice = t.engine.records()[0].invoice;
    t.request(tip(invoice, 20)).unwrap();
    t.request(Request::Settle).unwrap();
    assert_eq!(t.reports()[1].reconciliation, Reconciliation::Balanced);
    assert_eq!(t.host.seen_mti("0220").len(), 2);
    assert_eq!(
        t.host.closed[1].1.values().map(|x| x.amount).sum::<u64>(),
        520
    );
}

/// A tip advice whose answer is lost stays queued and stops the settlement; its repeat is a
/// duplicate (94), delivered, and the host applied it once.
#[test]
fn intl_tip_advice_lost_is_repeated_and_answered_94() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(sale(DOMESTIC, 1000)).unwrap();
    t.request(tip(1, 200)).unwrap();
    t.host.next("0220", Script::Lost);
    t.request(Request::Settle).unwrap();
    assert!(t
        .prompts()
        .contains(&Prompt::SettlementFailed(SettleFailure::AdviceNotDelivered)));
    assert!(record(&t, 1).tip_advice.is_some());
    assert!(matches!(
        t.request(sale(DOMESTIC, 5)),
        Err(Error::Rejected(Rejected::SettlementPending { .. }))
    ));
    t.request(Request::Settle).unwrap();
    let advices = t.host.seen_mti("0220");
    assert_eq!(advices.len(), 2);
    assert_eq!(advices[0].trace(), advices[1].trace());
    assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
    assert_eq!(
        t.host.closed[0].1.values().map(|x| x.amount).sum::<u64>(),
        1200
    );
}

/// The host refuses the adjustment (here 25, as when it holds no such sale): the record goes
/// back to the tip the host holds, the operator is told, and the totals still agree.
#[test]
fn intl_tip_advice_declined_puts_back_the_hosts_tip() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(Request::Sale {
        card: card(DOMESTIC),
        amount: 1000,
        tip: 80,
    })
    .unwrap();
    t.request(tip(1, 400)).unwrap();
    t.host.next("0220", Script::Code("25"));
    t.request(Request::Settle).unwrap();
    assert!(t.outcomes().contains(&Outcome::Declined {
        kind: TxnKind::TipAdjust,
        code: "25".into()
    }));
    let report = &t.reports()[0];
    assert_eq!(report.reconciliation, Reconciliation::Balanced);
    assert_eq!(report.lines.iter().map(|l| l.amount).sum::<u64>(), 1080);
}

/// Every refusal is local and typed, and nothing is stored or sent.
#[test]
fn tip_adjust_refusals() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(sale(DOMESTIC, 1000)).unwrap(); // invoice 1, voided below
    t.request(Request::Refund {
        card: card(DOMESTIC),
        amount: 300,
    })
    .unwrap(); // 2
    t.request(pre_auth(700)).unwrap(); // 3
    t.request(Request::OfflineSale {
        card: card(DOMESTIC),
        amount: 50,
        auth_code: "VOICE1".into(),
    })
    .unwrap(); // 4
    t.request(sale(DOMESTIC, 2000)).unwrap(); // 5
    t.request(Request::Void { invoice: 1 }).unwrap();
    let before = t.engine.records().to_vec();
    let sent = t.mtis().len();
    assert_eq!(
        rejected(&mut t, tip(1, 10)),
        Rejected::AlreadyVoided { invoice: 1 }
    );
    for (invoice, kind) in [
        (2, TxnKind::Refund),
        (3, TxnKind::PreAuth),
        (4, TxnKind::OfflineSale),
    ] {
        assert_eq!(
            rejected(&mut t, tip(invoice, 10)),
            Rejected::NotAdjustable { invoice, kind }
        );
    }
    assert_eq!(
        rejected(&mut t, tip(99, 10)),
        Rejected::NoSuchRecord { invoice: 99 }
    );
    assert_eq!(
        rejected(&mut t, tip(5, 999_999_999_000)),
        Rejected::InvalidAmount(999_999_999_000 + 2000)
    );
    assert_eq!(t.engine.records(), &before[..]);
    assert_eq!(t.mtis().len(), sent);
    t.host.next("0500", Script::Drop);
    t.request(Request::Settle).unwrap();
    assert_eq!(
        rejected(&mut t, tip(5, 10)),
        Rejected::SettlementPending {
            kind: TxnKind::TipAdjust
        }
    );
    assert!(t
        .engine
        .records()
        .iter()
        .all(|r| r.tip_advice.is_none() && r.tip == 0));
    assert_eq!(
        t.mtis()[sent..],
        ["0220", "0500"],
        "only the offline advice went"
    );

    let mut cup = term(true);
    cup.request(sale(DOMESTIC, 1000)).unwrap();
    assert_eq!(
        rejected(&mut cup, tip(1, 10)),
        Rejected::TipAdjustUnsupported
    );
    assert!(cup.engine.records()[0].tip_advice.is_none());
}

/// A larger tip joins the sale total, which must stay within 12 digits; one that takes it past
/// the overflow limit forces the settlement, as a sale would (DESIGN §5, "Limits").
#[test]
fn a_tip_increase_cannot_overflow_the_sale_total_and_may_force_settlement() {
    let _g = trace_subscriber();
    let cfg = config(false).overflow_margin(1_000_000).build().unwrap();
    let mut t = Term::open(
        cfg,
        iso8583_settle::MemStore::new(),
        FakeHost::new(false),
        support::start(),
    )
    .unwrap();
    t.request(sale(DOMESTIC, 500_000_000_000)).unwrap();
    t.request(sale(DOMESTIC, 499_998_000_000)).unwrap();
    assert!(matches!(
        rejected(&mut t, tip(1, 2_000_000)),
        Rejected::TotalsNearOverflow {
            amount: 2_000_000,
            ..
        }
    ));
    assert!(t.reports().is_empty());
    t.request(tip(1, 1_500_000)).unwrap();
    assert!(t.prompts().contains(&Prompt::AutoSettlement));
    assert_eq!(t.reports().len(), 1, "the forced settlement ran");
    assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
    let sold: u64 = t.host.closed[0].1.values().map(|x| x.amount).sum();
    assert_eq!(sold, 999_999_500_000);
}

/// A void of an adjusted sale waits for the tip advice (the 0200 carries the amount the host
/// holds); when the advice cannot be delivered, the void is not sent.
#[test]
fn intl_void_of_an_adjusted_sale_sends_the_tip_advice_first() {
    let _g = trace_subscriber();
    let mut t = term(false);
    t.request(sale(DOMESTIC, 1000)).unwrap();
    t.request(tip(1, 150)).unwrap();
    let advice = record(&t, 1).tip_advice.unwrap();
    t.host.next("0220", Script::Drop);
    t.request(Request::Void { invoice: 1 }).unwrap();
    assert_eq!(
        t.last_outcome(),
        Some(Outcome::TipAdviceNotDelivered {
            kind: TxnKind::Void,
            advice_trace: advice.trace
        })
    );
    assert!(!record(&t, 1).voided);
    assert_eq!(t.host.seen_mti("0200").len(), 1, "the void did not go");
    t.request(Request::Void { invoice: 1 }).unwrap();
    assert_eq!(t.mtis()[2..], ["0220", "0200"]);
    assert_eq!(t.host.seen_mti("0200")[1].text(4), "000000001150");
    assert!(record(&t, 1).voided);
    t.assert_host_agrees();
    // A chip decline's 0400 must also carry the host's amount: refused while one is queued.
    t.request(sale(DOMESTIC, 700)).unwrap();
    let invoice = t.engine.records()[1].invoice;
    t.request(tip(invoice, 70)).unwrap();
    let trace = t.engine.records()[1].trace;
    assert_eq!(
        rejected(&mut t, Request::CardDeclined { trace }),
        Rejected::TipAdjustPending { invoice }
    );
}

/// The record with its new tip and the pending advice are one store step, and a store that
/// read back an older record (no `tip_advice` key) reads it as having none.
#[test]
fn tip_adjust_is_one_store_step_and_old_records_read_back() {
    let mem = iso8583_settle::MemStore::new();
    let cfg = config(false).build().unwrap();
    let mut t = Term::open(cfg, mem.clone(), FakeHost::new(false), support::start()).unwrap();
    t.request(sale(DOMESTIC, 1000)).unwrap();
    let writes = mem.writes();
    t.request(tip(1, 100)).unwrap();
    assert_eq!(mem.writes(), writes + 1);
    let stored = &mem.snapshot().unwrap().records[0];
    assert_eq!(stored.tip, 100);
    assert!(matches!(
        stored.tip_advice,
        Some(TipAdvice { host_tip: 0, .. })
    ));
    let mut json: serde_json::Value = serde_json::to_value(stored).unwrap();
    json.as_object_mut().unwrap().remove("tip_advice");
    let old: Record = serde_json::from_value(json).unwrap();
    assert_eq!(old.tip_advice, None);
}

/// Both dialects: the pre-auth void is an online 0100 naming the pre-auth (international 020000
/// with 37, 38 and the invoice in 62; UnionPay 200000 with 60.1 `11` and 61 = batch + trace),
/// stored as the pending reversal before it leaves; approved, it marks the pre-auth voided and
/// adds nothing, the totals stay, and the pre-auth can be neither voided again nor completed.
#[test]
fn pre_auth_void_marks_the_pre_auth_and_it_cannot_be_completed() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(sale(DOMESTIC, 1000)).unwrap();
        t.request(pre_auth(8000)).unwrap();
        let pre = record(&t, 2);
        let totals = (t.engine.intl_totals(), t.engine.cup_totals());
        let out = t
            .engine
            .request(Request::VoidPreAuth { invoice: 2 }, t.now)
            .unwrap();
        assert!(
            t.engine.pending_reversal().is_some(),
            "stored before it leaves"
        );
        assert_eq!(t.engine.pending_reversal().unwrap().mti, "0100");
        t.pump(out).unwrap();
        let m = t.host.seen.last().unwrap().clone();
        assert_eq!(m.mti, "0100");
        assert_eq!(m.text(4), "000000008000");
        assert_eq!(m.text(25), "06");
        assert_eq!(m.text(37), pre.rrn);
        assert_eq!(m.text(38), pre.auth_code);
        if cup {
            assert_eq!(m.text(3), "200000");
            assert_eq!(&m.text(60)[..2], "11");
            assert_eq!(m.text(61), format!("000001{:06}", pre.trace));
        } else {
            assert_eq!(m.text(3), "020000");
            assert_eq!(m.text(62), "000002");
        }
        assert!(matches!(
            t.last_outcome(),
            Some(Outcome::Approved {
                kind: TxnKind::PreAuthVoid,
                invoice: 2,
                ..
            })
        ));
        assert!(t.engine.pending_reversal().is_none());
        assert_eq!(
            t.engine.records().len(),
            2,
            "cup={cup}: no record of its own"
        );
        assert!(record(&t, 2).voided);
        assert_eq!((t.engine.intl_totals(), t.engine.cup_totals()), totals);
        assert!(t.host.ledger[&pre.trace].voided);

        let again = Request::VoidPreAuth { invoice: 2 };
        assert_eq!(
            rejected(&mut t, again),
            Rejected::AlreadyVoided { invoice: 2 }
        );
        let completion = Request::Completion {
            card: card(FOREIGN),
            amount: 7500,
            auth_code: pre.auth_code.to_string(),
        };
        assert_eq!(
            rejected(&mut t, completion),
            Rejected::PreAuthVoided { invoice: 2 }
        );
        let of_a_sale = Request::VoidPreAuth { invoice: 1 };
        assert_eq!(
            rejected(&mut t, of_a_sale),
            Rejected::NotVoidable {
                invoice: 1,
                kind: TxnKind::Sale
            }
        );
        let unknown = Request::VoidPreAuth { invoice: 9 };
        assert_eq!(
            rejected(&mut t, unknown),
            Rejected::NoSuchRecord { invoice: 9 }
        );
        t.assert_host_agrees();
        t.request(Request::Settle).unwrap();
        assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
    }
}

/// A pre-auth void whose answer is lost is reversed like any online request: the 0400 takes
/// the host's void back, the pre-auth stands on both sides and can still be completed.
#[test]
fn pre_auth_void_without_an_answer_is_reversed() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mut t = term(cup);
        t.request(pre_auth(5000)).unwrap();
        let pre = record(&t, 1);
        t.host.next("0100", Script::Lost);
        t.request(Request::VoidPreAuth { invoice: 1 }).unwrap();
        assert!(matches!(
            t.last_outcome(),
            Some(Outcome::Reversed {
                kind: TxnKind::PreAuthVoid,
                reason: "98",
                ..
            })
        ));
        assert_eq!(&t.mtis()[1..], ["0100", "0400"]);
        assert_eq!(
            t.host.seen_mti("0400")[0].text(3),
            t.host.seen_mti("0100")[1].text(3)
        );
        assert!(t.engine.pending_reversal().is_none());
        assert!(!record(&t, 1).voided);
        assert!(!t.host.ledger[&pre.trace].voided, "cup={cup}");
        t.request(Request::Completion {
            card: card(FOREIGN),
            amount: 4000,
            auth_code: pre.auth_code.to_string(),
        })
        .unwrap();
        assert!(matches!(
            t.last_outcome(),
            Some(Outcome::Approved {
                kind: TxnKind::Completion,
                ..
            })
        ));
    }
}

/// A pre-auth void adds no record, so a full batch does not refuse it (DESIGN §5 lists what
/// storage full refuses), in either dialect.
#[test]
fn a_full_batch_still_voids_a_pre_auth() {
    for cup in [false, true] {
        let cfg = config(cup).capacity(2, 1).build().unwrap();
        let mut t = Term::open(
            cfg,
            iso8583_settle::MemStore::new(),
            FakeHost::new(cup),
            support::start(),
        )
        .unwrap();
        t.request(pre_auth(100)).unwrap();
        t.request(pre_auth(200)).unwrap();
        assert!(matches!(
            rejected(&mut t, pre_auth(300)),
            Rejected::StorageFull { .. }
        ));
        t.request(Request::VoidPreAuth { invoice: 2 }).unwrap();
        assert!(record(&t, 2).voided, "cup={cup}");
    }
}
