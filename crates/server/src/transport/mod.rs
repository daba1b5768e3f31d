//! Transports: TCP and WebSocket carry the same byte stream of requests. `conn` turns buffered
//! bytes into handler calls and replies; `tcp` and `ws` move the bytes; `admission` caps
//! connections, `origin` decides which browser pages may connect and `dashboard` answers plain
//! GETs on the WebSocket port with the dashboard's files; `wire` tells Iggy's 0.8 and 0.11 wires
//! apart and runs 0.11 requests through the 0.11 codec. No command-specific logic.

pub mod admission;
pub mod conn;
pub mod dashboard;
pub mod origin;
pub mod readiness;
pub mod tcp;
pub mod tls;
pub mod wire;
pub mod ws;
