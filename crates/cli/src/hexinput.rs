//! Hex text in, bytes out.
//!
//! Two forms are read:
//!
//! - **Plain hex**: digits in either case; whitespace (spaces, tabs, newlines) anywhere and a
//!   `0x`/`0X` prefix at the start of any whitespace-separated group are ignored.
//! - **Hexdumps**: when the first token of the first non-blank line looks like an offset (it
//!   ends with `:`, or it is 4-8 zeros) and the tokens after it on that line, up to the
//!   gutter, are byte groups: pairs, or 4-digit groups after an offset ending with `:` (a long
//!   run of hex after a zero group is plain hex, its zeros included). A first offset of 7
//!   zeros, as plain `hexdump` and `od` write with their 16-bit words, is refused. Each line
//!   is an offset, the bytes as hex groups (pairs or 4-digit groups), and perhaps an ASCII
//!   gutter. `hexdump -C`, `xxd`, `od -A x -t x1[z]` and Wireshark's "Copy as Hex Dump" (with or without
//!   its ASCII column) are read. A line's byte count is the difference between its offset and
//!   the next line's, so the gutter is never mistaken for data; on the last line, which has no
//!   next offset in `xxd` and Wireshark output, the hex area ends at the gutter's `|` or `>`, or
//!   else at the first run of two or more spaces. A `*` line (a run of repeated lines that
//!   `hexdump` and `od` collapse) repeats the line before it up to the next offset.
//!
//! Errors carry the position of the offending character in the input text, counted in
//! characters from 0 (a byte that is not UTF-8 counts as one character).

use std::fmt;

/// Malformed hex text: where in the text, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HexError {
    /// Character position in the input text (from 0).
    pub(crate) position: usize,
    /// What is wrong there.
    pub(crate) message: String,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid hex at character {}: {}",
            self.position, self.message
        )
    }
}

/// Most bytes one hexdump line (or a `*` run) may stand for, and most bytes `*` runs may add
/// up to: guards against offsets that would have us allocate without bound.
const MAX_DUMP_SPAN: u64 = 1 << 20;
const MAX_REPEATED: u64 = 1 << 24;

/// Reads hex text, plain or a hexdump, into bytes.
pub(crate) fn parse(text: &[u8]) -> Result<Vec<u8>, HexError> {
    let input = Input {
        text,
        lines: split_lines(text),
    };
    let result = match input.is_hexdump() {
        Ok(true) => input.parse_dump(),
        Ok(false) => input.parse_plain(),
        Err(e) => Err(e),
    };
    result.map_err(|e| HexError {
        position: char_position(text, e.at),
        message: e.message,
    })
}

/// An error at a byte index of the text, before it becomes a character position.
struct At {
    at: usize,
    message: String,
}

/// A whitespace-separated token: its byte index in the whole text and its bytes.
#[derive(Clone, Copy)]
struct Token<'t> {
    at: usize,
    bytes: &'t [u8],
}

impl Token<'_> {
    fn end(&self) -> usize {
        self.at + self.bytes.len()
    }
}

/// One line of text: where it ends in the whole text, and its tokens.
struct Line<'t> {
    end: usize,
    tokens: Vec<Token<'t>>,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0B | 0x0C)
}

fn split_lines(text: &[u8]) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for piece in text.split(|&b| b == b'\n') {
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < piece.len() {
            if piece.get(i).copied().is_some_and(is_space) {
                i += 1;
                continue;
            }
            let begin = i;
            while piece.get(i).copied().is_some_and(|b| !is_space(b)) {
                i += 1;
            }
            tokens.push(Token {
                at: start + begin,
                bytes: piece.get(begin..i).unwrap_or(&[]),
            });
        }
        lines.push(Line {
            end: start + piece.len(),
            tokens,
        });
        start += piece.len() + 1;
    }
    lines
}

