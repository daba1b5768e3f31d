//! Interoperability tests live in `tests/`: they start `eddy-server` as a separate process on
//! free ports with a temporary data directory and drive it with Apache Iggy's Rust SDK.
