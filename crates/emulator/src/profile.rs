//! Terminal profiles: what a terminal is (ids, dialect, keys, MAC) and how it behaves (batch
//! capacity, timeouts, passwords, auto-settlement), read from TOML over a built-in default.
//!
//! The two built-in profiles, `intl` and `cup`, match the test host's built-in terminals
//! (`iso8583-host`, DESIGN §6): international terminal `00000001` without MACs that may sell
//! without signing on, and UnionPay terminal `20000001` with the `cup-ecb` MAC over the whole
//! double-length MAC key, which must sign on first. A profile file, a scenario's `[profile]`
//! table and a test's overrides are layers: each names only what it changes.
//!
//! Keys are hex in the file; nothing here prints them. [`KeyHex`]'s `Debug` shows the key's
//! check value only (DESIGN §4: print check values, never keys).

use std::fmt;
use std::time::Duration;

use iso8583_crypto::{DesKey, KeyUse, Mac, MacAlgorithm};
use iso8583_settle::{
    AutoSettle, Config, CupSettings, Dialect, IntlSettings, TotalsLength, VoidPolicy,
};
use iso8583_wire::{AppHeader, FrameConfig, Nii, Tpdu};
use serde::{Deserialize, Serialize};

use crate::amount::{format_amount, parse_amount};
use crate::error::ProfileError;

/// Which settlement dialect, and with it which spec and framing, a terminal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialectName {
    /// International terminals (`intl-pos`, 2-byte length + TPDU).
    Intl,
    /// China UnionPay terminals (`cup-pos`, 2-byte length + TPDU + UnionPay header).
    Cup,
}

impl DialectName {
    /// `intl` or `cup`.
    pub fn as_str(self) -> &'static str {
        match self {
            DialectName::Intl => "intl",
            DialectName::Cup => "cup",
        }
    }
}

impl std::str::FromStr for DialectName {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<DialectName, ProfileError> {
        match s {
            "intl" => Ok(DialectName::Intl),
            "cup" => Ok(DialectName::Cup),
            other => Err(ProfileError::Dialect(other.to_owned())),
        }
    }
}

impl fmt::Display for DialectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key as hex text. `Debug` shows only its check value, or that it does not parse.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyHex(String);

impl KeyHex {
    /// The key, parsed; `what` names it in the error.
    pub fn key(&self, what: &'static str) -> Result<DesKey, ProfileError> {
        DesKey::from_hex(&self.0).map_err(|source| ProfileError::Key { what, source })
    }
}

impl From<&str> for KeyHex {
    fn from(hex: &str) -> KeyHex {
        KeyHex(hex.to_owned())
    }
}

impl fmt::Debug for KeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DesKey::from_hex(&self.0) {
            Ok(key) => write!(f, "KeyHex(kcv {})", kcv_hex(&key)),
            Err(_) => f.write_str("KeyHex(<unreadable>)"),
        }
    }
}

