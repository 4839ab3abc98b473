//! The decoded message: MTI, bitmaps, and where each present field lies in the input.
//!
//! A [`Message`] borrows the input and the spec; it copies no field data. Field lookup is O(1):
//! the spans of present fields are stored in bit order, and a field's index is the number of
//! bits set before it (a popcount over at most three words). A message of more than 48 items
//! keeps every second or fourth start only, and a lookup reads up to three prefixes again
//! (see the `spans` module).

use std::fmt;
use std::ops::Range;

use crate::error::FieldPath;
use crate::field::Field;
use crate::spans::Spans;
use crate::spec::plan::{Kind, Plan};
use crate::spec::Spec;

/// A message type indicator: four decimal digits (version, class, function, origin).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mti(pub(crate) [u8; 4]);

/// The ISO 8583 version named by the first MTI digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MtiVersion {
    /// `0`: ISO 8583:1987.
    Iso1987,
    /// `1`: ISO 8583:1993.
    Iso1993,
    /// `2`: ISO 8583:2003.
    Iso2003,
    /// `3`-`7`: reserved by ISO.
    Reserved(u8),
    /// `8`: national use.
    National,
    /// `9`: private use.
    Private,
}

impl Mti {
    /// An MTI from its four ASCII digits, or `None` if they are not digits.
    #[inline]
    pub fn new(text: &str) -> Option<Mti> {
        let bytes: [u8; 4] = text.as_bytes().try_into().ok()?;
        Mti::from_digits(bytes)
    }

    /// An MTI from four ASCII digit bytes.
    #[inline]
    pub fn from_digits(digits: [u8; 4]) -> Option<Mti> {
        // All four at once: high nibble 3, and low nibble at most 9 (adding 6 to a nibble
        // above 9 carries into the high nibble).
        let x = u32::from_le_bytes(digits);
        let bad =
            ((x & 0xF0F0_F0F0) ^ 0x3030_3030) | (((x & 0x0F0F_0F0F) + 0x0606_0606) & 0xF0F0_F0F0);
        (bad == 0).then_some(Mti(digits))
    }

    /// The four ASCII digits.
    pub fn digits(&self) -> [u8; 4] {
        self.0
    }

    /// The MTI as text, such as `"0200"`.
    pub fn as_str(&self) -> &str {
        // The four bytes are ASCII digits by construction.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }

    fn digit(&self, i: usize) -> u8 {
        self.0.get(i).map_or(0, |d| d - b'0')
    }

    /// The version digit as an ISO version.
    pub fn version(&self) -> MtiVersion {
        match self.digit(0) {
            0 => MtiVersion::Iso1987,
            1 => MtiVersion::Iso1993,
            2 => MtiVersion::Iso2003,
            8 => MtiVersion::National,
            9 => MtiVersion::Private,
            d => MtiVersion::Reserved(d),
        }
    }

    /// The message class digit (1 authorisation, 2 financial, 3 file action, 4 reversal,
    /// 5 reconciliation, 6 administrative, 8 network management).
    pub fn class(&self) -> u8 {
        self.digit(1)
    }

    /// The message function digit (0 request, 1 response, 2 advice, 3 advice response, ...).
    pub fn function(&self) -> u8 {
        self.digit(2)
    }

    /// The origin digit (0 acquirer, 1 acquirer repeat, 2 issuer, ...).
    pub fn origin(&self) -> u8 {
        self.digit(3)
    }

    /// True for requests and advices (an even function digit).
    pub fn expects_response(&self) -> bool {
        self.function() % 2 == 0
    }

    /// The MTI of the response to this request or advice (`0200` → `0210`), or `None` if this
    /// is itself a response.
    pub fn response(&self) -> Option<Mti> {
        if !self.expects_response() {
            return None;
        }
        let mut digits = self.0;
        let function = digits.get_mut(2)?;
        *function += 1;
        Some(Mti(digits))
    }
}

impl fmt::Display for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mti({})", self.as_str())
    }
}

/// Up to three bitmaps: which of fields 1-192 are present. Bit 1 and bit 65 (with a tertiary
/// bitmap) announce the next bitmap.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Bitmap {
    words: [u64; 3],
}

