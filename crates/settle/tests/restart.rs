//! Restart and crash injection (DESIGN §5 "Write-ahead order", §8): a store that refuses every
//! write after its k-th, for every k across a sale with a lost reply, across a settlement
//! with upload, and across tip adjustments and a pre-auth void, in both dialects and with
//! both stores; reopen, resume, and check that nothing
//! was lost or counted twice and that the terminal agrees with a host that saw every message.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use iso8583_settle::{
    Error, FailAfter, MemStore, Printout, Prompt, Reconciliation, Request, SettleFailure,
    Settlement, SqliteStore, Store, StoreError,
};
use support::{card, chip, config, sale, start, trace_subscriber, FakeHost, Script, Term};

const DOMESTIC: &str = "6212345678901234";

/// Something that can hand out a store over the same "disk" again and again.
trait Disk {
    type S: Store;
    fn store(&self) -> Self::S;
}

struct Mem(MemStore);

impl Disk for Mem {
    type S = MemStore;
    fn store(&self) -> MemStore {
        self.0.clone()
    }
}

struct Sqlite(PathBuf);

impl Disk for Sqlite {
    type S = SqliteStore;
    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.0).unwrap()
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

fn sqlite(name: &str) -> Sqlite {
    let path = std::env::temp_dir().join(format!("settle-{}-{name}.db", std::process::id()));
    let disk = Sqlite(path);
    drop(Sqlite(disk.0.clone()));
    disk
}

