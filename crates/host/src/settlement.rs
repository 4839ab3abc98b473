//! Reconciliation (0500), batch upload (0320) and closing a batch, for both dialects
//! (DESIGN §5 dialects I and C, §6).
//!
//! International: a 920000 0500 carries the batch number in 60 (6 ASCII digits) and the
//! terminal's totals in 63; equal to the host's → 00 and the batch closes, else 95 and the
//! terminal uploads one 0320 per record (60 = original MTI + original trace + 12 spaces), then
//! sends the 960000 trailer with its totals: if they equal the uploaded view's → 00 and the
//! batch closes on that view, else 95 and it stays open.
//!
//! UnionPay: the 0500 carries the batch in 60.2 and 62 digits of totals in 48; the 0510
//! echoes 48 with each group's flag `1` (balanced) or `2`; a batch number other than the
//! host's is 77. Uploads follow (8 magnetic-stripe records per 0320 in 48, or one record per
//! 0320), and the closing 0320 (60.3 `207` balanced, `202` not) closes the batch.
//!
//! A repeated 0500 or closing 0320 for the batch just closed is answered 00 and changes
//! nothing. A 0500 is such a repeat only when its batch number *and* its totals are those the
//! last batch closed with (international: the 30 digits of 63; UnionPay: both groups of 48
//! agree), and the open batch does not hold those totals itself: every fresh terminal numbers
//! its first batch 1, so a 0500 for batch 1 after the host closed a batch 1 is, unless it
//! repeats that close exactly, a new batch and is reconciled against the open one as usual
//! (finding 1 of the new-user review). A 0320 is matched by the original trace number it
//! carries, so a re-sent upload replaces rather than adds.
//!
//! The sequence is enforced (DESIGN §5 state diagram), from where the open batch's settlement
//! stands ([`Settling`]); each refusal leaves the books and the state as they were:
//! - international: a 0500 with a processing code other than 920000 or 960000 is 12; a
//!   960000 trailer is 12 unless a 920000 for the same batch was answered 95 in this batch
//!   (a repeat of a trailer answered 95 gets 95 again); a 0320 outside an upload is 12;
//! - UnionPay: a 0320 (upload or closing) before a 0500 was answered is 12; a closing 0320
//!   whose batch number (60.2) is not the host's is 77, the code UnionPay uses for a batch
//!   number mismatch (DESIGN §9); a closing `207` ("balanced") after the host answered a flag
//!   `2` is 95, "reconcile error, upload" (§9): the terminal must upload and close with `202`,
//!   and 77 would wrongly send it to sign on for a batch number; a closing `202` after the
//!   host answered both flags `1` is 12 (it would close the batch on an upload of chip
//!   records only).
//! - both: an international 0500 whose field 63 does not start with 30 digits, or a UnionPay
//!   0500 whose 48 is not 62 digits, is 30 (format error), not an out-of-balance 95.
//!
//! A terminal that retries after a lost reply gets its first answer: the repeat of what
//! closed a batch finds it closed (00), and a refusal changes nothing, so its repeat is
//! refused the same way.

use crate::config::Dialect;
use crate::fields::{self, Cup60};
use crate::handler::{Answer, Ctx, Terminal};
use crate::ledger::{
    next_batch, Book, CardGroup, CloseResult, MaskedPan, Rec, RecordState, Settling, TxnKind,
};
use crate::rules::{FaultAction, ResponseCode};
use crate::store::{Op, Writer};
use crate::totals::{CupTotals, IntlTotals, Totals};

const FORMAT_ERROR: ResponseCode = ResponseCode(*b"30");
const OUT_OF_BALANCE: ResponseCode = ResponseCode(*b"95");
const BATCH_MISMATCH: ResponseCode = ResponseCode(*b"77");
const INVALID: ResponseCode = ResponseCode(*b"12");

/// A 0500.
pub(crate) fn reconcile(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book) -> Answer {
    match ctx.dialect {
        Dialect::International => reconcile_intl(ctx, term, book),
        Dialect::UnionPay => reconcile_cup(ctx, term, book),
    }
}

/// A 0320.
pub(crate) fn upload(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book) -> Answer {
    match ctx.dialect {
        Dialect::International => upload_intl(ctx, book),
        Dialect::UnionPay => upload_cup(ctx, term, book),
    }
}

