//! The built-in test cards, selectable by name (`visa-swipe`, `mc-keyed`, `cup-chip`, ...).
//!
//! Each card is what the reader hands the terminal: PAN, expiry, track 2 (swiped cards), entry
//! mode (`021` swiped, `012` keyed, `051` chip, `071` contactless; POS entry mode n3), card
//! group (domestic means UnionPay, DESIGN §5) and, for chip cards, an EMV data image for field
//! 55. Cards with a PIN get a format 0 PIN block (ISO 9564-1, DESIGN §4) under the terminal's
//! PIN key when it has one. Every PAN passes the Luhn check and belongs to no real account.

use iso8583_crypto::{ClearPinBlock, DesKey, Pin};
use iso8583_settle::{Card, CardGroup, Pan};

use crate::error::CardError;

/// One test card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    /// The name a command selects it by.
    pub name: &'static str,
    /// Card scheme, for the receipt.
    pub scheme: &'static str,
    /// The PAN (printed masked only).
    pub pan: &'static str,
    /// Expiry `YYMM`.
    pub expiry: &'static str,
    /// Track 2 with `=` as separator, for swiped cards.
    pub track2: Option<&'static str>,
    /// POS entry mode (field 22).
    pub entry_mode: &'static str,
    /// Domestic (UnionPay) or foreign.
    pub group: CardGroup,
    /// The cardholder's PIN, when the card asks for one.
    pub pin: Option<&'static str>,
    /// EMV data for field 55 (chip and contactless).
    pub icc: Option<&'static [u8]>,
}

/// A chip card's field 55: a fixed synthetic image with tag 57 (track 2 equivalent), which the
/// engine removes before anything is stored (DESIGN §5).
// TODO(#6): the image is static: no ARQC is computed and 9F02 does not follow the amount, so a
// host that validates chip cryptograms cannot be tested with these cards.
const ICC: &[u8] = &[
    0x9F, 0x26, 0x08, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F, 0x70, 0x81, // ARQC
    0x9F, 0x27, 0x01, 0x80, // cryptogram information
    0x9F, 0x36, 0x02, 0x00, 0x01, // ATC
    0x95, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, // TVR
    0x9A, 0x03, 0x26, 0x12, 0x03, // transaction date
    0x9C, 0x01, 0x00, // transaction type
    0x5F, 0x2A, 0x02, 0x01, 0x56, // currency
    0x82, 0x02, 0x7C, 0x00, // AIP
    0x57, 0x08, 0x62, 0x25, 0x88, 0x00, 0x12, 0x34, 0x56, 0x91, // track 2 equivalent
];

const CARDS: &[TestCard] = &[
    TestCard {
        name: "visa-swipe",
        scheme: "VISA",
        pan: "4761739001010010",
        expiry: "3012",
        track2: Some("4761739001010010=30122010000000000"),
        entry_mode: "021",
        group: CardGroup::Foreign,
        pin: None,
        icc: None,
    },
    TestCard {
        name: "visa-keyed",
        scheme: "VISA",
        pan: "4761739001010028",
        expiry: "3012",
        track2: None,
        entry_mode: "012",
        group: CardGroup::Foreign,
        pin: None,
        icc: None,
    },
    TestCard {
        name: "visa-chip",
        scheme: "VISA",
        pan: "4761739001010010",
        expiry: "3012",
        track2: Some("4761739001010010=30122010000000000"),
        entry_mode: "051",
        group: CardGroup::Foreign,
        pin: None,
        icc: Some(ICC),
    },
    TestCard {
        name: "mc-swipe",
        scheme: "MASTERCARD",
        pan: "5413330089010434",
        expiry: "2912",
        track2: Some("5413330089010434=29122010000000000"),
        entry_mode: "021",
        group: CardGroup::Foreign,
        pin: None,
        icc: None,
    },
    TestCard {
        name: "mc-keyed",
        scheme: "MASTERCARD",
        pan: "5413330089010442",
        expiry: "2912",
        track2: None,
        entry_mode: "012",
        group: CardGroup::Foreign,
        pin: None,
        icc: None,
    },
    TestCard {
        name: "cup-swipe",
        scheme: "UNIONPAY",
        pan: "6225880012345675",
        expiry: "3106",
        track2: Some("6225880012345675=31062200000000000"),
        entry_mode: "021",
        group: CardGroup::Domestic,
        pin: Some("123456"),
        icc: None,
    },
    TestCard {
        name: "cup-keyed",
        scheme: "UNIONPAY",
        pan: "6225880012345683",
        expiry: "3106",
        track2: None,
        entry_mode: "012",
        group: CardGroup::Domestic,
        pin: None,
        icc: None,
    },
    TestCard {
        name: "cup-chip",
        scheme: "UNIONPAY",
        pan: "6225880012345691",
        expiry: "3106",
        track2: Some("6225880012345691=31062200000000000"),
        entry_mode: "051",
        group: CardGroup::Domestic,
        pin: Some("123456"),
        icc: Some(ICC),
    },
    TestCard {
        name: "cup-contactless",
        scheme: "UNIONPAY",
        pan: "6225880012345691",
        expiry: "3106",
        track2: None,
        entry_mode: "071",
        group: CardGroup::Domestic,
        pin: None,
        icc: Some(ICC),
    },
];

