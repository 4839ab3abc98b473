//! Terminal configuration for the engine, checked once when it is built: capacity and the
//! "settle soon" threshold (DESIGN §5), auto-settlement triggers, reversal policy, timeouts and
//! the dialect. The dialect's own settings live in [`crate::dialect`].

use crate::dialect::Dialect;
use crate::engine::COUNTER_MAX;
use crate::error::ConfigError;

/// The largest value of a 12-digit amount total (fields 4, 48 and 63 carry n12 amounts).
pub const MAX_AMOUNT: u64 = 999_999_999_999;

/// Counts travel as n3 (DESIGN §5), so no batch can hold more.
pub const MAX_CAPACITY: u16 = 999;

/// What starts a settlement without the operator (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AutoSettle {
    /// Settle once the log holds this many records.
    pub count: Option<u16>,
    /// Settle once any amount total reaches this many minor units.
    pub amount: Option<u64>,
    /// Settle at this local time of day (hour, minute) when idle and the log is not empty.
    pub time_of_day: Option<(u8, u8)>,
}

/// A checked configuration; build one with [`Config::builder`].
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) terminal_id: String,
    pub(crate) merchant_id: String,
    pub(crate) dialect: Dialect,
    pub(crate) capacity: u16,
    pub(crate) warn_at: u16,
    pub(crate) auto: AutoSettle,
    pub(crate) overflow_margin: u64,
    pub(crate) reversal_tries: u8,
    pub(crate) count_timeouts_as_tries: bool,
    pub(crate) upload_tries: u8,
    pub(crate) response_timeout_ms: u64,
    pub(crate) first_batch: u32,
    pub(crate) first_trace: u32,
}

impl Config {
    /// A builder with the defaults: capacity 999, warning at 950, no auto-settlement, 3
    /// reversal tries, timeouts not counted as tries, 3 upload tries, a 30 s response timeout.
    pub fn builder(terminal_id: &str, merchant_id: &str, dialect: Dialect) -> ConfigBuilder {
        ConfigBuilder {
            config: Config {
                terminal_id: terminal_id.to_owned(),
                merchant_id: merchant_id.to_owned(),
                dialect,
                capacity: MAX_CAPACITY,
                warn_at: 950,
                auto: AutoSettle::default(),
                overflow_margin: 10_000_000_000,
                reversal_tries: 3,
                count_timeouts_as_tries: false,
                upload_tries: 3,
                response_timeout_ms: 30_000,
                first_batch: 1,
                first_trace: 1,
            },
        }
    }

    /// The dialect and its settings.
    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// Batch capacity in records.
    pub fn capacity(&self) -> u16 {
        self.capacity
    }

    /// Record count from which a "settle soon" prompt is shown.
    pub fn warn_at(&self) -> u16 {
        self.warn_at
    }

    /// The terminal id (field 41).
    pub fn terminal_id(&self) -> &str {
        &self.terminal_id
    }

    /// The highest amount total before settlement is forced: 12 digits less the margin.
    pub fn amount_limit(&self) -> u64 {
        MAX_AMOUNT - self.overflow_margin
    }
}

/// Sets configuration values; [`ConfigBuilder::build`] checks them together.
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// Capacity (1-999) and the warning threshold (1 to capacity - 1).
    pub fn capacity(mut self, capacity: u16, warn_at: u16) -> Self {
        self.config.capacity = capacity;
        self.config.warn_at = warn_at;
        self
    }

    /// Auto-settlement triggers.
    pub fn auto_settle(mut self, auto: AutoSettle) -> Self {
        self.config.auto = auto;
        self
    }

    /// How far below 999,999,999,999 an amount total may come before settlement is forced.
    pub fn overflow_margin(mut self, margin: u64) -> Self {
        self.config.overflow_margin = margin;
        self
    }

    /// Reversal tries (DESIGN §5: 3) and whether a timeout uses one (some UnionPay terminals).
    pub fn reversal(mut self, tries: u8, count_timeouts: bool) -> Self {
        self.config.reversal_tries = tries;
        self.config.count_timeouts_as_tries = count_timeouts;
        self
    }

    /// How many times one 0320 of a batch upload is sent while the host refuses it (a 0330
    /// with a code other than 00), 1 to 9, default 3. After the last refusal the settlement
    /// stops with "UPLOAD FAILED" ([`crate::SettleFailure::UploadFailed`]): the batch stays
    /// open, nothing refused counts as uploaded, and a later settlement starts again at the
    /// 0500. A timeout is not a refusal: it stops the settlement, which resumes at the same
    /// 0320.
    pub fn upload_tries(mut self, tries: u8) -> Self {
        self.config.upload_tries = tries;
        self
    }

    /// How long to wait for an answer; the engine reports it as the next deadline.
    pub fn response_timeout_ms(mut self, ms: u64) -> Self {
        self.config.response_timeout_ms = ms;
        self
    }

    /// The batch number a fresh store starts with.
    pub fn first_batch(mut self, batch: u32) -> Self {
        self.config.first_batch = batch;
        self
    }

    /// The trace number (field 11) a fresh store starts with, 1 by default. A store that
    /// already holds a state keeps its own counter. For a terminal that takes over from
    /// another with the same terminal id, as an emulator running one scenario after another
    /// does: a host answers a trace number it has seen in the open batch as a duplicate (94,
    /// DESIGN §6), and a real terminal never starts its trace numbers again.
    pub fn first_trace(mut self, trace: u32) -> Self {
        self.config.first_trace = trace;
        self
    }

    /// Checks every value and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.config;
        check_ids(&c)?;
        check_limits(&c)?;
        check_auto(&c)?;
        if !(1..=9).contains(&c.reversal_tries) {
            return Err(ConfigError::ReversalTries(c.reversal_tries));
        }
        if !(1..=9).contains(&c.upload_tries) {
            return Err(ConfigError::UploadTries(c.upload_tries));
        }
        if c.response_timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        if !(1..=COUNTER_MAX).contains(&c.first_batch) {
            return Err(ConfigError::BatchNumber(c.first_batch));
        }
        if !(1..=COUNTER_MAX).contains(&c.first_trace) {
            return Err(ConfigError::TraceNumber(c.first_trace));
        }
        c.dialect.check()?;
        Ok(c)
    }
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7F).contains(&b))
}

