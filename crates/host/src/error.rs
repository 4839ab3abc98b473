//! The host's error types: [`ConfigError`] for a configuration that cannot run, [`HostError`]
//! for a host that cannot start.
//!
//! No variant carries key material or card data: a bad key is named by its terminal and the
//! problem (length, position), never by its text.

use std::net::SocketAddr;

use thiserror::Error;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML did not parse or did not fit the format; the message names the key and line.
    #[error("configuration: {0}")]
    Toml(String),
    /// A value is out of its range or badly written.
    #[error("{what}: found `{found}`, expected {expected}")]
    Value {
        /// The key.
        what: &'static str,
        /// What was given.
        found: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A terminal entry is wrong.
    #[error("terminal {terminal}: {what} `{found}`, expected {expected}")]
    Terminal {
        /// The terminal id as given.
        terminal: String,
        /// The key.
        what: &'static str,
        /// What was given (never a key: keys are named by their problem).
        found: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A rule (authorisation or fault, counted from 1 in its list) is wrong.
    #[error("rule {index}: {why}")]
    Rule {
        /// Position in its list, from 1.
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// Two terminal entries give the same id.
    #[error("terminal {0} is configured twice")]
    DuplicateTerminal(String),
}

/// Why the host could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HostError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener could not bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The ledger's SQLite database could not be opened or prepared.
    #[error("ledger database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The ledger's writer thread could not be started.
    #[error("cannot start the ledger writer: {0}")]
    Writer(std::io::Error),
}