impl Bitmap {
    /// An empty bitmap.
    #[inline]
    pub fn new() -> Bitmap {
        Bitmap::default()
    }

    fn locate(n: u16) -> Option<(usize, u64)> {
        let i = usize::from(n.checked_sub(1)?);
        (i < 192).then(|| (i / 64, 1u64 << (63 - i % 64)))
    }

    /// True if bit `n` (1-192) is set.
    #[inline]
    pub fn contains(&self, n: u16) -> bool {
        Bitmap::locate(n)
            .and_then(|(w, bit)| self.words.get(w).map(|word| word & bit != 0))
            .unwrap_or(false)
    }

    /// Sets bit `n`; numbers outside 1-192 are ignored.
    pub fn insert(&mut self, n: u16) {
        if let Some((w, bit)) = Bitmap::locate(n) {
            if let Some(word) = self.words.get_mut(w) {
                *word |= bit;
            }
        }
    }

    /// Clears bit `n`.
    pub fn remove(&mut self, n: u16) {
        if let Some((w, bit)) = Bitmap::locate(n) {
            if let Some(word) = self.words.get_mut(w) {
                *word &= !bit;
            }
        }
    }

    /// The bitmap of fields `64 * index + 1 ..= 64 * index + 64` as a big-endian word.
    pub fn word(&self, index: usize) -> u64 {
        self.words.get(index).copied().unwrap_or(0)
    }

    pub(crate) fn set_word(&mut self, index: usize, value: u64) {
        if let Some(word) = self.words.get_mut(index) {
            *word = value;
        }
    }

    /// Number of set bits below `n`.
    #[inline]
    pub(crate) fn rank(&self, n: u16) -> usize {
        let Some(i) = n.checked_sub(1).map(usize::from) else {
            return 0;
        };
        let full = (i / 64).min(3);
        let mut count: u32 = self.words.iter().take(full).map(|w| w.count_ones()).sum();
        if let Some(word) = self.words.get(full) {
            // The bits before `i` in its word are the top `i % 64` bits.
            count += word
                .checked_shr((64 - i % 64) as u32)
                .unwrap_or(0)
                .count_ones();
        }
        count as usize
    }

    /// The highest set bit below `n`.
    pub(crate) fn below(&self, n: u16) -> Option<u16> {
        let i = usize::from(n.checked_sub(1)?).min(192);
        let (full, part) = (i / 64, i % 64);
        // The bits before `i` in its word are its top `part` bits.
        let mask = u64::MAX.checked_shl(64 - part as u32).unwrap_or(0);
        let partial = self.words.get(full).map_or(0, |w| w & mask);
        let mut words = self.words.iter().take(full).copied().enumerate().rev();
        let (w, word) = std::iter::once((full, partial))
            .chain(&mut words)
            .find(|&(_, word)| word != 0)?;
        // Bit numbers count from the top: the lowest set bit is the highest number.
        Some((w * 64 + 63 - word.trailing_zeros() as usize + 1) as u16)
    }

    /// Set bit numbers in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let lead = bits.leading_zeros();
                bits &= !(1u64 << (63 - lead));
                Some(w as u16 * 64 + lead as u16 + 1)
            })
        })
    }

    /// True if no bit is set.
    pub fn is_empty(&self) -> bool {
        self.words == [0; 3]
    }
}

impl fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Non-canonical forms a lenient decode accepted; re-encoding writes the canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// Lower-case hexadecimal digits in a bitmap or hex field.
    LowerCaseHex,
    /// A BCD filler nibble other than the spec's.
    FillerNibble,
    /// Bit 1 (or 65) set over a bitmap with no bit set.
    EmptyBitmap,
    /// Bytes above 0x7F in an `ans` field (GBK text from UnionPay hosts, for instance).
    NonAsciiText,
}

const QUIRKS: [Quirk; 4] = [
    Quirk::LowerCaseHex,
    Quirk::FillerNibble,
    Quirk::EmptyBitmap,
    Quirk::NonAsciiText,
];

/// The quirks seen in a message, each with the place it was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// Per quirk: the field (0 for a bitmap), and the offset plus one (0 when not seen); two
    /// arrays rather than one of pairs, to keep the message returned by value small.
    fields: [u16; 4],
    at: [u32; 4],
}

