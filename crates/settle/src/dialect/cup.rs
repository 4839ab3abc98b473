//! Dialect C, China UnionPay (DESIGN §5): 0500 with 62 digits of totals in field 48 and
//! `00` + batch + `201` in 60; the 0510's flags decide the upload; magnetic-stripe sales go 8 per
//! 0320, refunds, offline sales and chip records one per 0320; a closing 0320 with the count
//! (n4) and 60.3 `202` or `207` always ends it. Fields per `specs/cup-pos.toml`.

use iso8583_codec::Message;

use super::{field, Ctx, CupSettings, Fields, Scope, Verdict};
use crate::action::SettleFailure;
use crate::error::ConfigError;
use crate::record::{AdviceState, Record, TxnKind};
use crate::report::Reconciliation;
use crate::totals::{cup_flags, CupFlag, CupTotals};

/// Magnetic-stripe records per 0320: 2 + 8 × 40 digits fill field 48's 322 (DESIGN §5).
const GROUP: usize = 8;

pub(super) fn check(s: &CupSettings) -> Result<(), ConfigError> {
    let printable = s.operator.bytes().all(|b| (0x20..0x7F).contains(&b));
    if s.operator.is_empty() || s.operator.len() > 163 || !printable {
        return Err(ConfigError::Dialect {
            what: "operator",
            why: "field 63 is ans..163",
        });
    }
    if s.currency.len() != 3 || !s.currency.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::Dialect {
            what: "currency",
            why: "field 49 is three digits",
        });
    }
    Ok(())
}

pub(super) fn codes(kind: TxnKind) -> (&'static str, &'static str) {
    match kind {
        TxnKind::Sale | TxnKind::Completion => ("0200", "000000"),
        TxnKind::Void => ("0200", "200000"),
        // Refunds go online as 0220 advices (DESIGN §5, dialect C).
        TxnKind::Refund => ("0220", "200000"),
        TxnKind::PreAuth => ("0100", "030000"),
        TxnKind::OfflineSale => ("0220", "000000"),
        // UnionPay terminals adjust no tips: the engine refuses before it asks for codes.
        TxnKind::TipAdjust => ("0220", "000000"),
        // 预授权撤销: a 0100 with 20xx00, 60.1 `11` and 61 naming the pre-auth (batch, trace),
        // as a sale's void names its sale; no record of its own, since a pre-auth void is in no
        // total and never uploaded.
        TxnKind::PreAuthVoid => ("0100", "200000"),
    }
}

/// 60.1, the UnionPay message type code of a transaction.
fn type_code(kind: TxnKind) -> &'static str {
    match kind {
        TxnKind::Sale => "22",
        TxnKind::Void => "23",
        TxnKind::Refund => "25",
        TxnKind::PreAuth => "10",
        TxnKind::Completion => "20",
        // DESIGN is silent; 30 is the code terminals commonly use for an offline settlement.
        TxnKind::OfflineSale => "30",
        TxnKind::PreAuthVoid => "11",
        // Never sent (see `codes`); the sale's own type.
        TxnKind::TipAdjust => "22",
    }
}

/// Currency (49), 60 = type + batch + `000`; for a void (of a sale, or of a pre-auth) 61 =
/// original batch + trace (the original is always in the open batch); for a
/// refund that names its sale ([`crate::Request::RefundOf`]) 37 = the sale's RRN and 61 = its
/// batch, trace and date. A refund without one goes without 37 and 61.
pub(super) fn request_extra(
    s: &CupSettings,
    ctx: &Ctx<'_>,
    r: &Record,
    fields: &mut Vec<(u16, Vec<u8>)>,
) {
    fields.push(field(49, s.currency.clone()));
    fields.push(field(
        60,
        format!("{}{:06}000", type_code(r.kind), ctx.batch),
    ));
    if let Some(original) = r.original_trace {
        fields.push(field(61, format!("{:06}{original:06}", ctx.batch)));
    } else if let Some(sale) = &r.refund_of {
        fields.push(field(37, sale.rrn.clone()));
        fields.push(field(61, sale.field61()));
    }
}

pub(super) fn reconcile(s: &CupSettings, ctx: &Ctx<'_>, records: &[Record], trace: u32) -> Fields {
    let fields = vec![
        field(11, format!("{trace:06}")),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(48, CupTotals::of(records).field48()),
        field(49, s.currency.clone()),
        field(60, format!("00{:06}201", ctx.batch)),
        field(63, s.operator.clone()),
    ];
    ("0500", fields)
}

pub(super) fn verdict(reply: &Message<'_>) -> Verdict {
    match super::response_code(reply) {
        "00" => {}
        "77" => {
            return Verdict::Open {
                failure: SettleFailure::BatchMismatch,
                reset: false,
            }
        }
        other => {
            return Verdict::Open {
                failure: SettleFailure::Declined(other.to_owned()),
                reset: false,
            }
        }
    }
    let digits = reply.field(48).map(|f| f.to_vec()).unwrap_or_default();
    match cup_flags(&digits) {
        Some([CupFlag::Balanced, CupFlag::Balanced]) => Verdict::Upload(Scope::ChipOnly),
        Some(_) => Verdict::Upload(Scope::All),
        None => {
            // A 0510 without its flags cannot say balanced: upload everything to be safe.
            tracing::warn!("0510 without field 48 flags, treated as not balanced");
            Verdict::Upload(Scope::All)
        }
    }
}

/// Chip records always; everything else only when not balanced. Pre-auths and failed
/// advices are in no total and void records are not uploaded (the host learns of a void from
/// its online 0200; DESIGN §5 lists no upload for it).
pub(super) fn in_scope(r: &Record, scope: Scope) -> bool {
    let uploadable = r.in_totals() && r.kind != TxnKind::Void;
    uploadable && (r.is_chip() || scope == Scope::All)
}

