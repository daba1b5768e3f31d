//! Close codes and the close frame payload (RFC 6455 §5.5.1, §7.4): which codes may appear on the
//! wire, and parsing/encoding of `[code u16 BE][UTF-8 reason]`. Holds no connection state.

use bytes::{BufMut, Bytes};

use crate::utf8::Utf8Bytes;

/// A close status code (§7.4). Any `u16` can be held; [`CloseCode::is_sendable`] says which may
/// appear in a close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED: Self = Self(1003);
    /// 1005: no code was present. Never sent on the wire.
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: the connection dropped without a close frame. Never sent on the wire.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: a text message (or close reason) was not valid UTF-8.
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: the message violates the endpoint's policy.
    pub const POLICY: Self = Self(1008);
    /// 1009: the message is too big to process.
    pub const TOO_BIG: Self = Self(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL: Self = Self(1011);
    /// 1012 (IANA): the server is restarting.
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013 (IANA): try again later (the server is overloaded, or the peer fell too far behind).
    pub const TRY_AGAIN_LATER: Self = Self(1013);

    /// Whether the code may be sent in (and accepted from) a close frame: 1000–1003 and 1007–1011
    /// defined by §7.4.1, 1012–1014 registered with IANA since, and 3000–4999 for libraries,
    /// frameworks and applications (§7.4.2). 1004–1006 and 1015 are reserved, everything below 1000
    /// is unused, 1016–2999 is reserved for future protocol revisions.
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// A close frame's body: a code and a UTF-8 reason (§5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason; may be empty. Control payloads are at most 125 bytes, so at most 123 bytes.
    pub reason: Utf8Bytes,
}

/// Why a received close payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CloseError {
    /// §5.5.1: a body, if present, "MUST" start with a two-byte code; one byte cannot.
    #[error("close payload of one byte")]
    OneByte,
    /// A code that may not appear on the wire (§7.4).
    #[error("close code {0} may not be sent")]
    InvalidCode(u16),
    /// §5.5.1: the reason "MUST" be UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidReason,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        Self { code, reason: reason.into() }
    }

    /// Parses a received close payload; an empty one means "no status" (`None`).
    pub fn parse(payload: Bytes) -> Result<Option<Self>, CloseError> {
        match payload.len() {
            0 => Ok(None),
            1 => Err(CloseError::OneByte),
            _ => {
                let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                if !code.is_sendable() {
                    return Err(CloseError::InvalidCode(code.0));
                }
                let reason = Utf8Bytes::try_from(payload.slice(2..))
                    .map_err(|_| CloseError::InvalidReason)?;
                Ok(Some(Self { code, reason }))
            }
        }
    }

    /// The encoded payload length.
    pub fn encoded_len(&self) -> usize {
        2 + self.reason.len()
    }

    /// Appends `[code][reason]` to `dst`.
    pub fn encode(&self, dst: &mut impl BufMut) {
        dst.put_u16(self.code.0);
        dst.put_slice(self.reason.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes_follow_the_registry() {
        for code in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            assert!(CloseCode(code).is_sendable(), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!CloseCode(code).is_sendable(), "{code}");
        }
    }

    #[test]
    fn parse_checks_length_code_and_reason() {
        assert_eq!(CloseFrame::parse(Bytes::new()), Ok(None));
        assert_eq!(CloseFrame::parse(Bytes::from_static(&[3])), Err(CloseError::OneByte));
        assert_eq!(
            CloseFrame::parse(Bytes::from_static(&[0x03, 0xED])),
            Err(CloseError::InvalidCode(1005))
        );
        assert_eq!(
            CloseFrame::parse(Bytes::from_static(&[0x03, 0xE8, 0xFF])),
            Err(CloseError::InvalidReason)
        );
        let frame = CloseFrame::parse(Bytes::from_static(b"\x03\xe8bye")).unwrap().unwrap();
        assert_eq!(frame, CloseFrame::new(CloseCode::NORMAL, "bye"));
        let mut out = Vec::new();
        frame.encode(&mut out);
        assert_eq!(out, b"\x03\xe8bye");
        assert_eq!(frame.encoded_len(), out.len());
    }
}
