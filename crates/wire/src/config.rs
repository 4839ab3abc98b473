//! What a frame looks like on a given link: the length header (or none, with the spec that
//! then tells where a message ends), whether a TPDU and a UnionPay header come before the
//! message, how zero-length frames are treated and how long a frame may be.
//!
//! The configuration is plain data; [`crate::FrameCodec`] reads and writes frames with it.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use iso8583_codec::Spec;

use crate::header::AppHeader;
use crate::tpdu::Tpdu;

/// The default maximum frame length: larger than any terminal message of the built-in specs
/// (their largest fields are LLLVAR up to 999 bytes, a handful per message).
pub const DEFAULT_MAX_FRAME: usize = 8192;

/// How the length before each frame is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LengthHeader {
    /// Two bytes, binary, big-endian: the common one.
    Binary2,
    /// Two bytes of packed BCD (at most 9999).
    Bcd2,
    /// Four ASCII digits (at most 9999).
    Ascii4,
}

impl LengthHeader {
    /// Bytes the header takes.
    pub fn width(self) -> usize {
        match self {
            LengthHeader::Binary2 | LengthHeader::Bcd2 => 2,
            LengthHeader::Ascii4 => 4,
        }
    }

    /// The largest value the header can carry.
    pub fn max_value(self) -> usize {
        match self {
            LengthHeader::Binary2 => usize::from(u16::MAX),
            LengthHeader::Bcd2 | LengthHeader::Ascii4 => 9999,
        }
    }

    /// The value of a header's `width()` bytes, or `None` if they are not a number in this
    /// encoding (or `raw` is not `width()` bytes long). Public for tools that take a whole
    /// captured frame at once rather than a stream, such as the `iso8583` CLI.
    ///
    /// ```
    /// use iso8583_wire::LengthHeader;
    ///
    /// assert_eq!(LengthHeader::Binary2.read(&[0x01, 0x2C]), Some(300));
    /// assert_eq!(LengthHeader::Bcd2.read(&[0x03, 0x00]), Some(300));
    /// assert_eq!(LengthHeader::Ascii4.read(b"0300"), Some(300));
    /// assert_eq!(LengthHeader::Ascii4.read(b"03x0"), None);
    /// assert_eq!(LengthHeader::Binary2.read(&[0x01]), None);
    /// ```
    pub fn read(self, raw: &[u8]) -> Option<usize> {
        if raw.len() != self.width() {
            return None;
        }
        match self {
            LengthHeader::Binary2 => {
                let bytes: [u8; 2] = raw.try_into().ok()?;
                Some(usize::from(u16::from_be_bytes(bytes)))
            }
            LengthHeader::Bcd2 => crate::bcd::read(raw).map(|v| v as usize),
            LengthHeader::Ascii4 => raw.iter().try_fold(0usize, |acc, &b| {
                let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
                Some(acc * 10 + usize::from(digit))
            }),
        }
    }

    /// The header bytes for `value`, or `None` if it does not fit.
    pub(crate) fn write(self, value: usize) -> Option<([u8; 4], usize)> {
        if value > self.max_value() {
            return None;
        }
        let mut out = [0u8; 4];
        // `value` is at most 65535 (binary) or 9999 (the others), checked above.
        let value = value as u32;
        match self {
            LengthHeader::Binary2 => {
                let [a, b] = (value as u16).to_be_bytes();
                out = [a, b, 0, 0];
            }
            LengthHeader::Bcd2 => {
                let [a, b] = crate::bcd::write::<2>(value)?;
                out = [a, b, 0, 0];
            }
            LengthHeader::Ascii4 => {
                let mut rest = value;
                for d in out.iter_mut().rev() {
                    *d = b'0' + (rest % 10) as u8;
                    rest /= 10;
                }
            }
        }
        Some((out, self.width()))
    }
}

impl fmt::Display for LengthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LengthHeader::Binary2 => "2-byte binary",
            LengthHeader::Bcd2 => "2-byte BCD",
            LengthHeader::Ascii4 => "4-digit ASCII",
        })
    }
}

/// What to do with a zero-length frame (a length header announcing no content), which some
/// peers send to keep an idle connection open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeepAlive {
    /// Hand it to the reader as [`crate::Frame::KeepAlive`].
    Yield,
    /// Read past it silently. The default: an empty frame carries nothing to lose, and the
    /// frames around it are still in step.
    #[default]
    Skip,
    /// Treat it as an error ([`crate::FrameError::UnexpectedKeepAlive`]) and end the stream,
    /// for peers known never to send one.
    Reject,
}

