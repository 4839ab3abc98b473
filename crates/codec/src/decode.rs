//! Decoding: bytes in, a borrowing [`Message`] (or "need more bytes") out.
//!
//! The walk follows the wire: MTI, primary bitmap, then every set bit in ascending order. Bit 1
//! is the secondary bitmap (it comes first, so it sits right after the primary one) and, in specs
//! with a tertiary bitmap, bit 65 is that bitmap, written where field 65 would stand.
//!
//! No input makes this code panic, loop without bound or allocate: every read goes through
//! `slice::get`, every announced length is checked against the spec's maximum before anything
//! else is done with it, and the field spans live in a fixed-size array inside the message.
//! When the input ends early the answer is [`Decoded::Incomplete`] with how many more bytes
//! are needed at least; problems with bytes that *are* present are reported first, so a length
//! prefix above the maximum is an error even when the data after it is missing too.

use crate::spans::Spans;

use crate::content::{self, Bad, Seen};
use crate::error::{BitmapProblem, Error, Expected, FieldPath, Found, LengthProblem, WhichBitmap};
use crate::fast;
use crate::message::{Bitmap, Message, Mti, Quirk, Quirks};
use crate::spec::plan::{Check, Kind, Plan};
use crate::spec::{BitmapEncoding, Charset, MtiEncoding, PrefixEncoding, Spec};

/// Outcome of decoding bytes that may not hold a whole message yet.
///
/// The message is held inline, not boxed: the decode path allocates nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    /// A whole message.
    Complete(Message<'a>),
    /// The input ends inside the message.
    Incomplete(Incomplete),
}

/// Where the input ended and how many more bytes are needed at least.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete {
    /// At least this many more bytes are needed (more may be needed after them).
    pub needed: usize,
    /// The field being read, or `None` for the MTI and primary bitmap.
    pub field: Option<FieldPath>,
    /// Offset of the item (MTI, bitmap, or field with its prefix) being read.
    pub offset: usize,
}

impl From<Incomplete> for Error {
    fn from(i: Incomplete) -> Error {
        Error::Truncated {
            field: i.field,
            offset: i.offset,
            needed: i.needed,
        }
    }
}

impl<'a> Decoded<'a> {
    /// The message, treating input that ends early as [`Error::Truncated`]: for callers that
    /// know the input is all there is (a whole frame, a file).
    #[inline]
    pub fn complete(self) -> Result<Message<'a>, Error> {
        match self {
            Decoded::Complete(message) => Ok(message),
            Decoded::Incomplete(incomplete) => Err(incomplete.into()),
        }
    }
}

/// Decoding options; [`Spec::decoder`] starts from the defaults (lenient, no trailing bytes,
/// full content checks).
#[derive(Debug, Clone, Copy)]
pub struct Decoder<'s> {
    spec: &'s Spec,
    strict: bool,
    keep_trailing: bool,
    check_content: bool,
    fast_path: bool,
}

impl Spec {
    /// Decodes one message with the default options (see [`Decoder`]).
    ///
    /// ```
    /// use iso8583_codec::{Decoded, Spec};
    ///
    /// let spec = Spec::builtin("iso87-ascii").unwrap();
    /// let bytes = b"08000020000000000000000123";
    /// let Decoded::Complete(message) = spec.decode(bytes)? else { panic!("whole message") };
    /// assert_eq!(message.mti().as_str(), "0800");
    /// assert_eq!(message.field(11).and_then(|f| f.as_str()), Some("000123"));
    /// assert!(matches!(spec.decode(&bytes[..10])?, Decoded::Incomplete(_)));
    /// # Ok::<(), iso8583_codec::Error>(())
    /// ```
    #[inline]
    pub fn decode<'a>(&'a self, input: &'a [u8]) -> Result<Decoded<'a>, Error> {
        self.decoder().decode(input)
    }

