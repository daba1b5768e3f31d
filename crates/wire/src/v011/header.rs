//! The 256-byte headers of protocol 0.11: the request a client sends, the reply the server
//! answers with, and the eviction frame that ends a session (a refused login). Every request
//! and reply starts with one; its `size` counts the header and the body after it.
//!
//! Layout facts (offsets in bytes): every header has `size u32 @48` and `command u8 @60`.
//! Request: `client u128 @128`, `request_checksum u128 @144`, `timestamp u64 @160`,
//! `request u64 @168`, `operation u8 @176`, `session u64 @184`, `user_id u32 @192`,
//! `reserved [60] @196` (a non-replicated request carries its command code in the first four
//! reserved bytes). Reply: `request_checksum u128 @128`, `context u128 @144`, `client u128
//! @160`, `op u64 @176`, `commit u64 @184`, `timestamp u64 @192`, `request u64 @200`,
//! `operation u8 @208`, `status u32 @216` (nonzero: the error code, and no body). Eviction:
//! `client u128 @128`, `server_protocol_version u32 @144`, `server_protocol_version_min u32
//! @148`, `reason u8 @255`. Checksums are left zero, as the SDK leaves them.

use bytes::BytesMut;

use crate::codes::command as c;
use crate::codes::command_v011 as c11;

/// Bytes in every header.
pub const HEADER_LEN: usize = 256;
const SIZE_AT: usize = 48;
const COMMAND_AT: usize = 60;

const REQUEST_CLIENT_AT: usize = 128;
const REQUEST_CHECKSUM_AT: usize = 144;
const REQUEST_REQUEST_AT: usize = 168;
const REQUEST_OPERATION_AT: usize = 176;
const REQUEST_SESSION_AT: usize = 184;
const REQUEST_CODE_AT: usize = 196;

const REPLY_REQUEST_CHECKSUM_AT: usize = 128;
const REPLY_CLIENT_AT: usize = 160;
const REPLY_REQUEST_AT: usize = 200;
const REPLY_OPERATION_AT: usize = 208;
const REPLY_STATUS_AT: usize = 216;

const EVICTION_CLIENT_AT: usize = 128;
const EVICTION_VERSION_AT: usize = 144;
const EVICTION_VERSION_MIN_AT: usize = 148;
const EVICTION_REASON_AT: usize = 255;

/// The `command` byte: what kind of frame a header starts.
pub mod command {
    pub const REQUEST: u8 = 5;
    pub const REPLY: u8 = 8;
    pub const EVICTION: u8 = 13;
}

/// The `operation` byte of a request (and echoed in its reply).
pub mod operation {
    pub const REGISTER: u8 = 1;
    pub const NON_REPLICATED: u8 = 2;
    pub const LOGOUT: u8 = 3;
    pub const CREATE_STREAM: u8 = 128;
    pub const UPDATE_STREAM: u8 = 129;
    pub const DELETE_STREAM: u8 = 130;
    pub const PURGE_STREAM: u8 = 131;
    pub const CREATE_TOPIC: u8 = 132;
    pub const UPDATE_TOPIC: u8 = 133;
    pub const DELETE_TOPIC: u8 = 134;
    pub const PURGE_TOPIC: u8 = 135;
    pub const CREATE_PARTITIONS: u8 = 136;
    pub const DELETE_PARTITIONS: u8 = 137;
    pub const DELETE_SEGMENTS: u8 = 138;
    pub const CREATE_CONSUMER_GROUP: u8 = 139;
    pub const DELETE_CONSUMER_GROUP: u8 = 140;
    pub const CREATE_USER: u8 = 141;
    pub const UPDATE_USER: u8 = 142;
    pub const DELETE_USER: u8 = 143;
    pub const CHANGE_PASSWORD: u8 = 144;
    pub const UPDATE_PERMISSIONS: u8 = 145;
    pub const CREATE_PERSONAL_ACCESS_TOKEN: u8 = 146;
    pub const DELETE_PERSONAL_ACCESS_TOKEN: u8 = 147;
    pub const JOIN_CONSUMER_GROUP: u8 = 148;
    pub const LEAVE_CONSUMER_GROUP: u8 = 149;
    pub const SEND_MESSAGES: u8 = 160;
    pub const STORE_CONSUMER_OFFSET: u8 = 161;
    pub const DELETE_CONSUMER_OFFSET: u8 = 162;
}