/// Every built-in card.
pub fn all() -> &'static [TestCard] {
    CARDS
}

/// The card called `name`.
pub fn find(name: &str) -> Option<&'static TestCard> {
    CARDS.iter().find(|c| c.name == name)
}

impl TestCard {
    /// The card as the engine takes it; a PIN block is added when the card has a PIN and the
    /// terminal a PIN key.
    pub fn card(&self, pin_key: Option<&DesKey>) -> Result<Card, CardError> {
        let pan = Pan::new(self.pan).ok_or(CardError::Pan { card: self.name })?;
        let pin_block = match (self.pin, pin_key) {
            (Some(pin), Some(key)) => Some(self.pin_block(pin, key)?),
            _ => None,
        };
        Ok(Card {
            pan,
            expiry: Some(self.expiry.to_owned()),
            entry_mode: self.entry_mode.to_owned(),
            group: self.group,
            track2: self.track2.map(str::to_owned),
            pin_block,
            icc: self.icc.map(<[u8]>::to_vec),
        })
    }

    /// How the card was read, for the receipt.
    pub fn entry_label(entry_mode: &str) -> &'static str {
        match entry_mode.get(..2) {
            Some("02") | Some("90") => "SWIPE",
            Some("01") => "KEYED",
            Some("05") => "CHIP",
            Some("07") => "CONTACTLESS",
            _ => "OTHER",
        }
    }

    fn pin_block(&self, pin: &str, key: &DesKey) -> Result<[u8; 8], CardError> {
        let pin = Pin::new(pin).map_err(|source| CardError::Pin {
            card: self.name,
            source,
        })?;
        let clear = ClearPinBlock::format0(&pin, self.pan).map_err(|source| CardError::Pin {
            card: self.name,
            source,
        })?;
        Ok(clear.encrypt(key).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luhn(pan: &str) -> bool {
        let sum: u32 = pan
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                match i % 2 {
                    0 => d,
                    _ if d * 2 > 9 => d * 2 - 9,
                    _ => d * 2,
                }
            })
            .sum();
        sum % 10 == 0
    }

    #[test]
    fn every_card_is_consistent() {
        for c in all() {
            assert!(luhn(c.pan), "{} fails the Luhn check", c.name);
            if let Some(track2) = c.track2 {
                assert!(
                    track2.starts_with(&format!("{}={}", c.pan, c.expiry)),
                    "{}",
                    c.name
                );
            }
            assert_eq!(c.group == CardGroup::Domestic, c.pan.starts_with("62"));
            assert_eq!(c.icc.is_some(), matches!(c.entry_mode, "051" | "071"));
            assert!(c.card(None).unwrap().pin_block.is_none());
        }
        assert!(find("mc-keyed").is_some());
        assert!(find("nope").is_none());
    }

    #[test]
    fn pin_block_is_format_0_under_the_pin_key() {
        let key = DesKey::from_hex("1C1C1C1C1C1C1C1C2A2A2A2A2A2A2A2A").unwrap();
        let card = find("cup-swipe").unwrap().card(Some(&key)).unwrap();
        let block = iso8583_crypto::EncryptedPinBlock::from_bytes(card.pin_block.unwrap());
        let pin = block.pin(&key, "6225880012345675").unwrap();
        assert_eq!(pin.expose_secret(), "123456");
        // Cards without a PIN get no block even when a key is there.
        assert!(find("cup-keyed")
            .unwrap()
            .card(Some(&key))
            .unwrap()
            .pin_block
            .is_none());
    }

    #[test]
    fn entry_labels() {
        assert_eq!(TestCard::entry_label("021"), "SWIPE");
        assert_eq!(TestCard::entry_label("012"), "KEYED");
        assert_eq!(TestCard::entry_label("051"), "CHIP");
        assert_eq!(TestCard::entry_label("071"), "CONTACTLESS");
        assert_eq!(TestCard::entry_label(""), "OTHER");
    }
}
