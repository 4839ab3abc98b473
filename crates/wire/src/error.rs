//! Error types: [`FrameError`] for reading and writing frames, [`ClientError`] for an exchange
//! on a [`crate::Client`], [`ValueError`] for building a TPDU or header from numbers.
//!
//! No variant carries message content. Where a value is shown (a terminal id, a trace number)
//! it is one the codec's masking shows too; length headers are shown as raw bytes because they
//! are the only way to tell a garbage header from a misconfigured one.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use iso8583_codec::Mti;

use crate::config::LengthHeader;
use crate::tpdu::Tpdu;

/// Why a frame could not be read or written. Any error while reading ends the stream: the
/// connection is no longer in step with the peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The length header is not a number in its encoding (a BCD nibble above 9, a non-digit
    /// ASCII byte): the peer uses another framing, or the stream lost its place.
    #[error("{header} length header: not a length (bytes {found})")]
    InvalidLengthHeader {
        /// The configured length header.
        header: LengthHeader,
        /// The bytes read where the length was expected.
        found: LengthBytes,
    },
    /// A length header configured to count itself announced less than its own width.
    #[error("{header} length header counts itself but announces {announced}, below its width")]
    LengthBelowHeader {
        /// The configured length header.
        header: LengthHeader,
        /// The value read.
        announced: usize,
    },
    /// A frame is longer than the configured maximum; nothing of it was buffered.
    #[error("frame of at least {length} bytes is over the maximum of {max}")]
    FrameTooLarge {
        /// The frame's length (after the length header), or the least it can be when the
        /// message itself delimits the frame.
        length: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A frame is too short to hold the configured TPDU and application header.
    #[error("frame of {length} bytes cannot hold its {needed}-byte TPDU and header")]
    FrameTooShort {
        /// The frame's length after the length header.
        length: usize,
        /// Bytes the TPDU and header take.
        needed: usize,
    },
    /// A zero-length frame arrived and the configuration rejects keep-alives.
    #[error("zero-length frame (keep-alive) where the configuration allows none")]
    UnexpectedKeepAlive,
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame: {received} byte(s) received{}", Expecting(*.expected))]
    Truncated {
        /// Bytes of the frame received (after the length header, if it was read).
        received: usize,
        /// The frame's announced length after the length header, if it was read (never known
        /// without a length header).
        expected: Option<usize>,
    },
    /// Without a length header the message delimits the frame, and it does not decode; when
    /// encoding, the body is not exactly one message of the spec.
    #[error("message: {0}")]
    Message(#[from] iso8583_codec::Error),
    /// The configuration has a part the frame to write lacks.
    #[error("the frame configuration has a {0} but the frame to write has none")]
    MissingPart(Part),
    /// The frame to write has a part the configuration lacks.
    #[error("the frame to write has a {0} but the frame configuration has none")]
    UnexpectedPart(Part),
    /// The frame to write is longer than its length header can announce.
    #[error("{header} length header cannot announce {length} (at most {max})")]
    LengthUnrepresentable {
        /// The configured length header.
        header: LengthHeader,
        /// The value that would be written.
        length: usize,
        /// The largest value the header can carry.
        max: usize,
    },
    /// A keep-alive cannot be written without a length header.
    #[error("a keep-alive needs a length header")]
    KeepAliveWithoutLength,
}

/// An optional part of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Part {
    /// The 5-byte TPDU.
    Tpdu,
    /// The 6-byte UnionPay application header.
    AppHeader,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Tpdu => "TPDU",
            Part::AppHeader => "application header",
        })
    }
}

/// The raw bytes of a length header, shown in hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LengthBytes {
    bytes: [u8; 4],
    len: u8,
}

impl LengthBytes {
    /// Up to the first four bytes of `raw`.
    pub(crate) fn new(raw: &[u8]) -> LengthBytes {
        let mut bytes = [0u8; 4];
        let len = raw.len().min(4);
        for (dst, src) in bytes.iter_mut().zip(raw) {
            *dst = *src;
        }
        LengthBytes {
            bytes,
            len: len as u8,
        }
    }

