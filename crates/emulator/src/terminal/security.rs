//! One exchange with the host, and the security around it: field 64 on the way out, the
//! response MAC and the UnionPay working keys on the way back (DESIGN §4).
//!
//! Which messages carry a MAC: the financial ones, 0100, 0200, 0220 and 0400, when the
//! profile names a MAC algorithm. Network management (08xx) and reconciliation (0500, 0320)
//! go without, as the test host expects (`iso8583-host`). A response to a MACed request must
//! carry a MAC that verifies when it approves (39 = `00`); a refusal may come without one, as
//! hosts commonly answer a MAC error (`A0`) unsigned. A MAC that is present is always checked.
//!
//! A sign-on answered `00` delivers the working keys in field 62 (UnionPay, 60.3 `003`: 40
//! bytes). They are unwrapped under the master key and each checked against its check value;
//! a mismatch refuses them all and the terminal stays signed off (DESIGN §4).

use std::time::Duration;

use bytes::Bytes;
use iso8583_codec::{Message, Mti};
use iso8583_crypto::{Field62Layout, WorkingKeys};
use iso8583_settle::{Error, Outgoing, Output, Purpose, Time};
use iso8583_wire::{ProcessingRequirement, Response};

use super::Terminal;
use crate::link::Reply;
use crate::profile::DialectName;
use crate::step::{Exchange, Fate, Notice, Step};

/// The placeholder field 64 the MAC is computed behind: the MAC covers every byte before it.
static NO_MAC: [u8; 8] = [0; 8];

/// True for the requests that carry field 64 when the profile uses MACs (module docs).
fn carries_mac(mti: Mti) -> bool {
    matches!(mti.as_str(), "0100" | "0200" | "0220" | "0400")
}

/// A request as it went, kept for `resend`: its bytes (MAC included) and what the exchange
/// log shows of it. A clone of the bytes is a reference count, not a copy.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    body: Bytes,
    exchange: Exchange,
}

impl Terminal {
    /// Sends the last request again, byte for byte, as a terminal retrying without a reversal
    /// would (DESIGN §8, "duplicate trace answered 94"). The answer is logged in the step and
    /// never given to the engine: the original was answered (or reversed) already, so a 94
    /// here must not be taken for the original's answer.
    pub(super) async fn resend(&mut self, step: &mut Step) {
        let Some(Sent { body, mut exchange }) = self.last_sent.clone() else {
            step.notice(Notice::NothingToResend);
            return;
        };
        let wait = self.profile.response_timeout();
        exchange.fate = match self.link.exchange(body, self.header, wait).await {
            Reply::Answer(response) => match response.message() {
                Ok(message) => {
                    exchange.reply = Some(message.mti());
                    let code = message.field(39).and_then(|f| f.as_str()).unwrap_or("");
                    exchange.code = Some(code.to_owned());
                    Fate::Answered
                }
                Err(_) => Fate::NoAnswer,
            },
            Reply::NoAnswer => Fate::NoAnswer,
            Reply::WrongTpdu => Fate::WrongTpdu,
            Reply::Disconnected => Fate::Disconnected,
            Reply::Unreachable(why) => {
                step.notice(Notice::Unreachable);
                step.unreachable = Some(why);
                Fate::Unreachable
            }
        };
        step.exchanges.push(exchange);
    }

    /// Sends one message the engine asked for and gives the engine what came of it.
    pub(super) async fn exchange(
        &mut self,
        outgoing: Outgoing,
        deadline: Option<Time>,
        step: &mut Step,
    ) -> Result<Output, Error> {
        let mut record = self.describe(&outgoing);
        let now = self.clock.now();
        let wait = deadline.map_or(self.profile.response_timeout(), |d| {
            Duration::from_millis(d.0.saturating_sub(now.0).max(1))
        });
        let reply = match (self.sealed(&outgoing), &step.unreachable) {
            (None, _) => {
                step.notice(Notice::SignOnFirst);
                record.fate = Fate::NoKey;
                None
            }
            // Within one command, a host found unreachable is not tried again for each
            // message the engine sends after it: those are not sent either.
            (Some(_), Some(why)) => Some(Reply::Unreachable(why.clone())),
            (Some(body), None) => {
                self.last_sent = Some(Sent {
                    body: body.clone(),
                    exchange: record.clone(),
                });
                Some(self.link.exchange(body, self.header, wait).await)
            }
        };
        let now = self.clock.now();
        let out = match reply {
            Some(Reply::Answer(response)) => {
                self.answered(&outgoing, &response, now, &mut record, step)
            }
            Some(Reply::NoAnswer) => self.unanswered(Fate::NoAnswer, &mut record, now),
            Some(Reply::WrongTpdu) => self.unanswered(Fate::WrongTpdu, &mut record, now),
            Some(Reply::Disconnected) => self.unanswered(Fate::Disconnected, &mut record, now),
            Some(Reply::Unreachable(why)) => {
                if step.unreachable.is_none() {
                    step.notice(Notice::Unreachable);
                    step.unreachable = Some(why);
                }
                self.never_sent(&mut record, now)
            }
            None => self.unanswered(Fate::NoKey, &mut record, now),
        };
        step.exchanges.push(record);
        out
    }

    /// No connection could be opened, so not a byte of the request was written: the engine
    /// drops the reversal it stored for it ([`iso8583_settle::Engine::not_sent`]). A request
    /// whose bytes may have left (a connection that broke while writing) is `unanswered`.
    fn never_sent(&mut self, record: &mut Exchange, now: Time) -> Result<Output, Error> {
        record.fate = Fate::Unreachable;
        match self.engine.as_mut() {
            Some(engine) => engine.not_sent(now),
            None => Ok(Output::default()),
        }
    }

