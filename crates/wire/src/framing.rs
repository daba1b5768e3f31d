//! Request and response frame headers and the request size limit.
//!
//! Request: `[length u32][code u32][payload]`, `length` = 4 + payload length.
//! Response: `[status u32][length u32][payload]`; an error carries no payload.

use bytes::{BufMut, BytesMut};

/// Bytes before a request payload.
pub const REQUEST_HEADER_LEN: usize = 8;
/// Bytes before a response payload.
pub const RESPONSE_HEADER_LEN: usize = 8;

/// A parsed request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    /// The command code.
    pub code: u32,
    /// Payload bytes after the header.
    pub payload_len: usize,
}

/// Why a request header was refused; the connection's framing is lost after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// `length` must count at least the 4-byte code.
    #[error("request length {0} is below 4")]
    TooShort(u32),
    /// `length` exceeds the server's limit; refused before any buffer is reserved.
    #[error("request of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: u64, limit: usize },
}

impl RequestHeader {
    /// Parses the header at the start of `buf`; `Ok(None)` until 8 bytes are there. `max_payload`
    /// bounds the payload so a hostile length never makes the server allocate.
    pub fn parse(buf: &[u8], max_payload: usize) -> Result<Option<Self>, FramingError> {
        let Some(head) = buf.get(..REQUEST_HEADER_LEN) else {
            return Ok(None);
        };
        let length = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let code = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let payload_len = length.checked_sub(4).ok_or(FramingError::TooShort(length))? as usize;
        if payload_len > max_payload {
            return Err(FramingError::TooLarge { size: u64::from(length), limit: max_payload });
        }
        Ok(Some(Self { code, payload_len }))
    }

    /// Appends a request header (for clients).
    pub fn encode(code: u32, payload_len: usize, out: &mut BytesMut) {
        out.put_u32_le(payload_len as u32 + 4);
        out.put_u32_le(code);
    }
}

/// Appends a response header.
pub fn encode_response_header(status: u32, payload_len: usize, out: &mut BytesMut) {
    out.put_u32_le(status);
    out.put_u32_le(payload_len as u32);
}

/// Parses a response header: `(status, payload length)`.
pub fn parse_response_header(buf: &[u8]) -> Option<(u32, usize)> {
    let head = buf.get(..RESPONSE_HEADER_LEN)?;
    let status = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    Some((status, len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_limits_apply_before_allocation() {
        let mut out = BytesMut::new();
        RequestHeader::encode(101, 10, &mut out);
        assert_eq!(RequestHeader::parse(&out[..7], 100), Ok(None));
        assert_eq!(
            RequestHeader::parse(&out, 100),
            Ok(Some(RequestHeader { code: 101, payload_len: 10 }))
        );
        assert_eq!(
            RequestHeader::parse(&[0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0], 100),
            Err(FramingError::TooLarge { size: 0xffff_ffff, limit: 100 })
        );
        assert_eq!(
            RequestHeader::parse(&[3, 0, 0, 0, 1, 0, 0, 0], 100),
            Err(FramingError::TooShort(3))
        );
        let mut resp = BytesMut::new();
        encode_response_header(1009, 0, &mut resp);
        assert_eq!(parse_response_header(&resp), Some((1009, 0)));
    }
}
