//! The batch log's records and the card data an operator request brings.
//!
//! A [`Record`] keeps exactly what its 0320 upload needs (DESIGN §5): original MTI and processing
//! code, amount and tip, trace, invoice, RRN, approval and response codes, local date and time,
//! expiry, entry mode, POS condition code, card group, PAN and chip data without tag 57. Track
//! data, PIN blocks and CVV are never stored: [`Card`] holds them only in memory and its
//! `Debug` hides them. The PAN is stored because the upload needs it, and every `Debug` masks it.

use std::fmt;

use bytes::BytesMut;
use iso8583_codec::tlv::{self, Tlvs};
use serde::{Deserialize, Serialize};

use crate::short::ShortStr;

/// What kind of transaction a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TxnKind {
    /// An online sale (0200).
    Sale,
    /// A void of a sale or completion (a record of its own only in the UnionPay dialect).
    Void,
    /// A refund: online 0200 internationally, a 0220 advice with UnionPay (DESIGN §5).
    Refund,
    /// A pre-authorisation (0100); in no total and never uploaded.
    PreAuth,
    /// A pre-authorisation completion (0200).
    Completion,
    /// A sale approved offline, queued as a 0220 advice.
    OfflineSale,
    /// A tip adjustment of an approved sale (international): no record of its own, it changes
    /// the sale's tip and queues a 0220 advice ([`TipAdvice`]).
    TipAdjust,
    /// The void of an approved pre-authorisation (0100): no record of its own, it marks the
    /// pre-auth voided so that it can no longer be completed.
    PreAuthVoid,
}

impl TxnKind {
    /// True for the kinds that add a record to the log (DESIGN §5: sale, refund, pre-auth,
    /// completion, offline sale, and voids only in the UnionPay dialect, `union_pay`). A tip
    /// adjustment and a pre-auth void change a record already there.
    pub fn adds_record(self, union_pay: bool) -> bool {
        match self {
            TxnKind::Void => union_pay,
            TxnKind::TipAdjust | TxnKind::PreAuthVoid => false,
            _ => true,
        }
    }

    /// Label used on the settlement slip.
    pub fn label(self) -> &'static str {
        match self {
            TxnKind::Sale => "SALE",
            TxnKind::Void => "VOID",
            TxnKind::Refund => "REFUND",
            TxnKind::PreAuth => "PRE-AUTH",
            TxnKind::Completion => "COMPLETION",
            TxnKind::OfflineSale => "OFFLINE",
            TxnKind::TipAdjust => "TIP ADJUST",
            TxnKind::PreAuthVoid => "PRE-AUTH VOID",
        }
    }
}

/// UnionPay splits totals by card organisation (DESIGN §5): domestic means UnionPay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CardGroup {
    /// UnionPay cards.
    Domestic,
    /// Every other card organisation.
    Foreign,
}

impl CardGroup {
    /// The n2 code of a UnionPay batch-upload group entry.
    pub fn code(self) -> &'static str {
        match self {
            CardGroup::Domestic => "00",
            CardGroup::Foreign => "01",
        }
    }
}

/// Where an advice stands (offline sales, UnionPay refunds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdviceState {
    /// Not an advice: the record was approved online.
    Online,
    /// Waiting to be sent; flushed before settlement.
    Queued,
    /// Answered 00 or 94.
    Delivered,
    /// Answered with another code: out of the totals (DESIGN §5).
    Failed,
}

/// A primary account number. Stored for the upload; shown only masked.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pan(ShortStr<19>);

impl Pan {
    /// A PAN of 12 to 19 digits.
    pub fn new(digits: &str) -> Option<Pan> {
        let ok = (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| ShortStr::new(digits).map(Pan)).flatten()
    }

