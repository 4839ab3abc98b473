//! What the engine asks its caller to do: messages to send, prompts to show, slips to print,
//! transaction outcomes, and the next deadline. The caller owns the socket, the screen, the
//! printer and the clock (STYLE §7).

use std::fmt;

use iso8583_codec::{Builder, Mti, Spec};

use crate::record::TxnKind;
use crate::report::Report;

/// Why a message is being sent; the engine matches the answer against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// An online request (0100, 0200) that adds or voids a record.
    Online(TxnKind),
    /// A 0400 reversal.
    Reversal,
    /// A 0220 advice.
    Advice,
    /// The 0220 advice of a tip adjustment (international).
    TipAdjust,
    /// The 0500 (`trailer` for the international 960000 one).
    Reconcile {
        /// True for the 960000 trailer.
        trailer: bool,
    },
    /// A 0320 upload.
    Upload,
    /// The UnionPay closing 0320.
    Closing,
    /// A sign-on 0800.
    SignOn,
    /// An echo test.
    Echo,
    /// A sign-off 0820.
    SignOff,
}

/// A message for the caller to frame, MAC and send.
#[derive(Clone)]
pub struct Outgoing {
    spec: &'static Spec,
    mti: Mti,
    trace: u32,
    purpose: Purpose,
    fields: Vec<(u16, Vec<u8>)>,
    bytes: Vec<u8>,
}

impl Outgoing {
    /// Builds and checks the message with the codec builder.
    pub(crate) fn build(
        spec: &'static Spec,
        mti: &'static str,
        trace: u32,
        purpose: Purpose,
        fields: Vec<(u16, Vec<u8>)>,
    ) -> Result<Outgoing, iso8583_codec::Error> {
        let mti = Mti::new(mti).ok_or_else(|| bad_mti(mti))?;
        let mut builder = Builder::new(spec, mti);
        for (n, v) in &fields {
            builder.set(*n, v.as_slice())?;
        }
        let bytes = builder.to_bytes().to_vec();
        Ok(Outgoing {
            spec,
            mti,
            trace,
            purpose,
            fields,
            bytes,
        })
    }

    /// The MTI.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Field 11.
    pub fn trace(&self) -> u32 {
        self.trace
    }

    /// Why it is sent.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// The encoded message body (no MAC: field 64 is the caller's, see [`Outgoing::builder`]).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A builder holding every field, for a caller that adds field 64 before sending.
    pub fn builder(&self) -> Builder<'static, '_> {
        let mut builder = Builder::new(self.spec, self.mti);
        for (n, v) in &self.fields {
            // Every value was accepted by the same spec in `build`.
            let _ = builder.set(*n, v.as_slice());
        }
        builder
    }

    /// The logical value of field `n`, if set.
    pub fn field(&self, n: u16) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_slice())
    }
}

fn bad_mti(mti: &str) -> iso8583_codec::Error {
    let (offset, byte) = mti
        .bytes()
        .enumerate()
        .find(|(_, b)| !b.is_ascii_digit())
        .unwrap_or((mti.len(), 0));
    iso8583_codec::Error::InvalidMti {
        offset,
        found: iso8583_codec::Found::Byte(byte),
    }
}

/// Sensitive fields are masked by the codec's builder `Debug`. A UnionPay group upload carries
/// PANs inside field 48, which the spec cannot mark (the field also carries totals), so it is
/// shown with each PAN masked instead (`dialect::mask_group_48`).
impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut builder = self.builder();
        let group48 = match (self.purpose, builder.get(2)) {
            (Purpose::Upload, None) if self.spec.name() == "cup-pos" => builder.remove(48),
            _ => None,
        };
        let mut s = f.debug_struct("Outgoing");
        s.field("purpose", &self.purpose).field("message", &builder);
        if let Some(v) = group48 {
            s.field("field48", &crate::dialect::mask_group_48(&v));
        }
        s.finish()
    }
}

