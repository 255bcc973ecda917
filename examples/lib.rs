//! Runnable examples for topcalls-rs; see the `[[example]]` entries of this
//! package and run them from the workspace root with `cargo run --example <name>`.
