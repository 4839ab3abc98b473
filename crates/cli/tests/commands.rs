//! `iso8583 encode`, `specs` and `lint`.

mod support;

use serde_json::json;
use support::{a_hex, b_hex, repo_path, run};

const TPDU: &str = "6000030000";

/// `decode --json --reveal`, then `encode`: the input comes back, in upper case.
fn round_trip(spec: &str, input: &str, skip: &str) -> String {
    let decoded = run(
        &[
            "decode", "--spec", spec, "--skip", skip, "--json", "--reveal", input,
        ],
        b"",
    );
    assert_eq!(decoded.code, 0, "{decoded:?}");
    let encoded = run(&["encode", "--spec", spec], decoded.stdout.as_bytes());
    assert_eq!(encoded.code, 0, "{encoded:?}");
    assert!(encoded.stderr.is_empty(), "{encoded:?}");
    encoded.stdout
}

#[test]
fn encode_gives_back_what_decode_read() {
    assert_eq!(
        round_trip("iso87-ascii", &a_hex(), "0"),
        format!("{}\n", a_hex())
    );
    assert_eq!(
        round_trip("cup-pos", &b_hex(), "0"),
        format!("{}\n", b_hex())
    );
    let with_header = format!("{TPDU}{}", b_hex());
    assert_eq!(
        round_trip("cup-pos", &with_header, "5"),
        format!("{with_header}\n")
    );
    // Lower-case input comes back canonical.
    assert_eq!(
        round_trip("cup-pos", &b_hex().to_lowercase(), "0"),
        format!("{}\n", b_hex())
    );
}

#[test]
fn encode_refuses_masked_values() {
    let masked = run(&["decode", "--spec", "cup-pos", "--json", &b_hex()], b"");
    assert_eq!(masked.code, 0, "{masked:?}");
    let r = run(&["encode", "--spec", "cup-pos"], masked.stdout.as_bytes());
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty(), "nothing may be encoded: {r:?}");
    assert!(
        r.stderr.contains("mask character") && r.stderr.contains("masked_value"),
        "{r:?}"
    );

    let pan_only = r#"{"mti":"0200","header":"","fields":{"2":"411111******1111","3":"000000"}}"#;
    let r = run(
        &["encode", "--spec", "iso87-ascii", "--json"],
        pan_only.as_bytes(),
    );
    let e = r.error();
    assert_eq!(
        (&e["kind"], &e["field"]),
        (&json!("masked_value"), &json!("2"))
    );

    // A masked PIN block (class b) is refused too, rather than read as hex.
    let pin = r#"{"mti":"0200","fields":{"52":"****************"}}"#;
    let e = run(&["encode", "--spec", "cup-pos", "--json"], pin.as_bytes()).error();
    assert_eq!(
        (&e["kind"], &e["field"]),
        (&json!("masked_value"), &json!("52"))
    );
}

