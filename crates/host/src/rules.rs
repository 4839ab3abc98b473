//! Authorisation rules and fault rules, and what a message is matched on.
//!
//! Both kinds of rule share one matcher, [`Match`]: every key given must hold, an absent key
//! matches anything. Authorisation rules ([`Rules`]) decide the answer to 0100, 0200 (not
//! voids) and 0220; fault rules ([`FaultRule`]) make the host misbehave on any message.
//!
//! ```toml
//! [rules]
//! max_amount = "999999.99"     # above: 13 (invalid amount); amounts are "12.50" or cents
//! min_amount = 1               # below: 13
//! domestic_prefixes = ["62"]   # UnionPay card group: PANs starting so are domestic
//!
//! [[rules.auth]]               # first match answers; otherwise 00
//! card_prefix = "4000000000000002"
//! respond = "14"
//! [[rules.auth]]
//! cents = 51                   # amounts ending in .51
//! respond = "51"
//!
//! [[faults]]
//! mti = "0500"                 # the request MTI
//! processing_code = "920000"   # field 3
//! network_code = "003"         # UnionPay 60.3
//! trace = 12                   # field 11
//! terminal = "20000001"        # field 41
//! cents = 51                   # amount (field 4) ends in .51
//! amount = "12.50"             # exact amount; also amount_above, amount_below
//! card_prefix = "62"           # the PAN starts with (field 2, else track 2 before its separator)
//! nth = 4                      # the 4th matching message only (default: every one)
//! times = 3                    # this often from the nth on (default: always; once with nth)
//! chance = 0.25                # with this probability, seeded by the config's seed
//! action = "respond"           # see FaultAction for the list
//! code = "95"                  # for respond
//! ms = 1500                    # for delay: at most 3600000 (an hour)
//! process = false              # apply the message to the ledger first (default: see action)
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::error::ConfigError;

/// The longest `delay` a fault rule may hold an answer: an hour, far beyond any terminal's
/// timeout. Longer values are refused when a rule is read or checked, and a rule built in code
/// without a check is held to it (a deadline this far out cannot overflow).
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// A two-character response code (field 39), such as `00`, `95` or `A0`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResponseCode(pub(crate) [u8; 2]);

impl ResponseCode {
    /// Approved.
    pub const APPROVED: ResponseCode = ResponseCode(*b"00");

    /// A code from two letters or digits.
    pub fn new(code: &str) -> Option<ResponseCode> {
        let bytes: [u8; 2] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_alphanumeric)
            .then_some(ResponseCode(bytes))
    }

    /// The two characters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The two bytes.
    pub fn bytes(&self) -> [u8; 2] {
        self.0
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseCode({})", self.as_str())
    }
}

impl FromStr for ResponseCode {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<ResponseCode, ConfigError> {
        ResponseCode::new(s).ok_or_else(|| ConfigError::Value {
            what: "response code",
            found: s.to_owned(),
            expected: "two letters or digits, such as 05 or A0",
        })
    }
}

impl<'de> Deserialize<'de> for ResponseCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ResponseCode, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units (cents). In TOML: an integer of cents (`1250`) or a decimal
/// string with two places (`"12.50"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub u64);

