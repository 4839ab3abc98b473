//! Quick checks of logical values, eight bytes at a time.
//!
//! These only say "certainly fine": when one says no, the builder runs the full check of the
//! `content` module, which finds the bad byte and says what was expected there (or accepts the
//! value after all). So a quick check may be stricter than the full one, never looser.
//!
//! Each test is one of the decoder's word tests (see `fast`), which give 0 for a word of eight
//! fine bytes: words are tested with `|` between them and compared with 0 once.

use crate::fast::{
    digits_bad, letters_bad, letters_digits_bad, outside, printable_bad, track_bad, within,
};
use crate::spec::plan::QuickCheck;
use crate::spec::ContentClass;

const ONES: u64 = 0x0101_0101_0101_0101;
const TOP: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte.
const fn splat(b: u8) -> u64 {
    ONES * b as u64
}

/// Top bit set in the bytes of `w` below `c` (`c` at most 0x80), exact for every byte.
#[inline]
fn below(w: u64, c: u8) -> u64 {
    // (b & 0x7F) + (0x80 - c) reaches the top bit when b & 0x7F >= c, and never carries out
    // of the byte; bytes with their own top bit set are not below `c` either.
    !(((w & !TOP) + splat(0x80 - c)) | w) & TOP
}

/// Top bit set in the bytes of `w` equal to `c`, exact for every byte.
#[inline]
fn equal(w: u64, c: u8) -> u64 {
    below(w ^ splat(c), 1)
}

/// Class `ans` when not strict: no control character; bytes above 0x7F are fine.
#[inline]
fn ans_lenient_bad(w: u64) -> u64 {
    below(w, 0x20) | equal(w, 0x7F)
}

/// Printable ASCII but `*`.
#[inline]
fn printable_no_star_bad(w: u64) -> u64 {
    outside(w, within(w, 0x20, 0x7E) & !within(w, b'*', b'*'))
}

