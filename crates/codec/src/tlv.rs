//! BER-TLV, as EMV chip data (field 55) is written: reading without allocating, and writing.
//!
//! A data object is a tag of one to four bytes (the low five bits of the first byte all set
//! announce more; each later byte with its top bit set announces one more), a length (one byte
//! below 0x80, or 0x81-0x84 followed by that many bytes of length, big-endian), then the value.
//! Bit 6 of the tag's first byte marks a constructed object, whose value is itself a list of
//! data objects: [`Tlv::children`] reads it as one.
//!
//! The reader follows EMV Book 3, Annex B: zero bytes before, between and after objects are
//! padding and skipped; a zero-length value is an object like any other; tags it does not know
//! are returned like the others. It refuses the indefinite length form (0x80), lengths of more
//! than four bytes, tags of more than four bytes, and any object that runs past the end of the
//! data, each as an [`Error::InvalidTlv`] naming the tag (`55.9F26`) and the byte offset.
//! Nothing here recurses: the caller walks as deep as it chooses.
//!
//! ```
//! use iso8583_codec::tlv::{self, Tag, Tlvs};
//!
//! let mut data = bytes::BytesMut::new();
//! tlv::put(&mut data, Tag::new(0x9F26).unwrap(), &[0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0]);
//! tlv::put(&mut data, Tag::new(0x9F27).unwrap(), &[0x80]);
//! let cid = Tlvs::new(&data).find(Tag::new(0x9F27).unwrap())?;
//! assert_eq!(cid.map(|t| t.value()), Some(&[0x80][..]));
//! # Ok::<(), iso8583_codec::Error>(())
//! ```

use std::fmt;
use std::iter::FusedIterator;
use std::ops::Range;

use bytes::{BufMut, BytesMut};

use crate::error::{Error, FieldPath, SubPath, TlvProblem};

/// The field TLV data is read from unless the caller says otherwise: EMV data, field 55.
const EMV_FIELD: u16 = 55;

/// The most bytes a tag may take here; EMV's own tags take at most three.
const MAX_TAG_BYTES: usize = 4;

/// The most bytes a long-form length may take after its 0x8N byte.
const MAX_LENGTH_BYTES: usize = 4;

/// A BER-TLV tag: its bytes as written, read as a big-endian number (`0x9F26`, `0x57`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u32);

impl Tag {
    /// Track 2 equivalent data.
    pub const TRACK2_EQUIVALENT: Tag = Tag(0x57);
    /// Track 1 equivalent data.
    pub const TRACK1_EQUIVALENT: Tag = Tag(0x56);
    /// Application PAN.
    pub const PAN: Tag = Tag(0x5A);
    /// Cardholder name.
    pub const CARDHOLDER_NAME: Tag = Tag(0x5F20);
    /// Track 1 discretionary data.
    pub const TRACK1_DISCRETIONARY: Tag = Tag(0x9F1F);
    /// Track 2 discretionary data.
    pub const TRACK2_DISCRETIONARY: Tag = Tag(0x9F20);
    /// Track 2 data (contactless magnetic-stripe mode).
    pub const TRACK2_DATA: Tag = Tag(0x9F6B);

    /// The tag whose bytes, read big-endian, are `value`, if they are a well-formed tag: the
    /// first byte's low five bits all set exactly when more bytes follow, every byte but the
    /// last of those with its top bit set, the last without. Zero is not a tag: a zero byte
    /// between objects is padding.
    pub fn new(value: u32) -> Option<Tag> {
        let bytes = value.to_be_bytes();
        let start = bytes.iter().position(|&b| b != 0)?;
        let tag = bytes.get(start..)?;
        (read_tag(tag).ok() == Some(tag.len())).then_some(Tag(value))
    }

    /// The tag as a number (`0x9F26`).
    pub fn value(self) -> u32 {
        self.0
    }

    /// How many bytes the tag takes (1-4).
    pub fn len(self) -> usize {
        4 - self.0.leading_zeros() as usize / 8
    }

