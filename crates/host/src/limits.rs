//! What keeps one connection, or a flood of them, from holding the host: a connection's
//! deadlines (idle, and a frame not completed in time), the accept loop's back-off after a
//! failure, and a rate limit for the warnings both can cause.
//!
//! Issue #5 asks that one misbehaving connection never affects another. A socket held open
//! for ever costs a file descriptor; enough of them and `accept` fails with EMFILE for every
//! terminal. So a silent connection is closed after the listener's `idle_timeout_ms`, one
//! stalled inside a frame after `frame_timeout_ms`, and the accept loop, when it fails, waits
//! (10 ms, doubling to 1 s) instead of retrying and logging every few milliseconds.
//!
//! The deadlines cost the hot path one clock read per read and no timer: a connection keeps
//! one timer, re-armed only when it fires, and the reads just move [`Deadlines::last_read`].

use std::time::Duration;

use tokio::time::Instant;

/// A connection's activity, and when to look at it next.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// When the last byte arrived (or the connection opened, or a held answer left).
    last_read: Instant,
    /// When the first byte of a frame not yet whole arrived.
    frame_since: Option<Instant>,
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Nothing received for the idle timeout.
    Idle,
    /// A frame not completed within the frame timeout of its first byte.
    Frame,
}

impl Expired {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Expired::Idle => "idle timeout",
            Expired::Frame => "frame not completed in time",
        }
    }
}

impl Deadlines {
    pub(crate) fn new(now: Instant) -> Deadlines {
        Deadlines {
            last_read: now,
            frame_since: None,
        }
    }

    /// Bytes arrived at `now`; `in_frame` says whether a frame is left incomplete.
    pub(crate) fn read(&mut self, now: Instant, in_frame: bool) {
        self.last_read = now;
        self.frame_since = match in_frame {
            true => self.frame_since.or(Some(now)),
            false => None,
        };
    }

    /// The host wrote an answer it had held back: the peer's silence until then was ours.
    pub(crate) fn touch(&mut self, now: Instant) {
        self.last_read = now;
    }

    /// Whether the connection has outlived a limit at `now`. While the host holds an answer
    /// back (`holding`, a delay fault) the peer is waiting for us, not idle.
    pub(crate) fn expired(
        &self,
        now: Instant,
        idle: Duration,
        frame: Duration,
        holding: bool,
    ) -> Option<Expired> {
        if self
            .frame_since
            .is_some_and(|t| now.saturating_duration_since(t) >= frame)
        {
            return Some(Expired::Frame);
        }
        if !holding && now.saturating_duration_since(self.last_read) >= idle {
            return Some(Expired::Idle);
        }
        None
    }

    /// When to look again: the idle deadline or a frame's, and never later than one frame
    /// timeout from now, so that a frame begun since is caught within two.
    pub(crate) fn next_check(&self, now: Instant, idle: Duration, frame: Duration) -> Instant {
        let far = now.checked_add(frame).unwrap_or(now);
        let idle_at = self.last_read.checked_add(idle).unwrap_or(far);
        let frame_at = self.frame_since.and_then(|t| t.checked_add(frame));
        let at = idle_at.min(far);
        let at = frame_at.map_or(at, |f| at.min(f));
        // A deadline already passed (a held answer kept the connection from idling) is looked
        // at again a frame timeout on, not in a busy loop.
        if at <= now {
            far
        } else {
            at
        }
    }
}

/// At most one log line per period, counting the events in between.
#[derive(Debug, Default)]
pub(crate) struct Every {
    last: Option<Instant>,
    pending: u64,
}

impl Every {
    /// An event at `now`: `Some(n)` when it is to be logged, standing for `n` events (itself
    /// and those not logged since the last line).
    pub(crate) fn event(&mut self, now: Instant, period: Duration) -> Option<u64> {
        self.pending += 1;
        let due = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= period);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

/// The accept loop's pause after a failure.
#[derive(Debug)]
pub(crate) struct Backoff {
    pause: Duration,
    failures: u64,
    warn: Every,
}

impl Backoff {
    /// The first pause after a failure.
    pub(crate) const FIRST: Duration = Duration::from_millis(10);
    /// The longest pause: a freed descriptor is used within a second.
    pub(crate) const MAX: Duration = Duration::from_secs(1);
    /// At most one warning this often.
    pub(crate) const WARN_EVERY: Duration = Duration::from_secs(10);

