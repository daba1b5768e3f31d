//! permessage-deflate (RFC 7692): negotiation (`params`) and the per-connection compressor and
//! bounded decompressor (`codec`). Sits between the frame layer and message assembly; no I/O.
//!
//! Memory: a connection that negotiated the extension allocates nothing until it first compresses
//! or inflates. Then the compressor costs about `2^(window_bits + 2) + 128 KiB` (≈ 256 KiB at
//! window 15, ≈ 132 KiB at window 9) and the decompressor about `2^window_bits + 7 KiB`
//! (≈ 39 KiB; we always inflate with a 32 KiB window, which decodes any smaller one). Connections
//! without the extension pay nothing.

pub mod codec;
pub mod params;

pub use codec::{Compressor, Decompressor, InflateError};
pub use params::{DeflateConfig, Negotiated};
