//! Apache Iggy 0.9's wire: binary protocol 0.11, as the Rust SDK `iggy` 0.11.0 speaks it (and
//! the Python SDK `apache-iggy` 0.9, which embeds it). Facts carried over from those crates'
//! published sources; no code.
//!
//! It is a codec over the commands the 0.8 wire carries, not a second server: a request is cut
//! by its 256-byte header (`header`), and its body is translated into the 0.8 payload of the
//! same command (`codec`), which the server's handlers decode as they always do; their reply is
//! translated back into the 0.11 body (`catalog` for streams and topics, `batch` for messages,
//! `login` for session registration). So handlers never know which wire a request came on, and a
//! message is stored once, in one layout, whichever wire wrote it.
//!
//! May not touch I/O or the server's state; everything here works on byte slices.
//!
//! All integers are little-endian.

pub mod batch;
pub mod catalog;
pub mod codec;
pub mod header;
pub mod login;
pub mod options;
pub mod users;

pub use codec::{CodecError, Translated};
pub use header::{HeadError, RequestHead};