    /// The digits, for building a message. Never log or print this.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// First 6 and last 4 digits, the rest as `*` (DESIGN §3).
    pub fn masked(&self) -> String {
        let n = self.0.len();
        let head = self.0.get(..6).unwrap_or("");
        let tail = self.0.get(n.saturating_sub(4)..).unwrap_or("");
        format!("{head}{}{tail}", "*".repeat(n.saturating_sub(10)))
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The card as read for one transaction. Track data and the PIN block live only here, in
/// memory, and go only into the request itself.
#[derive(Clone)]
pub struct Card {
    /// The card number.
    pub pan: Pan,
    /// `YYMM`, when known.
    pub expiry: Option<String>,
    /// POS entry mode n3 (`021` swiped, `051` chip, `071` contactless, `012` keyed).
    pub entry_mode: String,
    /// Domestic (UnionPay) or foreign.
    pub group: CardGroup,
    /// Track 2 as the codec takes it (digits with `D` or `=` as separator).
    pub track2: Option<String>,
    /// PIN block (field 52).
    pub pin_block: Option<[u8; 8]>,
    /// EMV data for field 55; tag 57 is removed before anything is stored.
    pub icc: Option<Vec<u8>>,
}

impl Card {
    /// A card with only a PAN, swiped (`021`), domestic.
    pub fn swiped(pan: Pan) -> Card {
        Card {
            pan,
            expiry: None,
            entry_mode: "021".into(),
            group: CardGroup::Domestic,
            track2: None,
            pin_block: None,
            icc: None,
        }
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("pan", &self.pan)
            .field("entry_mode", &self.entry_mode)
            .field("group", &self.group)
            .field("track2", &self.track2.as_ref().map(|_| "<hidden>"))
            .field("pin_block", &self.pin_block.map(|_| "<hidden>"))
            .field("icc", &self.icc.as_ref().map(Vec::len))
            .finish()
    }
}

/// One approved transaction of the open batch. Its short values are [`ShortStr`]s, each as
/// wide as its field in `specs/intl-pos.toml` and `specs/cup-pos.toml` (they reach the record
/// only after the codec accepted them), so a record holds no heap allocation but its chip data;
/// they are stored as plain strings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Trace number of the original request (unique in the batch; the key).
    pub trace: u32,
    /// Invoice number printed on the receipt.
    pub invoice: u32,
    /// What it is.
    pub kind: TxnKind,
    /// MTI of the original request (`0200`, `0100`, `0220`).
    pub mti: ShortStr<4>,
    /// Processing code of the original request.
    pub processing_code: ShortStr<6>,
    /// Amount without tip, minor units.
    pub amount: u64,
    /// Tip, minor units.
    pub tip: u64,
    /// Retrieval reference number (field 37).
    pub rrn: ShortStr<12>,
    /// Approval code (field 38).
    pub auth_code: ShortStr<6>,
    /// Response code (field 39).
    pub response_code: ShortStr<2>,
    /// Local date `MMDD`.
    pub date: ShortStr<4>,
    /// Local time `hhmmss`.
    pub time: ShortStr<6>,
    /// Expiry `YYMM`.
    pub expiry: Option<ShortStr<4>>,
    /// POS entry mode.
    pub entry_mode: ShortStr<3>,
    /// POS condition code.
    pub condition_code: ShortStr<2>,
    /// Card group.
    pub group: CardGroup,
    /// Card number.
    pub pan: Pan,
    /// Chip data without tag 57.
    pub icc: Option<Vec<u8>>,
    /// For a void record: the trace of the record it voids.
    pub original_trace: Option<u32>,
    /// True once voided.
    pub voided: bool,
    /// Advice state.
    pub advice: AdviceState,
    /// True once a 0330 answered 00 to its 0320 in the current settlement (a refusal never
    /// marks it).
    pub uploaded: bool,
    /// For a refund of a sale from an earlier batch: that sale as the host knows it (boxed:
    /// rare, and the record stays small without it).
    #[serde(default)]
    pub refund_of: Option<Box<RefundOriginal>>,
    /// A tip adjustment of this sale the host has not acknowledged yet (international); `tip`
    /// already holds the new tip.
    #[serde(default)]
    pub tip_advice: Option<TipAdvice>,
}

/// A tip adjustment waiting for the host: the 0220 that tells it goes with the other advices,
/// before the next settlement (DESIGN §5), and before a void of the same sale, whose amount
/// must be the one the host holds. Stored in the record, with its new tip, in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipAdvice {
    /// Trace number of the 0220: its own, so that a repeat is a duplicate (94) and a later
    /// adjustment of the same sale is not (DESIGN §6 matches by MTI class and trace).
    pub trace: u32,
    /// The tip the host was last told of: what the record goes back to if the host refuses
    /// the adjustment.
    pub host_tip: u64,
}

/// The sale a refund gives money back for, as the host knows it: a UnionPay refund names it in
/// field 37 (its RRN) and field 61 (its batch n6, trace n6 and date MMDD), which is how the host
/// finds what it refunds (DESIGN §5, dialect C: refunds go online as 0220). The sale is usually
/// in an earlier, settled batch, so the operator keys these in from the sale's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOriginal {
    /// The sale's retrieval reference number (field 37, 12 characters).
    pub rrn: String,
    /// The batch it was in.
    pub batch: u32,
    /// Its trace number.
    pub trace: u32,
    /// Its local date, `MMDD`.
    pub date: String,
}

