//! The host's configuration: listeners, terminals, authorisation rules and faults, read from
//! TOML ([`HostConfig::from_toml_str`]) or built in ([`HostConfig::builtin`]).
//!
//! The format, with every key and its default:
//!
//! ```toml
//! seed = 0                       # seeds fault chances and working keys
//! db = "host.sqlite"             # the ledger's SQLite file; in memory when absent
//!
//! [[listener]]
//! dialect = "intl"               # "intl" (international) or "cup" (China UnionPay)
//! addr = "127.0.0.1:8583"
//! spec = "intl-pos"              # built-in codec spec; default intl-pos / cup-pos
//! length = "binary2"             # length header: "binary2", "bcd2" or "ascii4"
//! length_counts_itself = false
//! tpdu = true
//! app_header = false             # UnionPay application header; default true for cup
//! max_frame = 8192
//! idle_timeout_ms = 600000       # close a connection silent this long (10 min; echoes count)
//! frame_timeout_ms = 10000       # close one whose frame is not whole 10 s after its first byte
//! max_connections = 10000        # open at once; one more is accepted and closed at once
//!
//! [[terminal]]
//! id = "20000001"                # field 41, 8 characters
//! merchant = "898310012340001"   # field 42, 15 characters
//! dialect = "cup"                # needs a listener of its dialect, else it is not served
//! master_key = "0123…"           # hex; working keys are issued under it (cup sign-on)
//! mac = "cup-ecb"                # "none", "x919", "x99" or "cup-ecb"
//! mac_key_use = "whole"          # or "first-half" (single-DES MAC with a double key)
//! mac_key = "…"                  # a fixed MAC key (international terminals: from the profile)
//! sign_on_required = true        # refuse (A0) financial messages before a sign-on
//! batch = 1                      # the host's batch number for the terminal (UnionPay 60.2)
//! void_policy = "drop"           # international totals: "drop" a voided sale, or "refund"
//! count = 1                      # this many terminals with consecutive ids
//!
//! [rules]                        # see the rules module
//! [[faults]]                     # see the rules module
//! ```
//!
//! Keys are test keys: `Debug` and the host's output show their check values only.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use iso8583_crypto::{DesKey, KeyUse, Mac, MacAlgorithm};
use iso8583_wire::{FrameConfig, LengthHeader};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ConfigError;
use crate::rules::{FaultRule, Rules};

/// The two settlement dialects a listener and a terminal speak (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Dialect {
    /// International terminals (`intl-pos`, 0500 920000 / 960000). Written `intl`.
    #[serde(rename = "intl")]
    International,
    /// China UnionPay terminals (`cup-pos`, field 48 totals and flags). Written `cup`.
    #[serde(rename = "cup")]
    UnionPay,
}

impl Dialect {
    /// The name used in configuration and output: `intl` or `cup`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::International => "intl",
            Dialect::UnionPay => "cup",
        }
    }

    /// The built-in codec spec of the dialect.
    pub fn default_spec(self) -> &'static str {
        match self {
            Dialect::International => "intl-pos",
            Dialect::UnionPay => "cup-pos",
        }
    }

    /// The answer to an unknown terminal (DESIGN §6): 03 international, 97 UnionPay.
    pub(crate) fn unknown_terminal(self) -> &'static [u8; 2] {
        match self {
            Dialect::International => b"03",
            Dialect::UnionPay => b"97",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Dialect, ConfigError> {
        match s {
            "intl" => Ok(Dialect::International),
            "cup" => Ok(Dialect::UnionPay),
            other => Err(ConfigError::Value {
                what: "dialect",
                found: other.to_owned(),
                expected: "intl or cup",
            }),
        }
    }
}

/// Everything the host runs with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Seeds fault chances, working keys and approval codes, so that a run can be repeated.
    #[serde(default)]
    pub seed: u64,
    /// The ledger's SQLite file; `None` keeps it in memory.
    #[serde(default)]
    pub db: Option<PathBuf>,
    /// The listeners, each with its dialect.
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    /// The terminals the host knows; any other terminal id is refused (03 / 97).
    #[serde(default, rename = "terminal")]
    pub terminals: Vec<TerminalConfig>,
    /// Authorisation rules.
    #[serde(default)]
    pub rules: Rules,
    /// Faults to inject, first matching rule first.
    #[serde(default)]
    pub faults: Vec<FaultRule>,
}

