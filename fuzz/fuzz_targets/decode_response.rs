//! Fuzz target `decode_response`: a final response (status, headers, a body
//! in any chunking, with or without `Content-Length`, under any size limit)
//! read and decoded as `Client` and the `Client::raw` builders do; and the
//! redacted body preview of logs and `Debug`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| topcalls_fuzz_harness::decode_response(data));