/// A spec held for as long as a codec or client lives: a built-in (`&'static`) or a loaded
/// one shared behind an `Arc`.
#[derive(Clone)]
pub enum SpecRef {
    /// A spec that lives for the whole program, such as a built-in.
    Static(&'static Spec),
    /// A loaded spec, shared.
    Shared(Arc<Spec>),
}

impl Deref for SpecRef {
    type Target = Spec;

    fn deref(&self) -> &Spec {
        match self {
            SpecRef::Static(spec) => spec,
            SpecRef::Shared(spec) => spec,
        }
    }
}

impl From<&'static Spec> for SpecRef {
    fn from(spec: &'static Spec) -> SpecRef {
        SpecRef::Static(spec)
    }
}

impl From<Arc<Spec>> for SpecRef {
    fn from(spec: Arc<Spec>) -> SpecRef {
        SpecRef::Shared(spec)
    }
}

impl From<Spec> for SpecRef {
    fn from(spec: Spec) -> SpecRef {
        SpecRef::Shared(Arc::new(spec))
    }
}

impl fmt::Debug for SpecRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpecRef({})", self.name())
    }
}

/// How frames are delimited.
#[derive(Debug, Clone)]
pub(crate) enum Delimiting {
    /// A length header before each frame.
    Length {
        header: LengthHeader,
        counts_itself: bool,
        keep_alive: KeepAlive,
    },
    /// No length header: the message's own structure tells where it ends.
    Spec(SpecRef),
}

/// The layout of frames on one link.
///
/// The default is a 2-byte binary length that does not count itself, no TPDU, no application
/// header, keep-alives skipped and frames of at most [`DEFAULT_MAX_FRAME`] bytes.
///
/// ```
/// use iso8583_codec::Spec;
/// use iso8583_wire::{FrameConfig, LengthHeader};
///
/// // UnionPay terminals: 2-byte length, TPDU, application header.
/// let cup = FrameConfig::unionpay();
/// assert!(cup.has_tpdu() && cup.has_app_header());
///
/// let ascii = FrameConfig::builder()
///     .length(LengthHeader::Ascii4)
///     .counts_itself(true)
///     .max_frame(4096)
///     .build();
/// assert_eq!(ascii.length_header(), Some(LengthHeader::Ascii4));
///
/// // No length header: the spec finds the end of each message.
/// let bare = FrameConfig::builder()
///     .without_length(Spec::builtin("iso87-ascii").expect("built in"))
///     .build();
/// assert_eq!(bare.length_header(), None);
/// ```
#[derive(Debug, Clone)]
pub struct FrameConfig {
    pub(crate) delimiting: Delimiting,
    pub(crate) tpdu: bool,
    pub(crate) app_header: bool,
    pub(crate) max_frame: usize,
}

