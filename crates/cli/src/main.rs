//! `iso8583`: the pos8583 command-line tool, and its conformance tool.
//!
//! It decodes ISO 8583 messages given as hex (or a hexdump) with any spec the
//! [`iso8583_codec`] crate can load, framed as they come off the wire or bare, encodes them
//! back from the JSON it prints, computes and checks MACs, builds PIN blocks and key check
//! values, lists the built-in specs and lints spec files. Its output and exit statuses are a
//! fixed contract that conformance runs compare:
//!
//! ```text
//! iso8583 decode --spec NAME|PATH [INPUT OPTIONS] [--reveal] [--json] [HEX]
//! iso8583 encode --spec NAME|PATH [--json]          < message.json
//! iso8583 mac --algorithm x919|x99|cup-ecb --key HEX [--key-use whole|first-half | --single]
//!             --spec NAME|PATH [INPUT OPTIONS] [HEX]
//! iso8583 pin-block --format 0|3 --pin PIN --pan PAN [--key HEX]
//! iso8583 kcv --key HEX [--bytes 3|4]
//! iso8583 specs
//! iso8583 lint PATH
//!
//! INPUT OPTIONS: [--frame len2|len2bcd|len4ascii|none] [--tpdu] [--cup-header] [--skip N]
//!                [--max-frame BYTES] [--strict]
//! ```
//!
//! - The input is peeled in wire order: length header (`--frame`), TPDU (`--tpdu`, 5 bytes),
//!   UnionPay application header (`--cup-header`, 6 bytes), `--skip N` bytes, then exactly one
//!   message. A length header counts the bytes after it and must agree with what is there.
//! - `decode --json` prints `{"mti":"0200","header":"","fields":{"2":"411111******1111",...}}`;
//!   `header` is the upper-case hex of everything peeled after the length header (TPDU,
//!   application header, skipped bytes). Sensitive fields are masked unless `--reveal`.
//!   Without `--json` it prints a table, the TPDU and application header spelled out, with
//!   warnings for the non-canonical forms the lenient decode accepted.
//! - `mac` prints the MAC as the MAC field would hold it (X9.19 and X9.9: 16 upper-case hex
//!   digits; UnionPay ECB: its 8 characters), then `match`, `mismatch` or `absent` against
//!   the message's MAC field: field 128 if the message has a secondary bitmap and the spec
//!   defines 128, else field 64. Exit status 0 for `match` and `absent`, 3 for `mismatch`.
//!   `--single` (`--key-use first-half`) is for `x99` and `cup-ecb`; with `x919`, which
//!   always uses both halves of a double-length key, it is a usage error.
//! - `pin-block` prints the ISO 9564-1 block (encrypted under `--key` if given) and `kcv` the
//!   key check value, both in upper-case hex. No command prints a key or a PIN.
//! - Bad input of any kind exits with status 1: with `--json` as
//!   `{"error":{"kind":…,"field":…,"offset":…,"message":…}}` on stdout, else one line on stderr.
//!   The kinds are `invalid_hex` (offset: character position in the hex text), `invalid_mti`,
//!   `invalid_bitmap`, `unknown_field`, `invalid_length` (a field's length prefix, a length
//!   header that is not a number, or for `encode` a message over 65,535 bytes), `invalid_content`, `truncated`, `trailing_data`,
//!   `frame_length_mismatch` (a length header announcing more or fewer bytes than follow it;
//!   offset 0, or the first byte past the frame), `frame_too_large` (a length header
//!   announcing more than `--max-frame`); for `encode` also `masked_value` and
//!   `invalid_json` (`io` if stdin cannot be read); for `mac`, `pin-block` and `kcv` also
//!   `invalid_key`, `invalid_pin` and `invalid_pan`. Decode offsets count bytes from the first
//!   byte given, length header included.
//! - Input is read up to 1 MiB, one byte past that at most: hex text (from the arguments or
//!   stdin; beyond it `invalid_hex` at offset 1048576), `encode`'s JSON (`invalid_json`), and
//!   spec files (`--spec`: a usage error; `lint`: status 1).
//! - Usage errors, an unknown `--spec` or `--algorithm` among them, exit with status 2.
//! - No input makes the tool panic, and a closed stdout ends it quietly.

mod decode;
mod encode;
mod frame;
mod hexinput;
mod input;
mod keys;
mod mac;
mod output;
mod specs;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::output::Output;

/// Decode, encode and lint ISO 8583 messages and specs; compute MACs, PIN blocks and key check
/// values.
#[derive(Debug, Parser)]
#[command(name = "iso8583", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode one message (or frame) from hex, argument or stdin, and print its fields.
    Decode(decode::DecodeArgs),
    /// Encode the JSON form of a message (as `decode --json --reveal` prints it) read from
    /// stdin, and print it as one line of upper-case hex, header first.
    Encode(encode::EncodeArgs),
    /// Compute the MAC of one message (or frame) and check it against its MAC field.
    ///
    /// The MAC field is 128 when the message has a secondary bitmap and the spec defines field
    /// 128, else 64; the MAC covers the message from the MTI up to that field (all of it when
    /// the field is absent). Prints the MAC as the field holds it, then `match`, `mismatch` or
    /// `absent`. Exit status: 0 for `match` and `absent`, 3 for `mismatch`, 1 for bad input.
    Mac(mac::MacArgs),
    /// Print an ISO 9564-1 PIN block, clear or encrypted under a PIN key.
    PinBlock(keys::PinBlockArgs),
    /// Print a DES key's check value.
    Kcv(keys::KcvArgs),
    /// List the built-in specs.
    Specs,
    /// Check a spec file and report every problem found.
    Lint(specs::LintArgs),
}

/// A usage error that clap's own checks cannot see (it depends on option values), reported
/// as clap reports the others: on stderr, with the subcommand's usage, exit status 2.
fn usage_problem(cli: &Cli) -> Option<clap::Error> {
    let (name, message) = match &cli.command {
        Command::Mac(args) => ("mac", args.usage_problem()?),
        _ => return None,
    };
    let mut command = Cli::command();
    command.build();
    Some(match command.find_subcommand_mut(name) {
        Some(sub) => sub.error(ErrorKind::ArgumentConflict, message),
        None => command.error(ErrorKind::ArgumentConflict, message),
    })
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
    if let Some(error) = usage_problem(&cli) {
        let _ = error.print();
        return ExitCode::from(2);
    }
    let mut out = Output::new();
    let status = match &cli.command {
        Command::Decode(args) => decode::run(args, &mut out),
        Command::Encode(args) => encode::run(args, &mut out),
        Command::Mac(args) => mac::run(args, &mut out),
        Command::PinBlock(args) => keys::pin_block(args, &mut out),
        Command::Kcv(args) => keys::kcv(args, &mut out),
        Command::Specs => specs::list(&mut out),
        Command::Lint(args) => specs::lint(args, &mut out),
    };
    ExitCode::from(out.finish(status))
}