    /// Always false: a tag has at least one byte.
    pub fn is_empty(self) -> bool {
        false
    }

    /// True for a constructed object (bit 6 of the first byte), whose value is a list of data
    /// objects.
    pub fn is_constructed(self) -> bool {
        let first = self.0 >> (8 * (self.len() - 1));
        first & 0x20 != 0
    }

    /// True for the tags that carry track data (56, 57, 9F1F, 9F20, 9F6B), which a terminal
    /// must not keep.
    pub fn is_track_data(self) -> bool {
        matches!(
            self,
            Tag::TRACK1_EQUIVALENT
                | Tag::TRACK2_EQUIVALENT
                | Tag::TRACK1_DISCRETIONARY
                | Tag::TRACK2_DISCRETIONARY
                | Tag::TRACK2_DATA
        )
    }

    /// True for the tags that carry cardholder data to hide from display: track data, the PAN
    /// (5A) and the cardholder's name (5F20).
    pub fn is_card_data(self) -> bool {
        self.is_track_data() || matches!(self, Tag::PAN | Tag::CARDHOLDER_NAME)
    }

    /// The tag's bytes as written.
    fn bytes(self) -> impl Iterator<Item = u8> {
        let len = self.len();
        let bytes = self.0.to_be_bytes();
        bytes.into_iter().skip(4 - len)
    }
}

/// Upper-case hex, as EMV writes tags: `9F26`, `57`.
impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$X}", self.0, width = 2 * self.len())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

/// One data object, borrowed from the data it was read from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    tag: Tag,
    value: &'a [u8],
    /// Where the object (its tag) starts and where its value starts, as offsets from the
    /// reader's base.
    start: usize,
    value_start: usize,
    field: u16,
}

impl<'a> Tlv<'a> {
    /// The tag.
    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// The value, without tag and length.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Offset of the object's first (tag) byte, counted as the reader counts (see
    /// [`Tlvs::at`]).
    pub fn offset(&self) -> usize {
        self.start
    }

    /// Offset of the value's first byte, counted likewise.
    pub fn value_offset(&self) -> usize {
        self.value_start
    }

    /// The whole object, tag and length included, as offsets counted likewise.
    pub fn span(&self) -> Range<usize> {
        self.start..self.value_start + self.value.len()
    }

    /// True for a constructed object.
    pub fn is_constructed(&self) -> bool {
        self.tag.is_constructed()
    }

    /// The objects inside a constructed object's value (for a primitive object, a reader over
    /// its value all the same: its bytes read as objects, which is rarely what is wanted).
    /// Offsets go on counting as this object's did.
    pub fn children(&self) -> Tlvs<'a> {
        Tlvs::at(self.field, self.value, self.value_start)
    }
}

/// Masked where the tag carries card data (every byte `*`), as hex elsewhere.
impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}] ", self.tag, self.value.len())?;
        for b in self.value {
            if self.tag.is_card_data() {
                f.write_str("**")?;
            } else {
                write!(f, "{b:02X}")?;
            }
        }
        Ok(())
    }
}

/// Reads one level of data objects, in order; after an error it yields nothing more.
#[derive(Clone)]
pub struct Tlvs<'a> {
    data: &'a [u8],
    /// Offset of the next byte to read within `data`.
    pos: usize,
    /// What `data`'s first byte counts as in offsets.
    base: usize,
    field: u16,
    failed: bool,
}

