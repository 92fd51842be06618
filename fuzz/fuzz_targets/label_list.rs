//! libFuzzer target: [`afcn_fuzz::label_list`] on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| afcn_fuzz::label_list(bytes));
