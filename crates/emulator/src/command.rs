//! Terminal commands as an operator (or a scenario step) types them: `sale 12.50
//! card=visa-swipe`, `void last`, `tip last 2.00`, `void_pre_auth last`, `settle`,
//! `power_cycle`, `wait 2s`, `set_time 23:30`.
//!
//! A command is one word, then positional values, then `key=value` options. Words may be
//! written with `_` or `-` (`sign_on`, `sign-on`). Parsing checks everything it can (amounts,
//! card names, durations) so that a scenario file with a bad step is refused before it runs.

use std::fmt;
use std::time::Duration;

use iso8583_settle::RefundOriginal;

use crate::amount::{format_amount, parse_amount};
use crate::cards::{self, TestCard};
use crate::error::CommandError;
use crate::profile::parse_time_of_day;

/// Which record a void, a tip adjustment or a card decline is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The last one of the open batch that qualifies.
    Last,
    /// By number: the invoice for a void or a tip adjustment, the trace for a card decline.
    Number(u32),
}

/// The approval code a completion carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRef {
    /// The last pre-authorisation's.
    Last,
    /// This code.
    Code(String),
}

/// One terminal command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Sign on, with the operator password (the profile's when absent).
    SignOn {
        /// The password typed.
        password: Option<String>,
    },
    /// Sign off.
    SignOff,
    /// Echo test.
    Echo,
    /// A sale.
    Sale {
        /// Minor units.
        amount: u64,
        /// Tip, minor units.
        tip: u64,
        /// The card; the dialect's default card when `None`.
        card: Option<&'static TestCard>,
    },
    /// Void a sale or completion of the open batch.
    Void {
        /// Which (by invoice).
        target: Target,
    },
    /// A refund.
    Refund {
        /// Minor units.
        amount: u64,
        /// The card.
        card: Option<&'static TestCard>,
        /// The sale refunded, as its receipt shows it (`rrn=` and `original=BATCH/TRACE/MMDD`).
        original: Option<RefundOriginal>,
    },
    /// A pre-authorisation.
    PreAuth {
        /// Minor units.
        amount: u64,
        /// The card.
        card: Option<&'static TestCard>,
    },
    /// Void an approved pre-authorisation of the open batch (online, 0100).
    VoidPreAuth {
        /// Which (by invoice).
        target: Target,
    },
    /// Adjust the tip of an approved sale of the open batch (international; offline, told to
    /// the host by a 0220 advice before settlement).
    TipAdjust {
        /// Which sale (by invoice).
        target: Target,
        /// The new tip, minor units (zero takes the tip away).
        tip: u64,
    },
    /// A pre-authorisation completion.
    Completion {
        /// Minor units.
        amount: u64,
        /// The card.
        card: Option<&'static TestCard>,
        /// The pre-authorisation's approval code.
        auth: AuthRef,
    },
    /// An offline sale, queued as an advice.
    Offline {
        /// Minor units.
        amount: u64,
        /// The card.
        card: Option<&'static TestCard>,
        /// A voice approval code.
        auth: Option<String>,
    },
    /// The chip card declines (second GENERATE AC) a sale the host approved: reversal 06.
    CardDeclined {
        /// Which record (by trace).
        target: Target,
    },
    /// Settle, with the supervisor password (the profile's when absent).
    Settle {
        /// The password typed.
        password: Option<String>,
    },
    /// Reprint the last receipt, or the last settlement slip.
    Reprint {
        /// The settlement slip rather than the last receipt.
        settlement: bool,
    },
    /// Turn the terminal off and on: the connection drops, the state is reloaded from the
    /// store and whatever was unfinished resumes (DESIGN §5).
    PowerCycle,
    /// Restart the terminal with a power cut armed: it loses power when it attempts its
    /// store write number `after_writes + 1` from now on.
    PowerLoss {
        /// Writes that still succeed.
        after_writes: usize,
    },
    /// Let time pass (deadlines and time-of-day auto-settlement are checked after).
    Wait(Duration),
    /// Set the terminal clock to this local time of day, today.
    SetTime {
        /// Hour, 0-23.
        hour: u8,
        /// Minute, 0-59.
        minute: u8,
    },
    /// Show the terminal's state (batch, records, totals, pending reversal).
    Status,
    /// Send the last request again, byte for byte, as a terminal retrying without a reversal
    /// would (its answer, a host's 94 for a duplicate, is shown but never given to the engine:
    /// the original was answered already).
    Resend,
}