fn check_ids(c: &Config) -> Result<(), ConfigError> {
    if c.terminal_id.len() != 8 || !printable(&c.terminal_id) {
        return Err(ConfigError::TerminalId(c.terminal_id.len()));
    }
    if c.merchant_id.len() != 15 || !printable(&c.merchant_id) {
        return Err(ConfigError::MerchantId(c.merchant_id.len()));
    }
    Ok(())
}

fn check_limits(c: &Config) -> Result<(), ConfigError> {
    if !(1..=MAX_CAPACITY).contains(&c.capacity) {
        return Err(ConfigError::Capacity(c.capacity));
    }
    if c.warn_at == 0 || c.warn_at >= c.capacity {
        return Err(ConfigError::WarnThreshold {
            warn: c.warn_at,
            capacity: c.capacity,
        });
    }
    if c.overflow_margin >= MAX_AMOUNT {
        return Err(ConfigError::Amount(c.overflow_margin));
    }
    Ok(())
}

fn check_auto(c: &Config) -> Result<(), ConfigError> {
    if let Some(count) = c.auto.count {
        if count == 0 || count > c.capacity {
            return Err(ConfigError::AutoCount {
                count,
                capacity: c.capacity,
            });
        }
    }
    if let Some(amount) = c.auto.amount {
        if amount == 0 || amount > MAX_AMOUNT {
            return Err(ConfigError::Amount(amount));
        }
    }
    if let Some((hour, minute)) = c.auto.time_of_day {
        if hour > 23 || minute > 59 {
            return Err(ConfigError::TimeOfDay { hour, minute });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{CupSettings, IntlSettings};

    fn intl() -> ConfigBuilder {
        Config::builder(
            "TERM0001",
            "MERCHANT0000001",
            Dialect::International(IntlSettings::default()),
        )
    }

    #[test]
    fn defaults_build() {
        assert!(intl().build().is_ok());
        let cup = Dialect::UnionPay(CupSettings::default());
        assert!(Config::builder("TERM0001", "MERCHANT0000001", cup)
            .build()
            .is_ok());
    }

    #[test]
    fn capacity_above_999_is_refused() {
        let err = intl().capacity(1000, 900).build().unwrap_err();
        assert_eq!(err, ConfigError::Capacity(1000));
        assert_eq!(
            intl().capacity(0, 0).build().unwrap_err(),
            ConfigError::Capacity(0)
        );
    }

    #[test]
    fn warning_threshold_must_be_below_capacity() {
        let err = intl().capacity(10, 10).build().unwrap_err();
        assert_eq!(
            err,
            ConfigError::WarnThreshold {
                warn: 10,
                capacity: 10
            }
        );
        assert!(intl().capacity(10, 9).build().is_ok());
    }

    #[test]
    fn ids_and_auto_settings_are_checked() {
        let d = Dialect::International(IntlSettings::default());
        let err = Config::builder("T1", "MERCHANT0000001", d)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::TerminalId(2));
        let auto = AutoSettle {
            time_of_day: Some((24, 0)),
            ..AutoSettle::default()
        };
        let err = intl().auto_settle(auto).build().unwrap_err();
        assert_eq!(
            err,
            ConfigError::TimeOfDay {
                hour: 24,
                minute: 0
            }
        );
        let auto = AutoSettle {
            count: Some(1000),
            ..AutoSettle::default()
        };
        assert!(matches!(
            intl().auto_settle(auto).build(),
            Err(ConfigError::AutoCount { .. })
        ));
        assert_eq!(
            intl().reversal(0, false).build().unwrap_err(),
            ConfigError::ReversalTries(0)
        );
        assert_eq!(
            intl().upload_tries(0).build().unwrap_err(),
            ConfigError::UploadTries(0)
        );
        assert!(intl().upload_tries(1).build().is_ok());
        assert_eq!(
            intl().first_batch(0).build().unwrap_err(),
            ConfigError::BatchNumber(0)
        );
        for bad in [0, 1_000_000] {
            assert_eq!(
                intl().first_trace(bad).build().unwrap_err(),
                ConfigError::TraceNumber(bad)
            );
        }
        assert!(intl().first_trace(999_999).build().is_ok());
    }
}
