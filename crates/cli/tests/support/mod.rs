//! Running the real `iso8583` binary, and the benchmark messages it is tested on.

#![allow(dead_code)] // each test file uses its own share of these helpers

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value as Json;

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Stdout as the one JSON value it must hold, on one line.
    pub(crate) fn json(&self) -> Json {
        let text = self.stdout.strip_suffix('\n').unwrap_or_else(|| {
            panic!("stdout does not end with a newline: {self:?}");
        });
        assert!(
            !text.contains('\n'),
            "stdout is more than one line: {self:?}"
        );
        serde_json::from_str(text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// The error object of a `--json` failure of `decode`, checked for shape and exit status:
    /// its offset is always a number.
    pub(crate) fn error(&self) -> Json {
        let error = self.error_or_null_offset();
        assert!(error["offset"].is_u64(), "{error}");
        error
    }

    /// The error object of a `--json` failure, whose offset may be null (`encode` errors
    /// about the document rather than a value).
    pub(crate) fn error_or_null_offset(&self) -> Json {
        assert_eq!(self.code, 1, "{self:?}");
        let json = self.json();
        let object = json.as_object().expect("an object");
        assert_eq!(object.len(), 1, "{json}");
        let error = json["error"]
            .as_object()
            .unwrap_or_else(|| panic!("no error: {json}"));
        let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["field", "kind", "message", "offset"], "{json}");
        assert!(
            error["kind"].is_string() && error["message"].is_string(),
            "{json}"
        );
        assert!(
            error["field"].is_string() || error["field"].is_null(),
            "{json}"
        );
        assert!(
            error["offset"].is_u64() || error["offset"].is_null(),
            "{json}"
        );
        json["error"].clone()
    }
}

/// Runs the binary with `args`, writing `stdin` to it.
pub(crate) fn run(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iso8583"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    // A writer thread, so a child that answers before reading everything cannot deadlock us;
    // the child may also exit without reading, so a failed write is fine.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("the binary runs");
    writer.join().expect("the writer thread");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "the binary panicked: {run:?}"
    );
    assert_ne!(run.code, 101, "{run:?}");
    run
}

/// A path under the repository root.
pub(crate) fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// A file of the codec's test data, as text.
pub(crate) fn data(name: &str) -> String {
    let path = repo_path("crates/codec/tests/data").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Benchmark message (a), for `iso87-ascii`, as hex without whitespace.
pub(crate) fn a_hex() -> String {
    data("a.hex").split_whitespace().collect()
}

/// Benchmark message (b), for `cup-pos`, as hex without whitespace.
pub(crate) fn b_hex() -> String {
    data("b.hex").split_whitespace().collect()
}

/// The logical field values of message `which` ("a" or "b") from `fields.json`.
pub(crate) fn expected_fields(which: &str) -> serde_json::Map<String, Json> {
    let all: Json = serde_json::from_str(&data("fields.json")).expect("fields.json is JSON");
    let emv = all["emv_tlv_hex"]
        .as_str()
        .expect("emv_tlv_hex")
        .to_string();
    let mut fields = all[which]["fields"].as_object().expect("fields").clone();
    for value in fields.values_mut() {
        if value == "@emv_tlv_hex" {
            *value = Json::String(emv.clone());
        }
    }
    fields
}

/// Bytes of hex text.
pub(crate) fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Upper-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A small deterministic generator (Knuth's MMIX LCG), for reproducible pseudo-random input.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A number below `n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn byte(&mut self) -> u8 {
        (self.next_u64() & 0xFF) as u8
    }
}

/// The TPDU and UnionPay application header of the framing tests: destination NII 003,
/// source NII 000; chip application, spec version 31, normal status, no processing
/// requirement, sub-version 310001.
pub(crate) const TPDU_HEX: &str = "6000030000";
pub(crate) const CUP_HEADER_HEX: &str = "613100310001";

/// `body` behind a length header of `kind` (`len2`, `len2bcd` or `len4ascii`) announcing
/// `announced` bytes, written by hand here so that the tests do not share the code under test.
pub(crate) fn length_header(kind: &str, announced: usize) -> Vec<u8> {
    match kind {
        "len2" => u16::try_from(announced)
            .expect("fits")
            .to_be_bytes()
            .to_vec(),
        "len2bcd" => {
            assert!(announced <= 9999, "fits");
            let digits = format!("{announced:04}");
            unhex(&digits)
        }
        "len4ascii" => format!("{announced:04}").into_bytes(),
        other => panic!("no length header {other}"),
    }
}

/// A whole frame: a length header of `kind` counting everything after it, then `body`.
pub(crate) fn framed(kind: &str, body: &[u8]) -> Vec<u8> {
    let mut frame = length_header(kind, body.len());
    frame.extend_from_slice(body);
    frame
}