/// Where a quirk was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuirkAt {
    /// The field, or `None` for a bitmap.
    pub field: Option<FieldPath>,
    /// Byte offset in the input.
    pub offset: usize,
}

impl Quirks {
    pub(crate) fn note(&mut self, quirk: Quirk, field: Option<u16>, offset: usize) {
        let Some(i) = QUIRKS.iter().position(|q| *q == quirk) else {
            return;
        };
        if let (Some(at @ 0), Some(f)) = (self.at.get_mut(i), self.fields.get_mut(i)) {
            *at = u32::try_from(offset).unwrap_or(u32::MAX - 1) + 1;
            *f = field.unwrap_or(0);
        }
    }

    /// True when the message was canonical.
    pub fn is_empty(&self) -> bool {
        self.at.iter().all(|at| *at == 0)
    }

    /// Where `quirk` was first seen, if it was.
    pub fn first(&self, quirk: Quirk) -> Option<QuirkAt> {
        let i = QUIRKS.iter().position(|q| *q == quirk)?;
        Quirks::at(*self.fields.get(i)?, *self.at.get(i)?)
    }

    fn at(field: u16, at: u32) -> Option<QuirkAt> {
        let offset = at.checked_sub(1)? as usize;
        Some(QuirkAt {
            field: (field != 0).then_some(FieldPath::field(field)),
            offset,
        })
    }

    /// Every quirk seen, with where it was first seen.
    pub fn iter(&self) -> impl Iterator<Item = (Quirk, QuirkAt)> + '_ {
        QUIRKS
            .iter()
            .zip(self.fields.iter().zip(self.at.iter()))
            .filter_map(|(q, (&field, &at))| Quirks::at(field, at).map(|at| (*q, at)))
    }
}

/// A decoded message that borrows its input.
///
/// `Debug` and `Display` mask every field the spec marks sensitive.
#[derive(Clone)]
pub struct Message<'a> {
    pub(crate) spec: &'a Spec,
    pub(crate) input: &'a [u8],
    pub(crate) mti: Mti,
    pub(crate) bitmap: Bitmap,
    /// Where each set bit's item (length prefix included) starts, in bit order, bitmap bits
    /// included (see [`Spans`]). Lengths are read again from the prefix on access, and offsets
    /// fit in 16 bits because fields start within the first 65,535 bytes: that keeps the
    /// message small enough to return by value cheaply.
    pub(crate) spans: Spans,
    /// Offset just past the last field: within 65,535 bytes of a field's start and its
    /// largest length, so 32 bits hold it.
    pub(crate) end: u32,
    pub(crate) quirks: Quirks,
}