impl FromStr for Cents {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Cents, ConfigError> {
        let bad = || ConfigError::Value {
            what: "amount",
            found: s.to_owned(),
            expected: "cents as an integer, or units and two decimals such as \"12.50\"",
        };
        let (units, cents) = s.split_once('.').ok_or_else(bad)?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(units) || cents.len() != 2 || !digits(cents) {
            return Err(bad());
        }
        let units: u64 = units.parse().map_err(|_| bad())?;
        let cents: u64 = cents.parse().map_err(|_| bad())?;
        units
            .checked_mul(100)
            .and_then(|u| u.checked_add(cents))
            .map(Cents)
            .ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for Cents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cents, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Int(u64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Int(n) => Ok(Cents(n)),
            Either::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// What a rule matches on. Every key given must hold; none given matches every message.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// The request MTI, such as `0500` (the dialect's MTI; both use the same numbers).
    #[serde(default)]
    pub mti: Option<String>,
    /// Field 3, such as `960000`.
    #[serde(default)]
    pub processing_code: Option<String>,
    /// UnionPay network management code, field 60.3 (digits 9-11), such as `003` or `201`.
    #[serde(default)]
    pub network_code: Option<String>,
    /// Field 11.
    #[serde(default)]
    pub trace: Option<u32>,
    /// Field 41.
    #[serde(default)]
    pub terminal: Option<String>,
    /// The last two digits of the amount (field 4): `51` matches 12.51 and 0.51.
    #[serde(default)]
    pub cents: Option<u8>,
    /// The exact amount.
    #[serde(default)]
    pub amount: Option<Cents>,
    /// Amounts above this.
    #[serde(default)]
    pub amount_above: Option<Cents>,
    /// Amounts below this.
    #[serde(default)]
    pub amount_below: Option<Cents>,
    /// The PAN starts with these digits: field 2, or when it is absent the digits of track 2
    /// (field 35) before its separator.
    #[serde(default)]
    pub card_prefix: Option<String>,
}

/// The facts of one message that rules match on, read once per message without allocating.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Facts<'a> {
    pub mti: [u8; 4],
    pub processing_code: Option<[u8; 6]>,
    pub network_code: Option<[u8; 3]>,
    pub trace: Option<u32>,
    pub terminal: Option<&'a [u8]>,
    pub amount: Option<u64>,
    /// Field 2, else the digits of track 2 (field 35) before its separator.
    pub pan: &'a [u8],
}

impl Match {
    /// True when every key given holds for the message.
    pub(crate) fn matches(&self, f: &Facts<'_>) -> bool {
        let text = |want: &Option<String>, have: Option<&[u8]>| {
            want.as_ref()
                .is_none_or(|w| have.is_some_and(|h| h == w.as_bytes()))
        };
        let amount = |pred: &dyn Fn(u64) -> bool| f.amount.is_some_and(pred);
        text(&self.mti, Some(&f.mti))
            && text(
                &self.processing_code,
                f.processing_code.as_ref().map(|c| &c[..]),
            )
            && text(&self.network_code, f.network_code.as_ref().map(|c| &c[..]))
            && text(&self.terminal, f.terminal)
            && self.trace.is_none_or(|t| f.trace == Some(t))
            && self
                .cents
                .is_none_or(|c| amount(&|a| a % 100 == u64::from(c)))
            && self.amount.is_none_or(|c| amount(&|a| a == c.0))
            && self.amount_above.is_none_or(|c| amount(&|a| a > c.0))
            && self.amount_below.is_none_or(|c| amount(&|a| a < c.0))
            && self
                .card_prefix
                .as_ref()
                .is_none_or(|p| f.pan.starts_with(p.as_bytes()))
    }

    fn check(&self) -> Result<(), ConfigError> {
        let digits = |what: &'static str, v: &Option<String>, n: usize| match v {
            Some(s) if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) => {
                Err(ConfigError::Value {
                    what,
                    found: s.clone(),
                    expected: match n {
                        4 => "4 digits",
                        6 => "6 digits",
                        _ => "3 digits",
                    },
                })
            }
            _ => Ok(()),
        };
        digits("mti", &self.mti, 4)?;
        digits("processing_code", &self.processing_code, 6)?;
        digits("network_code", &self.network_code, 3)?;
        if self.cents.is_some_and(|c| c > 99) {
            return Err(ConfigError::Value {
                what: "cents",
                found: format!("{:?}", self.cents),
                expected: "0 to 99",
            });
        }
        Ok(())
    }
}

