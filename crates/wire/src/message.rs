//! One message in Iggy's wire and storage layout, and the checks a batch passes before anything
//! is stored.
//!
//! Layout (64-byte header since server 0.7.0): `checksum u64 @0, id u128 @8, offset u64 @24,
//! timestamp u64 @32, origin_timestamp u64 @40, user_headers_length u32 @48, payload_length u32
//! @52, reserved u64 @56`, then the payload, then the user headers. The checksum is XXH3-64 over
//! every byte after the checksum field. Messages are stored in this layout and returned as is.

use crate::cursor::WireError;

/// Bytes in a message header.
pub const HEADER_LEN: usize = 64;
/// Largest payload Iggy accepts (`MAX_PAYLOAD_SIZE`).
pub const MAX_PAYLOAD_LEN: u32 = 64_000_000;
/// Largest user headers block Iggy accepts (`MAX_USER_HEADERS_SIZE`).
pub const MAX_USER_HEADERS_LEN: u32 = 100_000;

/// The fixed fields of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    pub checksum: u64,
    pub id: u128,
    pub offset: u64,
    pub timestamp: u64,
    pub origin_timestamp: u64,
    pub user_headers_len: u32,
    pub payload_len: u32,
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

impl MessageHeader {
    /// Reads the header at the start of `buf`; `None` if fewer than 64 bytes are there.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.get(..HEADER_LEN)?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&b[8..24]);
        Some(Self {
            checksum: le64(b, 0),
            id: u128::from_le_bytes(id),
            offset: le64(b, 24),
            timestamp: le64(b, 32),
            origin_timestamp: le64(b, 40),
            user_headers_len: le32(b, 48),
            payload_len: le32(b, 52),
        })
    }

    /// The whole message's length: header, payload and user headers.
    pub fn total_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.payload_len) + u64::from(self.user_headers_len)
    }
}

/// XXH3-64 over the message bytes after the checksum field.
pub fn checksum(message: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(message.get(8..).unwrap_or_default())
}

/// Writes the server-assigned offset and timestamp into a message and then its checksum.
/// `message` holds exactly one whole message.
pub fn stamp(message: &mut [u8], offset: u64, timestamp: u64) {
    if message.len() < HEADER_LEN {
        return;
    }
    message[24..32].copy_from_slice(&offset.to_le_bytes());
    message[32..40].copy_from_slice(&timestamp.to_le_bytes());
    let sum = checksum(message);
    message[0..8].copy_from_slice(&sum.to_le_bytes());
}

/// Checks the messages region of a SEND_MESSAGES request against its count and index:
/// every header fits, lengths are within Iggy's limits, each message ends exactly where the
/// index says (the index's position is the cumulative end of each message), and nothing is left
/// over. Returns the length of each message.
pub fn validate_batch(count: u32, index: &[u8], messages: &[u8]) -> Result<Vec<u32>, WireError> {
    if count == 0 {
        return Err(WireError::Invalid("messages count"));
    }
    if index.len() != count as usize * 16 {
        return Err(WireError::Invalid("messages index"));
    }
    let mut lens = Vec::with_capacity(count as usize);
    let mut pos = 0usize;
    for entry in index.chunks_exact(16) {
        let header = MessageHeader::parse(&messages[pos.min(messages.len())..])
            .ok_or(WireError::Invalid("message header"))?;
        if header.payload_len == 0 {
            return Err(WireError::Invalid("empty message payload"));
        }
        if header.payload_len > MAX_PAYLOAD_LEN || header.user_headers_len > MAX_USER_HEADERS_LEN {
            return Err(WireError::Invalid("message payload length"));
        }
        let len = header.total_len() as usize;
        let end = pos + len;
        if end > messages.len() {
            return Err(WireError::Invalid("message length"));
        }
        if le32(entry, 4) as usize != end {
            return Err(WireError::Invalid("messages index position"));
        }
        lens.push(len as u32);
        pos = end;
    }
    if pos != messages.len() {
        return Err(WireError::Invalid("bytes after the last message"));
    }
    Ok(lens)
}

/// Appends one message in wire layout (for clients and tests): a 64-byte header with the
/// checksum, offset and timestamp left zero, the payload, then the user headers.
pub fn encode_message(
    out: &mut bytes::BytesMut,
    id: u128,
    origin_timestamp: u64,
    payload: &[u8],
    headers: &[u8],
) {
    use bytes::BufMut;
    out.put_u64_le(0);
    out.put_u128_le(id);
    out.put_u64_le(0);
    out.put_u64_le(0);
    out.put_u64_le(origin_timestamp);
    out.put_u32_le(headers.len() as u32);
    out.put_u32_le(payload.len() as u32);
    out.put_u64_le(0);
    out.put_slice(payload);
    out.put_slice(headers);
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;

    fn batch(payloads: &[&[u8]]) -> (BytesMut, BytesMut) {
        let mut index = BytesMut::new();
        let mut msgs = BytesMut::new();
        for (i, p) in payloads.iter().enumerate() {
            encode_message(&mut msgs, i as u128 + 1, 0, p, b"h");
            index.put_u32_le(0);
            index.put_u32_le(msgs.len() as u32);
            index.put_u64_le(0);
        }
        (index, msgs)
    }

    #[test]
    fn a_valid_batch_passes_and_stamping_sets_a_verifiable_checksum() {
        let (index, mut msgs) = batch(&[b"one", b"three"]);
        let lens = validate_batch(2, &index, &msgs).unwrap();
        assert_eq!(lens, vec![64 + 3 + 1, 64 + 5 + 1]);
        let first = &mut msgs[..lens[0] as usize];
        stamp(first, 42, 1_700_000_000_000_000);
        let h = MessageHeader::parse(first).unwrap();
        assert_eq!((h.offset, h.timestamp, h.id), (42, 1_700_000_000_000_000, 1));
        assert_eq!(h.checksum, checksum(first));
        first[66] ^= 1;
        assert_ne!(h.checksum, checksum(first));
    }

    #[test]
    fn inconsistent_batches_are_refused() {
        let (index, msgs) = batch(&[b"one", b"two"]);
        assert!(validate_batch(3, &index, &msgs).is_err(), "count vs index");
        assert!(validate_batch(0, &[], &[]).is_err(), "empty batch");
        assert!(validate_batch(2, &index, &msgs[..msgs.len() - 1]).is_err(), "truncated");
        let mut extra = msgs.clone();
        extra.put_u8(0);
        assert!(validate_batch(2, &index, &extra).is_err(), "trailing bytes");
        let mut bad_index = index.clone();
        bad_index[4] ^= 1;
        assert!(validate_batch(2, &bad_index, &msgs).is_err(), "index position");
        let (index, msgs) = batch(&[b""]);
        assert!(validate_batch(1, &index, &msgs).is_err(), "empty payload");
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(count in 0u32..5, index in proptest::collection::vec(0u8..=255, 0..100),
                                msgs in proptest::collection::vec(0u8..=255, 0..300)) {
            validate_batch(count, &index, &msgs).ok();
        }
    }
}
