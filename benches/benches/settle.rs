//! Settlement of a full batch (issue #4): one terminal with 999 approved sales settles to close
//! against an in-process fake host, with the in-memory store (`settle_999_upload_mem`) and with
//! the SQLite store in a temporary file (`settle_999_upload_sqlite`).
//!
//! The international dialect: the host answers the 0500 (920000) with 95, so the terminal
//! uploads one 0320 per record (999), each acknowledged 00, then sends the 960000 trailer, which
//! the host answers 00, and the batch is cleared (report stored, log deleted, batch + 1). That
//! is 1,001 messages and 1,004 store commits in one timed iteration.
//!
//! The batch is filled once, before anything is timed, by driving the engine through 999
//! approved sales against the same fake host; each iteration's setup (not timed) copies that
//! state into a fresh store with one [`Store::commit`] and opens an engine on it, so every
//! timed settlement starts from the same full batch. Before timing, one settlement per store is
//! checked to close with 999 uploads, and every timed iteration checks its report and the
//! host's message counts too.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use iso8583_codec::{Builder, Spec};
use iso8583_settle::{
    Action, Card, CardGroup, Config, Dialect, Engine, IntlSettings, MemStore, Op, Outcome, Output,
    Pan, Printout, Reconciliation, Report, Request, Snapshot, SqliteStore, Store, Time,
};
use tempfile::TempDir;

/// Records in a full batch: the most the n3 counts allow.
const RECORDS: usize = 999;

/// A foreign card, as the international dialect's tests use.
const PAN: &str = "4761739001010010";

/// Messages the fake host saw, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    sales: usize,
    reconciles: usize,
    uploads: usize,
    trailers: usize,
}

/// The in-process fake acquirer host: approves every 0200, answers the 0500 (920000) with 95
/// (out of balance), acknowledges every 0320 with 00 and answers the 960000 trailer with 00.
/// Replies are built with the codec's `Builder` and echo fields 3, 4, 11, 41 and 42, as the
/// settle crate's test host does.
struct Host {
    spec: &'static Spec,
    seen: Seen,
}

impl Host {
    fn new(spec: &'static Spec) -> Host {
        Host {
            spec,
            seen: Seen::default(),
        }
    }

    /// Decodes the terminal's message and returns the encoded reply.
    fn answer(&mut self, request: &[u8]) -> Vec<u8> {
        let msg = self
            .spec
            .decode_complete(request)
            .expect("the terminal's message decodes");
        let mti = msg.mti();
        let processing = msg.field(3).map(|f| f.to_vec()).unwrap_or_default();
        let trace = msg.field(11).and_then(|f| f.to_u64()).unwrap_or(0);
        let mut extra: Vec<(u16, Vec<u8>)> = Vec::new();
        let code = match (mti.as_str(), processing.as_slice()) {
            ("0200", _) => {
                self.seen.sales += 1;
                extra.push((37, format!("{trace:012}").into_bytes()));
                extra.push((38, b"AUTH01".to_vec()));
                "00"
            }
            ("0500", b"920000") => {
                self.seen.reconciles += 1;
                "95"
            }
            ("0500", b"960000") => {
                self.seen.trailers += 1;
                "00"
            }
            ("0320", _) => {
                self.seen.uploads += 1;
                "00"
            }
            (other, _) => panic!("the fake host does not expect a {other}"),
        };
        let mut reply = Builder::new(self.spec, mti.response().expect("a request MTI"));
        for n in [3u16, 4, 11, 41, 42] {
            if let Some(f) = msg.field(n) {
                reply.set(n, f.to_vec()).expect("echoed field");
            }
        }
        reply.set_str(39, code).expect("response code");
        for (n, v) in extra {
            reply.set(n, v).expect("reply field");
        }
        reply.to_bytes().to_vec()
    }
}

fn config() -> Config {
    let dialect = Dialect::International(IntlSettings::default());
    Config::builder("TERM0001", "MERCHANT0000001", dialect)
        .build()
        .expect("valid configuration")
}

fn start() -> Time {
    Time::from_civil(2026, 12, 3, 9, 0, 0)
}

/// A swiped foreign card with track 2 and a PIN block (which the engine must not store).
fn card() -> Card {
    let mut card = Card::swiped(Pan::new(PAN).expect("digits"));
    card.group = CardGroup::Foreign;
    card.expiry = Some("3012".into());
    card.track2 = Some(format!("{PAN}D30121010000"));
    card.pin_block = Some([0x11; 8]);
    card
}

/// Feeds each message the engine sends to the host and the decoded reply back, until nothing
/// is in flight (one second of simulated time per exchange, far inside the 30 s deadline).
/// Returns every action the engine produced.
fn pump<S: Store>(
    engine: &mut Engine<S>,
    host: &mut Host,
    mut out: Output,
    now: &mut Time,
) -> Vec<Action> {
    let spec = host.spec;
    let mut actions = Vec::new();
    loop {
        let request = out.sent().next().map(|m| m.bytes().to_vec());
        actions.append(&mut out.actions);
        let Some(request) = request else {
            return actions;
        };
        *now = now.plus_ms(1_000);
        let bytes = host.answer(&request);
        let reply = spec
            .decode_complete(&bytes)
            .expect("the host's reply decodes");
        out = engine
            .response(&reply, *now)
            .expect("the engine takes the reply");
    }
}

