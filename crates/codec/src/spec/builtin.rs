//! The built-in specs: the files of `specs/` compiled into the crate.
//!
//! Each is parsed and linted the first time it is asked for; a test checks that every one
//! loads, so a broken file fails the build's tests rather than a user's run.

use std::sync::OnceLock;

use super::Spec;

/// Name and TOML text of every built-in spec, in the order `iso8583 specs` lists them.
const FILES: [(&str, &str); 5] = [
    (
        "iso87-ascii",
        include_str!("../../../../specs/iso87-ascii.toml"),
    ),
    (
        "iso87-binary",
        include_str!("../../../../specs/iso87-binary.toml"),
    ),
    (
        "iso93-ascii",
        include_str!("../../../../specs/iso93-ascii.toml"),
    ),
    ("cup-pos", include_str!("../../../../specs/cup-pos.toml")),
    ("intl-pos", include_str!("../../../../specs/intl-pos.toml")),
];

static LOADED: [OnceLock<Option<Spec>>; 5] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];

impl Spec {
    /// The built-in spec called `name` (`iso87-ascii`, `iso87-binary`, `iso93-ascii`,
    /// `cup-pos`, `intl-pos`), or `None` if there is no such spec.
    ///
    /// ```
    /// let spec = iso8583_codec::Spec::builtin("cup-pos").expect("built in");
    /// assert_eq!(spec.name(), "cup-pos");
    /// ```
    pub fn builtin(name: &str) -> Option<&'static Spec> {
        let index = FILES.iter().position(|(n, _)| *n == name)?;
        let (_, text) = FILES.get(index)?;
        LOADED
            .get(index)?
            .get_or_init(|| Spec::from_toml_str(text).ok())
            .as_ref()
    }

    /// Names of the built-in specs.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        FILES.iter().map(|(name, _)| *name)
    }

    /// The TOML text a built-in spec was loaded from.
    pub fn builtin_source(name: &str) -> Option<&'static str> {
        FILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| *text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_and_is_named_after_its_file() {
        for (name, text) in FILES {
            let spec = match Spec::from_toml_str(text) {
                Ok(spec) => spec,
                Err(e) => panic!("built-in {name} does not load: {e}"),
            };
            assert_eq!(spec.name(), name);
            assert!(!spec.sources().is_empty(), "{name} cites no source");
            assert!(Spec::builtin(name).is_some());
        }
    }
}