/// Why an eviction frame ends a session (its last byte).
pub mod eviction {
    pub const NO_SESSION: u8 = 1;
    pub const INVALID_REQUEST_OPERATION: u8 = 4;
    pub const INVALID_REQUEST_BODY: u8 = 5;
    pub const INVALID_CREDENTIALS: u8 = 9;
    pub const INVALID_TOKEN: u8 = 10;
    pub const USER_INACTIVE: u8 = 11;
    pub const SESSION_ERROR: u8 = 12;
    pub const INCOMPATIBLE_PROTOCOL: u8 = 14;
    pub const MALFORMED_LOGIN: u8 = 15;
}

/// Each component of a packed protocol version takes 10 bits: `major.minor.patch`.
const COMPONENT_BITS: u32 = 10;

/// The protocol version this codec speaks, packed: 0.11.0.
pub const PROTOCOL_VERSION: u32 = 11 << COMPONENT_BITS;
/// The oldest client version it accepts: any patch of 0.11.
pub const PROTOCOL_VERSION_MIN: u32 = PROTOCOL_VERSION;

/// Whether a client announcing `version` at login speaks this codec: same major and minor.
pub fn protocol_compatible(version: u32) -> bool {
    version >> COMPONENT_BITS == PROTOCOL_VERSION >> COMPONENT_BITS
}

/// The replicated operations and the command codes they carry.
const OPERATIONS: [(u8, u32); 25] = [
    (operation::CREATE_STREAM, c::CREATE_STREAM),
    (operation::UPDATE_STREAM, c::UPDATE_STREAM),
    (operation::DELETE_STREAM, c::DELETE_STREAM),
    (operation::PURGE_STREAM, c::PURGE_STREAM),
    (operation::CREATE_TOPIC, c::CREATE_TOPIC),
    (operation::UPDATE_TOPIC, c::UPDATE_TOPIC),
    (operation::DELETE_TOPIC, c::DELETE_TOPIC),
    (operation::PURGE_TOPIC, c::PURGE_TOPIC),
    (operation::CREATE_PARTITIONS, c::CREATE_PARTITIONS),
    (operation::DELETE_PARTITIONS, c::DELETE_PARTITIONS),
    (operation::DELETE_SEGMENTS, c::DELETE_SEGMENTS),
    (operation::CREATE_CONSUMER_GROUP, c::CREATE_CONSUMER_GROUP),
    (operation::DELETE_CONSUMER_GROUP, c::DELETE_CONSUMER_GROUP),
    (operation::CREATE_USER, c::CREATE_USER),
    (operation::UPDATE_USER, c::UPDATE_USER),
    (operation::DELETE_USER, c::DELETE_USER),
    (operation::CHANGE_PASSWORD, c::CHANGE_PASSWORD),
    (operation::UPDATE_PERMISSIONS, c::UPDATE_PERMISSIONS),
    (operation::CREATE_PERSONAL_ACCESS_TOKEN, c::CREATE_PERSONAL_ACCESS_TOKEN),
    (operation::DELETE_PERSONAL_ACCESS_TOKEN, c::DELETE_PERSONAL_ACCESS_TOKEN),
    (operation::JOIN_CONSUMER_GROUP, c::JOIN_CONSUMER_GROUP),
    (operation::LEAVE_CONSUMER_GROUP, c::LEAVE_CONSUMER_GROUP),
    (operation::SEND_MESSAGES, c::SEND_MESSAGES),
    (operation::STORE_CONSUMER_OFFSET, c::STORE_CONSUMER_OFFSET),
    (operation::DELETE_CONSUMER_OFFSET, c::DELETE_CONSUMER_OFFSET),
];

