#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| crawlium::fuzz::run("sse_message", data));