/// One step of a crash script.
#[derive(Clone)]
enum Step {
    Do(Request),
    /// A request that a crash earlier in the script may have made impossible (its record was
    /// never stored): a local refusal is accepted.
    Try(Request),
    Host(&'static str, Script),
    OutOfBalance,
}

/// Runs `steps` with a store that fails after write `k`; after a failure the terminal is
/// reopened on the same disk (resuming) and the script goes on with the next step. Ends with a
/// settlement, retried once after a crash.
fn run<D: Disk>(
    disk: &D,
    cup: bool,
    k: usize,
    steps: &[Step],
) -> (Term<FailAfter<D::S>>, Vec<Printout>, bool) {
    let cfg = config(cup).build().unwrap();
    let mut crashed = false;
    let mut printed = Vec::new();
    let mut host = FakeHost::new(cup);
    let mut term = match Term::open(cfg.clone(), FailAfter::new(disk.store(), k), host, start()) {
        Ok(t) => t,
        Err(e) => {
            assert_injected(&e);
            crashed = true;
            host = FakeHost::new(cup);
            Term::open(
                cfg.clone(),
                FailAfter::new(disk.store(), usize::MAX),
                host,
                start(),
            )
            .unwrap()
        }
    };
    let all: Vec<Step> = steps
        .iter()
        .cloned()
        .chain([Step::Do(Request::Settle), Step::Do(Request::Settle)])
        .collect();
    for step in all {
        if matches!(step, Step::Do(Request::Settle)) && term.engine.batch() == 2 {
            break;
        }
        let result = match step {
            Step::Do(request) => term.request(request),
            Step::Try(request) => match term.request(request) {
                Err(Error::Rejected(_)) => Ok(()),
                other => other,
            },
            Step::Host(mti, script) => {
                term.host.next(mti, script);
                Ok(())
            }
            Step::OutOfBalance => {
                term.host.out_of_balance = true;
                Ok(())
            }
        };
        if let Err(e) = result {
            assert_injected(&e);
            crashed = true;
            term = reopen(disk, cfg.clone(), term, &mut printed);
        }
    }
    printed.extend(term.printouts());
    (term, printed, crashed)
}

fn assert_injected(e: &Error) {
    assert!(matches!(e, Error::Store(StoreError::Injected(_))), "{e}");
}

fn reopen<D: Disk>(
    disk: &D,
    cfg: iso8583_settle::Config,
    old: Term<FailAfter<D::S>>,
    printed: &mut Vec<Printout>,
) -> Term<FailAfter<D::S>> {
    printed.extend(old.printouts());
    let now = old.now.plus_ms(60_000);
    let mut host = old.host;
    // Script entries for messages that were never sent are the old session's; drop them.
    host.script.clear();
    drop(old.engine);
    Term::open(cfg, FailAfter::new(disk.store(), usize::MAX), host, now).unwrap()
}

/// The checks after a crash run: one closed batch, nothing pending, and the report's records
/// exactly the host's.
fn check_closed<S: Store>(term: &Term<S>, printed: &[Printout]) {
    if let Some(why) = support::host::trace_reused(&term.host.seen, term.host.cup) {
        panic!("{why}");
    }
    assert!(term.engine.pending_reversal().is_none());
    assert_eq!(term.engine.settlement(), None);
    assert_eq!(term.engine.batch(), 2);
    let reports: Vec<_> = printed
        .iter()
        .filter_map(|p| match p {
            Printout::Report(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(reports.len(), 1, "exactly one report");
    let report = reports[0];
    assert_eq!(
        term.host.closed.len(),
        1,
        "the host closed exactly one batch"
    );
    let host_batch = &term.host.closed[0].1;
    // A pre-auth void is a record of the host's, not of the terminal's (it marks the pre-auth).
    let host_traces: BTreeSet<u32> = host_batch
        .iter()
        .filter(|(_, t)| t.kind != "preauth_void")
        .map(|(trace, _)| *trace)
        .collect();
    let traces: BTreeSet<u32> = report.traces.iter().copied().collect();
    assert_eq!(traces.len(), report.traces.len(), "no record twice");
    assert_eq!(traces, host_traces, "the terminal's batch is the host's");
    let amount: u64 = report.lines.iter().map(|l| l.amount).sum();
    let in_totals = |t: &&support::host::HostTxn| !t.kind.starts_with("preauth");
    let host_amount: u64 = host_batch
        .values()
        .filter(in_totals)
        .map(|t| t.amount)
        .sum();
    assert_eq!(amount, host_amount);
}

fn sale_with_lost_reply() -> Vec<Step> {
    vec![
        Step::Do(sale(DOMESTIC, 1000)),
        Step::Host("0200", Script::Lost),
        Step::Do(sale(DOMESTIC, 2000)),
        Step::Do(sale(DOMESTIC, 3000)),
    ]
}

/// Finding 13: the first sale's connection cannot be opened (the engine is told `not_sent`),
/// its settlement's 0500 neither; then more sales and the settlement. A crash between storing
/// the first sale's reversal and dropping it leaves the reversal, which the restart sends: the
/// host, which never saw the sale, answers 25 and nothing is counted.
fn sales_that_never_left() -> Vec<Step> {
    vec![
        Step::Host("0200", Script::Unreachable),
        Step::Do(sale(DOMESTIC, 1000)),
        Step::Do(sale(DOMESTIC, 2000)),
        Step::Host("0500", Script::Unreachable),
        Step::Do(Request::Settle),
        Step::Try(sale(DOMESTIC, 3000)),
    ]
}

fn settlement_with_upload() -> Vec<Step> {
    let mut steps: Vec<Step> = (0..4).map(|i| Step::Do(sale(DOMESTIC, 100 + i))).collect();
    steps.push(Step::Do(Request::Sale {
        card: chip(DOMESTIC),
        amount: 700,
        tip: 0,
    }));
    steps.push(Step::OutOfBalance);
    steps
}

/// Tip adjustments (international; a UnionPay terminal refuses them, which `Try` accepts), one
/// of them adjusted twice and one with its answer lost, and a pre-auth voided, then the
/// settlement: out of balance, so the 0320s carry the adjusted amounts.
fn tip_adjusts_and_a_pre_auth_void() -> Vec<Step> {
    let tip = |invoice, tip| Step::Try(Request::TipAdjust { invoice, tip });
    vec![
        Step::Do(sale(DOMESTIC, 1000)),
        Step::Do(sale(DOMESTIC, 2000)),
        tip(1, 150),
        tip(2, 300),
        tip(1, 175),
        Step::Do(Request::PreAuth {
            card: card(DOMESTIC),
            amount: 5000,
        }),
        Step::Try(Request::VoidPreAuth { invoice: 3 }),
        Step::Host("0220", Script::Lost),
        Step::Do(Request::Settle),
        Step::OutOfBalance,
    ]
}

/// The first 0320 is refused on every try: this settlement stops with "UPLOAD FAILED" (or, after
/// a crash, resumes and closes), and the one `run` ends with uploads again from the 0500.
fn settlement_with_refused_upload() -> Vec<Step> {
    let mut steps = settlement_with_upload();
    steps.extend((0..3).map(|_| Step::Host("0320", Script::Code("05"))));
    steps.push(Step::Do(Request::Settle));
    steps
}

fn crash_everywhere<D: Disk>(make: impl Fn() -> D, cup: bool, steps: &[Step]) {
    let clean = make();
    let (term, printed, crashed) = run(&clean, cup, usize::MAX, steps);
    assert!(!crashed);
    check_closed(&term, &printed);
    let writes = term.engine.store().writes();
    assert!(writes > 5);
    for k in 0..=writes {
        let disk = make();
        let (term, printed, crashed) = run(&disk, cup, k, steps);
        assert_eq!(crashed, k < writes, "write {} fails", k + 1);
        check_closed(&term, &printed);
    }
}

trait Writes {
    fn writes(&self) -> usize;
}

impl<S> Writes for FailAfter<S> {
    fn writes(&self) -> usize {
        // FailAfter counts every attempted write; the clean run attempted them all.
        self.attempted()
    }
}

#[test]
fn crash_at_every_write_of_a_sale_with_a_lost_reply() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        crash_everywhere(|| Mem(MemStore::new()), cup, &sale_with_lost_reply());
    }
}

#[test]
fn crash_at_every_write_of_a_settlement_with_upload() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        crash_everywhere(|| Mem(MemStore::new()), cup, &settlement_with_upload());
        crash_everywhere(
            || Mem(MemStore::new()),
            cup,
            &settlement_with_refused_upload(),
        );
        // Without a crash, that script does go through "UPLOAD FAILED" before closing.
        let (term, _, _) = run(
            &Mem(MemStore::new()),
            cup,
            usize::MAX,
            &settlement_with_refused_upload(),
        );
        let failed = SettleFailure::UploadFailed { code: "05".into() };
        assert!(term.prompts().contains(&Prompt::SettlementFailed(failed)));
        assert_eq!(term.reports()[0].uploaded, 5);
    }
}

