//! Building messages: values are checked against their field's spec when they are set, and the
//! whole message is written into a `BytesMut` in one pass, bitmaps computed from what is set.
//!
//! Values are logical values (see the `field` module): digits and characters as ASCII (Latin-1
//! for EBCDIC text above 0x7F), raw bytes for class `b`. What [`crate::Field::value`] reads can
//! be set again unchanged, and the builder always writes the canonical form: upper-case hex,
//! the spec's filler nibble, and no bitmap without a bit set.

mod check;
mod entries;
mod write;

use std::borrow::Cow;
use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::content::{self, Bad};
use crate::error::{Error, Expected, FieldPath, Found, LengthProblem};
use crate::field::write_masked;
use crate::message::{Message, Mti};
use crate::spec::plan::{Kind, MaskScan, Plan, ValueCheck, WriteOp};
use crate::spec::{Charset, DataEncoding, FieldSpec, Spec};

use entries::{Entries, Entry};
use write::Cursor;

/// The longest message the builder writes: what the decoder reads and a two-byte length header
/// frames. A value that would make the message longer is refused when it is set.
const MAX_MESSAGE: usize = u16::MAX as usize;

/// Builds one message for a spec.
///
/// ```
/// use iso8583_codec::{Builder, Mti, Spec};
///
/// let spec = Spec::builtin("iso87-ascii").unwrap();
/// let mut builder = Builder::new(spec, Mti::new("0800").unwrap());
/// builder.set_str(11, "000123")?.set_str(70, "301")?;
/// let bytes = builder.to_bytes();
/// assert_eq!(&bytes[..], b"080080200000000000000400000000000000000123301");
/// # Ok::<(), iso8583_codec::Error>(())
/// ```
#[derive(Clone)]
pub struct Builder<'s, 'v> {
    spec: &'s Spec,
    mti: Mti,
    /// Values in field-number order.
    entries: Entries<'v>,
    /// The highest field number set (0 with none): fields set in number order are appended.
    last: u16,
    /// The bits of the fields set, kept as they are set and removed so that `encode` need not
    /// work them out: primary, secondary and tertiary words (a fourth, never set, lets a word
    /// index be masked instead of checked).
    words: [u64; 4],
    /// Values the builder owns; `None` for a slot no longer used.
    owned: Vec<Option<Vec<u8>>>,
    strict: bool,
    /// Wire bytes the set fields take with their prefixes, kept as fields are set and removed
    /// so that [`Builder::encoded_len`] need not walk the fields.
    fields_len: usize,
}

/// A stored value: borrowed from the caller, or owned by the builder (a slot of `owned`).
/// Entries are `Copy`, so dropping a builder does not walk them.
#[derive(Debug, Clone, Copy)]
enum Value<'v> {
    Borrowed(&'v [u8]),
    Owned(usize),
}

impl<'s, 'v> Builder<'s, 'v> {
    /// An empty message of type `mti`.
    pub fn new(spec: &'s Spec, mti: Mti) -> Self {
        Builder {
            spec,
            mti,
            entries: Entries::new(),
            last: 0,
            words: [0; 4],
            owned: Vec::new(),
            strict: false,
            fields_len: 0,
        }
    }

