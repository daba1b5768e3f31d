//! The error categories of eddy-ws, one enum per layer, and the one mapping from a protocol error
//! to the close code the peer receives. No behaviour, no I/O.

use std::io;

use crate::frame::close::CloseError;
use crate::frame::{CloseCode, HeaderError};
use crate::handshake::HandshakeError;

/// The peer broke RFC 6455, or exceeded a limit. Fatal and sticky: the connection sends the close
/// code from [`ProtocolError::close_code`] and every later read returns the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A header that can never be valid (reserved opcode, 64-bit length with the top bit set).
    #[error("malformed frame header: {0}")]
    Header(#[from] HeaderError),
    /// §5.2: RSV bits "MUST be 0 unless an extension is negotiated that defines meanings".
    #[error("reserved bits set without a negotiated extension")]
    ReservedBits,
    /// §5.1: "a client MUST mask all frames that it sends to the server".
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// §5.1: "a server MUST NOT mask any frames that it sends to the client".
    #[error("masked frame from a server")]
    MaskedFrame,
    /// §5.5: "control frames MUST NOT be fragmented".
    #[error("fragmented control frame")]
    FragmentedControl,
    /// §5.5: "all control frames MUST have a payload length of 125 bytes or less".
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
    /// A continuation frame with no fragmented message in progress (§5.4).
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is still in progress (§5.4).
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// A close frame whose payload is malformed (§5.5.1, §7.4).
    #[error("bad close frame: {0}")]
    BadClose(CloseError),
    /// A text message or close reason that is not UTF-8 (§8.1).
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// A compressed message that does not inflate (RFC 7692 §8).
    #[error("invalid compressed data")]
    BadCompressedData,
    /// A frame over `Config::max_frame_size`.
    #[error("frame of {size} bytes exceeds the limit of {limit}")]
    FrameTooLarge {
        /// The frame's declared payload length.
        size: u64,
        /// `Config::max_frame_size`.
        limit: usize,
    },
    /// A message over `Config::max_message_size`.
    #[error("message of at least {size} bytes exceeds the limit of {limit}")]
    MessageTooLarge {
        /// The message's length so far (at least).
        size: u64,
        /// `Config::max_message_size`.
        limit: usize,
    },
}

impl ProtocolError {
    /// The close code sent to the peer for this error (§7.4.1).
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8
            | Self::BadCompressedData
            | Self::BadClose(CloseError::InvalidReason) => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooLarge { .. } | Self::MessageTooLarge { .. } => CloseCode::TOO_BIG,
            _ => CloseCode::PROTOCOL,
        }
    }
}

/// The application asked for something the connection cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// §5.5.1: after a close frame is sent, no more frames may follow.
    #[error("the connection is closing or closed")]
    Closed,
    /// Control payloads are limited to 125 bytes (§5.5).
    #[error("control frame payload of {0} bytes (at most 125)")]
    ControlTooLong(usize),
    /// Close codes 1004–1006, 1015 and unassigned values may not be sent (§7.4).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// A payload written in place was not the length announced for it (nothing was queued).
    #[error("announced a {expected}-byte payload but wrote {written} bytes")]
    WrittenLength {
        /// The length announced.
        expected: usize,
        /// The length written.
        written: usize,
    },
}

/// Any error from a WebSocket connection driven by the compio driver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The opening handshake failed.
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// The peer broke the protocol; the matching close frame was sent.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The application misused the API.
    #[error("usage error: {0}")]
    Usage(#[from] UsageError),
    /// The close handshake finished (or the peer closed TCP after it); nothing more to read.
    #[error("connection closed")]
    Closed,
    /// The peer closed the TCP connection without a close handshake (close code 1006).
    #[error("connection reset without a close handshake")]
    Reset,
    /// The opening handshake or the closing wait took too long.
    #[error("timed out")]
    Timeout,
}