#[test]
fn crash_at_every_write_of_tip_adjusts_and_a_pre_auth_void() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        crash_everywhere(
            || Mem(MemStore::new()),
            cup,
            &tip_adjusts_and_a_pre_auth_void(),
        );
    }
    // Without a crash: the closed batch holds the adjusted tips, the pre-auth voided.
    let (term, printed, _) = run(
        &Mem(MemStore::new()),
        false,
        usize::MAX,
        &tip_adjusts_and_a_pre_auth_void(),
    );
    let Some(Printout::Report(report)) = printed.first() else {
        panic!("a report: {printed:?}");
    };
    assert_eq!(report.lines.iter().map(|l| l.amount).sum::<u64>(), 3475);
    let host = &term.host.closed[0].1;
    assert_eq!(
        host.values().filter(|t| t.kind == "preauth_void").count(),
        1
    );
    assert!(host.values().any(|t| t.kind == "preauth" && t.voided));
    assert_eq!(
        term.host.seen_mti("0220").len(),
        3,
        "two advices, one repeated"
    );
}

#[test]
fn crash_at_every_write_of_sales_that_never_left() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        crash_everywhere(|| Mem(MemStore::new()), cup, &sales_that_never_left());
    }
}

/// The write-ahead guarantee holds for a request that never left: the terminal cannot know,
/// after a crash, whether it was sent, so a crash after its reversal was stored and before the
/// reversal was dropped leaves the reversal pending, and the restart sends it (reason 98) before
/// anything else.
#[test]
fn a_crash_before_the_unsent_reversal_is_dropped_keeps_it() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mem = MemStore::new();
        let cfg = config(cup).build().unwrap();
        let open = |store, host, now| Term::open(cfg.clone(), store, host, now);
        let other = FailAfter::new(MemStore::new(), usize::MAX);
        let fresh = open(other, FakeHost::new(cup), start()).unwrap();
        let fresh = fresh.engine.store().attempted();
        // Opening a fresh store writes `fresh` times; the next write stores the reversal and
        // the one after it, the drop, fails.
        let mut t = open(
            FailAfter::new(mem.clone(), fresh + 1),
            FakeHost::new(cup),
            start(),
        )
        .unwrap();
        t.host.next("0200", Script::Unreachable);
        let err = t.request(sale(DOMESTIC, 1000)).unwrap_err();
        assert_injected(&err);
        assert!(t.host.seen.is_empty(), "the sale never reached the host");
        drop(t);

        let t = open(
            FailAfter::new(mem.clone(), usize::MAX),
            FakeHost::new(cup),
            start().plus_ms(60_000),
        )
        .unwrap();
        assert_eq!(t.mtis(), ["0400"], "the stored reversal goes first");
        assert_eq!(t.host.seen[0].trace(), 1);
        assert_eq!(t.host.seen[0].text(39), "98");
        assert!(t.engine.pending_reversal().is_none(), "answered 25: done");
        assert!(t.engine.records().is_empty());
    }
}