    /// Refuse values that are accepted but non-canonical in a lenient decode: bytes above
    /// 0x7F in `ans` fields.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// A builder holding every field of a decoded message, for re-encoding (canonically) or
    /// changing a few fields. Values are borrowed where the wire form is the logical value.
    pub fn from_message(message: &Message<'v>) -> Result<Builder<'v, 'v>, Error> {
        let mut builder = Builder::new(message.spec(), message.mti());
        for field in message.fields() {
            let value: Cow<'v, [u8]> = match field.spec().encoding {
                DataEncoding::Text(Charset::Ascii) | DataEncoding::Binary => {
                    Cow::Borrowed(field.raw())
                }
                _ => Cow::Owned(field.to_vec()),
            };
            builder.put(field.number(), value)?;
        }
        Ok(builder)
    }

    /// The spec.
    pub fn spec(&self) -> &'s Spec {
        self.spec
    }

    /// The MTI.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Changes the MTI.
    pub fn set_mti(&mut self, mti: Mti) -> &mut Self {
        self.mti = mti;
        self
    }

    /// Sets field `n` to a logical value, after checking it against the field's spec.
    #[inline]
    pub fn set(&mut self, n: u16, value: impl Into<Cow<'v, [u8]>>) -> Result<&mut Self, Error> {
        self.insert(n, value.into(), true)
    }

    /// [`Builder::set`] without the mask-character check, for [`Builder::from_message`]: a
    /// decoded value comes from the wire, where `*` is content (track 1 may hold it), not
    /// masked output pasted back in.
    fn put(&mut self, n: u16, value: Cow<'v, [u8]>) -> Result<&mut Self, Error> {
        self.insert(n, value, false)
    }

    /// Checks `value` against field `n`'s plan and stores it. The usual case (a borrowed value
    /// the field's quick check accepts, set after the fields already set) is handled here
    /// inline; everything else goes [`Builder::insert_slow`].
    #[inline]
    fn insert(
        &mut self,
        n: u16,
        value: Cow<'v, [u8]>,
        refuse_masked: bool,
    ) -> Result<&mut Self, Error> {
        if let Cow::Borrowed(bytes) = value {
            if let Some(plan) = self.spec.plans.get(usize::from(n)) {
                let quick = &plan.quick;
                if n > self.last && quick.length_ok(bytes.len()) && check::quick(quick.check, bytes)
                {
                    self.entries.push(Entry {
                        n,
                        op: plan.write_op,
                        value: Value::Borrowed(bytes),
                    });
                    self.last = n;
                    self.mark(plan, true);
                    self.fields_len += quick.wire_len(bytes.len());
                    // The MTI and three bitmaps take at most 52 bytes: far from the limit,
                    // that is enough to know the message fits.
                    if self.fields_len + 52 > MAX_MESSAGE {
                        return self.refuse_if_too_large(n);
                    }
                    return Ok(self);
                }
            }
        }
        self.insert_slow(n, value, refuse_masked)
    }

    /// [`Builder::insert`] for what its quick path does not take: owned values, values set
    /// out of number order or replacing another, fields without a quick path, and values the
    /// quick check does not accept (which the full check refuses with the reason, or accepts).
    #[cold]
    #[inline(never)]
    fn insert_slow(
        &mut self,
        n: u16,
        value: Cow<'v, [u8]>,
        refuse_masked: bool,
    ) -> Result<&mut Self, Error> {
        let plan = self.plan_of(n)?;
        let len = match quick_check(plan, &value, self.strict, refuse_masked) {
            Some(len) => len,
            None => {
                // The full check says what is wrong, or accepts what the quick one would not.
                check_value(n, plan, &value, self.strict, refuse_masked)?;
                field_len(plan, value.len())
            }
        };
        // Fields are usually set in number order: append without searching.
        if n > self.last {
            let value = self.store(value);
            let op = plan.write_op;
            self.entries.push(Entry { n, op, value });
            self.mark(plan, true);
            self.last = n;
            self.fields_len += len;
            // The MTI and three bitmaps take at most 52 bytes: far from the limit, that is
            // enough to know the message fits.
            if self.fields_len + 52 > MAX_MESSAGE {
                return self.refuse_if_too_large(n);
            }
        } else {
            self.check_room(n, plan, len)?;
            self.replace_or_insert(n, plan, value, len);
        }
        Ok(self)
    }

    /// Sets or clears a field's bit.
    #[inline]
    fn mark(&mut self, plan: &Plan, set: bool) {
        if let Some(word) = self.words.get_mut(usize::from(plan.bit_word) & 3) {
            if set {
                *word |= plan.bit_mask;
            } else {
                *word &= !plan.bit_mask;
            }
        }
    }

    /// Takes back the field just appended when it made the message longer than the decoder
    /// reads (see [`MAX_MESSAGE`]).
    #[cold]
    fn refuse_if_too_large(&mut self, n: u16) -> Result<&mut Self, Error> {
        let total = self.encoded_len();
        if total <= MAX_MESSAGE {
            return Ok(self);
        }
        self.remove(n);
        Err(Error::MessageTooLarge { offset: total })
    }

    /// Refuses a value, to be set out of number order or in place of another, that would make
    /// the message longer than the decoder reads (see [`MAX_MESSAGE`]).
    fn check_room(&self, n: u16, plan: &Plan, len: usize) -> Result<(), Error> {
        let replaced = match self.entries.search(n) {
            Ok(i) => self
                .entries
                .get(i)
                .map_or(0, |old| field_len(plan, self.bytes(old.value).len())),
            Err(_) => 0,
        };
        let last = self.last.max(n);
        let bitmaps = 1 + usize::from(last > 64) + usize::from(last > 128);
        let total = self.spec.mti.width() + bitmaps * self.spec.bitmap.width() + self.fields_len
            - replaced
            + len;
        if total > MAX_MESSAGE {
            return Err(Error::MessageTooLarge { offset: total });
        }
        Ok(())
    }

    /// Sets a field out of number order, or one already set.
    fn replace_or_insert(&mut self, n: u16, plan: &Plan, value: Cow<'v, [u8]>, len: usize) {
        match self.entries.search(n) {
            Ok(i) => {
                let Some(&old) = self.entries.get(i) else {
                    return;
                };
                let old = self.release(old.value);
                self.fields_len = self.fields_len - field_len(plan, old.len()) + len;
                let value = self.store(value);
                if let Some(slot) = self.entries.get_mut(i) {
                    slot.value = value;
                }
            }
            Err(i) => {
                let value = self.store(value);
                let op = plan.write_op;
                self.entries.insert(i, Entry { n, op, value });
                self.mark(plan, true);
                self.fields_len += len;
                self.last = self.last.max(n);
            }
        }
    }

    /// Keeps a value: borrowed as it is, owned in a free slot of `owned`.
    #[inline]
    fn store(&mut self, value: Cow<'v, [u8]>) -> Value<'v> {
        match value {
            Cow::Borrowed(bytes) => Value::Borrowed(bytes),
            Cow::Owned(bytes) => {
                let i = match self.owned.iter().position(Option::is_none) {
                    Some(free) => free,
                    None => {
                        self.owned.push(None);
                        self.owned.len() - 1
                    }
                };
                if let Some(slot) = self.owned.get_mut(i) {
                    *slot = Some(bytes);
                }
                Value::Owned(i)
            }
        }
    }

    /// Takes a stored value back, freeing its slot.
    fn release(&mut self, value: Value<'v>) -> Cow<'v, [u8]> {
        match value {
            Value::Borrowed(bytes) => Cow::Borrowed(bytes),
            Value::Owned(i) => Cow::Owned(
                self.owned
                    .get_mut(i)
                    .and_then(Option::take)
                    .unwrap_or_default(),
            ),
        }
    }

    /// The bytes of a stored value.
    fn bytes(&self, value: Value<'v>) -> &[u8] {
        match value {
            Value::Borrowed(bytes) => bytes,
            Value::Owned(i) => self
                .owned
                .get(i)
                .and_then(Option::as_deref)
                .unwrap_or_default(),
        }
    }

    /// Sets field `n` from text (see [`Builder::set`]).
    pub fn set_str(&mut self, n: u16, value: &'v str) -> Result<&mut Self, Error> {
        self.set(n, value.as_bytes())
    }

    /// Removes field `n`, returning its value.
    pub fn remove(&mut self, n: u16) -> Option<Cow<'v, [u8]>> {
        let i = self.entries.search(n).ok()?;
        let value = self.entries.remove(i)?.value;
        self.last = self.entries.last().map_or(0, |e| e.n);
        let value = self.release(value);
        let plan = self.spec.plan(n);
        self.mark(&plan, false);
        self.fields_len -= field_len(&plan, value.len());
        Some(value)
    }

    /// The value of field `n`, if set.
    pub fn get(&self, n: u16) -> Option<&[u8]> {
        let i = self.entries.search(n).ok()?;
        self.entries.get(i).map(|e| self.bytes(e.value))
    }

    /// Every set field and its value, in number order.
    pub fn fields(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        self.entries
            .as_slice()
            .iter()
            .map(|e| (e.n, self.bytes(e.value)))
    }

    /// The plan of a field that can be set: defined, and not a bitmap bit.
    /// (A reference, not a copy: the builder reads a few of its fields.)
    #[inline]
    fn plan_of(&self, n: u16) -> Result<&'s Plan, Error> {
        match self.spec.plans.get(usize::from(n)) {
            Some(plan) if matches!(plan.kind, Kind::Fixed | Kind::Variable) => Ok(plan),
            _ => Err(Error::UnknownField {
                field: FieldPath::field(n),
                offset: 0,
            }),
        }
    }

    /// Bytes [`Builder::encode`] will write.
    pub fn encoded_len(&self) -> usize {
        // Fields are in number order, and only specs with a tertiary bitmap define fields
        // above 128 (whose bit 65 then announces it).
        let last = self.last;
        let bitmaps = 1 + usize::from(last > 64) + usize::from(last > 128);
        self.spec.mti.width() + bitmaps * self.spec.bitmap.width() + self.fields_len
    }

    /// Writes the message at the end of `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        // The exact length is known: zero-extend once and fill the new bytes in place.
        // (`put_bytes` is inlined where `resize` is a call that also handles shrinking.)
        let start = out.len();
        out.put_bytes(0, self.encoded_len());
        let Some(buf) = out.get_mut(start..) else {
            return;
        };
        let mut cur = Cursor::new(buf);
        write::write_mti(&mut cur, self.mti.digits(), self.spec.mti);

        // Bitmaps are filled in once the fields have been walked: take room for them. The
        // secondary follows the primary; the tertiary (announced by bit 65) comes before the
        // first field above 65.
        let last = self.last;
        let secondary = last > 64;
        let tertiary = self.spec.tertiary && last > 128;
        let width = self.spec.bitmap.width();
        let primary_room = cur.take(width);
        let secondary_room = cur.take(if secondary { width } else { 0 });
        let mut tertiary_room = None;
        for &Entry { n, op, value } in self.entries.as_slice() {
            if tertiary && tertiary_room.is_none() && n > 65 {
                tertiary_room = Some(cur.take(width));
            }
            let bytes = self.bytes(value);
            match op {
                WriteOp::Copy => cur.put(bytes),
                WriteOp::Copy4To8 => cur.put_4_to_8(bytes),
                WriteOp::Copy9To16 => cur.put_9_to_16(bytes),
                WriteOp::Ascii2Copy => write::put_ascii2_copy(&mut cur, bytes),
                WriteOp::Ascii3Copy => write::put_ascii3_copy(&mut cur, bytes),
                WriteOp::Hex => write::put_hex(&mut cur, bytes),
                WriteOp::Ascii3Hex => write::put_ascii3_hex(&mut cur, bytes),
                WriteOp::General => {
                    if let Some(plan) = self.spec.plans.get(usize::from(n)) {
                        write::write_field(&mut cur, plan, bytes);
                    }
                }
            }
        }
        debug_assert!(cur.is_full(), "encoded_len and the bytes written disagree");

        let [mut primary, mut secondary_word, tertiary_word, _] = self.words;
        if tertiary {
            secondary_word |= 1 << 63;
        }
        if secondary {
            primary |= 1 << 63;
        }
        let encoding = self.spec.bitmap;
        write::write_bitmap(primary_room, primary, encoding);
        if secondary {
            write::write_bitmap(secondary_room, secondary_word, encoding);
        }
        if let Some(room) = tertiary_room {
            write::write_bitmap(room, tertiary_word, encoding);
        }
    }

    /// The message in a new buffer.
    pub fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// Values of sensitive fields are masked.
