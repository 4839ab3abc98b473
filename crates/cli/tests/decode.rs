//! `iso8583 decode`: field values, headers, every error kind, hexdump input, and no panic on
//! any input.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value as Json};
use support::{a_hex, b_hex, expected_fields, hex, run, unhex, Lcg};

const TPDU: &str = "6000030000";

/// Fields each benchmark message's spec marks sensitive, and how they show masked.
fn masked(which: &str, number: &str, value: &str) -> Option<String> {
    let stars = |n: usize| "*".repeat(n);
    match (which, number) {
        (_, "2") => Some(format!(
            "{}{}{}",
            &value[..6],
            stars(value.len() - 10),
            &value[value.len() - 4..]
        )),
        ("a", "35") => {
            let (pan, rest) = value.split_once('=').expect("a separator");
            let pan = format!(
                "{}{}{}",
                &pan[..6],
                stars(pan.len() - 10),
                &pan[pan.len() - 4..]
            );
            Some(format!("{pan}={}", stars(rest.len())))
        }
        // PIN blocks and EMV data are hidden to the length their hex shows.
        (_, "52" | "55") => Some(stars(value.len())),
        _ => None,
    }
}

fn check_fields(which: &str, got: &Json, reveal: bool) {
    let expected = expected_fields(which);
    let got = got["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("no fields: {got}"));
    let keys: Vec<&String> = got.keys().collect();
    let expected_keys: Vec<&String> = expected.keys().collect();
    assert_eq!(
        keys.len(),
        expected_keys.len(),
        "{keys:?} vs {expected_keys:?}"
    );
    for (number, value) in &expected {
        let value = value.as_str().expect("a string");
        let want = match masked(which, number, value) {
            Some(masked) if !reveal => masked,
            _ => value.to_string(),
        };
        assert_eq!(
            got.get(number).and_then(Json::as_str),
            Some(want.as_str()),
            "field {number}"
        );
    }
}

#[test]
fn message_a_with_iso87_ascii() {
    let r = run(
        &["decode", "--spec", "iso87-ascii", "--json"],
        a_hex().as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let got = r.json();
    assert_eq!((&got["mti"], &got["header"]), (&json!("0200"), &json!("")));
    assert_eq!(got["fields"]["2"], "411111******1111");
    check_fields("a", &got, false);
    // Keys come in order: mti, header, then fields by number.
    assert!(
        r.stdout
            .starts_with(r#"{"mti":"0200","header":"","fields":{"2":"#),
        "{}",
        r.stdout
    );

    let r = run(
        &[
            "decode",
            "--spec",
            "iso87-ascii",
            "--json",
            "--reveal",
            &a_hex(),
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let got = r.json();
    assert_eq!(got["fields"]["2"], "4111111111111111");
    check_fields("a", &got, true);
}

#[test]
fn message_b_with_cup_pos() {
    let r = run(
        &["decode", "--spec", "cup-pos", "--json"],
        b_hex().as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let got = r.json();
    assert_eq!(got["fields"]["2"], "621234******1234");
    assert_eq!(got["fields"]["52"], "****************");
    check_fields("b", &got, false);

    // Lower-case hex with spaces, newlines and 0x prefixes is the same message.
    let b = b_hex().to_lowercase();
    let spaced: String = b
        .as_bytes()
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let pair = std::str::from_utf8(pair).expect("ascii");
            if i % 16 == 15 {
                format!("0x{pair}\n")
            } else {
                format!("0x{pair} ")
            }
        })
        .collect();
    let r = run(
        &["decode", "--spec", "cup-pos", "--json", "--reveal"],
        spaced.as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    check_fields("b", &r.json(), true);
}

#[test]
fn skip_treats_a_tpdu_as_header() {
    let input = format!("{TPDU}{}", b_hex());
    let r = run(
        &[
            "decode", "--spec", "cup-pos", "--json", "--skip", "5", &input,
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let got = r.json();
    assert_eq!(got["header"], TPDU);
    check_fields("b", &got, false);

    // Offsets in errors count the header: field 64 (8 bytes, last) cut short by one byte.
    let cut = &input[..input.len() - 2];
    let e = run(
        &["decode", "--spec", "cup-pos", "--json", "--skip", "5", cut],
        b"",
    )
    .error();
    let b_len = b_hex().len() / 2;
    assert_eq!(e["kind"], "truncated");
    assert_eq!(e["field"], "64");
    assert_eq!(e["offset"], 5 + b_len - 8);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains(&format!("offset {}", 5 + b_len - 8)),
        "{e}"
    );

    let e = run(
        &["decode", "--spec", "cup-pos", "--json", "--skip", "5"],
        format!("{TPDU}0A00").as_bytes(),
    )
    .error();
    assert_eq!(
        (&e["kind"], &e["offset"]),
        (&json!("invalid_mti"), &json!(5))
    );
}

/// One bad input and the error it must give.
struct Case {
    spec: &'static str,
    hex: String,
    skip: usize,
    kind: &'static str,
    field: Option<&'static str>,
    offset: usize,
}

fn ascii(text: &str) -> String {
    hex(text.as_bytes())
}

#[test]
fn every_error_kind() {
    let a = a_hex();
    let a_len = a.len() / 2;
    let emv_chars = expected_fields("a")["55"].as_str().expect("emv").len();
    let cases = [
        Case {
            spec: "iso87-ascii",
            hex: "30323030zz".into(),
            skip: 0,
            kind: "invalid_hex",
            field: None,
            offset: 8,
        },
        Case {
            spec: "iso87-ascii",
            hex: " 3032 303".into(),
            skip: 0,
            kind: "invalid_hex",
            field: None,
            offset: 8,
        },
        // Hex errors count characters of the text, whatever --skip says.
        Case {
            spec: "cup-pos",
            hex: format!("{TPDU}G"),
            skip: 5,
            kind: "invalid_hex",
            field: None,
            offset: 10,
        },
        Case {
            spec: "iso87-ascii",
            hex: ascii("02X00000000000000000"),
            skip: 0,
            kind: "invalid_mti",
            field: None,
            offset: 2,
        },
        Case {
            spec: "iso87-ascii",
            hex: ascii("0200G000000000000000"),
            skip: 0,
            kind: "invalid_bitmap",
            field: None,
            offset: 4,
        },
        // cup-pos does not define field 24.
        Case {
            spec: "cup-pos",
            hex: "02000000010000000000".into(),
            skip: 0,
            kind: "unknown_field",
            field: Some("24"),
            offset: 10,
        },
        Case {
            spec: "cup-pos",
            hex: format!("{TPDU}02000000010000000000"),
            skip: 5,
            kind: "unknown_field",
            field: Some("24"),
            offset: 15,
        },
        // A PAN length prefix of 9x is above the maximum of 19 though the input ends there.
        Case {
            spec: "iso87-ascii",
            hex: ascii("02004000000000000000") + "39",
            skip: 0,
            kind: "invalid_length",
            field: Some("2"),
            offset: 20,
        },
        Case {
            spec: "iso87-ascii",
            hex: ascii("0200400000000000000099") + "3132",
            skip: 0,
            kind: "invalid_length",
            field: Some("2"),
            offset: 20,
        },
        Case {
            spec: "iso87-ascii",
            hex: ascii("0200200000000000000000A000"),
            skip: 0,
            kind: "invalid_content",
            field: Some("3"),
            offset: 22,
        },
        // Field 55 is last: its 3-digit prefix starts 3 + 122 characters before the end.
        Case {
            spec: "iso87-ascii",
            hex: a[..a.len() - 2].to_string(),
            skip: 0,
            kind: "truncated",
            field: Some("55"),
            offset: a_len - 3 - emv_chars,
        },
        Case {
            spec: "iso87-ascii",
            hex: String::new(),
            skip: 0,
            kind: "truncated",
            field: None,
            offset: 0,
        },
        Case {
            spec: "iso87-ascii",
            hex: ascii("0200"),
            skip: 0,
            kind: "truncated",
            field: None,
            offset: 4,
        },
        // --skip beyond the input.
        Case {
            spec: "cup-pos",
            hex: "6000".into(),
            skip: 5,
            kind: "truncated",
            field: None,
            offset: 0,
        },
        Case {
            spec: "cup-pos",
            hex: TPDU.into(),
            skip: 5,
            kind: "truncated",
            field: None,
            offset: 5,
        },
        Case {
            spec: "iso87-ascii",
            hex: format!("{a}0000"),
            skip: 0,
            kind: "trailing_data",
            field: None,
            offset: a_len,
        },
    ];
    for case in &cases {
        let skip = case.skip.to_string();
        let args = ["decode", "--spec", case.spec, "--skip", &skip, "--json"];
        let r = run(&args, case.hex.as_bytes());
        let e = r.error();
        let label = format!("{} {:?}: {e}", case.spec, case.hex);
        assert_eq!(e["kind"], case.kind, "{label}");
        assert_eq!(e["field"].as_str(), case.field, "{label}");
        assert_eq!(e["offset"], case.offset, "{label}");
        assert!(r.stderr.is_empty(), "{label}: {}", r.stderr);

        // Without --json: nothing on stdout, one line on stderr, the same status.
        let r = run(&args[..5], case.hex.as_bytes());
        assert_eq!(r.code, 1, "{label}: {r:?}");
        assert!(r.stdout.is_empty(), "{label}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{label}: {r:?}");
        assert!(
            r.stderr.starts_with("error: ") && r.stderr.contains(case.kind),
            "{label}: {r:?}"
        );
    }
}

#[test]
fn sensitive_bytes_never_appear_in_errors() {
    // A PAN with a letter in it: the error names the field but not the byte.
    let input = ascii("0200400000000000000016411111111111111X");
    let e = run(&["decode", "--spec", "iso87-ascii", "--json", &input], b"").error();
    assert_eq!(
        (&e["kind"], &e["field"]),
        (&json!("invalid_content"), &json!("2"))
    );
    assert!(!e["message"].as_str().unwrap().contains('X'), "{e}");
}

#[test]
fn strict_refuses_a_lower_case_bitmap() {
    // Bits 61 and 63 written as a lower-case 'a'.
    let input = ascii("0200000000000000000a003ABC003XYZ");
    let r = run(&["decode", "--spec", "iso87-ascii", "--json", &input], b"");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["fields"], json!({"61": "ABC", "63": "XYZ"}));
    assert!(
        r.stderr
            .contains("warning: lower-case hex digits in the primary bitmap at offset 19"),
        "{r:?}"
    );

    let r = run(&["decode", "--spec", "iso87-ascii", &input], b"");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("warning: lower-case hex digits"), "{r:?}");

    let e = run(
        &[
            "decode",
            "--spec",
            "iso87-ascii",
            "--json",
            "--strict",
            &input,
        ],
        b"",
    )
    .error();
    assert_eq!(
        (&e["kind"], &e["offset"], &e["field"]),
        (&json!("invalid_bitmap"), &json!(19), &Json::Null)
    );
}

#[test]
fn readable_table() {
    let input = format!("{TPDU}{}", b_hex());
    let r = run(&["decode", "--spec", "cup-pos", "--skip", "5", &input], b"");
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], format!("header {TPDU}"));
    assert_eq!(lines[1], "MTI 0200  (cup-pos)");
    assert!(
        lines[2].starts_with("    2  Primary account number")
            && lines[2].ends_with("[621234******1234]"),
        "{}",
        lines[2]
    );
    assert!(r.stdout.contains("[TERM0001]"), "{}", r.stdout);
    // The name column is as wide as the longest name shown (field 60's), so no name is cut
    // and every value starts in the same column.
    let field_60 = lines.iter().find(|l| l.starts_with("   60  ")).unwrap();
    assert!(
        field_60.contains("Reserved private: type, batch, network code ["),
        "{field_60}"
    );
    let column = field_60.find('[').unwrap();
    for line in &lines[2..] {
        assert_eq!(line.find('['), Some(column), "{}", r.stdout);
    }
    assert!(!r.stdout.contains("6212345678901234"), "{}", r.stdout);
    assert!(!r.stdout.contains("warning"), "{}", r.stdout);

    let r = run(
        &[
            "decode", "--spec", "cup-pos", "--skip", "5", "--reveal", &input,
        ],
        b"",
    );
    assert!(
        r.stdout.contains("[6212345678901234]") && r.stdout.contains("[3A5F1C7E2B9D04E6]"),
        "{}",
        r.stdout
    );
}

/// `hexdump -C`: 8-digit offset, two groups of 8 pairs, `|ascii|`, a final offset line.
fn hexdump_c(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let mut pairs = String::new();
        for j in 0..16 {
            if j == 8 {
                pairs.push(' ');
            }
            match chunk.get(j) {
                Some(b) => pairs.push_str(&format!("{b:02x} ")),
                None => pairs.push_str("   "),
            }
        }
        out.push_str(&format!("{:08x}  {pairs} |{}|\n", i * 16, gutter(chunk)));
    }
    out.push_str(&format!("{:08x}\n", bytes.len()));
    out
}

/// `xxd`: offset and colon, 4-digit groups, the gutter after two spaces, no final offset.
fn xxd(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let groups: Vec<String> = chunk
            .chunks(2)
            .map(|g| g.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        out.push_str(&format!(
            "{:08x}: {:<39}  {}\n",
            i * 16,
            groups.join(" "),
            gutter(chunk)
        ));
    }
    out
}

/// `od -A x -t x1z` (or without `z`: no gutter): 6-digit offsets, pairs, `>ascii<`.
fn od(bytes: &[u8], with_text: bool) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let pairs: String = chunk.iter().map(|b| format!(" {b:02x}")).collect();
        if with_text {
            out.push_str(&format!("{:06x}{pairs:<48}  >{}<\n", i * 16, gutter(chunk)));
        } else {
            out.push_str(&format!("{:06x}{pairs}\n", i * 16));
        }
    }
    out.push_str(&format!("{:06x}\n", bytes.len()));
    out
}

