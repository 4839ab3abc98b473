//! Reading the books back when a host starts on an existing ledger database (`--db`): per
//! terminal its closed batches, in order, its open batch, the answers other than 00 it gave in
//! it, and where its settlement stood, so that a restarted host answers a repeat with 94 (or
//! the decline it got), a repeated reversal with its first answer, a repeated 0500 for the
//! batch it closed with 00, goes on with an interrupted upload, and reconciles the open batch
//! against what it approved before.
//!
//! Sessions are not stored (keys never are): every terminal signs on again after a restart,
//! as it would with a real host. A row that does not read back (edited by hand, say) is
//! skipped with a warning rather than stopping the host.

use std::collections::HashMap;

use rusqlite::{Connection, Row};

use crate::ledger::{
    CardGroup, CloseResult, Closed, MaskedPan, Rec, RecordState, Settling, TxnKind,
};
use crate::rules::ResponseCode;

/// The books found in the database, by terminal id.
#[derive(Default)]
pub(crate) struct Restored {
    pub books: HashMap<[u8; 8], RestoredBook>,
    /// The highest retrieval reference number given: new ones continue after it, so that a
    /// void found by its RRN never finds a sale from before the restart by mistake.
    pub last_rrn: u64,
}

/// One terminal's books as stored.
#[derive(Default)]
pub(crate) struct RestoredBook {
    pub open: Vec<Rec>,
    pub closed: Vec<Closed>,
    /// Answers other than 00, of every batch still stored.
    pub answers: Vec<StoredAnswer>,
    pub session: Option<StoredSession>,
}

/// A stored answer other than 00.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredAnswer {
    pub batch_seq: u32,
    pub mti: [u8; 4],
    pub trace: u32,
    pub code: ResponseCode,
}

/// Where a terminal's settlement stood, and the host's batch number for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredSession {
    /// The open batch it was written for (the count of batches closed before it).
    pub batch_seq: u32,
    pub batch: u32,
    pub settling: Settling,
}

/// Reads every batch and record.
pub(crate) fn read(conn: &Connection) -> rusqlite::Result<Restored> {
    let mut restored = Restored::default();
    let mut batches = conn.prepare(
        "SELECT terminal, seq, batch, result, claimed_uploads FROM batch ORDER BY terminal, seq",
    )?;
    let mut rows = batches.query([])?;
    while let Some(row) = rows.next()? {
        let Some((terminal, closed)) = closed_batch(row)? else {
            tracing::warn!("a batch row that does not read back: skipped");
            continue;
        };
        restored
            .books
            .entry(terminal)
            .or_default()
            .closed
            .push(closed);
    }

    let mut records = conn.prepare(
        "SELECT id, terminal, batch_seq, trace, mti, processing_code, kind, amount, state,
                uploaded, from_upload, rrn, approval, card_group, original_trace, pan
         FROM txn ORDER BY id",
    )?;
    let mut rows = records.query([])?;
    let mut skipped = 0;
    while let Some(row) = rows.next()? {
        let Some((terminal, rec)) = record(row)? else {
            skipped += 1;
            continue;
        };
        let book = restored.books.entry(terminal).or_default();
        match book.closed.get_mut(rec.batch_seq as usize) {
            Some(batch) => batch.records.push(rec),
            None => book.open.push(rec),
        }
    }
    if skipped > 0 {
        tracing::warn!(skipped, "record rows that do not read back: skipped");
    }
    read_answers(conn, &mut restored)?;
    read_sessions(conn, &mut restored)?;
    let last_rrn: i64 = conn.query_row(
        "SELECT COALESCE(MAX(CAST(rrn AS INTEGER)), 0) FROM txn",
        [],
        |r| r.get(0),
    )?;
    restored.last_rrn = u64::try_from(last_rrn).unwrap_or(0);
    Ok(restored)
}