#[test]
fn crash_at_every_write_with_sqlite() {
    let _g = trace_subscriber();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let make = || {
        sqlite(&format!(
            "crash{}",
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ))
    };
    crash_everywhere(make, true, &settlement_with_upload());
    crash_everywhere(make, false, &sale_with_lost_reply());
    crash_everywhere(make, false, &settlement_with_refused_upload());
    crash_everywhere(make, false, &tip_adjusts_and_a_pre_auth_void());
    crash_everywhere(make, true, &sales_that_never_left());
}

#[test]
fn upload_resumes_at_the_fourth_of_ten_after_the_connection_drops() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mem = MemStore::new();
        let cfg = config(cup).build().unwrap();
        let mut t = Term::open(cfg.clone(), mem.clone(), FakeHost::new(cup), start()).unwrap();
        for i in 0..10 {
            // Chip records go one per 0320 in both dialects.
            t.request(Request::Sale {
                card: chip(DOMESTIC),
                amount: 100 + i,
                tip: 0,
            })
            .unwrap();
        }
        t.host.out_of_balance = true;
        t.host
            .next("0320", Script::Code("00"))
            .next("0320", Script::Code("00"))
            .next("0320", Script::Code("00"));
        t.host.next("0320", Script::Drop);
        t.request(Request::Settle).unwrap();
        assert!(matches!(
            t.engine.settlement(),
            Some(Settlement::Upload { .. })
        ));
        assert_eq!(t.engine.records().iter().filter(|r| r.uploaded).count(), 3);
        let first_four: Vec<u32> = t
            .host
            .seen_mti("0320")
            .iter()
            .map(upload_trace(cup))
            .collect();
        // Power cycle: the reopened terminal resumes the upload by itself.
        let host = std::mem::replace(&mut t.host, FakeHost::new(cup));
        drop(t);
        let t = Term::open(cfg, mem.clone(), host, start().plus_ms(600_000)).unwrap();
        let uploads: Vec<u32> = t
            .host
            .seen_mti("0320")
            .iter()
            .map(upload_trace(cup))
            .collect();
        let data: Vec<u32> = if cup {
            uploads[..uploads.len() - 1].to_vec()
        } else {
            uploads.clone()
        };
        assert_eq!(data.len(), 11, "10 records, the fourth twice");
        assert_eq!(data[4], first_four[3], "resumed at the fourth");
        let distinct: BTreeSet<u32> = data.iter().copied().collect();
        assert_eq!(distinct.len(), 10);
        let report = &t.reports()[0];
        assert_eq!(report.reconciliation, Reconciliation::Uploaded);
        assert_eq!(report.uploaded, 10);
        if cup {
            assert_eq!(t.host.seen_mti("0320").last().unwrap().text(48), "0010");
        }
        assert_eq!(t.host.seen_mti("0500").len(), if cup { 1 } else { 2 });
    }
}