    /// Decodes one message that must be all there (a whole frame, a file): input that ends
    /// early is [`Error::Truncated`]. The same as `decode(input)?.complete()`, but the message
    /// is written straight into the result rather than moved through [`Decoded`].
    ///
    /// ```
    /// let spec = iso8583_codec::Spec::builtin("iso87-ascii").unwrap();
    /// let message = spec.decode_complete(b"08000020000000000000000123")?;
    /// assert_eq!(message.field(11).and_then(|f| f.as_str()), Some("000123"));
    /// assert_eq!(spec.decode_complete(b"0800").unwrap_err().kind(), "truncated");
    /// # Ok::<(), iso8583_codec::Error>(())
    /// ```
    #[inline]
    pub fn decode_complete<'a>(&'a self, input: &'a [u8]) -> Result<Message<'a>, Error> {
        self.decoder().decode_complete(input)
    }

    /// A decoder with options to set.
    pub fn decoder(&self) -> Decoder<'_> {
        Decoder {
            spec: self,
            strict: false,
            keep_trailing: false,
            check_content: true,
            fast_path: true,
        }
    }
}

/// Why the walk stopped early: more input needed, or an error.
enum Stop {
    Need(Incomplete),
    Fail(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Fail(e)
    }
}

type Step<T> = Result<T, Stop>;

impl<'s> Decoder<'s> {
    /// Refuse non-canonical input (lower-case hex, unexpected filler nibbles, an empty secondary
    /// or tertiary bitmap, bytes above 0x7F in text) instead of accepting and flagging it.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Accept bytes after the last field ([`Message::trailing`]) instead of failing with
    /// [`Error::TrailingData`].
    pub fn keep_trailing(mut self, keep: bool) -> Self {
        self.keep_trailing = keep;
        self
    }

    /// Check only the structure (MTI, bitmaps, length prefixes), not each field's content:
    /// cheaper, for callers that route on a few fields and check those themselves.
    pub fn structure_only(mut self, structure_only: bool) -> Self {
        self.check_content = !structure_only;
        self
    }

    /// Skip the fast path for canonical input and always take the full walk, which gives the
    /// same result; for tests that compare the two.
    #[doc(hidden)]
    pub fn full_walk_only(mut self, full: bool) -> Self {
        self.fast_path = !full;
        self
    }

    /// True when the fast path for canonical input decodes `input` by itself, without the
    /// full walk; for tests that check every canonical message takes it.
    #[doc(hidden)]
    pub fn fast_walk_accepts(&self, input: &[u8]) -> bool {
        fast::walk(
            &mut self.empty(input),
            self.keep_trailing,
            self.check_content,
        )
    }

    /// Decodes one message that must be all there; see [`Spec::decode_complete`].
    #[inline]
    pub fn decode_complete<'a>(&self, input: &'a [u8]) -> Result<Message<'a>, Error>
    where
        's: 'a,
    {
        // Built in the value returned, and returned from one place, so that the message is
        // not copied on the way out.
        let mut out = Ok(self.empty(input));
        let fast = match &mut out {
            Ok(message) => {
                self.fast_path && fast::walk(message, self.keep_trailing, self.check_content)
            }
            Err(_) => false,
        };
        if !fast {
            out = self.decode(input).and_then(Decoded::complete);
        }
        out
    }

    #[inline]
    pub(crate) fn empty<'a>(&self, input: &'a [u8]) -> Message<'a>
    where
        's: 'a,
    {
        Message {
            spec: self.spec,
            input,
            mti: Mti(*b"0000"),
            bitmap: Bitmap::new(),
            spans: Spans::new(),
            end: 0,
            quirks: Quirks::default(),
        }
    }

    /// Decodes one message from the start of `input`.
    #[inline]
    pub fn decode<'a>(&self, input: &'a [u8]) -> Result<Decoded<'a>, Error>
    where
        's: 'a,
    {
        let mut message = self.empty(input);
        if self.fast_path && fast::walk(&mut message, self.keep_trailing, self.check_content) {
            return Ok(Decoded::Complete(message));
        }

        // Something is out of the ordinary: decode again, saying what.
        message.spans.clear();
        message.bitmap = Bitmap::new();
        let mut walk = Walk {
            opts: *self,
            input,
            pos: 0,
            message: &mut message,
        };
        match walk.run() {
            Ok(()) => Ok(Decoded::Complete(message)),
            Err(Stop::Need(incomplete)) => Ok(Decoded::Incomplete(incomplete)),
            Err(Stop::Fail(error)) => Err(error),
        }
    }
}

