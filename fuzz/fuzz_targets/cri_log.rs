#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| isula_fuzz_targets::cri_log(data));
