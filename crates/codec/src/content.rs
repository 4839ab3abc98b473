//! Content-class checks, shared by the decoder (on wire bytes) and the builder (on values).
//!
//! A field's *logical value* is what a user sets and reads: characters for text and numeric
//! classes (ASCII, or Latin-1 for what EBCDIC maps above 0x7F), the separator of BCD track data
//! as `D`, and raw bytes for class `b`. The decoder checks wire bytes in whatever encoding the
//! spec names; the builder checks logical values before it will write them.
//!
//! The hot loops fold a verdict over every byte without stopping early, which lets the compiler
//! vectorise them; only when the fold says something is wrong do we look for where.

use crate::ebcdic::{CP037_TO_LATIN1, CP1047_TO_LATIN1};
use crate::error::Expected;
use crate::spec::plan::Check;
use crate::spec::{Charset, CodePage, ContentClass, Pad};

/// Verdict of one character: fine, fine but flagged (non-ASCII text), or not allowed.
const OK: u8 = 0;
const HIGH: u8 = 1;
const BAD: u8 = 2;

/// What the checks found wrong: the index of the first bad unit and what was expected there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bad {
    pub(crate) index: usize,
    pub(crate) expected: Expected,
}

/// Result of a successful check: whether anything non-canonical but accepted was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Seen {
    /// Text bytes above 0x7F in an `ans` field.
    pub(crate) non_ascii: bool,
    /// Lower-case hex digits.
    pub(crate) lower_hex: bool,
    /// A filler nibble other than the spec's.
    pub(crate) odd_filler: bool,
}

// Runs at compile time over indices 0-255 of a 256-entry array; `get_mut` is not const.
#[allow(clippy::indexing_slicing)]
const fn verdicts(class: ContentClass) -> [u8; 256] {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let digit = c.is_ascii_digit();
        let alpha = c.is_ascii_alphabetic();
        let space = c == b' ';
        let printable = c >= 0x20 && c < 0x7F;
        t[i] = match class {
            ContentClass::N | ContentClass::XN => {
                if digit {
                    OK
                } else {
                    BAD
                }
            }
            ContentClass::Z => {
                if digit || c == b'=' || c == b'D' {
                    OK
                } else {
                    BAD
                }
            }
            ContentClass::A => {
                if alpha || space {
                    OK
                } else {
                    BAD
                }
            }
            ContentClass::An => {
                if alpha || digit || space {
                    OK
                } else {
                    BAD
                }
            }
            ContentClass::Ans => {
                if printable {
                    OK
                } else if c >= 0x80 {
                    HIGH
                } else {
                    BAD
                }
            }
            ContentClass::B => OK,
        };
        i += 1;
    }
    t
}

static N_TABLE: [u8; 256] = verdicts(ContentClass::N);
static Z_TABLE: [u8; 256] = verdicts(ContentClass::Z);
static A_TABLE: [u8; 256] = verdicts(ContentClass::A);
static AN_TABLE: [u8; 256] = verdicts(ContentClass::An);
static ANS_TABLE: [u8; 256] = verdicts(ContentClass::Ans);
static B_TABLE: [u8; 256] = verdicts(ContentClass::B);

fn table(class: ContentClass) -> &'static [u8; 256] {
    match class {
        ContentClass::N | ContentClass::XN => &N_TABLE,
        ContentClass::Z => &Z_TABLE,
        ContentClass::A => &A_TABLE,
        ContentClass::An => &AN_TABLE,
        ContentClass::Ans => &ANS_TABLE,
        ContentClass::B => &B_TABLE,
    }
}

/// The Latin-1 meaning of each byte of a charset; `None` for ASCII (identity).
pub(crate) fn to_latin1(charset: Charset) -> Option<&'static [u8; 256]> {
    match charset {
        Charset::Ascii => None,
        Charset::Ebcdic(CodePage::Cp037) => Some(&CP037_TO_LATIN1),
        Charset::Ebcdic(CodePage::Cp1047) => Some(&CP1047_TO_LATIN1),
    }
}