/// Authorisation rules (issue #5, "Rules"): limits, then the first matching [`AuthRule`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Amounts above this are answered 13 (invalid amount). Default 999,999.99.
    #[serde(default = "default_max")]
    pub max_amount: Cents,
    /// Amounts below this are answered 13. Default 0.01.
    #[serde(default = "default_min")]
    pub min_amount: Cents,
    /// PAN prefixes of the UnionPay domestic card group; every other card is foreign.
    #[serde(default = "default_domestic")]
    pub domestic_prefixes: Vec<String>,
    /// Rules checked in order; the first that matches gives the answer.
    #[serde(default)]
    pub auth: Vec<AuthRule>,
}

fn default_max() -> Cents {
    Cents(99_999_999)
}

fn default_min() -> Cents {
    Cents(1)
}

fn default_domestic() -> Vec<String> {
    vec!["62".to_owned()]
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            max_amount: default_max(),
            min_amount: default_min(),
            domestic_prefixes: default_domestic(),
            auth: Vec::new(),
        }
    }
}

impl Rules {
    /// The answer to an authorisation request: 13 outside the limits, the first matching
    /// rule's code, else 00.
    pub(crate) fn decide(&self, facts: &Facts<'_>) -> ResponseCode {
        if let Some(amount) = facts.amount {
            if amount > self.max_amount.0 || amount < self.min_amount.0 {
                return ResponseCode(*b"13");
            }
        }
        self.auth
            .iter()
            .find(|r| r.when.matches(facts))
            .map_or(ResponseCode::APPROVED, |r| r.respond)
    }