impl Command {
    /// Parses one command line.
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        let mut words = line.split_whitespace();
        let word = words.next().ok_or(CommandError::Empty)?;
        let mut args = Args::new(word, words)?;
        let command = match args.word.as_str() {
            "sign_on" | "signon" | "logon" => Command::SignOn {
                password: args.option("password"),
            },
            "sign_off" | "signoff" | "logoff" => Command::SignOff,
            "echo" => Command::Echo,
            "settle" | "settlement" => Command::Settle {
                password: args.option("password"),
            },
            "reprint" => Command::Reprint {
                settlement: match args.positional().as_deref() {
                    None | Some("last") | Some("receipt") => false,
                    Some("settlement") | Some("slip") => true,
                    Some(other) => return Err(args.bad("what", other, "settlement or last")),
                },
            },
            "power_cycle" | "restart" | "power_on" => Command::PowerCycle,
            "power_loss" => Command::PowerLoss {
                after_writes: args.after_writes()?,
            },
            "wait" | "sleep" => Command::Wait(args.duration()?),
            "set_time" | "time" => {
                let text = args.positional().ok_or(args.missing("HH:MM"))?;
                let (hour, minute) =
                    parse_time_of_day(&text).ok_or_else(|| args.bad("time", &text, "HH:MM"))?;
                Command::SetTime { hour, minute }
            }
            "status" => Command::Status,
            "resend" | "repeat_last" => {
                match args.positional().as_deref() {
                    None | Some("last") => {}
                    Some(other) => return Err(args.bad("what", other, "last")),
                }
                Command::Resend
            }
            _ => financial(&mut args)?.ok_or_else(|| CommandError::Unknown(word.to_owned()))?,
        };
        args.finish()?;
        Ok(command)
    }

    /// The word naming the command.
    pub fn name(&self) -> &'static str {
        match self {
            Command::SignOn { .. } => "sign_on",
            Command::SignOff => "sign_off",
            Command::Echo => "echo",
            Command::Sale { .. } => "sale",
            Command::Void { .. } => "void",
            Command::Refund { .. } => "refund",
            Command::PreAuth { .. } => "pre_auth",
            Command::VoidPreAuth { .. } => "void_pre_auth",
            Command::TipAdjust { .. } => "tip",
            Command::Completion { .. } => "completion",
            Command::Offline { .. } => "offline",
            Command::CardDeclined { .. } => "card_declined",
            Command::Settle { .. } => "settle",
            Command::Reprint { .. } => "reprint",
            Command::PowerCycle => "power_cycle",
            Command::PowerLoss { .. } => "power_loss",
            Command::Wait(_) => "wait",
            Command::SetTime { .. } => "set_time",
            Command::Status => "status",
            Command::Resend => "resend",
        }
    }

    /// One line per command, for the shell's `help`.
    pub fn help() -> &'static str {
        "sign_on [password=P]          sign on (UnionPay: loads working keys)\n\
         sign_off                      sign off\n\
         echo                          echo test\n\
         sale AMOUNT [tip=T] [card=C]  sale, e.g. sale 12.50 card=visa-swipe\n\
         void last|INVOICE             void a sale of the open batch\n\
         refund AMOUNT [card=C] [rrn=R original=BATCH/TRACE/MMDD]  refund (of that sale)\n\
         tip last|INVOICE AMOUNT       adjust a sale's tip (international; advice queued)\n\
         pre_auth AMOUNT [card=C]      pre-authorisation\n\
         void_pre_auth last|INVOICE    void a pre-authorisation of the open batch\n\
         completion AMOUNT [auth=last|CODE] [card=C]\n\
         offline AMOUNT [auth=CODE] [card=C]  offline sale (queued advice)\n\
         card_declined last|TRACE      the chip declined after approval (reversal 06)\n\
         settle [password=P]           settle (supervisor password)\n\
         reprint [settlement]          reprint the last receipt or settlement slip\n\
         power_cycle                   restart; unfinished work resumes\n\
         power_loss after_writes=N     restart with a power cut after N store writes\n\
         wait 2s                       let time pass\n\
         set_time HH:MM                set the terminal clock\n\
         status                        batch, records, totals, pending reversal\n\
         resend                        send the last request again, byte for byte\n\
         cards                         list the test cards\n\
         help | quit"
    }
}