/// The first 3 bytes of a key's check value as upper-case hex: the only form a key is shown in.
pub fn kcv_hex(key: &DesKey) -> String {
    key.check_value()
        .kcv3()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// What starts a settlement without the operator (DESIGN §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoSettleRule {
    /// Local time of day `HH:MM`: settle then when idle and the batch is not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Settle once the batch holds this many records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u16>,
    /// Settle once an amount total reaches this amount (`"5000.00"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// A terminal profile; see the module docs and `crates/emulator/README.md` for each key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The dialect.
    pub dialect: DialectName,
    /// Field 41, 8 characters.
    pub terminal_id: String,
    /// Field 42, 15 characters.
    pub merchant_id: String,
    /// Printed at the top of each slip.
    pub merchant_name: String,
    /// Network international identifier: the TPDU destination and field 24.
    pub nii: u16,
    /// Numeric currency code (field 49 for UnionPay; printed on slips).
    pub currency: String,
    /// Terminal master key (hex): unwraps the working keys a UnionPay sign-on delivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key: Option<KeyHex>,
    /// `none`, `x919`, `x99` or `cup-ecb`.
    pub mac: String,
    /// `whole` or `first-half` of a double-length MAC key (DESIGN §4).
    pub mac_key_use: String,
    /// A MAC key loaded from the profile (international terminals, DESIGN §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_key: Option<KeyHex>,
    /// A PIN key loaded from the profile (international terminals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_key: Option<KeyHex>,
    /// Financial transactions are refused locally until a sign-on succeeds.
    pub must_sign_on: bool,
    /// Batch capacity, at most 999 (DESIGN §5).
    pub capacity: u16,
    /// Record count from which "SETTLE SOON" is shown.
    pub warn_at: u16,
    /// How long to wait for each response.
    pub response_timeout_ms: u64,
    /// How long one connection attempt may take.
    pub connect_timeout_ms: u64,
    /// Connection attempts before the host counts as unreachable.
    pub connect_tries: u8,
    /// Reversal tries (DESIGN §5: 3).
    pub reversal_tries: u8,
    /// Count a timed-out 0400 as a try (some UnionPay terminals).
    pub count_timeouts_as_tries: bool,
    /// Tries for a refused 0320.
    pub upload_tries: u8,
    /// Operator number (UnionPay field 63).
    pub operator: String,
    /// Operator password, asked at sign-on.
    pub operator_password: String,
    /// Supervisor password, asked at settlement.
    pub supervisor_password: String,
    /// Auto-settlement rule.
    #[serde(default)]
    pub auto_settle: AutoSettleRule,
    /// How far below 999,999,999,999 a total may come before settlement is forced (`"100000000.00"`).
    pub overflow_margin: String,
    /// International: `drop-from-sales` or `add-to-refunds` (DESIGN §5, "Totals").
    pub void_policy: String,
    /// International: field 63 length, 90 or 30.
    pub totals_length: u16,
    /// UnionPay: adopt the host's batch number from a sign-on reply.
    pub adopt_host_batch: bool,
    /// UnionPay: the application header of each request, 12 hex digits.
    pub app_header: String,
    /// The batch number a fresh terminal starts with.
    pub first_batch: u32,
    /// The trace number (STAN) a fresh terminal starts with, 1 to 999999; a terminal whose
    /// state holds a counter keeps it. `posemu run` moves it on from one scenario to the next.
    #[serde(default = "first_trace")]
    pub first_trace: u32,
    /// Printer width in characters (24 to 48).
    pub paper_width: u8,
}

impl Profile {
    /// The built-in profile of `dialect`, matching the test host's defaults.
    pub fn builtin(dialect: DialectName) -> Profile {
        match dialect {
            DialectName::Intl => intl(),
            DialectName::Cup => cup(),
        }
    }

    /// The profile that `layers` make of a built-in base, each layer a TOML table naming only
    /// what it changes. The base is `dialect` when given, else the last layer's `dialect` key,
    /// else `intl`; a layer naming another dialect than `dialect` is refused.
    pub fn layered(
        dialect: Option<DialectName>,
        layers: &[&toml::Table],
    ) -> Result<Profile, ProfileError> {
        let named = layers
            .iter()
            .rev()
            .find_map(|l| l.get("dialect").and_then(toml::Value::as_str));
        let base = match (dialect, named) {
            (Some(d), Some(n)) if n != d.as_str() => {
                return Err(ProfileError::DialectConflict {
                    wanted: d,
                    found: n.to_owned(),
                })
            }
            (Some(d), _) => d,
            (None, Some(n)) => n.parse()?,
            (None, None) => DialectName::Intl,
        };
        let mut table = toml::Table::try_from(Profile::builtin(base))
            .map_err(|e| ProfileError::Toml(e.to_string()))?;
        for layer in layers {
            merge(&mut table, layer);
        }
        let profile: Profile = table
            .try_into()
            .map_err(|e: toml::de::Error| ProfileError::Toml(e.message().to_owned()))?;
        profile.check()?;
        Ok(profile)
    }

