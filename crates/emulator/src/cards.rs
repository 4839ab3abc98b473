//! The built-in test cards, selectable by name (`visa-swipe`, `mc-keyed`, `cup-chip`, ...).
//!
//! Each card is what the reader hands the terminal: PAN, expiry, track 2 (swiped cards), entry
//! mode (`021` swiped, `012` keyed, `051` chip, `071` contactless; POS entry mode n3), card
//! group (domestic means UnionPay, DESIGN §5) and, for chip cards, an EMV data image for field
//! 55. Cards with a PIN get a format 0 PIN block (ISO 9564-1, DESIGN §4) under the terminal's
//! PIN key when it has one. Every PAN passes the Luhn check and belongs to no real account.

use bytes::BytesMut;
use iso8583_codec::tlv::{self, Tag};
use iso8583_crypto::{ClearPinBlock, DesKey, MacAlgorithm, Pin};
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

/// What a chip card itself holds for field 55: its application interchange profile (82) and
/// its track 2 equivalent (57), which the engine removes before anything is stored (DESIGN §5).
/// The transaction's part is added per transaction by [`TestCard::chip_data`].
const ICC: &[u8] = &[
    0x82, 0x02, 0x7C, 0x00, // AIP
    0x57, 0x08, 0x62, 0x25, 0x88, 0x00, 0x12, 0x34, 0x56, 0x91, // track 2 equivalent
];

/// The test cards' cryptogram key: every card shares it; it exists only to make the ARQC
/// depend on the transaction (see [`TestCard::chip_data`]).
const CARD_KEY: &str = "0B0B0B0B0B0B0B0BE5E5E5E5E5E5E5E5";

