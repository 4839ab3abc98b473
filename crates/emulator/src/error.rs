//! Errors of the emulator library, one enum per concern: a profile that cannot work, a command
//! or card that cannot be read, a scenario file that cannot run, a terminal that cannot start.
//! None carries a key, a PIN or a full PAN (STYLE §5).

use std::path::PathBuf;

use crate::profile::DialectName;

/// A profile value that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The dialect is neither `intl` nor `cup`.
    #[error("dialect {0:?} is not intl or cup")]
    Dialect(String),
    /// A layer names another dialect than the one asked for.
    #[error("the profile is for dialect {found}, but {wanted} was asked for")]
    DialectConflict {
        /// The dialect asked for (by the scenario or the command line).
        wanted: DialectName,
        /// The one the layer names.
        found: String,
    },
    /// The TOML does not read, or a key is unknown or of the wrong type.
    #[error("profile: {0}")]
    Toml(String),
    /// A value is out of its range.
    #[error("profile key {key}: expected {why}")]
    Value {
        /// The key.
        key: &'static str,
        /// What it must look like.
        why: &'static str,
    },
    /// A key does not parse (the error names the position, never the text).
    #[error("profile key {what}: {source}")]
    Key {
        /// Which key.
        what: &'static str,
        /// The crypto crate's complaint.
        source: iso8583_crypto::KeyError,
    },
    /// The settlement engine refused the configuration.
    #[error("profile: {0}")]
    Config(iso8583_settle::ConfigError),
}

/// A test card that cannot be presented.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The built-in PAN is not 12 to 19 digits.
    #[error("card {card}: the PAN is not 12 to 19 digits")]
    Pan {
        /// The card's name.
        card: &'static str,
    },
    /// The PIN block could not be built.
    #[error("card {card}: {source}")]
    Pin {
        /// The card's name.
        card: &'static str,
        /// The crypto crate's complaint (never the PIN).
        source: iso8583_crypto::PinError,
    },
}

/// A command line that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Nothing was typed.
    #[error("empty command")]
    Empty,
    /// No such command.
    #[error("unknown command {0:?} (try help)")]
    Unknown(String),
    /// A value the command needs is missing.
    #[error("{command}: missing {what}")]
    Missing {
        /// The command.
        command: String,
        /// What is missing.
        what: &'static str,
    },
    /// A value does not read.
    #[error("{command}: {what} {found:?} is not valid, expected {expected}")]
    BadValue {
        /// The command.
        command: String,
        /// Which value.
        what: &'static str,
        /// What was typed.
        found: String,
        /// What it must look like.
        expected: &'static str,
    },
    /// Something was left over.
    #[error("{command}: unexpected {found:?}")]
    Extra {
        /// The command.
        command: String,
        /// The leftover word or option.
        found: String,
    },
    /// No built-in card has this name.
    #[error("no test card is called {0:?} (try cards)")]
    UnknownCard(String),
}

/// A scenario file that cannot run: exit code 2 for `posemu run`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML does not read or has an unknown key.
    #[error("{path}: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with its line and column.
        message: String,
    },
    /// A step's command does not read.
    #[error("{path}: step {step}: {source}")]
    Step {
        /// The file.
        path: PathBuf,
        /// Step number, from 1.
        step: usize,
        /// Why.
        source: CommandError,
    },
    /// A step's expectation cannot be checked as written.
    #[error("{path}: step {step}: expect.{key}: {why}")]
    Expectation {
        /// The file.
        path: PathBuf,
        /// Step number, from 1.
        step: usize,
        /// The expectation.
        key: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The profile the scenario asks for cannot work.
    #[error("{path}: {source}")]
    Profile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ProfileError,
    },
    /// The scenario has no steps.
    #[error("{path}: no [[step]]")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// A terminal that cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TerminalError {
    /// The profile cannot work.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The state store cannot be opened.
    #[error("state store: {0}")]
    Store(#[from] iso8583_settle::StoreError),
    /// The engine could not resume from the store.
    #[error("resuming from the state store: {0}")]
    Engine(#[from] iso8583_settle::Error),
    /// Resuming failed after the engine opened (a store write failed).
    #[error("resuming from the state store: {0}")]
    Resume(String),
}

/// A scenario run that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The scenario's profile, with the `--profile` layer, cannot work.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The terminal cannot start.
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    /// No temporary state file could be made.
    #[error("temporary state file: {0}")]
    State(std::io::Error),
}
