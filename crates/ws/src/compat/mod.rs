//! The article's bridge, finished (feature `tungstenite`): [`GrowableSyncStream`] gives
//! synchronous `Read + Write` over a compio owned-buffer stream, and [`CompatWebSocket`] runs
//! tungstenite on top of it, looping on `WouldBlock` → fill/flush. It exists so users already on
//! tungstenite get a compio path, and so the benchmark can measure the bridge beside the native
//! driver. Nothing else in eddy-ws depends on it.

pub mod growable;
pub mod pool;
pub mod websocket;

pub use growable::{GrowableSyncStream, GrowthPolicy, StreamConfig};
pub use websocket::CompatWebSocket;
