//! Arbitrary text as a spec file; when it loads, the bytes after it are decoded with it.
//!
//! The input is the TOML text, a NUL byte, then the message bytes. Text that is not UTF-8 is
//! skipped (`Spec::from_toml_str` takes `&str`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pos8583_fuzz::load_spec_and_decode(data));
