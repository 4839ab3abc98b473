//! Criterion benchmarks of the pos8583 crates; see `benches/README.md`.
//!
//! This library holds what the benchmark targets (`benches/codec.rs`, `benches/wire.rs`,
//! `benches/crypto.rs`), their tests and the `report` binary share: the two benchmark messages
//! of `data/` (compiled in, so nothing outside the repository is read), their field values from
//! `data/fields.json`, and the checks made before anything is timed, so the timed loops do the
//! work they claim to do: [`verify_ours`] (our codec decodes each message to those values and
//! encodes those values to exactly the message's bytes), [`frame::verify_frame`] (message (b)
//! framed for UnionPay round-trips to the same bytes) and [`mac::verify_macs`] (each MAC over
//! message (b) is the expected value).

pub mod frame;
pub mod mac;

use iso8583_codec::{Builder, ContentClass, Mti, Spec};

/// One benchmark message: its bytes and the field values it carries.
#[derive(Debug, Clone)]
pub struct BenchMessage {
    /// `"a"` or `"b"`, as in `data/README.md`.
    pub name: &'static str,
    /// The built-in `iso8583-codec` spec that decodes it.
    pub spec_name: &'static str,
    /// The message's bytes (`data/<name>.hex`).
    pub wire: Vec<u8>,
    /// The MTI as four digits.
    pub mti: String,
    /// Field number and value as `fields.json` writes it (binary fields as upper-case hex), in
    /// field-number order.
    pub text: Vec<(u16, String)>,
    /// Field number and logical value as our `Builder` takes it (binary fields as raw bytes),
    /// in field-number order.
    pub values: Vec<(u16, Vec<u8>)>,
}

const A_HEX: &str = include_str!("../data/a.hex");
const B_HEX: &str = include_str!("../data/b.hex");
const FIELDS_JSON: &str = include_str!("../data/fields.json");

/// Bytes of a hex string (upper or lower case, surrounding whitespace ignored), or `None` if it
/// is not whole bytes of hex digits.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .trim()
        .chars()
        .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks_exact(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Benchmark message `name` (`"a"` or `"b"`).
///
/// # Panics
/// On another name, or if `data/` does not hold what `data/README.md` describes (a broken
/// checkout): the benchmarks cannot run without their data.
pub fn message(name: &str) -> BenchMessage {
    let (name, spec_name, hex) = match name {
        "a" => ("a", "iso87-ascii", A_HEX),
        "b" => ("b", "cup-pos", B_HEX),
        other => panic!("no benchmark message {other:?}: there are \"a\" and \"b\""),
    };
    let spec = Spec::builtin(spec_name).expect("built-in spec");
    let wire = unhex(hex).expect("data/*.hex holds hex bytes");
    let json: serde_json::Value = serde_json::from_str(FIELDS_JSON).expect("fields.json is JSON");
    let emv = json["emv_tlv_hex"]
        .as_str()
        .expect("fields.json: emv_tlv_hex");
    let mti = json[name]["mti"]
        .as_str()
        .expect("fields.json: mti")
        .to_owned();

    let mut text: Vec<(u16, String)> = json[name]["fields"]
        .as_object()
        .expect("fields.json: fields")
        .iter()
        .map(|(n, v)| {
            let n: u16 = n.parse().expect("fields.json: field numbers");
            let v = v.as_str().expect("fields.json: string values");
            (n, v.replace("@emv_tlv_hex", emv))
        })
        .collect();
    // JSON object keys come back in string order ("11" before "2").
    text.sort_by_key(|(n, _)| *n);

    let values = text
        .iter()
        .map(|(n, v)| {
            let class = spec.field(*n).expect("every field is in the spec").class;
            let value = if class == ContentClass::B {
                unhex(v).expect("fields.json: binary fields as hex")
            } else {
                v.as_bytes().to_vec()
            };
            (*n, value)
        })
        .collect();
    BenchMessage {
        name,
        spec_name,
        wire,
        mti,
        text,
        values,
    }
}

/// Checks that `iso8583-codec` decodes `m` to exactly its field values and MTI, and that building
/// the message from those values encodes to exactly its bytes.
///
/// # Panics
/// When either does not hold: what the benchmarks time would not be the work they name.
pub fn verify_ours(m: &BenchMessage) {
    let spec = Spec::builtin(m.spec_name).expect("built-in spec");
    let message = spec
        .decode(&m.wire)
        .and_then(|d| d.complete())
        .unwrap_or_else(|e| panic!("message ({}) does not decode: {e}", m.name));
    assert!(
        message.quirks().is_empty(),
        "message ({}) is canonical",
        m.name
    );
    assert_eq!(message.mti().as_str(), m.mti);
    let present: Vec<u16> = message.fields().map(|f| f.number()).collect();
    let expected: Vec<u16> = m.values.iter().map(|(n, _)| *n).collect();
    assert_eq!(present, expected, "message ({}): fields present", m.name);
    for (n, value) in &m.values {
        let field = message.field(*n).expect("present");
        assert_eq!(&field.to_vec(), value, "message ({}): field {n}", m.name);
    }

    let mut builder = Builder::new(spec, Mti::new(&m.mti).expect("MTI digits"));
    for (n, value) in &m.values {
        builder
            .set(*n, value.as_slice())
            .unwrap_or_else(|e| panic!("message ({}): field {n} refused: {e}", m.name));
    }
    assert_eq!(
        &builder.to_bytes()[..],
        &m.wire[..],
        "message ({}) encodes to its bytes",
        m.name
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_sizes_the_data_readme_gives() {
        let a = message("a");
        let b = message("b");
        assert_eq!((a.wire.len(), b.wire.len()), (294, 161));
        assert_eq!((a.values.len(), b.values.len()), (17, 17));
        // Field 55 is 61 bytes of EMV data in both; (a) carries it as 122 hex characters.
        let emv = |m: &BenchMessage| {
            m.values
                .iter()
                .find(|(n, _)| *n == 55)
                .map(|(_, v)| v.len())
        };
        assert_eq!((emv(&a), emv(&b)), (Some(61), Some(61)));
    }

    #[test]
    fn our_codec_decodes_and_encodes_both_messages_exactly() {
        verify_ours(&message("a"));
        verify_ours(&message("b"));
    }

    #[test]
    fn unhex_refuses_what_is_not_whole_bytes() {
        assert_eq!(unhex(" 0aFf\n"), Some(vec![0x0A, 0xFF]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("0g"), None);
    }
}
