//! # eddy-wire
//!
//! Apache Iggy's binary protocol as spoken by Iggy server 0.8.0 and the Rust SDK `iggy` 0.10.0:
//! request/response framing, the command and status code tables, and typed codecs for the
//! commands Eddy serves; and (`v011`) the 0.11 wire of Iggy 0.9 (SDK 0.11.0) as a codec that
//! translates its requests into those commands and their replies back. No I/O, no async, no runtime: decoders read from a caller's slice and
//! say what they consumed; encoders append to a caller's `BytesMut`. Shared by the server, the
//! client and the benchmark, so the client never depends on the server.
//!
//! All integers are little-endian.

pub mod codes;
pub mod commands;
pub mod cursor;
pub mod framing;
pub mod identifier;
pub mod message;
pub mod v011;

pub use cursor::{Cursor, WireError};
pub use identifier::Identifier;
