//! Decodes arbitrary bytes with the built-in `intl-pos` spec (see `pos8583_fuzz::decode`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pos8583_fuzz::decode_builtin("intl-pos", data));
