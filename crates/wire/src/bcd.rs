//! Packed BCD helpers for the fixed-width numbers in length headers, TPDUs and the UnionPay
//! header. Each byte holds two decimal digits, high nibble first; a nibble above 9 makes the
//! value unreadable rather than being guessed at.

/// The decimal value of packed BCD digits, or `None` if a nibble is above 9.
pub(crate) fn read(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        let (high, low) = (u32::from(b >> 4), u32::from(b & 0x0F));
        if high > 9 || low > 9 {
            return None;
        }
        acc.checked_mul(100)?.checked_add(high * 10 + low)
    })
}

/// `value` as `N` bytes of packed BCD, or `None` if it needs more than `2 * N` digits.
pub(crate) fn write<const N: usize>(value: u32) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let mut rest = value;
    for byte in out.iter_mut().rev() {
        let two = rest % 100;
        rest /= 100;
        // `two` is below 100, so both digits fit a nibble.
        *byte = ((two / 10) << 4) as u8 | (two % 10) as u8;
    }
    (rest == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_packed_digits() {
        assert_eq!(read(&[0x01, 0x23]), Some(123));
        assert_eq!(read(&[0x99, 0x99]), Some(9999));
        assert_eq!(read(&[0x1A]), None);
        assert_eq!(read(&[0xA1]), None);
        assert_eq!(write::<2>(123), Some([0x01, 0x23]));
        assert_eq!(write::<3>(1), Some([0x00, 0x00, 0x01]));
        assert_eq!(write::<2>(10_000), None);
    }
}
