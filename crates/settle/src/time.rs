//! Time as the engine sees it: a number the caller passes in with every input. The engine never
//! reads a clock (DESIGN §2); the caller's wall clock, in local time, is the source.

use serde::{Deserialize, Serialize};

/// Local wall-clock time in milliseconds since 1970-01-01T00:00:00 (local, not UTC: a terminal
/// prints and sends local date and time in fields 12 and 13).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Time(pub u64);

const MS_PER_DAY: u64 = 86_400_000;

impl Time {
    /// From a civil date and time; fields out of range roll over as arithmetic dictates.
    pub fn from_civil(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Time {
        let days = days_from_civil(year, month, day).max(0) as u64;
        let secs = u64::from(hour) * 3600 + u64::from(minute) * 60 + u64::from(second);
        Time(days * MS_PER_DAY + secs * 1000)
    }

    /// This time plus `ms` milliseconds.
    pub fn plus_ms(self, ms: u64) -> Time {
        Time(self.0.saturating_add(ms))
    }

    /// Days since 1970-01-01.
    pub fn day(self) -> u64 {
        self.0 / MS_PER_DAY
    }

    /// Minutes since midnight.
    pub fn minute_of_day(self) -> u32 {
        ((self.0 % MS_PER_DAY) / 60_000) as u32
    }

    /// Year, month (1-12) and day (1-31).
    pub fn date(self) -> (i32, u32, u32) {
        civil_from_days(self.day() as i64)
    }

    /// Hour, minute and second.
    pub fn hms(self) -> (u32, u32, u32) {
        let s = ((self.0 % MS_PER_DAY) / 1000) as u32;
        (s / 3600, s / 60 % 60, s % 60)
    }

    /// `MMDD`, as field 13 carries it.
    pub fn mmdd(self) -> String {
        let (_, m, d) = self.date();
        format!("{m:02}{d:02}")
    }

    /// `hhmmss`, as field 12 carries it.
    pub fn hhmmss(self) -> String {
        let (h, mi, s) = self.hms();
        format!("{h:02}{mi:02}{s:02}")
    }

    /// `YYYY-MM-DD hh:mm:ss`, as a slip prints it.
    pub fn display(self) -> String {
        let (y, m, d) = self.date();
        let (h, mi, s) = self.hms();
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }
}

// Howard Hinnant's days-from-civil algorithm (public domain description), proleptic Gregorian.
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        let t = Time::from_civil(2026, 12, 3, 19, 5, 7);
        assert_eq!(t.date(), (2026, 12, 3));
        assert_eq!(t.hms(), (19, 5, 7));
        assert_eq!(t.mmdd(), "1203");
        assert_eq!(t.hhmmss(), "190507");
        assert_eq!(Time::from_civil(2024, 2, 29, 0, 0, 0).date(), (2024, 2, 29));
        assert_eq!(t.display(), "2026-12-03 19:05:07");
    }
}
