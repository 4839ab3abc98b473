//! The two settlement dialects behind one interface (DESIGN §5): what each request carries,
//! how the 0500 is built and its reply read, which records an upload covers and how they are
//! grouped, and what ends the upload (the international 960000 trailer, the UnionPay closing
//! 0320). The engine's state machine is shared; only these answers differ.
//!
//! Read DESIGN §3 (field layouts) and §5 (dialects I and C) first.

mod cup;
mod intl;

use iso8583_codec::{Message, Spec};
use serde::{Deserialize, Serialize};

use crate::action::SettleFailure;
use crate::config::Config;
use crate::error::ConfigError;
use crate::record::{Card, Record, TxnKind};
use crate::report::Reconciliation;

/// A dialect and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// International terminals: 0500 920000, upload on 95, trailer 960000 (`intl-pos`).
    International(IntlSettings),
    /// China UnionPay terminals: 0500 with field 48 totals and flags (`cup-pos`).
    UnionPay(CupSettings),
}

/// How an international terminal counts a voided sale (DESIGN §5, "Totals").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoidPolicy {
    /// Drop it from the sales (the common choice).
    #[default]
    DropFromSales,
    /// Keep it in the sales and add it to the refund pair (some acquirers).
    AddToRefunds,
}

/// Length of the international field 63 totals block (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotalsLength {
    /// 90 characters: four totals then `0` filler (many terminals).
    #[default]
    Ninety,
    /// 30 characters: the four totals only.
    Thirty,
}

impl TotalsLength {
    /// The length in characters.
    pub fn chars(self) -> usize {
        match self {
            TotalsLength::Ninety => 90,
            TotalsLength::Thirty => 30,
        }
    }
}

/// International dialect settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntlSettings {
    /// Voided sales in the totals.
    pub void_policy: VoidPolicy,
    /// Field 63 length.
    pub totals_length: TotalsLength,
    /// NII for field 24 (n3).
    pub nii: u16,
}

impl Default for IntlSettings {
    fn default() -> Self {
        IntlSettings {
            void_policy: VoidPolicy::DropFromSales,
            totals_length: TotalsLength::Ninety,
            nii: 1,
        }
    }
}

/// UnionPay dialect settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CupSettings {
    /// Operator number for field 63 of the 0500 and sign-on.
    pub operator: String,
    /// Currency for field 49 (an3, `156` for CNY).
    pub currency: String,
    /// Take the host's batch number from 60.2 of a sign-on reply (DESIGN §5).
    pub adopt_host_batch: bool,
}

impl Default for CupSettings {
    fn default() -> Self {
        CupSettings {
            operator: "001".into(),
            currency: "156".into(),
            adopt_host_batch: true,
        }
    }
}

/// Which records an upload covers, decided from the reconciliation reply; stored with the
/// settlement so a restart resumes the same upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// UnionPay balanced: chip records only (60.3 `203`, closing `207`).
    ChipOnly,
    /// Out of balance: every uploadable record.
    All,
}

/// What the reconciliation (or the international trailer) reply means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Close the batch now.
    Close(Reconciliation),
    /// Upload this scope, then send the trailer or closing 0320.
    Upload(Scope),
    /// The settlement ends without closing; `reset` clears the upload marks (trailer 95).
    Open { failure: SettleFailure, reset: bool },
}

/// Values every builder needs.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a Config,
    pub batch: u32,
}