/// Shows the command as it would be typed.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let card =
            |c: &Option<&TestCard>| c.map(|c| format!(" card={}", c.name)).unwrap_or_default();
        let target = |t: &Target| match t {
            Target::Last => "last".to_owned(),
            Target::Number(n) => format!("{n:06}"),
        };
        match self {
            Command::Sale {
                amount,
                tip,
                card: c,
            } => {
                write!(f, "sale {}", format_amount(*amount))?;
                if *tip > 0 {
                    write!(f, " tip={}", format_amount(*tip))?;
                }
                f.write_str(&card(c))
            }
            Command::Refund {
                amount,
                card: c,
                original: Some(o),
            } => write!(
                f,
                "refund {}{} rrn={} original={:06}/{:06}/{}",
                format_amount(*amount),
                card(c),
                o.rrn,
                o.batch,
                o.trace,
                o.date
            ),
            Command::Refund {
                amount, card: c, ..
            }
            | Command::PreAuth { amount, card: c }
            | Command::Offline {
                amount, card: c, ..
            }
            | Command::Completion {
                amount, card: c, ..
            } => {
                write!(f, "{} {}{}", self.name(), format_amount(*amount), card(c))
            }
            Command::Void { target: t }
            | Command::CardDeclined { target: t }
            | Command::VoidPreAuth { target: t } => write!(f, "{} {}", self.name(), target(t)),
            Command::TipAdjust { target: t, tip } => {
                write!(f, "tip {} {}", target(t), format_amount(*tip))
            }
            Command::Reprint { settlement: true } => f.write_str("reprint settlement"),
            Command::PowerLoss { after_writes } => {
                write!(f, "power_loss after_writes={after_writes}")
            }
            Command::Wait(d) => write!(f, "wait {}ms", d.as_millis()),
            Command::SetTime { hour, minute } => write!(f, "set_time {hour:02}:{minute:02}"),
            other => f.write_str(other.name()),
        }
    }
}

/// The card transactions, or `None` when the word names none.
fn financial(args: &mut Args) -> Result<Option<Command>, CommandError> {
    Ok(Some(match args.word.as_str() {
        "sale" => Command::Sale {
            amount: args.amount()?,
            tip: args.option_amount("tip")?.unwrap_or(0),
            card: args.card()?,
        },
        "void" => Command::Void {
            target: args.target("invoice")?,
        },
        "refund" => Command::Refund {
            amount: args.amount()?,
            card: args.card()?,
            original: args.refund_original()?,
        },
        "void_pre_auth" | "void_preauth" | "pre_auth_void" | "preauth_void" => {
            Command::VoidPreAuth {
                target: args.target("invoice")?,
            }
        }
        "tip" | "tip_adjust" | "adjust" => Command::TipAdjust {
            target: args.target("invoice")?,
            tip: args.tip()?,
        },
        "pre_auth" | "preauth" => Command::PreAuth {
            amount: args.amount()?,
            card: args.card()?,
        },
        "completion" | "complete" => Command::Completion {
            amount: args.amount()?,
            card: args.card()?,
            auth: match args.option("auth").as_deref() {
                None | Some("last") => AuthRef::Last,
                Some(code) => AuthRef::Code(code.to_owned()),
            },
        },
        "offline" | "offline_sale" => Command::Offline {
            amount: args.amount()?,
            card: args.card()?,
            auth: args.option("auth"),
        },
        "card_declined" | "decline" => Command::CardDeclined {
            target: args.target("trace")?,
        },
        _ => return Ok(None),
    }))
}

