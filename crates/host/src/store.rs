//! The ledger's SQLite store, written behind: the in-memory books ([`crate::ledger`]) decide
//! every answer, and each change is sent to one writer thread that applies what has queued up
//! in a single transaction. A sale therefore costs the connection a channel send, not a
//! database round trip under a lock, and thousands of rows share one commit.
//!
//! Tables: `txn` (one row per record: terminal, trace, MTI, processing code, kind, amount,
//! state, uploaded, RRN, approval code, card group, masked PAN, and which of the terminal's
//! batches it belongs to, `batch_seq`) and `batch` (one row per closed batch: the terminal's
//! `seq`, its number, result and totals as the wire digits). The view `ledger` joins them,
//! giving each record its batch number once the batch is closed. A record's batch is known
//! when it is inserted (the count of the terminal's batches closed before it), so writing a
//! sale is one insert by primary key and closing a batch one insert: no secondary index to
//! maintain on the hot path. PANs are stored masked; keys are never stored.
//!
//! Two small tables keep what the books need besides records: `answer` (the first non-00 answer
//! per terminal, batch, MTI and trace: declined requests leave no record, yet a repeat must get
//! its first answer again, DESIGN §6) and `session` (per terminal where its settlement stands
//! and the host's batch number, so an upload interrupted by a host restart can go on).
//!
//! A host started on an existing file reads its books back first (`restore`): open batches
//! and closed batches per terminal, so repeats, reversals and reconciliations of what it
//! approved before the restart are answered as before.
//!
//! In memory (no `--db`), the database holds what the books hold and no more: when the books
//! drop the records of an old closed batch ([`crate::ledger::CLOSED_WITH_RECORDS`]), its rows
//! are deleted too ([`Op::Forget`]), so a long run's memory does not grow with every sale. A
//! file keeps everything. Being written behind, the file lags the
//! books by a few milliseconds: a host killed outright loses the changes of its last moments
//! (a clean stop, [`crate::TestHost::shutdown`] or SIGTERM for `testhost`, loses none).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection};

use crate::error::HostError;
use crate::ledger::{CardGroup, CloseResult, Rec, Settling};
use crate::restore::{self, Restored};
use crate::rules::ResponseCode;

/// Rows applied per transaction at most, so that a long queue still commits regularly.
const BATCH_ROWS: usize = 4096;

/// How long the writer sleeps between looks at its queue. It never waits on the channel
/// itself: a waiting receiver makes every send wake it (a futex call and a context switch per
/// sale); a sleeping one costs the senders nothing.
const NAP: Duration = Duration::from_millis(3);

/// A change to the stored ledger.
pub(crate) enum Op {
    /// Insert or update a record.
    Put { terminal: [u8; 8], rec: Rec },
    /// A batch was closed: its row.
    Close {
        terminal: [u8; 8],
        /// The count of the terminal's batches closed before this one.
        seq: u32,
        batch: u32,
        result: CloseResult,
        totals: String,
        claimed_uploads: Option<u32>,
    },
    /// The first answer other than 00 to a request of the open batch (a declined sale, a
    /// void of nothing, a trailer answered 95): what a repeat gets after a restart.
    Answer {
        terminal: [u8; 8],
        batch_seq: u32,
        mti: [u8; 4],
        trace: u32,
        code: ResponseCode,
    },
    /// Where the terminal's settlement stands, and the host's batch number for it.
    Session {
        terminal: [u8; 8],
        batch_seq: u32,
        batch: u32,
        settling: Settling,
    },
    /// An in-memory ledger forgets a closed batch whose records the books dropped: the rows
    /// with these ids, and the batch's answers.
    Forget {
        terminal: [u8; 8],
        batch_seq: u32,
        ids: Vec<u64>,
    },
    /// Reports the number of record rows, once everything queued before it is applied.
    Count(tokio::sync::oneshot::Sender<u64>),
    /// Apply what came before, then stop.
    Stop,
}

impl Op {
    pub(crate) fn put(terminal: [u8; 8], rec: &Rec) -> Op {
        Op::Put {
            terminal,
            rec: *rec,
        }
    }
}

/// The sending side: shared by every connection.
pub(crate) struct Writer {
    tx: Option<Sender<Op>>,
    next_id: AtomicU64,
    /// True for an in-memory database: rows of batches the books trimmed are deleted.
    forgets: bool,
}

impl Writer {
    /// A writer that stores nothing (unit tests of the books).
    #[cfg(test)]
    pub(crate) fn discard() -> Writer {
        Writer {
            tx: None,
            next_id: AtomicU64::new(1),
            forgets: true,
        }
    }