impl<'a> Tlvs<'a> {
    /// Reads `data` as field 55's, offsets counted from its first byte.
    pub fn new(data: &'a [u8]) -> Tlvs<'a> {
        Tlvs::at(EMV_FIELD, data, 0)
    }

    /// Reads `data` as field `field`'s, its first byte counting as offset `base` (the field's
    /// [`Field::offset`](crate::Field::offset), for offsets in the message).
    pub fn at(field: u16, data: &'a [u8], base: usize) -> Tlvs<'a> {
        Tlvs {
            data,
            pos: 0,
            base,
            field,
            failed: false,
        }
    }

    /// The first object with tag `tag` at this level, or `None`; an error if the data does not
    /// read as objects up to it.
    pub fn find(self, tag: Tag) -> Result<Option<Tlv<'a>>, Error> {
        for tlv in self {
            let tlv = tlv?;
            if tlv.tag == tag {
                return Ok(Some(tlv));
            }
        }
        Ok(None)
    }

    /// Checks that the whole of the data reads as objects, at this level and inside every
    /// constructed object down to `depth` levels (one for this level alone).
    pub fn validate(self, depth: usize) -> Result<(), Error> {
        for tlv in self {
            let tlv = tlv?;
            if depth > 1 && tlv.is_constructed() {
                tlv.children().validate(depth - 1)?;
            }
        }
        Ok(())
    }

    fn error(&mut self, tag: Option<Tag>, at: usize, problem: TlvProblem) -> Error {
        self.failed = true;
        Error::InvalidTlv {
            field: FieldPath {
                field: self.field,
                sub: tag.map(|t| SubPath::Tag(t.value())),
            },
            offset: self.base + at,
            problem,
        }
    }

    fn read(&mut self) -> Option<Result<Tlv<'a>, Error>> {
        // Zero bytes between objects are padding.
        let skip = self.data.get(self.pos..)?.iter().take_while(|&&b| b == 0);
        self.pos += skip.count();
        let start = self.pos;
        let rest = self.data.get(start..).filter(|r| !r.is_empty())?;
        let tag_len = match read_tag(rest) {
            Ok(len) => len,
            Err(problem) => return Some(Err(self.error(None, start, problem))),
        };
        let tag = Tag(rest
            .iter()
            .take(tag_len)
            .fold(0, |t, &b| t << 8 | u32::from(b)));
        let after_tag = rest.get(tag_len..).unwrap_or_default();
        let (len, len_len) = match read_length(after_tag) {
            Ok(found) => found,
            Err(problem) => return Some(Err(self.error(Some(tag), start + tag_len, problem))),
        };
        let value_start = start + tag_len + len_len;
        let left = self.data.len().saturating_sub(value_start);
        let Some(value) = self.data.get(value_start..).and_then(|v| v.get(..len)) else {
            let problem = TlvProblem::ValuePastEnd { length: len, left };
            return Some(Err(self.error(Some(tag), start + tag_len, problem)));
        };
        self.pos = value_start + len;
        Some(Ok(Tlv {
            tag,
            value,
            start: self.base + start,
            value_start: self.base + value_start,
            field: self.field,
        }))
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Result<Tlv<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.read()
    }
}

impl FusedIterator for Tlvs<'_> {}

/// The length of the tag at the start of `data` (not empty).
fn read_tag(data: &[u8]) -> Result<usize, TlvProblem> {
    let first = data.first().ok_or(TlvProblem::TagPastEnd)?;
    if first & 0x1F != 0x1F {
        return Ok(1);
    }
    for (i, b) in data.iter().enumerate().skip(1) {
        if i >= MAX_TAG_BYTES {
            return Err(TlvProblem::TagTooLong);
        }
        if b & 0x80 == 0 {
            return Ok(i + 1);
        }
    }
    Err(TlvProblem::TagPastEnd)
}

/// The value's length and the bytes the length takes, at the start of `data`.
fn read_length(data: &[u8]) -> Result<(usize, usize), TlvProblem> {
    let first = *data.first().ok_or(TlvProblem::LengthPastEnd)?;
    if first < 0x80 {
        return Ok((usize::from(first), 1));
    }
    let count = usize::from(first & 0x7F);
    match count {
        0 => Err(TlvProblem::IndefiniteLength),
        1..=MAX_LENGTH_BYTES => {
            let bytes = data.get(1..1 + count).ok_or(TlvProblem::LengthPastEnd)?;
            let len = bytes.iter().fold(0u64, |a, &b| a << 8 | u64::from(b));
            // On 32-bit targets a four-byte length may not fit; it is past the end anyway.
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            Ok((len, 1 + count))
        }
        _ => Err(TlvProblem::LengthTooLong { bytes: count }),
    }
}