/// An international 0500's batch number (60), totals block (63) and whether it is the
/// trailer; the refusal when it is not one: 30 for a missing or malformed field, 12 for a
/// processing code other than 920000 or 960000.
fn read_intl_0500<'a>(ctx: &Ctx<'a>) -> Result<(u32, &'a [u8], bool), Answer> {
    let batch = fields::text(ctx.msg, 60)
        .and_then(fields::parse_digits)
        .and_then(|b| u32::try_from(b).ok());
    let (Some(batch), Some(field63), Some(pcode)) = (
        batch,
        fields::text(ctx.msg, 63).filter(|f| is_totals_block(f)),
        ctx.facts.processing_code,
    ) else {
        return Err(Answer::code(FORMAT_ERROR));
    };
    match &pcode {
        b"920000" => Ok((batch, field63, false)),
        b"960000" => Ok((batch, field63, true)),
        _ => Err(Answer::code(INVALID)),
    }
}

fn reconcile_intl(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book) -> Answer {
    let (batch, field63, trailer) = match read_intl_0500(ctx) {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    if repeats_last_close(ctx, term, book, batch, Claimed::Intl(field63)) {
        return Answer::code(ResponseCode::APPROVED);
    }
    if trailer {
        if let Some(refused) = trailer_out_of_turn(ctx, book, batch) {
            return refused;
        }
    }
    let forced = ctx.fault_is(FaultAction::OutOfBalance);
    let policy = term.void_policy();
    let writer = &ctx.shared.store.writer;
    book.batch = batch;
    let totals = match trailer {
        false => IntlTotals::of(&book.open, policy),
        true => IntlTotals::of(book.open.iter().filter(|r| kept(r, ctx.dialect)), policy),
    };
    if !forced && totals.matches_block(field63) {
        let result = match trailer {
            false => CloseResult::Balanced,
            true => {
                book.drop_unconfirmed(ctx.dialect, writer);
                CloseResult::Uploaded
            }
        };
        close(ctx, term, book, result, None);
        return Answer::code(ResponseCode::APPROVED);
    }
    tracing::debug!(batch, trailer, forced, "out of balance: 95");
    ctx.shared.stats.out_of_balance();
    // The next round (upload after a 920000, or a new settlement after the trailer) starts
    // from nothing uploaded.
    book.reset_uploads(writer);
    match (trailer, ctx.facts.trace) {
        (false, _) => book.set_settling(Settling::Uploading, writer),
        (true, trace) => {
            // The batch stays open and the next settlement starts again at 920000 (DESIGN
            // §5); a repeat of this trailer (its reply lost) must still get 95.
            if let Some(trace) = trace {
                book.remember(*b"0500", trace, OUT_OF_BALANCE, writer);
            }
            book.set_settling(Settling::Idle, writer);
        }
    }
    Answer::code(OUT_OF_BALANCE)
}

/// A 0500's totals as the terminal sent them: the international field 63 block, or the 62
/// digits of UnionPay field 48.
#[derive(Clone, Copy)]
enum Claimed<'a> {
    Intl(&'a [u8]),
    Cup(&'a [u8]),
}

impl Claimed<'_> {
    /// True when the terminal's totals are `totals` by the dialect's rule: the 30 digits of
    /// the international block equal, or both UnionPay groups flagged `1`.
    fn agree(self, totals: &Totals) -> bool {
        match (self, totals) {
            (Claimed::Intl(block), Totals::Intl(t)) => t.matches_block(block),
            (Claimed::Cup(f48), Totals::Cup(t)) => t.flags(f48) == Some(*b"11"),
            _ => false,
        }
    }
}

/// True when a 0500 repeats the one that closed the last batch (its reply lost): the same
/// batch number and the totals that batch closed with (module docs). When the open batch is
/// not empty and holds those totals too, the 0500 is taken for the open batch's: a terminal
/// that lost its reply retries before it sells again, so it has nothing open at the host.
fn repeats_last_close(
    ctx: &Ctx<'_>,
    term: &Terminal,
    book: &Book,
    batch: u32,
    claimed: Claimed<'_>,
) -> bool {
    let policy = term.void_policy();
    let Some(last) = book.closed.last().filter(|c| c.batch == batch) else {
        return false;
    };
    if !claimed.agree(&last.summary(ctx.dialect, policy).totals) {
        tracing::debug!(
            batch,
            "0500 for the closed batch's number, other totals: a new batch"
        );
        return false;
    }
    let open = Totals::of(&book.open, ctx.dialect, policy);
    if !book.open.is_empty() && claimed.agree(&open) {
        tracing::debug!(
            batch,
            "0500 matches both the closed and the open batch: the open one"
        );
        return false;
    }
    tracing::debug!(batch, "0500 repeats the closed batch's: 00");
    ctx.shared.stats.repeated_close();
    true
}

/// True for a field 63 that starts with the four totals, 30 digits (DESIGN §5, dialect I);
/// what follows (filler to 90 characters, or nothing) is not read.
fn is_totals_block(field63: &[u8]) -> bool {
    field63
        .get(..30)
        .is_some_and(|t| t.iter().all(u8::is_ascii_digit))
}

/// A 960000 trailer is only in turn after a 920000 for the same batch was answered 95: the
/// refusal (12), or the first answer to a repeated trailer; `None` when it is in turn.
fn trailer_out_of_turn(ctx: &Ctx<'_>, book: &Book, batch: u32) -> Option<Answer> {
    if let Some(code) = ctx.facts.trace.and_then(|t| book.first_answer(*b"0500", t)) {
        return Some(Answer::code(code));
    }
    if book.settling() == Settling::Uploading && book.batch == batch {
        return None;
    }
    tracing::debug!(
        batch,
        host = book.batch,
        settling = book.settling().name(),
        "trailer without a 95 for its batch: 12"
    );
    Some(Answer::code(INVALID))
}

fn reconcile_cup(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book) -> Answer {
    let mut buf = [0u8; 62];
    let field48 = ctx
        .msg
        .field(48)
        .and_then(|f| fields::value_into(&f, &mut buf).map(|v| v.len()));
    let (Some(batch), Some(62)) = (Cup60::read(ctx.msg).and_then(|f| f.batch()), field48) else {
        return Answer::code(FORMAT_ERROR);
    };
    let mut reply48 = buf.to_vec();
    if repeats_last_close(ctx, term, book, batch, Claimed::Cup(&buf)) {
        set_flags(&mut reply48, *b"11");
        return Answer::code(ResponseCode::APPROVED).with(48, reply48);
    }
    if batch != book.batch {
        tracing::debug!(batch, host = book.batch, "batch number mismatch: 77");
        return Answer::code(BATCH_MISMATCH);
    }
    let totals = CupTotals::of(&book.open);
    let mut flags = totals.flags(&buf).unwrap_or(*b"22");
    if ctx.fault_is(FaultAction::OutOfBalance) {
        flags = *b"22";
    }
    set_flags(&mut reply48, flags);
    let writer = &ctx.shared.store.writer;
    book.reset_uploads(writer);
    let settling = match flags {
        [b'1', b'1'] => Settling::Balanced,
        _ => {
            ctx.shared.stats.out_of_balance();
            Settling::Uploading
        }
    };
    book.set_settling(settling, writer);
    tracing::debug!(batch, flags = ?flags, "reconciled");
    Answer::code(ResponseCode::APPROVED).with(48, reply48)
}

fn set_flags(field48: &mut [u8], [domestic, foreign]: [u8; 2]) {
    if let Some(f) = field48.get_mut(30) {
        *f = domestic;
    }
    if let Some(f) = field48.get_mut(61) {
        *f = foreign;
    }
}

/// International 0320: 60 carries the original MTI and trace (DESIGN §5, dialect I). Only
/// while the host waits for an upload (its 920000 answered 95).
fn upload_intl(ctx: &Ctx<'_>, book: &mut Book) -> Answer {
    if book.settling() != Settling::Uploading {
        tracing::debug!(stan = ?ctx.facts.trace, "0320 outside an upload: 12");
        return Answer::code(INVALID);
    }
    let f60 = fields::text(ctx.msg, 60).unwrap_or(&[]);
    let original_mti: Option<[u8; 4]> = f60.get(..4).and_then(|m| m.try_into().ok());
    let trace = f60
        .get(4..10)
        .and_then(fields::parse_digits)
        .and_then(|t| u32::try_from(t).ok());
    let (Some(mti), Some(trace), Some(pcode), Some(amount)) = (
        original_mti,
        trace,
        ctx.facts.processing_code,
        ctx.facts.amount,
    ) else {
        return Answer::code(FORMAT_ERROR);
    };
    // The 0320's processing code is the original's with the last digit set to 1.
    let mut original_pcode = pcode;
    if let Some(last) = original_pcode.last_mut() {
        *last = b'0';
    }
    let kind = match (&mti, original_pcode.get(..2)) {
        (b"0220", Some(b"00")) => TxnKind::OfflineSale,
        (_, Some(b"20")) => TxnKind::Refund,
        (b"0200", Some(b"00")) => TxnKind::Sale,
        _ => return Answer::code(INVALID),
    };
    let up = Uploaded {
        trace,
        mti,
        processing_code: original_pcode,
        kind,
        amount,
        group: CardGroup::Foreign,
        pan: MaskedPan::of(ctx.facts.pan),
    };
    book.upload(&up, &ctx.shared.store.writer);
    Answer::code(ResponseCode::APPROVED)
}

/// UnionPay 0320: a group of magnetic-stripe sales in 48, one record, or the closing 0320.
fn upload_cup(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book) -> Answer {
    let Some(f60) = Cup60::read(ctx.msg) else {
        return Answer::code(FORMAT_ERROR);
    };
    let closing = matches!(f60.network_code().as_ref(), Some(b"202" | b"207"));
    let repeat = closing && f60.batch().is_some() && book.last_closed() == f60.batch();
    if book.settling() == Settling::Idle && !repeat {
        tracing::debug!(stan = ?ctx.facts.trace, "0320 before a 0500 was answered: 12");
        return Answer::code(INVALID);
    }
    match f60.network_code().as_ref() {
        Some(b"202" | b"207") => closing_cup(ctx, term, book, &f60),
        Some(b"201") if !ctx.msg.has(2) => upload_group(ctx, book),
        Some(b"201" | b"203" | b"205") => upload_single(ctx, book),
        _ => Answer::code(INVALID),
    }
}

/// Field 48: count n2, then per record group n2, trace n6, PAN n20, amount n12.
fn upload_group(ctx: &Ctx<'_>, book: &mut Book) -> Answer {
    let mut buf = [0u8; 322];
    let Some(digits) = ctx
        .msg
        .field(48)
        .and_then(|f| fields::value_into(&f, &mut buf))
    else {
        return Answer::code(FORMAT_ERROR);
    };
    let count = digits.get(..2).and_then(fields::parse_digits).unwrap_or(0) as usize;
    let records = digits.get(2..).unwrap_or(&[]);
    if count == 0 || count > 8 || records.len() != count * 40 {
        return Answer::code(FORMAT_ERROR);
    }
    let mut parsed = [None; 8];
    for (slot, record) in parsed.iter_mut().zip(records.chunks_exact(40)) {
        *slot = group_record(record);
        if slot.is_none() {
            return Answer::code(FORMAT_ERROR);
        }
    }
    for up in parsed.iter().flatten() {
        book.upload(up, &ctx.shared.store.writer);
    }
    Answer::code(ResponseCode::APPROVED).with(48, digits.to_vec())
}

fn group_record(record: &[u8]) -> Option<Uploaded> {
    let group = match record.get(..2)? {
        b"00" => CardGroup::Domestic,
        b"01" => CardGroup::Foreign,
        _ => return None,
    };
    let trace = u32::try_from(fields::parse_digits(record.get(2..8)?)?).ok()?;
    let pan = record.get(8..28)?;
    let pan = pan
        .get(pan.iter().take_while(|d| **d == b'0').count()..)
        .unwrap_or(&[]);
    Some(Uploaded {
        trace,
        mti: *b"0200",
        processing_code: *b"000000",
        kind: TxnKind::Sale,
        amount: fields::parse_digits(record.get(28..40)?)?,
        group,
        pan: MaskedPan::of(pan),
    })
}

/// One record per 0320: field 11 is the original trace number (DESIGN §6).
fn upload_single(ctx: &Ctx<'_>, book: &mut Book) -> Answer {
    let (Some(trace), Some(pcode), Some(amount)) =
        (ctx.facts.trace, ctx.facts.processing_code, ctx.facts.amount)
    else {
        return Answer::code(FORMAT_ERROR);
    };
    let kind = match pcode.get(..2) {
        Some(b"20") => TxnKind::Refund,
        _ => TxnKind::Sale,
    };
    let group = match ctx.shared.rules().is_domestic(ctx.facts.pan) {
        true => CardGroup::Domestic,
        false => CardGroup::Foreign,
    };
    let up = Uploaded {
        trace,
        mti: *b"0200",
        processing_code: pcode,
        kind,
        amount,
        group,
        pan: MaskedPan::of(ctx.facts.pan),
    };
    book.upload(&up, &ctx.shared.store.writer);
    Answer::code(ResponseCode::APPROVED)
}

/// The closing 0320: 48 = records uploaded n4; 60.3 `207` balanced, `202` not. It must
/// carry the host's batch number and say what the 0510's flags said (module docs).
fn closing_cup(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book, f60: &Cup60) -> Answer {
    let Some(batch) = f60.batch() else {
        return Answer::code(FORMAT_ERROR);
    };
    if book.last_closed() == Some(batch) {
        ctx.shared.stats.repeated_close();
        return Answer::code(ResponseCode::APPROVED);
    }
    let balanced = f60.network_code().as_ref() == Some(b"207");
    if let Some(refused) = closing_out_of_turn(book, batch, balanced) {
        return refused;
    }
    let mut buf = [0u8; 8];
    let claimed = ctx
        .msg
        .field(48)
        .and_then(|f| fields::value_into(&f, &mut buf).and_then(fields::parse_digits))
        .and_then(|c| u32::try_from(c).ok());
    let received = book.open.iter().filter(|r| r.uploaded).count();
    if claimed.is_some_and(|c| c as usize != received) {
        tracing::warn!(
            claimed,
            received,
            "closing 0320 counts other uploads than received"
        );
    }
    let result = match balanced {
        true => CloseResult::Balanced,
        false => {
            book.drop_unconfirmed(ctx.dialect, &ctx.shared.store.writer);
            CloseResult::Uploaded
        }
    };
    close(ctx, term, book, result, claimed);
    Answer::code(ResponseCode::APPROVED)
}

/// A closing 0320 for another batch number than the host's (77), or that contradicts the
/// 0510's flags: `207` after a flag `2` (95, upload first), `202` after flags `1` (12).
fn closing_out_of_turn(book: &Book, batch: u32, balanced: bool) -> Option<Answer> {
    if batch != book.batch {
        tracing::debug!(
            batch,
            host = book.batch,
            "closing 0320: batch number mismatch: 77"
        );
        return Some(Answer::code(BATCH_MISMATCH));
    }
    match (balanced, book.settling()) {
        (true, Settling::Uploading) => {
            tracing::debug!(batch, "closing 0320 207 after flags 2: 95");
            Some(Answer::code(OUT_OF_BALANCE))
        }
        (false, Settling::Balanced) => {
            tracing::debug!(batch, "closing 0320 202 after flags 1: 12");
            Some(Answer::code(INVALID))
        }
        _ => None,
    }
}

/// Closes the open batch: it moves to the closed list with its totals, and a new one starts.
fn close(
    ctx: &Ctx<'_>,
    term: &Terminal,
    book: &mut Book,
    result: CloseResult,
    claimed: Option<u32>,
) {
    let totals = totals_text(ctx.dialect, term, &book.open);
    ctx.shared.store.writer.send(Op::Close {
        terminal: book.terminal,
        seq: book.batch_seq(),
        batch: book.batch,
        result,
        totals,
        claimed_uploads: claimed,
    });
    ctx.shared.stats.reconciled();
    tracing::debug!(batch = book.batch, result = result.name(), "batch closed");
    let records = std::mem::take(&mut book.open);
    book.closed.push(crate::ledger::Closed {
        batch: book.batch,
        result,
        records,
        claimed_uploads: claimed,
        summary: None,
    });
    let writer = &ctx.shared.store.writer;
    book.trim_closed(ctx.dialect, term.void_policy(), writer);
    book.reset_matching();
    book.batch = next_batch(book.batch);
    book.set_settling(Settling::Idle, writer);
}

fn totals_text(dialect: Dialect, term: &Terminal, records: &[Rec]) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match dialect {
        Dialect::International => IntlTotals::of(records, term.void_policy())
            .block()
            .map_or_else(|| "overflow".to_owned(), |b| text(&b)),
        Dialect::UnionPay => {
            let t = CupTotals::of(records);
            match (t.domestic.digits(), t.foreign.digits()) {
                (Some(d), Some(f)) => format!("{}{}", text(&d), text(&f)),
                _ => "overflow".to_owned(),
            }
        }
    }
}

