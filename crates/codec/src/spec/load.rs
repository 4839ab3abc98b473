//! Loading spec files and linting them.
//!
//! The TOML layout is documented in `specs/README.md`. Parsing is in two steps: serde reads the
//! file into plain records, then [`lint`] checks every field and collects every problem, each
//! with its field number, so a spec author sees all mistakes at once rather than one per run.

use std::fmt;

use serde::Deserialize;

use super::{
    BitmapEncoding, Charset, CodePage, ContentClass, DataEncoding, FieldSpec, LengthKind,
    MtiEncoding, Pad, Prefix, PrefixCounts, PrefixEncoding, Sensitivity, Spec, MAX_FIELD,
};

/// A spec file that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file is not valid TOML or does not have the expected keys.
    #[error("spec is not valid TOML for the spec format: {0}")]
    Syntax(#[from] toml::de::Error),
    /// The file parsed but the lint found problems; every one is listed.
    #[error("spec {name:?} has {} problem(s):{}", problems.len(), ProblemList(problems))]
    Lint {
        /// Name of the spec as the file gives it.
        name: String,
        /// Every problem found, in field order.
        problems: Vec<SpecProblem>,
    },
}

/// One problem found by the lint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    /// The field the problem is about, or `None` for the `[spec]` table.
    pub field: Option<u16>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(n) => write!(f, "field {n}: {}", self.message),
            None => write!(f, "spec: {}", self.message),
        }
    }
}