fn verdict_of(class: ContentClass, c: u8) -> u8 {
    table(class).get(usize::from(c)).copied().unwrap_or(BAD)
}

/// Checks characters (already Latin-1/ASCII, or mapped through `map`) against a class.
///
/// `x+n` is checked here without its sign: callers strip and check the sign first.
#[inline]
pub(crate) fn check_chars(
    class: ContentClass,
    map: Option<&[u8; 256]>,
    data: &[u8],
    strict: bool,
) -> Result<Seen, Bad> {
    let t = table(class);
    let look = |b: u8| -> u8 {
        let c = match map {
            Some(m) => m.get(usize::from(b)).copied().unwrap_or(b),
            None => b,
        };
        t.get(usize::from(c)).copied().unwrap_or(BAD)
    };

    // ASCII digits and printable ASCII are the common cases: checked eight bytes at a time.
    if map.is_none() {
        let fast = match class {
            ContentClass::N | ContentClass::XN => Some(all_words(data, ascii_digits, ascii_digit)),
            ContentClass::Ans => Some(all_words(data, ascii_printable, printable)),
            _ => None,
        };
        if fast == Some(true) {
            return Ok(Seen::default());
        }
    }
    let acc = data.iter().fold(OK, |acc, &b| acc | look(b));

    let high_is_bad = strict && acc & HIGH != 0;
    if acc & BAD == 0 && !high_is_bad {
        return Ok(Seen {
            non_ascii: acc & HIGH != 0,
            ..Seen::default()
        });
    }
    let worst = if strict { HIGH } else { BAD };
    let index = data
        .iter()
        .position(|&b| look(b) & (worst | BAD) != 0)
        .unwrap_or(0);
    let c = data.get(index).map(|&b| {
        map.and_then(|m| m.get(usize::from(b)).copied())
            .unwrap_or(b)
    });
    let expected = match c {
        Some(c) if verdict_of(class, c) == HIGH => Expected::Ascii,
        _ => Expected::Class(class),
    };
    Err(Bad { index, expected })
}

/// Applies a test of eight bytes at a time to all of `data`. The last partial word is the
/// eight bytes that end `data` (testing a few bytes twice is harmless); data shorter than a
/// word is tested a byte at a time.
#[inline]
fn all_words(data: &[u8], test: fn(u64) -> bool, byte_ok: fn(u8) -> bool) -> bool {
    if data.len() < 8 {
        return data.iter().fold(true, |ok, &b| ok & byte_ok(b));
    }
    let word = |chunk: &[u8]| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        u64::from_le_bytes(bytes)
    };
    let mut chunks = data.chunks_exact(8);
    let mut ok = true;
    for chunk in &mut chunks {
        ok &= test(word(chunk));
    }
    if !chunks.remainder().is_empty() {
        let tail = data.get(data.len() - 8..).unwrap_or(&[0; 8]);
        ok &= test(word(tail));
    }
    ok
}

fn ascii_digit(b: u8) -> bool {
    b.wrapping_sub(b'0') < 10
}

fn printable(b: u8) -> bool {
    b.wrapping_sub(0x20) < 0x5F
}

fn bcd_byte(b: u8) -> bool {
    b >> 4 <= 9 && b & 0x0F <= 9
}

