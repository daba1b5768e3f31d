//! Transports: TCP and WebSocket carry the same byte stream of requests. `conn` turns buffered
//! bytes into handler calls and replies; `tcp` and `ws` move the bytes. No command-specific logic.

pub mod conn;
pub mod tcp;
pub mod ws;
