//! Counters of what the host saw and did, and the [`Summary`] read from them.
//!
//! Every connection counts into the same relaxed atomics: a message costs a few increments and
//! no lock. MTIs the host handles and the 36 × 36 two-character response codes each have a
//! slot; anything else counts as "other".

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rules::FaultAction;

/// The request MTIs with a slot of their own; the last slot is every other MTI.
const MTIS: [&[u8; 4]; 8] = [
    b"0100", b"0200", b"0220", b"0320", b"0400", b"0500", b"0800", b"0820",
];
const OTHER_MTI: usize = MTIS.len();
const CODES: usize = 36 * 36;

/// The host's counters.
pub(crate) struct Stats {
    received: [AtomicU64; MTIS.len() + 1],
    /// Per request MTI slot, per response code slot (and one "other" code slot).
    answered: Box<[AtomicU64]>,
    faults: [AtomicU64; FaultAction::NAMES.len()],
    reconciled: AtomicU64,
    repeated: AtomicU64,
    out_of_balance: AtomicU64,
    unparseable: AtomicU64,
    connections: AtomicU64,
    refused: AtomicU64,
    timed_out: AtomicU64,
}

impl Stats {
    pub(crate) fn new() -> Stats {
        Stats {
            received: Default::default(),
            answered: (0..(MTIS.len() + 1) * (CODES + 1))
                .map(|_| AtomicU64::new(0))
                .collect(),
            faults: Default::default(),
            reconciled: AtomicU64::new(0),
            repeated: AtomicU64::new(0),
            out_of_balance: AtomicU64::new(0),
            unparseable: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
        }
    }

    pub(crate) fn received(&self, mti: &[u8; 4]) {
        bump(self.received.get(mti_slot(mti)));
    }

    pub(crate) fn answered(&self, mti: &[u8; 4], code: [u8; 2]) {
        let i = mti_slot(mti) * (CODES + 1) + code_slot(code);
        bump(self.answered.get(i));
    }

    pub(crate) fn fault(&self, action: &FaultAction) {
        let i = FaultAction::NAMES.iter().position(|n| *n == action.name());
        bump(i.and_then(|i| self.faults.get(i)));
    }

    pub(crate) fn reconciled(&self) {
        self.reconciled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn repeated_close(&self) {
        self.repeated.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn out_of_balance(&self) {
        self.out_of_balance.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unparseable(&self) {
        self.unparseable.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn timed_out(&self) {
        self.timed_out.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot of the counters.
    pub(crate) fn summary(&self) -> Summary {
        let mti_name = |i: usize| {
            MTIS.get(i).map_or("other".to_owned(), |m| {
                String::from_utf8_lossy(&m[..]).into_owned()
            })
        };
        let mut s = Summary::default();
        for (i, c) in self.received.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                s.received.insert(mti_name(i), n);
            }
        }
        for (i, c) in self.answered.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                let key = (mti_name(i / (CODES + 1)), code_name(i % (CODES + 1)));
                s.answered.insert(key, n);
            }
        }
        for (name, c) in FaultAction::NAMES.iter().zip(&self.faults) {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                s.faults.insert((*name).to_owned(), n);
            }
        }
        s.batches_reconciled = self.reconciled.load(Ordering::Relaxed);
        s.repeated_closes = self.repeated.load(Ordering::Relaxed);
        s.out_of_balance = self.out_of_balance.load(Ordering::Relaxed);
        s.unparseable = self.unparseable.load(Ordering::Relaxed);
        s.connections = self.connections.load(Ordering::Relaxed);
        s.connections_refused = self.refused.load(Ordering::Relaxed);
        s.connections_timed_out = self.timed_out.load(Ordering::Relaxed);
        s
    }
}