/// Writes one data object at the end of `out`: the tag's bytes, the length in its shortest
/// form (one byte below 128, else 0x81-0x84 and the length's bytes), then the value.
pub fn put(out: &mut BytesMut, tag: Tag, value: &[u8]) {
    out.reserve(tag.len() + 5 + value.len());
    for b in tag.bytes() {
        out.put_u8(b);
    }
    put_length(out, value.len());
    out.put_slice(value);
}

/// The bytes of a length in its shortest form.
fn put_length(out: &mut BytesMut, len: usize) {
    if len < 0x80 {
        out.put_u8(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = bytes.get(skip..).unwrap_or_default();
    out.put_u8(0x80 | significant.len() as u8);
    out.put_slice(significant);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(value: u32) -> Tag {
        Tag::new(value).unwrap()
    }

    fn read(data: &[u8]) -> Vec<Result<(u32, Vec<u8>), Error>> {
        Tlvs::new(data)
            .map(|r| r.map(|t| (t.tag().value(), t.value().to_vec())))
            .collect()
    }

    #[test]
    fn tags_are_checked_measured_and_shown_as_emv_writes_them() {
        for (value, len, constructed) in [
            (0x57, 1, false),
            (0x70, 1, true),
            (0x9F26, 2, false),
            (0xBF0C, 2, true),
            (0x5F2A, 2, false),
            (0x9F8101, 3, false),
            (0xDF818201, 4, false),
            (0xFF818201, 4, true),
        ] {
            let t = tag(value);
            assert_eq!(
                (t.len(), t.is_constructed()),
                (len, constructed),
                "{value:X}"
            );
        }
        assert_eq!(tag(0x9F26).to_string(), "9F26");
        assert_eq!(tag(0x57).to_string(), "57");
        assert_eq!(tag(0x08).to_string(), "08");
        assert_eq!(format!("{:?}", tag(0x5A)), "Tag(5A)");
        // 9F alone announces a second byte; 5F 80 announces a third; 57 announces none.
        for bad in [
            0x9F,
            0x1F,
            0x9F80,
            0x5780,
            0x9F8181,
            0x9F81_8181,
            0x0957,
            0x00,
        ] {
            assert_eq!(Tag::new(bad), None, "{bad:X}");
        }
    }

    #[test]
    fn objects_are_read_with_short_and_long_lengths_and_zero_padding() {
        let mut data = vec![0x00, 0x9F, 0x26, 0x02, 0xAA, 0xBB, 0x00, 0x00, 0x95, 0x00];
        data.extend([0x5F, 0x20, 0x81, 0x80]);
        data.extend([b'N'; 0x80]);
        data.extend([0x9F, 0x10, 0x82, 0x00, 0x01, 0x06, 0x00]);
        let all = read(&data);
        assert_eq!(all.len(), 4);
        assert_eq!(all[0], Ok((0x9F26, vec![0xAA, 0xBB])));
        assert_eq!(all[1], Ok((0x95, vec![])));
        assert_eq!(all[2], Ok((0x5F20, vec![b'N'; 0x80])));
        assert_eq!(all[3], Ok((0x9F10, vec![0x06])));
        let spans: Vec<_> = Tlvs::new(&data).map(|t| t.unwrap().span()).collect();
        assert_eq!(spans, [1..6, 8..10, 10..142, 142..148]);
        assert!(read(&[]).is_empty());
        assert!(read(&[0, 0, 0]).is_empty());
    }

    #[test]
    fn bad_objects_are_errors_naming_tag_and_offset_and_end_the_walk() {
        let cases: [(&[u8], Option<u32>, usize, TlvProblem); 7] = [
            (&[0x9F], None, 0, TlvProblem::TagPastEnd),
            (
                &[0x9F, 0x81, 0x81, 0x81, 0x01],
                None,
                0,
                TlvProblem::TagTooLong,
            ),
            (&[0x9F, 0x26], Some(0x9F26), 2, TlvProblem::LengthPastEnd),
            (
                &[0x57, 0x80, 0x00],
                Some(0x57),
                1,
                TlvProblem::IndefiniteLength,
            ),
            (
                &[0x57, 0x85, 0, 0, 0, 0, 1, 0],
                Some(0x57),
                1,
                TlvProblem::LengthTooLong { bytes: 5 },
            ),
            (
                &[0x57, 0x82, 0x01],
                Some(0x57),
                1,
                TlvProblem::LengthPastEnd,
            ),
            (
                &[0x57, 0x03, 0x01],
                Some(0x57),
                1,
                TlvProblem::ValuePastEnd { length: 3, left: 1 },
            ),
        ];
        for (data, tag, offset, problem) in cases {
            let mut walk = Tlvs::at(55, data, 100);
            let expected = Error::InvalidTlv {
                field: FieldPath {
                    field: 55,
                    sub: tag.map(SubPath::Tag),
                },
                offset: 100 + offset,
                problem,
            };
            assert_eq!(walk.next(), Some(Err(expected)), "{data:02X?}");
            assert_eq!(walk.next(), None);
        }
        // A four-byte length far past the end, on any target.
        let huge = [0x57, 0x84, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(matches!(
            Tlvs::new(&huge).next(),
            Some(Err(Error::InvalidTlv {
                problem: TlvProblem::ValuePastEnd { .. },
                ..
            }))
        ));
        let e = Tlvs::new(&[0x9F, 0x26, 0x09, 0x00])
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field 55.9F26 at offset 2: value of 9 byte(s) runs past the 1 left"
        );
        assert_eq!(e.kind(), "invalid_tlv");
    }

    #[test]
    fn constructed_objects_are_walked_on_request_with_offsets_in_the_whole() {
        // 70 { 57 [2], BF0C { 9F4D [1] } }, after 4 bytes of something else.
        let data = [
            0x70, 0x0B, 0x57, 0x02, 0x62, 0x12, 0xBF, 0x0C, 0x04, 0x9F, 0x4D, 0x01, 0x0B,
        ];
        let outer = Tlvs::at(55, &data, 4).next().unwrap().unwrap();
        assert!(outer.is_constructed());
        let inner: Vec<_> = outer.children().map(Result::unwrap).collect();
        assert_eq!(inner[0].tag(), Tag::TRACK2_EQUIVALENT);
        assert_eq!(inner[0].offset(), 6);
        assert_eq!(inner[1].tag(), tag(0xBF0C));
        let deepest = inner[1].children().find(tag(0x9F4D)).unwrap().unwrap();
        assert_eq!((deepest.value(), deepest.offset()), (&[0x0B][..], 13));
        assert!(Tlvs::new(&data).validate(3).is_ok());
        // The inner length runs past its parent's value, though not past the data.
        let mut broken = data;
        broken[8] = 0x05;
        assert!(Tlvs::new(&broken).validate(1).is_ok());
        assert!(Tlvs::new(&broken).validate(3).is_err());
    }

    #[test]
    fn written_objects_read_back_for_every_length_form() {
        for len in [0, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let value = vec![0x5A; len];
            let mut out = BytesMut::new();
            put(&mut out, tag(0x9F10), &value);
            put(&mut out, tag(0x9C), &[0x00]);
            let header = match len {
                0..=127 => 1,
                128..=255 => 2,
                256..=65_535 => 3,
                _ => 4,
            };
            assert_eq!(out.len(), 2 + header + len + 3, "{len}");
            let all = read(&out);
            assert_eq!(all, [Ok((0x9F10, value)), Ok((0x9C, vec![0]))], "{len}");
        }
    }

    #[test]
    fn card_data_is_masked_in_debug() {
        let data = [0x57, 0x02, 0x62, 0x12, 0x9F, 0x27, 0x01, 0x80];
        let text: Vec<_> = Tlvs::new(&data)
            .map(|t| format!("{:?}", t.unwrap()))
            .collect();
        assert_eq!(text, ["57[2] ****", "9F27[1] 80"]);
    }
}