/// The refusals of the 0320 at the cursor are stored with the upload (write-ahead): a restart
/// between refusals neither forgets them nor marks the refused record, and the last try still
/// ends in "UPLOAD FAILED" with the batch open.
#[test]
fn upload_refusals_are_stored_and_count_across_a_restart() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mem = MemStore::new();
        let cfg = config(cup).build().unwrap();
        let mut t = Term::open(cfg.clone(), mem.clone(), FakeHost::new(cup), start()).unwrap();
        for i in 0..2 {
            t.request(Request::Sale {
                card: chip(DOMESTIC),
                amount: 100 + i,
                tip: 0,
            })
            .unwrap();
        }
        t.host.out_of_balance = true;
        t.host
            .next("0320", Script::Code("05"))
            .next("0320", Script::Code("05"))
            .next("0320", Script::Drop);
        t.request(Request::Settle).unwrap();
        assert!(matches!(
            t.engine.settlement(),
            Some(Settlement::Upload { refused: 2, .. })
        ));
        assert!(t.engine.records().iter().all(|r| !r.uploaded));
        let stored = mem.snapshot().unwrap();
        assert!(matches!(
            stored.settlement,
            Some(Settlement::Upload { refused: 2, .. })
        ));
        // Power cycle; the resumed upload is refused a third time: that was the last try.
        let mut host = std::mem::replace(&mut t.host, FakeHost::new(cup));
        host.next("0320", Script::Code("05"));
        drop(t);
        let t = Term::open(cfg, mem.clone(), host, start().plus_ms(600_000)).unwrap();
        assert_eq!(t.host.seen_mti("0320").len(), 4, "cup={cup}");
        assert!(t
            .prompts()
            .contains(&Prompt::SettlementFailed(SettleFailure::UploadFailed {
                code: "05".into()
            })));
        assert_eq!(t.engine.settlement(), None);
        assert_eq!(t.engine.batch(), 1);
        assert!(t.engine.records().iter().all(|r| !r.uploaded));
        assert_eq!(mem.snapshot().unwrap().settlement, None);
    }
}

fn upload_trace(cup: bool) -> impl Fn(&&support::host::Seen) -> u32 {
    move |s| {
        if cup {
            s.trace()
        } else {
            s.text(60)[4..10].parse().unwrap()
        }
    }
}

#[test]
fn power_loss_after_balanced_reply_finishes_clearing_without_a_second_0500() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mem = MemStore::new();
        let cfg = config(cup).build().unwrap();
        let mut t = Term::open(cfg.clone(), mem.clone(), FakeHost::new(cup), start()).unwrap();
        t.request(sale(DOMESTIC, 1000)).unwrap();
        let before = mem.writes();
        let host = std::mem::replace(&mut t.host, FakeHost::new(cup));
        drop(t);
        // Writes: settlement pending, (UnionPay: upload, closing), clearing; the clear fails.
        // Each message's trace number is stored ahead by the write before it.
        let allowed = if cup { 4 } else { 2 };
        let mut t = Term::open(
            cfg.clone(),
            FailAfter::new(mem.clone(), allowed),
            host,
            start(),
        )
        .unwrap();
        let err = t.request(Request::Settle).unwrap_err();
        assert!(matches!(err, Error::Store(StoreError::Injected(_))));
        assert!(mem.writes() == before + allowed);
        assert!(matches!(
            mem.snapshot().unwrap().settlement,
            Some(Settlement::Clearing { .. })
        ));
        assert_eq!(
            mem.snapshot().unwrap().records.len(),
            1,
            "log kept until the clear"
        );
        let host = std::mem::replace(&mut t.host, FakeHost::new(cup));
        drop(t);
        let t = Term::open(cfg, mem.clone(), host, start().plus_ms(60_000)).unwrap();
        assert_eq!(t.host.seen_mti("0500").len(), 1, "no second 0500");
        assert_eq!(t.reports().len(), 1);
        assert_eq!(t.engine.batch(), 2);
        assert!(t.engine.records().is_empty());
        assert_eq!(t.engine.last_report().unwrap().batch, 1);
    }
}

#[test]
fn restart_sends_the_pending_reversal_first() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mem = MemStore::new();
        let cfg = config(cup).build().unwrap();
        let mut t = Term::open(cfg.clone(), mem.clone(), FakeHost::new(cup), start()).unwrap();
        // The terminal dies while the 0200 is out: the reply is never read.
        let out = t.engine.request(sale(DOMESTIC, 1000), t.now).unwrap();
        let request = out.sent().next().unwrap().clone();
        let _ = t.host.answer(request.bytes());
        assert_eq!(t.host.ledger.len(), 1);
        let host = std::mem::replace(&mut t.host, FakeHost::new(cup));
        drop(t);
        let t = Term::open(cfg, mem.clone(), host, start()).unwrap();
        assert_eq!(t.mtis(), ["0200", "0400"]);
        assert!(t.engine.pending_reversal().is_none());
        assert!(t.host.ledger.is_empty(), "the host reversed it");
        assert!(t.engine.records().is_empty());
    }
}

