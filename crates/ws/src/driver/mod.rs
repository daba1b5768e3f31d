//! The compio driver: the only code in eddy-ws that touches sockets. It moves bytes between a
//! compio stream and the sans-IO core on owned buffers: a read buffer that grows and shrinks with
//! the frame in flight, and vectored writes of header + payload segments. It never parses bytes.

pub mod buffer;
mod conn;
pub mod detach;
#[cfg(feature = "futures")]
mod futures;
pub mod handshake;
pub mod split;
pub mod stream;

pub use detach::Detach;
pub use handshake::{
    Incoming, accept, accept_or_serve, accept_with, client, connect, connect_with,
};
pub use split::{Reader, Writer};
pub use stream::{SEND_DEFER_BYTES, WebSocket};
