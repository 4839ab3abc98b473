//! `iso8583 decode` on whole frames: `--frame`, `--tpdu`, `--cup-header` and `--skip` peeled
//! in wire order, the frame errors, and offsets that count from the first byte of the frame.

mod support;

use serde_json::{json, Value as Json};
use support::{b_hex, framed, hex, length_header, run, unhex, CUP_HEADER_HEX, TPDU_HEX};

/// Message (b) behind a TPDU and the UnionPay header.
fn unionpay_body() -> Vec<u8> {
    unhex(&format!("{TPDU_HEX}{CUP_HEADER_HEX}{}", b_hex()))
}

/// `decode --json --reveal` of bare message (b): what every framing must give back.
fn bare_b() -> Json {
    let r = run(
        &[
            "decode",
            "--spec",
            "cup-pos",
            "--json",
            "--reveal",
            &b_hex(),
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{r:?}");
    r.json()
}

fn decode_json(options: &[&str], input: &[u8]) -> support::Run {
    let mut args = vec!["decode", "--spec", "cup-pos", "--json", "--reveal"];
    args.extend_from_slice(options);
    run(&args, hex(input).as_bytes())
}

#[test]
fn a_unionpay_frame_decodes_as_it_came_off_the_wire() {
    let frame = framed("len2", &unionpay_body());
    let b_len = b_hex().len() / 2;
    assert_eq!(frame[..2], u16::try_from(11 + b_len).unwrap().to_be_bytes());

    let r = decode_json(&["--frame", "len2", "--tpdu", "--cup-header"], &frame);
    assert_eq!(r.code, 0, "{r:?}");
    let got = r.json();
    assert_eq!(got["header"], format!("{TPDU_HEX}{CUP_HEADER_HEX}"));
    assert_eq!(got["mti"], "0200");
    assert_eq!(got["fields"], bare_b()["fields"]);
    // Keys keep their order: mti, header, then fields.
    assert!(
        r.stdout
            .starts_with(r#"{"mti":"0200","header":"6000030000613100310001","fields":{"#),
        "{}",
        r.stdout
    );

    // The readable form spells out each part.
    let r = run(
        &[
            "decode",
            "--spec",
            "cup-pos",
            "--frame",
            "len2",
            "--tpdu",
            "--cup-header",
        ],
        hex(&frame).as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[..5],
        [
            format!("length {}  (2-byte binary length header)", 11 + b_len).as_str(),
            "header 6000030000613100310001",
            "  TPDU 6000030000: id 60 (transaction), destination NII 003, source NII 000",
            "  app header 613100310001: application type 61 (chip), spec version 31, \
             terminal status 0 (normal), processing requirement 0 (none), sub-version 310001",
            "MTI 0200  (cup-pos)",
        ]
    );
    assert!(r.stdout.contains("[621234******1234]"), "{}", r.stdout);
}

#[test]
fn bcd_and_ascii_length_headers() {
    let b = unhex(&b_hex());
    let with_tpdu = unhex(&format!("{TPDU_HEX}{}", b_hex()));
    for (kind, options, body, header) in [
        ("len4ascii", &["--frame", "len4ascii"][..], &b, ""),
        ("len2bcd", &["--frame", "len2bcd"][..], &b, ""),
        (
            "len4ascii",
            &["--frame", "len4ascii", "--tpdu"][..],
            &with_tpdu,
            TPDU_HEX,
        ),
        (
            "len2bcd",
            &["--frame", "len2bcd", "--tpdu"][..],
            &with_tpdu,
            TPDU_HEX,
        ),
    ] {
        let frame = framed(kind, body);
        let r = decode_json(options, &frame);
        assert_eq!(r.code, 0, "{options:?}: {r:?}");
        let got = r.json();
        assert_eq!(got["header"], header, "{options:?}");
        assert_eq!(got["fields"], bare_b()["fields"], "{options:?}");
    }
    // What the headers look like: the 161 bytes of (b) as "0161" in ASCII and 01 61 in BCD.
    assert_eq!(b.len(), 161);
    assert_eq!(framed("len4ascii", &b)[..4], *b"0161");
    assert_eq!(framed("len2bcd", &b)[..2], [0x01, 0x61]);

    // `--frame none` is the default: nothing is peeled.
    let r = decode_json(&["--frame", "none"], &b);
    assert_eq!(r.json(), bare_b());
}

#[test]
fn skipped_bytes_come_after_the_unionpay_header() {
    let mut body = unhex(&format!("{TPDU_HEX}{CUP_HEADER_HEX}ABCD"));
    body.extend(unhex(&b_hex()));
    let frame = framed("len2", &body);
    let r = decode_json(
        &["--frame", "len2", "--tpdu", "--cup-header", "--skip", "2"],
        &frame,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.json()["header"],
        format!("{TPDU_HEX}{CUP_HEADER_HEX}ABCD")
    );

    let r = run(
        &[
            "decode",
            "--spec",
            "cup-pos",
            "--frame",
            "len2",
            "--tpdu",
            "--cup-header",
            "--skip",
            "2",
            &hex(&frame),
        ],
        b"",
    );
    assert!(r.stdout.contains("\n  skipped ABCD\n"), "{}", r.stdout);
}

/// One bad frame and the error it must give.
struct Case {
    label: &'static str,
    options: Vec<&'static str>,
    input: Vec<u8>,
    kind: &'static str,
    field: Option<&'static str>,
    offset: usize,
}

#[test]
fn frame_errors() {
    let body = unionpay_body();
    let unionpay = vec!["--frame", "len2", "--tpdu", "--cup-header"];
    let b_len = b_hex().len() / 2;

    let mut short = length_header("len2", body.len() + 1);
    short.extend_from_slice(&body);
    let mut long = framed("len2", &body);
    long.extend_from_slice(&[0x00, 0x00]);
    let mut ascii_long = framed("len4ascii", &body[..20]);
    ascii_long.push(0x30);
    let mut too_large = vec![0xFF, 0xFF];
    too_large.extend_from_slice(&body);
    let mut garbage = b"01x6".to_vec();
    garbage.extend_from_slice(&body);
    // (b) cut short by one byte, in a frame whose length agrees: field 64 is truncated, and
    // its offset counts the length header, TPDU and application header.
    let cut = framed("len2", &body[..body.len() - 1]);

    let cases = [
        Case {
            label: "one byte fewer than announced",
            options: unionpay.clone(),
            input: short,
            kind: "frame_length_mismatch",
            field: None,
            offset: 0,
        },
        Case {
            label: "two bytes more than announced",
            options: unionpay.clone(),
            input: long,
            kind: "frame_length_mismatch",
            field: None,
            offset: 2 + body.len(),
        },
        Case {
            label: "an ASCII header and one byte more",
            options: vec!["--frame", "len4ascii"],
            input: ascii_long,
            kind: "frame_length_mismatch",
            field: None,
            offset: 24,
        },
        Case {
            label: "65535 bytes announced, over the default maximum",
            options: unionpay.clone(),
            input: too_large,
            kind: "frame_too_large",
            field: None,
            offset: 0,
        },
        Case {
            label: "a whole frame over --max-frame",
            options: [&unionpay[..], &["--max-frame", "100"]].concat(),
            input: framed("len2", &body),
            kind: "frame_too_large",
            field: None,
            offset: 0,
        },
        Case {
            label: "a length header that is not a number",
            options: vec!["--frame", "len4ascii", "--tpdu", "--cup-header"],
            input: garbage,
            kind: "invalid_length",
            field: None,
            offset: 0,
        },
        Case {
            label: "half a length header",
            options: unionpay.clone(),
            input: vec![0x00],
            kind: "truncated",
            field: None,
            offset: 0,
        },
        Case {
            label: "a frame too short for its TPDU",
            options: unionpay.clone(),
            input: framed("len2", &body[..3]),
            kind: "truncated",
            field: None,
            offset: 2,
        },
        Case {
            label: "a frame too short for its application header",
            options: unionpay.clone(),
            input: framed("len2", &body[..8]),
            kind: "truncated",
            field: None,
            offset: 7,
        },
        Case {
            label: "a message cut short inside a frame",
            options: unionpay.clone(),
            input: cut,
            kind: "truncated",
            field: Some("64"),
            offset: 2 + 11 + b_len - 8,
        },
        Case {
            label: "a bad MTI after the parts",
            options: unionpay.clone(),
            input: framed("len2", &unhex(&format!("{TPDU_HEX}{CUP_HEADER_HEX}0A00"))),
            kind: "invalid_mti",
            field: None,
            offset: 13,
        },
    ];
    for case in &cases {
        let label = case.label;
        let r = decode_json(&case.options, &case.input);
        let e = r.error();
        assert_eq!(e["kind"], case.kind, "{label}: {e}");
        assert_eq!(e["field"].as_str(), case.field, "{label}: {e}");
        assert_eq!(e["offset"], case.offset, "{label}: {e}");
        assert!(r.stderr.is_empty(), "{label}: {}", r.stderr);

        // Without --json: one line on stderr naming the kind, nothing on stdout.
        let mut args = vec!["decode", "--spec", "cup-pos"];
        args.extend_from_slice(&case.options);
        let r = run(&args, hex(&case.input).as_bytes());
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
fn frame_errors_say_what_disagrees() {
    let body = unionpay_body();
    let mut short = length_header("len2", body.len() + 1);
    short.extend_from_slice(&body);
    let e = decode_json(&["--frame", "len2"], &short).error();
    assert_eq!(
        e["message"],
        format!(
            "the length header announces {} bytes but only {} follow it",
            body.len() + 1,
            body.len()
        )
    );
    let e = decode_json(&["--frame", "len2", "--max-frame", "64"], &short).error();
    assert_eq!(
        e["message"],
        format!(
            "the length header announces a frame of {} bytes, over the maximum of 64 \
             (--max-frame)",
            body.len() + 1
        )
    );
    assert_eq!(e["offset"], json!(0));
}

#[test]
fn bad_framing_options_are_usage_errors() {
    for args in [
        &["decode", "--spec", "cup-pos", "--frame", "len3", "30"][..],
        &["decode", "--spec", "cup-pos", "--max-frame", "-1", "30"][..],
    ] {
        let r = run(args, b"");
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
    }
}