/// Position in characters of byte index `at` of `text`.
fn char_position(text: &[u8], at: usize) -> usize {
    let prefix = text.get(..at).unwrap_or(text);
    String::from_utf8_lossy(prefix).chars().count()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// True if `token` is an offset by the first-line rule: 4-8 hex digits and a colon, or 4-8
/// zeros.
fn looks_like_first_offset(token: &[u8]) -> bool {
    match token.split_last() {
        Some((b':', digits)) => {
            (4..=8).contains(&digits.len()) && digits.iter().all(|&b| hex_value(b).is_some())
        }
        _ => (4..=8).contains(&token.len()) && token.iter().all(|&b| b == b'0'),
    }
}

/// The value of an offset token on any line: 4-16 hex digits, perhaps with a colon.
fn parse_offset(token: &[u8]) -> Option<u64> {
    let digits = match token.split_last() {
        Some((b':', digits)) => digits,
        _ => token,
    };
    if !(4..=16).contains(&digits.len()) {
        return None;
    }
    digits
        .iter()
        .try_fold(0u64, |acc, &b| Some((acc << 4) | u64::from(hex_value(b)?)))
}

/// What a hexdump line is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An offset and data.
    Data,
    /// An offset alone (the last line of `hexdump` and `od` output).
    OffsetOnly,
    /// `*`: the line before repeats up to the next offset.
    Repeat,
}

/// A non-blank hexdump line, classified.
struct DumpLine<'l, 't> {
    line: &'l Line<'t>,
    kind: Kind,
    /// The offset (0 for `*` lines).
    offset: u64,
}

struct Input<'t> {
    text: &'t [u8],
    lines: Vec<Line<'t>>,
}

impl<'t> Input<'t> {
    fn not_hex(&self, at: usize) -> At {
        let rest = self.text.get(at..).unwrap_or(&[]);
        let head = rest.get(..rest.len().min(4)).unwrap_or(&[]);
        let c = String::from_utf8_lossy(head)
            .chars()
            .next()
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        At {
            at,
            message: format!("expected a hex digit, found {c:?}"),
        }
    }

    /// The first line with a token decides: it is a hexdump line when its first token is an
    /// offset and the tokens of its hex area (up to the gutter) all look like byte groups as
    /// `hexdump -C`, `od -A x -t x1`, `xxd` and Wireshark write them: pairs, or after an
    /// offset with a colon (`xxd`, whose `-g` sets the group size) groups of any size. A zero
    /// group before a longer run of hex is plain hex, not an offset.
    ///
    /// A 7-digit offset of zeros before groups is plain `hexdump`'s or `od`'s default output
    /// (16-bit words, byte-swapped or octal, and octal offsets for `od`): refused, as it would
    /// be misread either way.
    ///
    /// Whether the groups' characters are hex digits is left to the parse, so that a typo in
    /// a dump is reported where it is rather than turning the dump into bad plain hex.
    fn is_hexdump(&self) -> Result<bool, At> {
        let Some(first) = self.lines.iter().find(|l| !l.tokens.is_empty()) else {
            return Ok(false);
        };
        let Some(offset) = first.tokens.first() else {
            return Ok(false);
        };
        let groups = hex_area(first, true);
        if groups.is_empty() {
            return Ok(false);
        }
        if offset.bytes.len() == 7 && offset.bytes.iter().all(|&b| b == b'0') {
            return Err(At {
                at: offset.at,
                message: "a 7-digit offset: this looks like the output of plain `hexdump` or \
                          `od` (16-bit words, octal offsets), which is not read; use \
                          `hexdump -C`, `xxd` or `od -A x -t x1`"
                    .into(),
            });
        }
        let colon = offset.bytes.last() == Some(&b':');
        // Text with a colon after its first token is no plain hex, so it can only be a dump.
        let byte_group = |g: &Token<'_>| colon || g.bytes.len() == 2;
        Ok(looks_like_first_offset(offset.bytes) && groups.iter().all(byte_group))
    }

