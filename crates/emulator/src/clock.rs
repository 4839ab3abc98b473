//! The terminal's clock: the machine's local wall clock, which an operator (or a scenario's
//! `set_time`) may set forward or back. The settlement engine reads no clock (DESIGN §2); the
//! terminal passes this one's [`Time`] with every input, and fields 12 and 13 carry it.
//!
//! The machine's offset from UTC is read once, when the clock is made, so that reading the
//! time costs one system call and no time zone lookup (a terminal reads it several times per
//! sale). A clock that runs across a daylight-saving change keeps the old offset until the
//! terminal is made again, as a terminal keeps its clock until someone sets it.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::Local;
use iso8583_settle::Time;

const DAY_MS: i64 = 86_400_000;

/// Local time plus an offset the operator set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Local minus UTC plus what the operator set, in milliseconds.
    offset_ms: i64,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

impl Clock {
    /// The machine's local time.
    pub fn new() -> Clock {
        Clock {
            offset_ms: i64::from(Local::now().offset().local_minus_utc()) * 1000,
        }
    }

    /// Now, as the engine takes it.
    pub fn now(&self) -> Time {
        Time(unix_ms().saturating_add(self.offset_ms).max(0) as u64)
    }

    /// Sets the clock so that it reads `hour:minute:00` today.
    pub fn set_time_of_day(&mut self, hour: u8, minute: u8) {
        let now = self.now().0 as i64;
        let midnight = now - now.rem_euclid(DAY_MS);
        let target = midnight + (i64::from(hour) * 60 + i64::from(minute)) * 60_000;
        self.offset_ms += target - now;
    }

    /// Moves the clock by `ms` (negative: back).
    pub fn shift(&mut self, ms: i64) {
        self.offset_ms = self.offset_ms.saturating_add(ms);
    }
}

/// Milliseconds since 1970-01-01T00:00:00 UTC (0 for a clock set before it).
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
        let day = clock.now().day();
        clock.set_time_of_day(0, 5);
        assert_eq!(clock.now().hms().0, 0);
        assert_eq!(clock.now().day(), day, "the same day, earlier");
        let before = clock.now();
        clock.shift(60_000);
        assert!(clock.now().0 >= before.0 + 60_000);
    }

    #[test]
    fn local_time_is_the_machine_s() {
        let local = Local::now().naive_local().and_utc().timestamp_millis();
        let ours = Clock::new().now().0 as i64;
        assert!((ours - local).abs() < 5_000, "{ours} vs {local}");
    }
}