impl RefundOriginal {
    /// UnionPay field 61 of the refund: original batch n6, trace n6, date n4.
    pub fn field61(&self) -> String {
        format!("{:06}{:06}{}", self.batch, self.trace, self.date)
    }
}

impl Record {
    /// Amount plus tip.
    pub fn total(&self) -> u64 {
        self.amount + self.tip
    }

    /// Chip or contactless (entry mode 05x or 07x): uploaded even when balanced (UnionPay).
    pub fn is_chip(&self) -> bool {
        self.entry_mode.starts_with("05") || self.entry_mode.starts_with("07")
    }

    /// True unless the record is out of every total: pre-auths, failed advices.
    pub fn in_totals(&self) -> bool {
        self.kind != TxnKind::PreAuth && self.advice != AdviceState::Failed
    }

    /// The tip the host holds: the one before an adjustment not yet acknowledged.
    pub fn host_tip(&self) -> u64 {
        self.tip_advice.map_or(self.tip, |a| a.host_tip)
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("trace", &self.trace)
            .field("invoice", &self.invoice)
            .field("kind", &self.kind)
            .field("amount", &self.amount)
            .field("tip", &self.tip)
            .field("group", &self.group)
            .field("pan", &self.pan)
            .field("entry_mode", &self.entry_mode)
            .field("voided", &self.voided)
            .field("advice", &self.advice)
            .field("uploaded", &self.uploaded)
            .field("tip_advice", &self.tip_advice)
            .finish_non_exhaustive()
    }
}

/// EMV data without the objects that carry track data (tags 56, 57, 9F1F, 9F20 and 9F6B, at
/// any depth), since track data is never stored (DESIGN §5). Every other object keeps its bytes
/// as they came; a constructed object that held track data is written again without it. Data
/// that does not read as BER-TLV, down to [`MAX_TLV_DEPTH`] levels, is dropped entirely rather
/// than risk keeping a track image.
pub fn strip_track_data(icc: &[u8]) -> Option<Vec<u8>> {
    let mut out = BytesMut::with_capacity(icc.len());
    strip_level(icc, Tlvs::new(icc), &mut out, 1)?;
    Some(out.to_vec())
}

/// How deep [`strip_track_data`] looks inside constructed objects; field 55 uses one level.
pub const MAX_TLV_DEPTH: usize = 4;