    /// Queues a change. If the writer thread has stopped (a database error, logged there),
    /// the books go on in memory.
    pub(crate) fn send(&self, op: Op) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(op);
        }
    }

    /// A fresh row id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether rows of trimmed batches are to be deleted ([`Op::Forget`]): in memory only.
    pub(crate) fn forgets(&self) -> bool {
        self.forgets
    }
}

/// The writer thread and its sender.
pub(crate) struct Store {
    pub writer: Writer,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Store {
    /// Opens (or creates) the database at `path`, in memory when `None`, reads back the books
    /// it holds, and starts the writer thread.
    pub(crate) fn open(path: Option<&Path>) -> Result<(Store, Restored), HostError> {
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        // WAL lets readers (an operator's sqlite3) look while the host writes; NORMAL is
        // enough for a test host: the books in memory are the truth while it runs.
        // In memory there is nothing to recover: no journal at all.
        let journal = if path.is_some() { "WAL" } else { "OFF" };
        conn.pragma_update_and_check(None, "journal_mode", journal, |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        let last: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM txn", [], |r| r.get(0))?;
        let restored = restore::read(&conn)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || write_loop(conn, rx))
            .map_err(HostError::Writer)?;
        let store = Store {
            writer: Writer {
                tx: Some(tx),
                next_id: AtomicU64::new(u64::try_from(last).unwrap_or(0) + 1),
                forgets: path.is_none(),
            },
            thread: Mutex::new(Some(thread)),
        };
        Ok((store, restored))
    }

    /// The number of record rows once everything queued so far is applied; `None` when the
    /// writer has stopped.
    pub(crate) async fn count(&self) -> Option<u64> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.writer.send(Op::Count(tx));
        rx.await.ok()
    }

    /// Applies everything queued and stops the thread.
    pub(crate) fn finish(&self) {
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            self.writer.send(Op::Stop);
            let _ = thread.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.finish();
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS txn (
    id INTEGER PRIMARY KEY,
    terminal TEXT NOT NULL,
    batch_seq INTEGER NOT NULL,
    trace INTEGER NOT NULL,
    mti TEXT NOT NULL,
    processing_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    state TEXT NOT NULL,
    uploaded INTEGER NOT NULL,
    from_upload INTEGER NOT NULL,
    rrn TEXT NOT NULL,
    approval TEXT NOT NULL,
    card_group TEXT NOT NULL,
    original_trace INTEGER,
    pan TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batch (
    terminal TEXT NOT NULL,
    seq INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    result TEXT NOT NULL,
    totals TEXT NOT NULL,
    claimed_uploads INTEGER,
    closed_at TEXT NOT NULL,
    PRIMARY KEY (terminal, seq)
);
CREATE TABLE IF NOT EXISTS answer (
    terminal TEXT NOT NULL,
    batch_seq INTEGER NOT NULL,
    mti TEXT NOT NULL,
    trace INTEGER NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (terminal, batch_seq, mti, trace)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session (
    terminal TEXT PRIMARY KEY,
    batch_seq INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    settling TEXT NOT NULL
);
CREATE VIEW IF NOT EXISTS ledger AS
    SELECT txn.*, batch.batch AS batch, batch.result AS batch_result
    FROM txn LEFT JOIN batch
    ON batch.terminal = txn.terminal AND batch.seq = txn.batch_seq;
";

const PUT: &str = "
INSERT INTO txn (id, terminal, batch_seq, trace, mti, processing_code, kind, amount, state,
                 uploaded, from_upload, rrn, approval, card_group, original_trace, pan)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, state = excluded.state,
    uploaded = excluded.uploaded";

/// After this many naps with nothing queued (about 100 ms), the writer waits on the channel
/// instead: an idle host then costs no CPU, and only the first change after the pause pays for
/// waking the writer.
const IDLE_NAPS: u32 = 32;

/// The writer thread: naps, then applies whatever has queued up, a transaction at a time; once
/// idle, it sleeps on the channel until the next change.
fn write_loop(mut conn: Connection, rx: Receiver<Op>) {
    let mut idle = 0;
    loop {
        let first = if idle >= IDLE_NAPS {
            match rx.recv() {
                Ok(op) => Some(op),
                Err(_) => return,
            }
        } else {
            std::thread::sleep(NAP);
            None
        };
        idle = if first.is_some() { 0 } else { idle + 1 };
        let mut first = first;
        loop {
            match apply_queued(&mut conn, &rx, first.take()) {
                Ok(Queue::Drained) => break,
                Ok(Queue::Wrote) => idle = 0,
                Ok(Queue::More) => idle = 0,
                Ok(Queue::Stopped) => return,
                Err(e) => {
                    tracing::error!(error = %e, "ledger database write failed; the store stops");
                    return;
                }
            }
        }
    }
}

enum Queue {
    /// Nothing was queued.
    Drained,
    /// Everything queued was written.
    Wrote,
    /// A transaction's worth was written and more is queued.
    More,
    /// The host is gone.
    Stopped,
}

/// Applies `first` and up to [`BATCH_ROWS`] queued changes in one transaction.
fn apply_queued(
    conn: &mut Connection,
    rx: &Receiver<Op>,
    first: Option<Op>,
) -> rusqlite::Result<Queue> {
    let first = match first {
        Some(op) => op,
        None => match rx.try_recv() {
            Ok(op) => op,
            // Every sender is gone (the host was dropped): nothing more will come.
            Err(mpsc::TryRecvError::Disconnected) => return Ok(Queue::Stopped),
            Err(mpsc::TryRecvError::Empty) => return Ok(Queue::Drained),
        },
    };
    let tx = conn.transaction()?;
    let mut next = Some(first);
    let mut rows = 0;
    let mut state = Queue::Wrote;
    while let Some(op) = next.take() {
        if !apply(&tx, op)? {
            state = Queue::Stopped;
            break;
        }
        rows += 1;
        if rows == BATCH_ROWS {
            state = Queue::More;
            break;
        }
        next = rx.try_recv().ok();
    }
    tx.commit()?;
    Ok(state)
}

fn apply(tx: &rusqlite::Transaction<'_>, op: Op) -> rusqlite::Result<bool> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match op {
        Op::Put { terminal, rec } => put(tx, &text(&terminal), &rec)?,
        close @ Op::Close { .. } => insert_batch(tx, close)?,
        Op::Answer {
            terminal,
            batch_seq,
            mti,
            trace,
            code,
        } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO answer (terminal, batch_seq, mti, trace, code)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                text(&terminal),
                batch_seq,
                text(&mti),
                trace,
                code.as_str()
            ])?;
        }
        Op::Session {
            terminal,
            batch_seq,
            batch,
            settling,
        } => {
            tx.prepare_cached(
                "INSERT INTO session (terminal, batch_seq, batch, settling) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (terminal) DO UPDATE SET batch_seq = excluded.batch_seq,
                     batch = excluded.batch, settling = excluded.settling",
            )?
            .execute(params![text(&terminal), batch_seq, batch, settling.name()])?;
        }
        Op::Forget {
            terminal,
            batch_seq,
            ids,
        } => forget(tx, &text(&terminal), batch_seq, &ids)?,
        Op::Count(reply) => {
            let rows: i64 = tx.query_row("SELECT COUNT(*) FROM txn", [], |r| r.get(0))?;
            let _ = reply.send(u64::try_from(rows).unwrap_or(0));
        }
        Op::Stop => return Ok(false),
    }
    Ok(true)
}

