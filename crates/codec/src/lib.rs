//! Zero-copy ISO 8583 codec driven by data-file specs.
//!
//! `iso8583-codec` decodes and encodes ISO 8583 messages as a [`Spec`] describes them: the MTI
//! and bitmap layout, and for each field its content class (`n`, `a`, `an`, `ans`, `b`, `z`,
//! `x+n`), its length (fixed, or variable behind a 1-6 digit prefix written in ASCII, EBCDIC,
//! BCD or binary), how its data is written (ASCII, EBCDIC 037/1047, BCD, binary, hex
//! characters) and whether it is sensitive. Specs are TOML files; five ship built in
//! ([`Spec::builtin`]): `iso87-ascii`, `iso87-binary`, `iso93-ascii`, `cup-pos` (China
//! UnionPay POS terminals) and `intl-pos` (international POS terminals).
//!
//! # Main types
//! - [`Spec`]: a dialect, loaded and linted from TOML ([`Spec::from_toml_str`]).
//! - [`Message`]: a decoded message that borrows its input. Decoding checks the structure and
//!   every field's content and allocates nothing; field access is O(1) and returns a [`Field`]
//!   view with readers for text, digits and amounts.
//! - [`Decoded`]: a message, or "need at least N more bytes" for a framing layer to act on.
//! - [`Builder`]: sets checked values and writes the message into a `bytes::BytesMut`.
//! - [`tlv::Tlvs`]: BER-TLV data objects (EMV field 55) read without allocating, from
//!   [`Field::tlvs`] or any bytes; [`tlv::put`] writes them.
//! - [`Error`]: one error type naming the field, the byte offset, what was expected and what
//!   was found, never the content of a sensitive field.
//!
//! # What it does not do
//! No I/O, no clock, no framing (length headers, TPDU: see the wire crate), no MACs or PIN
//! blocks (the crypto crate). Decoding never panics on any input, never loops without bound and
//! never allocates: every length is checked against the spec's maximum and the input left.
//!
//! # Example
//! ```
//! use iso8583_codec::{Builder, Mti, Spec};
//!
//! let spec = Spec::builtin("cup-pos").expect("built in");
//! let mut sale = Builder::new(spec, Mti::new("0200").expect("digits"));
//! sale.set_str(2, "6212345678901234")?
//!     .set_str(3, "000000")?
//!     .set_str(4, "000000001000")?
//!     .set_str(11, "000123")?
//!     .set_str(22, "051")?
//!     .set_str(41, "TERM0001")?;
//! let wire = sale.to_bytes();
//!
//! let message = spec.decode(&wire)?.complete()?;
//! assert_eq!(message.field(4).and_then(|f| f.amount()).map(|a| a.minor), Some(1000));
//! assert_eq!(message.field(22).map(|f| f.raw()), Some(&[0x05, 0x10][..]));
//! // Sensitive fields are masked wherever text is produced.
//! assert_eq!(message.field(2).map(|f| f.masked().to_string()).as_deref(),
//!            Some("621234******1234"));
//! # Ok::<(), iso8583_codec::Error>(())
//! ```
//!
//! # Performance
//! Decoding takes a fast path for canonical input and falls back to a full walk, which says
//! exactly what is wrong, only when something is out of the ordinary. Each [`Spec`] also keeps
//! the layouts of the bitmaps it has decoded (up to 32, about 56 KiB per spec, allocated when
//! the spec is loaded or cloned): for a bitmap met before, the order of the fields, their fixed
//! sizes and the runs of bytes sharing a content class are known in advance, and only the
//! length prefixes and the bytes themselves are read and checked (sixteen at a time, as vectors
//! of the `wide` crate: safe code, SSE2 on x86-64). Input that is refused never takes a slot,
//! nor do bitmaps the layout walk does not handle; once the slots are taken, a new bitmap is
//! decoded bit by bit, about twice the work. A [`Message`] is 184 bytes,
//! small enough to return by value without a call to `memcpy`: it keeps the start of each of
//! its first 48 items, and of every second or fourth item beyond, so a lookup in a message of
//! more than 48 items may read up to three length prefixes again. `benches/README.md` has the
//! figures.
//!
//! # Features and MSRV
//! - `json` (default): [`json`] conversion between messages and the JSON the `iso8583` CLI
//!   reads and writes.
//!
//! The minimum supported Rust version is 1.85.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod content;
mod decode;
mod ebcdic;
mod encode;
mod error;
mod fast;
mod field;
#[cfg(feature = "json")]
pub mod json;
mod message;
mod spans;
mod spec;
pub mod tlv;

pub use decode::{Decoded, Decoder, Incomplete};
pub use encode::Builder;
pub use error::{
    BitmapProblem, Error, Expected, FieldPath, Found, LengthProblem, SubPath, TlvProblem,
    WhichBitmap,
};
pub use field::{Amount, Field, Masked, Value};
pub use message::{Bitmap, Message, Mti, MtiVersion, Quirk, QuirkAt, Quirks};
pub use spec::{
    BitmapEncoding, Charset, CodePage, ContentClass, DataEncoding, FieldSpec, LengthKind,
    MtiEncoding, Pad, Prefix, PrefixCounts, PrefixEncoding, Sensitivity, Spec, SpecError,
    SpecProblem, MAX_FIELD,
};
