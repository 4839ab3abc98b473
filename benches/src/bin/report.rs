//! Prints the medians of the last `cargo bench -p pos8583-benches` run and the ratios the
//! targets are stated in (see `benches/README.md`).
//!
//! Reads `<criterion dir>/<id>/new/estimates.json`, where the criterion directory is
//! `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the workspace's
//! `target/criterion`. Options: `--markdown` prints the tables as Markdown; `--check` exits
//! with status 1 when a target is missed.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Benchmark ids in the order they are shown.
const IDS: [&str; 8] = [
    "a_floor",
    "a_decode_pos8583",
    "a_decode_iso_8583_rs",
    "a_encode_pos8583",
    "a_encode_iso_8583_rs",
    "b_floor",
    "b_decode_pos8583",
    "b_encode_pos8583",
];

/// What each ratio is: label, numerator id, denominator id, target (ratio at most), if any.
const RATIOS: [(&str, &str, &str, Option<f64>); 5] = [
    (
        "(a) decode: pos8583 / iso_8583_rs",
        "a_decode_pos8583",
        "a_decode_iso_8583_rs",
        Some(0.5),
    ),
    (
        "(a) encode: pos8583 / iso_8583_rs",
        "a_encode_pos8583",
        "a_encode_iso_8583_rs",
        Some(0.5),
    ),
    (
        "(b) decode: pos8583 / floor",
        "b_decode_pos8583",
        "b_floor",
        Some(6.0),
    ),
    (
        "(a) decode: pos8583 / floor",
        "a_decode_pos8583",
        "a_floor",
        None,
    ),
    (
        "(b) encode: pos8583 / floor",
        "b_encode_pos8583",
        "b_floor",
        None,
    ),
];

/// A median and its 95% confidence interval, in nanoseconds.
struct Median {
    ns: f64,
    low: f64,
    high: f64,
}

fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

fn read_median(dir: &Path, id: &str) -> Result<Median, String> {
    let path = dir.join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let median = &json["median"];
    let number = |v: &serde_json::Value| {
        v.as_f64()
            .ok_or_else(|| format!("{}: no median estimate", path.display()))
    };
    Ok(Median {
        ns: number(&median["point_estimate"])?,
        low: number(&median["confidence_interval"]["lower_bound"])?,
        high: number(&median["confidence_interval"]["upper_bound"])?,
    })
}

fn run(markdown: bool) -> Result<bool, String> {
    let dir = criterion_dir();
    let medians = IDS
        .iter()
        .map(|id| read_median(&dir, id).map(|m| (*id, m)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!("{e}\nrun the benchmarks first: cargo bench -p pos8583-benches --bench codec")
        })?;
    let get = |id: &str| medians.iter().find(|(i, _)| *i == id).map(|(_, m)| m.ns);

    let mut out = io::stdout().lock();
    let w = |e: io::Error| e.to_string();
    if markdown {
        writeln!(out, "| benchmark | median (ns) | 95% CI (ns) |").map_err(w)?;
        writeln!(out, "|---|---:|---|").map_err(w)?;
    } else {
        writeln!(out, "{:<24} {:>12}   95% CI", "benchmark", "median ns").map_err(w)?;
    }
    for (id, m) in &medians {
        if markdown {
            writeln!(
                out,
                "| `{id}` | {:.1} | {:.1} – {:.1} |",
                m.ns, m.low, m.high
            )
            .map_err(w)?;
        } else {
            writeln!(
                out,
                "{id:<24} {:>12.1}   [{:.1}, {:.1}]",
                m.ns, m.low, m.high
            )
            .map_err(w)?;
        }
    }

    writeln!(out).map_err(w)?;
    if markdown {
        writeln!(out, "| ratio of medians | value | target | |").map_err(w)?;
        writeln!(out, "|---|---:|---:|---|").map_err(w)?;
    } else {
        writeln!(
            out,
            "{:<36} {:>7} {:>8}",
            "ratio of medians", "value", "target"
        )
        .map_err(w)?;
    }
    let mut all_met = true;
    for (label, num, den, target) in RATIOS {
        let (Some(n), Some(d)) = (get(num), get(den)) else {
            continue;
        };
        let ratio = n / d;
        let (target_text, verdict) = match target {
            Some(t) if ratio <= t => (format!("≤ {t}"), "met"),
            Some(t) => {
                all_met = false;
                (format!("≤ {t}"), "MISSED")
            }
            None => ("-".to_owned(), "(for information)"),
        };
        if markdown {
            writeln!(out, "| {label} | {ratio:.2} | {target_text} | {verdict} |").map_err(w)?;
        } else {
            writeln!(out, "{label:<36} {ratio:>7.2} {target_text:>8}  {verdict}").map_err(w)?;
        }
    }
    Ok(all_met)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let markdown = args.iter().any(|a| a == "--markdown");
    let check = args.iter().any(|a| a == "--check");
    if let Some(other) = args
        .iter()
        .find(|a| !matches!(a.as_str(), "--markdown" | "--check"))
    {
        let _ = writeln!(
            io::stderr(),
            "unknown argument {other:?}; usage: report [--markdown] [--check]"
        );
        return ExitCode::from(2);
    }
    match run(markdown) {
        Ok(all_met) if check && !all_met => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "report: {e}");
            ExitCode::from(2)
        }
    }
}
