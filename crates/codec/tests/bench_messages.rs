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

/// The readable table of message (b): no field name is cut (field 60's is the longest), every
/// value starts in one column, and sensitive fields are masked.
#[test]
fn the_readable_table_fits_its_longest_name() {
    let spec = Spec::builtin("cup-pos").unwrap();
    let wire = unhex(&std::fs::read_to_string("tests/data/b.hex").unwrap());
    let message = spec.decode(&wire).unwrap().complete().unwrap();
    let table = message.to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "MTI 0200  (cup-pos)");
    assert_eq!(lines.len(), 1 + message.fields().count(), "{table}");
    let name_60 = &spec.field(60).unwrap().name;
    assert!(name_60.len() > 40, "{name_60}");
    assert!(table.contains(&format!("   60  {name_60} [")), "{table}");
    let column = lines[1].find('[').unwrap();
    for line in &lines[1..] {
        assert_eq!(line.find('['), Some(column), "{table}");
    }
    assert!(table.contains("[621234******1234]"), "{table}");
    assert!(!table.contains("6212345678901234"), "{table}");
}