impl fmt::Debug for Builder<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = self.fields().filter_map(|(n, value)| {
            let spec = self.spec.field(n)?;
            Some((n, MaskedBytes { spec, value }))
        });
        f.debug_struct("Builder")
            .field("spec", &self.spec.name())
            .field("mti", &self.mti)
            .field("fields", &DebugMap(fields.collect()))
            .finish()
    }
}

struct MaskedBytes<'a> {
    spec: &'a FieldSpec,
    value: &'a [u8],
}

impl fmt::Debug for MaskedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        write_masked(f, self.spec, self.value.iter().copied())?;
        f.write_str("\"")
    }
}

struct DebugMap<'a>(Vec<(u16, MaskedBytes<'a>)>);

impl fmt::Debug for DebugMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| (n, v)))
            .finish()
    }
}

/// The field's wire length (prefix included) when [`check_value`] certainly accepts `value`:
/// its length and characters are fine and, with `refuse_masked`, an `ans` value holding `*` is
/// not. (Values of other sensitive classes that pass their check hold no `*`.)
#[inline]
fn quick_check(plan: &Plan, value: &[u8], strict: bool, refuse_masked: bool) -> Option<usize> {
    let units = units_of(plan, value.len());
    let (length_ok, len) = match plan.kind {
        // A fixed field's wire length is in its plan.
        Kind::Fixed => (units == plan.units as usize, plan.wire as usize),
        _ => (
            units <= plan.max_units as usize && !(plan.even_units && units % 2 == 1),
            usize::from(plan.prefix_width) + plan.wire_len(units),
        ),
    };
    let body = if plan.sign {
        match value.split_first() {
            Some((&sign, rest)) if content::is_sign(sign) => Some(rest),
            _ => None,
        }
    } else {
        Some(value)
    };
    let content_ok = body.is_some_and(|body| match plan.value_check {
        ValueCheck::Nothing => true,
        ValueCheck::Digits => check::is_digits(body),
        other => check::is_class(other.class(), body, strict),
    });
    let masked = refuse_masked && plan.mask_scan == MaskScan::Always && value.contains(&b'*');
    (length_ok && content_ok && !masked).then_some(len)
}

