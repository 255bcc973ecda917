//! Fuzz target `webhook`: Standard Webhooks verification of arbitrary
//! headers and bodies, signed correctly or not, then event parsing.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| topcalls_fuzz_harness::webhook(data));