/// An MTI and its fields, ready for [`crate::action::Outgoing::build`].
pub(crate) type Fields = (&'static str, Vec<(u16, Vec<u8>)>);

pub(crate) fn field(n: u16, value: impl Into<String>) -> (u16, Vec<u8>) {
    (n, value.into().into_bytes())
}

impl Dialect {
    /// The built-in codec spec of the dialect (`intl-pos` or `cup-pos`).
    pub fn spec(&self) -> &'static Spec {
        let name = match self {
            Dialect::International(_) => "intl-pos",
            Dialect::UnionPay(_) => "cup-pos",
        };
        // Both names are compiled into the codec; its own tests load every built-in.
        Spec::builtin(name).unwrap_or_else(|| unreachable!("built-in spec {name}"))
    }

    /// True for the UnionPay dialect.
    pub fn is_union_pay(&self) -> bool {
        matches!(self, Dialect::UnionPay(_))
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        match self {
            Dialect::International(s) if s.nii > 999 => Err(ConfigError::Dialect {
                what: "nii",
                why: "field 24 is n3: 0 to 999",
            }),
            Dialect::UnionPay(s) => cup::check(s),
            Dialect::International(_) => Ok(()),
        }
    }

    /// MTI and processing code of a new transaction of `kind` (DESIGN §5).
    pub(crate) fn codes(&self, kind: TxnKind) -> (&'static str, &'static str) {
        match self {
            Dialect::International(_) => intl::codes(kind),
            Dialect::UnionPay(_) => cup::codes(kind),
        }
    }

    /// The request for a new transaction, card data included (it lives only in this message).
    pub(crate) fn request(&self, ctx: &Ctx<'_>, draft: &Record, card: &Card) -> Fields {
        let mut fields = common_request(ctx, draft);
        fields.extend(card_fields(card));
        match self {
            Dialect::International(s) => intl::request_extra(s, draft, &mut fields),
            Dialect::UnionPay(s) => cup::request_extra(s, ctx, draft, &mut fields),
        }
        fields.sort_by_key(|(n, _)| *n);
        (draft.mti_static(), fields)
    }

    /// The 0220 advice of a stored record (offline sale, UnionPay refund).
    pub(crate) fn advice(&self, ctx: &Ctx<'_>, record: &Record) -> Fields {
        let mut fields = common_request(ctx, record);
        fields.push(field(2, record.pan.digits()));
        fields.push(field(22, record.entry_mode));
        if !record.auth_code.is_empty() {
            fields.push(field(38, record.auth_code));
        }
        if let Some(icc) = &record.icc {
            fields.push((55, icc.clone()));
        }
        match self {
            Dialect::International(s) => intl::request_extra(s, record, &mut fields),
            Dialect::UnionPay(s) => cup::request_extra(s, ctx, record, &mut fields),
        }
        fields.sort_by_key(|(n, _)| *n);
        ("0220", fields)
    }

    /// The 0220 telling the host of a tip adjustment of `record` (which holds the new tip),
    /// with its own `trace`; `None` for UnionPay, whose terminals adjust no tips.
    pub(crate) fn tip_advice(&self, ctx: &Ctx<'_>, record: &Record, trace: u32) -> Option<Fields> {
        match self {
            Dialect::International(s) => Some(intl::tip_advice(s, ctx, record, trace)),
            Dialect::UnionPay(_) => None,
        }
    }

    /// The 0500 (or the international 960000 trailer).
    pub(crate) fn reconcile(
        &self,
        ctx: &Ctx<'_>,
        records: &[Record],
        trailer: bool,
        trace: u32,
    ) -> Fields {
        match self {
            Dialect::International(s) => intl::reconcile(s, ctx, records, trailer, trace),
            Dialect::UnionPay(s) => cup::reconcile(s, ctx, records, trace),
        }
    }

    /// What a reconciliation reply means.
    pub(crate) fn verdict(&self, reply: &Message<'_>, trailer: bool) -> Verdict {
        match self {
            Dialect::International(_) => intl::verdict(response_code(reply), trailer),
            Dialect::UnionPay(_) => cup::verdict(reply),
        }
    }

    /// True when `record` is uploaded under `scope`.
    pub(crate) fn in_scope(&self, record: &Record, scope: Scope) -> bool {
        match self {
            Dialect::International(_) => intl::in_scope(record),
            Dialect::UnionPay(_) => cup::in_scope(record, scope),
        }
    }

    /// Indices of the records the next 0320 carries: the first unacknowledged record in scope,
    /// and for UnionPay magnetic-stripe sales up to 7 more like it.
    pub(crate) fn next_unit(&self, records: &[Record], scope: Scope) -> Vec<usize> {
        let pending = records
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.uploaded && self.in_scope(r, scope));
        match self {
            Dialect::International(_) => pending.map(|(i, _)| i).take(1).collect(),
            Dialect::UnionPay(_) => cup::next_unit(pending),
        }
    }

    /// The trace number a unit's 0320 carries when it is one of its records' rather than a new
    /// one: a UnionPay single-record 0320's.
    pub(crate) fn upload_carries(&self, unit: &[&Record]) -> Option<u32> {
        match self {
            Dialect::International(_) => None,
            Dialect::UnionPay(_) => cup::upload_carries(unit),
        }
    }

    /// The 0320 for one unit; `trace` is the one [`Dialect::upload_carries`] names, if it
    /// names one.
    pub(crate) fn upload(
        &self,
        ctx: &Ctx<'_>,
        unit: &[&Record],
        scope: Scope,
        trace: u32,
    ) -> Fields {
        match self {
            Dialect::International(s) => intl::upload(s, ctx, unit, trace),
            Dialect::UnionPay(s) => cup::upload(s, ctx, unit, scope, trace),
        }
    }

    /// What ends the upload: the 960000 trailer or the closing 0320 with the upload count.
    pub(crate) fn finish(
        &self,
        ctx: &Ctx<'_>,
        records: &[Record],
        scope: Scope,
        trace: u32,
    ) -> Fields {
        match self {
            Dialect::International(s) => intl::reconcile(s, ctx, records, true, trace),
            Dialect::UnionPay(_) => cup::closing(ctx, records, scope, trace),
        }
    }

    /// What the reply to the trailer (international) or closing 0320 (UnionPay) means.
    pub(crate) fn finish_verdict(&self, reply: &Message<'_>, scope: Scope) -> Verdict {
        match (self, response_code(reply)) {
            (Dialect::International(_), code) => intl::verdict(code, true),
            (Dialect::UnionPay(_), "00") => Verdict::Close(cup::closed(scope)),
            // DESIGN is silent: a refused closing 0320 leaves the batch open, and the next
            // settlement reconciles and uploads again.
            (Dialect::UnionPay(_), code) => Verdict::Open {
                failure: SettleFailure::Declined(code.to_owned()),
                reset: true,
            },
        }
    }

    /// A sign-on request.
    pub(crate) fn sign_on(&self, ctx: &Ctx<'_>, trace: u32) -> Fields {
        match self {
            Dialect::International(s) => intl::network(s, ctx, "920000", trace),
            Dialect::UnionPay(s) => cup::sign_on(s, ctx, trace),
        }
    }

    /// A sign-off: an 0820 (DESIGN §8, issue #5 "0820 sign-off").
    pub(crate) fn sign_off(&self, ctx: &Ctx<'_>, trace: u32) -> Fields {
        match self {
            Dialect::International(s) => intl::sign_off(s, ctx, trace),
            Dialect::UnionPay(_) => cup::sign_off(ctx, trace),
        }
    }

    /// An echo test.
    pub(crate) fn echo(&self, ctx: &Ctx<'_>, trace: u32) -> Fields {
        match self {
            Dialect::International(s) => intl::network(s, ctx, "990000", trace),
            Dialect::UnionPay(_) => cup::echo(ctx, trace),
        }
    }

    /// The batch number a sign-on reply asks the terminal to adopt (UnionPay 60.2).
    pub(crate) fn host_batch(&self, reply: &Message<'_>) -> Option<u32> {
        match self {
            Dialect::UnionPay(s) if s.adopt_host_batch => cup::batch_of(reply),
            _ => None,
        }
    }
}

