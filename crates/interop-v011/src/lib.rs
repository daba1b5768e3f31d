//! Interoperability tests live in `tests/`: they start `eddy-server` as a separate process (the
//! helpers of `crates/interop`) and drive it with Apache Iggy's Rust SDK 0.11.0, which speaks
//! the 0.11 wire of Iggy 0.9, on the same ports the 0.10.0 SDK uses.
