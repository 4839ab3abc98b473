//! Dialect I, international terminals (DESIGN §5): 0500 with 920000, batch number in field 60 as
//! 6 ASCII digits and the totals block in 63; 95 asks for one 0320 per record, then the 960000
//! trailer; 77 on the first 0500 closes with "RECONCILE ERROR". Fields per `specs/intl-pos.toml`.
//!
//! Two messages DESIGN does not lay out, chosen to follow the ones it does:
//! - **Tip adjustment** (restaurants adjust a sale's tip after approval, offline): a 0220 advice
//!   with the sale's processing code, field 4 the new amount plus tip, 54 the new tip (12 ASCII
//!   digits, as in a 0320), 37 and 38 the sale's RRN and approval code, 62 its invoice, and 60
//!   the original MTI + original trace + 12 spaces exactly as in the 0320 upload. Field 11 is a
//!   new trace, not the sale's: the host's duplicate rule (DESIGN §6: terminal, MTI class,
//!   trace) then answers a repeat of the same advice 94 while a second adjustment of the same
//!   sale, which carries the absolute new tip, is applied; with the sale's trace in 11 that
//!   second adjustment would be a "duplicate" and lost. The host tells it from an offline sale
//!   (also 0220 000000) by field 60, which an offline advice never carries.
//! - **Pre-authorisation void**: a 0100 with processing code 020000, the code this dialect gives
//!   a void (a sale's void is 0200 020000; the MTI is the original's), naming the pre-auth by
//!   its RRN (37) and approval code (38) like a void, with its amount and invoice (62). It is
//!   an online request, stored as the pending reversal first; a 0400 is not used, because that
//!   is the reversal of a request whose outcome is unknown, and the void itself must be
//!   reversible.

use super::{field, Ctx, Fields, IntlSettings, Scope, Verdict};
use crate::action::SettleFailure;
use crate::record::{Record, TxnKind};
use crate::report::Reconciliation;
use crate::totals::IntlTotals;

pub(super) fn codes(kind: TxnKind) -> (&'static str, &'static str) {
    match kind {
        TxnKind::Sale => ("0200", "000000"),
        TxnKind::Void => ("0200", "020000"),
        TxnKind::Refund => ("0200", "200000"),
        TxnKind::PreAuth => ("0100", "000000"),
        // DESIGN is silent on completions: most international terminals send them online as a
        // 0200 with condition code 06 and the pre-auth's approval code in 38.
        TxnKind::Completion => ("0200", "000000"),
        TxnKind::OfflineSale => ("0220", "000000"),
        // The advice of a tip adjustment carries the sale's code (see `tip_advice`).
        TxnKind::TipAdjust => ("0220", "000000"),
        TxnKind::PreAuthVoid => ("0100", "020000"),
    }
}

/// NII, tip and invoice: 24, 54 (12 ASCII digits) and 62 (6 ASCII digits), DESIGN §3.
pub(super) fn request_extra(s: &IntlSettings, r: &Record, fields: &mut Vec<(u16, Vec<u8>)>) {
    fields.push(field(24, format!("{:03}", s.nii)));
    if r.tip > 0 {
        fields.push(field(54, format!("{:012}", r.tip)));
    }
    fields.push(field(62, format!("{:06}", r.invoice)));
}

pub(super) fn reconcile(
    s: &IntlSettings,
    ctx: &Ctx<'_>,
    records: &[Record],
    trailer: bool,
    trace: u32,
) -> Fields {
    let totals = IntlTotals::of(records, s);
    let code = if trailer { "960000" } else { "920000" };
    let fields = vec![
        field(3, code),
        field(11, format!("{trace:06}")),
        field(24, format!("{:03}", s.nii)),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(60, format!("{:06}", ctx.batch)),
        field(63, totals.field63(s.totals_length)),
    ];
    ("0500", fields)
}

pub(super) fn verdict(code: &str, trailer: bool) -> Verdict {
    match (code, trailer) {
        ("00", false) => Verdict::Close(Reconciliation::Balanced),
        ("95", false) => Verdict::Upload(Scope::All),
        ("77", false) => Verdict::Close(Reconciliation::ReconcileError),
        ("00", true) => Verdict::Close(Reconciliation::Uploaded),
        // The batch stays open; the next settlement starts again at 920000 and uploads again.
        ("95", true) => Verdict::Open {
            failure: SettleFailure::TrailerOutOfBalance,
            reset: true,
        },
        (other, _) => Verdict::Open {
            failure: SettleFailure::Declined(other.to_owned()),
            reset: trailer,
        },
    }
}