impl Default for FrameConfig {
    fn default() -> FrameConfig {
        FrameConfig {
            delimiting: Delimiting::Length {
                header: LengthHeader::Binary2,
                counts_itself: false,
                keep_alive: KeepAlive::default(),
            },
            tpdu: false,
            app_header: false,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

impl FrameConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> FrameConfigBuilder {
        FrameConfigBuilder {
            config: FrameConfig::default(),
        }
    }

    /// China UnionPay POS terminals: 2-byte binary length, TPDU, application header.
    pub fn unionpay() -> FrameConfig {
        FrameConfig::builder().tpdu(true).app_header(true).build()
    }

    /// International POS terminals: 2-byte binary length, TPDU, no application header.
    pub fn international() -> FrameConfig {
        FrameConfig::builder().tpdu(true).build()
    }

    /// The length header, or `None` when the spec delimits messages.
    pub fn length_header(&self) -> Option<LengthHeader> {
        match self.delimiting {
            Delimiting::Length { header, .. } => Some(header),
            Delimiting::Spec(_) => None,
        }
    }

    /// The spec that delimits messages when there is no length header.
    pub fn delimiting_spec(&self) -> Option<&Spec> {
        match &self.delimiting {
            Delimiting::Length { .. } => None,
            Delimiting::Spec(spec) => Some(spec),
        }
    }

    /// True if a TPDU comes before the message.
    pub fn has_tpdu(&self) -> bool {
        self.tpdu
    }

    /// True if a UnionPay application header comes before the message.
    pub fn has_app_header(&self) -> bool {
        self.app_header
    }

    /// The maximum frame length in bytes, length header excluded.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes before the message: TPDU and application header.
    pub(crate) fn prefix_len(&self) -> usize {
        usize::from(self.tpdu) * Tpdu::LEN + usize::from(self.app_header) * AppHeader::LEN
    }
}

/// Builds a [`FrameConfig`]; every setting has a default.
#[derive(Debug, Clone)]
pub struct FrameConfigBuilder {
    config: FrameConfig,
}

impl FrameConfigBuilder {
    /// Use a length header of this kind (the default is [`LengthHeader::Binary2`]). Undoes
    /// [`FrameConfigBuilder::without_length`].
    pub fn length(mut self, header: LengthHeader) -> Self {
        self.config.delimiting = match self.config.delimiting {
            Delimiting::Length {
                counts_itself,
                keep_alive,
                ..
            } => Delimiting::Length {
                header,
                counts_itself,
                keep_alive,
            },
            Delimiting::Spec(_) => Delimiting::Length {
                header,
                counts_itself: false,
                keep_alive: KeepAlive::default(),
            },
        };
        self
    }

    /// Whether the length header counts its own bytes (default: it does not).
    pub fn counts_itself(mut self, counts: bool) -> Self {
        if let Delimiting::Length { counts_itself, .. } = &mut self.config.delimiting {
            *counts_itself = counts;
        }
        self
    }

    /// What to do with zero-length frames (default: [`KeepAlive::Skip`]).
    pub fn keep_alive(mut self, policy: KeepAlive) -> Self {
        if let Delimiting::Length { keep_alive, .. } = &mut self.config.delimiting {
            *keep_alive = policy;
        }
        self
    }

    /// No length header: each message is decoded with `spec` to find where it ends. The
    /// length settings no longer apply; [`FrameConfigBuilder::length`] brings them back.
    pub fn without_length(mut self, spec: impl Into<SpecRef>) -> Self {
        self.config.delimiting = Delimiting::Spec(spec.into());
        self
    }

    /// Whether a TPDU comes before the message (default: no).
    pub fn tpdu(mut self, present: bool) -> Self {
        self.config.tpdu = present;
        self
    }

    /// Whether a UnionPay application header comes before the message (after the TPDU, if
    /// any; default: no).
    pub fn app_header(mut self, present: bool) -> Self {
        self.config.app_header = present;
        self
    }

    /// The maximum frame length in bytes, length header excluded (default
    /// [`DEFAULT_MAX_FRAME`]). A longer frame is refused as soon as its length is known.
    pub fn max_frame(mut self, max: usize) -> Self {
        self.config.max_frame = max;
        self
    }

    /// The configuration.
    pub fn build(self) -> FrameConfig {
        self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_headers_round_trip_and_refuse_garbage() {
        for (header, value, wire) in [
            (LengthHeader::Binary2, 300, &[0x01, 0x2C][..]),
            (LengthHeader::Bcd2, 300, &[0x03, 0x00][..]),
            (LengthHeader::Ascii4, 300, &b"0300"[..]),
        ] {
            let (bytes, width) = header.write(value).unwrap();
            assert_eq!(bytes.get(..width), Some(wire), "{header}");
            assert_eq!(header.read(wire), Some(value), "{header}");
        }
        assert_eq!(LengthHeader::Bcd2.read(&[0x0A, 0x00]), None);
        assert_eq!(LengthHeader::Ascii4.read(b"03 0"), None);
        // Only a whole header is a length: a short or long slice is not read as one.
        assert_eq!(LengthHeader::Bcd2.read(&[0x03]), None);
        assert_eq!(LengthHeader::Ascii4.read(b"030"), None);
        assert_eq!(LengthHeader::Binary2.read(&[0x00, 0x01, 0x2C]), None);
        assert_eq!(LengthHeader::Bcd2.write(10_000), None);
        assert_eq!(LengthHeader::Ascii4.write(10_000), None);
        assert_eq!(LengthHeader::Binary2.write(65_536), None);
    }

    #[test]
    fn prefix_counts_configured_parts() {
        assert_eq!(FrameConfig::default().prefix_len(), 0);
        assert_eq!(FrameConfig::international().prefix_len(), 5);
        assert_eq!(FrameConfig::unionpay().prefix_len(), 11);
    }
}