/// The command code a replicated operation carries.
pub fn operation_code(op: u8) -> Option<u32> {
    OPERATIONS.iter().find(|(o, _)| *o == op).map(|(_, code)| *code)
}

/// The operation a command code travels as (non-replicated for reads and the rest).
pub fn code_operation(code: u32) -> u8 {
    match code {
        c11::LOGIN_REGISTER | c11::LOGIN_REGISTER_WITH_PAT => operation::REGISTER,
        c::LOGOUT_USER => operation::LOGOUT,
        _ => OPERATIONS
            .iter()
            .find(|(_, k)| *k == code)
            .map_or(operation::NON_REPLICATED, |(op, _)| *op),
    }
}

/// Whether a successful reply to `op` starts with a result section (`[count u32 = 0]`): the
/// metadata operations and the consumer-offset writes. A nonzero status carries no body at all.
pub fn is_result_framed(op: u8) -> bool {
    matches!(op, operation::CREATE_STREAM..=operation::LEAVE_CONSUMER_GROUP)
        && op != operation::DELETE_SEGMENTS
        || matches!(op, operation::STORE_CONSUMER_OFFSET | operation::DELETE_CONSUMER_OFFSET)
        || op == operation::REGISTER
}

/// What a request header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead {
    pub client: u128,
    pub request_checksum: u128,
    pub request: u64,
    pub operation: u8,
    pub session: u64,
    /// The command code: from the reserved bytes for a non-replicated request, from the
    /// operation otherwise (LOGIN_REGISTER for a registration, whichever credential it holds).
    pub code: u32,
    /// Body bytes after the header.
    pub body_len: usize,
}

/// Why a request header was refused; the connection's framing is lost after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The `command` byte is not a request.
    #[error("frame command {0} is not a request")]
    NotARequest(u8),
    /// `size` is below the header's own 256 bytes.
    #[error("request size {0} is below the 256-byte header")]
    TooShort(u32),
    /// The body exceeds the server's limit; refused before any buffer is reserved.
    #[error("request of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: u64, limit: usize },
    /// The operation byte names nothing a client may send.
    #[error("operation {0} is not a client operation")]
    UnknownOperation(u8),
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn le_u128(b: &[u8], at: usize) -> u128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    u128::from_le_bytes(a)
}

/// The total size a header announces, once its first 52 bytes are there (to size a buffer).
pub fn announced_size(buf: &[u8]) -> Option<usize> {
    buf.get(..SIZE_AT + 4).map(|b| le_u32(b, SIZE_AT) as usize)
}

impl RequestHead {
    /// Parses the header at the start of `buf`; `Ok(None)` until 256 bytes are there.
    /// `max_body` bounds the body, checked as soon as the size field is in, so a hostile size
    /// never makes the server allocate.
    pub fn parse(buf: &[u8], max_body: usize) -> Result<Option<Self>, HeadError> {
        if let Some(size) = announced_size(buf) {
            let body = size.checked_sub(HEADER_LEN).ok_or(HeadError::TooShort(size as u32))?;
            if body > max_body {
                return Err(HeadError::TooLarge { size: size as u64, limit: max_body });
            }
        }
        let Some(b) = buf.get(..HEADER_LEN) else { return Ok(None) };
        if b[COMMAND_AT] != command::REQUEST {
            return Err(HeadError::NotARequest(b[COMMAND_AT]));
        }
        let size = le_u32(b, SIZE_AT) as usize;
        let operation = b[REQUEST_OPERATION_AT];
        let code = match operation {
            operation::NON_REPLICATED => le_u32(b, REQUEST_CODE_AT),
            operation::REGISTER => c11::LOGIN_REGISTER,
            operation::LOGOUT => c::LOGOUT_USER,
            op => operation_code(op).ok_or(HeadError::UnknownOperation(op))?,
        };
        Ok(Some(Self {
            client: le_u128(b, REQUEST_CLIENT_AT),
            request_checksum: le_u128(b, REQUEST_CHECKSUM_AT),
            request: le_u64(b, REQUEST_REQUEST_AT),
            operation,
            session: le_u64(b, REQUEST_SESSION_AT),
            code,
            body_len: size - HEADER_LEN,
        }))
    }