    fn parse_plain(&self) -> Result<Vec<u8>, At> {
        let mut out = Vec::new();
        // A digit waiting for its pair, and where it was.
        let mut pending: Option<(u8, usize)> = None;
        for token in self.lines.iter().flat_map(|l| l.tokens.iter()) {
            let skip = match token.bytes {
                [b'0', b'x' | b'X', ..] => 2,
                _ => 0,
            };
            for (i, &b) in token.bytes.iter().enumerate().skip(skip) {
                let at = token.at + i;
                let v = hex_value(b).ok_or_else(|| self.not_hex(at))?;
                pending = match pending {
                    None => Some((v, at)),
                    Some((hi, _)) => {
                        out.push((hi << 4) | v);
                        None
                    }
                };
            }
        }
        match pending {
            None => Ok(out),
            Some((_, at)) => Err(At {
                at,
                message: format!(
                    "odd number of hex digits: this digit, after {} whole bytes, has no pair",
                    out.len()
                ),
            }),
        }
    }

    fn classify(&self) -> Result<Vec<DumpLine<'_, 't>>, At> {
        let mut dump = Vec::new();
        for line in &self.lines {
            let Some(first) = line.tokens.first() else {
                continue;
            };
            let (kind, offset) = if first.bytes == b"*" {
                (Kind::Repeat, 0)
            } else {
                let offset = parse_offset(first.bytes).ok_or_else(|| At {
                    at: first.at,
                    message: "expected the offset that starts each line of a hexdump".into(),
                })?;
                let kind = if line.tokens.len() > 1 {
                    Kind::Data
                } else {
                    Kind::OffsetOnly
                };
                (kind, offset)
            };
            dump.push(DumpLine { line, kind, offset });
        }
        Ok(dump)
    }

    fn parse_dump(&self) -> Result<Vec<u8>, At> {
        let dump = self.classify()?;
        let mut out = Vec::new();
        let mut repeated: u64 = 0;
        for (i, current) in dump.iter().enumerate() {
            if current.kind == Kind::Repeat {
                // A `*` repeats the data line before it; anything else before it is an error.
                let before = i.checked_sub(1).and_then(|p| dump.get(p));
                if !before.is_some_and(|b| b.kind == Kind::Data) {
                    return Err(At {
                        at: current
                            .line
                            .tokens
                            .first()
                            .map_or(current.line.end, |t| t.at),
                        message: "'*' must follow a line of data, which it repeats".into(),
                    });
                }
            }
            if current.kind != Kind::Data {
                continue;
            }
            let next = dump.get(i + 1);
            let known = match next {
                Some(next) if next.kind != Kind::Repeat => {
                    let at = next.line.tokens.first().map_or(next.line.end, |t| t.at);
                    Some(self.span(current.offset, next.offset, at)?)
                }
                _ => None,
            };
            let bytes = self.line_bytes(current.line, known)?;
            out.extend_from_slice(&bytes);

            if let Some(star) = next.filter(|n| n.kind == Kind::Repeat) {
                let star_at = star.line.tokens.first().map_or(star.line.end, |t| t.at);
                let after = dump
                    .get(i + 2)
                    .filter(|l| l.kind != Kind::Repeat)
                    .ok_or_else(|| At {
                        at: star_at,
                        message: "'*' must be followed by the offset where the repeats end".into(),
                    })?;
                let after_at = after.line.tokens.first().map_or(after.line.end, |t| t.at);
                let total = self.span(current.offset, after.offset, after_at)?;
                let len = bytes.len() as u64;
                if len == 0 || total % len != 0 {
                    return Err(At {
                        at: after_at,
                        message: format!(
                            "offset {:#x} is not a whole number of repeats of the {len}-byte line at {:#x}",
                            after.offset, current.offset
                        ),
                    });
                }
                // The offset after a `*` must lie past the line it repeats: an offset equal to
                // the line's own would stand for fewer bytes than the line holds.
                let extra = total.checked_sub(len).ok_or_else(|| At {
                    at: after_at,
                    message: format!(
                        "offset {:#x} after '*' does not follow the {len}-byte line at offset {:#x}",
                        after.offset, current.offset
                    ),
                })?;
                repeated = repeated.saturating_add(extra);
                if repeated > MAX_REPEATED {
                    return Err(At {
                        at: star_at,
                        message: format!("'*' runs stand for more than {MAX_REPEATED} bytes"),
                    });
                }
                for _ in 1..total / len {
                    out.extend_from_slice(&bytes);
                }
            }
        }
        Ok(out)
    }