fn bump(counter: Option<&AtomicU64>) {
    if let Some(c) = counter {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

fn mti_slot(mti: &[u8; 4]) -> usize {
    MTIS.iter().position(|m| *m == mti).unwrap_or(OTHER_MTI)
}

fn code_slot(code: [u8; 2]) -> usize {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(usize::from(b - b'0')),
        b'A'..=b'Z' => Some(usize::from(b - b'A') + 10),
        _ => None,
    };
    match code.map(digit) {
        [Some(a), Some(b)] => a * 36 + b,
        _ => CODES,
    }
}

fn code_name(slot: usize) -> String {
    if slot >= CODES {
        return "other".to_owned();
    }
    let ch = |d: usize| {
        char::from(match d {
            0..=9 => b'0' + d as u8,
            _ => b'A' + (d - 10) as u8,
        })
    };
    [ch(slot / 36), ch(slot % 36)].iter().collect()
}

/// What the host saw and did since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Requests received, by MTI (`other` for MTIs the host does not handle).
    pub received: BTreeMap<String, u64>,
    /// Answers built, by request MTI and response code; an answer a fault then withheld is
    /// counted too.
    pub answered: BTreeMap<(String, String), u64>,
    /// Batches closed.
    pub batches_reconciled: u64,
    /// 0500s (and UnionPay closing 0320s) answered 00 as repeats of the message that closed
    /// the terminal's last batch: they close nothing, so they are not in `batches_reconciled`.
    pub repeated_closes: u64,
    /// Reconciliations answered out of balance (international 95, UnionPay a flag `2`).
    pub out_of_balance: u64,
    /// Faults injected, by action name.
    pub faults: BTreeMap<String, u64>,
    /// Frames that did not decode (answered 30, or the connection closed).
    pub unparseable: u64,
    /// Connections accepted and served.
    pub connections: u64,
    /// Connections closed as soon as accepted: the listener had `max_connections` open.
    pub connections_refused: u64,
    /// Connections closed for silence (`idle_timeout_ms`), a frame not completed in time, or
    /// answers the peer did not read (`frame_timeout_ms`).
    pub connections_timed_out: u64,
}

impl Summary {
    /// The number of answers to `mti` with `code`.
    pub fn answers(&self, mti: &str, code: &str) -> u64 {
        self.answered
            .get(&(mti.to_owned(), code.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The number of faults injected with the action named `action`.
    pub fn faults_of(&self, action: &str) -> u64 {
        self.faults.get(action).copied().unwrap_or(0)
    }
}

/// The summary as `testhost` prints it at shutdown.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "summary: {} connection(s), {} refused, {} timed out",
            self.connections, self.connections_refused, self.connections_timed_out
        )?;
        for (mti, n) in &self.received {
            writeln!(f, "  received {mti}: {n}")?;
        }
        for ((mti, code), n) in &self.answered {
            writeln!(f, "  answered {mti} with {code}: {n}")?;
        }
        writeln!(f, "  batches reconciled: {}", self.batches_reconciled)?;
        writeln!(
            f,
            "  repeats of a closing 0500/0320: {}",
            self.repeated_closes
        )?;
        writeln!(f, "  out of balance: {}", self.out_of_balance)?;
        writeln!(f, "  unparseable frames: {}", self.unparseable)?;
        let faults: u64 = self.faults.values().sum();
        write!(f, "  faults injected: {faults}")?;
        for (name, n) in &self.faults {
            write!(f, "\n    {name}: {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_mti_and_code() {
        let stats = Stats::new();
        stats.received(b"0200");
        stats.received(b"0600");
        stats.answered(b"0200", *b"00");
        stats.answered(b"0200", *b"00");
        stats.answered(b"0400", *b"A0");
        stats.answered(b"0400", *b"a?");
        stats.fault(&FaultAction::WrongMac);
        let s = stats.summary();
        assert_eq!(s.received.get("0200"), Some(&1));
        assert_eq!(s.received.get("other"), Some(&1));
        assert_eq!(s.answers("0200", "00"), 2);
        assert_eq!(s.answers("0400", "A0"), 1);
        assert_eq!(s.answers("0400", "other"), 1);
        assert_eq!(s.faults_of("wrong_mac"), 1);
        let text = s.to_string();
        assert!(text.contains("answered 0200 with 00: 2"), "{text}");
        assert!(text.contains("faults injected: 1"), "{text}");
    }
}