#[test]
fn encode_reports_bad_documents() {
    let cases = [
        ("not json", "invalid_json", None),
        (r#"{"mti":"02X0"}"#, "invalid_mti", None),
        (r#"{"mti":"0200","header":"60G0"}"#, "invalid_hex", None),
        (
            r#"{"mti":"0200","fields":{"3":"12345"}}"#,
            "invalid_length",
            Some("3"),
        ),
        (
            r#"{"mti":"0200","fields":{"3":"00000A"}}"#,
            "invalid_content",
            Some("3"),
        ),
        (
            r#"{"mti":"0200","fields":{"24":"001"}}"#,
            "unknown_field",
            Some("24"),
        ),
        (
            r#"{"mti":"0200","fields":{"1":"00"}}"#,
            "unknown_field",
            Some("1"),
        ),
        (
            r#"{"mti":"0200","fields":{"x":"00"}}"#,
            "invalid_json",
            None,
        ),
    ];
    for (text, kind, field) in cases {
        let r = run(&["encode", "--spec", "cup-pos", "--json"], text.as_bytes());
        let e = r.error_or_null_offset();
        assert_eq!(e["kind"], kind, "{text}: {e}");
        assert_eq!(e["field"].as_str(), field, "{text}: {e}");
        let r = run(&["encode", "--spec", "cup-pos"], text.as_bytes());
        assert_eq!(r.code, 1, "{text}: {r:?}");
        assert!(
            r.stdout.is_empty() && r.stderr.starts_with("error: "),
            "{text}: {r:?}"
        );
    }
    // Not UTF-8 at all.
    let r = run(&["encode", "--spec", "cup-pos", "--json"], b"\xff\xfe{");
    assert_eq!(r.error_or_null_offset()["kind"], "invalid_json");
}

#[test]
fn specs_lists_the_builtins() {
    let r = run(&["specs"], b"");
    assert_eq!(r.code, 0, "{r:?}");
    let names: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "iso87-ascii",
            "iso87-binary",
            "iso93-ascii",
            "cup-pos",
            "intl-pos"
        ]
    );
    let cup = r
        .stdout
        .lines()
        .find(|l| l.starts_with("cup-pos"))
        .expect("cup-pos");
    assert!(cup.contains("China UnionPay"), "{cup}");
}

#[test]
fn lint_a_good_spec() {
    let path = repo_path("specs/cup-pos.toml");
    let r = run(&["lint", path.to_str().expect("utf-8 path")], b"");
    assert_eq!(r.code, 0, "{r:?}");
    let line = r.stdout.trim_end();
    assert!(
        line.starts_with("ok: cup-pos (") && line.ends_with(" fields)"),
        "{line}"
    );
    assert_eq!(r.stdout.lines().count(), 1);
}

/// A fresh directory under the system's temporary one, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("iso8583-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn write(&self, file: &str, text: &str) -> String {
        let path = self.0.join(file);
        std::fs::write(&path, text).expect("file written");
        path.to_str().expect("utf-8 path").to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const HEAD: &str = "[spec]\nname = \"bad\"\nmti = \"ascii\"\nbitmap = \"hex\"\n";

#[test]
fn lint_a_bad_spec_reports_every_problem() {
    let dir = TempDir::new("lint");
    let bad = dir.write(
        "bad.toml",
        &format!(
            "{HEAD}
[[field]]
number = 2
name = \"PAN\"
class = \"n\"
max = 190
prefix = 2

[[field]]
number = 3
name = \"text in bcd\"
class = \"ans\"
length = 3
encoding = \"bcd\"

[[field]]
number = 4
name = \"again\"
class = \"q\"
length = 12
"
        ),
    );
    let r = run(&["lint", &bad], b"");
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{r:?}");
    assert!(
        lines[0].starts_with("field 2: ") && lines[0].contains("at most 99"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("field 3: ") && lines[1].contains("bcd"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("field 4: ") && lines[2].contains("class"),
        "{lines:?}"
    );

    // A key the format does not know is a syntax error, placed in its field.
    let typo = dir.write(
        "typo.toml",
        &format!("{HEAD}\n[[field]]\nnumber = 7\nname = \"x\"\nclass = \"n\"\nsize = 3\n"),
    );
    let r = run(&["lint", &typo], b"");
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    assert!(r.stdout.starts_with("field 7: line 10"), "{r:?}");
    assert!(r.stdout.contains("size"), "{r:?}");

    // A file that is not there.
    let r = run(&["lint", &format!("{}/missing.toml", dir.0.display())], b"");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("error: cannot read"), "{r:?}");

    // A bad file given to --spec is a usage error.
    let r = run(&["decode", "--spec", &bad, "30"], b"");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("field 2"), "{r:?}");
}