/// True when a record stays in the batch closed on the uploaded view: it was uploaded, or
/// it is of a kind no upload carries (voids, pre-auths and their voids; international voided
/// sales).
fn kept(r: &Rec, dialect: Dialect) -> bool {
    let never_uploaded = matches!(
        r.kind,
        TxnKind::Void | TxnKind::PreAuth | TxnKind::PreAuthVoid
    ) || matches!(r.state, RecordState::Reversed | RecordState::Unconfirmed)
        || (dialect == Dialect::International && r.state == RecordState::Voided);
    r.uploaded || never_uploaded
}

/// A record as a 0320 describes it.
#[derive(Clone, Copy)]
pub(crate) struct Uploaded {
    trace: u32,
    mti: [u8; 4],
    processing_code: [u8; 6],
    kind: TxnKind,
    amount: u64,
    group: CardGroup,
    pan: MaskedPan,
}

impl Book {
    /// A 0320's record: marks the host's record with that trace as uploaded (taking the
    /// terminal's amount, and back from reversed or unconfirmed: the upload is the terminal's
    /// view), or adds it if the host never saw it.
    pub(crate) fn upload(&mut self, up: &Uploaded, writer: &Writer) {
        let found = self.open.iter_mut().rev().find(|r| {
            r.trace == up.trace
                && !matches!(
                    r.kind,
                    TxnKind::Void | TxnKind::PreAuth | TxnKind::PreAuthVoid
                )
        });
        if let Some(r) = found {
            r.uploaded = true;
            r.amount = up.amount;
            if matches!(r.state, RecordState::Reversed | RecordState::Unconfirmed) {
                r.state = RecordState::Approved;
            }
            writer.send(Op::put(self.terminal, r));
            return;
        }
        tracing::debug!(stan = up.trace, "upload of a record the host did not have");
        let rec = Rec {
            id: writer.next_id(),
            batch_seq: self.batch_seq(),
            trace: up.trace,
            mti: up.mti,
            processing_code: up.processing_code,
            kind: up.kind,
            amount: up.amount,
            state: RecordState::Approved,
            uploaded: true,
            from_upload: true,
            rrn: [b'0'; 12],
            approval: [b' '; 6],
            group: up.group,
            original: None,
            pan: up.pan,
        };
        writer.send(Op::put(self.terminal, &rec));
        self.open.push(rec);
    }

    /// Clears the uploaded marks: a new upload round starts.
    pub(crate) fn reset_uploads(&mut self, writer: &Writer) {
        for r in self.open.iter_mut().filter(|r| r.uploaded) {
            r.uploaded = false;
            writer.send(Op::put(self.terminal, r));
        }
    }

    /// Closing on the uploaded view: records the upload should have carried but did not are
    /// unconfirmed (and a void of an unconfirmed sale with them).
    pub(crate) fn drop_unconfirmed(&mut self, dialect: Dialect, writer: &Writer) {
        let mut dropped = Vec::new();
        for r in self.open.iter_mut().filter(|r| !kept(r, dialect)) {
            r.state = RecordState::Unconfirmed;
            dropped.push(r.trace);
            writer.send(Op::put(self.terminal, r));
        }
        for r in self
            .open
            .iter_mut()
            .filter(|r| r.kind == TxnKind::Void && r.original.is_some_and(|o| dropped.contains(&o)))
        {
            r.state = RecordState::Unconfirmed;
            writer.send(Op::put(self.terminal, r));
        }
        if !dropped.is_empty() {
            tracing::debug!(
                count = dropped.len(),
                "approved records missing from the upload"
            );
        }
    }
}
