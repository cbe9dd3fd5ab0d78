#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| crawlium::fuzz::run("socks", data));
