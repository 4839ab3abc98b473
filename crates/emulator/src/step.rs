//! What one command did: the messages exchanged, the prompts shown, the outcomes, what was
//! printed, and whether the host could be reached. The terminal fills a [`Step`]; the modes
//! print it (`print.rs`) and the scenario runner checks it against expectations.
//!
//! A step keeps the engine's own values (prompts, outcomes, reports) rather than text, so
//! that a busy terminal (the load mode) formats nothing it does not show.

use iso8583_codec::Mti;
use iso8583_settle::{Outcome, Printout, Prompt, Purpose, Rejected, Report, Time, TxnKind};

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Answered, and the answer was given to the engine.
    Answered,
    /// Answered with a MAC that did not verify.
    BadMac,
    /// A sign-on answered with keys whose check values did not match: the keys were refused.
    KeysRejected,
    /// No answer in time.
    NoAnswer,
    /// Answered from another NII (the TPDU not swapped back): not trusted, as no answer.
    WrongTpdu,
    /// The connection ended before an answer.
    Disconnected,
    /// No connection could be made.
    Unreachable,
    /// Not sent: the message needs a MAC and the terminal has no MAC key (not signed on).
    NoKey,
}

impl Fate {
    /// A short word for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Answered => "answered",
            Fate::BadMac => "bad_mac",
            Fate::KeysRejected => "keys_rejected",
            Fate::NoAnswer => "no_answer",
            Fate::WrongTpdu => "wrong_tpdu",
            Fate::Disconnected => "disconnected",
            Fate::Unreachable => "unreachable",
            Fate::NoKey => "no_key",
        }
    }
}

/// One request and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The request's MTI.
    pub mti: Mti,
    /// Why it was sent.
    pub purpose: Purpose,
    /// Its trace number.
    pub trace: u32,
    /// Field 3, when the request has one.
    pub processing_code: Option<String>,
    /// UnionPay 60.3, when the request has field 60.
    pub network_code: Option<String>,
    /// For a 0320: how many records it carries.
    pub records: usize,
    /// The response's MTI.
    pub reply: Option<Mti>,
    /// The response's field 39 (empty when it had none).
    pub code: Option<String>,
    /// A UnionPay 0510's two field 48 flags, domestic then foreign (`1` balanced, `2` not,
    /// `3` error; DESIGN §5).
    pub flags: Option<String>,
    /// How it ended.
    pub fate: Fate,
}

/// Something the terminal itself decided, not the settlement engine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// The engine refused the request locally; nothing was sent.
    Refused(Rejected),
    /// The password typed is not the profile's.
    WrongPassword,
    /// The profile requires a sign-on before transactions (or the keys are gone).
    SignOnFirst,
    /// The sign-on's working keys did not match their check values: still signed off.
    KeyCheckFailed,
    /// The UnionPay header asked for a new sign-on (processing requirement 3).
    HostAsksSignOn,
    /// The terminal lost power; `power_cycle` turns it on again.
    PowerLost,
    /// The terminal is off.
    PowerOff,
    /// The host could not be reached.
    Unreachable,
    /// Nothing in the open batch qualifies for a void (or a card decline).
    NothingToVoid,
    /// No pre-authorisation in the open batch to complete.
    NoPreAuth,
    /// No receipt to reprint.
    NothingToPrint,
    /// No settlement slip to reprint: no batch has closed on this terminal.
    NoSlipToPrint,
    /// No request was sent yet that `resend` could send again.
    NothingToResend,
    /// The terminal turned on and reloaded its state.
    PoweredOn,
}

/// A prompt as the terminal shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// The engine's prompt.
    Engine(Prompt),
    /// The terminal's own.
    Local(Notice),
}

