//! Prints the medians of the last `cargo bench -p pos8583-benches` run and the ratios the
//! targets are stated in (see `benches/README.md`); for the `wire` and `crypto` benchmarks,
//! frames or MACs per second (1e9 / median in ns).
//!
//! Reads `<criterion dir>/<id>/new/estimates.json`, where the criterion directory is
//! `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the workspace's
//! `target/criterion`. Each bench target's table is shown when all of its results are there
//! (a note on stderr says which are not). Options: `--markdown` prints the tables as Markdown;
//! `--check` exits with status 1 when a target is missed (and 2 when the `codec` results the
//! targets are stated on are missing).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Benchmark ids of `benches/codec.rs` in the order they are shown.
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

/// Ids of `benches/wire.rs` (one frame per iteration) and `benches/crypto.rs` (one MAC per
/// iteration), with the unit of their rate and the bench target to run for them.
const RATE_GROUPS: [(&str, &str, &[&str]); 2] = [
    (
        "wire",
        "frames/s",
        &[
            "wire/frame_encode_b",
            "wire/frame_decode_b",
            "wire/frame_refill_b",
        ],
    ),
    (
        "crypto",
        "MACs/s",
        &[
            "crypto/mac_x919_b",
            "crypto/mac_x99_b",
            "crypto/mac_cup_ecb_double_b",
            "crypto/mac_cup_ecb_single_b",
            "crypto/mac_x919_raw_b",
        ],
    ),
];

/// A derived row: label, minuend id, subtrahend id (`frame_decode_b` includes the refill).
const DIFFERENCES: [(&str, &str, &str); 1] = [(
    "wire/frame_decode_b - frame_refill_b",
    "wire/frame_decode_b",
    "wire/frame_refill_b",
)];

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

/// Reads every id of one bench target, or says why not.
fn read_all<'a>(dir: &Path, ids: &[&'a str]) -> Result<Vec<(&'a str, Median)>, String> {
    ids.iter()
        .map(|id| read_median(dir, id).map(|m| (*id, m)))
        .collect()
}

/// What `run` found: whether the codec results were there, and whether every target was met.
struct Outcome {
    codec_shown: bool,
    all_met: bool,
}

fn run(markdown: bool) -> Result<Outcome, String> {
    let dir = criterion_dir();
    let mut out = io::stdout().lock();
    let mut shown = 0;
    let mut outcome = Outcome {
        codec_shown: false,
        all_met: true,
    };
    let skipped = |target: &str, e: String| {
        let _ = writeln!(
            io::stderr(),
            "report: no {target} results ({e}); run cargo bench -p pos8583-benches --bench {target}"
        );
    };

    match read_all(&dir, &IDS) {
        Ok(medians) => {
            outcome.all_met =
                print_codec(&mut out, markdown, &medians).map_err(|e| e.to_string())?;
            outcome.codec_shown = true;
            shown += 1;
        }
        Err(e) => skipped("codec", e),
    }
    for (target, unit, ids) in RATE_GROUPS {
        match read_all(&dir, ids) {
            Ok(medians) => {
                if shown > 0 {
                    writeln!(out).map_err(|e| e.to_string())?;
                }
                print_rates(&mut out, markdown, unit, &medians).map_err(|e| e.to_string())?;
                shown += 1;
            }
            Err(e) => skipped(target, e),
        }
    }
    if shown == 0 {
        return Err(format!(
            "no results under {}: run the benchmarks first",
            dir.display()
        ));
    }
    Ok(outcome)
}

/// The codec medians and the ratios the targets are stated in; true if every target is met.
fn print_codec(
    out: &mut impl Write,
    markdown: bool,
    medians: &[(&str, Median)],
) -> io::Result<bool> {
    let get = |id: &str| medians.iter().find(|(i, _)| *i == id).map(|(_, m)| m.ns);
    if markdown {
        writeln!(out, "| benchmark | median (ns) | 95% CI (ns) |")?;
        writeln!(out, "|---|---:|---|")?;
    } else {
        writeln!(out, "{:<24} {:>12}   95% CI", "benchmark", "median ns")?;
    }
    for (id, m) in medians {
        if markdown {
            writeln!(
                out,
                "| `{id}` | {:.1} | {:.1} – {:.1} |",
                m.ns, m.low, m.high
            )?;
        } else {
            writeln!(
                out,
                "{id:<24} {:>12.1}   [{:.1}, {:.1}]",
                m.ns, m.low, m.high
            )?;
        }
    }

    writeln!(out)?;
    if markdown {
        writeln!(out, "| ratio of medians | value | target | |")?;
        writeln!(out, "|---|---:|---:|---|")?;
    } else {
        writeln!(
            out,
            "{:<36} {:>7} {:>8}",
            "ratio of medians", "value", "target"
        )?;
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
            writeln!(out, "| {label} | {ratio:.2} | {target_text} | {verdict} |")?;
        } else {
            writeln!(out, "{label:<36} {ratio:>7.2} {target_text:>8}  {verdict}")?;
        }
    }
    Ok(all_met)
}

/// Medians of one-element-per-iteration benchmarks with their rate, 1e9 / median ns (the
/// median of the rate, since the rate falls as the time rises), and the derived differences
/// whose ids are all in `medians`.
fn print_rates(
    out: &mut impl Write,
    markdown: bool,
    unit: &str,
    medians: &[(&str, Median)],
) -> io::Result<()> {
    let get = |id: &str| medians.iter().find(|(i, _)| *i == id).map(|(_, m)| m.ns);
    let rate = |ns: f64| if ns > 0.0 { 1e9 / ns } else { f64::NAN };
    if markdown {
        writeln!(out, "| benchmark | median (ns) | 95% CI (ns) | {unit} |")?;
        writeln!(out, "|---|---:|---|---:|")?;
    } else {
        writeln!(
            out,
            "{:<38} {:>10} {:>12}   95% CI (ns)",
            "benchmark", "median ns", unit
        )?;
    }
    for (id, m) in medians {
        let r = rate(m.ns);
        if markdown {
            writeln!(
                out,
                "| `{id}` | {:.1} | {:.1} – {:.1} | {r:.0} |",
                m.ns, m.low, m.high
            )?;
        } else {
            writeln!(
                out,
                "{id:<38} {:>10.1} {r:>12.0}   [{:.1}, {:.1}]",
                m.ns, m.low, m.high
            )?;
        }
    }
    for (label, minuend, subtrahend) in DIFFERENCES {
        let (Some(a), Some(b)) = (get(minuend), get(subtrahend)) else {
            continue;
        };
        let (ns, r) = (a - b, rate(a - b));
        if markdown {
            writeln!(
                out,
                "| {label} (difference of medians) | {ns:.1} | - | {r:.0} |"
            )?;
        } else {
            writeln!(
                out,
                "{label:<38} {ns:>10.1} {r:>12.0}   (difference of medians)"
            )?;
        }
    }
    Ok(())
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
        Ok(outcome) if check && !outcome.codec_shown => {
            let _ = writeln!(
                io::stderr(),
                "report: --check needs the codec results the targets are stated on"
            );
            ExitCode::from(2)
        }
        Ok(outcome) if check && !outcome.all_met => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "report: {e}");
            ExitCode::from(2)
        }
    }
}
