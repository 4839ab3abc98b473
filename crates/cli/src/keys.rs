//! Keys, check values and PIN blocks on the command line: `iso8583 kcv` and
//! `iso8583 pin-block`, and the `--key` option that `mac` shares.
//!
//! The cryptography is all `iso8583-crypto`'s. What this module adds is care with secrets:
//! keys and PINs are taken as plain strings, so that a bad value is reported by the crypto
//! crate's errors (which name positions and lengths, never the text) with exit status 1,
//! rather than by clap, which would repeat the value and exit with 2. Nothing here prints a
//! key or a PIN, and `Debug` of the arguments hides them.

use std::fmt;

use iso8583_codec::json::upper_hex;
use iso8583_crypto::{ClearPinBlock, DesKey, KeyError, Pin, PinError, SystemRandom};

use crate::output::{Failure, Output};

/// A secret option value (a key in hex, a PIN), shown as `..` by `Debug`.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The value parser of a secret option: every string is accepted here and checked later.
pub(crate) fn secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret(value.to_string()))
}

/// The DES key given as hex (16, 32 or 48 digits, either case).
pub(crate) fn parse_key(key: &Secret) -> Result<DesKey, Failure> {
    DesKey::from_hex(&key.0).map_err(|e| key_failure(&e))
}

/// A key problem as reported: the crypto crate's message, which never holds key digits.
pub(crate) fn key_failure(error: &KeyError) -> Failure {
    Failure::new("invalid_key", format!("--key: {error}"))
}

/// Arguments of `iso8583 kcv`.
#[derive(Debug, clap::Args)]
pub(crate) struct KcvArgs {
    /// The DES key: 16, 32 or 48 hex digits.
    #[arg(long, value_name = "HEX", value_parser = secret)]
    key: Secret,
    /// How many bytes of the check value to print.
    #[arg(long, value_enum, value_name = "N", default_value_t = KcvBytes::Four)]
    bytes: KcvBytes,
}

/// The values of `kcv --bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KcvBytes {
    /// 6 hex digits, as ANSI X9.24-1 recommends for display.
    #[value(name = "3")]
    Three,
    /// 8 hex digits, as UnionPay field 62 carries it.
    #[value(name = "4")]
    Four,
}

/// `iso8583 kcv`: the key's check value (the key encrypting eight zero bytes, ANSI X9.24-1),
/// its first 3 or 4 bytes in upper-case hex.
pub(crate) fn kcv(args: &KcvArgs, out: &mut Output) -> u8 {
    let key = match parse_key(&args.key) {
        Ok(key) => key,
        Err(failure) => return out.fail(false, &failure),
    };
    let value = key.check_value();
    let text = match args.bytes {
        KcvBytes::Three => upper_hex(&value.kcv3()),
        KcvBytes::Four => upper_hex(&value.kcv4()),
    };
    out.line(text);
    0
}

/// Arguments of `iso8583 pin-block`.
#[derive(Debug, clap::Args)]
pub(crate) struct PinBlockArgs {
    /// ISO 9564-1 format: 0 (fill F) or 3 (random fill A-F).
    #[arg(long, value_enum, value_name = "0|3")]
    format: PinFormat,
    /// The PIN: 4 to 12 digits.
    #[arg(long, value_name = "PIN", value_parser = secret)]
    pin: Secret,
    /// The card number: 8 to 19 digits.
    #[arg(long, value_name = "PAN", value_parser = secret)]
    pan: Secret,
    /// A PIN key (16, 32 or 48 hex digits): print the block encrypted under it.
    #[arg(long, value_name = "HEX", value_parser = secret)]
    key: Option<Secret>,
}

/// The values of `pin-block --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PinFormat {
    /// ISO 9564-1 format 0 (ANSI X9.8): fill F.
    #[value(name = "0")]
    Zero,
    /// ISO 9564-1 format 3: random fill A-F.
    #[value(name = "3")]
    Three,
}

/// `iso8583 pin-block`: the clear PIN block, or the encrypted one under `--key`, as 16
/// upper-case hex digits.
pub(crate) fn pin_block(args: &PinBlockArgs, out: &mut Output) -> u8 {
    match build_pin_block(args) {
        Ok(hex) => {
            out.line(hex);
            0
        }
        Err(failure) => out.fail(false, &failure),
    }
}

fn build_pin_block(args: &PinBlockArgs) -> Result<String, Failure> {
    // The key first: a bad key is reported even if the PIN is bad too, before any block exists.
    let key = args.key.as_ref().map(parse_key).transpose()?;
    let pin = Pin::new(&args.pin.0).map_err(|e| pin_failure(&e))?;
    let pan = args.pan.0.as_str();
    let clear = match args.format {
        PinFormat::Three => ClearPinBlock::format3(&pin, pan, &mut SystemRandom),
        PinFormat::Zero => ClearPinBlock::format0(&pin, pan),
    }
    .map_err(|e| pin_failure(&e))?;
    Ok(match key {
        Some(key) => upper_hex(&clear.encrypt(&key).to_bytes()),
        None => upper_hex(clear.expose_secret()),
    })
}

/// A PIN block problem as reported; the crypto crate's messages hold no PIN or PAN digits.
fn pin_failure(error: &PinError) -> Failure {
    let (kind, option) = match error {
        PinError::PinLength { .. } | PinError::PinDigit { .. } => ("invalid_pin", "--pin: "),
        PinError::PanLength { .. } | PinError::PanDigit { .. } => ("invalid_pan", "--pan: "),
        PinError::RandomSource => ("io", ""),
        _ => ("invalid_pin", ""),
    };
    Failure::new(kind, format!("{option}{error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_or_errors() {
        let key = Secret("0123456789ABCDEG".into());
        assert_eq!(format!("{key:?}"), "Secret(..)");
        let e = parse_key(&key).unwrap_err();
        assert_eq!(e.kind, "invalid_key");
        assert!(!e.message.contains("0123"), "{}", e.message);
    }

    #[test]
    fn pin_problems_name_the_option() {
        let args = PinBlockArgs {
            format: PinFormat::Zero,
            pin: Secret("12a4".into()),
            pan: Secret("1234567890123456".into()),
            key: None,
        };
        let e = build_pin_block(&args).unwrap_err();
        assert_eq!(e.kind, "invalid_pin");
        assert!(e.message.starts_with("--pin: "), "{}", e.message);
        let args = PinBlockArgs {
            pin: Secret("1234".into()),
            pan: Secret("1234".into()),
            ..args
        };
        assert_eq!(build_pin_block(&args).unwrap_err().kind, "invalid_pan");
    }
}
