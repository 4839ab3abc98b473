//! Writing results: stdout that tolerates a closed pipe, stderr that never panics, and the
//! error report every command shares.
//!
//! Nothing here uses `println!` or `eprintln!`, which panic when the stream is gone: a
//! conformance run piping into `head` must not end in exit code 101. When stdout is a closed
//! pipe (`EPIPE`) the command stops writing and exits quietly with the status it would have had.

use std::fmt;
use std::io::{self, BufWriter, ErrorKind, Stdout, Write};

use iso8583_codec::Error;
use serde_json::{json, Value as Json};

/// Exit status of bad input (and of `lint` finding problems).
pub(crate) const EXIT_BAD_INPUT: u8 = 1;

/// Where a command writes its results.
pub(crate) struct Output {
    stdout: BufWriter<Stdout>,
    /// Set once stdout failed: nothing more is written to it.
    closed: bool,
    /// Set when stdout failed for another reason than a closed pipe.
    failed: bool,
}

impl Output {
    /// Output to the process's stdout and stderr.
    pub(crate) fn new() -> Output {
        Output {
            stdout: BufWriter::new(io::stdout()),
            closed: false,
            failed: false,
        }
    }

    /// Writes one line to stdout.
    pub(crate) fn line(&mut self, text: impl fmt::Display) {
        if self.closed {
            return;
        }
        if let Err(e) = writeln!(self.stdout, "{text}") {
            self.stdout_failed(&e);
        }
    }

    /// Writes one line to stderr; a failure to do so is ignored (there is nowhere to say so).
    pub(crate) fn note(&mut self, text: impl fmt::Display) {
        let _ = writeln!(io::stderr().lock(), "{text}");
    }

    /// Reports a failure as the command's result: JSON on stdout with `json`, else one line on
    /// stderr. Returns the exit status of bad input.
    pub(crate) fn fail(&mut self, json: bool, failure: &Failure) -> u8 {
        if json {
            self.line(failure.to_json());
        } else {
            self.note(format_args!(
                "error: {} ({})",
                one_line(&failure.message),
                failure.kind
            ));
        }
        EXIT_BAD_INPUT
    }

    /// Flushes stdout and gives the exit status: `status`, or 1 if stdout could not be written
    /// for another reason than a closed pipe.
    pub(crate) fn finish(mut self, status: u8) -> u8 {
        if !self.closed {
            if let Err(e) = self.stdout.flush() {
                self.stdout_failed(&e);
            }
        }
        // Whatever is still buffered cannot be written; drop it without another attempt.
        let (_, _) = self.stdout.into_parts();
        if self.failed {
            EXIT_BAD_INPUT
        } else {
            status
        }
    }

    fn stdout_failed(&mut self, e: &io::Error) {
        self.closed = true;
        if e.kind() != ErrorKind::BrokenPipe {
            self.failed = true;
            self.note(format_args!("error: cannot write to stdout: {e}"));
        }
    }
}

/// A command's failure as reported: a stable kind, the field it is in, an offset and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Stable name (`invalid_hex`, `truncated`, `masked_value`, ...).
    pub(crate) kind: &'static str,
    /// The field path (`35`, `55.9F26`), if the problem is inside a field.
    pub(crate) field: Option<String>,
    /// Bytes from the start of the input (or characters of hex text, or bytes of a value).
    pub(crate) offset: Option<usize>,
    /// What is wrong, for people.
    pub(crate) message: String,
}

impl Failure {
    /// A failure with no field and no offset.
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            field: None,
            offset: None,
            message: message.into(),
        }
    }

    /// A codec error as reported.
    pub(crate) fn codec(error: &Error) -> Failure {
        Failure {
            kind: error.kind(),
            field: error.field().map(|path| path.to_string()),
            offset: Some(error.offset()),
            message: error.to_string(),
        }
    }

    /// `{"error":{"kind":…,"field":…,"offset":…,"message":…}}`.
    pub(crate) fn to_json(&self) -> Json {
        json!({
            "error": {
                "kind": self.kind,
                "field": self.field,
                "offset": self.offset,
                "message": self.message,
            }
        })
    }
}

/// `text` with line breaks turned into spaces, for one-line reports.
pub(crate) fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use iso8583_codec::FieldPath;

    #[test]
    fn codec_errors_keep_their_field_and_offset() {
        let e = Error::Truncated {
            field: Some(FieldPath::field(35)),
            offset: 12,
            needed: 3,
        };
        let json = Failure::codec(&e).to_json();
        assert_eq!(json["error"]["kind"], "truncated");
        assert_eq!(json["error"]["field"], "35");
        assert_eq!(json["error"]["offset"], 12);
        let e = Error::TrailingData {
            offset: 40,
            count: 2,
        };
        assert!(Failure::codec(&e).to_json()["error"]["field"].is_null());
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\r\n\nc"), "a b c");
    }
}