    fn unanswered(
        &mut self,
        fate: Fate,
        record: &mut Exchange,
        now: Time,
    ) -> Result<Output, Error> {
        record.fate = fate;
        match self.engine.as_mut() {
            Some(engine) => engine.timeout(now),
            None => Ok(Output::default()),
        }
    }

    /// An answer: keys first (a sign-on), then the MAC, then the engine; the UnionPay header's
    /// request for a new sign-on is applied after the engine has taken the answer.
    fn answered(
        &mut self,
        outgoing: &Outgoing,
        response: &Response,
        now: Time,
        record: &mut Exchange,
        step: &mut Step,
    ) -> Result<Output, Error> {
        let Ok(message) = response.message() else {
            return self.unanswered(Fate::NoAnswer, record, now);
        };
        let code = message.field(39).and_then(|f| f.as_str()).unwrap_or("");
        record.reply = Some(message.mti());
        record.code = Some(code.to_owned());
        if message.mti().as_str() == "0510" && self.profile.dialect == DialectName::Cup {
            let digits = message.field(48).map(|f| f.to_vec()).unwrap_or_default();
            record.flags = [digits.get(30), digits.get(61)]
                .iter()
                .map(|d| d.map(|b| char::from(*b)))
                .collect();
        }
        if outgoing.purpose() == Purpose::SignOn && code == "00" {
            if let Err(why) = self.load_keys(&message) {
                tracing::debug!(why, "working keys refused: still signed off");
                step.notice(Notice::KeyCheckFailed);
                return self.unanswered(Fate::KeysRejected, record, now);
            }
        }
        let mac_ok = self.response_mac_ok(outgoing, &message, code);
        let Some(engine) = self.engine.as_mut() else {
            return Ok(Output::default());
        };
        let out = if mac_ok {
            record.fate = Fate::Answered;
            engine.response(&message, now)
        } else {
            tracing::debug!(mti = message.mti().as_str(), "response MAC does not verify");
            record.fate = Fate::BadMac;
            engine.response_bad_mac(&message, now)
        };
        let again = response
            .frame()
            .header
            .is_some_and(|h| h.processing_requirement() == ProcessingRequirement::SignOnAgain);
        if again {
            self.signed_on = false;
            step.notice(Notice::HostAsksSignOn);
        }
        out
    }

    /// The message bytes to send: as built, or with field 64 appended and computed. `None` when
    /// a MAC is needed and cannot be made (no MAC key: not signed on).
    fn sealed(&self, outgoing: &Outgoing) -> Option<Bytes> {
        let mac = match &self.mac {
            Some(mac) if carries_mac(outgoing.mti()) => mac,
            _ => return Some(Bytes::copy_from_slice(outgoing.bytes())),
        };
        let key = self.keys.mac.as_ref()?;
        let mut builder = outgoing.builder();
        builder.set(64, &NO_MAC[..]).ok()?;
        let mut bytes = builder.to_bytes();
        // Field 64 is the last field and 8 raw bytes in both terminal specs (DESIGN §3).
        let split = bytes.len().checked_sub(NO_MAC.len())?;
        let (data, field64) = bytes.split_at_mut(split);
        match mac.compute(key, data) {
            Ok(value) => field64.copy_from_slice(&value),
            Err(error) => {
                tracing::debug!(%error, "no MAC can be computed with this key");
                return None;
            }
        }
        Some(bytes.freeze())
    }

    fn response_mac_ok(&self, outgoing: &Outgoing, message: &Message<'_>, code: &str) -> bool {
        let mac = match &self.mac {
            Some(mac) if carries_mac(outgoing.mti()) => mac,
            _ => return true,
        };
        let Some(key) = &self.keys.mac else {
            return false;
        };
        match message.field(64) {
            None => code != "00",
            Some(_) => mac.verify_message(key, message, 64).is_ok(),
        }
    }

    /// Unwraps and checks the working keys of a UnionPay sign-on reply (module docs).
    fn load_keys(&mut self, message: &Message<'_>) -> Result<(), String> {
        if self.profile.dialect != DialectName::Cup {
            return Ok(());
        }
        let Some(field62) = message.field(62) else {
            return match self.mac {
                Some(_) => Err("the sign-on reply carries no working keys".into()),
                None => Ok(()),
            };
        };
        let tmk = self.master.as_ref().ok_or("no master key in the profile")?;
        let bytes = field62.to_vec();
        let layout = Field62Layout::from_len(bytes.len())
            .ok_or_else(|| format!("field 62 of {} bytes is no key layout", bytes.len()))?;
        let keys = WorkingKeys::from_field62(tmk, &bytes, layout).map_err(|e| e.to_string())?;
        self.keys.mac = Some(keys.mac);
        self.keys.pin = Some(keys.pin);
        Ok(())
    }

    /// What the exchange log keeps of a request.
    fn describe(&self, outgoing: &Outgoing) -> Exchange {
        let text = |n| outgoing.field(n).and_then(|v| std::str::from_utf8(v).ok());
        let network_code = match self.profile.dialect {
            DialectName::Cup => text(60).and_then(|v| v.get(8..11)).map(str::to_owned),
            DialectName::Intl => None,
        };
        let records = match outgoing.purpose() {
            Purpose::Upload if outgoing.field(2).is_none() && network_code.is_some() => text(48)
                .and_then(|v| v.get(..2))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            Purpose::Upload => 1,
            _ => 0,
        };
        Exchange {
            mti: outgoing.mti(),
            purpose: outgoing.purpose(),
            trace: outgoing.trace(),
            processing_code: text(3).map(str::to_owned),
            network_code,
            records,
            reply: None,
            code: None,
            flags: None,
            fate: Fate::NoAnswer,
        }
    }
}