/// A closed batch's row.
fn insert_batch(tx: &rusqlite::Transaction<'_>, close: Op) -> rusqlite::Result<()> {
    let Op::Close {
        terminal,
        seq,
        batch,
        result,
        totals,
        claimed_uploads,
    } = close
    else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO batch (terminal, seq, batch, result, totals, claimed_uploads, closed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        String::from_utf8_lossy(&terminal),
        seq,
        batch,
        result.name(),
        totals,
        claimed_uploads,
        chrono::Local::now().to_rfc3339(),
    ])?;
    Ok(())
}

fn put(tx: &rusqlite::Transaction<'_>, terminal: &str, rec: &Rec) -> rusqlite::Result<()> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let group = match rec.group {
        CardGroup::Domestic => "domestic",
        CardGroup::Foreign => "foreign",
    };
    tx.prepare_cached(PUT)?.execute(params![
        rec.id as i64,
        terminal,
        rec.batch_seq,
        rec.trace,
        text(&rec.mti),
        text(&rec.processing_code),
        rec.kind.name(),
        rec.amount as i64,
        rec.state.name(),
        rec.uploaded,
        rec.from_upload,
        text(&rec.rrn),
        text(&rec.approval),
        group,
        rec.original,
        rec.pan.text(),
    ])?;
    Ok(())
}

/// Deletes a trimmed batch's rows: records by primary key (no index on the batch is kept, so
/// that an insert stays cheap), answers by their key's prefix.
fn forget(
    tx: &rusqlite::Transaction<'_>,
    terminal: &str,
    batch_seq: u32,
    ids: &[u64],
) -> rusqlite::Result<()> {
    let mut delete = tx.prepare_cached("DELETE FROM txn WHERE id = ?1")?;
    for id in ids {
        delete.execute(params![*id as i64])?;
    }
    tx.prepare_cached("DELETE FROM answer WHERE terminal = ?1 AND batch_seq = ?2")?
        .execute(params![terminal, batch_seq])?;
    Ok(())
}