/// The international listener's fixed port in [`HostConfig::builtin`].
pub const INTL_PORT: u16 = 8583;
/// The UnionPay listener's fixed port in [`HostConfig::builtin`].
pub const CUP_PORT: u16 = 8584;

/// The test master key of the built-in UnionPay terminal (printed only as its check value).
const BUILTIN_TMK: &str = "0123456789ABCDEFFEDCBA9876543210";

impl HostConfig {
    /// The built-in configuration that `testhost` runs without arguments: an international
    /// listener on `127.0.0.1:8583` with terminal `00000001` (merchant `123456789012345`, no
    /// MAC, may sell without signing on) and a UnionPay listener on `127.0.0.1:8584` with
    /// terminal `20000001` (merchant `898310012340001`, test master key
    /// `0123456789ABCDEFFEDCBA9876543210`, `cup-ecb` MAC with the double-length key used whole,
    /// must sign on, batch 000001). Every amount up to 999,999.99 is approved.
    pub fn builtin() -> HostConfig {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        HostConfig {
            seed: 0,
            db: None,
            listeners: vec![
                ListenerConfig::new(Dialect::International, loopback(INTL_PORT)),
                ListenerConfig::new(Dialect::UnionPay, loopback(CUP_PORT)),
            ],
            terminals: vec![
                TerminalConfig::new("00000001", "123456789012345", Dialect::International),
                TerminalConfig {
                    master_key: DesKey::from_hex(BUILTIN_TMK).ok().map(ConfigKey),
                    mac: MacSetting::Algorithm(MacAlgorithm::CupEcb),
                    sign_on_required: true,
                    ..TerminalConfig::new("20000001", "898310012340001", Dialect::UnionPay)
                },
            ],
            rules: Rules::default(),
            faults: Vec::new(),
        }
    }

    /// Reads a configuration from TOML (see the module docs for the format) and checks it.
    pub fn from_toml_str(s: &str) -> Result<HostConfig, ConfigError> {
        let config: HostConfig =
            toml::from_str(s).map_err(|e| ConfigError::Toml(e.message().to_owned()))?;
        config.check()?;
        Ok(config)
    }

    /// The same configuration with every listener on `127.0.0.1` port 0: what tests and the
    /// emulator's demo use, so that nothing depends on a free fixed port.
    pub fn on_ephemeral_ports(mut self) -> HostConfig {
        for listener in &mut self.listeners {
            listener.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        }
        self
    }

    /// The same configuration with `count` consecutive terminal ids for every terminal entry
    /// (`00000001` becomes `00000001` … `00001000` for 1000): for load runs of many terminals.
    pub fn with_terminal_count(mut self, count: u32) -> HostConfig {
        for terminal in &mut self.terminals {
            terminal.count = count.max(1);
        }
        self
    }

