//! # eddy-server
//!
//! A durable, thread-per-core streaming server that speaks Apache Iggy's binary protocol (server
//! 0.8.0 / SDK 0.10.0) over TCP and WebSocket. See `docs/ARCHITECTURE.md` for the map.

pub mod auth;
pub mod config;
pub mod error;
pub mod fetch;
pub mod groups;
pub mod handlers;
pub mod metadata;
pub mod push;
pub mod session;
pub mod shard;
pub mod storage;
pub mod transport;

pub use config::Config;
pub use shard::{ServerHandle, StartError, StopSignals, start};