    /// The bytes as read.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Display for LengthBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for b in self.as_slice() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for LengthBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LengthBytes({self})")
    }
}

struct Expecting(Option<usize>);

impl fmt::Display for Expecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, " of {n}"),
            None => f.write_str(" before its length was known"),
        }
    }
}

/// A number does not fit the field of a TPDU or header it was meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {value} does not fit (at most {max})")]
#[non_exhaustive]
pub struct ValueError {
    /// The part being set, such as `"NII"` or `"sub-version"`.
    pub what: &'static str,
    /// The value given.
    pub value: u32,
    /// The largest value the part can hold.
    pub max: u32,
}

/// Why an exchange on a [`crate::Client`] failed.
///
/// Terminal ids and trace numbers in these errors are shown as the codec's masking shows them;
/// they are not sensitive in any built-in spec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request's bytes are not a whole message of the client's spec.
    #[error("request does not decode: {0}")]
    Request(#[source] iso8583_codec::Error),
    /// The request's MTI is a response (odd function digit): nothing would answer it.
    #[error("MTI {mti} is not a request or advice; no response would match it")]
    NotARequest {
        /// The request's MTI.
        mti: Mti,
    },
    /// The request lacks a field its response is matched on (11 or 41).
    #[error("request {mti} has no field {field}, which its response is matched on")]
    MissingMatchField {
        /// The request's MTI.
        mti: Mti,
        /// The missing field.
        field: u16,
    },
    /// A request of the same class, terminal and trace number is already waiting: the two
    /// responses could not be told apart.
    #[error("a class {class} request for terminal {tid}, trace {stan} is already in flight")]
    AlreadyPending {
        /// The MTI class digit.
        class: u8,
        /// Field 41, masked.
        tid: String,
        /// Field 11, masked.
        stan: String,
    },
    /// The request could not be written.
    #[error("sending the request: {0}")]
    Send(#[source] FrameError),
    /// No matching response arrived in time. The request is no longer pending: a response that
    /// arrives later is logged and dropped.
    #[error("no {expected} for terminal {tid}, trace {stan} within {after:?}")]
    Timeout {
        /// The response MTI waited for.
        expected: Mti,
        /// Field 41, masked.
        tid: String,
        /// Field 11, masked.
        stan: String,
        /// The timeout.
        after: Duration,
    },
    /// The response did not carry its request's TPDU with the addresses swapped (only with
    /// [`crate::ClientOptions::check_tpdu`]): it came from another NII and is not handed over.
    #[error("response TPDU {} is not the request's swapped, {expected}", Found(.found.as_ref()))]
    WrongTpdu {
        /// The TPDU the response should have carried.
        expected: Tpdu,
        /// The one it carried (`None`: none).
        found: Option<Tpdu>,
    },
    /// The connection closed (or was closed after a bad frame) before a response came.
    #[error("connection closed{}", Cause(.cause.as_deref()))]
    Disconnected {
        /// The framing error that closed it, or `None` for an orderly close by the peer.
        #[source]
        cause: Option<Arc<FrameError>>,
    },
}

/// A TPDU found in a response, or `none`.
struct Found<'a>(Option<&'a Tpdu>);

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(t) => write!(f, "{t}"),
            None => f.write_str("none"),
        }
    }
}

struct Cause<'a>(Option<&'a FrameError>);

impl fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, ": {e}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_facts() {
        let e = FrameError::InvalidLengthHeader {
            header: LengthHeader::Ascii4,
            found: LengthBytes::new(b"12x4"),
        };
        assert_eq!(
            e.to_string(),
            "4-digit ASCII length header: not a length (bytes 31 32 78 34)"
        );
        let e = FrameError::Truncated {
            received: 3,
            expected: Some(10),
        };
        assert_eq!(
            e.to_string(),
            "stream ended inside a frame: 3 byte(s) received of 10"
        );
        let e = ClientError::Disconnected {
            cause: Some(Arc::new(FrameError::FrameTooLarge {
                length: 9000,
                max: 8192,
            })),
        };
        assert_eq!(
            e.to_string(),
            "connection closed: frame of at least 9000 bytes is over the maximum of 8192"
        );
    }
}