/// Wireshark's "Copy as Hex Dump": 4-digit offset, pairs, the gutter after three spaces.
fn wireshark(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let pairs: String = chunk.iter().map(|b| format!(" {b:02x}")).collect();
        let pad = " ".repeat((16 - chunk.len()) * 3);
        out.push_str(&format!(
            "{:04x}  {pairs}   {pad}{}\n",
            i * 16,
            gutter(chunk)
        ));
    }
    out
}

fn gutter(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7F).contains(&b) {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

#[test]
fn hexdump_input() {
    let plain = run(
        &["decode", "--spec", "cup-pos", "--json", "--reveal"],
        b_hex().as_bytes(),
    );
    assert_eq!(plain.code, 0, "{plain:?}");
    let b = unhex(&b_hex());
    let a = unhex(&a_hex());
    let a_plain = run(
        &["decode", "--spec", "iso87-ascii", "--json", "--reveal"],
        a_hex().as_bytes(),
    );
    for (name, dump_b, dump_a) in [
        ("hexdump -C", hexdump_c(&b), hexdump_c(&a)),
        ("xxd", xxd(&b), xxd(&a)),
        ("od -t x1z", od(&b, true), od(&a, true)),
        ("od -t x1", od(&b, false), od(&a, false)),
        ("wireshark", wireshark(&b), wireshark(&a)),
    ] {
        let r = run(
            &["decode", "--spec", "cup-pos", "--json", "--reveal"],
            dump_b.as_bytes(),
        );
        assert_eq!(r.stdout, plain.stdout, "{name}:\n{dump_b}\n{r:?}");
        // Message (a) is all ASCII digits and letters: its gutter looks like hex.
        let r = run(
            &["decode", "--spec", "iso87-ascii", "--json", "--reveal"],
            dump_a.as_bytes(),
        );
        assert_eq!(r.stdout, a_plain.stdout, "{name}:\n{dump_a}\n{r:?}");
    }

    // A bad digit inside a dump is reported at its character position in the text.
    let dump = xxd(&b);
    let at = dump.find("0200").expect("the MTI") + 1;
    let mut bad = dump.clone();
    bad.replace_range(at..at + 1, "g");
    let e = run(&["decode", "--spec", "cup-pos", "--json"], bad.as_bytes()).error();
    assert_eq!(
        (&e["kind"], &e["offset"]),
        (&json!("invalid_hex"), &json!(at))
    );
}

#[test]
fn a_leading_zero_group_is_not_taken_for_an_offset() {
    let example = std::fs::read_to_string(support::repo_path("examples/messages/cup-pos-0200.hex"))
        .expect("the example");
    let example = example.trim();
    let bare = run(
        &["decode", "--spec", "cup-pos", "--json"],
        example.as_bytes(),
    );
    assert_eq!(bare.code, 0, "{bare:?}");
    // "0000" before the message is two zero bytes of plain hex, not a hexdump offset: they
    // are read as the MTI, and the message after them no longer decodes...
    let text = format!("0000 {example}");
    let e = run(&["decode", "--spec", "cup-pos", "--json", &text], b"").error();
    assert_ne!(e["kind"], "invalid_hex", "{e}");
    // ...and skipping the two bytes gives it back, with them as the header.
    let r = run(
        &[
            "decode", "--spec", "cup-pos", "--json", "--skip", "2", &text,
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let (got, want) = (r.json(), bare.json());
    assert_eq!(got["header"], "0000");
    assert_eq!(got["fields"], want["fields"]);
}

#[test]
fn hex_input_is_read_up_to_1_mib() {
    const MIB: usize = 1 << 20;
    let b = b_hex();
    // Message (b), then blanks to exactly 1 MiB: read. (An argument cannot be that long on
    // Linux; the unit tests of `input` cover arguments.)
    let fits = format!("{b}{}", " ".repeat(MIB - b.len()));
    let r = run(&["decode", "--spec", "cup-pos", "--json"], fits.as_bytes());
    assert_eq!(r.code, 0, "{r:?}");
    // One byte more is refused, at the limit, however much more there is.
    let over = format!("{fits} ");
    for input in [over.clone(), "0".repeat(20 * MIB)] {
        let e = run(&["decode", "--spec", "cup-pos", "--json"], input.as_bytes()).error();
        assert_eq!(
            (&e["kind"], &e["offset"]),
            (&json!("invalid_hex"), &json!(MIB)),
            "{e}"
        );
        assert!(
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("runs past 1048576 bytes")),
            "{e}"
        );
    }
    // `mac` reads its input the same way.
    let r = run(
        &[
            "mac",
            "--algorithm",
            "x99",
            "--key",
            "0123456789ABCDEF",
            "--spec",
            "cup-pos",
        ],
        over.as_bytes(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("(invalid_hex)"), "{r:?}");
}

#[test]
fn a_star_repeating_to_its_own_offset_is_invalid_hex() {
    let text = b"00000000  02 00\n*\n00000000\n";
    let e = run(&["decode", "--spec", "cup-pos", "--json"], text).error();
    assert_eq!(
        (&e["kind"], &e["offset"]),
        (&json!("invalid_hex"), &json!(18)),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not follow")),
        "{e}"
    );
    // `mac` reads its input the same way.
    let r = run(
        &[
            "mac",
            "--algorithm",
            "x99",
            "--key",
            "0123456789ABCDEF",
            "--spec",
            "cup-pos",
        ],
        text,
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("(invalid_hex)"), "{r:?}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["decode"][..],
        &["decode", "--spec", "no-such-spec", "30"][..],
        &["decode", "--spec", "cup-pos", "--skip", "x", "30"][..],
        &["decode", "--spec", "cup-pos", "--frobnicate"][..],
        &["frobnicate"][..],
        &["lint"][..],
    ] {
        let r = run(args, b"");
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
        assert!(!r.stderr.is_empty(), "{args:?}: {r:?}");
    }
    let r = run(&["--help"], b"");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("decode"), "{r:?}");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [
        &["decode", "--spec", "iso87-ascii"][..],
        &["decode", "--spec", "iso87-ascii", "--json"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iso8583"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        // Close the reading end before the binary has read its input, let alone written.
        drop(child.stdout.take());
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(a_hex().as_bytes()).expect("input written");
        drop(stdin);
        let output = child.wait_with_output().expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// A few hundred pseudo-random inputs per built-in spec: random bytes, random text, and
/// mutations of the benchmark messages, some of them in frames whose length header may be
/// off, and random input read as a frame. Every run must end in status 0 or 1 with one JSON
/// value on stdout.
#[test]
fn random_input_never_breaks_the_contract() {
    const KINDS: [&str; 11] = [
        "invalid_hex",
        "invalid_mti",
        "invalid_bitmap",
        "unknown_field",
        "invalid_length",
        "invalid_content",
        "truncated",
        "trailing_data",
        "frame_length_mismatch",
        "frame_too_large",
        "io",
    ];
    const FRAMES: [&str; 3] = ["len2", "len2bcd", "len4ascii"];
    let samples = [unhex(&a_hex()), unhex(&b_hex())];
    let alphabet = b"0123456789abcdefABCDEF xX:|>*\n\t-g";
    let mut rng = Lcg(0x8583_2026);
    let (mut decoded, mut framed_decoded) = (0, 0);
    for spec in [
        "iso87-ascii",
        "iso87-binary",
        "iso93-ascii",
        "cup-pos",
        "intl-pos",
    ] {
        for round in 0..200 {
            let mut framing: Vec<&str> = Vec::new();
            let text: Vec<u8> = match round % 4 {
                // Random bytes, as hex.
                0 => {
                    let len = rng.below(80);
                    hex(&(0..len).map(|_| rng.byte()).collect::<Vec<_>>()).into_bytes()
                }
                // Random text of hex-ish characters (and the odd non-UTF-8 byte).
                1 => {
                    let len = rng.below(60);
                    (0..len)
                        .map(|_| {
                            if rng.below(50) == 0 {
                                0xFF
                            } else {
                                alphabet[rng.below(alphabet.len())]
                            }
                        })
                        .collect()
                }
                // A benchmark message with up to two bytes changed, perhaps cut short or extended,
                // every other time in a frame.
                _ => {
                    let mut bytes = samples[rng.below(2)].clone();
                    for _ in 0..rng.below(3) {
                        let at = rng.below(bytes.len());
                        bytes[at] = rng.byte();
                    }
                    match rng.below(3) {
                        0 => bytes.truncate(rng.below(bytes.len() + 1)),
                        1 => bytes.extend((0..rng.below(4)).map(|_| rng.byte())),
                        _ => {}
                    }
                    if round % 8 >= 6 {
                        bytes = frame_randomly(&mut rng, &mut framing, bytes);
                    }
                    hex(&bytes).into_bytes()
                }
            };
            // Random input read as a frame.
            if round % 4 < 2 && round % 3 == 0 {
                framing.extend(["--frame", FRAMES[rng.below(3)]]);
                if rng.below(2) == 0 {
                    framing.push("--tpdu");
                }
                if rng.below(2) == 0 {
                    framing.push("--cup-header");
                }
            }
            let mut args = vec!["decode", "--spec", spec, "--json"];
            args.extend_from_slice(&framing);
            let skip = rng.below(4).to_string();
            if round % 5 == 0 {
                args.extend(["--skip", &skip]);
            }
            if round % 7 == 0 {
                args.push("--strict");
            }
            let r = run(&args, &text);
            let label = format!("{args:?} {:?}", String::from_utf8_lossy(&text));
            let json = r.json();
            match r.code {
                0 => {
                    assert!(
                        json["mti"].is_string() && json["fields"].is_object(),
                        "{label}: {json}"
                    );
                    decoded += 1;
                    if !framing.is_empty() {
                        framed_decoded += 1;
                    }
                }
                1 => {
                    let e = r.error();
                    assert!(
                        KINDS.contains(&e["kind"].as_str().unwrap_or("")),
                        "{label}: {e}"
                    );
                }
                other => panic!("{label}: exit status {other}: {r:?}"),
            }
        }
    }
    assert!(
        decoded > 0 && framed_decoded > 0,
        "no random input decoded ({decoded}, {framed_decoded} framed): the mutations are too \
         harsh to be useful"
    );
}

/// `body` behind a TPDU, a UnionPay header or both (or neither), and a length header that is
/// usually right and sometimes off by one or two either way; the options that say so are
/// pushed onto `framing`.
fn frame_randomly(rng: &mut Lcg, framing: &mut Vec<&str>, body: Vec<u8>) -> Vec<u8> {
    let kind = ["len2", "len2bcd", "len4ascii"][rng.below(3)];
    framing.extend(["--frame", kind]);
    let mut parts = Vec::new();
    if rng.below(2) == 0 {
        parts.extend(unhex(TPDU));
        framing.push("--tpdu");
    }
    if rng.below(2) == 0 {
        parts.extend(unhex(support::CUP_HEADER_HEX));
        framing.push("--cup-header");
    }
    parts.extend(body);
    let announced = match rng.below(6) {
        0 => parts.len() + 1 + rng.below(2),
        1 => parts.len().saturating_sub(1 + rng.below(2)),
        _ => parts.len(),
    };
    if rng.below(8) == 0 {
        framing.extend(["--max-frame", "100"]);
    }
    let mut frame = support::length_header(kind, announced);
    frame.extend(parts);
    frame
}