/// Something to show the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Prompt {
    /// The log reached the warning threshold.
    SettleSoon {
        /// Records in the log.
        count: u16,
        /// Capacity.
        capacity: u16,
    },
    /// The batch is full or a total is near overflow: record-adding transactions are refused.
    StorageFull,
    /// No answer came: the request will be reversed.
    NoResponse,
    /// The host wants a new sign-on (response A0, or 77 to a UnionPay 0500).
    SignOnRequired,
    /// The response MAC did not verify; the request is reversed with reason A0.
    BadMac,
    /// The reply cannot be trusted (no response code, or an approval for another amount); the
    /// request is reversed with reason 06.
    InvalidResponse,
    /// Settlement started without the operator (count, amount, time of day, overflow).
    AutoSettlement,
    /// The settlement stopped; the batch stays open or pending as the reason says.
    SettlementFailed(SettleFailure),
    /// A sign-on was accepted.
    SignedOn,
    /// An echo was answered 00.
    EchoOk,
    /// An echo was answered with another code (empty when the reply carried none): "ECHO
    /// FAILED" and the code.
    EchoFailed(String),
    /// A sign-off was answered 00.
    SignedOff,
    /// A sign-off was answered with another code (empty when none): "SIGN OFF FAILED".
    SignOffFailed(String),
}

/// Why a settlement did not close the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettleFailure {
    /// No answer: the settlement stays pending and sales stay blocked.
    NoResponse,
    /// An advice could not be delivered (timeout): settlement stays pending.
    AdviceNotDelivered,
    /// The reversal could not be delivered: settlement stays pending.
    ReversalNotDelivered,
    /// A 0500 or 0320 could not be sent at all (no connection could be opened): nothing
    /// reached the host, the settlement stays where it was (pending, sales blocked) and the
    /// next try sends the same message.
    HostUnreachable,
    /// The host answered with this code; the batch stays open.
    Declined(String),
    /// The trailer was answered 95: the batch stays open and the next settlement starts again.
    TrailerOutOfBalance,
    /// UnionPay 77: batch number mismatch, sign on to adopt the host's number.
    BatchMismatch,
    /// "UPLOAD FAILED": the host refused a 0320 (this code in its 0330) on every one of the
    /// configured upload tries. The batch stays open with no record counted as uploaded; a
    /// later settlement starts again at the 0500.
    UploadFailed {
        /// The last refusal's code (empty when the 0330 carried none).
        code: String,
    },
}

impl Prompt {
    /// The English text a terminal shows.
    pub fn text(&self) -> &'static str {
        match self {
            Prompt::SettleSoon { .. } => "BATCH NEARLY FULL, PLEASE SETTLE SOON",
            Prompt::StorageFull => "STORAGE FULL, PLEASE SETTLE",
            Prompt::NoResponse => "NO RESPONSE, REVERSAL PENDING",
            Prompt::SignOnRequired => "PLEASE SIGN ON",
            Prompt::BadMac => "MAC ERROR",
            Prompt::InvalidResponse => "INVALID RESPONSE",
            Prompt::AutoSettlement => "AUTO SETTLEMENT",
            Prompt::SettlementFailed(SettleFailure::UploadFailed { .. }) => "UPLOAD FAILED",
            Prompt::SettlementFailed(_) => "SETTLEMENT FAILED",
            Prompt::SignedOn => "SIGN ON OK",
            Prompt::EchoOk => "ECHO OK",
            Prompt::EchoFailed(_) => "ECHO FAILED",
            Prompt::SignedOff => "SIGN OFF OK",
            Prompt::SignOffFailed(_) => "SIGN OFF FAILED",
        }
    }

    /// The Chinese text a UnionPay terminal shows, where there is a customary one.
    pub fn text_zh(&self) -> Option<&'static str> {
        match self {
            Prompt::StorageFull => Some("储存满请结算"),
            Prompt::SettleSoon { .. } => Some("交易将满请结算"),
            Prompt::SignOnRequired => Some("请重新签到"),
            _ => None,
        }
    }
}

/// The line a terminal shows: [`Prompt::text`], then the host's code where the prompt
/// carries one ("ECHO FAILED 05").
impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())?;
        match self {
            Prompt::EchoFailed(code)
            | Prompt::SignOffFailed(code)
            | Prompt::SettlementFailed(SettleFailure::UploadFailed { code })
                if !code.is_empty() =>
            {
                write!(f, " {code}")
            }
            _ => Ok(()),
        }
    }
}