/// A transaction receipt's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// What it was.
    pub kind: TxnKind,
    /// Trace number.
    pub trace: u32,
    /// Invoice number.
    pub invoice: u32,
    /// The open batch.
    pub batch: u32,
    /// PAN, masked.
    pub pan: String,
    /// POS entry mode.
    pub entry_mode: String,
    /// Amount without tip.
    pub amount: u64,
    /// Tip.
    pub tip: u64,
    /// Approval code.
    pub auth_code: String,
    /// Retrieval reference number.
    pub rrn: String,
    /// When.
    pub at: Time,
    /// Stored and queued as an advice rather than approved online.
    pub queued: bool,
    /// A reprint.
    pub reprint: bool,
}

/// Something printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printed {
    /// A transaction receipt.
    Receipt(Receipt),
    /// A settlement slip (`reprint` when printed again).
    Slip {
        /// The report.
        report: Report,
        /// Printed again on request.
        reprint: bool,
    },
    /// The engine's other printouts ("REVERSAL FAILED").
    Other(Printout),
}

/// The terminal's state, for `status` and for expectations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// False while powered off.
    pub powered: bool,
    /// The open batch.
    pub batch: u32,
    /// Records in the batch log.
    pub records: usize,
    /// Capacity.
    pub capacity: u16,
    /// A reversal is pending (its trace).
    pub reversal: Option<u32>,
    /// A settlement is pending.
    pub settlement_pending: bool,
    /// Signed on (or needs no sign-on).
    pub signed_on: bool,
    /// Connected to the host.
    pub connected: bool,
    /// Totals as (label, count, amount): `SALE`/`REFUND`, or UnionPay `DEBIT`/`CREDIT` over both
    /// card groups.
    pub totals: Vec<(&'static str, u64, u64)>,
}

impl Status {
    /// The count and amount of a totals line.
    pub fn total(&self, label: &str) -> Option<(u64, u64)> {
        self.totals
            .iter()
            .find(|(l, _, _)| l.eq_ignore_ascii_case(label))
            .map(|(_, c, a)| (*c, *a))
    }
}

/// Everything one command did.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The messages exchanged, in order.
    pub exchanges: Vec<Exchange>,
    /// The prompts shown, in order.
    pub prompts: Vec<Shown>,
    /// How the operator's requests ended.
    pub outcomes: Vec<Outcome>,
    /// What was printed.
    pub printed: Vec<Printed>,
    /// Why the host could not be reached, if it could not.
    pub unreachable: Option<String>,
    /// An engine failure other than a refusal or a power loss (a corrupt store, a bug).
    pub failure: Option<String>,
    /// The terminal lost power during the step.
    pub power_lost: bool,
    /// Connections to the host opened during the step.
    pub connections: u64,
    /// The state after the step (filled by `status` and by the scenario runner).
    pub status: Option<Status>,
}

impl Step {
    /// The request MTIs sent, in order.
    pub fn sent(&self) -> impl Iterator<Item = Mti> + '_ {
        self.exchanges
            .iter()
            .filter(|e| e.fate != Fate::NoKey)
            .map(|e| e.mti)
    }

    /// The response codes received, in order.
    pub fn codes(&self) -> impl Iterator<Item = &str> + '_ {
        self.exchanges.iter().filter_map(|e| e.code.as_deref())
    }

    /// The last response code received.
    pub fn last_code(&self) -> Option<&str> {
        self.codes().last()
    }

    /// The settlement reports printed.
    pub fn reports(&self) -> impl Iterator<Item = &Report> + '_ {
        self.printed.iter().filter_map(|p| match p {
            Printed::Slip { report, .. } => Some(report),
            _ => None,
        })
    }

    /// The local refusal, if the engine refused the request.
    pub fn refused(&self) -> Option<&Rejected> {
        self.prompts.iter().find_map(|p| match p {
            Shown::Local(Notice::Refused(r)) => Some(r),
            _ => None,
        })
    }

    pub(crate) fn notice(&mut self, notice: Notice) {
        self.prompts.push(Shown::Local(notice));
    }
}