#[test]
fn spec_files_work_like_builtins() {
    let dir = TempDir::new("spec-file");
    let text = std::fs::read_to_string(repo_path("specs/cup-pos.toml")).expect("cup-pos.toml");
    let path = dir.write("mine.toml", &text);
    let by_path = run(&["decode", "--spec", &path, "--json", &b_hex()], b"");
    let by_name = run(&["decode", "--spec", "cup-pos", "--json", &b_hex()], b"");
    assert_eq!(by_path.code, 0, "{by_path:?}");
    assert_eq!(by_path.stdout, by_name.stdout);
}

const MIB: usize = 1 << 20;

#[test]
fn spec_files_are_read_up_to_1_mib() {
    let dir = TempDir::new("spec-cap");
    let text = std::fs::read_to_string(repo_path("specs/cup-pos.toml")).expect("cup-pos.toml");
    // A valid spec padded with a comment to exactly 1 MiB is read; one byte more is refused.
    let padded = |size: usize| format!("{text}\n#{}\n", "x".repeat(size - text.len() - 3));
    let fits = dir.write("fits.toml", &padded(MIB));
    let over = dir.write("over.toml", &padded(MIB + 1));
    assert_eq!(std::fs::metadata(&fits).expect("fits").len(), MIB as u64);
    let r = run(&["decode", "--spec", &fits, "--json", &b_hex()], b"");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(run(&["lint", &fits], b"").stdout.starts_with("ok: "));
    for path in [over.as_str(), "/dev/zero"] {
        // An endless file ends too: at most one byte past the limit is read.
        let r = run(&["decode", "--spec", path, "--json", &b_hex()], b"");
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("runs past 1048576 bytes"), "{r:?}");
        let r = run(&["lint", path], b"");
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains("runs past 1048576 bytes"), "{r:?}");
    }
}

#[test]
fn encode_reads_up_to_1_mib_of_json() {
    let json = r#"{"mti":"0800","header":"","fields":{"70":"001"}}"#;
    let fits = format!("{json}{}", " ".repeat(MIB - json.len()));
    let r = run(
        &["encode", "--spec", "iso87-ascii", "--json"],
        fits.as_bytes(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let over = format!("{fits} ");
    let e = run(
        &["encode", "--spec", "iso87-ascii", "--json"],
        over.as_bytes(),
    )
    .error();
    assert_eq!(
        (&e["kind"], &e["offset"]),
        (&json!("invalid_json"), &json!(MIB)),
        "{e}"
    );
}

#[test]
fn encode_refuses_a_message_over_65535_bytes() {
    let dir = TempDir::new("big-spec");
    let spec = dir.write(
        "big.toml",
        &format!(
            "{HEAD}
[[field]]
number = 48
name = \"huge\"
class = \"ans\"
max = 99999
prefix = 5
"
        ),
    );
    let json = |n: usize| {
        format!(
            r#"{{"mti":"0200","header":"","fields":{{"48":"{}"}}}}"#,
            "A".repeat(n)
        )
    };
    // MTI (4), bitmap (16), prefix (5) and 65,510 bytes: 65,535, the most the decoder reads.
    let r = run(&["encode", "--spec", &spec], json(65_510).as_bytes());
    assert_eq!(
        (r.code, r.stdout.len()),
        (0, 2 * 65_535 + 1),
        "{}",
        r.stderr
    );
    let decoded = run(&["decode", "--spec", &spec, "--json"], r.stdout.as_bytes());
    assert_eq!(decoded.code, 0, "{decoded:?}");
    // One byte more would be a message the decoder refuses: nothing is written.
    let r = run(&["encode", "--spec", &spec], json(65_511).as_bytes());
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(
        r.stderr.contains("65536") && r.stderr.trim_end().ends_with("(invalid_length)"),
        "{r:?}"
    );
    let e = run(
        &["encode", "--spec", &spec, "--json"],
        json(70_000).as_bytes(),
    )
    .error_or_null_offset();
    assert_eq!(e["kind"], "invalid_length", "{e}");
}