const LOW_NIBBLES: u64 = 0x0F0F_0F0F_0F0F_0F0F;
const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Every byte is `0x30..=0x39`: high nibble 3, and low nibble at most 9 (adding 6 to a nibble
/// above 9 carries into the high nibble).
#[inline]
fn ascii_digits(x: u64) -> bool {
    (x & HIGH_NIBBLES) == 0x3030_3030_3030_3030
        && ((x & LOW_NIBBLES) + 0x0606_0606_0606_0606) & HIGH_NIBBLES == 0
}

/// Every byte is printable ASCII, `0x20..=0x7E`. With the top bits clear no addition below
/// carries from one byte into the next.
#[inline]
fn ascii_printable(x: u64) -> bool {
    x & HIGH_BITS == 0
        && x.wrapping_add(0x6060_6060_6060_6060) & HIGH_BITS == HIGH_BITS
        && x.wrapping_add(0x0101_0101_0101_0101) & HIGH_BITS == 0
}

/// Every nibble is a decimal digit.
#[inline]
fn bcd_digits(x: u64) -> bool {
    let nibbles_ok = |n: u64| (n + 0x0606_0606_0606_0606) & HIGH_NIBBLES == 0;
    nibbles_ok(x & LOW_NIBBLES) && nibbles_ok((x >> 4) & LOW_NIBBLES)
}

/// True for the byte values of the sign of an `x+n` amount (as Latin-1).
pub(crate) fn is_sign(c: u8) -> bool {
    c == b'C' || c == b'D'
}

/// Checks packed BCD: `units` digits in `data`, with the filler nibble where `pad` says.
///
/// The index in a [`Bad`] is a byte index into `data`.
#[inline]
pub(crate) fn check_bcd(
    data: &[u8],
    units: usize,
    pad: Pad,
    filler: u8,
    track: bool,
    strict: bool,
) -> Result<Seen, Bad> {
    let odd = units % 2 == 1;
    // Every byte but the one holding the filler nibble carries two digits.
    let (body, body_offset) = match (odd, pad) {
        (false, _) => (data, 0),
        (true, Pad::Left) => (data.get(1..).unwrap_or(&[]), 1),
        (true, Pad::Right) => (data.get(..data.len().saturating_sub(1)).unwrap_or(&[]), 0),
    };
    let bad = if track {
        body.iter()
            .fold(false, |bad, &b| bad | !bcd_byte_ok(b, true))
    } else {
        // Both nibbles at most 9, eight bytes at a time.
        !all_words(body, bcd_digits, bcd_byte)
    };
    if bad {
        let index = body
            .iter()
            .position(|&b| !bcd_byte_ok(b, track))
            .unwrap_or(0)
            + body_offset;
        return Err(Bad {
            index,
            expected: Expected::BcdDigit,
        });
    }
    if odd {
        return check_filler(data, pad, filler, track, strict);
    }
    Ok(Seen::default())
}

fn bcd_digit_ok(n: u8, track: bool) -> bool {
    n <= 9 || (track && n == 0xD)
}

fn bcd_byte_ok(b: u8, track: bool) -> bool {
    bcd_digit_ok(b >> 4, track) & bcd_digit_ok(b & 0x0F, track)
}

/// The byte holding the filler nibble of an odd digit count: its digit must be a digit, its
/// filler the spec's (or it is a quirk).
fn check_filler(data: &[u8], pad: Pad, filler: u8, track: bool, strict: bool) -> Result<Seen, Bad> {
    let (i, b) = match pad {
        Pad::Left => (0, data.first().copied().unwrap_or(0)),
        Pad::Right => (
            data.len().saturating_sub(1),
            data.last().copied().unwrap_or(0),
        ),
    };
    let (fill, digit) = match pad {
        Pad::Left => (b >> 4, b & 0x0F),
        Pad::Right => (b & 0x0F, b >> 4),
    };
    if !bcd_digit_ok(digit, track) {
        return Err(Bad {
            index: i,
            expected: Expected::BcdDigit,
        });
    }
    if fill == filler {
        return Ok(Seen::default());
    }
    if strict {
        return Err(Bad {
            index: i,
            expected: Expected::Filler(filler),
        });
    }
    Ok(Seen {
        odd_filler: true,
        ..Seen::default()
    })
}

/// Value of each ASCII byte as a hex digit: 0-15 for `0-9A-F`, the value plus `LOWER` for
/// `a-f`, `NOT_HEX` otherwise.
pub(crate) static ASCII_HEX: [u8; 256] = hex_table();
pub(crate) const LOWER: u8 = 0x10;
pub(crate) const NOT_HEX: u8 = 0xFF;

// Runs at compile time over indices 0-255 of a 256-entry array; `get_mut` is not const.
#[allow(clippy::indexing_slicing)]
const fn hex_table() -> [u8; 256] {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'A' as usize + i] = 10 + i as u8;
        t[b'a' as usize + i] = (10 + i as u8) | LOWER;
        i += 1;
    }
    t
}