    /// The terminal entries no listener serves: no listener speaks their dialect, so a message
    /// under their ids can only reach a listener of the other dialect, which answers it as
    /// from an unknown terminal (03 or 97). Not an error (`testhost --listen … --dialect intl`
    /// on the built-in configuration leaves its UnionPay terminal out on purpose), but worth a
    /// warning: [`crate::TestHost::spawn`] logs one per entry and `testhost` prints it.
    pub fn unserved_terminals(&self) -> impl Iterator<Item = &TerminalConfig> + '_ {
        self.terminals
            .iter()
            .filter(|t| !self.listeners.iter().any(|l| l.dialect == t.dialect))
    }

    /// Checks what serde cannot: ids, ranges and rule values. A terminal without a listener of
    /// its dialect is allowed ([`HostConfig::unserved_terminals`]).
    pub fn check(&self) -> Result<(), ConfigError> {
        for terminal in &self.terminals {
            terminal.check()?;
        }
        for listener in &self.listeners {
            listener.check()?;
        }
        self.rules.check()?;
        for (i, rule) in self.faults.iter().enumerate() {
            rule.check().map_err(|e| ConfigError::Rule {
                index: i + 1,
                why: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// One TCP listener: its dialect, address, spec and framing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// What the terminals on it speak.
    pub dialect: Dialect,
    /// Where to listen.
    pub addr: SocketAddr,
    /// A built-in codec spec name; the dialect's default when absent.
    #[serde(default)]
    pub spec: Option<String>,
    /// The length header.
    #[serde(default)]
    pub length: LengthKind,
    /// Whether the length header counts its own bytes.
    #[serde(default)]
    pub length_counts_itself: bool,
    /// Whether a TPDU comes before the message (default yes).
    #[serde(default = "yes")]
    pub tpdu: bool,
    /// Whether a UnionPay application header follows the TPDU (default: for `cup` only).
    #[serde(default)]
    pub app_header: Option<bool>,
    /// The longest frame accepted, length header excluded.
    #[serde(default = "default_max_frame")]
    pub max_frame: usize,
    /// A connection that sends nothing for this long (milliseconds) is closed, unless the
    /// host holds a delayed answer for it. Default ten minutes: a terminal may keep its
    /// connection open and quiet between sales for minutes, and its echo tests keep it alive.
    /// Checked at least every `frame_timeout_ms`, so closing may come up to that much later.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// A connection whose frame is not whole this long (milliseconds) after its first byte
    /// arrived is closed (a peer stalling inside a frame, or sending it a byte at a time).
    /// Default 10 s; also the limit for writing answers to a peer that does not read them.
    /// Closing comes between one and two such periods after the first byte.
    #[serde(default = "default_frame_timeout_ms")]
    pub frame_timeout_ms: u64,
    /// The most connections open at once on this listener (default 10,000). One more is
    /// accepted and closed at once, so that the peer learns it rather than waiting.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

fn yes() -> bool {
    true
}

fn default_max_frame() -> usize {
    iso8583_wire::DEFAULT_MAX_FRAME
}

fn default_idle_timeout_ms() -> u64 {
    600_000
}

fn default_frame_timeout_ms() -> u64 {
    10_000
}

fn default_max_connections() -> usize {
    10_000
}

/// The longest idle timeout accepted: a day.
const MAX_IDLE_MS: u64 = 86_400_000;
/// The longest frame timeout accepted: an hour.
const MAX_FRAME_MS: u64 = 3_600_000;
/// The largest connection cap accepted.
const MAX_CONNECTIONS: usize = 1_000_000;

impl ListenerConfig {
    /// A listener with the dialect's default spec and framing (2-byte binary length, TPDU,
    /// and for UnionPay the application header).
    pub fn new(dialect: Dialect, addr: SocketAddr) -> ListenerConfig {
        ListenerConfig {
            dialect,
            addr,
            spec: None,
            length: LengthKind::Binary2,
            length_counts_itself: false,
            tpdu: true,
            app_header: None,
            max_frame: default_max_frame(),
            idle_timeout_ms: default_idle_timeout_ms(),
            frame_timeout_ms: default_frame_timeout_ms(),
            max_connections: default_max_connections(),
        }
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// The frame (and write) timeout.
    pub fn frame_timeout(&self) -> Duration {
        Duration::from_millis(self.frame_timeout_ms)
    }

    /// The codec spec name in effect.
    pub fn spec_name(&self) -> &str {
        self.spec.as_deref().unwrap_or(self.dialect.default_spec())
    }

    /// The framing in effect.
    pub fn frame_config(&self) -> FrameConfig {
        let app_header = self.app_header.unwrap_or(self.dialect == Dialect::UnionPay);
        FrameConfig::builder()
            .length(self.length.header())
            .counts_itself(self.length_counts_itself)
            .tpdu(self.tpdu)
            .app_header(app_header)
            .max_frame(self.max_frame)
            .build()
    }

    fn check(&self) -> Result<(), ConfigError> {
        if iso8583_codec::Spec::builtin(self.spec_name()).is_none() {
            return Err(ConfigError::Value {
                what: "listener spec",
                found: self.spec_name().to_owned(),
                expected: "a built-in spec name (intl-pos, cup-pos, ...)",
            });
        }
        let out_of = |what, found: String, expected| {
            Err(ConfigError::Value {
                what,
                found,
                expected,
            })
        };
        if !(1..=MAX_IDLE_MS).contains(&self.idle_timeout_ms) {
            let found = self.idle_timeout_ms.to_string();
            return out_of("idle_timeout_ms", found, "1 to 86400000 (a day)");
        }
        if !(1..=MAX_FRAME_MS).contains(&self.frame_timeout_ms) {
            let found = self.frame_timeout_ms.to_string();
            return out_of("frame_timeout_ms", found, "1 to 3600000 (an hour)");
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            let found = self.max_connections.to_string();
            return out_of("max_connections", found, "1 to 1000000");
        }
        Ok(())
    }
}

/// The length header of a listener's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LengthKind {
    /// Two bytes, binary, big-endian (`binary2`, the default).
    #[default]
    Binary2,
    /// Two bytes of packed BCD (`bcd2`).
    Bcd2,
    /// Four ASCII digits (`ascii4`).
    Ascii4,
}

impl LengthKind {
    fn header(self) -> LengthHeader {
        match self {
            LengthKind::Binary2 => LengthHeader::Binary2,
            LengthKind::Bcd2 => LengthHeader::Bcd2,
            LengthKind::Ascii4 => LengthHeader::Ascii4,
        }
    }
}

/// One terminal (or `count` terminals with consecutive ids) the host knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfig {
    /// Terminal id, field 41: 8 characters.
    pub id: String,
    /// Merchant id, field 42: 15 characters.
    pub merchant: String,
    /// The dialect it speaks.
    pub dialect: Dialect,
    /// The terminal master key under which sign-on delivers working keys.
    #[serde(default)]
    pub master_key: Option<ConfigKey>,
    /// The MAC the terminal's profile uses.
    #[serde(default)]
    pub mac: MacSetting,
    /// How much of a double-length MAC key the MAC uses.
    #[serde(default)]
    pub mac_key_use: MacKeyUse,
    /// A fixed MAC key, for terminals that load it from their profile (international).
    #[serde(default)]
    pub mac_key: Option<ConfigKey>,
    /// Whether financial and settlement messages are refused (A0) before a sign-on.
    #[serde(default)]
    pub sign_on_required: bool,
    /// The host's batch number for the terminal to start from (UnionPay 60.2 of a sign-on).
    #[serde(default = "first_batch")]
    pub batch: u32,
    /// How international totals count a voided sale (DESIGN §5, "Totals").
    #[serde(default)]
    pub void_policy: VoidPolicy,
    /// This many terminals, with ids counting up from `id` (same merchant and settings).
    #[serde(default = "one")]
    pub count: u32,
}

fn first_batch() -> u32 {
    1
}

fn one() -> u32 {
    1
}

impl TerminalConfig {
    /// A terminal without keys or MAC, that may transact without signing on, from batch 1.
    pub fn new(id: &str, merchant: &str, dialect: Dialect) -> TerminalConfig {
        TerminalConfig {
            id: id.to_owned(),
            merchant: merchant.to_owned(),
            dialect,
            master_key: None,
            mac: MacSetting::None,
            mac_key_use: MacKeyUse::Whole,
            mac_key: None,
            sign_on_required: false,
            batch: 1,
            void_policy: VoidPolicy::Drop,
            count: 1,
        }
    }

    /// The MAC setting, or `None` for terminals without MACs.
    pub fn mac(&self) -> Option<Mac> {
        match self.mac {
            MacSetting::None => None,
            MacSetting::Algorithm(a) => Some(Mac::new(a).with_key_use(self.mac_key_use.into())),
        }
    }

    /// The ids this entry stands for: `id`, then `count - 1` more counting up with the same
    /// width (the digits at the end of `id` are the counter). An id without digits at its end
    /// has no counter: it stands for itself only ([`HostConfig::check`] refuses a `count`
    /// above 1 for it).
    pub fn ids(&self) -> impl Iterator<Item = String> + '_ {
        let digits = self.id.bytes().rev().take_while(u8::is_ascii_digit).count();
        let (head, tail) = self.id.split_at(self.id.len() - digits);
        let start: u64 = tail.parse().unwrap_or(0);
        let count = match digits {
            // Formatting the counter at width 0 would append a "0" to the id.
            0 => u64::from(self.count.min(1)),
            _ => u64::from(self.count),
        };
        (0..count).map(move |i| match digits {
            0 => head.to_owned(),
            _ => format!("{head}{:0digits$}", start + i),
        })
    }

    /// The check value printed for the terminal: of its master key, else of its fixed MAC key.
    pub fn kcv(&self) -> Option<String> {
        let key = self.master_key.as_ref().or(self.mac_key.as_ref())?;
        Some(key.kcv_hex())
    }

    fn check(&self) -> Result<(), ConfigError> {
        let printable = |s: &str| s.bytes().all(|b| (0x20..0x7F).contains(&b));
        if self.id.len() != 8 || !printable(&self.id) {
            return Err(self.bad("id", &self.id, "8 printable characters (field 41)"));
        }
        if self.merchant.len() != 15 || !printable(&self.merchant) {
            return Err(self.bad(
                "merchant",
                &self.merchant,
                "15 printable characters (field 42)",
            ));
        }
        if !(1..=999_999).contains(&self.batch) {
            return Err(self.bad("batch", &self.batch.to_string(), "1 to 999999"));
        }
        self.check_count()?;
        if self.dialect == Dialect::UnionPay && self.mac().is_some() && self.master_key.is_none() {
            return Err(self.bad(
                "master_key",
                "none",
                "a master key: UnionPay MAC keys are issued under it at sign-on",
            ));
        }
        Ok(())
    }

    fn check_count(&self) -> Result<(), ConfigError> {
        let digits = self.id.bytes().rev().take_while(u8::is_ascii_digit).count();
        let start: u64 = self
            .id
            .get(8 - digits..)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let room = 10u64.saturating_pow(digits as u32).saturating_sub(start);
        if self.count == 0 || u64::from(self.count) > room {
            return Err(self.bad(
                "count",
                &self.count.to_string(),
                "at least 1, and the ids must fit the digits at the end of id",
            ));
        }
        Ok(())
    }

    fn bad(&self, what: &'static str, found: &str, expected: &'static str) -> ConfigError {
        ConfigError::Terminal {
            terminal: self.id.clone(),
            what,
            found: found.to_owned(),
            expected,
        }
    }
}

/// A terminal profile's MAC: none, or an algorithm (`x919`, `x99`, `cup-ecb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MacSetting {
    /// No MAC (`none`).
    #[default]
    None,
    /// A MAC algorithm.
    Algorithm(MacAlgorithm),
}

impl<'de> Deserialize<'de> for MacSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MacSetting, D::Error> {
        let name = String::deserialize(d)?;
        if name == "none" {
            return Ok(MacSetting::None);
        }
        name.parse::<MacAlgorithm>()
            .map(MacSetting::Algorithm)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "mac `{name}`: expected none, x919, x99 or cup-ecb"
                ))
            })
    }
}