#[test]
fn sqlite_store_keeps_the_batch_across_reopen_in_wal_mode() {
    let _g = trace_subscriber();
    let disk = sqlite("reopen");
    let cfg = config(true).build().unwrap();
    let mut t = Term::open(cfg.clone(), disk.store(), FakeHost::new(true), start()).unwrap();
    t.request(sale(DOMESTIC, 1000)).unwrap();
    t.request(Request::Sale {
        card: chip(DOMESTIC),
        amount: 2000,
        tip: 0,
    })
    .unwrap();
    let short = Request::OfflineSale {
        card: card(DOMESTIC),
        amount: 5,
        auth_code: "V1".into(),
    };
    let err = t.request(short).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Rejected(iso8583_settle::Rejected::BadCardData { field: 38, .. })
        ),
        "{err}"
    );
    t.request(Request::OfflineSale {
        card: card(DOMESTIC),
        amount: 5,
        auth_code: "V00001".into(),
    })
    .unwrap();
    let records = t.engine.records().to_vec();
    let host = std::mem::replace(&mut t.host, FakeHost::new(true));
    drop(t);
    let conn = rusqlite::Connection::open(&disk.0).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);
    let mut t = Term::open(cfg, disk.store(), host, start()).unwrap();
    assert_eq!(t.engine.records(), &records[..]);
    assert!(t.engine.records()[1]
        .icc
        .as_ref()
        .is_some_and(|icc| !icc.contains(&0x57)));
    t.request(Request::Settle).unwrap();
    assert_eq!(t.reports()[0].reconciliation, Reconciliation::Balanced);
    assert_eq!(t.engine.batch(), 2);
    assert!(t.engine.records().is_empty());
}

#[test]
fn time_of_day_auto_settlement_runs_once_a_day_across_restarts() {
    let _g = trace_subscriber();
    let auto = iso8583_settle::AutoSettle {
        time_of_day: Some((9, 30)),
        ..Default::default()
    };
    let cfg = config(false).auto_settle(auto).build().unwrap();
    let disk = sqlite("auto");
    let mut t = Term::open(cfg.clone(), disk.store(), FakeHost::new(false), start()).unwrap();
    t.request(sale(DOMESTIC, 10)).unwrap();
    t.now = iso8583_settle::Time::from_civil(2026, 12, 3, 9, 45, 0);
    t.tick().unwrap();
    assert_eq!(t.reports().len(), 1);
    let (host, now) = (std::mem::replace(&mut t.host, FakeHost::new(false)), t.now);
    drop(t);
    let mut t = Term::open(cfg.clone(), disk.store(), host, now).unwrap();
    t.request(sale(DOMESTIC, 10)).unwrap();
    t.tick().unwrap();
    assert!(t.reports().is_empty(), "not twice on one day");
    t.now = iso8583_settle::Time::from_civil(2026, 12, 4, 9, 31, 0);
    t.tick().unwrap();
    assert_eq!(t.reports().len(), 1, "again the next day");
}

/// The day's mark and "settlement pending" are one step: a crash right after the mark must
/// not leave a day whose time-of-day settlement never runs.
#[test]
fn crash_after_the_time_of_day_mark_still_settles_that_day() {
    let _g = trace_subscriber();
    let auto = iso8583_settle::AutoSettle {
        time_of_day: Some((9, 30)),
        ..Default::default()
    };
    let cfg = config(false).auto_settle(auto).build().unwrap();
    let mem = MemStore::new();
    let mut t = Term::open(cfg.clone(), mem.clone(), FakeHost::new(false), start()).unwrap();
    t.request(sale(DOMESTIC, 10)).unwrap();
    let host = std::mem::replace(&mut t.host, FakeHost::new(false));
    drop(t);
    let now = iso8583_settle::Time::from_civil(2026, 12, 3, 9, 45, 0);
    // The first write of the tick goes through, the next one fails.
    let mut t = Term::open(cfg.clone(), FailAfter::new(mem.clone(), 1), host, now).unwrap();
    let err = t.tick().unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::Injected(_))));
    let host = std::mem::replace(&mut t.host, FakeHost::new(false));
    drop(t);
    let mut t = Term::open(cfg, mem.clone(), host, now.plus_ms(60_000)).unwrap();
    t.tick().unwrap();
    assert_eq!(t.reports().len(), 1, "the day's settlement ran");
    assert_eq!(t.engine.batch(), 2);
}

