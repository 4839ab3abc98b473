//! `iso8583`: the pos8583 command-line tool, and its conformance tool.
//!
//! It decodes ISO 8583 messages given as hex (or a hexdump) with any spec the
//! [`iso8583_codec`] crate can load, encodes them back from the JSON it prints, lists the
//! built-in specs and lints spec files. Its output and exit statuses are a fixed contract that
//! conformance runs compare:
//!
//! ```text
//! iso8583 decode --spec NAME|PATH [--skip N] [--strict] [--reveal] [--json] [HEX]
//! iso8583 encode --spec NAME|PATH [--json]          < message.json
//! iso8583 specs
//! iso8583 lint PATH
//! ```
//!
//! - `decode --json` prints `{"mti":"0200","header":"","fields":{"2":"411111******1111",...}}`;
//!   `header` is the upper-case hex of the `--skip` bytes. Sensitive fields are masked unless
//!   `--reveal`. Without `--json` it prints a table, with warnings for the non-canonical forms
//!   the lenient decode accepted.
//! - Bad input of any kind exits with status 1: with `--json` as
//!   `{"error":{"kind":…,"field":…,"offset":…,"message":…}}` on stdout, else one line on stderr.
//!   The kinds are `invalid_hex` (offset: character position in the hex text), `invalid_mti`,
//!   `invalid_bitmap`, `unknown_field`, `invalid_length`, `invalid_content`, `truncated`,
//!   `trailing_data`, and for `encode` also `masked_value` and `invalid_json` (`io` if stdin
//!   cannot be read). Decode offsets count bytes from the first byte given, header included.
//! - Usage errors, an unknown `--spec` among them, exit with status 2.
//! - No input makes the tool panic, and a closed stdout ends it quietly.

mod decode;
mod encode;
mod hexinput;
mod output;
mod specs;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Output;

/// Decode, encode and lint ISO 8583 messages and specs.
#[derive(Debug, Parser)]
#[command(name = "iso8583", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode one message from hex (argument or stdin) and print its fields.
    Decode(decode::DecodeArgs),
    /// Encode the JSON form of a message (as `decode --json --reveal` prints it) read from
    /// stdin, and print it as one line of upper-case hex, header first.
    Encode(encode::EncodeArgs),
    /// List the built-in specs.
    Specs,
    /// Check a spec file and report every problem found.
    Lint(specs::LintArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0, usage errors to stderr with 2;
            // a stream that cannot be written is no reason to panic.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let mut out = Output::new();
    let status = match &cli.command {
        Command::Decode(args) => decode::run(args, &mut out),
        Command::Encode(args) => encode::run(args, &mut out),
        Command::Specs => specs::list(&mut out),
        Command::Lint(args) => specs::lint(args, &mut out),
    };
    ExitCode::from(out.finish(status))
}