impl<'a> Message<'a> {
    /// The spec the message was decoded with.
    pub fn spec(&self) -> &'a Spec {
        self.spec
    }

    /// The MTI.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// The bitmaps as read (bit 1 and bit 65 included as they were).
    pub fn bitmap(&self) -> &Bitmap {
        &self.bitmap
    }

    /// True if field `n` is present.
    pub fn has(&self, n: u16) -> bool {
        self.bitmap.contains(n) && !self.spec.is_bitmap_bit(n)
    }

    /// Field `n`, if present. Bits 1 and 65 (when it is the tertiary bitmap) are bitmaps, not
    /// fields, and give `None`.
    #[inline]
    pub fn field(&self, n: u16) -> Option<Field<'a>> {
        let plan = self.spec.plans.get(usize::from(n))?;
        let (data_start, units) = self.locate(n, plan)?;
        let data = self
            .input
            .get(data_start..data_start + plan.wire_len(units))?;
        Some(Field::new(self.spec.field(n)?, data, units, data_start))
    }

    /// Offset of field `n`'s data and its length in units.
    #[inline]
    fn locate(&self, n: u16, plan: &Plan) -> Option<(usize, usize)> {
        if !self.bitmap.contains(n) {
            return None;
        }
        let index = self.bitmap.rank(n);
        let (mut item, mut start) = self.spans.at_or_before(index)?;
        if item < index {
            start = self.walk_to(n, index - item, start)?;
            item = index;
        }
        debug_assert_eq!(item, index);
        self.data_of(plan, start)
    }

    /// The start of field `n`'s item, from the start of the item `back` items before it (at
    /// most three: see [`Spans`]), by reading the items in between again.
    #[cold]
    fn walk_to(&self, n: u16, back: usize, start: usize) -> Option<usize> {
        // The set bits just below `n`, nearest first.
        let mut between = [0u16; 3];
        let mut below = n;
        for slot in between.get_mut(..back)? {
            below = self.bitmap.below(below)?;
            *slot = below;
        }
        let mut pos = start;
        for &m in between.get(..back)?.iter().rev() {
            let plan = self.spec.plan(m);
            pos = match plan.kind {
                Kind::Bitmap => pos + self.spec.bitmap.width(),
                _ => {
                    let (data, units) = self.data_of(&plan, pos)?;
                    data + plan.wire_len(units)
                }
            };
        }
        Some(pos)
    }

    /// Where the data of the item at `start` with this plan lies, and its length in units.
    #[inline(always)]
    fn data_of(&self, plan: &Plan, start: usize) -> Option<(usize, usize)> {
        match plan.kind {
            Kind::Fixed => Some((start, plan.units as usize)),
            Kind::Variable => {
                let width = usize::from(plan.prefix_width);
                let count = plan
                    .read_prefix(self.input.get(start..start + width)?)
                    .ok()?;
                let units = if plan.counts_bytes {
                    plan.units_in(count as usize)?
                } else {
                    count as usize
                };
                Some((start + width, units))
            }
            Kind::Bitmap | Kind::Undefined => None,
        }
    }

    /// Offset just past the last field.
    fn end(&self) -> usize {
        self.end as usize
    }

    /// Every present field in number order.
    pub fn fields(&self) -> impl Iterator<Item = Field<'a>> + '_ {
        self.bitmap.iter().filter_map(move |n| self.field(n))
    }

    /// The width of the readable table's name column ([`Display`](fmt::Display)): the
    /// longest name of a present field, at most 64 characters (longer names are cut). For
    /// tools that print their own table in the same layout, with `{name:<width$.width$}`
    /// (the precision cuts a longer name to `width` characters).
    pub fn name_width(&self) -> usize {
        self.fields()
            .map(|f| f.spec().name.chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_NAME_WIDTH)
    }

    /// Byte range of field `n` as written, length prefix included.
    pub fn span_of(&self, n: u16) -> Option<Range<usize>> {
        let field = self.field(n)?;
        let prefix = field.spec().prefix().map_or(0, |p| p.width());
        Some(field.offset() - prefix..field.offset() + field.raw().len())
    }

    /// The bytes from the MTI up to the start of field `n` (prefix included), or to the end of
    /// the message if `n` is absent: the input of a MAC carried in field `n` (64 or 128).
    pub fn bytes_before(&self, n: u16) -> &'a [u8] {
        let end = self.span_of(n).map_or(self.end(), |r| r.start);
        self.input.get(..end).unwrap_or(self.input)
    }

    /// The message's bytes, MTI to last field.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.input.get(..self.end()).unwrap_or(self.input)
    }

    /// Bytes after the last field, when the decoder was told to keep them.
    pub fn trailing(&self) -> &'a [u8] {
        self.input.get(self.end()..).unwrap_or(&[])
    }

    /// Non-canonical forms the decoder accepted.
    pub fn quirks(&self) -> &Quirks {
        &self.quirks
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Message");
        s.field("spec", &self.spec.name()).field("mti", &self.mti);
        s.field("fields", &DebugFields(self));
        if !self.quirks.is_empty() {
            s.field("quirks", &self.quirks);
        }
        s.finish()
    }
}

struct DebugFields<'m, 'a>(&'m Message<'a>);

impl fmt::Debug for DebugFields<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .fields()
                    .map(|field| (field.number(), field.masked().to_string())),
            )
            .finish()
    }
}

/// A readable table, one field a line, sensitive fields masked.
impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "MTI {}  ({})", self.mti, self.spec.name())?;
        let width = self.name_width();
        for field in self.fields() {
            writeln!(
                f,
                "{:>5}  {:<width$.width$} [{}]",
                field.number(),
                field.spec().name,
                field.masked()
            )?;
        }
        Ok(())
    }
}

