//! # eddy-client
//!
//! A compio client for Apache Iggy's binary protocol (as eddy-server and Iggy server 0.8 speak
//! it), over TCP or over WebSocket (eddy-ws, native owned-buffer path): login, streams and topics,
//! sending batches, polling (and long polling), consumer offsets, and Eddy's push subscriptions
//! ([`Subscriber`]). One request in flight per connection, as Iggy's SDK does. Never depends on eddy-server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), eddy_client::ClientError> {
//! use eddy_client::{Client, Transport};
//! use eddy_wire::Identifier;
//! use eddy_wire::commands::messages::Partitioning;
//!
//! let mut client = Client::connect(Transport::Tcp, "127.0.0.1:8090".parse().unwrap()).await?;
//! client.login("iggy", "iggy").await?;
//! let stream = client.create_stream("orders").await?;
//! let topic = client.create_topic(&Identifier::Numeric(stream), "created", 1).await?;
//! let batch = eddy_client::Batch::from_payloads((1..=10u128).map(|id| (id, b"hello".as_slice())));
//! client.send(&Identifier::Numeric(stream), &Identifier::Numeric(topic), &Partitioning::PartitionId(0), &batch).await?;
//! # Ok(()) }
//! ```

mod batch;
mod client;
mod connection;
mod subscriber;

pub use batch::{Batch, Polled, PolledMessage};
pub use client::{
    Client, Deferred, Poll, encode_group_poll, encode_poll, encode_poll_deferred, encode_send,
};
pub use connection::Transport;
pub use subscriber::{Subscriber, Subscription};

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("WebSocket: {0}")]
    WebSocket(#[from] eddy_ws::Error),
    /// The server answered with an error status (an Iggy error code).
    #[error("server error {0}")]
    Status(u32),
    /// The server's reply could not be decoded.
    #[error("malformed reply: {0}")]
    Malformed(&'static str),
    /// The server closed the connection.
    #[error("connection closed")]
    Closed,
}
