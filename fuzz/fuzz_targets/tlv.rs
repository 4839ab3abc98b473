//! Arbitrary bytes read as BER-TLV (EMV field 55), every constructed object walked too.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pos8583_fuzz::tlv(data));