    /// A profile from TOML text layered over its built-in base.
    pub fn from_toml_str(text: &str) -> Result<Profile, ProfileError> {
        let layer: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ProfileError::Toml(e.message().to_owned()))?;
        Profile::layered(None, &[&layer])
    }

    /// Checks every value that can be checked without a host.
    pub fn check(&self) -> Result<(), ProfileError> {
        self.settle_config()?;
        self.mac_setting()?;
        self.frame_parts()?;
        self.master()?;
        self.profile_keys()?;
        if !(24..=48).contains(&self.paper_width) {
            return Err(ProfileError::Value {
                key: "paper_width",
                why: "24 to 48 characters",
            });
        }
        if self.connect_tries == 0 || self.connect_timeout_ms == 0 {
            return Err(ProfileError::Value {
                key: "connect_tries",
                why: "at least one attempt of at least 1 ms",
            });
        }
        if self.dialect == DialectName::Cup && self.mac_setting()?.is_some() {
            self.master()?.ok_or(ProfileError::Value {
                key: "master_key",
                why: "a UnionPay terminal with MACs needs its master key to unwrap working keys",
            })?;
        }
        Ok(())
    }

    /// The settlement engine's configuration.
    pub fn settle_config(&self) -> Result<Config, ProfileError> {
        let margin = parse_amount(&self.overflow_margin).ok_or(ProfileError::Value {
            key: "overflow_margin",
            why: "an amount such as 100000000.00",
        })?;
        Config::builder(&self.terminal_id, &self.merchant_id, self.settle_dialect()?)
            .capacity(self.capacity, self.warn_at)
            .auto_settle(self.auto()?)
            .overflow_margin(margin)
            .reversal(self.reversal_tries, self.count_timeouts_as_tries)
            .upload_tries(self.upload_tries)
            .response_timeout_ms(self.response_timeout_ms)
            .first_batch(self.first_batch)
            .first_trace(self.first_trace)
            .build()
            .map_err(ProfileError::Config)
    }

    fn settle_dialect(&self) -> Result<Dialect, ProfileError> {
        Ok(match self.dialect {
            DialectName::Intl => Dialect::International(IntlSettings {
                void_policy: match self.void_policy.as_str() {
                    "drop-from-sales" => VoidPolicy::DropFromSales,
                    "add-to-refunds" => VoidPolicy::AddToRefunds,
                    _ => {
                        return Err(ProfileError::Value {
                            key: "void_policy",
                            why: "drop-from-sales or add-to-refunds",
                        })
                    }
                },
                totals_length: match self.totals_length {
                    90 => TotalsLength::Ninety,
                    30 => TotalsLength::Thirty,
                    _ => {
                        return Err(ProfileError::Value {
                            key: "totals_length",
                            why: "90 or 30",
                        })
                    }
                },
                nii: self.nii,
            }),
            DialectName::Cup => Dialect::UnionPay(CupSettings {
                operator: self.operator.clone(),
                currency: self.currency.clone(),
                adopt_host_batch: self.adopt_host_batch,
            }),
        })
    }

    fn auto(&self) -> Result<AutoSettle, ProfileError> {
        let rule = &self.auto_settle;
        let time_of_day = match &rule.time {
            None => None,
            Some(text) => Some(parse_time_of_day(text).ok_or(ProfileError::Value {
                key: "auto_settle.time",
                why: "HH:MM, 00:00 to 23:59",
            })?),
        };
        let amount = match &rule.amount {
            None => None,
            Some(text) => Some(parse_amount(text).ok_or(ProfileError::Value {
                key: "auto_settle.amount",
                why: "an amount such as 5000.00",
            })?),
        };
        Ok(AutoSettle {
            count: rule.count,
            amount,
            time_of_day,
        })
    }

    /// The MAC the profile names, or `None` for `none`.
    pub fn mac_setting(&self) -> Result<Option<Mac>, ProfileError> {
        if self.mac == "none" {
            return Ok(None);
        }
        let algorithm: MacAlgorithm = self.mac.parse().map_err(|_| ProfileError::Value {
            key: "mac",
            why: "none, x919, x99 or cup-ecb",
        })?;
        let key_use = match self.mac_key_use.as_str() {
            "whole" => KeyUse::Whole,
            "first-half" => KeyUse::FirstHalf,
            _ => {
                return Err(ProfileError::Value {
                    key: "mac_key_use",
                    why: "whole or first-half",
                })
            }
        };
        Ok(Some(Mac::new(algorithm).with_key_use(key_use)))
    }

    /// The terminal master key.
    pub fn master(&self) -> Result<Option<DesKey>, ProfileError> {
        self.master_key
            .as_ref()
            .map(|k| k.key("master_key"))
            .transpose()
    }

    /// MAC and PIN keys loaded from the profile (international terminals).
    pub fn profile_keys(&self) -> Result<(Option<DesKey>, Option<DesKey>), ProfileError> {
        let mac = self
            .mac_key
            .as_ref()
            .map(|k| k.key("mac_key"))
            .transpose()?;
        let pin = self
            .pin_key
            .as_ref()
            .map(|k| k.key("pin_key"))
            .transpose()?;
        Ok((mac, pin))
    }

    /// The framing, TPDU and (UnionPay) application header of this profile's requests.
    pub fn frame_parts(&self) -> Result<(FrameConfig, Tpdu, Option<AppHeader>), ProfileError> {
        let nii = Nii::new(self.nii).map_err(|_| ProfileError::Value {
            key: "nii",
            why: "0 to 9999",
        })?;
        let source = Nii::new(0).map_err(|_| ProfileError::Value {
            key: "nii",
            why: "0 to 9999",
        })?;
        // DESIGN §4: `60`, destination NII, source NII; the host answers with the two swapped.
        let tpdu = Tpdu::new(nii, source);
        match self.dialect {
            DialectName::Intl => Ok((FrameConfig::international(), tpdu, None)),
            DialectName::Cup => {
                let header = parse_header(&self.app_header).ok_or(ProfileError::Value {
                    key: "app_header",
                    why: "12 hex digits",
                })?;
                Ok((FrameConfig::unionpay(), tpdu, Some(header)))
            }
        }
    }

    /// The response timeout.
    pub fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms)
    }

    /// The currency's alphabetic code for slips, or the numeric code when unknown.
    pub fn currency_label(&self) -> &str {
        match self.currency.as_str() {
            "156" => "CNY",
            "840" => "USD",
            "978" => "EUR",
            "826" => "GBP",
            "344" => "HKD",
            "702" => "SGD",
            other => other,
        }
    }

    /// One line per value that matters to an operator, keys as check values only.
    pub fn summary(&self) -> String {
        let kcv = self
            .master()
            .ok()
            .flatten()
            .map_or_else(|| "none".to_owned(), |k| kcv_hex(&k));
        format!(
            "terminal {} merchant {} dialect {} mac {} master kcv {} capacity {} (warn at {}) \
             timeout {} ms",
            self.terminal_id,
            self.merchant_id,
            self.dialect,
            self.mac,
            kcv,
            self.capacity,
            self.warn_at,
            self.response_timeout_ms
        )
    }
}

