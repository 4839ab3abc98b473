//! Where a terminal keeps its state: a SQLite file (`--state PATH`, a temporary file for the
//! demo and for each scenario) or memory (the load mode). Either can be opened again after a
//! power cycle, which is how a restart is emulated: the engine is dropped and reopened on what
//! the store holds, and resumes from there (DESIGN §5, "Write-ahead order").

use iso8583_settle::{MemStore, SqliteStore, Store, StoreError};
use std::path::PathBuf;

/// A store a terminal can open again after a restart.
#[derive(Debug, Clone)]
pub enum StateSource {
    /// A SQLite database file; what was committed survives the process.
    Sqlite(PathBuf),
    /// Memory shared across restarts of one process (clones of a [`MemStore`] share it).
    Memory(MemStore),
}

impl StateSource {
    /// A fresh in-memory state.
    pub fn memory() -> StateSource {
        StateSource::Memory(MemStore::new())
    }

    /// Opens the store.
    pub fn open(&self) -> Result<Box<dyn Store + Send>, StoreError> {
        Ok(match self {
            StateSource::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            StateSource::Memory(mem) => Box::new(mem.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use iso8583_settle::Op;

    use super::*;

    #[test]
    fn memory_survives_a_reopen() {
        let source = StateSource::memory();
        let mut first = source.open().unwrap();
        assert!(first.load().unwrap().is_none());
        first
            .commit(&[Op::Counters {
                batch: 4,
                next_trace: 9,
                next_invoice: 2,
            }])
            .unwrap();
        drop(first);
        let snapshot = source.open().unwrap().load().unwrap().unwrap();
        assert_eq!((snapshot.batch, snapshot.next_trace), (4, 9));
    }

    #[test]
    fn sqlite_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let source = StateSource::Sqlite(dir.path().join("state.db"));
        source
            .open()
            .unwrap()
            .commit(&[Op::Counters {
                batch: 2,
                next_trace: 5,
                next_invoice: 3,
            }])
            .unwrap();
        let snapshot = source.open().unwrap().load().unwrap().unwrap();
        assert_eq!(snapshot.batch, 2);
    }
}