/// Field names longer than this are cut in the readable table.
const MAX_NAME_WIDTH: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mti_digits_are_checked_all_at_once_exactly() {
        for at in 0..4 {
            for b in 0..=255u8 {
                let mut digits = *b"1234";
                digits[at] = b;
                assert_eq!(
                    Mti::from_digits(digits).is_some(),
                    b.is_ascii_digit(),
                    "{digits:?}"
                );
            }
        }
    }

    #[test]
    fn mti_parts_and_response() {
        let mti = Mti::new("0200").unwrap();
        assert_eq!(mti.version(), MtiVersion::Iso1987);
        assert_eq!((mti.class(), mti.function(), mti.origin()), (2, 0, 0));
        assert_eq!(mti.response(), Mti::new("0210"));
        assert_eq!(Mti::new("0210").unwrap().response(), None);
        assert_eq!(Mti::new("1420").unwrap().version(), MtiVersion::Iso1993);
        assert!(Mti::new("02A0").is_none());
        assert!(Mti::new("020").is_none());
    }

    /// A name longer than the column's maximum is cut to that many characters (not bytes:
    /// this one is Chinese), and every value still starts in one column.
    #[test]
    fn the_readable_table_cuts_long_names_by_characters() {
        let long = "终端".repeat(40);
        let text = format!(
            "[spec]\nname = \"t\"\nmti = \"ascii\"\nbitmap = \"hex\"\n\
             [defaults]\nnumeric = \"ascii\"\ntext = \"ascii\"\nbinary = \"hex\"\nprefix = \"ascii\"\n\
             [[field]]\nnumber = 3\nname = \"Processing code\"\nclass = \"n\"\nlength = 6\n\
             [[field]]\nnumber = 41\nname = \"{long}\"\nclass = \"ans\"\nlength = 8\n"
        );
        let spec = crate::Spec::from_toml_str(&text).unwrap();
        let wire = b"02002000000000800000000000TERM0001";
        let message = spec.decode(wire).unwrap().complete().unwrap();
        assert_eq!(message.name_width(), MAX_NAME_WIDTH);
        let table = message.to_string();
        let cut: String = long.chars().take(MAX_NAME_WIDTH).collect();
        assert!(
            table.contains(&format!("   41  {cut} [TERM0001]")),
            "{table}"
        );
        let lines: Vec<&str> = table.lines().skip(1).collect();
        assert_eq!(lines.len(), 2, "{table}");
        let column = |line: &str| line.chars().take_while(|&c| c != '[').count();
        assert_eq!(column(lines[0]), column(lines[1]), "{table}");
    }

    /// Small enough that the compiler moves a message (out of the decoder, out of its
    /// `Result`) with a few vector moves rather than a call to `memcpy`.
    #[test]
    fn a_message_is_small() {
        assert!(std::mem::size_of::<Message<'_>>() <= 184);
        assert!(std::mem::size_of::<Result<Message<'_>, crate::Error>>() <= 184);
    }

    #[test]
    fn bitmap_below_finds_the_previous_set_bit() {
        let mut b = Bitmap::new();
        for n in [1, 2, 64, 65, 128, 129, 192] {
            b.insert(n);
        }
        let below: Vec<Option<u16>> = [1, 2, 3, 64, 65, 66, 129, 130, 192, 193]
            .iter()
            .map(|&n| b.below(n))
            .collect();
        let expected = [
            None,
            Some(1),
            Some(2),
            Some(2),
            Some(64),
            Some(65),
            Some(128),
        ];
        assert_eq!(below[..7], expected);
        assert_eq!(below[7..], [Some(129), Some(129), Some(192)]);
        assert_eq!(b.below(0), None);
    }

    #[test]
    fn bitmap_rank_counts_bits_below() {
        let mut b = Bitmap::new();
        for n in [1, 2, 3, 64, 65, 70, 128, 129, 192] {
            b.insert(n);
        }
        assert_eq!(b.rank(1), 0);
        assert_eq!(b.rank(2), 1);
        assert_eq!(b.rank(64), 3);
        assert_eq!(b.rank(65), 4);
        assert_eq!(b.rank(70), 5);
        assert_eq!(b.rank(129), 7);
        assert_eq!(b.rank(192), 8);
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            vec![1, 2, 3, 64, 65, 70, 128, 129, 192]
        );
        assert!(!b.contains(0) && !b.contains(193));
    }
}