/// What a chip card is told about the transaction: the terminal's part of the EMV data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChipTxn {
    /// Amount authorised, minor units (9F02).
    pub amount: u64,
    /// Transaction date (9A): year, month, day.
    pub date: (i32, u32, u32),
    /// Transaction type (9C): `0x00` goods and services, `0x20` refund, `0x30` pre-auth.
    pub kind: u8,
    /// Transaction currency code, ISO 4217 numeric (5F2A).
    pub currency: u16,
    /// The terminal's unpredictable number (9F37).
    pub unpredictable: u32,
    /// The card's transaction counter (9F36).
    pub atc: u16,
}

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

    /// The card for one transaction: as [`TestCard::card`], with field 55 for a chip card
    /// made for `txn`: 9F02 the amount, 9A the date, 9C the type, 5F2A the currency, 9F37 the
    /// unpredictable number, 9F36 the counter, and an ARQC (9F26) over those and the AIP.
    pub fn card_for(&self, pin_key: Option<&DesKey>, txn: &ChipTxn) -> Result<Card, CardError> {
        let mut card = self.card(pin_key)?;
        if self.icc.is_some() {
            card.icc = Some(self.chip_data(txn));
        }
        Ok(card)
    }

    /// The EMV data of a chip transaction, tags in the order terminals commonly send them.
    ///
    /// The ARQC is cryptogram-shaped, not a real one: an ANSI X9.19 MAC under a fixed test key
    /// of the data an ARQC covers (amount, currency, date, type, unpredictable number, AIP,
    /// counter), so it changes with every transaction as a real one does. No EMV session key is
    /// derived, and the test host does not verify ARQCs (nor do these cards run an EMV kernel):
    /// a host that validates cryptograms cannot be tested with these cards.
    pub fn chip_data(&self, txn: &ChipTxn) -> Vec<u8> {
        let (year, month, day) = txn.date;
        let amount = bcd::<6>(txn.amount);
        let currency = bcd::<2>(u64::from(txn.currency));
        let date = [
            bcd::<1>(year.rem_euclid(100) as u64)[0],
            bcd::<1>(u64::from(month))[0],
            bcd::<1>(u64::from(day))[0],
        ];
        let un = txn.unpredictable.to_be_bytes();
        let atc = txn.atc.to_be_bytes();
        let aip = [0x7C, 0x00];
        let mut covered = Vec::with_capacity(32);
        for part in [&amount[..], &currency, &date, &[txn.kind], &un, &aip, &atc] {
            covered.extend_from_slice(part);
        }
        let arqc = DesKey::from_hex(CARD_KEY)
            .ok()
            .and_then(|key| MacAlgorithm::X919.compute(&key, &covered).ok())
            .unwrap_or([0; 8]);
        let mut out = BytesMut::with_capacity(80);
        let objects: [(u32, &[u8]); 9] = [
            (0x9F26, &arqc),
            (0x9F27, &[0x80]),
            (0x9F36, &atc),
            (0x9F37, &un),
            (0x95, &[0; 5]),
            (0x9A, &date),
            (0x9C, &[txn.kind]),
            (0x9F02, &amount),
            (0x5F2A, &currency),
        ];
        for (tag, value) in objects {
            if let Some(tag) = Tag::new(tag) {
                tlv::put(&mut out, tag, value);
            }
        }
        out.extend_from_slice(self.icc.unwrap_or_default());
        out.to_vec()
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

/// `value` as N bytes of packed BCD, right-aligned (the low digits kept if it is too long).
fn bcd<const N: usize>(mut value: u64) -> [u8; N] {
    let mut out = [0u8; N];
    for byte in out.iter_mut().rev() {
        let low = (value % 10) as u8;
        value /= 10;
        let high = (value % 10) as u8;
        value /= 10;
        *byte = high << 4 | low;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use iso8583_codec::tlv::Tlvs;

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

    fn txn(amount: u64, unpredictable: u32) -> ChipTxn {
        ChipTxn {
            amount,
            date: (2026, 12, 4),
            kind: 0x00,
            currency: 156,
            unpredictable,
            atc: 7,
        }
    }

    /// The value of `tag` (its bytes, as written) in one level of TLVs.
    fn value<'a>(data: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
        let tag = Tag::new(tag.iter().fold(0, |t, &b| t << 8 | u32::from(b)))?;
        Some(Tlvs::new(data).find(tag).unwrap()?.value())
    }

    #[test]
    fn chip_data_follows_the_transaction() {
        let card = find("cup-chip").unwrap();
        let a = card.chip_data(&txn(1250, 1));
        assert_eq!(
            value(&a, &[0x9F, 0x02]),
            Some(&[0, 0, 0, 0, 0x12, 0x50][..])
        );
        assert_eq!(value(&a, &[0x9A]), Some(&[0x26, 0x12, 0x04][..]));
        assert_eq!(value(&a, &[0x5F, 0x2A]), Some(&[0x01, 0x56][..]));
        assert_eq!(value(&a, &[0x9F, 0x37]), Some(&[0, 0, 0, 1][..]));
        assert_eq!(value(&a, &[0x9F, 0x36]), Some(&[0, 7][..]));
        assert_eq!(value(&a, &[0x82]), Some(&[0x7C, 0x00][..]));
        assert!(
            value(&a, &[0x57]).is_some(),
            "the track 2 equivalent the engine strips"
        );
        // The cryptogram moves with the amount and the unpredictable number, and only then.
        let arqc = |d: &[u8]| value(d, &[0x9F, 0x26]).unwrap().to_vec();
        assert_eq!(arqc(&a), arqc(&card.chip_data(&txn(1250, 1))));
        assert_ne!(arqc(&a), arqc(&card.chip_data(&txn(1251, 1))));
        assert_ne!(arqc(&a), arqc(&card.chip_data(&txn(1250, 2))));
        assert_ne!(arqc(&a), vec![0; 8]);
        // The engine keeps all of it but tag 57 (track 2 equivalent data).
        let stored = iso8583_settle::strip_track_data(&a).unwrap();
        assert_eq!(stored.len(), a.len() - 10);
        // A swiped card gets no chip data.
        let swiped = find("cup-swipe")
            .unwrap()
            .card_for(None, &txn(1, 1))
            .unwrap();
        assert!(swiped.icc.is_none());
        assert_eq!(bcd::<2>(12_345), [0x23, 0x45]);
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
