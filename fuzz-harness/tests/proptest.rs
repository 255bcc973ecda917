//! The fuzz targets on stable, briefly: random bytes through the same
//! harness functions that `cargo fuzz` drives (see `fuzz/`). A fixed seed
//! keeps each run identical; `PROPTEST_CASES` runs more.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x70C4_11C0),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(5000))]

    #[test]
    fn decode_response(data in vec(any::<u8>(), 0..2048)) {
        topcalls_fuzz_harness::decode_response(&data);
    }

    #[test]
    fn header_parsing(data in vec(any::<u8>(), 0..256)) {
        topcalls_fuzz_harness::header_parsing(&data);
    }

    #[test]
    fn webhook(data in vec(any::<u8>(), 0..2048)) {
        topcalls_fuzz_harness::webhook(&data);
    }
}

#[test]
fn the_spec_supplies_samples() {
    let samples = topcalls_fuzz_harness::samples();
    assert!(samples.len() > 30, "{} samples", samples.len());
    assert!(samples.iter().any(|s| s.contains("\"transcript\"")));
}