/// The words after the command word.
struct Args {
    word: String,
    positional: Vec<String>,
    options: Vec<(String, String)>,
}

impl Args {
    fn new<'a>(word: &str, rest: impl Iterator<Item = &'a str>) -> Result<Args, CommandError> {
        let mut args = Args {
            word: word.to_ascii_lowercase().replace('-', "_"),
            positional: Vec::new(),
            options: Vec::new(),
        };
        for item in rest {
            match item.split_once('=') {
                Some((k, v)) if !k.is_empty() => args.options.push((k.to_owned(), v.to_owned())),
                Some(_) => return Err(args.bad("option", item, "key=value")),
                None => args.positional.push(item.to_owned()),
            }
        }
        args.positional.reverse();
        Ok(args)
    }

    fn positional(&mut self) -> Option<String> {
        self.positional.pop()
    }

    fn option(&mut self, key: &str) -> Option<String> {
        let i = self.options.iter().position(|(k, _)| k == key)?;
        Some(self.options.remove(i).1)
    }

    fn amount(&mut self) -> Result<u64, CommandError> {
        let text = self.positional().ok_or(self.missing("AMOUNT"))?;
        positive(parse_amount(&text))
            .ok_or_else(|| self.bad("amount", &text, "like 12.50 or 12 (two decimals or none)"))
    }

    /// The new tip of `tip TARGET AMOUNT`: zero allowed, it takes the tip away.
    fn tip(&mut self) -> Result<u64, CommandError> {
        let text = self.positional().ok_or(self.missing("AMOUNT"))?;
        parse_amount(&text).ok_or_else(|| self.bad("tip", &text, "like 2.50"))
    }

    fn option_amount(&mut self, key: &'static str) -> Result<Option<u64>, CommandError> {
        match self.option(key) {
            None => Ok(None),
            Some(text) => parse_amount(&text)
                .map(Some)
                .ok_or_else(|| self.bad(key, &text, "like 1.50")),
        }
    }

    /// `rrn=RRN original=BATCH/TRACE/MMDD`, both or neither.
    fn refund_original(&mut self) -> Result<Option<RefundOriginal>, CommandError> {
        let (rrn, original) = match (self.option("rrn"), self.option("original")) {
            (None, None) => return Ok(None),
            (Some(rrn), Some(original)) => (rrn, original),
            (None, Some(_)) => return Err(self.missing("rrn=RRN")),
            (Some(_), None) => return Err(self.missing("original=BATCH/TRACE/MMDD")),
        };
        if rrn.len() != 12 || !rrn.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(self.bad("rrn", &rrn, "12 letters or digits (field 37)"));
        }
        let bad = || {
            self.bad(
                "original",
                &original,
                "BATCH/TRACE/MMDD, like 000001/000042/1203",
            )
        };
        let parts: Vec<&str> = original.split('/').collect();
        let [batch, trace, date] = parts.as_slice() else {
            return Err(bad());
        };
        let number = |t: &str| t.parse::<u32>().ok().filter(|n| (1..=999_999).contains(n));
        let date_ok = date.len() == 4 && date.bytes().all(|b| b.is_ascii_digit());
        match (number(batch), number(trace), date_ok) {
            (Some(batch), Some(trace), true) => Ok(Some(RefundOriginal {
                rrn,
                batch,
                trace,
                date: (*date).to_owned(),
            })),
            _ => Err(bad()),
        }
    }

    fn card(&mut self) -> Result<Option<&'static TestCard>, CommandError> {
        match self.option("card") {
            None => Ok(None),
            Some(name) => cards::find(&name)
                .map(Some)
                .ok_or(CommandError::UnknownCard(name)),
        }
    }

    fn target(&mut self, what: &'static str) -> Result<Target, CommandError> {
        let text = self
            .positional()
            .or_else(|| self.option(what))
            .unwrap_or_else(|| "last".to_owned());
        if text == "last" {
            return Ok(Target::Last);
        }
        match text.parse::<u32>() {
            Ok(n) if (1..=999_999).contains(&n) => Ok(Target::Number(n)),
            _ => Err(self.bad(what, &text, "last or 1 to 999999")),
        }
    }

    fn after_writes(&mut self) -> Result<usize, CommandError> {
        let text = self
            .option("after_writes")
            .or_else(|| self.positional())
            .ok_or(self.missing("after_writes=N"))?;
        text.parse()
            .map_err(|_| self.bad("after_writes", &text, "a number of writes"))
    }

    fn duration(&mut self) -> Result<Duration, CommandError> {
        let text = self.positional().ok_or(self.missing("DURATION"))?;
        parse_duration(&text).ok_or_else(|| self.bad("duration", &text, "like 2s or 300ms"))
    }

    fn missing(&self, what: &'static str) -> CommandError {
        CommandError::Missing {
            command: self.word.clone(),
            what,
        }
    }

    fn bad(&self, what: &'static str, found: &str, expected: &'static str) -> CommandError {
        CommandError::BadValue {
            command: self.word.clone(),
            what,
            found: found.to_owned(),
            expected,
        }
    }

    /// Anything left over is a mistake, not something to ignore.
    fn finish(mut self) -> Result<(), CommandError> {
        if let Some(extra) = self.positional.pop() {
            return Err(CommandError::Extra {
                command: self.word,
                found: extra,
            });
        }
        if let Some((key, _)) = self.options.pop() {
            return Err(CommandError::Extra {
                command: self.word,
                found: format!("{key}="),
            });
        }
        Ok(())
    }
}