fn grouped(r: &Record) -> bool {
    !r.is_chip()
        && r.advice == AdviceState::Online
        && matches!(r.kind, TxnKind::Sale | TxnKind::Completion)
}

pub(super) fn next_unit<'a>(mut pending: impl Iterator<Item = (usize, &'a Record)>) -> Vec<usize> {
    let Some((first, record)) = pending.next() else {
        return Vec::new();
    };
    if !grouped(record) {
        return vec![first];
    }
    let rest = pending.filter(|(_, r)| grouped(r)).map(|(i, _)| i);
    std::iter::once(first).chain(rest).take(GROUP).collect()
}

/// The record trace number a single-record 0320 carries in field 11 (see [`single`]).
pub(super) fn upload_carries(unit: &[&Record]) -> Option<u32> {
    match unit {
        [one] if !grouped(one) => Some(one.trace),
        _ => None,
    }
}

pub(super) fn upload(
    s: &CupSettings,
    ctx: &Ctx<'_>,
    unit: &[&Record],
    scope: Scope,
    trace: u32,
) -> Fields {
    match unit {
        [one] if !grouped(one) => single(s, ctx, one, scope),
        _ => group(ctx, unit, trace),
    }
}

/// Field 48: count n2, then per record card group n2, trace n6, PAN n20 left zero-padded,
/// amount n12; 60.3 `201` (DESIGN §5).
fn group(ctx: &Ctx<'_>, unit: &[&Record], trace: u32) -> Fields {
    let mut f48 = format!("{:02}", unit.len());
    for r in unit {
        f48.push_str(&format!(
            "{}{:06}{:0>20}{:012}",
            r.group.code(),
            r.trace,
            r.pan.digits(),
            r.total()
        ));
    }
    let fields = vec![
        field(11, format!("{trace:06}")),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(48, f48),
        field(60, format!("00{:06}201", ctx.batch)),
    ];
    ("0320", fields)
}

/// One record with its own processing code. Field 11 carries the original trace number, so a
/// re-sent upload replaces rather than adds at the host (DESIGN §6). Chip records say `203`
/// when balanced and `205` when not; refunds and offline sales `201`.
fn single(s: &CupSettings, ctx: &Ctx<'_>, r: &Record, scope: Scope) -> Fields {
    let network = match (r.is_chip(), scope) {
        (true, Scope::ChipOnly) => "203",
        (true, Scope::All) => "205",
        (false, _) => "201",
    };
    let mut fields = vec![
        field(2, r.pan.digits()),
        field(3, r.processing_code),
        field(4, format!("{:012}", r.total())),
        field(11, format!("{:06}", r.trace)),
        field(12, r.time),
        field(13, r.date),
        field(22, r.entry_mode),
        field(25, r.condition_code),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(49, s.currency.clone()),
        field(60, format!("00{:06}{network}", ctx.batch)),
    ];
    if !r.rrn.is_empty() {
        fields.push(field(37, r.rrn));
    }
    if !r.auth_code.is_empty() {
        fields.push(field(38, r.auth_code));
    }
    if let Some(icc) = &r.icc {
        fields.push((55, icc.clone()));
    }
    fields.sort_by_key(|(n, _)| *n);
    ("0320", fields)
}

/// The count of records uploaded in this batch, acknowledged before a restart included, as n4
/// in 48; 60.3 `207` balanced, `202` not (DESIGN §5).
pub(super) fn closing(ctx: &Ctx<'_>, records: &[Record], scope: Scope, trace: u32) -> Fields {
    let count = records.iter().filter(|r| r.uploaded).count();
    let network = match scope {
        Scope::ChipOnly => "207",
        Scope::All => "202",
    };
    let fields = vec![
        field(11, format!("{trace:06}")),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(48, format!("{count:04}")),
        field(60, format!("00{:06}{network}", ctx.batch)),
    ];
    ("0320", fields)
}

/// The closing 0330's verdict.
pub(crate) fn closed(scope: Scope) -> Reconciliation {
    match scope {
        Scope::ChipOnly => Reconciliation::Balanced,
        Scope::All => Reconciliation::Uploaded,
    }
}

/// Sign-on: 60 = `00` + batch + `003` (double-length keys, DESIGN §4), 63 the operator.
pub(super) fn sign_on(s: &CupSettings, ctx: &Ctx<'_>, trace: u32) -> Fields {
    let fields = vec![
        field(11, format!("{trace:06}")),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(60, format!("00{:06}003", ctx.batch)),
        field(63, s.operator.clone()),
    ];
    ("0800", fields)
}

/// Sign-off: a 0820 with 60.3 `002`.
pub(super) fn sign_off(ctx: &Ctx<'_>, trace: u32) -> Fields {
    let fields = vec![
        field(11, format!("{trace:06}")),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(60, format!("00{:06}002", ctx.batch)),
    ];
    ("0820", fields)
}

/// Echo: a 0820 with 60.3 `301`.
pub(super) fn echo(ctx: &Ctx<'_>, trace: u32) -> Fields {
    let fields = vec![
        field(11, format!("{trace:06}")),
        field(41, ctx.cfg.terminal_id.clone()),
        field(42, ctx.cfg.merchant_id.clone()),
        field(60, format!("00{:06}301", ctx.batch)),
    ];
    ("0820", fields)
}

/// 60.2 of a reply: digits 3 to 8.
pub(super) fn batch_of(reply: &Message<'_>) -> Option<u32> {
    let digits = reply.field(60)?.to_vec();
    let batch = std::str::from_utf8(digits.get(2..8)?).ok()?.parse().ok()?;
    (1..=999_999).contains(&batch).then_some(batch)
}