fn read_answers(conn: &Connection, restored: &mut Restored) -> rusqlite::Result<()> {
    let mut answers = conn.prepare("SELECT terminal, batch_seq, mti, trace, code FROM answer")?;
    let mut rows = answers.query([])?;
    while let Some(row) = rows.next()? {
        let (terminal, mti, code) = (
            array::<8>(&row.get::<_, String>(0)?),
            array::<4>(&row.get::<_, String>(2)?),
            ResponseCode::new(&row.get::<_, String>(4)?),
        );
        let (Some(terminal), Some(mti), Some(code)) = (terminal, mti, code) else {
            tracing::warn!("an answer row that does not read back: skipped");
            continue;
        };
        let answer = StoredAnswer {
            batch_seq: row.get(1)?,
            mti,
            trace: row.get(3)?,
            code,
        };
        restored
            .books
            .entry(terminal)
            .or_default()
            .answers
            .push(answer);
    }
    Ok(())
}

fn read_sessions(conn: &Connection, restored: &mut Restored) -> rusqlite::Result<()> {
    let mut sessions = conn.prepare("SELECT terminal, batch_seq, batch, settling FROM session")?;
    let mut rows = sessions.query([])?;
    while let Some(row) = rows.next()? {
        let terminal = array::<8>(&row.get::<_, String>(0)?);
        let settling = Settling::from_name(&row.get::<_, String>(3)?);
        let batch: u32 = row.get(2)?;
        let (Some(terminal), Some(settling), true) =
            (terminal, settling, (1..=999_999).contains(&batch))
        else {
            tracing::warn!("a session row that does not read back: skipped");
            continue;
        };
        restored.books.entry(terminal).or_default().session = Some(StoredSession {
            batch_seq: row.get(1)?,
            batch,
            settling,
        });
    }
    Ok(())
}

fn closed_batch(row: &Row<'_>) -> rusqlite::Result<Option<([u8; 8], Closed)>> {
    let terminal: String = row.get(0)?;
    let result: String = row.get(3)?;
    let result = match result.as_str() {
        "balanced" => CloseResult::Balanced,
        "uploaded" => CloseResult::Uploaded,
        _ => return Ok(None),
    };
    let Some(terminal) = array::<8>(&terminal) else {
        return Ok(None);
    };
    let closed = Closed {
        batch: row.get(2)?,
        result,
        records: Vec::new(),
        claimed_uploads: row.get(4)?,
        summary: None,
    };
    Ok(Some((terminal, closed)))
}

fn record(row: &Row<'_>) -> rusqlite::Result<Option<([u8; 8], Rec)>> {
    let text = |i: usize| row.get::<_, String>(i);
    let terminal = array::<8>(&text(1)?);
    let fixed = (
        array::<4>(&text(4)?),
        array::<6>(&text(5)?),
        array::<12>(&text(11)?),
        array::<6>(&text(12)?),
    );
    let named = (kind(&text(6)?), state(&text(8)?), group(&text(13)?));
    let (
        Some(terminal),
        (Some(mti), Some(processing_code), Some(rrn), Some(approval)),
        (Some(kind), Some(state), Some(group)),
    ) = (terminal, fixed, named)
    else {
        return Ok(None);
    };
    let rec = Rec {
        id: row.get::<_, i64>(0)? as u64,
        batch_seq: row.get(2)?,
        trace: row.get(3)?,
        mti,
        processing_code,
        kind,
        amount: row.get::<_, i64>(7)? as u64,
        state,
        uploaded: row.get(9)?,
        from_upload: row.get(10)?,
        rrn,
        approval,
        group,
        original: row.get(14)?,
        pan: MaskedPan::from_masked(text(15)?.as_bytes()),
    };
    Ok(Some((terminal, rec)))
}

fn array<const N: usize>(text: &str) -> Option<[u8; N]> {
    text.as_bytes().try_into().ok()
}

fn kind(name: &str) -> Option<TxnKind> {
    [
        TxnKind::Sale,
        TxnKind::Completion,
        TxnKind::Void,
        TxnKind::Refund,
        TxnKind::PreAuth,
        TxnKind::OfflineSale,
        TxnKind::PreAuthVoid,
    ]
    .into_iter()
    .find(|k| k.name() == name)
}

fn state(name: &str) -> Option<RecordState> {
    [
        RecordState::Approved,
        RecordState::Voided,
        RecordState::Reversed,
        RecordState::Unconfirmed,
    ]
    .into_iter()
    .find(|s| s.name() == name)
}

fn group(name: &str) -> Option<CardGroup> {
    match name {
        "domestic" => Some(CardGroup::Domestic),
        "foreign" => Some(CardGroup::Foreign),
        _ => None,
    }
}
