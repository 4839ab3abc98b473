//! A profile file (`posemu run|shell --profile FILE`): a TOML layer over a built-in profile,
//! read once and reported against when it does not work, with the line of the key at fault.
//!
//! The layer is only checked once it is combined with the profile it applies to (a scenario's
//! dialect and `[profile]`, or the shell's `--dialect`): a value may be fine for one and not
//! for another. Whatever then fails is the file's to answer for, not the scenario's, whose own
//! profile was checked alone when it was loaded. No message quotes a line of the file: a
//! profile holds keys.

use std::fmt;
use std::path::{Path, PathBuf};

use iso8583_settle::ConfigError;

use crate::error::ProfileError;
use crate::scenario::toml_message;

/// A profile file, read and parsed as a TOML table.
#[derive(Clone)]
pub struct ProfileFile {
    path: PathBuf,
    text: String,
    table: toml::Table,
}

/// A profile file that cannot be used: exit code 2 for the modes that take one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileFileError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{path}: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with its line number.
        message: String,
    },
    /// A key of the file is unknown, or its value cannot work.
    #[error("{path}: {}{source}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Profile {
        /// The file.
        path: PathBuf,
        /// The line of the key at fault, when it is in the file.
        line: Option<usize>,
        /// Why.
        source: ProfileError,
    },
}

impl ProfileFile {
    /// Reads the file at `path` as a TOML table.
    pub fn load(path: &Path) -> Result<ProfileFile, ProfileFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        ProfileFile::from_toml_str(&text, path)
    }

    /// Parses `text`; `path` names it in errors.
    pub fn from_toml_str(
        text: &str,
        path: impl AsRef<Path>,
    ) -> Result<ProfileFile, ProfileFileError> {
        let path = path.as_ref().to_owned();
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ProfileFileError::Toml {
                path: path.clone(),
                message: toml_message(text, &e),
            })?;
        Ok(ProfileFile {
            path,
            text: text.to_owned(),
            table,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layer it holds.
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// `source`, a refusal of a profile this file is a layer of, reported against the file
    /// and the line of the key it names, when the file has that key.
    pub fn blame(&self, source: ProfileError) -> ProfileFileError {
        let line = profile_key(&source).and_then(|key| line_of(&self.text, key));
        ProfileFileError::Profile {
            path: self.path.clone(),
            line,
            source,
        }
    }
}

/// The path only: the text holds keys.
impl fmt::Debug for ProfileFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The profile key an error is about, where it names one.
fn profile_key(error: &ProfileError) -> Option<&str> {
    Some(match error {
        ProfileError::Dialect(_) | ProfileError::DialectConflict { .. } => "dialect",
        ProfileError::Value { key, .. } => key,
        ProfileError::Key { what, .. } => what,
        // serde names an unknown key in backquotes: "unknown field `colour`, expected ...".
        ProfileError::Toml(message) => message.split('`').nth(1)?,
        ProfileError::Config(config) => config_key(config)?,
    })
}

/// The profile key behind a value the settlement engine refused.
fn config_key(error: &ConfigError) -> Option<&'static str> {
    Some(match error {
        ConfigError::Capacity(_) => "capacity",
        ConfigError::WarnThreshold { .. } => "warn_at",
        ConfigError::TerminalId(_) => "terminal_id",
        ConfigError::MerchantId(_) => "merchant_id",
        ConfigError::BatchNumber(_) => "first_batch",
        ConfigError::TraceNumber(_) => "first_trace",
        ConfigError::TimeOfDay { .. } => "auto_settle.time",
        ConfigError::AutoCount { .. } => "auto_settle.count",
        ConfigError::ReversalTries(_) => "reversal_tries",
        ConfigError::UploadTries(_) => "upload_tries",
        ConfigError::Timeout => "response_timeout_ms",
        _ => return None,
    })
}

/// The line (from 1) where `key` is set: `key = ...` at the top, or for `table.key` either
/// `key = ...` under `[table]` or `table = { ... }` / `table.key = ...` at the top.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let (table, leaf) = match key.split_once('.') {
        Some((table, leaf)) => (Some(table), leaf),
        None => (None, key),
    };
    let mut section: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim());
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_matches('"');
        let hit = match (table, section) {
            (None, None) => name == leaf,
            (Some(t), Some(s)) => s == t && name == leaf,
            (Some(t), None) => name == t || name == key,
            (None, Some(_)) => false,
        };
        if hit {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{DialectName, Profile};

    fn file(text: &str) -> ProfileFile {
        ProfileFile::from_toml_str(text, "p1.toml").unwrap()
    }

    fn refusal(f: &ProfileFile, dialect: DialectName) -> String {
        let source = Profile::layered(Some(dialect), &[f.table()]).unwrap_err();
        f.blame(source).to_string()
    }

    /// Finding 12: a bad key value is the profile file's, with its line.
    #[test]
    fn a_bad_value_names_the_file_and_the_line() {
        let f = file("# my terminal\nterminal_id = \"20000001\"\nmaster_key = \"zz\"\n");
        let err = refusal(&f, DialectName::Cup);
        assert!(
            err.starts_with("p1.toml: line 3: profile key master_key"),
            "{err}"
        );
        assert!(!err.contains("zz"), "no value of the file is quoted: {err}");

        let f = file("capacity = 10\nwarn_at = 10\n");
        let err = refusal(&f, DialectName::Intl);
        assert!(err.starts_with("p1.toml: line 2: profile:"), "{err}");

        let f = file("[auto_settle]\ncount = 5\ntime = \"25:00\"\n");
        let err = refusal(&f, DialectName::Intl);
        assert!(
            err.starts_with("p1.toml: line 3: profile key auto_settle.time"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_key_and_a_dialect_conflict_name_their_line() {
        let f = file("nii = 3\ncolour = \"red\"\n");
        let err = refusal(&f, DialectName::Intl);
        assert!(
            err.starts_with("p1.toml: line 2: profile: unknown field `colour`"),
            "{err}"
        );

        let f = file("\n\ndialect = \"cup\"\n");
        let err = refusal(&f, DialectName::Intl);
        assert!(
            err.starts_with("p1.toml: line 3: the profile is for dialect cup"),
            "{err}"
        );
    }

    #[test]
    fn toml_errors_have_a_line_and_no_quoted_text() {
        let err =
            ProfileFile::from_toml_str("nii = 3\nmaster_key = \"0123456789ABCDEF\n", "p.toml")
                .unwrap_err()
                .to_string();
        assert!(err.starts_with("p.toml: line 2"), "{err}");
        assert!(!err.contains("0123456789"), "{err}");
    }

    #[test]
    fn a_key_not_in_the_file_has_no_line() {
        let f = file("capacity = 5\n");
        let err = f.blame(ProfileError::Value {
            key: "paper_width",
            why: "24 to 48 characters",
        });
        assert_eq!(
            err.to_string(),
            "p1.toml: profile key paper_width: expected 24 to 48 characters"
        );
        assert!(format!("{f:?}").contains("p1.toml"));
    }
}
