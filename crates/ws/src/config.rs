//! Limits and buffer policy for a connection, with documented defaults. No behaviour, no I/O.

use std::time::Duration;

use crate::deflate::DeflateConfig;

/// Per-connection settings. Build with [`Config::default`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest accepted frame payload. A bigger frame closes the connection with 1009 as soon as
    /// its header arrives, before any buffer is reserved for it. Default 16 MiB.
    pub max_frame_size: usize,
    /// Largest accepted message (all fragments together). Default 64 MiB; 1009 beyond it.
    pub max_message_size: usize,
    /// The read buffer's resting capacity: the buffer starts at this size, grows geometrically
    /// only while a frame in flight needs more, and returns to it afterwards. Default 4 KiB.
    pub read_buffer_size: usize,
    /// Payloads up to this size are copied next to their header so that many small frames leave
    /// in one contiguous write; larger ones go out as their own `Bytes` in a vectored write.
    /// Default 1 KiB.
    pub coalesce_threshold: usize,
    /// Largest accepted HTTP request or response head in the handshake. Default 16 KiB.
    pub max_handshake_size: usize,
    /// How long the opening handshake may take before the connection is dropped. Default 10 s.
    pub handshake_timeout: Duration,
    /// After this endpoint sends or answers a close frame, how long it waits for the peer's close
    /// frame or TCP close before dropping the connection. Default 5 s.
    pub close_timeout: Duration,
    /// permessage-deflate: `None` (the default) never negotiates it; `Some` accepts (server) or
    /// offers (client) it with these settings.
    pub deflate: Option<DeflateConfig>,
    /// A read that finds nothing buffered and no bytes waiting in the socket first waits,
    /// holding no buffer, until the socket is readable (a one-byte `peek`), and the read buffer
    /// lets go of its memory meanwhile: a connection at rest costs its state, not its read
    /// buffer (measured: 4.5 KiB instead of 5.6 KiB per idle eddy-ws echo connection). The cost
    /// is a non-blocking peek (a syscall) for each read that finds the buffer empty, and an
    /// extra operation when the socket is empty too: request/response traffic pays it on every
    /// exchange (up to ~20% of echo throughput here), so it is off by default; a server whose
    /// connections mostly wait turns it on (eddy-server does). Only for streams with such a
    /// wait ([`Detach::detach_read_at_rest`](crate::Detach::detach_read_at_rest):
    /// `TcpStream`); others read as before. Default false.
    pub rest_without_buffer: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            read_buffer_size: 4 << 10,
            coalesce_threshold: 1 << 10,
            max_handshake_size: 16 << 10,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            deflate: None,
            rest_without_buffer: false,
        }
    }
}

impl Config {
    /// Sets [`Config::max_frame_size`].
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`Config::max_message_size`].
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`Config::read_buffer_size`] (at least 256 bytes).
    pub fn with_read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(256);
        self
    }

    /// Sets [`Config::handshake_timeout`].
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Enables permessage-deflate with `deflate` (see [`Config::deflate`]).
    pub fn with_deflate(mut self, deflate: DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }

    /// Sets [`Config::rest_without_buffer`].
    pub fn with_rest_without_buffer(mut self, rest: bool) -> Self {
        self.rest_without_buffer = rest;
        self
    }

    /// Sets [`Config::close_timeout`].
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}