/// How an operator request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Approved and in the batch (or, for a void, the original marked voided).
    Approved {
        /// What it was.
        kind: TxnKind,
        /// Trace number.
        trace: u32,
        /// Invoice number.
        invoice: u32,
        /// Approval code.
        auth_code: String,
    },
    /// Stored and queued as an advice (offline sale, UnionPay refund, tip adjustment).
    Queued {
        /// What it was.
        kind: TxnKind,
        /// Trace number (for a tip adjustment: the sale's, whose record changed).
        trace: u32,
        /// Invoice number.
        invoice: u32,
    },
    /// Declined by the host with this code; nothing was added (an advice answered so stays in
    /// the log, failed and out of the totals; a tip adjustment so answered puts back the tip
    /// the host holds).
    Declined {
        /// What it was.
        kind: TxnKind,
        /// The response code.
        code: String,
    },
    /// No trustworthy answer (no answer, a wrong MAC, no response code, an approval for another
    /// amount) or the card declined after approval: the transaction failed and a reversal is
    /// pending. Not a decline: the host may have approved it.
    Reversed {
        /// What it was.
        kind: TxnKind,
        /// Trace of the request being reversed.
        trace: u32,
        /// The reason code the 0400 carries.
        reason: &'static str,
    },
    /// Refused locally after waiting behind the reversal; nothing was stored or sent.
    Refused {
        /// What it was.
        kind: TxnKind,
        /// Why.
        reason: crate::error::Rejected,
    },
    /// Never sent: the pending reversal could not be delivered first.
    NotSent {
        /// What it was.
        kind: TxnKind,
        /// Trace of the reversal in the way.
        reversal_trace: u32,
    },
    /// Never sent: no connection to the host could be opened, so no byte of the request left
    /// ([`crate::Engine::not_sent`]). Its reversal was dropped, nothing was added: unlike
    /// [`Outcome::Reversed`], the host cannot have approved it.
    HostUnreachable {
        /// What it was.
        kind: TxnKind,
        /// The trace number it would have carried.
        trace: u32,
    },
    /// Never sent: the tip adjustment of the sale it voids had to reach the host first (the
    /// void carries the amount the host holds) and could not be delivered.
    TipAdviceNotDelivered {
        /// What it was.
        kind: TxnKind,
        /// Trace of the tip adjustment's advice in the way.
        advice_trace: u32,
    },
}

/// Something printed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Printout {
    /// A settlement report (also kept for reprint).
    Report(Report),
    /// "REVERSAL FAILED": the 0400 was refused on every try and dropped.
    ReversalFailed {
        /// Trace of the reversed request.
        trace: u32,
        /// Masked PAN.
        pan: String,
        /// Amount.
        amount: u64,
    },
}

/// One thing for the caller to do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action {
    /// Send this message, then call back with its answer or a timeout.
    Send(Outgoing),
    /// Show this.
    Prompt(Prompt),
    /// Print this.
    Print(Printout),
    /// An operator request ended.
    Outcome(Outcome),
}

/// What one input produced.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Actions in order.
    pub actions: Vec<Action>,
    /// When to call [`crate::Engine::timeout`] if no answer came; `None` when nothing is
    /// awaited.
    pub deadline: Option<crate::Time>,
}

impl Output {
    /// The messages to send.
    pub fn sent(&self) -> impl Iterator<Item = &Outgoing> {
        self.actions.iter().filter_map(|a| match a {
            Action::Send(o) => Some(o),
            _ => None,
        })
    }

    /// The prompts.
    pub fn prompts(&self) -> impl Iterator<Item = &Prompt> {
        self.actions.iter().filter_map(|a| match a {
            Action::Prompt(p) => Some(p),
            _ => None,
        })
    }

    /// The outcomes.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.actions.iter().filter_map(|a| match a {
            Action::Outcome(o) => Some(o),
            _ => None,
        })
    }

    /// The printouts.
    pub fn printouts(&self) -> impl Iterator<Item = &Printout> {
        self.actions.iter().filter_map(|a| match a {
            Action::Print(p) => Some(p),
            _ => None,
        })
    }
}
