//! Writing to the terminal: stdout for results, stderr for notes. Neither panics when its
//! stream is gone (`println!` would, and `posemu run ... | head` must keep its exit code).

use std::fmt::Display;
use std::io::Write;

/// One line (or a block of lines) on stdout; a closed pipe is ignored.
pub(crate) fn say(text: impl Display) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Text on stdout as it is (a slip already ends with its newline).
pub(crate) fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// One line on stderr; there is nowhere to report a failure to write it.
pub(crate) fn note(text: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