/// The bytes `data` as words of eight (the last one overlapping the one before), or for short
/// data one word holding every byte at least once: repeating a byte does not change whether
/// all of them are fine.
#[inline]
fn fold_words(data: &[u8], mut f: impl FnMut(u64)) {
    let len = data.len();
    let word = |at: usize| {
        data.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let half = |at: usize| {
        data.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    let quarter = |at: usize| {
        data.get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u16::from_le_bytes)
    };
    match len {
        0 => {}
        1 => f(splat(data.first().copied().unwrap_or(0))),
        2..=3 => {
            let w = u64::from(quarter(0)) | (u64::from(quarter(len - 2)) << 16);
            f(w | (w << 32));
        }
        4..=8 => f(u64::from(half(0)) | (u64::from(half(len - 4)) << 32)),
        _ => {
            let mut chunks = data.chunks_exact(8);
            for chunk in &mut chunks {
                f(chunk.try_into().map_or(0, u64::from_le_bytes));
            }
            if !chunks.remainder().is_empty() {
                f(word(len - 8));
            }
        }
    }
}

/// True when every word passes `bad` (0 for a word of fine bytes).
#[inline]
fn all(data: &[u8], bad: impl Fn(u64) -> u64) -> bool {
    let mut found = 0;
    fold_words(data, |w| found |= bad(w));
    found == 0
}

/// ASCII digits only.
#[inline]
pub(super) fn is_digits(data: &[u8]) -> bool {
    all_usual(data, digits_bad)
}

/// [`all`], with 4 to 40 bytes (the usual lengths of fields, track 2 included) checked inline
/// as one to five words, the last ones overlapping.
#[inline(always)]
fn all_usual(data: &[u8], bad: impl Fn(u64) -> u64) -> bool {
    let len = data.len();
    let half = |at: usize| {
        data.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    let word = |at: usize| {
        data.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    match len {
        4..=8 => bad(u64::from(half(0)) | (u64::from(half(len - 4)) << 32)) == 0,
        9..=16 => bad(word(0)) | bad(word(len - 8)) == 0,
        // Two or three bytes (such as a POS entry mode or a currency code): two pairs, the
        // second overlapping the first, repeated to fill a word.
        2..=3 => {
            let pair = |at: usize| {
                data.get(at..at + 2)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u16::from_le_bytes)
            };
            let w = u64::from(pair(0)) | (u64::from(pair(len - 2)) << 16);
            bad(w | (w << 32)) == 0
        }
        // Track 2 data (up to 37 characters) and the like: four or five words, the last ones
        // overlapping, tested without the setting up of the loop in `all`.
        17..=32 => bad(word(0)) | bad(word(8)) | bad(word(len - 16)) | bad(word(len - 8)) == 0,
        33..=40 => {
            let found = bad(word(0)) | bad(word(8)) | bad(word(16)) | bad(word(24));
            found | bad(word(len - 8)) == 0
        }
        _ => all(data, bad),
    }
}

/// True when `data` is certainly fine for `class` (already known not to be `n`, `x+n` or `b`,
/// which the builder checks otherwise); `strict` refuses bytes above 0x7F in `ans`.
#[inline]
pub(super) fn is_class(class: ContentClass, data: &[u8], strict: bool) -> bool {
    match class {
        ContentClass::N | ContentClass::XN => all_usual(data, digits_bad),
        ContentClass::Z => all_usual(data, track_bad),
        ContentClass::A => all_usual(data, letters_bad),
        ContentClass::An => all_usual(data, letters_digits_bad),
        // Printable ASCII, and (unless strict) anything above 0x7F.
        ContentClass::Ans if strict => all_usual(data, printable_bad),
        ContentClass::Ans => all_usual(data, ans_lenient_bad),
        ContentClass::B => true,
    }
}

/// True when `data` certainly passes the full check of a field whose quick path is `check`
/// (see [`QuickCheck`]).
#[inline]
pub(super) fn quick(check: QuickCheck, data: &[u8]) -> bool {
    match check {
        QuickCheck::Slow => false,
        QuickCheck::Any => true,
        QuickCheck::Digits => is_digits(data),
        QuickCheck::Track => all_usual(data, track_bad),
        QuickCheck::Letters => all_usual(data, letters_bad),
        QuickCheck::LettersDigits => all_usual(data, letters_digits_bad),
        QuickCheck::Printable => all_usual(data, printable_bad),
        QuickCheck::PrintableNoStar => all_usual(data, printable_no_star_bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::check_chars;

    const CLASSES: [ContentClass; 7] = [
        ContentClass::N,
        ContentClass::XN,
        ContentClass::Z,
        ContentClass::A,
        ContentClass::An,
        ContentClass::Ans,
        ContentClass::B,
    ];

    fn full(class: ContentClass, data: &[u8], strict: bool) -> bool {
        class == ContentClass::B || check_chars(class, None, data, strict).is_ok()
    }

    /// Every byte value at every position of values of 1 to 44 bytes, the rest of each value
    /// a byte the class accepts: the quick check agrees with the full one.
    #[test]
    fn agrees_with_the_full_check_on_every_byte() {
        for class in CLASSES {
            let fine = match class {
                ContentClass::A => b'Q',
                _ => b'7',
            };
            for strict in [false, true] {
                for len in 1..=44 {
                    for at in 0..len {
                        for b in 0..=255u8 {
                            let mut data = vec![fine; len];
                            data[at] = b;
                            assert_eq!(
                                is_class(class, &data, strict),
                                full(class, &data, strict),
                                "{class:?} strict {strict}: {data:?}"
                            );
                            if class == ContentClass::N {
                                assert_eq!(
                                    is_digits(&data),
                                    full(class, &data, strict),
                                    "digits: {data:?}"
                                );
                            }
                        }
                    }
                }
                assert!(is_class(class, b"", strict));
            }
        }
        assert!(is_digits(b""));
        assert!(is_digits(b"0123456789"));
        assert!(!is_digits(b"012345678/"));
    }

    /// The quick path's checks never accept what the full check of their class refuses,
    /// strict or not, nor `*` where the builder refuses it; and apart from bytes above 0x7F
    /// and `*`, they accept everything the strict full check does.
    #[test]
    fn quick_checks_accept_only_what_the_full_check_accepts() {
        use QuickCheck::*;
        let checks = [
            (Any, ContentClass::B),
            (Digits, ContentClass::N),
            (Track, ContentClass::Z),
            (Letters, ContentClass::A),
            (LettersDigits, ContentClass::An),
            (Printable, ContentClass::Ans),
            (PrintableNoStar, ContentClass::Ans),
        ];
        assert!(!quick(Slow, b"1"));
        for (check, class) in checks {
            let fine = if class == ContentClass::A { b'Q' } else { b'7' };
            for len in 1..=44 {
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut data = vec![fine; len];
                        data[at] = b;
                        let q = quick(check, &data);
                        if q {
                            assert!(full(class, &data, true), "{check:?}: {data:?}");
                            assert!(full(class, &data, false), "{check:?}: {data:?}");
                        }
                        let starred = check == PrintableNoStar && b == b'*';
                        if b < 0x80 && !starred {
                            assert_eq!(q, full(class, &data, true), "{check:?}: {data:?}");
                        } else if class != ContentClass::B {
                            assert!(!q, "{check:?}: {data:?}");
                        }
                    }
                }
            }
        }
    }

    /// Pairs of neighbouring bytes, where a carry or borrow between bytes would show.
    #[test]
    fn neighbouring_bytes_do_not_interfere() {
        for class in CLASSES {
            for a in 0..=255u8 {
                for b in 0..=255u8 {
                    let data = [b'1', a, b, b'2', a, b, b'3', b'4', a, b];
                    for len in [5, 10] {
                        assert_eq!(
                            is_digits(&data[..len]),
                            full(ContentClass::N, &data[..len], false)
                        );
                    }
                    assert_eq!(
                        is_class(class, &data, false),
                        full(class, &data, false),
                        "{class:?}: {data:?}"
                    );
                }
            }
        }
    }
}
