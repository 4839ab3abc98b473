//! The SQLite store: WAL mode, one transaction per step (DESIGN §5 "Write-ahead order").
//!
//! Two tables: `meta` holds the counters, the pending reversal, the settlement state and the
//! last report as JSON under fixed keys; `records` holds the log, one row per record keyed by
//! trace number, with `seq` keeping the order records were added.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Op, Snapshot, Store};
use crate::error::StoreError;

/// A store in one SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    trace INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL
);
-- Every write of a record asks for MAX(seq); without the index that scans the whole log,
-- which made each of a full batch's 999 upload marks cost a table scan.
CREATE INDEX IF NOT EXISTS records_seq ON records (seq);";

impl SqliteStore {
    /// Opens (or creates) the database at `path`, in WAL mode.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// A private in-memory database (WAL does not apply), for tests.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<SqliteStore, StoreError> {
        // WAL keeps each committed step durable and readable while the next one is written;
        // synchronous=FULL makes a commit survive power loss, which write-ahead order relies on.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { conn })
    }
}

impl Store for SqliteStore {
    fn load(&mut self) -> Result<Option<Snapshot>, StoreError> {
        let Some(counters) = get::<(u32, u32, u32)>(&self.conn, "counters")? else {
            return Ok(None);
        };
        let mut snapshot = Snapshot::new(counters.0);
        (snapshot.next_trace, snapshot.next_invoice) = (counters.1, counters.2);
        snapshot.reversal = get(&self.conn, "reversal")?.flatten();
        snapshot.settlement = get(&self.conn, "settlement")?.flatten();
        snapshot.last_report = get(&self.conn, "last_report")?;
        snapshot.auto_settled_day = get(&self.conn, "auto_settled_day")?;
        let mut stmt = self.conn.prepare("SELECT data FROM records ORDER BY seq")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        for row in rows {
            snapshot.records.push(decode(&row?, "record")?);
        }
        Ok(Some(snapshot))
    }

    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for op in ops {
            apply(&tx, op)?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn apply(tx: &Transaction<'_>, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::Counters {
            batch,
            next_trace,
            next_invoice,
        } => put(tx, "counters", &(batch, next_trace, next_invoice)),
        Op::Reversal(r) => put(tx, "reversal", r),
        Op::Settlement(s) => put(tx, "settlement", s),
        Op::LastReport(r) => put(tx, "last_report", r),
        Op::AutoSettledOn(day) => put(tx, "auto_settled_day", day),
        Op::RemoveRecord(trace) => {
            tx.execute("DELETE FROM records WHERE trace = ?1", [trace])?;
            Ok(())
        }
        Op::ClearRecords => {
            tx.execute("DELETE FROM records", [])?;
            Ok(())
        }
        Op::PutRecord(record) => {
            let data = encode(record, "record")?;
            tx.execute(
                "INSERT INTO records (trace, seq, data)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM records), ?2)
                 ON CONFLICT(trace) DO UPDATE SET data = excluded.data",
                params![record.trace, data],
            )?;
            Ok(())
        }
    }
}

fn put<T: Serialize>(tx: &Transaction<'_>, key: &str, value: &T) -> Result<(), StoreError> {
    let value = encode(value, "meta")?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn get<T: DeserializeOwned>(conn: &Connection, key: &str) -> Result<Option<T>, StoreError> {
    let text: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()?;
    text.map(|t| decode(&t, "meta")).transpose()
}

fn encode<T: Serialize>(value: &T, what: &'static str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Encoding { what, source })
}

fn decode<T: DeserializeOwned>(text: &str, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|source| StoreError::Encoding { what, source })
}
