//! [`ShortStr`]: a string of at most `N` bytes kept inline, for the short fixed-width values a
//! [`crate::Record`] holds (MTI, processing code, RRN, approval and response codes, date, time,
//! expiry, entry mode, condition code, PAN). A batch holds up to 999 records and a load run
//! thousands of batches at once; eleven heap `String`s per record made each one cost about
//! 1.5 KiB (benches/README.md, "Emulator load"). Inline, a record needs no allocation at all.
//!
//! It serialises as a plain string, so records stored before it was introduced read back
//! unchanged; a stored string longer than `N` is refused when read, never cut short.

use std::fmt;
use std::ops::Deref;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string of at most `N` bytes (`N` below 256), stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShortStr<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> ShortStr<N> {
    /// The empty string.
    pub const EMPTY: ShortStr<N> = ShortStr {
        bytes: [0; N],
        len: 0,
    };

    /// `text`, or `None` when it is longer than `N` bytes.
    pub fn new(text: &str) -> Option<ShortStr<N>> {
        let len = u8::try_from(text.len())
            .ok()
            .filter(|l| usize::from(*l) <= N)?;
        let mut bytes = [0; N];
        bytes
            .get_mut(..text.len())?
            .copy_from_slice(text.as_bytes());
        Some(ShortStr { bytes, len })
    }

    /// A value the engine makes itself (an MTI, a processing code, a date), which always fits;
    /// one that did not would be empty, and the codec would then refuse the message, naming
    /// the field, before anything is stored.
    pub(crate) fn ours(text: &str) -> ShortStr<N> {
        ShortStr::new(text).unwrap_or_default()
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        // Only ever filled from a `&str` (`new`), whole: always UTF-8.
        std::str::from_utf8(bytes).unwrap_or("")
    }
}

impl<const N: usize> Default for ShortStr<N> {
    fn default() -> Self {
        ShortStr::EMPTY
    }
}

impl<const N: usize> Deref for ShortStr<N> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> AsRef<str> for ShortStr<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> PartialEq<str> for ShortStr<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for ShortStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> PartialEq<String> for ShortStr<N> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<ShortStr<N>> for &str {
    fn eq(&self, other: &ShortStr<N>) -> bool {
        *self == other.as_str()
    }
}

impl<const N: usize> PartialEq<ShortStr<N>> for String {
    fn eq(&self, other: &ShortStr<N>) -> bool {
        self == other.as_str()
    }
}

impl<const N: usize> From<ShortStr<N>> for String {
    fn from(s: ShortStr<N>) -> String {
        s.as_str().to_owned()
    }
}

impl<const N: usize> fmt::Display for ShortStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for ShortStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> Serialize for ShortStr<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de, const N: usize> Deserialize<'de> for ShortStr<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(ShortVisitor::<N>)
    }
}

struct ShortVisitor<const N: usize>;

impl<const N: usize> Visitor<'_> for ShortVisitor<N> {
    type Value = ShortStr<N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string of at most {N} bytes")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ShortStr<N>, E> {
        ShortStr::new(text).ok_or_else(|| E::invalid_length(text.len(), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_n_bytes_and_reads_back_as_a_string() {
        let s = ShortStr::<6>::new("000000").unwrap();
        assert_eq!(s, "000000");
        assert_eq!(s.len(), 6);
        assert!(ShortStr::<6>::new("0000000").is_none());
        assert_eq!(ShortStr::<4>::new("").unwrap(), ShortStr::EMPTY);
        assert_eq!(format!("{s} {s:?}"), "000000 \"000000\"");
        assert_eq!(String::from(s), "000000");
        assert!(s.starts_with("00"));
    }

    #[test]
    fn serialises_as_a_string_and_refuses_a_longer_one() {
        let s = ShortStr::<12>::new("000000000042").unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"000000000042\"");
        assert_eq!(serde_json::from_str::<ShortStr<12>>(&json).unwrap(), s);
        let err = serde_json::from_str::<ShortStr<4>>("\"12345\"").unwrap_err();
        assert!(err.to_string().contains("at most 4 bytes"), "{err}");
        assert!(serde_json::from_str::<ShortStr<4>>("12").is_err());
    }

    #[test]
    fn is_small() {
        assert_eq!(std::mem::size_of::<ShortStr<12>>(), 13);
        assert_eq!(std::mem::size_of::<Option<ShortStr<4>>>(), 6);
    }
}
