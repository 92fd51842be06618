//! libFuzzer target: [`afcn_fuzz::ferplus_csv`] on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| afcn_fuzz::ferplus_csv(bytes));