/// Every record except voids and pre-auths (DESIGN §5); a voided sale is a void here, and a
/// failed advice is in no total, so neither is uploaded.
pub(super) fn in_scope(r: &Record) -> bool {
    r.in_totals() && !r.voided && r.kind != TxnKind::Void
}

/// One record per 0320: the original processing code with its last digit `1`, amount plus tip
/// in 4, tip in 54, invoice in 62, a new trace in 11, original MTI + trace + 12 spaces in 60,
/// the original response code in 39 (DESIGN §5, dialect I).
pub(super) fn upload(s: &IntlSettings, ctx: &Ctx<'_>, unit: &[&Record], trace: u32) -> Fields {
    let Some(r) = unit.first() else {
        return ("0320", Vec::new());
    };
    // The stored code is six digits (it came from `codes`); a damaged one still yields six.
    let code = format!("{:0<5}1", r.processing_code.get(..5).unwrap_or(""));
    let mut fields = vec![
        field(2, r.pan.digits()),
        field(3, code),
        field(4, format!("{:012}", r.total())),
        field(11, format!("{trace:06}")),
        field(12, r.time),
        field(13, r.date),
        field(22, r.entry_mode),
        field(24, format!("{:03}", s.nii)),
        field(25, r.condition_code),
        field(39, r.response_code),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(60, format!("{}{:06}{}", r.mti, r.trace, " ".repeat(12))),
        field(62, format!("{:06}", r.invoice)),
    ];
    optional_upload_fields(r, &mut fields);
    fields.sort_by_key(|(n, _)| *n);
    ("0320", fields)
}

fn optional_upload_fields(r: &Record, fields: &mut Vec<(u16, Vec<u8>)>) {
    original_references(r, fields);
    if r.tip > 0 {
        fields.push(field(54, format!("{:012}", r.tip)));
    }
    if let Some(icc) = &r.icc {
        fields.push((55, icc.clone()));
    }
}

/// What the record keeps of its approval, where it has it: the expiry (14), the host's
/// RRN (37) and authorisation code (38).
fn original_references(r: &Record, fields: &mut Vec<(u16, Vec<u8>)>) {
    if let Some(expiry) = &r.expiry {
        fields.push(field(14, *expiry));
    }
    if !r.rrn.is_empty() {
        fields.push(field(37, r.rrn));
    }
    if !r.auth_code.is_empty() {
        fields.push(field(38, r.auth_code));
    }
}

/// The 0220 of a tip adjustment (module docs): `r` already holds the new tip; `trace` is the
/// advice's own.
pub(super) fn tip_advice(s: &IntlSettings, ctx: &Ctx<'_>, r: &Record, trace: u32) -> Fields {
    let mut fields = vec![
        field(2, r.pan.digits()),
        field(3, r.processing_code),
        field(4, format!("{:012}", r.total())),
        field(11, format!("{trace:06}")),
        field(12, r.time),
        field(13, r.date),
        field(22, r.entry_mode),
        field(24, format!("{:03}", s.nii)),
        field(25, r.condition_code),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        // Always present, zero included: the advice says what the tip now is.
        field(54, format!("{:012}", r.tip)),
        field(60, format!("{}{:06}{}", r.mti, r.trace, " ".repeat(12))),
        field(62, format!("{:06}", r.invoice)),
    ];
    original_references(r, &mut fields);
    fields.sort_by_key(|(n, _)| *n);
    ("0220", fields)
}

/// Sign-off: an 0820 with the terminal's ids and no processing code, which DESIGN §4 does not
/// assign to it.
pub(super) fn sign_off(s: &IntlSettings, ctx: &Ctx<'_>, trace: u32) -> Fields {
    let fields = vec![
        field(11, format!("{trace:06}")),
        field(24, format!("{:03}", s.nii)),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
    ];
    ("0820", fields)
}

/// Sign-on (920000) and echo (990000) are 0800s (DESIGN §4).
pub(super) fn network(s: &IntlSettings, ctx: &Ctx<'_>, code: &str, trace: u32) -> Fields {
    let fields = vec![
        field(3, code),
        field(11, format!("{trace:06}")),
        field(24, format!("{:03}", s.nii)),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
    ];
    ("0800", fields)
}