/// A sale that takes a total past the overflow limit forces a settlement; a crash between the
/// step that adds it and "settlement pending" must not lose that: the restart settles.
#[test]
fn crash_before_a_forced_settlement_is_stored_settles_on_restart() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let cfg = config(cup).overflow_margin(1_000_000).build().unwrap();
        let mem = MemStore::new();
        let mut t = Term::open(cfg.clone(), mem.clone(), FakeHost::new(cup), start()).unwrap();
        t.request(sale(DOMESTIC, 999_998_000_000)).unwrap();
        let (host, now) = (std::mem::replace(&mut t.host, FakeHost::new(cup)), t.now);
        drop(t);
        // The reversal and the approval are written; "settlement pending" is not.
        let mut t = Term::open(cfg.clone(), FailAfter::new(mem.clone(), 2), host, now).unwrap();
        let err = t.request(sale(DOMESTIC, 1_500_000)).unwrap_err();
        assert!(matches!(err, Error::Store(StoreError::Injected(_))));
        assert_eq!(mem.snapshot().unwrap().records.len(), 2);
        assert_eq!(mem.snapshot().unwrap().settlement, None);
        let host = std::mem::replace(&mut t.host, FakeHost::new(cup));
        drop(t);
        let t = Term::open(cfg, mem.clone(), host, now.plus_ms(60_000)).unwrap();
        assert_eq!(t.reports().len(), 1, "cup={cup}: the forced settlement ran");
        assert_eq!(t.reports()[0].traces.len(), 2);
        assert_eq!(t.engine.batch(), 2);
    }
}

/// A settlement with an upload writes once per step of its write-ahead order (each write also
/// stores the trace number of the message after it), not once more per message; and it takes
/// a new trace number only for the messages that carry one (a UnionPay single-record 0320
/// carries its record's).
#[test]
fn a_settlement_stores_each_step_once_and_takes_only_the_trace_numbers_it_sends() {
    let _g = trace_subscriber();
    for cup in [false, true] {
        let mem = MemStore::new();
        let cfg = config(cup).build().unwrap();
        let mut t = Term::open(cfg, mem.clone(), FakeHost::new(cup), start()).unwrap();
        let n = 6;
        for i in 0..n {
            let card = if i % 2 == 0 {
                chip(DOMESTIC)
            } else {
                card(DOMESTIC)
            };
            let amount = 100 + i as u64;
            t.request(Request::Sale {
                card,
                amount,
                tip: 0,
            })
            .unwrap();
        }
        t.host.out_of_balance = true;
        let (writes, trace, seen) = (
            mem.writes(),
            t.engine.next_trace_number(),
            t.host.seen.len(),
        );
        t.request(Request::Settle).unwrap();
        assert_eq!(t.engine.batch(), 2, "cup {cup}: closed");
        let sent = &t.host.seen[seen..];
        let uploads = sent.iter().filter(|m| m.mti == "0320").count();
        let new_traces = sent.iter().filter(|m| m.trace() >= trace).count();
        // "settlement pending", the upload scope, one step per acknowledged 0320 (UnionPay's
        // closing 0320 excepted: "closing" comes before it), "closing" (international: before
        // the trailer), "clearing", and the log deleted with the new batch.
        let steps = 1 + 1 + uploads - usize::from(cup) + 1 + 1 + 1;
        assert_eq!(
            mem.writes() - writes,
            steps,
            "cup {cup}: {} messages",
            sent.len()
        );
        // Every message but UnionPay's single-record 0320s took the next trace number.
        let single = |m: &&support::host::Seen| cup && m.mti == "0320" && m.fields.contains_key(&2);
        let singles = sent.iter().filter(single).count();
        assert_eq!(singles, if cup { n / 2 } else { 0 }, "cup {cup}");
        assert_eq!(new_traces, sent.len() - singles, "cup {cup}");
        assert_eq!(
            t.engine.next_trace_number(),
            trace + new_traces as u32,
            "cup {cup}"
        );
    }
}