fn positive(amount: Option<u64>) -> Option<u64> {
    amount.filter(|a| *a > 0)
}

/// `300ms`, `2s`, `1.5s` or `1m`, at most an hour (a scenario step that waits longer is a
/// mistake).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
    let ms = match unit {
        "ms" => value,
        "s" => value * 1000.0,
        "m" | "min" => value * 60_000.0,
        _ => return None,
    };
    (ms <= 3_600_000.0).then(|| Duration::from_millis(ms.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_examples() {
        assert_eq!(
            Command::parse("sale 12.50 card=visa-swipe").unwrap(),
            Command::Sale {
                amount: 1250,
                tip: 0,
                card: cards::find("visa-swipe"),
            }
        );
        assert_eq!(
            Command::parse("void last").unwrap(),
            Command::Void {
                target: Target::Last
            }
        );
        assert_eq!(
            Command::parse("sign-on").unwrap(),
            Command::SignOn { password: None }
        );
        assert_eq!(
            Command::parse("wait 2s").unwrap(),
            Command::Wait(Duration::from_secs(2))
        );
        assert_eq!(
            Command::parse("set_time 23:30").unwrap(),
            Command::SetTime {
                hour: 23,
                minute: 30
            }
        );
        assert_eq!(
            Command::parse("power_loss after_writes=2").unwrap(),
            Command::PowerLoss { after_writes: 2 }
        );
        assert_eq!(
            Command::parse("settle password=000000").unwrap(),
            Command::Settle {
                password: Some("000000".into())
            }
        );
    }

    #[test]
    fn mistakes_are_refused_with_what_was_wrong() {
        let err = |line: &str| Command::parse(line).unwrap_err().to_string();
        assert!(err("").contains("empty"));
        assert!(err("dance").contains("dance"));
        assert!(err("sale").contains("AMOUNT"));
        assert!(err("sale 12.345").contains("12.345"));
        assert!(err("sale 1.5").contains("two decimals or none"));
        assert!(err("sale 10.00 tip=0.5").contains("tip"));
        assert!(err("sale 0").contains("amount"));
        assert!(err("sale 1 card=amex-gold").contains("amex-gold"));
        assert!(err("sale 1 colour=red").contains("colour"));
        assert!(err("echo now").contains("now"));
        assert!(err("void 0").contains("invoice"));
        assert!(err("wait forever").contains("forever"));
        assert!(err("set_time 25:00").contains("25:00"));
    }

    #[test]
    fn display_reads_back_as_the_same_command() {
        for line in [
            "sale 12.50 tip=1.00 card=mc-keyed",
            "void 000003",
            "refund 5.00 card=cup-swipe",
            "refund 5.00 card=cup-swipe rrn=123456789012 original=000007/000042/1130",
            "reprint settlement",
            "tip 000002 2.50",
            "tip last 0.00",
            "void_pre_auth last",
            "void_pre_auth 000004",
            "power_loss after_writes=3",
            "wait 300ms",
            "set_time 07:05",
            "settle",
            "resend",
        ] {
            let command = Command::parse(line).unwrap();
            assert_eq!(
                Command::parse(&command.to_string()).unwrap(),
                command,
                "{line}"
            );
        }
    }

    #[test]
    fn a_refund_names_its_sale_with_both_keys_or_neither() {
        let refund = Command::parse("refund 5.00 rrn=123456789012 original=7/42/1130").unwrap();
        let Command::Refund {
            original: Some(o), ..
        } = refund
        else {
            panic!("{refund:?}");
        };
        assert_eq!(
            (o.rrn.as_str(), o.batch, o.trace, o.date.as_str()),
            ("123456789012", 7, 42, "1130")
        );
        let err = |line: &str| Command::parse(line).unwrap_err().to_string();
        assert!(err("refund 5.00 original=7/42/1130").contains("rrn"));
        assert!(err("refund 5.00 rrn=123456789012").contains("original"));
        assert!(err("refund 5.00 rrn=12345 original=7/42/1130").contains("12 letters"));
        assert!(err("refund 5.00 rrn=123456789012 original=7/42").contains("BATCH/TRACE/MMDD"));
        assert!(err("refund 5.00 rrn=123456789012 original=0/42/1130").contains("BATCH"));
    }

    #[test]
    fn tip_and_pre_auth_void_take_a_target() {
        assert_eq!(
            Command::parse("tip last 2.50").unwrap(),
            Command::TipAdjust {
                target: Target::Last,
                tip: 250
            }
        );
        assert_eq!(
            Command::parse("tip-adjust 3 0").unwrap(),
            Command::TipAdjust {
                target: Target::Number(3),
                tip: 0
            }
        );
        assert_eq!(
            Command::parse("void-pre-auth").unwrap(),
            Command::VoidPreAuth {
                target: Target::Last
            }
        );
        let err = |line: &str| Command::parse(line).unwrap_err().to_string();
        assert!(err("tip last").contains("AMOUNT"));
        assert!(err("tip last 1.234").contains("1.234"));
        assert!(err("tip 0 1.00").contains("invoice"));
        assert!(err("tip last 1.00 2.00").contains("2.00"));
        assert!(err("void_pre_auth last now").contains("now"));
    }

    #[test]
    fn resend_takes_last_or_nothing() {
        assert_eq!(Command::parse("resend").unwrap(), Command::Resend);
        assert_eq!(Command::parse("resend last").unwrap(), Command::Resend);
        assert!(Command::parse("resend 000003").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("2h"), None);
        assert_eq!(parse_duration("61m"), None);
        assert_eq!(parse_duration("s"), None);
    }
}
