#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringfront_fuzz::condition(data));
