//! The terminal's clock: the machine's local wall clock, which an operator (or a scenario's
//! `set_time`) may set forward or back. The settlement engine reads no clock (DESIGN §2); the
//! terminal passes this one's [`Time`] with every input, and fields 12 and 13 carry it.

use chrono::Local;
use iso8583_settle::Time;

/// Local time plus an offset the operator set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    /// The machine's local time.
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Now, as the engine takes it.
    pub fn now(&self) -> Time {
        Time(local_ms().saturating_add(self.offset_ms).max(0) as u64)
    }

    /// Sets the clock so that it reads `hour:minute:00` today (local).
    pub fn set_time_of_day(&mut self, hour: u8, minute: u8) {
        const DAY_MS: i64 = 86_400_000;
        let now = local_ms();
        let midnight = now - now.rem_euclid(DAY_MS);
        let target = midnight + (i64::from(hour) * 60 + i64::from(minute)) * 60_000;
        self.offset_ms = target - now;
    }

    /// Moves the clock by `ms` (negative: back).
    pub fn shift(&mut self, ms: i64) {
        self.offset_ms = self.offset_ms.saturating_add(ms);
    }
}

/// Milliseconds since 1970-01-01T00:00:00 local time (the engine's [`Time`] is local).
fn local_ms() -> i64 {
    Local::now().naive_local().and_utc().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_time_of_day_reads_back() {
        let mut clock = Clock::new();
        clock.set_time_of_day(23, 30);
        let (h, m, _) = clock.now().hms();
        assert_eq!((h, m), (23, 30));
        clock.set_time_of_day(0, 5);
        assert_eq!(clock.now().hms().0, 0);
        let before = clock.now();
        clock.shift(60_000);
        assert!(clock.now().0 >= before.0 + 60_000);
    }
}