/// Checks a logical value against a field's plan; with `refuse_masked`, a sensitive text value
/// holding `*` (copied from masked output) is refused before anything else is said about it.
/// Only called when [`quick_check`] has not accepted the value.
#[cold]
#[inline(never)]
fn check_value(
    n: u16,
    plan: &Plan,
    value: &[u8],
    strict: bool,
    refuse_masked: bool,
) -> Result<(), Error> {
    let result = check_length(n, plan, value).and_then(|()| check_content(n, plan, value, strict));
    // Only `ans` allows `*`, so for other classes a value holding one has failed its check and
    // the scan can wait for the error path.
    let scan = match plan.mask_scan {
        MaskScan::Never => false,
        MaskScan::OnError => result.is_err(),
        MaskScan::Always => true,
    };
    if refuse_masked && scan && value.contains(&b'*') {
        let field = FieldPath::field(n);
        return Err(Error::MaskedValue { field });
    }
    result
}

/// Checks the length of a logical value in units of its class.
#[inline]
fn check_length(n: u16, plan: &Plan, value: &[u8]) -> Result<(), Error> {
    let units = units_of(plan, value.len());
    let problem = match plan.kind {
        Kind::Fixed if units != plan.units as usize => LengthProblem::NotFixed {
            found: units as u64,
            expected: plan.units.into(),
        },
        Kind::Variable if units > plan.max_units as usize => LengthProblem::TooLong {
            found: units as u64,
            max: plan.max_units.into(),
        },
        Kind::Variable if plan.even_units && units % 2 == 1 => LengthProblem::NotWholeUnits {
            found: units as u64,
        },
        _ => return Ok(()),
    };
    Err(Error::InvalidLength {
        field: FieldPath::field(n),
        offset: 0,
        problem,
    })
}

