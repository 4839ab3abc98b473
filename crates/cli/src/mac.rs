//! `iso8583 mac`: decodes a message (framed or not, as `decode` reads it) and computes its MAC
//! over the MAC input, then compares it with the MAC the message carries.
//!
//! Which field carries the MAC: field 128 when the message has a secondary bitmap (bit 1 set)
//! and the spec defines field 128; field 64 otherwise (ISO 8583:1987, DE 64 and DE 128: the MAC
//! is the last field of the last bitmap present). The MAC input is the message from the MTI up
//! to the start of that field, length prefix included, or the whole message when the field is
//! absent (a message about to be signed). The arithmetic is `iso8583-crypto`'s.

use iso8583_codec::json::upper_hex;
use iso8583_codec::Message;
use iso8583_crypto::{KeyUse, Mac, MacAlgorithm, MacError};

use crate::decode::decode;
use crate::input::InputArgs;
use crate::keys::{parse_key, secret, Secret};
use crate::output::{Failure, Output};

/// Exit status when the message's MAC is not the one computed.
pub(crate) const EXIT_MISMATCH: u8 = 3;

/// Arguments of `iso8583 mac`.
#[derive(Debug, clap::Args)]
pub(crate) struct MacArgs {
    /// The MAC algorithm: ANSI X9.19, ANSI X9.9 or the UnionPay ECB MAC.
    #[arg(long, value_name = "x919|x99|cup-ecb", value_parser = parse_algorithm)]
    algorithm: MacAlgorithm,
    /// The MAC key: 16, 32 or 48 hex digits (X9.19 needs 32).
    #[arg(long, value_name = "HEX", value_parser = secret)]
    key: Secret,
    /// How much of the key to use: all of it, or only its first 8 bytes (single DES), as many
    /// UnionPay terminals do with a double-length MAC key. First-half is for x99 and cup-ecb
    /// only: x919 always uses both halves.
    #[arg(long, value_enum, value_name = "USE", default_value_t = KeyUseArg::Whole)]
    key_use: KeyUseArg,
    /// The same as `--key-use first-half`.
    #[arg(long, conflicts_with = "key_use")]
    single: bool,
    #[command(flatten)]
    input: InputArgs,
}

/// The values of `--key-use`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KeyUseArg {
    /// The whole key.
    Whole,
    /// The first 8 bytes only.
    FirstHalf,
}

impl MacArgs {
    /// A combination of options that clap cannot refuse by itself, as the usage error to give.
    ///
    /// Only the first half of the key (`--single`, `--key-use first-half`) is single DES, which
    /// X9.9 and the UnionPay ECB MAC can use but X9.19 cannot: it always needs both halves of
    /// a double-length key.
    pub(crate) fn usage_problem(&self) -> Option<String> {
        let first_half = self.single || self.key_use == KeyUseArg::FirstHalf;
        (first_half && self.algorithm == MacAlgorithm::X919).then(|| {
            "--single (--key-use first-half) applies to x99 and cup-ecb only: x919 always uses \
             both halves of a 16-byte key"
                .to_string()
        })
    }
}

fn parse_algorithm(value: &str) -> Result<MacAlgorithm, MacError> {
    value.parse()
}

/// How the MAC the message carries compares with the computed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Match,
    Mismatch,
    Absent,
}

/// Runs `mac`: prints the MAC as the MAC field would hold it, then `match`, `mismatch` or
/// `absent`; returns 0, [`EXIT_MISMATCH`] or 1 for bad input.
pub(crate) fn run(args: &MacArgs, out: &mut Output) -> u8 {
    match compute(args) {
        Ok((text, verdict)) => {
            out.line(text);
            let (word, status) = match verdict {
                Verdict::Match => ("match", 0),
                Verdict::Mismatch => ("mismatch", EXIT_MISMATCH),
                Verdict::Absent => ("absent", 0),
            };
            out.line(word);
            status
        }
        Err(failure) => out.fail(false, &failure),
    }
}

fn compute(args: &MacArgs) -> Result<(String, Verdict), Failure> {
    let key = parse_key(&args.key)?;
    let key_use = match (args.single, args.key_use) {
        (true, _) | (_, KeyUseArg::FirstHalf) => KeyUse::FirstHalf,
        (false, KeyUseArg::Whole) => KeyUse::Whole,
    };
    let mac = Mac::new(args.algorithm).with_key_use(key_use);

    let bytes = args.input.bytes()?;
    let spec = args.input.spec.get();
    let (_, message) = decode(spec, &bytes, &args.input.layout(), args.input.strict)?;

    let field = mac_field(&message);
    let computed = mac
        .compute_message(&key, &message, field)
        .map_err(|e| Failure::new("invalid_key", format!("--key: {e}")))?;
    let verdict = match mac.verify_message(&key, &message, field) {
        Ok(()) => Verdict::Match,
        Err(MacError::MissingMacField { .. }) => Verdict::Absent,
        // A MAC field of another length than 8 cannot hold this MAC either.
        Err(_) => Verdict::Mismatch,
    };
    Ok((field_text(args.algorithm, &computed), verdict))
}

/// 128 when the message has a secondary bitmap and the spec defines field 128, else 64.
fn mac_field(message: &Message<'_>) -> u16 {
    let secondary = message.bitmap().contains(1);
    if secondary && message.spec().field(128).is_some() {
        128
    } else {
        64
    }
}

/// The MAC as the field holds it: X9.19 and X9.9 as 16 hex digits of its 8 bytes, the
/// UnionPay ECB MAC as its 8 characters (already upper-case hex).
fn field_text(algorithm: MacAlgorithm, mac: &[u8; 8]) -> String {
    match algorithm {
        MacAlgorithm::CupEcb => String::from_utf8_lossy(mac).into_owned(),
        _ => upper_hex(mac),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iso8583_codec::{Builder, Mti, Spec};

    #[test]
    fn the_secondary_bitmap_moves_the_mac_to_128() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
        builder.set_str(3, "000000").unwrap();
        let primary = builder.to_bytes();
        let message = spec.decode(&primary).unwrap().complete().unwrap();
        assert_eq!(mac_field(&message), 64);

        builder.set_str(70, "001").unwrap();
        let secondary = builder.to_bytes();
        let message = spec.decode(&secondary).unwrap().complete().unwrap();
        assert_eq!(mac_field(&message), 128);
    }

    #[test]
    fn ecb_macs_print_as_their_characters() {
        assert_eq!(field_text(MacAlgorithm::CupEcb, b"182A3F31"), "182A3F31");
        assert_eq!(
            field_text(
                MacAlgorithm::X99,
                &[0xBD, 0x76, 0xA3, 0x10, 0x55, 0x19, 0x1B, 0xC4]
            ),
            "BD76A31055191BC4"
        );
    }
}
