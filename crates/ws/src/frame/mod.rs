//! The frame layer of RFC 6455 §5: opcodes, the header codec, masking and close payloads.
//!
//! Everything here works on byte slices the caller owns. It knows nothing of messages, connection
//! state or I/O; `protocol` builds on it.

pub mod close;
pub mod header;
pub mod mask;

pub use close::{CloseCode, CloseError, CloseFrame};
pub use header::{FrameHeader, HeaderError, MAX_HEADER_LEN};
pub use mask::apply_mask;

/// A frame opcode (RFC 6455 §5.2). The reserved values 3–7 and 0xB–0xF are not representable:
/// [`OpCode::from_bits`] rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a continuation of a fragmented data message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: a close frame.
    Close,
    /// `0x9`: a ping.
    Ping,
    /// `0xA`: a pong.
    Pong,
}

impl OpCode {
    /// Parses the low four bits of the first header byte; `None` for a reserved opcode.
    pub fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0x0 => Some(Self::Continuation),
            0x1 => Some(Self::Text),
            0x2 => Some(Self::Binary),
            0x8 => Some(Self::Close),
            0x9 => Some(Self::Ping),
            0xA => Some(Self::Pong),
            _ => None,
        }
    }

    /// The four-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Control frames are those with the high opcode bit set (§5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_bits_round_trip_and_reserved_values_are_rejected() {
        for bits in 0u8..16 {
            match OpCode::from_bits(bits) {
                Some(op) => assert_eq!(op.bits(), bits),
                None => assert!(matches!(bits, 3..=7 | 0xB..=0xF), "{bits} rejected"),
            }
        }
        assert!(OpCode::Ping.is_control() && OpCode::Close.is_control());
        assert!(!OpCode::Text.is_control() && !OpCode::Continuation.is_control());
    }
}