    /// Bytes from offset `from` to offset `to`, checked; `at` is where `to` is written.
    fn span(&self, from: u64, to: u64, at: usize) -> Result<u64, At> {
        match to.checked_sub(from) {
            Some(n) if n <= MAX_DUMP_SPAN => Ok(n),
            _ => Err(At {
                at,
                message: format!("offset {to:#x} does not follow the line at offset {from:#x}"),
            }),
        }
    }

    /// The bytes of one data line. With `known`, exactly that many bytes are read from the
    /// start of the hex area and what follows is the gutter; without, the hex area ends at the
    /// gutter's delimiter or at the first gap of two or more spaces.
    fn line_bytes(&self, line: &Line<'t>, known: Option<u64>) -> Result<Vec<u8>, At> {
        let area = hex_area(line, known.is_none());
        let mut out = Vec::new();
        let mut end = line.tokens.first().map_or(line.end, Token::end);
        for group in area {
            if known.is_some_and(|want| out.len() as u64 >= want) {
                break;
            }
            if let Some(k) = group.bytes.iter().position(|&b| hex_value(b).is_none()) {
                return Err(self.not_hex(group.at + k));
            }
            if group.bytes.len() % 2 == 1 {
                return Err(At {
                    at: group.end().saturating_sub(1),
                    message: "a hex group of a hexdump line has an odd number of digits".into(),
                });
            }
            for pair in group.bytes.chunks_exact(2) {
                let (hi, lo) = match pair {
                    [hi, lo] => (hex_value(*hi).unwrap_or(0), hex_value(*lo).unwrap_or(0)),
                    _ => (0, 0),
                };
                out.push((hi << 4) | lo);
            }
            end = group.end();
        }
        if let Some(want) = known {
            let have = out.len() as u64;
            if have != want {
                let relation = if have < want { "only" } else { "more than" };
                let message = if have < want {
                    format!(
                        "the line holds {relation} {have} bytes, but the next offset says {want}"
                    )
                } else {
                    format!("the line holds {relation} the {want} bytes its offsets allow")
                };
                return Err(At { at: end, message });
            }
        }
        Ok(out)
    }
}