/// Writes the objects of `level` but track data into `out`; `icc` is the whole data, in
/// which the objects' offsets count.
fn strip_level(icc: &[u8], level: Tlvs<'_>, out: &mut BytesMut, depth: usize) -> Option<()> {
    for object in level {
        let object = object.ok()?;
        if object.tag().is_track_data() {
            continue;
        }
        let original = icc.get(object.span())?;
        if !object.is_constructed() {
            out.extend_from_slice(original);
            continue;
        }
        if depth >= MAX_TLV_DEPTH {
            return None;
        }
        let mut inner = BytesMut::with_capacity(object.value().len());
        strip_level(icc, object.children(), &mut inner, depth + 1)?;
        if inner[..] == *object.value() {
            out.extend_from_slice(original);
        } else {
            tlv::put(out, object.tag(), &inner);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_is_masked_in_debug_and_display() {
        let pan = Pan::new("6212345678901234").unwrap();
        assert_eq!(format!("{pan:?}"), "621234******1234");
        assert_eq!(pan.to_string(), "621234******1234");
        assert!(Pan::new("12345").is_none());
        assert!(Pan::new("62123456789012a4").is_none());
    }

    #[test]
    fn card_debug_hides_track_and_pin() {
        let mut card = Card::swiped(Pan::new("6212345678901234").unwrap());
        card.track2 = Some("6212345678901234D30121010000".into());
        card.pin_block = Some([0x12; 8]);
        let text = format!("{card:?}");
        assert!(!text.contains("6212345678901234"));
        assert!(!text.contains("18, 18"));
        assert!(text.contains("<hidden>"));
    }

    /// Records stored before the short values were kept inline (as JSON strings, without
    /// `refund_of` or `tip_advice` in the oldest form) read back as they were written, and
    /// write back the same; a value wider than its field is refused, not cut.
    #[test]
    fn a_record_stored_by_earlier_versions_reads_back() {
        let old = r#"{"trace":7,"invoice":3,"kind":"Sale","mti":"0200","processing_code":"000000",
            "amount":1250,"tip":100,"rrn":"000000000007","auth_code":"A1B2C3",
            "response_code":"00","date":"1203","time":"101010","expiry":"3012",
            "entry_mode":"051","condition_code":"00","group":"Foreign",
            "pan":"4761739001010010","icc":[159,38,2,170,187],"original_trace":null,
            "voided":false,"advice":"Online","uploaded":true}"#;
        let r: Record = serde_json::from_str(old).unwrap();
        assert_eq!(
            (r.trace, r.mti.as_str(), r.rrn.as_str()),
            (7, "0200", "000000000007")
        );
        assert_eq!(r.expiry.as_deref(), Some("3012"));
        assert_eq!(r.entry_mode, "051");
        assert_eq!(r.pan.digits(), "4761739001010010");
        assert!(r.is_chip() && r.uploaded && r.refund_of.is_none() && r.tip_advice.is_none());
        let again: serde_json::Value = serde_json::to_value(&r).unwrap();
        let before: serde_json::Value = serde_json::from_str(old).unwrap();
        for (key, value) in before.as_object().unwrap() {
            assert_eq!(&again[key], value, "{key}");
        }
        let refund = old.replace("\"uploaded\":true}", "\"uploaded\":true,\"refund_of\":{\"rrn\":\"000000000001\",\"batch\":2,\"trace\":5,\"date\":\"1130\"}}");
        let r: Record = serde_json::from_str(&refund).unwrap();
        assert_eq!(r.refund_of.unwrap().field61(), "0000020000051130");
        let wide = old.replace("\"A1B2C3\"", "\"A1B2C3D\"");
        assert!(serde_json::from_str::<Record>(&wide).is_err());
    }

    /// The point of the inline values: a record is under 200 bytes with nothing on the heap but
    /// its chip data (with `String`s it was 384 bytes and eleven allocations).
    #[test]
    fn a_record_is_small() {
        let size = std::mem::size_of::<Record>();
        assert!(size <= 200, "{size}");
    }

    #[test]
    fn track_data_is_removed_and_everything_else_kept_as_it_came() {
        // 9F26 02 ..., 57 03 ..., 5F34 01 01
        let icc = [
            0x9F, 0x26, 0x02, 0xAA, 0xBB, 0x57, 0x03, 0x62, 0x12, 0x34, 0x5F, 0x34, 0x01, 0x01,
        ];
        let out = strip_track_data(&icc).unwrap();
        assert_eq!(
            out,
            vec![0x9F, 0x26, 0x02, 0xAA, 0xBB, 0x5F, 0x34, 0x01, 0x01]
        );
        assert_eq!(strip_track_data(&[0x9F, 0x26, 0x05, 0x00]), None);
        // A long-form length that did not need to be is kept as it came.
        assert_eq!(
            strip_track_data(&[0x82, 0x81, 0x01, 0x00]),
            Some(vec![0x82, 0x81, 0x01, 0x00])
        );
        // Every tag that carries track data, and padding between objects.
        let tracks = [
            0x56, 0x01, 0x42, 0x00, 0x9F, 0x1F, 0x01, 0x31, 0x9F, 0x20, 0x01, 0x32, 0x9F, 0x6B,
            0x01, 0x33, 0x95, 0x00,
        ];
        assert_eq!(strip_track_data(&tracks), Some(vec![0x95, 0x00]));
    }

    #[test]
    fn track_data_inside_a_template_is_removed_and_the_template_written_again() {
        // 70 { 57 02 6212, 9F27 01 80 }, 9C 01 00
        let icc = [
            0x70, 0x08, 0x57, 0x02, 0x62, 0x12, 0x9F, 0x27, 0x01, 0x80, 0x9C, 0x01, 0x00,
        ];
        let out = strip_track_data(&icc).unwrap();
        assert_eq!(out, [0x70, 0x04, 0x9F, 0x27, 0x01, 0x80, 0x9C, 0x01, 0x00]);
        // Without track data inside, the template's bytes are kept as they came.
        let clean = [0x70, 0x81, 0x04, 0x9F, 0x27, 0x01, 0x80];
        assert_eq!(strip_track_data(&clean).as_deref(), Some(&clean[..]));
        // Templates deeper than MAX_TLV_DEPTH, or inner data that does not read, drop it all.
        let mut deep = vec![0x9F, 0x27, 0x01, 0x80];
        for _ in 0..MAX_TLV_DEPTH {
            let len = deep.len() as u8;
            deep.splice(0..0, [0x70, len]);
        }
        assert_eq!(strip_track_data(&deep), None);
        assert!(strip_track_data(&deep[2..]).is_some());
        assert_eq!(strip_track_data(&[0x70, 0x02, 0x57, 0x05]), None);
    }
}