    /// Appends a request header (for clients and tests): `code` travels as its operation.
    pub fn encode(
        code: u32,
        client: u128,
        request: u64,
        session: u64,
        body_len: usize,
        out: &mut BytesMut,
    ) {
        let start = out.len();
        out.resize(start + HEADER_LEN, 0);
        let b = &mut out[start..];
        b[SIZE_AT..SIZE_AT + 4].copy_from_slice(&((HEADER_LEN + body_len) as u32).to_le_bytes());
        b[COMMAND_AT] = command::REQUEST;
        b[REQUEST_CLIENT_AT..REQUEST_CLIENT_AT + 16].copy_from_slice(&client.to_le_bytes());
        b[REQUEST_REQUEST_AT..REQUEST_REQUEST_AT + 8].copy_from_slice(&request.to_le_bytes());
        let op = code_operation(code);
        b[REQUEST_OPERATION_AT] = op;
        b[REQUEST_SESSION_AT..REQUEST_SESSION_AT + 8].copy_from_slice(&session.to_le_bytes());
        if op == operation::NON_REPLICATED {
            b[REQUEST_CODE_AT..REQUEST_CODE_AT + 4].copy_from_slice(&code.to_le_bytes());
        }
    }
}

/// Appends the header of the reply to `req`: `status` 0 with `body_len` body bytes after it,
/// or an error code (then the body must be empty).
pub fn encode_reply_head(req: &RequestHead, status: u32, body_len: usize, out: &mut BytesMut) {
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    let b = &mut out[start..];
    b[SIZE_AT..SIZE_AT + 4].copy_from_slice(&((HEADER_LEN + body_len) as u32).to_le_bytes());
    b[COMMAND_AT] = command::REPLY;
    b[REPLY_REQUEST_CHECKSUM_AT..REPLY_REQUEST_CHECKSUM_AT + 16]
        .copy_from_slice(&req.request_checksum.to_le_bytes());
    b[REPLY_CLIENT_AT..REPLY_CLIENT_AT + 16].copy_from_slice(&req.client.to_le_bytes());
    b[REPLY_REQUEST_AT..REPLY_REQUEST_AT + 8].copy_from_slice(&req.request.to_le_bytes());
    b[REPLY_OPERATION_AT] = req.operation;
    b[REPLY_STATUS_AT..REPLY_STATUS_AT + 4].copy_from_slice(&status.to_le_bytes());
}

/// Appends an eviction frame for `client` (no body); an incompatible protocol carries the
/// versions this server accepts.
pub fn encode_eviction(client: u128, reason: u8, out: &mut BytesMut) {
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    let b = &mut out[start..];
    b[SIZE_AT..SIZE_AT + 4].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
    b[COMMAND_AT] = command::EVICTION;
    b[EVICTION_CLIENT_AT..EVICTION_CLIENT_AT + 16].copy_from_slice(&client.to_le_bytes());
    if reason == eviction::INCOMPATIBLE_PROTOCOL {
        b[EVICTION_VERSION_AT..EVICTION_VERSION_AT + 4]
            .copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        b[EVICTION_VERSION_MIN_AT..EVICTION_VERSION_MIN_AT + 4]
            .copy_from_slice(&PROTOCOL_VERSION_MIN.to_le_bytes());
    }
    b[EVICTION_REASON_AT] = reason;
}

/// What a reply header says (for clients and tests): `(command, size, status, operation)`.
pub fn parse_reply_head(buf: &[u8]) -> Option<(u8, usize, u32, u8)> {
    let b = buf.get(..HEADER_LEN)?;
    Some((
        b[COMMAND_AT],
        le_u32(b, SIZE_AT) as usize,
        le_u32(b, REPLY_STATUS_AT),
        b[REPLY_OPERATION_AT],
    ))
}