    /// True when a PAN belongs to the UnionPay domestic card group (DESIGN §5).
    pub(crate) fn is_domestic(&self, pan: &[u8]) -> bool {
        self.domestic_prefixes
            .iter()
            .any(|p| pan.starts_with(p.as_bytes()))
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        for (i, rule) in self.auth.iter().enumerate() {
            rule.when.check().map_err(|e| ConfigError::Rule {
                index: i + 1,
                why: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// One authorisation rule: a matcher and the code it answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawAuthRule")]
pub struct AuthRule {
    /// What it matches.
    pub when: Match,
    /// What it answers (05, 13, 14, 51, 54, 55, 61, ...).
    pub respond: ResponseCode,
}

// Unknown keys are refused by `MatchFields`: `deny_unknown_fields` does not work with `flatten`.
#[derive(Deserialize)]
struct RawAuthRule {
    respond: ResponseCode,
    #[serde(flatten)]
    when: MatchFields,
}

/// [`Match`] as flattened keys. Flattening cannot deny unknown keys, so the leftovers are
/// collected and refused by hand, naming the first.
#[derive(Deserialize)]
struct MatchFields {
    mti: Option<String>,
    processing_code: Option<String>,
    network_code: Option<String>,
    trace: Option<u32>,
    terminal: Option<String>,
    cents: Option<u8>,
    amount: Option<Cents>,
    amount_above: Option<Cents>,
    amount_below: Option<Cents>,
    card_prefix: Option<String>,
    #[serde(flatten)]
    unknown: std::collections::BTreeMap<String, toml::Value>,
}

impl MatchFields {
    fn into_match(self) -> Result<Match, String> {
        if let Some(key) = self.unknown.keys().next() {
            return Err(format!("unknown key `{key}` in a rule"));
        }
        let m = Match {
            mti: self.mti,
            processing_code: self.processing_code,
            network_code: self.network_code,
            trace: self.trace,
            terminal: self.terminal,
            cents: self.cents,
            amount: self.amount,
            amount_above: self.amount_above,
            amount_below: self.amount_below,
            card_prefix: self.card_prefix,
        };
        m.check().map_err(|e| e.to_string())?;
        Ok(m)
    }
}

impl TryFrom<RawAuthRule> for AuthRule {
    type Error = String;

    fn try_from(raw: RawAuthRule) -> Result<AuthRule, String> {
        Ok(AuthRule {
            when: raw.when.into_match()?,
            respond: raw.respond,
        })
    }
}

/// What a fault rule makes the host do (issue #5, "Faults"; DESIGN §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultAction {
    /// `respond`: answer with this code (`code = "95"`). Not applied to the ledger unless
    /// `process = true`.
    Respond(ResponseCode),
    /// `delay`: answer after this long (`ms = 1500`, at most [`MAX_DELAY`]: a rule that
    /// asks for more is refused when read or checked, and held to it otherwise); processed.
    Delay(Duration),
    /// `no_answer`: say nothing; processed (the answer is lost) unless `process = false`.
    NoAnswer,
    /// `close`: close the connection without answering; processed unless `process = false`.
    Close,
    /// `close_mid_frame`: write part of the answer, then close; processed.
    CloseMidFrame,
    /// `wrong_mac`: answer with a MAC that does not verify; processed.
    WrongMac,
    /// `wrong_trace`: answer with another trace number in field 11; processed.
    WrongTrace,
    /// `out_of_balance`: a 0500 is answered out of balance whatever the totals (international
    /// 95, UnionPay flags `2`).
    OutOfBalance,
    /// `bad_check_value`: a sign-on's field 62 carries a wrong check value for the MAC key.
    BadCheckValue,
    /// `sign_on_again`: the answer asks the terminal to sign on again (UnionPay application
    /// header processing requirement 3) and the terminal's working keys are dropped.
    SignOnAgain,
}

impl FaultAction {
    /// The name used in TOML and in the summary.
    pub fn name(&self) -> &'static str {
        match self {
            FaultAction::Respond(_) => "respond",
            FaultAction::Delay(_) => "delay",
            FaultAction::NoAnswer => "no_answer",
            FaultAction::Close => "close",
            FaultAction::CloseMidFrame => "close_mid_frame",
            FaultAction::WrongMac => "wrong_mac",
            FaultAction::WrongTrace => "wrong_trace",
            FaultAction::OutOfBalance => "out_of_balance",
            FaultAction::BadCheckValue => "bad_check_value",
            FaultAction::SignOnAgain => "sign_on_again",
        }
    }

    /// Whether the message is applied to the ledger when the rule does not say.
    fn processes_by_default(&self) -> bool {
        !matches!(self, FaultAction::Respond(_))
    }

    /// Every action name, for error messages and the summary.
    pub const NAMES: [&'static str; 10] = [
        "respond",
        "delay",
        "no_answer",
        "close",
        "close_mid_frame",
        "wrong_mac",
        "wrong_trace",
        "out_of_balance",
        "bad_check_value",
        "sign_on_again",
    ];
}

/// One fault rule: a matcher, an action, and how often it applies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawFaultRule")]
pub struct FaultRule {
    /// What it matches.
    pub when: Match,
    /// What the host does.
    pub action: FaultAction,
    /// The first matching message the rule may apply to (1 = the first): the first `nth - 1`
    /// are skipped. With `nth` and no `times` the rule applies to one message only: `nth = 4`
    /// is "the 4th 0320 closes the connection", the fault the upload-interruption scenarios
    /// need, after which the resumed upload must go through.
    pub nth: u32,
    /// Apply at most this many times, to matching messages from the `nth` on; `None` for every
    /// one. Giving `nth` (in TOML or with [`FaultRule::nth`]) without `times` sets it to 1, so
    /// "from the 2nd on" is `nth = 2` with a `times`.
    pub times: Option<u32>,
    /// Apply with this probability (0 to 1), drawn from the host's seeded generator.
    pub chance: Option<f64>,
    /// Whether the message is applied to the ledger before the fault; `None` for the action's
    /// default (`respond` does not process, every other action does).
    pub process: Option<bool>,
}

impl FaultRule {
    /// A rule that applies `action` to every message.
    pub fn new(action: FaultAction) -> FaultRule {
        FaultRule {
            when: Match::default(),
            action,
            nth: 1,
            times: None,
            chance: None,
            process: None,
        }
    }

    /// Only messages with this MTI.
    pub fn mti(mut self, mti: &str) -> FaultRule {
        self.when.mti = Some(mti.to_owned());
        self
    }

    /// Only messages with this processing code.
    pub fn processing_code(mut self, code: &str) -> FaultRule {
        self.when.processing_code = Some(code.to_owned());
        self
    }

    /// Only UnionPay messages with this 60.3.
    pub fn network_code(mut self, code: &str) -> FaultRule {
        self.when.network_code = Some(code.to_owned());
        self
    }

    /// Only this trace number.
    pub fn trace(mut self, trace: u32) -> FaultRule {
        self.when.trace = Some(trace);
        self
    }

    /// Only this terminal.
    pub fn terminal(mut self, id: &str) -> FaultRule {
        self.when.terminal = Some(id.to_owned());
        self
    }

    /// Only amounts ending in these cents.
    pub fn cents(mut self, cents: u8) -> FaultRule {
        self.when.cents = Some(cents);
        self
    }

    /// Only the n-th matching message (1 = the first), unless [`FaultRule::times`] (before or
    /// after this call) lets it apply that many times from the n-th on.
    pub fn nth(mut self, n: u32) -> FaultRule {
        self.nth = n.max(1);
        self.times = self.times.or(Some(1));
        self
    }

    /// At most `n` times.
    pub fn times(mut self, n: u32) -> FaultRule {
        self.times = Some(n);
        self
    }

    /// With probability `p`.
    pub fn chance(mut self, p: f64) -> FaultRule {
        self.chance = Some(p);
        self
    }

    /// Apply the message to the ledger first, or not.
    pub fn process(mut self, process: bool) -> FaultRule {
        self.process = Some(process);
        self
    }

    /// Whether the message is applied to the ledger.
    pub(crate) fn processes(&self) -> bool {
        self.process
            .unwrap_or_else(|| self.action.processes_by_default())
    }

    /// Checks the values a rule built in code may hold.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.when.check()?;
        if self.chance.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err(ConfigError::Value {
                what: "chance",
                found: format!("{:?}", self.chance),
                expected: "a probability from 0 to 1",
            });
        }
        if let FaultAction::Delay(d) = self.action {
            if d > MAX_DELAY {
                return Err(ConfigError::Value {
                    what: "ms",
                    found: d.as_millis().to_string(),
                    expected: "at most 3600000 (an hour)",
                });
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct RawFaultRule {
    action: String,
    code: Option<ResponseCode>,
    ms: Option<u64>,
    nth: Option<u32>,
    times: Option<u32>,
    chance: Option<f64>,
    process: Option<bool>,
    #[serde(flatten)]
    when: MatchFields,
}

impl TryFrom<RawFaultRule> for FaultRule {
    type Error = String;

    fn try_from(raw: RawFaultRule) -> Result<FaultRule, String> {
        let action = match (raw.action.as_str(), raw.code, raw.ms) {
            ("respond", Some(code), None) => FaultAction::Respond(code),
            ("delay", None, Some(ms)) if ms > MAX_DELAY.as_millis() as u64 => {
                return Err(format!("delay ms = {ms}: at most 3600000 (an hour)"));
            }
            ("respond", None, _) => return Err("action respond needs code = \"NN\"".into()),
            ("delay", None, Some(ms)) => FaultAction::Delay(Duration::from_millis(ms)),
            ("delay", _, None) => return Err("action delay needs ms = N".into()),
            (name, code, ms) => {
                let action = simple_action(name)?;
                if code.is_some() || ms.is_some() {
                    return Err(format!("action {name} takes neither code nor ms"));
                }
                action
            }
        };
        let rule = FaultRule {
            when: raw.when.into_match()?,
            action,
            nth: raw.nth.unwrap_or(1).max(1),
            times: raw.times.or(raw.nth.map(|_| 1)),
            chance: raw.chance,
            process: raw.process,
        };
        rule.check().map_err(|e| e.to_string())?;
        Ok(rule)
    }
}

fn simple_action(name: &str) -> Result<FaultAction, String> {
    Ok(match name {
        "no_answer" => FaultAction::NoAnswer,
        "close" => FaultAction::Close,
        "close_mid_frame" => FaultAction::CloseMidFrame,
        "wrong_mac" => FaultAction::WrongMac,
        "wrong_trace" => FaultAction::WrongTrace,
        "out_of_balance" => FaultAction::OutOfBalance,
        "bad_check_value" => FaultAction::BadCheckValue,
        "sign_on_again" => FaultAction::SignOnAgain,
        other => {
            return Err(format!(
                "unknown action `{other}`: expected one of {}",
                FaultAction::NAMES.join(", ")
            ))
        }
    })
}

/// The fault rules in force with their counters, and the seeded generator for chances.
#[derive(Debug)]
pub(crate) struct FaultSet {
    rules: Vec<(FaultRule, Counter)>,
    rng: fastrand::Rng,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    matched: u64,
    applied: u64,
}

/// The fault picked for one message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Picked {
    pub action: FaultAction,
    pub process: bool,
}

impl FaultSet {
    pub(crate) fn new(rules: Vec<FaultRule>, seed: u64) -> FaultSet {
        FaultSet {
            rules: rules.into_iter().map(|r| (r, Counter::default())).collect(),
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Replaces the rules; the counters start again, the generator goes on.
    pub(crate) fn replace(&mut self, rules: Vec<FaultRule>) {
        self.rules = rules.into_iter().map(|r| (r, Counter::default())).collect();
    }

    /// The first rule that applies to the message, counting it.
    pub(crate) fn pick(&mut self, facts: &Facts<'_>) -> Option<Picked> {
        let rng = &mut self.rng;
        for (rule, counter) in &mut self.rules {
            if !rule.when.matches(facts) {
                continue;
            }
            counter.matched += 1;
            let exhausted = rule.times.is_some_and(|t| counter.applied >= u64::from(t));
            if counter.matched < u64::from(rule.nth) || exhausted {
                continue;
            }
            if rule.chance.is_some_and(|p| rng.f64() >= p) {
                continue;
            }
            counter.applied += 1;
            return Some(Picked {
                action: rule.action,
                process: rule.processes(),
            });
        }
        None
    }
}

/// What a scenario file's `[host]` table may change in a running host
/// ([`crate::TestHost::apply`]): the authorisation rules and the fault rules, in the same format
/// as the host configuration's `[rules]` and `[[faults]]`.
///
/// ```
/// let patch: iso8583_host::HostPatch = toml::from_str(r#"
///     [[faults]]
///     mti = "0500"
///     processing_code = "920000"
///     action = "out_of_balance"
/// "#)?;
/// assert_eq!(patch.faults.len(), 1);
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPatch {
    /// New authorisation rules; the current ones stay when absent.
    #[serde(default)]
    pub rules: Option<Rules>,
    /// The fault rules (replacing the current ones).
    #[serde(default)]
    pub faults: Vec<FaultRule>,
}

/// Reads `[[faults]]` (and nothing else) from TOML: for tools that keep fault rules in a file
/// of their own.
pub fn faults_from_toml(s: &str) -> Result<Vec<FaultRule>, ConfigError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Faults {
        #[serde(default)]
        faults: Vec<FaultRule>,
    }
    toml::from_str::<Faults>(s)
        .map(|f| f.faults)
        .map_err(|e| ConfigError::Toml(e.message().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(mti: &[u8; 4], amount: Option<u64>) -> Facts<'static> {
        Facts {
            mti: *mti,
            amount,
            ..Facts::default()
        }
    }

    #[test]
    fn amounts_read_as_cents_or_decimals() {
        assert_eq!("12.50".parse::<Cents>().unwrap(), Cents(1250));
        assert_eq!("0.51".parse::<Cents>().unwrap(), Cents(51));
        for bad in ["12.5", "12", ".50", "1x.00", "12.500", "-1.00"] {
            assert!(bad.parse::<Cents>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fault_rules_read_from_toml() {
        let faults = faults_from_toml(
            r#"
            [[faults]]
            mti = "0400"
            action = "respond"
            code = "05"
            times = 3
            [[faults]]
            mti = "0320"
            nth = 4
            action = "close"
            [[faults]]
            action = "delay"
            ms = 1500
            cents = 51
            "#,
        )
        .unwrap();
        assert_eq!(faults[0].action, FaultAction::Respond(ResponseCode(*b"05")));
        assert_eq!(faults[0].times, Some(3));
        assert!(!faults[0].processes());
        assert_eq!((faults[1].nth, faults[1].times), (4, Some(1)));
        assert!(faults[1].processes());
        assert_eq!(
            faults[2].action,
            FaultAction::Delay(Duration::from_millis(1500))
        );

        for (bad, why) in [
            ("action = \"respond\"", "needs code"),
            ("action = \"explode\"", "unknown action"),
            ("action = \"close\"\nmti = \"05\"", "4 digits"),
            ("action = \"close\"\nmtI = \"0500\"", "unknown key `mtI`"),
            ("action = \"close\"\nchance = 2.0", "probability"),
            ("action = \"close\"\ncode = \"05\"", "neither"),
            ("action = \"delay\"\nms = 3600001", "at most 3600000"),
            (
                "action = \"delay\"\nms = 9223372036854775807",
                "at most 3600000",
            ),
        ] {
            let err = faults_from_toml(&format!("[[faults]]\n{bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn nth_and_times_count_matching_messages_only() {
        let rule = FaultRule::new(FaultAction::Close).mti("0320").nth(4);
        let mut set = FaultSet::new(vec![rule], 1);
        let mut applied = Vec::new();
        for i in 1..=8 {
            set.pick(&facts(b"0200", None));
            applied.push(set.pick(&facts(b"0320", None)).is_some());
            let _ = i;
        }
        assert_eq!(
            applied,
            [false, false, false, true, false, false, false, false]
        );

        let thrice = FaultRule::new(FaultAction::Respond(ResponseCode(*b"05"))).times(3);
        let mut set = FaultSet::new(vec![thrice], 1);
        let hits = (0..5)
            .filter(|_| set.pick(&facts(b"0400", None)).is_some())
            .count();
        assert_eq!(hits, 3);
    }

    #[test]
    fn chance_is_seeded() {
        let run = |seed| {
            let rule = FaultRule::new(FaultAction::NoAnswer).chance(0.5);
            let mut set = FaultSet::new(vec![rule], seed);
            (0..64)
                .map(|_| set.pick(&facts(b"0200", None)).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        let hits = run(9).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "{hits} of 64");
    }

    #[test]
    fn auth_rules_limits_then_first_match() {
        let rules: Rules = toml::from_str(
            r#"
            max_amount = "1000.00"
            [[auth]]
            cents = 51
            respond = "51"
            [[auth]]
            card_prefix = "4000"
            respond = "14"
            "#,
        )
        .unwrap();
        let mut f = facts(b"0200", Some(1251));
        assert_eq!(rules.decide(&f).as_str(), "51");
        f.amount = Some(100_001);
        assert_eq!(rules.decide(&f).as_str(), "13");
        f.amount = Some(1000);
        f.pan = b"4000123412341234";
        assert_eq!(rules.decide(&f).as_str(), "14");
        f.pan = b"6212345678901234";
        assert_eq!(rules.decide(&f).as_str(), "00");
        assert!(rules.is_domestic(f.pan));
        assert!(toml::from_str::<Rules>("[[auth]]\ncents = 51\nrespond = \"5\"").is_err());
    }
}