/// The hex groups of a data line: the tokens after the offset up to the gutter. The gutter
/// starts at a `|` (`hexdump -C`) or `>` (`od ... z`) token two or more spaces after the hex,
/// when the line ends with the matching `|` or `<`; otherwise, if `gap` is set, at the first run
/// of two or more spaces between tokens (`xxd`, Wireshark).
fn hex_area<'a, 't>(line: &'a Line<'t>, gap: bool) -> &'a [Token<'t>] {
    let tokens = line.tokens.as_slice();
    let last = tokens.last().and_then(|t| t.bytes.last()).copied();
    let gap_before = |i: usize| -> usize {
        match (i.checked_sub(1).and_then(|p| tokens.get(p)), tokens.get(i)) {
            (Some(before), Some(token)) => token.at.saturating_sub(before.end()),
            _ => 0,
        }
    };
    let delimiter = (1..tokens.len()).find(|&i| {
        let first = tokens.get(i).and_then(|t| t.bytes.first()).copied();
        let closes = matches!(
            (first, last),
            (Some(b'|'), Some(b'|')) | (Some(b'>'), Some(b'<'))
        );
        closes && gap_before(i) >= 2
    });
    let end = match delimiter {
        Some(i) => i,
        None if gap => (2..tokens.len())
            .find(|&i| gap_before(i) >= 2)
            .unwrap_or(tokens.len()),
        None => tokens.len(),
    };
    tokens.get(1..end).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 24 bytes of benchmark message (a) and what they are.
    const BYTES: &[u8] = b"0200723C448028C08200164111111111";

    fn ok(text: &str) -> Vec<u8> {
        match parse(text.as_bytes()) {
            Ok(bytes) => bytes,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn err(text: &str) -> HexError {
        match parse(text.as_bytes()) {
            Ok(bytes) => panic!("{text:?} parsed as {bytes:02X?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn plain_hex_in_either_case_with_spaces_and_prefixes() {
        assert_eq!(ok("30323030"), b"0200");
        assert_eq!(ok("3a3B"), vec![0x3A, 0x3B]);
        assert_eq!(ok("  30 32\n30\t30\r\n"), b"0200");
        assert_eq!(ok("0x30 0x32 0X3030"), b"0200");
        assert_eq!(ok("3 03 2"), b"02");
        assert_eq!(ok(""), b"");
        // A long first token is not an offset.
        assert_eq!(ok("3032303037323343 4434"), b"0200723CD4");
    }

    #[test]
    fn plain_hex_errors_name_the_character() {
        let e = err("3032zz");
        assert_eq!(e.position, 4);
        assert!(e.message.contains("'z'"), "{}", e.message);
        // Positions count characters of the original text, spaces and newlines included.
        assert_eq!(err("30\n 3G").position, 5);
        assert_eq!(err("é3G").position, 0);
        // A character of several bytes in a gutter counts once.
        assert_eq!(err("0000   30 32   é0\n0002   3G\n").position, 26);
        assert_eq!(err("30 0x3").position, 5);
        assert!(err("303").message.contains("odd number"));
        // Bytes that are not UTF-8 are an error, not a panic.
        assert_eq!(parse(b"30\xff\xfe").map_err(|e| e.position), Err(2));
    }

    #[test]
    fn hexdump_c() {
        let text = "\
00000000  30 32 30 30 37 32 33 43  34 34 38 30 32 38 43 30  |0200723C448028C0|
00000010  38 32 30 30 31 36 34 31  31 31 31 31 31 31 31 31  |8200164111111111|
00000020
";
        assert_eq!(ok(text), BYTES);
        // The last line is short and padded; the final offset gives its length.
        let text = "\
00000000  30 32 30 30 37 32 33 43  34 34 38 30 32 38 43 30  |0200723C448028C0|
00000010  38 32 30 30 31 36                                 |820016|
00000016
";
        assert_eq!(ok(text), &BYTES[..22]);
        // Without the final offset line the gutter's bar still ends the hex area.
        let text = "00000000  30 32 30 30 37 32 33 43  34 34 38 30  |0200723C4480|\n";
        assert_eq!(ok(text), &BYTES[..12]);
    }

    #[test]
    fn hexdump_c_repeats() {
        let text = "\
00000000  30 30 30 30 30 30 30 30  30 30 30 30 30 30 30 30  |0000000000000000|
*
00000030  41 42                                             |AB|
00000032
";
        let mut expected = vec![b'0'; 48];
        expected.extend_from_slice(b"AB");
        assert_eq!(ok(text), expected);
        let e = err("00000000  30 30  |00|\n*\n00000003\n");
        assert!(
            e.message.contains("whole number of repeats"),
            "{}",
            e.message
        );
        // Runs may not add up to more than a bounded total, however short the text.
        let bomb = "00000000  30\n*\n000fffff\n".repeat(20);
        let e = err(&bomb);
        assert!(
            e.message.contains("'*' runs stand for more than"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_repeat_must_end_past_the_line_it_repeats() {
        // The offset after `*` is the repeated line's own: no panic, an error at that offset.
        let text = "00000000  02 00\n*\n00000000\n";
        let e = err(text);
        assert_eq!(e.position, 18, "{e}");
        assert!(e.message.contains("does not follow"), "{e}");
        // One line's worth is no repeat at all, and is read as such.
        assert_eq!(ok("00000000  02 00\n*\n00000002\n"), vec![2, 0]);
        // A `*` with no data line before it.
        let e = err("00000000  02 00\n00000002\n*\n00000004\n");
        assert!(e.message.contains("must follow a line of data"), "{e}");
        assert_eq!(e.position, 25, "{e}");
    }

    #[test]
    fn xxd() {
        let text = "\
00000000: 3032 3030 3732 3343 3434 3830 3238 4330  0200723C448028C0
00000010: 3832 3030 3136 3431 3131 3131 3131 3131  8200164111111111
";
        assert_eq!(ok(text), BYTES);
        // A short, padded last line whose gutter looks like hex.
        let text = "\
00000000: 3032 3030 3732 3343 3434 3830 3238 4330  0200723C448028C0
00000010: 3832 3030 31                             82001
";
        assert_eq!(ok(text), &BYTES[..21]);
        // The gutter of a single line holding only digits.
        assert_eq!(ok("00000000: 3032 3030  0200\n"), b"0200");
        // A gutter starting with a space, and one holding '|' and '>'.
        assert_eq!(ok("00000000: 2030 7c3e   0|>\n"), b" 0|>");
        // Other group sizes (`xxd -g 4`, `-g 8`, `-g 0`), with a short last line.
        let text = "\
00000000: 30323030 37323343 34343830 32384330  0200723C448028C0
00000010: 38323030 31363431 31313131 31313131  8200164111111111
";
        assert_eq!(ok(text), BYTES);
        let text = "\
00000000: 3032303037323343 3434383032384330  0200723C448028C0
00000010: 3832303031                         82001
";
        assert_eq!(ok(text), &BYTES[..21]);
        let text = "\
00000000: 30323030373233433434383032384330  0200723C448028C0
00000010: 38323030313634313131313131313131  8200164111111111
";
        assert_eq!(ok(text), BYTES);
        // An odd group after a colon offset is a hexdump line with a typo, not plain hex.
        let e = err("00000000: 3032303 37323343  0200723\n");
        assert!(e.message.contains("odd number"), "{e}");
    }

    #[test]
    fn od() {
        let text = "\
000000 30 32 30 30 37 32 33 43 34 34 38 30 32 38 43 30  >0200723C448028C0<
000010 38 32 30 30 31 36 34 31 31 31 31 31 31 31 31 31  >8200164111111111<
000020
";
        assert_eq!(ok(text), BYTES);
        let text = "\
000000 30 32 30 30 37 32 33 43 34 34 38 30 32 38 43 30
000010 38 32 30 30 31 36 34 31 31 31 31 31 31 31 31 31
000020
";
        assert_eq!(ok(text), BYTES);
        let text = "\
000000 30 32 30 30 37 32 33 43 34 34 38 30 32 38 43 30  >0200723C448028C0<
000010 38 32 30 30                                      >8200<
000014
";
        assert_eq!(ok(text), &BYTES[..20]);
        let text = "\
000000 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30
*
000020 31
000021
";
        let mut expected = vec![b'0'; 32];
        expected.push(b'1');
        assert_eq!(ok(text), expected);
    }

    #[test]
    fn wireshark() {
        let text = "\
0000   30 32 30 30 37 32 33 43 34 34 38 30 32 38 43 30   0200723C448028C0
0010   38 32 30 30 31 36 34 31 31 31 31 31 31 31 31 31   8200164111111111
";
        assert_eq!(ok(text), BYTES);
        // The last line is padded so that its gutter lines up.
        let text = "\
0000   30 32 30 30 37 32 33 43 34 34 38 30 32 38 43 30   0200723C448028C0
0010   38 32 30 30                                       8200
";
        assert_eq!(ok(text), &BYTES[..20]);
        // "...as Hex Dump" without the ASCII column, in Windows line endings.
        let text = "0000   30 32 30 30 37 32 33 43\r\n0008   34 34\r\n";
        assert_eq!(ok(text), &BYTES[..10]);
    }

    #[test]
    fn hexdump_errors() {
        let text = "0000   30 32 3G 30\n";
        let e = err(text);
        assert_eq!(e.position, 14, "{e}");
        let e = err("00000000  30 32\nzz 30\n");
        assert_eq!(e.position, 16, "{e}");
        assert!(e.message.contains("offset"), "{e}");
        // A line shorter than its offsets say.
        let e = err("00000000  30 32 30\n00000004\n");
        assert!(e.message.contains("holds only 3 bytes"), "{e}");
        // Offsets that go backwards, or leap too far.
        assert!(err("00000000  30\n00000001  31\n00000000\n")
            .message
            .contains("does not follow"));
        assert!(err("00000000  30\nffffffff\n")
            .message
            .contains("does not follow"));
        // An odd group.
        assert!(err("0000   303 32\n").message.contains("odd number"));
    }

    /// A small deterministic generator (Knuth's MMIX LCG), for reproducible pseudo-random text.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items.get(self.below(items.len())).copied().unwrap_or("")
        }
    }

    #[test]
    fn random_hexdump_like_text_never_panics() {
        // Pieces that hexdumps are made of, offsets that repeat, go back or leap among them,
        // and single characters, so that most texts are taken for a hexdump and get far into it.
        const PIECES: &[&str] = &[
            "00000000",
            "00000000",
            "0000",
            "000000",
            "00000002",
            "00000001",
            "00000010",
            "0010",
            "000002",
            "ffffffff",
            "fffffffffffffff0",
            "0000:",
            "00000000:",
            "00000002:",
            "02",
            "00",
            "30",
            "3032",
            "0200723C",
            "*",
            "*",
            "|",
            "|0.|",
            ">0<",
            ":",
            "0",
            "G",
            "\u{e9}",
        ];
        const SEPARATORS: &[&str] = &[" ", " ", "  ", "   ", "\n", "\n", "\r\n", "\t"];
        const CHARS: &[&str] = &["0", "1", "a", "F", " ", "*", ":", "|", "\n", "<", ">"];
        let mut rng = Lcg(0x8583);
        for _ in 0..50_000 {
            let mut text = String::new();
            for _ in 0..rng.below(16) {
                if rng.below(4) == 0 {
                    text.push_str(rng.pick(CHARS));
                } else {
                    text.push_str(rng.pick(PIECES));
                    text.push_str(rng.pick(SEPARATORS));
                }
            }
            // Only that it returns: a panic fails the test, and names the text.
            let result = std::panic::catch_unwind(|| parse(text.as_bytes()));
            assert!(result.is_ok(), "parse panicked on {text:?}");
        }
    }

    #[test]
    fn detection_needs_an_offset_and_more_tokens() {
        // A single all-zero token is plain hex.
        assert_eq!(ok("00000000"), vec![0, 0, 0, 0]);
        // Three zeros are not an offset: the rest is plain hex.
        assert_eq!(ok("000 0"), vec![0, 0]);
        // Blank lines before the dump are skipped.
        assert_eq!(ok("\n\n0000   30 32\n"), b"02");
    }

    #[test]
    fn plain_hexdump_and_od_words_are_refused() {
        // `hexdump` with no option: 7-digit offsets, byte-swapped 16-bit words.
        let e = err("0000000 3230 3030 3237 4333\n0000008\n");
        assert_eq!(e.position, 0);
        assert!(e.message.contains("plain `hexdump`"), "{e}");
        // `od` with no option: octal offsets and words.
        assert!(err("0000000 031060 030060\n0000004\n")
            .message
            .contains("hexdump -C"));
        // `od -A o -t x1`: octal offsets, pairs.
        assert!(err("0000000 30 32\n0000002\n").message.contains("7-digit"));
        // 4-digit groups without xxd's colon are no dump of ours: plain hex, zeros included.
        assert_eq!(ok("0000 3032 3030"), b"\0\x000200");
    }

    #[test]
    fn a_zero_group_before_a_long_hex_run_is_plain_hex() {
        // 4-8 zeros, then a run of hex longer than a byte group: the zeros are data.
        assert_eq!(ok("0000 30323030"), b"\0\x000200");
        assert_eq!(ok("00000000 3032303037"), b"\0\0\0\x0002007");
        assert_eq!(ok("0000 30323030\n0000 3032\n"), b"\0\x000200\0\x0002");
        // Even with byte groups first, a long run among the first line's groups makes it plain.
        assert_eq!(ok("000000 30 32 303030"), b"\0\0\x0002000");
        // A run of hex after the gutter's gap does not count: the line is still a dump.
        assert_eq!(ok("0000   30 32   3032\n"), b"02");
        // An offset with a colon, then a long run, is a dump line (`xxd -g 4`): a colon is no
        // hex, so the text cannot be plain hex.
        assert_eq!(ok("0000: 30323030"), b"0200");
        // A typo in a dump's byte group is still found where it is.
        assert_eq!(err("0000   30 3G\n").position, 11);
    }
}