/// `HH:MM` as (hour, minute).
pub fn parse_time_of_day(text: &str) -> Option<(u8, u8)> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.len() == 5).then_some((h, m))
}

fn parse_header(hex: &str) -> Option<AppHeader> {
    if hex.len() != 12 {
        return None;
    }
    let mut bytes = [0u8; AppHeader::LEN];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(AppHeader::from_bytes(bytes))
}

/// Merges `layer` into `base`, tables key by key, anything else replaced.
fn merge(base: &mut toml::Table, layer: &toml::Table) {
    for (key, value) in layer {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(l)) => merge(b, l),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn common(dialect: DialectName, terminal_id: &str, merchant_id: &str) -> Profile {
    Profile {
        dialect,
        terminal_id: terminal_id.into(),
        merchant_id: merchant_id.into(),
        merchant_name: "POS8583 TEST MERCHANT".into(),
        nii: 3,
        currency: "840".into(),
        master_key: None,
        mac: "none".into(),
        mac_key_use: "whole".into(),
        mac_key: None,
        pin_key: None,
        must_sign_on: false,
        capacity: 999,
        warn_at: 950,
        response_timeout_ms: 30_000,
        connect_timeout_ms: 5_000,
        connect_tries: 2,
        reversal_tries: 3,
        count_timeouts_as_tries: false,
        upload_tries: 3,
        operator: "001".into(),
        operator_password: "0000".into(),
        supervisor_password: "123456".into(),
        auto_settle: AutoSettleRule::default(),
        overflow_margin: format_amount(10_000_000_000),
        void_policy: "drop-from-sales".into(),
        totals_length: 90,
        adopt_host_batch: true,
        app_header: "603100000000".into(),
        first_batch: 1,
        first_trace: 1,
        paper_width: 32,
    }
}

fn first_trace() -> u32 {
    1
}

/// The test host's international terminal: no MAC, may sell without signing on.
fn intl() -> Profile {
    common(DialectName::Intl, "00000001", "123456789012345")
}

/// The test host's UnionPay terminal: `cup-ecb` MAC with the whole double-length key, must
/// sign on (60.3 `003`, 40-byte field 62) under the test master key.
fn cup() -> Profile {
    Profile {
        currency: "156".into(),
        master_key: Some(KeyHex::from("0123456789ABCDEFFEDCBA9876543210")),
        mac: "cup-ecb".into(),
        must_sign_on: true,
        ..common(DialectName::Cup, "20000001", "898310012340001")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn builtins_check_and_match_the_host_defaults() {
        let intl = Profile::builtin(DialectName::Intl);
        intl.check().unwrap();
        assert_eq!(intl.terminal_id, "00000001");
        assert_eq!(intl.merchant_id, "123456789012345");
        assert_eq!(intl.mac_setting().unwrap(), None);
        let (_, tpdu, header) = intl.frame_parts().unwrap();
        assert_eq!(tpdu.to_bytes(), [0x60, 0x00, 0x03, 0x00, 0x00]);
        assert!(header.is_none());

        let cup = Profile::builtin(DialectName::Cup);
        cup.check().unwrap();
        assert_eq!(cup.terminal_id, "20000001");
        assert_eq!(cup.merchant_id, "898310012340001");
        let mac = cup.mac_setting().unwrap().unwrap();
        assert_eq!(mac.algorithm(), MacAlgorithm::CupEcb);
        assert_eq!(mac.key_use(), KeyUse::Whole);
        assert!(cup.frame_parts().unwrap().2.is_some());
    }

    #[test]
    fn layers_override_only_what_they_name() {
        let layer = table("capacity = 5\nwarn_at = 4\n[auto_settle]\ntime = \"23:30\"");
        let p = Profile::layered(Some(DialectName::Cup), &[&layer]).unwrap();
        assert_eq!((p.capacity, p.warn_at), (5, 4));
        assert_eq!(p.terminal_id, "20000001");
        let cfg = p.settle_config().unwrap();
        assert_eq!(cfg.capacity(), 5);

        let named = table("dialect = \"cup\"");
        let p = Profile::layered(None, &[&named]).unwrap();
        assert_eq!(p.dialect, DialectName::Cup);
        let err = Profile::layered(Some(DialectName::Intl), &[&named]).unwrap_err();
        assert!(matches!(err, ProfileError::DialectConflict { .. }));
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let bad = |text: &str| Profile::from_toml_str(text).unwrap_err().to_string();
        assert!(bad("capacity = 1000").contains("capacity"));
        assert!(bad("mac = \"md5\"").contains("mac"));
        assert!(bad("colour = 1").contains("colour"));
        assert!(bad("[auto_settle]\ntime = \"25:00\"").contains("auto_settle.time"));
        assert!(bad("dialect = \"cup\"\nmaster_key = \"XYZ\"").contains("master_key"));
        assert!(bad("terminal_id = \"T1\"").contains("terminal id"));
    }

    #[test]
    fn keys_show_as_check_values_only() {
        let p = Profile::builtin(DialectName::Cup);
        let text = format!("{p:?}");
        assert!(!text.contains("0123456789ABCDEF"), "{text}");
        assert!(text.contains("kcv"));
        assert!(!p.summary().contains("0123456789ABCDEF"));
        assert!(p.summary().contains("master kcv"));
    }

    #[test]
    fn time_of_day_parses_strictly() {
        assert_eq!(parse_time_of_day("23:30"), Some((23, 30)));
        assert_eq!(parse_time_of_day("24:00"), None);
        assert_eq!(parse_time_of_day("7:30"), None);
        assert_eq!(parse_time_of_day("07:60"), None);
    }
}
