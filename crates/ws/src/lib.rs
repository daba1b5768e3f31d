//! # eddy-ws
//!
//! An RFC 6455 WebSocket client and server for [compio]: a sans-IO protocol core and a driver on
//! owned, pooled buffers.
//!
//! The core (`frame`, `utf8`, `protocol`, `handshake`) does no I/O, runs no async code and reads
//! no clock: bytes go in, messages and bytes to send come out. The `driver` is the only part
//! that touches a socket.
//!
//! ```text
//!            socket bytes                                         messages
//!  compio ──read──▶ ReadBuffer ──Protocol::read_message──▶ Message::{Text,Binary,Ping,Pong,Close}
//!    ▲                                  │ (auto Pong, close echo)
//!    └──write_vectored── Outbox ◀───────┴──── Protocol::send(Message) ◀── application
//! ```
//!
//! # Quick start: an echo server
//! ```no_run
//! use compio::net::TcpListener;
//! use eddy_ws::{Message, accept};
//!
//! #[compio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let listener = TcpListener::bind("127.0.0.1:9001").await?;
//!     loop {
//!         let (tcp, _) = listener.accept().await?;
//!         compio::runtime::spawn(async move {
//!             let mut ws = accept(tcp).await?;
//!             while let Ok(msg) = ws.read().await {
//!                 if msg.is_data() {
//!                     ws.send(msg).await?;
//!                 }
//!             }
//!             Ok::<_, eddy_ws::Error>(())
//!         })
//!         .detach();
//!     }
//! }
//! ```

#[cfg(feature = "tungstenite")]
pub mod compat;
pub mod config;
pub mod deflate;
pub mod driver;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod message;
pub mod protocol;
mod recycle;
#[cfg(feature = "tls")]
pub mod tls;
pub mod utf8;

pub use config::Config;
pub use driver::{
    Incoming, Reader, SEND_DEFER_BYTES, WebSocket, Writer, accept, accept_or_serve, accept_with,
    client, connect, connect_with,
};
pub use error::{Error, ProtocolError, UsageError};
pub use frame::{CloseCode, CloseFrame};
pub use handshake::{ClientRequest, HandshakeError, HttpResponse, Rejection, Request, Response};
pub use message::Message;
pub use protocol::Role;
pub use utf8::Utf8Bytes;
