//! Amounts as an operator types and a slip prints them: `12.50` is 1250 minor units. Two
//! decimals, as every currency the built-in profiles use has; at most twelve digits in all, the
//! width of field 4 (ISO 8583:1987, DE 4 n12).
//!
//! An amount is whole units (`12`) or has exactly two decimals (`12.50`). One decimal (`1.5`)
//! is refused rather than read as `1.50`: a terminal keypad always enters two, so one is more
//! likely a slip of the finger (`1.05`? `15.00`?) than a price.

/// Minor units of `text`: digits, then optionally `.` and exactly two decimals, at most 12
/// digits in all. `None` for anything else (signs, spaces, one or three decimals, overflow).
pub fn parse_amount(text: &str) -> Option<u64> {
    let (units, cents) = match text.split_once('.') {
        Some((units, cents)) => (units, cents),
        None => (text, "00"),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || !digits(units) || !digits(cents) || cents.len() != 2 {
        return None;
    }
    if units.len() + 2 > 12 {
        return None;
    }
    let units: u64 = units.parse().ok()?;
    let cents: u64 = cents.parse().ok()?;
    Some(units * 100 + cents)
}

/// `1250` as `12.50`.
pub fn format_amount(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_an_operator_types() {
        assert_eq!(parse_amount("12.50"), Some(1250));
        assert_eq!(parse_amount("12"), Some(1200));
        assert_eq!(parse_amount("0.01"), Some(1));
        assert_eq!(parse_amount("9999999999.99"), Some(999_999_999_999));
        for bad in [
            "",
            ".50",
            "1.234",
            // Finding 15: one decimal is refused, not read as 1.50.
            "1.5",
            "12.",
            "-1",
            "1,00",
            "12a",
            "10000000000.00",
            " 1",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for minor in [0, 1, 99, 100, 1250, 999_999_999_999] {
            assert_eq!(parse_amount(&format_amount(minor)), Some(minor));
        }
        assert_eq!(format_amount(5), "0.05");
    }
}