/// Value of a hex digit written in `charset`, and whether it was lower case.
pub(crate) fn hex_value(b: u8, charset: Charset) -> Option<(u8, bool)> {
    let c = match charset {
        Charset::Ascii => b,
        Charset::Ebcdic(_) => to_latin1(charset)?.get(usize::from(b)).copied()?,
    };
    match c {
        b'0'..=b'9' => Some((c - b'0', false)),
        b'A'..=b'F' => Some((c - b'A' + 10, false)),
        b'a'..=b'f' => Some((c - b'a' + 10, true)),
        _ => None,
    }
}

/// Checks hex characters; lower case is accepted and flagged unless strict.
#[inline]
pub(crate) fn check_hex(data: &[u8], charset: Charset, strict: bool) -> Result<Seen, Bad> {
    // Upper-case ASCII hex is the common case: one vectorisable pass says whether it is all.
    if charset == Charset::Ascii {
        let upper = |b: u8| b.wrapping_sub(b'0') < 10 || b.wrapping_sub(b'A') < 6;
        if !data.iter().fold(false, |bad, &b| bad | !upper(b)) {
            return Ok(Seen::default());
        }
    }
    let mut seen = Seen::default();
    for (index, &b) in data.iter().enumerate() {
        match hex_value(b, charset) {
            Some((_, false)) => {}
            Some((_, true)) if !strict => seen.lower_hex = true,
            _ => {
                return Err(Bad {
                    index,
                    expected: Expected::HexDigit,
                })
            }
        }
    }
    Ok(seen)
}

