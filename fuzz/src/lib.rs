//! What the fuzz targets check, shared by all of them.
//!
//! For any input: decoding never panics, with the default options, strict, and structure-only
//! with trailing bytes kept, and the decoder's fast path and full walk agree. Whatever decodes with content checks has readable fields (value,
//! digits, amount, masked display), re-encodes through `Builder::from_message`, and the
//! re-encoded bytes decode to the same MTI and values.

use bytes::BytesMut;
use iso8583_codec::tlv::{self, Tlvs};
use iso8583_codec::{Builder, Decoded, Decoder, Message, Quirk, Spec};

/// The fuzz body of the `decode_*` targets: `data` decoded with built-in spec `name`.
pub fn decode_builtin(name: &str, data: &[u8]) {
    let spec = Spec::builtin(name).expect("a built-in spec");
    decode_and_check(spec, data);
}

/// The fuzz body of `spec_load`: TOML text, a NUL byte, message bytes.
pub fn load_spec_and_decode(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (text, rest) = data.split_at(split);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    match Spec::from_toml_str(text) {
        Ok(spec) => decode_and_check(&spec, rest.get(1..).unwrap_or(&[])),
        Err(e) => {
            // Lint reports are built for people: they must format without panicking.
            let _ = e.to_string();
        }
    }
}

/// Decodes `data` every way the targets try, checking what decodes.
pub fn decode_and_check(spec: &Spec, data: &[u8]) {
    for strict in [false, true] {
        let decoder = spec.decoder().strict(strict);
        same_through_both_walks(decoder, data);
        match decoder.decode(data) {
            Ok(Decoded::Complete(message)) => {
                read_everything(&message);
                re_encode(spec, &message);
            }
            Ok(Decoded::Incomplete(incomplete)) => assert!(incomplete.needed > 0),
            Err(e) => {
                let _ = (e.to_string(), e.kind(), e.field(), e.offset());
            }
        }
    }
    // Without content checks the values may be anything: they must still read safely.
    let loose = spec.decoder().structure_only(true).keep_trailing(true);
    same_through_both_walks(loose, data);
    if let Ok(Decoded::Complete(message)) = loose.decode(data) {
        read_everything(&message);
        if let Ok(builder) = Builder::from_message(&message) {
            let _ = builder.to_bytes();
        }
    }
}

/// The decoder's fast path for canonical input and its full walk agree: the same message
/// (values, quirks, extent), the same error, or the same need for more bytes.
fn same_through_both_walks(decoder: Decoder<'_>, data: &[u8]) {
    let fast = decoder.decode(data);
    let full = decoder.full_walk_only(true).decode(data);
    match (&fast, &full) {
        (Ok(Decoded::Complete(a)), Ok(Decoded::Complete(b))) => {
            assert_eq!(a.mti(), b.mti());
            assert_eq!(a.bitmap(), b.bitmap());
            assert_eq!(a.quirks(), b.quirks());
            assert_eq!(a.as_bytes(), b.as_bytes());
            assert_eq!(values(a), values(b));
        }
        (Ok(Decoded::Incomplete(a)), Ok(Decoded::Incomplete(b))) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("fast path {fast:?} but full walk {full:?}"),
    }
}

fn values(message: &Message<'_>) -> Vec<(u16, Vec<u8>)> {
    message.fields().map(|f| (f.number(), f.to_vec())).collect()
}

fn read_everything(message: &Message<'_>) {
    let mut total = message.as_bytes().len() + message.trailing().len();
    for field in message.fields() {
        total += field.value().count() + field.raw().len() + field.units();
        total += field.digits().map_or(0, Iterator::count);
        total += usize::from(field.amount().is_some()) + usize::from(field.to_u64().is_some());
        total += field.as_str().map_or(0, str::len);
        total += field.masked().to_string().len();
        let span = message
            .span_of(field.number())
            .expect("a present field has a span");
        assert!(span.end <= message.as_bytes().len());
        total += message.bytes_before(field.number()).len();
        if let Some(tlvs) = field.tlvs() {
            walk_tlvs(message.as_bytes(), tlvs);
        }
    }
    total += message.to_string().len() + format!("{message:?}").len();
    std::hint::black_box(total);
}

/// A message decoded with content checks re-encodes, canonically, to the same values.
fn re_encode(spec: &Spec, message: &Message<'_>) {
    let builder = match Builder::from_message(message) {
        Ok(builder) => builder,
        Err(e) => panic!("a decoded message does not re-encode: {e:?}\n{message:?}"),
    };
    let again = builder.to_bytes();
    assert_eq!(again.len(), builder.encoded_len());
    // Non-ASCII text is the value itself and stays; every other quirk is gone.
    let text_stays = message.quirks().first(Quirk::NonAsciiText).is_some();
    let redecoded = match spec.decoder().strict(!text_stays).decode(&again) {
        Ok(Decoded::Complete(m)) => m,
        other => panic!("re-encoded message does not decode: {other:?}\n{message:?}"),
    };
    assert_eq!(redecoded.mti(), message.mti());
    assert_eq!(
        values(&redecoded),
        values(message),
        "values change on re-encoding"
    );
}

/// The fuzz body of `tlv`: arbitrary bytes read as BER-TLV, as deep as they go.
pub fn tlv(data: &[u8]) {
    walk_tlvs(data, Tlvs::new(data));
}

/// Walks `top` and every constructed object inside it, without recursion. `whole` is the data
/// the offsets count in. Every object lies inside the data, after the one before it at its
/// level, holds the data's own bytes as its value, and written again reads back the same; the
/// walk takes at most one step per byte.
fn walk_tlvs(whole: &[u8], top: Tlvs<'_>) {
    let mut stack = vec![(top, 0)];
    let mut steps = 0;
    while let Some((mut level, floor)) = stack.pop() {
        let Some(item) = level.next() else { continue };
        steps += 1;
        assert!(steps <= whole.len(), "more objects than bytes");
        let Ok(object) = item else {
            assert!(level.next().is_none(), "a walk goes on after an error");
            continue;
        };
        let span = object.span();
        assert!(span.start >= floor && span.end <= whole.len(), "{span:?}");
        assert_eq!(whole.get(object.value_offset()..span.end), Some(object.value()));
        let mut again = BytesMut::new();
        tlv::put(&mut again, object.tag(), object.value());
        let back = Tlvs::new(&again).next().expect("one object").expect("reads back");
        assert_eq!((back.tag(), back.value()), (object.tag(), object.value()));
        let _ = format!("{object:?}");
        stack.push((level, span.end));
        if object.is_constructed() {
            stack.push((object.children(), object.value_offset()));
        }
    }
}
