//! The in-memory store: a shared snapshot. Clones share it, so a test can drop an engine and
//! reopen another on the same "disk".

use std::sync::{Arc, Mutex, PoisonError};

use super::{Op, Snapshot, Store};
use crate::error::StoreError;

/// A store in memory; clones share the same contents.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    inner: Arc<Mutex<Option<Snapshot>>>,
    writes: Arc<Mutex<usize>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// A copy of what is stored.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Steps committed so far.
    pub fn writes(&self) -> usize {
        *self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemStore {
    fn load(&mut self) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.snapshot())
    }

    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = guard.get_or_insert_with(|| Snapshot::new(1));
        snapshot.apply(ops);
        *self.writes.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Ok(())
    }
}