struct Walk<'a, 's, 'm> {
    opts: Decoder<'s>,
    input: &'a [u8],
    pos: usize,
    message: &'m mut Message<'a>,
}

#[cold]
fn need(end: usize, len: usize, field: Option<u16>, item_start: usize) -> Stop {
    Stop::Need(Incomplete {
        needed: end.saturating_sub(len).max(1),
        field: field.map(FieldPath::field),
        offset: item_start,
    })
}

impl<'a> Walk<'a, '_, '_> {
    fn spec(&self) -> &'a Spec {
        self.message.spec
    }

    fn run(&mut self) -> Step<()> {
        self.message.mti = self.mti()?;

        let primary = self.bitmap_word(WhichBitmap::Primary)?;
        self.message.bitmap.set_word(0, primary);

        for word in 0..3 {
            let mut bits = self.message.bitmap.word(word);
            while bits != 0 {
                let lead = bits.leading_zeros();
                bits &= !(1u64 << (63 - lead));
                let n = (word as u16) * 64 + lead as u16 + 1;
                self.item(n)?;
            }
        }

        if self.pos > usize::from(u16::MAX) {
            return Err(Error::MessageTooLarge { offset: self.pos }.into());
        }
        self.message.end = u32::try_from(self.pos).unwrap_or(u32::MAX);
        if self.pos < self.input.len() && !self.opts.keep_trailing {
            return Err(Stop::Fail(Error::TrailingData {
                offset: self.pos,
                count: self.input.len() - self.pos,
            }));
        }
        Ok(())
    }

    /// The next `len` bytes, or a request for what is missing.
    #[inline]
    fn take(&self, len: usize, field: Option<u16>, item_start: usize) -> Step<&'a [u8]> {
        let end = self.pos.saturating_add(len);
        match self.input.get(self.pos..end) {
            Some(bytes) => Ok(bytes),
            None => Err(need(end, self.input.len(), field, item_start)),
        }
    }

    /// The bytes that are there of the next `len`, for checking before asking for more.
    fn available(&self, len: usize) -> &'a [u8] {
        let end = self.pos.saturating_add(len).min(self.input.len());
        self.input.get(self.pos..end).unwrap_or(&[])
    }

    fn mti(&mut self) -> Step<Mti> {
        let encoding = self.spec().mti;
        let width = encoding.width();
        let present = self.available(width);
        let mut digits = [b'0'; 4];
        let bad = |i: usize, found: Found| Error::InvalidMti { offset: i, found };
        match encoding {
            MtiEncoding::Ascii | MtiEncoding::Ebcdic => {
                let zero = if encoding == MtiEncoding::Ascii {
                    b'0'
                } else {
                    0xF0
                };
                for (i, (&b, d)) in present.iter().zip(digits.iter_mut()).enumerate() {
                    match b.wrapping_sub(zero) {
                        v @ 0..=9 => *d = b'0' + v,
                        _ => return Err(bad(i, Found::Byte(b)).into()),
                    }
                }
            }
            MtiEncoding::Bcd => {
                for (i, &b) in present.iter().enumerate() {
                    for (k, nibble) in [b >> 4, b & 0x0F].into_iter().enumerate() {
                        if nibble > 9 {
                            return Err(bad(i, Found::Nibble(nibble)).into());
                        }
                        if let Some(d) = digits.get_mut(2 * i + k) {
                            *d = b'0' + nibble;
                        }
                    }
                }
            }
        }
        self.take(width, None, 0)?;
        self.pos += width;
        // Every digit was checked above.
        Ok(Mti(digits))
    }

    fn bitmap_word(&mut self, which: WhichBitmap) -> Step<u64> {
        let start = self.pos;
        // Bitmaps are not fields: what is said about them (the input ending inside one, a quirk)
        // names no field, as their errors do; `which` tells them apart.
        let field = None;
        let encoding = self.spec().bitmap;
        let word = match encoding {
            BitmapEncoding::Binary => {
                let bytes = self.take(8, field, start)?;
                let mut word = [0u8; 8];
                word.copy_from_slice(bytes);
                u64::from_be_bytes(word)
            }
            BitmapEncoding::Hex(charset) => self.hex_bitmap(which, charset, field, start)?,
        };
        self.pos = start + encoding.width();

        if word == 0 && which != WhichBitmap::Primary {
            if self.opts.strict {
                let problem = BitmapProblem::Empty;
                return Err(Error::InvalidBitmap {
                    which,
                    offset: start,
                    problem,
                }
                .into());
            }
            self.message.quirks.note(Quirk::EmptyBitmap, field, start);
        }
        Ok(word)
    }

    fn hex_bitmap(
        &mut self,
        which: WhichBitmap,
        charset: Charset,
        field: Option<u16>,
        start: usize,
    ) -> Step<u64> {
        let present = self.available(16);

        // Upper-case ASCII is the common case: one table lookup a character, no branches.
        if charset == Charset::Ascii && present.len() == 16 {
            let (word, flags) = present.iter().fold((0u64, 0u8), |(word, flags), &b| {
                let v = content::ASCII_HEX
                    .get(usize::from(b))
                    .copied()
                    .unwrap_or(0xFF);
                ((word << 4) | u64::from(v & 0x0F), flags | v)
            });
            if flags & !0x0F == 0 {
                return Ok(word);
            }
        }

        let mut word = 0u64;
        for (i, &b) in present.iter().enumerate() {
            let offset = start + i;
            let (value, lower) = content::hex_value(b, charset).ok_or_else(|| {
                let problem = BitmapProblem::NotHex(Found::Byte(b));
                Error::InvalidBitmap {
                    which,
                    offset,
                    problem,
                }
            })?;
            if lower {
                if self.opts.strict {
                    let problem = BitmapProblem::LowerCaseHex(Found::Byte(b));
                    return Err(Error::InvalidBitmap {
                        which,
                        offset,
                        problem,
                    }
                    .into());
                }
                self.message.quirks.note(Quirk::LowerCaseHex, field, offset);
            }
            word = (word << 4) | u64::from(value);
        }
        self.take(16, field, start)?;
        Ok(word)
    }

    /// One set bit: a further bitmap or a field.
    fn item(&mut self, n: u16) -> Step<()> {
        let start = self.pos;
        let plan = self.spec().plan(n);
        let units = match plan.kind {
            Kind::Fixed => plan.units as usize,
            Kind::Variable => self.prefix(n, &plan, start)?,
            Kind::Bitmap => return self.nested_bitmap(n, start),
            Kind::Undefined => {
                let field = FieldPath::field(n);
                return Err(Error::UnknownField {
                    field,
                    offset: start,
                }
                .into());
            }
        };
        let data_start = self.pos;
        let wire = plan.wire_len(units);
        // A length that would carry the message past its 65,535-byte limit is refused now,
        // rather than after a framing layer has buffered bytes that can never be accepted.
        if data_start + wire > usize::from(u16::MAX) {
            return Err(Error::MessageTooLarge { offset: start }.into());
        }
        let data = self.take(wire, Some(n), start)?;
        if self.opts.check_content {
            self.check(n, &plan, data, units, data_start)?;
        }
        self.pos = data_start + data.len();
        self.push(start)
    }

    fn nested_bitmap(&mut self, n: u16, start: usize) -> Step<()> {
        let (which, word) = if n == 1 {
            (WhichBitmap::Secondary, 1)
        } else {
            (WhichBitmap::Tertiary, 2)
        };
        let value = self.bitmap_word(which)?;
        self.message.bitmap.set_word(word, value);
        self.push(start)
    }

    /// Records where an item (prefix included) starts. At most 192 bits can be set and each is
    /// visited once, so the array never overflows; if it did, the span would be dropped and
    /// lookups would find nothing rather than something wrong.
    #[inline]
    fn push(&mut self, start: usize) -> Step<()> {
        let Ok(start) = u16::try_from(start) else {
            return Err(Error::MessageTooLarge { offset: start }.into());
        };
        let _ = self.message.spans.push(start);
        Ok(())
    }

    /// Reads a length prefix and returns the field's length in units.
    fn prefix(&mut self, n: u16, plan: &Plan, start: usize) -> Step<usize> {
        let width = usize::from(plan.prefix_width);
        let limit = u64::from(plan.limit);
        let field = FieldPath::field(n);
        let length_error = |problem| Error::InvalidLength {
            field,
            offset: start,
            problem,
        };

        // Fast path: the whole prefix is there.
        if let Some(bytes) = self.input.get(start..start + width) {
            let count = plan.read_prefix(bytes).map_err(|i| {
                let found = Found::Byte(bytes.get(i).copied().unwrap_or(0));
                length_error(LengthProblem::PrefixNotDecimal { found })
            })?;
            if count > limit {
                return Err(length_error(LengthProblem::TooLong {
                    found: count,
                    max: limit,
                })
                .into());
            }
            self.pos += width;
            if !plan.counts_bytes {
                return Ok(count as usize);
            }
            return plan.units_in(count as usize).ok_or_else(|| {
                Stop::Fail(length_error(LengthProblem::NotWholeUnits { found: count }))
            });
        }

        // The input ends inside the prefix. Its digits that are there may already be bad, or
        // already announce more than the maximum whatever follows: errors, not "need more".
        let present = self.available(width);
        let count = plan.read_prefix(present).map_err(|i| {
            let found = Found::Byte(present.get(i).copied().unwrap_or(0));
            length_error(LengthProblem::PrefixNotDecimal { found })
        })?;
        let scale: u64 = match plan.prefix_encoding {
            PrefixEncoding::Binary => 256,
            PrefixEncoding::Bcd => 100,
            PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => 10,
        };
        let missing = (width - present.len()) as u32;
        let smallest = count.saturating_mul(scale.saturating_pow(missing));
        if smallest > limit {
            let problem = LengthProblem::TooLong {
                found: smallest,
                max: limit,
            };
            return Err(length_error(problem).into());
        }
        Err(need(start + width, self.input.len(), Some(n), start))
    }

    /// Checks a field's data against its class and encoding, noting accepted quirks.
    fn check(&mut self, n: u16, plan: &Plan, data: &[u8], units: usize, at: usize) -> Step<()> {
        let strict = self.opts.strict;

        // The sign of an x+n amount is one character before the digits, in every encoding.
        let (body, body_at) = if plan.sign {
            self.check_sign(n, plan, data, at)?;
            (data.get(1..).unwrap_or(&[]), at + 1)
        } else {
            (data, at)
        };

        let result = match plan.check {
            Check::Nothing => return Ok(()),
            Check::Chars(class, charset) => {
                content::check_chars(class, content::to_latin1(charset), body, strict)
            }
            Check::Bcd { pad, filler, track } => {
                content::check_bcd(body, units, pad, filler, track, strict)
            }
            Check::Hex(charset) => content::check_hex(body, charset, strict),
        };
        match result {
            Ok(seen) if seen == Seen::default() => Ok(()),
            Ok(seen) => {
                let field = Some(n);
                if seen.non_ascii {
                    self.message.quirks.note(Quirk::NonAsciiText, field, at);
                }
                if seen.lower_hex {
                    self.message.quirks.note(Quirk::LowerCaseHex, field, at);
                }
                if seen.odd_filler {
                    self.message.quirks.note(Quirk::FillerNibble, field, at);
                }
                Ok(())
            }
            Err(Bad { index, expected }) => {
                let b = body.get(index).copied().unwrap_or(0);
                Err(Error::InvalidContent {
                    field: FieldPath::field(n),
                    offset: body_at + index,
                    expected,
                    found: Found::byte(b, plan.sensitive),
                }
                .into())
            }
        }
    }

    fn check_sign(&self, n: u16, plan: &Plan, data: &[u8], at: usize) -> Step<()> {
        let sign = data.first().copied().unwrap_or(0);
        let as_latin1 = match plan.check {
            Check::Chars(_, charset) => content::to_latin1(charset)
                .and_then(|m| m.get(usize::from(sign)).copied())
                .unwrap_or(sign),
            _ => sign,
        };
        if content::is_sign(as_latin1) {
            return Ok(());
        }
        Err(Error::InvalidContent {
            field: FieldPath::field(n),
            offset: at,
            expected: Expected::Sign,
            found: Found::byte(sign, plan.sensitive),
        }
        .into())
    }
}