struct ProblemList<'a>(&'a [SpecProblem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.0 {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl Spec {
    /// Loads a spec from the text of a TOML spec file, linting it.
    ///
    /// ```
    /// let spec = iso8583_codec::Spec::from_toml_str(r#"
    ///     [spec]
    ///     name = "tiny"
    ///     description = "two fields"
    ///     sources = ["example"]
    ///     mti = "ascii"
    ///     bitmap = "hex"
    ///
    ///     [[field]]
    ///     number = 2
    ///     name = "PAN"
    ///     class = "n"
    ///     max = 19
    ///     prefix = 2
    ///     sensitive = "pan"
    ///
    ///     [[field]]
    ///     number = 3
    ///     name = "Processing code"
    ///     class = "n"
    ///     length = 6
    /// "#)?;
    /// assert_eq!(spec.field(3).map(|f| f.max_units()), Some(6));
    /// # Ok::<(), iso8583_codec::SpecError>(())
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Spec, SpecError> {
        let raw: RawFile = toml::from_str(text)?;
        lint(raw)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    spec: RawHeader,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    field: Vec<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sources: Vec<String>,
    mti: String,
    bitmap: String,
    #[serde(default)]
    tertiary_bitmap: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    numeric: Option<String>,
    text: Option<String>,
    binary: Option<String>,
    prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    number: i64,
    name: String,
    class: String,
    length: Option<i64>,
    max: Option<i64>,
    prefix: Option<i64>,
    prefix_encoding: Option<String>,
    prefix_counts: Option<String>,
    encoding: Option<String>,
    pad: Option<String>,
    filler: Option<i64>,
    sensitive: Option<String>,
}

/// Collects problems for one field; `None` results mean "reported, carry on".
struct Problems {
    list: Vec<SpecProblem>,
}

impl Problems {
    fn add(&mut self, field: Option<u16>, message: impl Into<String>) {
        self.list.push(SpecProblem {
            field,
            message: message.into(),
        });
    }
}

fn lint(raw: RawFile) -> Result<Spec, SpecError> {
    let mut p = Problems { list: Vec::new() };
    let header = &raw.spec;

    let mti = match header.mti.as_str() {
        "ascii" => Some(MtiEncoding::Ascii),
        "ebcdic" => Some(MtiEncoding::Ebcdic),
        "bcd" => Some(MtiEncoding::Bcd),
        other => {
            p.add(None, format!("mti {other:?} is not ascii, ebcdic or bcd"));
            None
        }
    };
    let bitmap = match header.bitmap.as_str() {
        "binary" => Some(BitmapEncoding::Binary),
        "hex" => Some(BitmapEncoding::Hex(Charset::Ascii)),
        "hex-ebcdic" => Some(BitmapEncoding::Hex(Charset::Ebcdic(CodePage::Cp037))),
        other => {
            p.add(
                None,
                format!("bitmap {other:?} is not binary, hex or hex-ebcdic"),
            );
            None
        }
    };
    if header.name.is_empty() {
        p.add(None, "name is empty");
    }

    let mut fields: Vec<Option<FieldSpec>> = vec![None; usize::from(MAX_FIELD) + 1];
    let mut seen = [false; MAX_FIELD as usize + 1];
    for rf in &raw.field {
        let Some(number) = check_number(&mut p, rf.number, header.tertiary_bitmap) else {
            continue;
        };
        let slot = usize::from(number);
        if seen.get(slot).copied().unwrap_or(false) {
            p.add(Some(number), "defined more than once");
            continue;
        }
        if let Some(s) = seen.get_mut(slot) {
            *s = true;
        }
        if let Some(spec) = lint_field(&mut p, number, rf, &raw.defaults) {
            if let Some(entry) = fields.get_mut(slot) {
                *entry = Some(spec);
            }
        }
    }

    p.list.sort_by_key(|problem| problem.field);
    match (mti, bitmap, p.list.is_empty()) {
        (Some(mti), Some(bitmap), true) => {
            let mut spec = Spec {
                name: raw.spec.name,
                description: raw.spec.description,
                sources: raw.spec.sources,
                mti,
                bitmap,
                tertiary: raw.spec.tertiary_bitmap,
                fields,
                plans: Vec::new(),
                fast: Vec::new(),
                layouts: crate::fast::Layouts::new(),
            };
            spec.plans = super::plan::plans(&spec);
            spec.fast = crate::fast::table(&spec.plans);
            Ok(spec)
        }
        _ => Err(SpecError::Lint {
            name: raw.spec.name,
            problems: p.list,
        }),
    }
}

fn check_number(p: &mut Problems, number: i64, tertiary: bool) -> Option<u16> {
    let top = if tertiary { MAX_FIELD } else { 128 };
    let Ok(n) = u16::try_from(number) else {
        p.add(
            None,
            format!("field number {number} is out of range 2-{top}"),
        );
        return None;
    };
    if n < 2 || n > top {
        p.add(Some(n), format!("field number out of range 2-{top}"));
        return None;
    }
    if n == 65 && tertiary {
        p.add(
            Some(n),
            "field 65 is the tertiary bitmap in this spec and cannot be defined",
        );
        return None;
    }
    Some(n)
}

fn lint_field(p: &mut Problems, n: u16, rf: &RawField, d: &RawDefaults) -> Option<FieldSpec> {
    let before = p.list.len();
    let class = parse_class(p, n, &rf.class);
    let encoding = class.and_then(|c| parse_encoding(p, n, c, rf, d));
    let length = class.and_then(|c| encoding.and_then(|e| parse_length(p, n, c, e, rf, d)));
    let sensitivity = parse_sensitivity(p, n, rf.sensitive.as_deref());
    // PAN and track masking keep some characters in clear; raw bytes have no characters to
    // keep, and showing them as text could reveal the very digits masking must hide.
    if let (Some(ContentClass::B), Some(Sensitivity::Pan | Sensitivity::Track)) =
        (class, sensitivity)
    {
        p.add(
            Some(n),
            "pan and track masking need characters: class b cannot be pan or track",
        );
    }
    if rf.name.trim().is_empty() {
        p.add(Some(n), "name is empty");
    }
    if p.list.len() != before {
        return None;
    }
    Some(FieldSpec {
        number: n,
        name: rf.name.clone(),
        class: class?,
        length: length?,
        encoding: encoding?,
        sensitivity: sensitivity?,
    })
}

fn parse_class(p: &mut Problems, n: u16, text: &str) -> Option<ContentClass> {
    let class = match text {
        "n" => ContentClass::N,
        "a" => ContentClass::A,
        "an" => ContentClass::An,
        "ans" => ContentClass::Ans,
        "b" => ContentClass::B,
        "z" => ContentClass::Z,
        "x+n" => ContentClass::XN,
        other => {
            p.add(
                Some(n),
                format!("class {other:?} is not one of n, a, an, ans, b, z, x+n"),
            );
            return None;
        }
    };
    Some(class)
}

fn parse_encoding(
    p: &mut Problems,
    n: u16,
    class: ContentClass,
    rf: &RawField,
    d: &RawDefaults,
) -> Option<DataEncoding> {
    let default = match class {
        ContentClass::B => d.binary.as_deref().unwrap_or("binary"),
        c if c.is_text() => d.text.as_deref().unwrap_or("ascii"),
        _ => d.numeric.as_deref().unwrap_or("ascii"),
    };
    let name = rf.encoding.as_deref().unwrap_or(default);
    let pad_default = if rf.length.is_some() {
        Pad::Left
    } else {
        Pad::Right
    };
    let encoding = match name {
        "ascii" => DataEncoding::Text(Charset::Ascii),
        "ebcdic" | "ebcdic-037" => DataEncoding::Text(Charset::Ebcdic(CodePage::Cp037)),
        "ebcdic-1047" => DataEncoding::Text(Charset::Ebcdic(CodePage::Cp1047)),
        "binary" => DataEncoding::Binary,
        "hex" => DataEncoding::Hex(Charset::Ascii),
        "hex-ebcdic" => DataEncoding::Hex(Charset::Ebcdic(CodePage::Cp037)),
        "bcd" => {
            let pad = match rf.pad.as_deref() {
                None => pad_default,
                Some("left") => Pad::Left,
                Some("right") => Pad::Right,
                Some(other) => {
                    p.add(Some(n), format!("pad {other:?} is not left or right"));
                    return None;
                }
            };
            let filler = match rf.filler {
                None => 0,
                Some(f @ 0..=15) => f as u8,
                Some(other) => {
                    p.add(Some(n), format!("filler {other} is not a nibble (0-15)"));
                    return None;
                }
            };
            DataEncoding::Bcd { pad, filler }
        }
        other => {
            p.add(Some(n), format!("encoding {other:?} is unknown"));
            return None;
        }
    };
    if !matches!(encoding, DataEncoding::Bcd { .. }) && (rf.pad.is_some() || rf.filler.is_some()) {
        p.add(
            Some(n),
            format!("pad and filler apply to bcd only, not {name}"),
        );
    }
    let allowed = match class {
        ContentClass::B => matches!(encoding, DataEncoding::Binary | DataEncoding::Hex(_)),
        c if c.is_text() => matches!(encoding, DataEncoding::Text(_)),
        _ => matches!(encoding, DataEncoding::Text(_) | DataEncoding::Bcd { .. }),
    };
    if !allowed {
        p.add(
            Some(n),
            format!("class {class} cannot be written as {name}"),
        );
        return None;
    }
    Some(encoding)
}

fn parse_length(
    p: &mut Problems,
    n: u16,
    class: ContentClass,
    encoding: DataEncoding,
    rf: &RawField,
    d: &RawDefaults,
) -> Option<LengthKind> {
    let positive = |p: &mut Problems, key: &str, v: i64| match u32::try_from(v) {
        Ok(v) if (1..=999_999).contains(&v) => Some(v),
        _ => {
            p.add(Some(n), format!("{key} {v} is not between 1 and 999999"));
            None
        }
    };
    match (rf.length, rf.max) {
        (Some(len), None) => {
            if rf.prefix.is_some() || rf.prefix_encoding.is_some() || rf.prefix_counts.is_some() {
                p.add(Some(n), "a fixed-length field has no prefix");
                return None;
            }
            let len = positive(p, "length", len)?;
            let field = FieldSpec {
                number: n,
                name: String::new(),
                class,
                length: LengthKind::Fixed(len),
                encoding,
                sensitivity: Sensitivity::None,
            };
            // A message is at most 65,535 bytes (see `Error::MessageTooLarge`).
            if field.wire_len(len as usize) > usize::from(u16::MAX) {
                p.add(
                    Some(n),
                    "a field of this fixed length can never fit in a message",
                );
                return None;
            }
            Some(LengthKind::Fixed(len))
        }
        (None, Some(max)) => {
            let max = positive(p, "max", max)?;
            let prefix = parse_prefix(p, n, class, encoding, rf, d)?;
            let field = FieldSpec {
                number: n,
                name: String::new(),
                class,
                length: LengthKind::Fixed(max),
                encoding,
                sensitivity: Sensitivity::None,
            };
            let counted = match prefix.counts {
                PrefixCounts::Units => max as u64,
                PrefixCounts::Bytes => field.wire_len(max as usize) as u64,
            };
            if counted > prefix.capacity() {
                p.add(
                    Some(n),
                    format!(
                        "a {}-digit {:?} prefix holds at most {}, but the maximum needs {counted}",
                        prefix.digits,
                        prefix.encoding,
                        prefix.capacity()
                    ),
                );
                return None;
            }
            Some(LengthKind::Variable { prefix, max })
        }
        (Some(_), Some(_)) => {
            p.add(
                Some(n),
                "give either length (fixed) or max (variable), not both",
            );
            None
        }
        (None, None) => {
            p.add(
                Some(n),
                "needs length (fixed) or max with prefix (variable)",
            );
            None
        }
    }
}

fn parse_prefix(
    p: &mut Problems,
    n: u16,
    class: ContentClass,
    encoding: DataEncoding,
    rf: &RawField,
    d: &RawDefaults,
) -> Option<Prefix> {
    let digits = match rf.prefix {
        Some(v @ 1..=6) => v as u8,
        Some(v) => {
            p.add(
                Some(n),
                format!("prefix of {v} digits is not between 1 and 6"),
            );
            return None;
        }
        None => {
            p.add(
                Some(n),
                "a variable field (max) needs prefix = number of length digits",
            );
            return None;
        }
    };
    let enc_name = rf
        .prefix_encoding
        .as_deref()
        .or(d.prefix.as_deref())
        .unwrap_or("ascii");
    let prefix_encoding = match enc_name {
        "ascii" => PrefixEncoding::Ascii,
        "ebcdic" => PrefixEncoding::Ebcdic,
        "bcd" => PrefixEncoding::Bcd,
        "binary" => PrefixEncoding::Binary,
        other => {
            p.add(Some(n), format!("prefix_encoding {other:?} is unknown"));
            return None;
        }
    };
    let counts = match rf.prefix_counts.as_deref().unwrap_or("units") {
        "units" => PrefixCounts::Units,
        "digits" if class.is_numeric() => PrefixCounts::Units,
        "characters" if class.is_text() => PrefixCounts::Units,
        "bytes" => PrefixCounts::Bytes,
        other => {
            p.add(
                Some(n),
                format!("prefix_counts {other:?} does not fit class {class}"),
            );
            return None;
        }
    };
    if counts == PrefixCounts::Bytes && class == ContentClass::XN {
        if let DataEncoding::Bcd { .. } = encoding {
            p.add(
                Some(n),
                "an x+n field in bcd cannot count bytes (the digit count is lost)",
            );
            return None;
        }
    }
    Some(Prefix {
        digits,
        encoding: prefix_encoding,
        counts,
    })
}

fn parse_sensitivity(p: &mut Problems, n: u16, text: Option<&str>) -> Option<Sensitivity> {
    let s = match text {
        None | Some("none") => Sensitivity::None,
        Some("pan") => Sensitivity::Pan,
        Some("track") => Sensitivity::Track,
        Some("pin") => Sensitivity::Pin,
        Some("key") => Sensitivity::Key,
        Some("cvv") => Sensitivity::Cvv,
        Some("emv") => Sensitivity::Emv,
        Some(other) => {
            p.add(
                Some(n),
                format!("sensitive {other:?} is not pan, track, pin, key, cvv or emv"),
            );
            return None;
        }
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"
        [spec]
        name = "t"
        mti = "ascii"
        bitmap = "hex"
    "#;

    fn problems(fields: &str) -> Vec<SpecProblem> {
        match Spec::from_toml_str(&format!("{HEAD}{fields}")) {
            Err(SpecError::Lint { problems, .. }) => problems,
            other => panic!("expected lint problems, got {other:?}"),
        }
    }

    #[test]
    fn reports_every_problem_with_its_field() {
        let found = problems(
            r#"
            [[field]]
            number = 2
            name = "PAN"
            class = "n"
            max = 190
            prefix = 2

            [[field]]
            number = 2
            name = "again"
            class = "n"
            length = 3

            [[field]]
            number = 3
            name = "text in bcd"
            class = "ans"
            length = 3
            encoding = "bcd"

            [[field]]
            number = 200
            name = "too far"
            class = "n"
            length = 1
            "#,
        );
        let fields: Vec<_> = found.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            vec![Some(2), Some(2), Some(3), Some(200)],
            "{found:?}"
        );
        assert!(
            found[0].message.contains("prefix holds at most 99"),
            "{}",
            found[0]
        );
        assert!(found[1].message.contains("more than once"));
        assert!(found[2].message.contains("cannot be written as bcd"));
        assert!(found[3].message.contains("out of range"));
    }

    #[test]
    fn a_fixed_field_longer_than_any_message_is_refused() {
        let found =
            problems("[[field]]\nnumber = 2\nname = \"huge\"\nclass = \"ans\"\nlength = 70000\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("never fit"), "{}", found[0]);
    }

    #[test]
    fn counting_bytes_of_hex_doubles_the_need() {
        let found = problems(
            r#"
            [[field]]
            number = 55
            name = "EMV"
            class = "b"
            encoding = "hex"
            max = 600
            prefix = 3
            prefix_counts = "bytes"
            "#,
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("needs 1200"), "{}", found[0]);
    }

    #[test]
    fn tertiary_bitmap_reserves_field_65() {
        let text = r#"
            [spec]
            name = "t"
            mti = "ascii"
            bitmap = "hex"
            tertiary_bitmap = true

            [[field]]
            number = 65
            name = "x"
            class = "b"
            length = 8
        "#;
        let Err(SpecError::Lint { problems, .. }) = Spec::from_toml_str(text) else {
            panic!("field 65 must be refused");
        };
        assert_eq!(problems[0].field, Some(65));
    }

    #[test]
    fn unknown_keys_are_syntax_errors() {
        let text =
            format!("{HEAD}\n[[field]]\nnumber = 2\nname = \"x\"\nclass = \"n\"\nsize = 3\n");
        assert!(matches!(
            Spec::from_toml_str(&text),
            Err(SpecError::Syntax(_))
        ));
    }
}
