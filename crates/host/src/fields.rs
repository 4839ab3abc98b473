//! Reading the few fields the host acts on, without allocating: logical values are copied into
//! caller-owned stack buffers, ASCII fields are borrowed from the frame.
//!
//! Every reader returns `None` for an absent field or one of an unexpected length, so a
//! message that decodes but lacks what a rule needs is answered 30 by the handler rather than
//! guessed at.

use iso8583_codec::{Field, Message};

use crate::config::Dialect;
use crate::rules::Facts;

/// Copies a field's logical value into `buf`; `None` if it is longer than `buf`.
pub(crate) fn value_into<'b>(field: &Field<'_>, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let value = field.value();
    let len = value.len();
    let out = buf.get_mut(..len)?;
    for (to, from) in out.iter_mut().zip(value) {
        *to = from;
    }
    Some(out)
}

/// A field of exactly `N` logical units (digits or characters).
pub(crate) fn fixed<const N: usize>(msg: &Message<'_>, n: u16) -> Option<[u8; N]> {
    let field = msg.field(n)?;
    let mut out = [0u8; N];
    let value = field.value();
    if value.len() != N {
        return None;
    }
    for (to, from) in out.iter_mut().zip(value) {
        *to = from;
    }
    Some(out)
}

/// The bytes of an ASCII text field as they are on the wire.
pub(crate) fn text<'a>(msg: &Message<'a>, n: u16) -> Option<&'a [u8]> {
    msg.field(n).and_then(|f| f.as_str()).map(str::as_bytes)
}

/// Decimal digits as a number; `None` for anything else or more than 19 digits.
pub(crate) fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        let d = d.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Writes `value` as `N` zero-padded decimal digits (the high digits dropped if it is longer).
pub(crate) fn digits<const N: usize>(mut value: u64) -> [u8; N] {
    let mut out = [b'0'; N];
    for d in out.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out
}

/// UnionPay field 60 as digits (type n2, batch n6, network code n3, ...).
#[derive(Clone, Copy)]
pub(crate) struct Cup60 {
    buf: [u8; 30],
    len: usize,
}

impl Cup60 {
    pub(crate) fn read(msg: &Message<'_>) -> Option<Cup60> {
        let field = msg.field(60)?;
        let mut buf = [0u8; 30];
        let len = value_into(&field, &mut buf)?.len();
        Some(Cup60 { buf, len })
    }

    pub(crate) fn digits(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// 60.1, the message type code.
    pub(crate) fn type_code(&self) -> Option<&[u8]> {
        self.digits().get(..2)
    }

    /// 60.2, the batch number.
    pub(crate) fn batch(&self) -> Option<u32> {
        let batch = parse_digits(self.digits().get(2..8)?)?;
        u32::try_from(batch).ok()
    }

    /// 60.3, the network management code.
    pub(crate) fn network_code(&self) -> Option<[u8; 3]> {
        self.digits().get(8..11)?.try_into().ok()
    }
}

/// The PAN of a track 2 (field 35): its digits before the separator (`=`, or `D` in BCD),
/// copied into `buf`; `None` without a separator within 19 digits, or for a non-digit.
pub(crate) fn track2_pan<'b>(field: &Field<'_>, buf: &'b mut [u8; 19]) -> Option<&'b [u8]> {
    let mut len = 0;
    for b in field.value() {
        match b {
            b'=' | b'D' => return buf.get(..len),
            b'0'..=b'9' => {
                *buf.get_mut(len)? = b;
                len += 1;
            }
            _ => return None,
        }
    }
    None
}

impl<'a> Facts<'a> {
    /// The facts of a decoded message; the PAN's digits go into `pan`: field 2, or for a
    /// swiped card sent with track 2 only (common on UnionPay terminals) the account number
    /// track 2 starts with, so that card groups and card-prefix rules see it too.
    pub(crate) fn read(msg: &Message<'a>, dialect: Dialect, pan: &'a mut [u8; 19]) -> Facts<'a> {
        let pan: &'a [u8] = match (msg.field(2), msg.field(35)) {
            (Some(f), _) => value_into(&f, pan).map_or(&[][..], |p| p),
            (None, Some(track)) => track2_pan(&track, pan).unwrap_or(&[]),
            (None, None) => &[],
        };
        let network_code = match dialect {
            Dialect::UnionPay => Cup60::read(msg).and_then(|f| f.network_code()),
            Dialect::International => None,
        };
        Facts {
            mti: msg.mti().digits(),
            processing_code: fixed::<6>(msg, 3),
            network_code,
            trace: msg
                .field(11)
                .and_then(|f| f.to_u64())
                .and_then(|t| u32::try_from(t).ok()),
            terminal: text(msg, 41),
            amount: msg.field(4).and_then(|f| f.to_u64()),
            pan,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_round_trip() {
        assert_eq!(&digits::<6>(42), b"000042");
        assert_eq!(&digits::<3>(1234), b"234");
        assert_eq!(parse_digits(b"000042"), Some(42));
        assert_eq!(parse_digits(b"00x042"), None);
        assert_eq!(parse_digits(b""), None);
        assert_eq!(parse_digits(&[b'9'; 20]), None);
    }
}
