//! libFuzzer target: [`afcn_fuzz::config`] on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| afcn_fuzz::config(bytes));