/// Checks the characters of a logical value against its class (the sign of `x+n` first).
#[inline]
fn check_content(n: u16, plan: &Plan, value: &[u8], strict: bool) -> Result<(), Error> {
    let content_error = |index: usize, expected| Error::InvalidContent {
        field: FieldPath::field(n),
        offset: index,
        expected,
        found: Found::byte(value.get(index).copied().unwrap_or(0), plan.sensitive),
    };
    let body = if plan.sign {
        match value.split_first() {
            Some((&s, rest)) if content::is_sign(s) => rest,
            _ => return Err(content_error(0, Expected::Sign)),
        }
    } else {
        value
    };
    let class = match plan.value_check {
        ValueCheck::Nothing => return Ok(()),
        other => other.class(),
    };
    let skip = value.len() - body.len();
    content::check_chars(class, None, body, strict)
        .map(|_| ())
        .map_err(|Bad { index, expected }| content_error(index + skip, expected))
}

/// Length of a logical value in units of its class: `x+n` has a sign byte besides its digits.
#[inline]
fn units_of(plan: &Plan, len: usize) -> usize {
    len.saturating_sub(usize::from(plan.sign))
}

/// Wire bytes of a field whose logical value is `len` bytes long, prefix included.
#[inline]
fn field_len(plan: &Plan, len: usize) -> usize {
    usize::from(plan.prefix_width) + plan.wire_len(units_of(plan, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::plan::QuickCheck;
    use crate::spec::ContentClass;

    /// `MaskScan::OnError` relies on every class but `ans` (and `b`, never scanned) refusing `*`.
    #[test]
    fn only_ans_allows_the_mask_character() {
        use ContentClass::*;
        for class in [N, A, An, Z, XN] {
            assert!(content::check_chars(class, None, b"1*", false).is_err());
        }
        assert!(content::check_chars(Ans, None, b"1*", true).is_ok());
    }

    /// Every field of every built-in spec: the lengths the quick path of `set` accepts are
    /// exactly those the full length check accepts (for the fields it takes at all), and the
    /// wire length it adds up is the one `encode` writes.
    #[test]
    fn quick_lengths_agree_with_the_full_check() {
        for name in Spec::builtin_names() {
            let spec = Spec::builtin(name).unwrap();
            for n in 0..=crate::spec::MAX_FIELD {
                let plan = spec.plan(n);
                let quick = plan.quick;
                let takes = quick.check != QuickCheck::Slow;
                let defined = spec.field(n).is_some() && !spec.is_bitmap_bit(n);
                assert_eq!(
                    takes,
                    defined && !plan.sign && !plan.even_units,
                    "{name} {n}"
                );
                if !takes {
                    continue;
                }
                for len in 0..=plan.max_units as usize + 3 {
                    let value = vec![b'1'; len];
                    let full = check_length(n, &plan, &value).is_ok();
                    assert_eq!(quick.length_ok(len), full, "{name} field {n}, {len} bytes");
                    if full {
                        assert_eq!(
                            quick.wire_len(len),
                            field_len(&plan, len),
                            "{name} {n} {len}"
                        );
                    }
                }
            }
        }
    }

    /// The inline entries make a builder a few hundred bytes (it was 80 with a `Vec`): still a
    /// handful of vector moves when `strict` or `from_message` moves it. More inline room would
    /// make every move and every `Builder::new` (which zeroes it) dearer.
    #[test]
    fn a_builder_stays_small_enough_to_move() {
        assert!(std::mem::size_of::<Builder<'_, '_>>() <= 704);
    }

    /// Owned values are kept in slots that are freed and reused as they are replaced.
    #[test]
    fn owned_values_are_replaced_removed_and_their_slots_reused() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
        builder.set(11, b"000001".to_vec()).unwrap();
        builder.set(3, b"000000".to_vec()).unwrap();
        builder.set(11, &b"000002"[..]).unwrap();
        builder.set(4, b"000000001000".to_vec()).unwrap();
        assert_eq!(builder.owned.len(), 2);
        assert_eq!(builder.get(4), Some(&b"000000001000"[..]));
        builder.set(3, b"300000".to_vec()).unwrap();
        assert_eq!(builder.owned.len(), 2);
        let fields: Vec<_> = builder.fields().collect();
        assert_eq!(
            fields,
            [
                (3, &b"300000"[..]),
                (4, &b"000000001000"[..]),
                (11, &b"000002"[..])
            ]
        );
        assert!(matches!(builder.remove(4), Some(Cow::Owned(v)) if v == b"000000001000"));
        let copy = builder.clone();
        assert_eq!(&copy.to_bytes()[..], b"02002020000000000000300000000002");
        assert_eq!(builder.encoded_len(), builder.to_bytes().len());
    }

    /// The length kept as fields are set, replaced and removed is the length written.
    #[test]
    fn encoded_len_follows_sets_replacements_and_removals() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let mut builder = Builder::new(spec, Mti::new("0200").unwrap());
        let check = |b: &Builder<'_, '_>| assert_eq!(b.encoded_len(), b.to_bytes().len());
        builder.set_str(11, "000001").unwrap();
        builder.set_str(2, "4111111111111111").unwrap();
        check(&builder);
        builder.set_str(2, "41111111").unwrap();
        builder.set(55, &[0x9F, 0x26][..]).unwrap();
        builder.set_str(102, "ACCOUNT").unwrap();
        check(&builder);
        assert!(builder.set_str(2, "4111*111").is_err());
        assert_eq!(builder.get(2), Some(&b"41111111"[..]));
        check(&builder);
        assert_eq!(builder.remove(102).as_deref(), Some(&b"ACCOUNT"[..]));
        assert_eq!(builder.remove(102), None);
        check(&builder);
        builder.remove(2);
        builder.remove(11);
        builder.remove(55);
        assert_eq!(builder.encoded_len(), 20);
        check(&builder);
    }
}