/// The reason byte of an eviction frame.
pub fn eviction_reason(buf: &[u8]) -> Option<u8> {
    buf.get(EVICTION_REASON_AT).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_and_its_code_comes_from_where_the_operation_says() {
        for code in [c::PING, c::GET_STREAM, c::CREATE_STREAM, c::SEND_MESSAGES, c::LOGOUT_USER] {
            let mut out = BytesMut::new();
            RequestHead::encode(code, 7, 9, 11, 5, &mut out);
            assert_eq!(out.len(), HEADER_LEN);
            assert_eq!(RequestHead::parse(&out[..255], 100), Ok(None));
            let head = RequestHead::parse(&out, 100).unwrap().unwrap();
            assert_eq!((head.code, head.client, head.request, head.session), (code, 7, 9, 11));
            assert_eq!(head.body_len, 5);
            assert_eq!(head.operation, code_operation(code));
        }
        let mut out = BytesMut::new();
        RequestHead::encode(c11::LOGIN_REGISTER_WITH_PAT, 1, 0, 0, 0, &mut out);
        let head = RequestHead::parse(&out, 100).unwrap().unwrap();
        assert_eq!((head.operation, head.code), (operation::REGISTER, c11::LOGIN_REGISTER));
    }

    #[test]
    fn sizes_are_checked_before_the_whole_header_is_in() {
        let mut out = BytesMut::new();
        RequestHead::encode(c::PING, 1, 0, 0, 1000, &mut out);
        assert_eq!(
            RequestHead::parse(&out[..52], 999),
            Err(HeadError::TooLarge { size: 1256, limit: 999 })
        );
        out[SIZE_AT..SIZE_AT + 4].copy_from_slice(&255u32.to_le_bytes());
        assert_eq!(RequestHead::parse(&out[..52], 999), Err(HeadError::TooShort(255)));
        let mut reply = BytesMut::new();
        RequestHead::encode(c::PING, 1, 0, 0, 0, &mut reply);
        reply[COMMAND_AT] = command::REPLY;
        assert_eq!(RequestHead::parse(&reply, 10), Err(HeadError::NotARequest(command::REPLY)));
        reply[COMMAND_AT] = command::REQUEST;
        reply[REQUEST_OPERATION_AT] = 64; // internal, never from a client
        assert_eq!(RequestHead::parse(&reply, 10), Err(HeadError::UnknownOperation(64)));
    }

    #[test]
    fn replies_and_evictions_carry_what_the_sdk_reads() {
        let mut out = BytesMut::new();
        RequestHead::encode(c::CREATE_STREAM, 42, 3, 8, 0, &mut out);
        let head = RequestHead::parse(&out, 10).unwrap().unwrap();
        let mut reply = BytesMut::new();
        encode_reply_head(&head, 0, 10, &mut reply);
        assert_eq!(
            parse_reply_head(&reply),
            Some((command::REPLY, 266, 0, operation::CREATE_STREAM))
        );
        assert!(is_result_framed(operation::CREATE_STREAM));
        assert!(!is_result_framed(operation::SEND_MESSAGES));
        assert!(!is_result_framed(operation::DELETE_SEGMENTS));
        assert!(is_result_framed(operation::STORE_CONSUMER_OFFSET));
        assert!(!is_result_framed(operation::NON_REPLICATED));
        let mut ev = BytesMut::new();
        encode_eviction(42, eviction::INCOMPATIBLE_PROTOCOL, &mut ev);
        assert_eq!(ev.len(), HEADER_LEN);
        assert_eq!(ev[COMMAND_AT], command::EVICTION);
        assert_eq!(eviction_reason(&ev), Some(eviction::INCOMPATIBLE_PROTOCOL));
        assert_eq!(le_u32(&ev, EVICTION_VERSION_AT), PROTOCOL_VERSION);
        assert!(protocol_compatible(PROTOCOL_VERSION + 3));
        assert!(!protocol_compatible(PROTOCOL_VERSION + (1 << COMPONENT_BITS)));
        assert!(!protocol_compatible(10 << COMPONENT_BITS));
    }
}
