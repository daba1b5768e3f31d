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
//!
//! # A client
//! ```no_run
//! use eddy_ws::{Message, connect};
//!
//! #[compio::main]
//! async fn main() -> Result<(), eddy_ws::Error> {
//!     let (mut ws, _response) = connect("ws://127.0.0.1:9001/").await?;
//!     ws.send(Message::text("hello")).await?;
//!     println!("{:?}", ws.read().await?);
//!     ws.close(None).await
//! }
//! ```
//!
//! # What else
//! - [`accept_with`] checks the request (origin, token, subprotocol) and may refuse it with an
//!   HTTP status; [`accept_or_serve`] also answers plain HTTP on the same port.
//! - `feed` + `flush` batch many messages into one vectored write; `send` batches on its own
//!   while more input is buffered (see [`WebSocket::send`]).
//! - [`WebSocket::read`] is cancel-safe: it can wait in a `select!` beside a timer or a channel.
//! - [`WebSocket::split`] gives a [`Reader`] and a [`Writer`] for two tasks.
//! - [`serve::Server`] serves on every core: a runtime and an SO_REUSEPORT listener per thread.
//! - [`Config`] bounds everything a peer can make the connection hold (message, frame and
//!   handshake sizes, timeouts) and enables permessage-deflate (RFC 7692).
//!
//! # Features
//! - `tls`: `wss://` clients and TLS servers on rustls (ring), module `tls`.
//! - `futures`: `WebSocket` is a `futures` `Stream<Item = Result<Message, Error>>` and
//!   `Sink<Message>` (`start_send` queues, `poll_flush` writes the batch), so `StreamExt`,
//!   `SinkExt::send_all`, `forward` and `select` apply.
//! - `tungstenite`: the article's bridge (GrowableSyncStream and tungstenite over compio), module
//!   `compat`; nothing else depends on it.

#![warn(missing_docs)]

#[cfg(feature = "tungstenite")]
pub mod compat;
pub mod config;
pub mod deflate;
pub mod driver;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod hub;
pub mod message;
pub mod protocol;
mod recycle;
pub mod serve;
#[cfg(feature = "tls")]
pub mod tls;
pub mod utf8;

pub use config::Config;
pub use driver::{
    Detach, Incoming, Reader, SEND_DEFER_BYTES, WebSocket, Writer, accept, accept_or_serve,
    accept_with, client, connect, connect_with,
};
pub use error::{Error, ProtocolError, UsageError};
pub use frame::{CloseCode, CloseFrame};
pub use handshake::{ClientRequest, HandshakeError, HttpResponse, Rejection, Request, Response};
pub use hub::{Hub, Lagged, SlowPolicy, Subscription};
pub use message::Message;
pub use protocol::prepared::PreparedMessage;
pub use protocol::{PayloadWriter, Role};
pub use utf8::Utf8Bytes;
