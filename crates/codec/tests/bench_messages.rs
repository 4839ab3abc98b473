//! The two benchmark messages decode to the values of `fields.json` and re-encode to the same
//! bytes: message (a) with `iso87-ascii`, message (b) with `cup-pos`.

use iso8583_codec::{json, Builder, Spec};

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .trim()
        .bytes()
        .map(|c| (c as char).to_digit(16).unwrap() as u8)
        .collect();
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

fn check(spec_name: &str, hex_file: &str, key: &str) {
    let spec = Spec::builtin(spec_name).unwrap();
    let wire = unhex(&std::fs::read_to_string(format!("tests/data/{hex_file}")).unwrap());
    let fields: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/data/fields.json").unwrap()).unwrap();
    let emv = fields["emv_tlv_hex"].as_str().unwrap();
    let expected = &fields[key];

    let message = spec.decode(&wire).unwrap().complete().unwrap();
    assert!(message.quirks().is_empty(), "{:?}", message.quirks());
    assert_eq!(message.mti().as_str(), expected["mti"].as_str().unwrap());
    let got = json::to_json(&message, &[], true);
    let want = expected["fields"].as_object().unwrap();
    let got_fields = got["fields"].as_object().unwrap();
    assert_eq!(got_fields.len(), want.len(), "{got}");
    for (n, value) in want {
        let value = value.as_str().unwrap().replace("@emv_tlv_hex", emv);
        assert_eq!(got_fields[n].as_str(), Some(value.as_str()), "field {n}");
    }

    let again = Builder::from_message(&message).unwrap().to_bytes();
    assert_eq!(&again[..], &wire[..]);
}

#[test]
fn message_a_with_iso87_ascii() {
    check("iso87-ascii", "a.hex", "a");
}

#[test]
fn message_b_with_cup_pos() {
    check("cup-pos", "b.hex", "b");
}
