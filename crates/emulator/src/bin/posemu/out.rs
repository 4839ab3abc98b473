//! Writing to the terminal: stdout for results, stderr for notes. Neither panics when its
//! stream is gone (`println!` would, and `posemu run ... | head` must keep its exit code).

use std::fmt::Display;
use std::io::Write;

use posemu::{Printed, Shown, Step};

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

/// The lifecycle events of a step at `info` (STYLE §8: the emulator logs connections,
/// settlement results and closed batches there): a host that could not be reached, a
/// settlement that failed, a batch closed, a power loss.
pub(crate) fn lifecycle(step: &Step) {
    if step.connections > 0 {
        tracing::info!(connections = step.connections, "connected to the host");
    }
    if let Some(why) = &step.unreachable {
        tracing::info!(%why, "host unreachable");
    }
    for p in &step.prompts {
        if let Shown::Engine(prompt @ iso8583_settle::Prompt::SettlementFailed(_)) = p {
            tracing::info!(%prompt, "settlement failed");
        }
    }
    for p in &step.printed {
        if let Printed::Slip {
            report,
            reprint: false,
        } = p
        {
            tracing::info!(
                batch = report.batch,
                reconciliation = ?report.reconciliation,
                uploaded = report.uploaded,
                "batch closed"
            );
        }
    }
    if step.power_lost {
        tracing::info!("power lost");
    }
}
