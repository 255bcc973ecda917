//! Fuzz target `header_parsing`: `retry-after-ms` and `Retry-After` values
//! (raw bytes, numbers of every size, floats, HTTP dates near and far),
//! alone and on a 429 through the client's path.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| topcalls_fuzz_harness::header_parsing(data));