/// A UnionPay group upload's field 48 with each PAN shown as its first 6 and last 4 digits.
pub(crate) fn mask_group_48(digits: &[u8]) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (count, mut rest) = digits.split_at(digits.len().min(2));
    let mut out = text(count);
    while let (Some(record), Some(tail)) = (rest.get(..40), rest.get(40..)) {
        let pan = text(record.get(8..28).unwrap_or_default());
        let pan = pan.trim_start_matches('0');
        let masked =
            crate::record::Pan::new(pan).map_or_else(|| "*".repeat(pan.len()), |p| p.masked());
        let (group, trace) = (text(&record[..2]), text(&record[2..8]));
        out.push_str(&format!(
            " {group}/{trace}/{masked}/{}",
            text(&record[28..])
        ));
        rest = tail;
    }
    out
}

/// Field 39 as text, or `""` when absent or unreadable.
pub(crate) fn response_code<'a>(reply: &Message<'a>) -> &'a str {
    reply.field(39).and_then(|f| f.as_str()).unwrap_or("")
}

/// Field 39 as text, or `None` when the reply carries no readable code: such a reply says
/// nothing about what the host did.
pub(crate) fn code_of<'a>(reply: &Message<'a>) -> Option<&'a str> {
    Some(response_code(reply)).filter(|c| !c.is_empty())
}

fn common_request(ctx: &Ctx<'_>, r: &Record) -> Vec<(u16, Vec<u8>)> {
    let mut fields = vec![
        field(3, r.processing_code),
        field(4, format!("{:012}", r.total())),
        field(11, format!("{:06}", r.trace)),
        field(12, r.time),
        field(13, r.date),
        field(25, r.condition_code),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
    ];
    if let Some(expiry) = &r.expiry {
        fields.push(field(14, *expiry));
    }
    if matches!(
        r.kind,
        TxnKind::Void | TxnKind::Completion | TxnKind::PreAuthVoid
    ) {
        // Voids and completions point at their original by its RRN and approval code.
        if !r.rrn.is_empty() {
            fields.push(field(37, r.rrn));
        }
        if !r.auth_code.is_empty() {
            fields.push(field(38, r.auth_code));
        }
    }
    fields
}