/// The state of a terminal holding a full batch, reached through the engine: 999 sales, each
/// approved by the fake host.
fn full_batch() -> Snapshot {
    let mut now = start();
    let (mut engine, out) = Engine::open(config(), MemStore::new(), now).expect("opens");
    let mut host = Host::new(engine.config().dialect().spec());
    pump(&mut engine, &mut host, out, &mut now);
    for i in 0..RECORDS as u64 {
        let sale = Request::Sale {
            card: card(),
            amount: 100 + i,
            tip: 0,
        };
        let out = engine.request(sale, now).expect("sale accepted");
        let actions = pump(&mut engine, &mut host, out, &mut now);
        let approved = actions
            .iter()
            .any(|a| matches!(a, Action::Outcome(Outcome::Approved { .. })));
        assert!(approved, "sale {i} approved");
    }
    assert_eq!(engine.records().len(), RECORDS);
    assert_eq!(host.seen.sales, RECORDS);
    // The batch is full: one more sale is refused locally and nothing is sent.
    let more = Request::Sale {
        card: card(),
        amount: 1,
        tip: 0,
    };
    assert!(
        engine.request(more, now).is_err(),
        "the 1000th sale refused"
    );
    let snapshot = engine.into_store().snapshot().expect("stored");
    assert!(snapshot.reversal.is_none() && snapshot.settlement.is_none());
    assert!(snapshot.last_report.is_none());
    snapshot
}

/// One step that writes `snapshot` (counters and the 999 records, in log order) into an empty
/// store.
fn seed_ops(snapshot: &Snapshot) -> Vec<Op> {
    let mut ops = vec![Op::Counters {
        batch: snapshot.batch,
        next_trace: snapshot.next_trace,
        next_invoice: snapshot.next_invoice,
    }];
    ops.extend(snapshot.records.iter().cloned().map(Op::put));
    ops
}

fn mem_store(seed: &[Op]) -> MemStore {
    let mut store = MemStore::new();
    store.commit(seed).expect("seeded");
    store
}

/// A SQLite store in a new temporary directory (WAL mode, `synchronous=FULL`, as
/// `SqliteStore::open` sets up); the directory goes when the `TempDir` is dropped.
fn sqlite_store(seed: &[Op]) -> (SqliteStore, TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("settle-bench")
        .tempdir()
        .expect("temporary directory");
    let mut store = SqliteStore::open(dir.path().join("terminal.db")).expect("opens");
    store.commit(seed).expect("seeded");
    (store, dir)
}

/// A terminal opened on `store`, idle with its full batch, and a fresh host.
fn terminal<S: Store>(store: S) -> (Engine<S>, Host) {
    let (engine, out) = Engine::open(config(), store, start()).expect("opens");
    assert!(out.actions.is_empty(), "nothing to resume");
    assert_eq!(engine.records().len(), RECORDS);
    let host = Host::new(engine.config().dialect().spec());
    (engine, host)
}

/// The timed work: one settlement to close. Returns the printed report.
fn settle<S: Store>(engine: &mut Engine<S>, host: &mut Host) -> Report {
    let mut now = start();
    let out = engine
        .request(Request::Settle, now)
        .expect("settlement starts");
    let actions = pump(engine, host, out, &mut now);
    let report = actions.into_iter().find_map(|a| match a {
        Action::Print(Printout::Report(report)) => Some(report),
        _ => None,
    });
    let report = report.expect("the batch closed with a report");
    // Cheap next to the settlement: every timed iteration did the whole job.
    assert_eq!(report.uploaded as usize, RECORDS);
    assert_eq!(
        host.seen,
        Seen {
            sales: 0,
            reconciles: 1,
            uploads: RECORDS,
            trailers: 1
        }
    );
    report
}

/// Once, before timing: the seeded store holds exactly the full batch, and a settlement on it
/// is out of balance, uploads 999 records and closes batch 1.
fn verify<S: Store>(mut store: S, snapshot: &Snapshot) {
    assert_eq!(
        store.load().expect("loads").as_ref(),
        Some(snapshot),
        "the seeded store holds the full batch"
    );
    let (mut engine, mut host) = terminal(store);
    let report = settle(&mut engine, &mut host);
    assert_eq!(report.reconciliation, Reconciliation::Uploaded);
    assert_eq!(report.batch, 1);
    assert_eq!(report.traces.len(), RECORDS);
    assert!(engine.records().is_empty(), "log cleared");
    assert_eq!(engine.batch(), 2, "next batch open");
    assert!(engine.settlement().is_none());
    assert_eq!(engine.last_report(), Some(&report));
}

fn benches(c: &mut Criterion) {
    let snapshot = full_batch();
    let seed = seed_ops(&snapshot);

    verify(mem_store(&seed), &snapshot);
    let (store, dir) = sqlite_store(&seed);
    verify(store, &snapshot);
    drop(dir);

    c.bench_function("settle_999_upload_mem", |b| {
        b.iter_batched(
            || terminal(mem_store(&seed)),
            |(mut engine, mut host)| {
                let report = settle(&mut engine, black_box(&mut host));
                // Returned so that dropping happens outside the timed part.
                (report, engine, host)
            },
            BatchSize::PerIteration,
        )
    });

    c.bench_function("settle_999_upload_sqlite", |b| {
        b.iter_batched(
            || {
                let (store, dir) = sqlite_store(&seed);
                let (engine, host) = terminal(store);
                (engine, host, dir)
            },
            |(mut engine, mut host, dir)| {
                let report = settle(&mut engine, black_box(&mut host));
                // Closing the connection (a WAL checkpoint) and deleting the file happen when
                // these are dropped, outside the timed part.
                (report, engine, host, dir)
            },
            BatchSize::PerIteration,
        )
    });
}

// Written out instead of `criterion_group!`/`criterion_main!`, whose generated `pub fn` has no
// doc comment (see benches/codec.rs). Ten samples and short times: one iteration is a whole
// settlement (milliseconds in memory, far longer with SQLite); the command line overrides them.
fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