/// True when `data` is canonical content for a field: every check passes and nothing would
/// be a quirk (no byte above 0x7F in text, no lower-case hex, the spec's filler nibble). The
/// decoder's fast path uses it; anything it refuses is looked at again by the full checks,
/// which say what is wrong or accept and flag it.
#[inline]
pub(crate) fn is_canonical(check: Check, sign: bool, data: &[u8], units: usize) -> bool {
    let body = if sign {
        let sign_ok = match (check, data.first()) {
            (Check::Chars(_, charset), Some(&b)) => is_sign(
                to_latin1(charset)
                    .and_then(|m| m.get(usize::from(b)).copied())
                    .unwrap_or(b),
            ),
            (_, Some(&b)) => is_sign(b),
            (_, None) => false,
        };
        if !sign_ok {
            return false;
        }
        data.get(1..).unwrap_or(&[])
    } else {
        data
    };
    match check {
        Check::Nothing => true,
        Check::Chars(class, Charset::Ascii) => match class {
            ContentClass::N | ContentClass::XN => all_words(body, ascii_digits, ascii_digit),
            ContentClass::Ans => all_words(body, ascii_printable, printable),
            _ => body.iter().fold(OK, |acc, &b| acc | verdict_of(class, b)) == OK,
        },
        Check::Chars(class, charset) => check_chars(class, to_latin1(charset), body, true).is_ok(),
        Check::Bcd {
            pad,
            filler,
            track: false,
        } if units % 2 == 0 || pad == Pad::Right => {
            // Even counts are all digits; a right filler sits in the last byte's low nibble.
            let whole = if units % 2 == 0 {
                body
            } else {
                body.get(..body.len().saturating_sub(1)).unwrap_or(&[])
            };
            let last_ok = units % 2 == 0
                || body
                    .last()
                    .is_some_and(|&b| b >> 4 <= 9 && b & 0x0F == filler);
            last_ok && all_words(whole, bcd_digits, bcd_byte)
        }
        Check::Bcd { pad, filler, track } => {
            check_bcd(body, units, pad, filler, track, true).is_ok()
        }
        Check::Hex(Charset::Ascii) => {
            body.iter().fold(0u8, |acc, &b| {
                acc | ASCII_HEX.get(usize::from(b)).copied().unwrap_or(NOT_HEX)
            }) & !0x0F
                == 0
        }
        Check::Hex(charset) => check_hex(body, charset, true).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_classes() {
        assert!(check_chars(ContentClass::N, None, b"0123456789", false).is_ok());
        let bad = check_chars(ContentClass::N, None, b"12a4", false).unwrap_err();
        assert_eq!(bad.index, 2);
        assert!(check_chars(ContentClass::A, None, b"AB cd", false).is_ok());
        assert!(check_chars(ContentClass::A, None, b"AB1", false).is_err());
        assert!(check_chars(ContentClass::An, None, b"AB 1", false).is_ok());
        assert!(check_chars(ContentClass::An, None, b"AB-1", false).is_err());
        assert!(check_chars(ContentClass::Ans, None, b"A-1 ~", false).is_ok());
        assert!(check_chars(ContentClass::Ans, None, b"A\x01", false).is_err());
        assert!(check_chars(ContentClass::Z, None, b"4111=2812", false).is_ok());
    }

    #[test]
    fn gbk_text_is_flagged_or_refused() {
        let gbk = [b'A', 0xD6, 0xD0, b'B'];
        let seen = check_chars(ContentClass::Ans, None, &gbk, false).unwrap();
        assert!(seen.non_ascii);
        let bad = check_chars(ContentClass::Ans, None, &gbk, true).unwrap_err();
        assert_eq!(
            bad,
            Bad {
                index: 1,
                expected: Expected::Ascii
            }
        );
    }

    #[test]
    fn ebcdic_text_goes_through_the_code_page() {
        let map = to_latin1(Charset::Ebcdic(CodePage::Cp037));
        assert!(check_chars(ContentClass::N, map, &[0xF0, 0xF9], false).is_ok());
        assert!(check_chars(ContentClass::N, map, &[0xF0, 0xC1], false).is_err());
    }

    #[test]
    fn bcd_digits_and_fillers() {
        assert!(check_bcd(&[0x00, 0x51], 3, Pad::Left, 0, false, true).is_ok());
        assert!(check_bcd(&[0x05, 0x10], 3, Pad::Right, 0, false, true).is_ok());
        let seen = check_bcd(&[0x05, 0x1F], 3, Pad::Right, 0, false, false).unwrap();
        assert!(seen.odd_filler);
        let strict = check_bcd(&[0x05, 0x1F], 3, Pad::Right, 0, false, true).unwrap_err();
        assert_eq!(strict.expected, Expected::Filler(0));
        let bad = check_bcd(&[0x05, 0xA0], 4, Pad::Right, 0, false, false).unwrap_err();
        assert_eq!(bad.index, 1);
        assert!(check_bcd(&[0x41, 0xD2], 4, Pad::Right, 0, true, true).is_ok());
        assert!(check_bcd(&[0x41, 0xD2], 4, Pad::Right, 0, false, true).is_err());
    }

    #[test]
    fn word_checks_agree_with_byte_checks() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b'0', b'1', b'2', b, b'4', b'5', b'6', b'7']);
            assert_eq!(ascii_digits(word), ascii_digit(b), "digit {b:#04x}");
            let word = u64::from_le_bytes([b' ', b'~', b, b'A', b'z', b'0', b'!', b'}']);
            assert_eq!(ascii_printable(word), printable(b), "printable {b:#04x}");
            let word = u64::from_le_bytes([0x00, 0x99, b, 0x45, 0x10, 0x01, 0x98, 0x89]);
            assert_eq!(bcd_digits(word), bcd_byte(b), "bcd {b:#04x}");
        }
    }

    #[test]
    fn hex_digits() {
        assert!(check_hex(b"09AF", Charset::Ascii, true).is_ok());
        assert!(check_hex(b"09af", Charset::Ascii, false).unwrap().lower_hex);
        assert_eq!(
            check_hex(b"09aF", Charset::Ascii, true).unwrap_err().index,
            2
        );
        assert_eq!(
            check_hex(b"0G", Charset::Ascii, false).unwrap_err().index,
            1
        );
    }
}