    pub(crate) fn new() -> Backoff {
        Backoff {
            pause: Backoff::FIRST,
            failures: 0,
            warn: Every::default(),
        }
    }

    /// A failure at `now`: how long to pause, and whether to warn (for how many failures).
    pub(crate) fn failed(&mut self, now: Instant) -> (Duration, Option<u64>) {
        let pause = self.pause;
        self.pause = (self.pause * 2).min(Backoff::MAX);
        self.failures += 1;
        (pause, self.warn.event(now, Backoff::WARN_EVERY))
    }

    /// A success: the pauses start again from the first; the failures since the last success.
    pub(crate) fn succeeded(&mut self) -> u64 {
        self.pause = Backoff::FIRST;
        std::mem::take(&mut self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_millis(1000);
    const FRAME: Duration = Duration::from_millis(100);

    #[test]
    fn idle_and_frame_deadlines() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut d = Deadlines::new(t0);
        assert_eq!(d.expired(at(999), IDLE, FRAME, false), None);
        assert_eq!(d.expired(at(1000), IDLE, FRAME, false), Some(Expired::Idle));
        assert_eq!(d.expired(at(5000), IDLE, FRAME, true), None, "holding");
        // Checked at least every frame timeout.
        assert_eq!(d.next_check(t0, IDLE, FRAME), at(100));
        assert_eq!(d.next_check(at(950), IDLE, FRAME), at(1000));

        // Half a frame at 10 ms; more of it at 60 ms does not move the frame's start.
        d.read(at(10), true);
        d.read(at(60), true);
        assert_eq!(d.expired(at(109), IDLE, FRAME, false), None);
        assert_eq!(d.expired(at(110), IDLE, FRAME, false), Some(Expired::Frame));
        assert_eq!(d.expired(at(110), IDLE, FRAME, true), Some(Expired::Frame));
        assert_eq!(d.next_check(at(60), IDLE, FRAME), at(110));
        // The frame completes: only the idle deadline is left, from the last byte.
        d.read(at(80), false);
        assert_eq!(d.expired(at(500), IDLE, FRAME, false), None);
        assert_eq!(d.expired(at(1080), IDLE, FRAME, false), Some(Expired::Idle));

        // A deadline in the past while holding an answer: look again a frame timeout on.
        let held = Deadlines::new(t0);
        assert_eq!(held.next_check(at(2000), IDLE, FRAME), at(2100));
        // Limits too large for the clock never panic.
        let huge = Duration::from_secs(u64::MAX / 2);
        assert!(held.next_check(t0, huge, huge) >= t0);
        assert_eq!(held.expired(at(1), huge, huge, false), None);
    }

    #[test]
    fn backoff_doubles_to_a_second_and_warns_rarely() {
        let t0 = Instant::now();
        let mut b = Backoff::new();
        let mut pauses = Vec::new();
        let mut warnings = Vec::new();
        let mut now = t0;
        for _ in 0..200 {
            let (pause, warn) = b.failed(now);
            pauses.push(pause);
            if let Some(n) = warn {
                warnings.push(n);
            }
            now += pause;
        }
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert_eq!(pauses[1], Duration::from_millis(20));
        assert!(pauses.iter().all(|p| *p <= Backoff::MAX));
        assert_eq!(*pauses.last().unwrap(), Backoff::MAX);
        // About 194 s of failures: a warning on the first, then one per 10 s, each counting
        // the failures it stands for.
        let elapsed = now.saturating_duration_since(t0).as_secs();
        assert!(
            warnings.len() as u64 <= elapsed / 10 + 1,
            "{warnings:?} in {elapsed} s"
        );
        assert_eq!(warnings[0], 1);
        assert!(warnings.iter().sum::<u64>() <= 200);
        assert_eq!(b.succeeded(), 200);
        assert_eq!(b.failed(now).0, Backoff::FIRST);
    }
}