/// How much of a longer MAC key the MAC uses (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MacKeyUse {
    /// The whole key: triple DES with a double-length key (`whole`).
    #[default]
    Whole,
    /// The first 8 bytes only, single DES (`first-half`).
    FirstHalf,
}

impl From<MacKeyUse> for KeyUse {
    fn from(k: MacKeyUse) -> KeyUse {
        match k {
            MacKeyUse::Whole => KeyUse::Whole,
            MacKeyUse::FirstHalf => KeyUse::FirstHalf,
        }
    }
}

/// How international totals count a voided sale (DESIGN §5, "Totals").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoidPolicy {
    /// Dropped from the sales (`drop`, the common choice).
    #[default]
    Drop,
    /// Kept in the sales and added to the refunds (`refund`).
    Refund,
}

/// A DES key written in hex in the configuration. `Debug` shows its check value only.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigKey(pub DesKey);

impl ConfigKey {
    /// The first 3 bytes of the check value, as 6 upper-case hex digits.
    pub fn kcv_hex(&self) -> String {
        self.0
            .check_value()
            .kcv3()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }
}

impl fmt::Debug for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigKey(kcv {})", self.kcv_hex())
    }
}

impl<'de> Deserialize<'de> for ConfigKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ConfigKey, D::Error> {
        let text = String::deserialize(d)?;
        // The error names the problem (length, position), never the text.
        DesKey::from_hex(&text)
            .map(ConfigKey)
            .map_err(|e| serde::de::Error::custom(format!("key: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_is_valid_and_as_documented() {
        let config = HostConfig::builtin();
        config.check().unwrap();
        assert_eq!(config.listeners.len(), 2);
        assert_eq!(config.listeners[0].addr.port(), 8583);
        assert_eq!(config.listeners[1].addr.port(), 8584);
        assert!(config.listeners[1].frame_config().has_app_header());
        assert!(!config.listeners[0].frame_config().has_app_header());
        let cup = &config.terminals[1];
        assert_eq!(cup.kcv().as_deref(), Some("08D7B4"));
        assert!(cup.sign_on_required);
        assert_eq!(config.terminals[0].kcv(), None);
        let ephemeral = config.on_ephemeral_ports();
        assert!(ephemeral.listeners.iter().all(|l| l.addr.port() == 0));
    }

    #[test]
    fn unserved_terminals_are_those_without_a_listener_of_their_dialect() {
        let mut config = HostConfig::builtin();
        assert_eq!(config.unserved_terminals().count(), 0);
        config.listeners.retain(|l| l.dialect == Dialect::UnionPay);
        let ids: Vec<&str> = config.unserved_terminals().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["00000001"]);
        config.listeners.clear();
        assert_eq!(config.unserved_terminals().count(), 2);
        assert!(config.check().is_ok(), "a warning, not an error");
    }

    #[test]
    fn terminal_ranges_count_up_with_the_same_width() {
        let mut t = TerminalConfig::new("TERM0098", "123456789012345", Dialect::International);
        t.count = 3;
        let ids: Vec<_> = t.ids().collect();
        assert_eq!(ids, ["TERM0098", "TERM0099", "TERM0100"]);
        t.count = 10_000;
        assert!(t.check().is_err(), "TERM10097 would not fit 8 characters");

        // No digits to count with: the id itself, and only one of it.
        let mut t = TerminalConfig::new("TERMINAL", "123456789012345", Dialect::International);
        assert_eq!(t.ids().collect::<Vec<_>>(), ["TERMINAL"]);
        assert!(t.check().is_ok());
        t.count = 2;
        assert!(t.check().is_err());
    }

    #[test]
    fn toml_is_read_and_checked() {
        let text = r#"
            seed = 7
            [[listener]]
            dialect = "cup"
            addr = "127.0.0.1:0"
            [[terminal]]
            id = "20000001"
            merchant = "898310012340001"
            dialect = "cup"
            master_key = "0123456789ABCDEFFEDCBA9876543210"
            mac = "cup-ecb"
            mac_key_use = "first-half"
            sign_on_required = true
        "#;
        let config = HostConfig::from_toml_str(text).unwrap();
        assert_eq!(config.seed, 7);
        let mac = config.terminals[0].mac().unwrap();
        assert_eq!(mac.key_use(), KeyUse::FirstHalf);
        let debug = format!("{config:?}");
        assert!(!debug.contains("0123456789ABCDEF"), "{debug}");

        let typo = text.replace("sign_on_required", "sign_on_requred");
        assert!(HostConfig::from_toml_str(&typo).is_err());
        let short = text.replace("\"20000001\"", "\"2000\"");
        let err = HostConfig::from_toml_str(&short).unwrap_err().to_string();
        assert!(err.contains("8 printable"), "{err}");
        let no_key = text.replace("master_key = \"0123456789ABCDEFFEDCBA9876543210\"", "");
        assert!(HostConfig::from_toml_str(&no_key).is_err());
    }

    #[test]
    fn listener_limits_have_defaults_and_ranges() {
        let base = "[[listener]]\ndialect = \"intl\"\naddr = \"127.0.0.1:0\"\n";
        let config = HostConfig::from_toml_str(base).unwrap();
        let l = &config.listeners[0];
        assert_eq!(l.idle_timeout(), Duration::from_secs(600));
        assert_eq!(l.frame_timeout(), Duration::from_secs(10));
        assert_eq!(l.max_connections, 10_000);
        let set =
            format!("{base}idle_timeout_ms = 250\nframe_timeout_ms = 100\nmax_connections = 2");
        let l = HostConfig::from_toml_str(&set).unwrap().listeners[0].clone();
        assert_eq!(
            (l.idle_timeout_ms, l.frame_timeout_ms, l.max_connections),
            (250, 100, 2)
        );
        for (bad, key) in [
            ("idle_timeout_ms = 0", "idle_timeout_ms"),
            ("idle_timeout_ms = 9223372036854775807", "idle_timeout_ms"),
            ("frame_timeout_ms = 3600001", "frame_timeout_ms"),
            ("max_connections = 0", "max_connections"),
        ] {
            let err = HostConfig::from_toml_str(&format!("{base}{bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }
}