fn card_fields(card: &Card) -> Vec<(u16, Vec<u8>)> {
    let mut fields = vec![
        field(2, card.pan.digits()),
        field(22, card.entry_mode.clone()),
    ];
    if let Some(track2) = &card.track2 {
        fields.push(field(35, track2.replace('=', "D")));
    }
    if let Some(pin) = card.pin_block {
        fields.push((52, pin.to_vec()));
    }
    if let Some(icc) = &card.icc {
        fields.push((55, icc.clone()));
    }
    fields
}

impl Record {
    /// The MTI as a static string (the engine only creates the MTIs it knows).
    pub(crate) fn mti_static(&self) -> &'static str {
        match self.mti.as_str() {
            "0100" => "0100",
            "0220" => "0220",
            _ => "0200",
        }
    }
}

#[cfg(test)]
mod tests {
    use iso8583_codec::Builder;

    use super::*;
    use crate::action::{Outgoing, Purpose};
    use crate::config::Config;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    fn build(dialect: Dialect, fields: Fields) -> Outgoing {
        let spec = dialect.spec();
        Outgoing::build(
            spec,
            fields.0,
            5,
            Purpose::Reconcile { trailer: false },
            fields.1,
        )
        .unwrap()
    }

    /// Decoding then encoding gives back the same bytes (STYLE §10).
    fn round_trips(dialect: &Dialect, bytes: &[u8]) {
        let message = dialect.spec().decode(bytes).unwrap().complete().unwrap();
        assert_eq!(
            &Builder::from_message(&message).unwrap().to_bytes()[..],
            bytes
        );
    }

    #[test]
    fn intl_0500_wire_bytes() {
        let settings = IntlSettings {
            totals_length: TotalsLength::Thirty,
            ..IntlSettings::default()
        };
        let dialect = Dialect::International(settings);
        let cfg = Config::builder("TERM0001", "MERCHANT0000001", dialect.clone())
            .build()
            .unwrap();
        let ctx = Ctx {
            cfg: &cfg,
            batch: 1,
        };
        let out = build(dialect.clone(), dialect.reconcile(&ctx, &[], false, 5));
        let expected = concat!(
            "0500",                           // MTI, 2 BCD bytes
            "2020010000C00012",               // bitmap: 3, 11, 24, 41, 42, 60, 63
            "920000",                         // 3
            "000005",                         // 11
            "0001",                           // 24, n3 right-aligned
            "5445524D30303031",               // 41 TERM0001
            "4D45524348414E5430303030303031", // 42
            "0006303030303031",               // 60: LLL 006, batch 000001 in ASCII
            "0030",                           // 63: LLL 030
        );
        let totals = hex(&[b'0'; 30]);
        assert_eq!(hex(out.bytes()), format!("{expected}{totals}"));
        round_trips(&dialect, out.bytes());
    }

    #[test]
    fn cup_0500_wire_bytes() {
        let dialect = Dialect::UnionPay(CupSettings::default());
        let cfg = Config::builder("TERM0001", "MERCHANT0000001", dialect.clone())
            .build()
            .unwrap();
        let ctx = Ctx {
            cfg: &cfg,
            batch: 1,
        };
        let out = build(dialect.clone(), dialect.reconcile(&ctx, &[], false, 5));
        let expected = concat!(
            "0500",
            "00200000 00C18012", // bitmap: 11, 41, 42, 48, 49, 60, 63
            "000005",            // 11
            "5445524D30303031",  // 41
            "4D45524348414E5430303030303031", // 42
            "0062",              // 48: LLL 062 digits, then 31 BCD bytes of zeros
            "00000000000000000000000000000000000000000000000000000000000000",
            "313536",           // 49 "156"
            "0011000000012010", // 60: 11 digits 00 000001 201, trailing 0 filler
            "0003303031",       // 63 "001"
        )
        .replace(' ', "");
        assert_eq!(hex(out.bytes()), expected);
        round_trips(&dialect, out.bytes());
    }

    #[test]
    fn group_48_is_masked() {
        let f48 = b"010000000200006212345678901234000000000200";
        assert_eq!(
            mask_group_48(f48),
            "01 00/000002/621234******1234/000000000200"
        );
    }
}
