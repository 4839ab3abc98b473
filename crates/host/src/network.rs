//! Network management: sign-on, echo, sign-off (DESIGN §4, issue #5 "Messages").
//!
//! International: 0800 with processing code 920000 signs on (keys come from the terminal's
//! profile, so nothing is delivered), 990000 is an echo; 0820 signs off. UnionPay: 0800 with
//! 60.3 `001`, `003` or `004` signs on and gets fresh working keys in field 62, each encrypted
//! under the terminal master key and followed by its check value, with the host's batch number
//! in 60.2; 60.3 `301` (in an 0800 or 0820) is an echo; 0820 with `002` signs off.

use iso8583_crypto::{DesKey, Field62Layout, WorkingKeys};

use crate::config::Dialect;
use crate::fields::{self, Cup60};
use crate::handler::{lock, Answer, Ctx, Terminal};
use crate::ledger::Book;
use crate::rules::{FaultAction, ResponseCode};

const INVALID: ResponseCode = ResponseCode(*b"12");
const MALFUNCTION: ResponseCode = ResponseCode(*b"96");

pub(crate) fn network(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book) -> Answer {
    match ctx.dialect {
        Dialect::International => intl(ctx, book),
        Dialect::UnionPay => cup(ctx, term, book),
    }
}

fn intl(ctx: &Ctx<'_>, book: &mut Book) -> Answer {
    match (&ctx.facts.mti, ctx.facts.processing_code.as_ref()) {
        (b"0800", Some(b"920000")) => {
            book.signed_on = true;
            tracing::debug!("signed on");
            Answer::code(ResponseCode::APPROVED)
        }
        (b"0800", Some(b"990000")) => Answer::code(ResponseCode::APPROVED),
        (b"0820", _) => {
            book.signed_on = false;
            Answer::code(ResponseCode::APPROVED)
        }
        _ => Answer::code(INVALID),
    }
}

fn cup(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book) -> Answer {
    let Some(f60) = Cup60::read(ctx.msg) else {
        return Answer::code(ResponseCode(*b"30"));
    };
    let code = f60.network_code().unwrap_or([0; 3]);
    match (&ctx.facts.mti, &code) {
        (b"0800", b"001" | b"003" | b"004") => sign_on(ctx, term, book, &f60, &code),
        (_, b"301") => Answer::code(ResponseCode::APPROVED),
        (b"0820", b"002") => {
            book.signed_on = false;
            book.mac_key = None;
            Answer::code(ResponseCode::APPROVED)
        }
        _ => Answer::code(INVALID),
    }
}

/// A UnionPay sign-on: fresh keys in the layout 60.3 asks for, and the batch number.
fn sign_on(ctx: &Ctx<'_>, term: &Terminal, book: &mut Book, f60: &Cup60, code: &[u8; 3]) -> Answer {
    let layout = match code {
        b"001" => Field62Layout::Single,
        b"004" => Field62Layout::DoubleWithTrack,
        _ => Field62Layout::Double,
    };
    let mut reply60 = f60.type_code().unwrap_or(b"00").to_vec();
    reply60.extend_from_slice(&fields::digits::<6>(u64::from(book.batch)));
    reply60.extend_from_slice(code);
    let answer = Answer::code(ResponseCode::APPROVED).with(60, reply60);

    let Some(tmk) = term.tmk() else {
        // No master key: nothing to deliver; the terminal works without working keys.
        book.signed_on = true;
        return answer;
    };
    let wrapped = fresh_keys(ctx, layout).map(|k| (k.to_field62(tmk, layout), k));
    let (mut field62, keys) = match wrapped {
        Some((Ok(f), keys)) => (f, keys),
        _ => {
            tracing::error!("working keys could not be made or wrapped");
            return Answer::code(MALFUNCTION);
        }
    };
    if ctx.fault_is(FaultAction::BadCheckValue) {
        // The MAC key's check value follows the PIN key, its check value and the MAC key.
        let at = 2 * layout.key_len() + 4;
        if let Some(b) = field62.get_mut(at) {
            *b ^= 0xFF;
        }
    }
    tracing::debug!(batch = book.batch, mac_kcv = %keys.mac.check_value(), "signed on");
    book.mac_key = Some(keys.mac);
    book.signed_on = true;
    answer.with(62, field62)
}

/// Fresh random working keys of the layout's length, with odd parity.
fn fresh_keys(ctx: &Ctx<'_>, layout: Field62Layout) -> Option<WorkingKeys> {
    let mut rng = lock(&ctx.shared.keys);
    let mut key = || {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        let mut k = DesKey::from_slice(bytes.get(..layout.key_len())?).ok()?;
        k.adjust_parity();
        Some(k)
    };
    let pin = key()?;
    let mac = key()?;
    let track = match layout {
        Field62Layout::DoubleWithTrack => Some(key()?),
        _ => None,
    };
    Some(WorkingKeys { pin, mac, track })
}
