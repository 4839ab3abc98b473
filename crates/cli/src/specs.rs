//! Specs on the command line: `--spec NAME|PATH`, `iso8583 specs` and `iso8583 lint PATH`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iso8583_codec::{Spec, SpecError};

use crate::input::read_capped;
use crate::output::{one_line, Output, EXIT_BAD_INPUT};

/// A spec named by `--spec`: one of the built-ins, or one loaded from a file.
#[derive(Debug, Clone)]
pub(crate) enum LoadedSpec {
    /// A built-in spec.
    Builtin(&'static Spec),
    /// A spec read from a TOML file.
    File(Arc<Spec>),
}

impl LoadedSpec {
    /// The spec.
    pub(crate) fn get(&self) -> &Spec {
        match self {
            LoadedSpec::Builtin(spec) => spec,
            LoadedSpec::File(spec) => spec,
        }
    }
}

/// Parses the value of `--spec`: a built-in name, else the path of a spec file. An error here
/// is a usage error (exit status 2), as for any other bad option value.
pub(crate) fn parse_spec(value: &str) -> Result<LoadedSpec, String> {
    if let Some(spec) = Spec::builtin(value) {
        return Ok(LoadedSpec::Builtin(spec));
    }
    let text = read_spec_file(Path::new(value))
        .map_err(|e| {
            let names: Vec<&str> = Spec::builtin_names().collect();
            format!(
                "not a built-in spec ({}) nor a readable spec file: {e}",
                names.join(", ")
            )
        })?
        .ok_or_else(too_large)?;
    let text =
        String::from_utf8(text).map_err(|_| "the spec file is not UTF-8 text".to_string())?;
    Spec::from_toml_str(&text)
        .map(|spec| LoadedSpec::File(Arc::new(spec)))
        .map_err(|e| format!("{e} (run `iso8583 lint {value}` for details)"))
}

/// Most bytes of a spec file read: 1 MiB, far more than a spec of every field needs.
pub(crate) const MAX_SPEC_FILE: usize = 1 << 20;

/// The bytes of the spec file at `path`, or `None` if it holds more than [`MAX_SPEC_FILE`]
/// (of which no more than one byte past the limit is read).
fn read_spec_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    read_capped(File::open(path)?, MAX_SPEC_FILE)
}

fn too_large() -> String {
    format!("the spec file runs past {MAX_SPEC_FILE} bytes (1 MiB), more than a spec needs")
}

/// `iso8583 specs`: every built-in spec, name and description, one per line.
pub(crate) fn list(out: &mut Output) -> u8 {
    let specs: Vec<&Spec> = Spec::builtin_names().filter_map(Spec::builtin).collect();
    let width = specs.iter().map(|s| s.name().len()).max().unwrap_or(0);
    for spec in specs {
        out.line(format_args!(
            "{:<width$}  {}",
            spec.name(),
            spec.description()
        ));
    }
    0
}

/// Arguments of `iso8583 lint`.
#[derive(Debug, clap::Args)]
pub(crate) struct LintArgs {
    /// The TOML spec file to check.
    path: PathBuf,
}

/// `iso8583 lint PATH`: `ok: NAME (N fields)` and status 0 for a clean spec; otherwise every
/// problem, one per line with its field number, and status 1.
pub(crate) fn lint(args: &LintArgs, out: &mut Output) -> u8 {
    let path = args.path.display();
    let text = match read_spec_file(&args.path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            out.note(format_args!("error: {path}: {}", too_large()));
            return EXIT_BAD_INPUT;
        }
        Err(e) => {
            out.note(format_args!("error: cannot read {path}: {e}"));
            return EXIT_BAD_INPUT;
        }
    };
    let Ok(text) = String::from_utf8(text) else {
        out.line("spec: the file is not UTF-8 text");
        return EXIT_BAD_INPUT;
    };
    match Spec::from_toml_str(&text) {
        Ok(spec) => {
            out.line(format_args!(
                "ok: {} ({} fields)",
                spec.name(),
                spec.fields().count()
            ));
            0
        }
        Err(SpecError::Lint { problems, .. }) => {
            for problem in &problems {
                out.line(one_line(&problem.to_string()));
            }
            EXIT_BAD_INPUT
        }
        Err(SpecError::Syntax(e)) => {
            let span = e.span().map(|s| s.start);
            let place = span.map(|at| {
                let (line, column) = line_column(&text, at);
                format!("line {line}, column {column}: ")
            });
            let owner = match span.and_then(|at| field_at(&text, at)) {
                Some(n) => format!("field {n}"),
                None => "spec".to_string(),
            };
            out.line(format_args!(
                "{owner}: {}{}",
                place.unwrap_or_default(),
                one_line(e.message())
            ));
            EXIT_BAD_INPUT
        }
        Err(other) => {
            out.line(format_args!("spec: {}", one_line(&other.to_string())));
            EXIT_BAD_INPUT
        }
    }
}

/// 1-based line and column of byte `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The number of the `[[field]]` table that byte `at` is in, if it is in one that says.
fn field_at(text: &str, at: usize) -> Option<i64> {
    let before = text.get(..at)?;
    let header = before.rfind("[[field]]")?;
    // No other table may start between the field's header and `at`.
    let between = text.get(header + "[[field]]".len()..at)?;
    if between.lines().any(|l| l.trim_start().starts_with('[')) {
        return None;
    }
    let table = text.get(header + "[[field]]".len()..)?;
    table
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            if key.trim() != "number" {
                return None;
            }
            value.split('#').next()?.trim().parse().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_missing_files() {
        assert_eq!(
            parse_spec("cup-pos").map(|s| s.get().name().to_string()),
            Ok("cup-pos".into())
        );
        let e = parse_spec("no-such-spec").unwrap_err();
        assert!(e.contains("iso87-ascii"), "{e}");
    }

    #[test]
    fn syntax_errors_are_placed_in_their_field() {
        let text = "[spec]\nname = \"t\"\n\n[[field]]\nnumber = 7\nname = \"x\"\nsize = 3\n";
        let at = text.find("size").unwrap();
        assert_eq!(line_column(text, at), (7, 1));
        assert_eq!(field_at(text, at), Some(7));
        assert_eq!(field_at(text, 3), None);
    }
}
