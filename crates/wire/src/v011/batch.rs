//! Messages in protocol 0.11's batch layout, translated to and from the 0.8 layout Eddy stores.
//!
//! A batch: a 256-byte header `[partition_id u64][base_offset u64][base_timestamp u64]
//! [origin_timestamp u64][batch_length u64][batch_checksum u64][message_count u32]`, reserved
//! zero to byte 256, then `message_count` frames `[checksum u64][id u128][offset_delta u32]
//! [timestamp_delta u32][user_headers_length u32][payload_length u32][reserved u64 = 0]`
//! followed by the payload and the user headers. `batch_length` counts the header. A frame's
//! checksum is XXH3-64 over its bytes after the checksum; the batch checksum is XXH3-64 over
//! the header fields above (without the checksum, in that order, `message_count` as 4 bytes)
//! followed by each frame's 8 checksum bytes. Every message of a batch has the batch's
//! timestamp; its offset is `base_offset + offset_delta`, its origin timestamp
//! `origin_timestamp + timestamp_delta`.
//!
//! SEND_MESSAGES: `[metadata_length u32][stream][topic][partitioning][messages_count u32]`
//! (as on the 0.8 wire) then one batch. POLL_MESSAGES' reply: the 16-byte head of the 0.8 reply
//! then batches: each run of stored messages that share a timestamp becomes one batch, so every
//! message keeps its own offset, timestamp and origin timestamp.

use bytes::{BufMut, BytesMut};
use xxhash_rust::xxh3::{Xxh3Default, xxh3_64};

use crate::cursor::{Cursor, WireError};
use crate::message::{self, MAX_PAYLOAD_LEN, MAX_USER_HEADERS_LEN, MessageHeader};

/// Bytes in a batch header.
pub const BATCH_HEADER_LEN: usize = 256;
/// Bytes in a frame header.
pub const FRAME_HEADER_LEN: usize = 48;
const CHECKSUM_AT: usize = 40;
const COUNT_AT: usize = 48;
const RESERVED_AT: usize = 52;

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The fields of a batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub partition_id: u64,
    pub base_offset: u64,
    pub base_timestamp: u64,
    pub origin_timestamp: u64,
    pub batch_length: u64,
    pub batch_checksum: u64,
    pub message_count: u32,
}

impl BatchHeader {
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = b.get(..BATCH_HEADER_LEN).ok_or(WireError::Truncated {
            at: 0,
            needed: BATCH_HEADER_LEN - b.len().min(BATCH_HEADER_LEN),
        })?;
        if b[RESERVED_AT..].iter().any(|&x| x != 0) {
            return Err(WireError::Invalid("batch header reserved bytes"));
        }
        Ok(Self {
            partition_id: le64(b, 0),
            base_offset: le64(b, 8),
            base_timestamp: le64(b, 16),
            origin_timestamp: le64(b, 24),
            batch_length: le64(b, 32),
            batch_checksum: le64(b, CHECKSUM_AT),
            message_count: le32(b, COUNT_AT),
        })
    }

    fn write(&self, out: &mut [u8]) {
        out[..BATCH_HEADER_LEN].fill(0);
        for (at, v) in [
            (0, self.partition_id),
            (8, self.base_offset),
            (16, self.base_timestamp),
            (24, self.origin_timestamp),
            (32, self.batch_length),
            (CHECKSUM_AT, self.batch_checksum),
        ] {
            out[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        out[COUNT_AT..COUNT_AT + 4].copy_from_slice(&self.message_count.to_le_bytes());
    }

    /// The batch checksum over these fields and the frames' checksums in `blob`.
    fn checksum(&self, frame_checksums: impl Iterator<Item = u64>) -> u64 {
        let mut h = Xxh3Default::new();
        for v in [
            self.partition_id,
            self.base_offset,
            self.base_timestamp,
            self.origin_timestamp,
            self.batch_length,
        ] {
            h.update(&v.to_le_bytes());
        }
        h.update(&self.message_count.to_le_bytes());
        for sum in frame_checksums {
            h.update(&sum.to_le_bytes());
        }
        h.digest()
    }
}

/// One frame of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub checksum: u64,
    pub id: u128,
    pub offset_delta: u32,
    pub timestamp_delta: u32,
    pub payload: &'a [u8],
    pub user_headers: &'a [u8],
}

/// Walks and checks a batch: its length, its reserved bytes, every frame's bounds and
/// checksum, the batch checksum, and that the frames tile `message_count` exactly.
pub fn parse_batch(body: &[u8]) -> Result<(BatchHeader, Vec<Frame<'_>>), WireError> {
    let header = BatchHeader::parse(body)?;
    if header.batch_length != body.len() as u64 {
        return Err(WireError::Invalid("batch length"));
    }
    if header.message_count == 0 {
        return Err(WireError::Invalid("messages count"));
    }
    let mut c = Cursor::new(&body[BATCH_HEADER_LEN..]);
    let mut frames =
        Vec::with_capacity((header.message_count as usize).min(c.remaining() / FRAME_HEADER_LEN));
    while c.remaining() > 0 {
        if frames.len() == header.message_count as usize {
            return Err(WireError::Invalid("frames past the message count"));
        }
        let start = c.position();
        let checksum = c.u64()?;
        let id = c.u128()?;
        let offset_delta = c.u32()?;
        let timestamp_delta = c.u32()?;
        let headers_len = c.u32()?;
        let payload_len = c.u32()?;
        if c.u64()? != 0 {
            return Err(WireError::Invalid("frame reserved bytes"));
        }
        if payload_len == 0 {
            return Err(WireError::Invalid("empty message payload"));
        }
        if payload_len > MAX_PAYLOAD_LEN || headers_len > MAX_USER_HEADERS_LEN {
            return Err(WireError::Invalid("message payload length"));
        }
        let payload = c.bytes(payload_len as usize)?;
        let user_headers = c.bytes(headers_len as usize)?;
        let frame = &body[BATCH_HEADER_LEN + start..BATCH_HEADER_LEN + c.position()];
        if xxh3_64(&frame[8..]) != checksum {
            return Err(WireError::Invalid("message checksum"));
        }
        frames.push(Frame { checksum, id, offset_delta, timestamp_delta, payload, user_headers });
    }
    if frames.len() != header.message_count as usize {
        return Err(WireError::Invalid("messages count"));
    }
    if header.checksum(frames.iter().map(|f| f.checksum)) != header.batch_checksum {
        return Err(WireError::Invalid("batch checksum"));
    }
    Ok((header, frames))
}

/// Translates a SEND_MESSAGES body into the 0.8 payload (metadata, index, 64-byte messages
/// with their origin timestamps), checked as [`parse_batch`] checks.
pub fn send_to_v08(body: &[u8]) -> Result<BytesMut, WireError> {
    let mut c = Cursor::new(body);
    let metadata_len = c.u32()? as usize;
    let metadata = c.bytes(metadata_len)?;
    // The metadata is the 0.8 wire's: checked the same way (identifiers, partitioning, count).
    let mut m = Cursor::new(metadata);
    crate::commands::decode_stream_topic(&mut m)?;
    crate::commands::messages::Partitioning::decode(&mut m)?;
    let count = m.u32()?;
    m.finish().map_err(|_| WireError::Invalid("metadata length"))?;
    let (header, frames) = parse_batch(c.rest())?;
    if frames.len() != count as usize {
        return Err(WireError::Invalid("messages count"));
    }
    let messages: usize =
        frames.iter().map(|f| message::HEADER_LEN + f.payload.len() + f.user_headers.len()).sum();
    let mut out = BytesMut::with_capacity(4 + metadata_len + 16 * frames.len() + messages);
    out.put_u32_le(metadata_len as u32);
    out.put_slice(metadata);
    let mut end = 0u64;
    for f in &frames {
        end += (message::HEADER_LEN + f.payload.len() + f.user_headers.len()) as u64;
        let end = u32::try_from(end).map_err(|_| WireError::Invalid("batch size"))?;
        out.put_u32_le(0);
        out.put_u32_le(end);
        out.put_u64_le(0);
    }
    for f in &frames {
        let origin = header.origin_timestamp.saturating_add(u64::from(f.timestamp_delta));
        message::encode_message(&mut out, f.id, origin, f.payload, f.user_headers);
    }
    Ok(out)
}

/// Appends stored 0.8 messages (`stored`, whole messages back to back) as 0.11 batches of
/// `partition`.
pub fn encode_polled(partition: u32, stored: &[u8], out: &mut BytesMut) -> Result<(), WireError> {
    let mut at = 0;
    while at < stored.len() {
        let first =
            MessageHeader::parse(&stored[at..]).ok_or(WireError::Invalid("stored message"))?;
        let start = out.len();
        out.resize(start + BATCH_HEADER_LEN, 0);
        let mut count = 0u32;
        let mut sums = Vec::new();
        while at < stored.len() {
            let Some(m) = MessageHeader::parse(&stored[at..]) else { break };
            let len =
                usize::try_from(m.total_len()).map_err(|_| WireError::Invalid("stored message"))?;
            let whole = stored.get(at..at + len).ok_or(WireError::Invalid("stored message"))?;
            let offset_delta =
                m.offset.checked_sub(first.offset).and_then(|d| u32::try_from(d).ok());
            let origin_delta = m
                .origin_timestamp
                .checked_sub(first.origin_timestamp)
                .and_then(|d| u32::try_from(d).ok());
            let (Some(offset_delta), Some(origin_delta)) = (offset_delta, origin_delta) else {
                break;
            };
            if count > 0 && m.timestamp != first.timestamp {
                break;
            }
            let frame = out.len();
            out.put_u64_le(0);
            out.put_u128_le(m.id);
            out.put_u32_le(offset_delta);
            out.put_u32_le(origin_delta);
            out.put_u32_le(m.user_headers_len);
            out.put_u32_le(m.payload_len);
            out.put_u64_le(0);
            out.put_slice(&whole[message::HEADER_LEN..]);
            let sum = xxh3_64(&out[frame + 8..]);
            out[frame..frame + 8].copy_from_slice(&sum.to_le_bytes());
            sums.push(sum);
            count += 1;
            at += len;
        }
        if count == 0 {
            return Err(WireError::Invalid("stored message"));
        }
        let mut header = BatchHeader {
            partition_id: u64::from(partition),
            base_offset: first.offset,
            base_timestamp: first.timestamp,
            origin_timestamp: first.origin_timestamp,
            batch_length: (out.len() - start) as u64,
            batch_checksum: 0,
            message_count: count,
        };
        header.batch_checksum = header.checksum(sums.into_iter());
        header.write(&mut out[start..start + BATCH_HEADER_LEN]);
    }
    Ok(())
}

/// Appends a SEND_MESSAGES body (for clients and tests): `metadata` as the 0.8 wire has it
/// (identifiers, partitioning, count), then one batch of `(id, origin_timestamp, payload,
/// user_headers)`.
pub fn encode_send(metadata: &[u8], messages: &[(u128, u64, &[u8], &[u8])], out: &mut BytesMut) {
    out.put_u32_le(metadata.len() as u32);
    out.put_slice(metadata);
    let origin = messages.iter().map(|m| m.1).min().unwrap_or(0);
    let start = out.len();
    out.resize(start + BATCH_HEADER_LEN, 0);
    let mut sums = Vec::new();
    for (i, (id, ts, payload, headers)) in messages.iter().enumerate() {
        let frame = out.len();
        out.put_u64_le(0);
        out.put_u128_le(*id);
        out.put_u32_le(i as u32);
        out.put_u32_le((ts - origin) as u32);
        out.put_u32_le(headers.len() as u32);
        out.put_u32_le(payload.len() as u32);
        out.put_u64_le(0);
        out.put_slice(payload);
        out.put_slice(headers);
        let sum = xxh3_64(&out[frame + 8..]);
        out[frame..frame + 8].copy_from_slice(&sum.to_le_bytes());
        sums.push(sum);
    }
    let mut header = BatchHeader {
        partition_id: 0,
        base_offset: 0,
        base_timestamp: 0,
        origin_timestamp: origin,
        batch_length: (out.len() - start) as u64,
        batch_checksum: 0,
        message_count: messages.len() as u32,
    };
    header.batch_checksum = header.checksum(sums.into_iter());
    header.write(&mut out[start..start + BATCH_HEADER_LEN]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::messages::{Partitioning, SendMessages};
    use crate::identifier::Identifier;

    fn metadata(count: u32) -> BytesMut {
        let mut m = BytesMut::new();
        Identifier::Numeric(1).encode(&mut m);
        Identifier::Numeric(2).encode(&mut m);
        Partitioning::PartitionId(0).encode(&mut m);
        m.put_u32_le(count);
        m
    }

    const MSGS: [(u128, u64, &[u8], &[u8]); 3] = [
        (11, 1_000, b"one", b""),
        (12, 1_005, b"two", b"\x02\x01\x00\x00\x00k\x02\x01\x00\x00\x00v"),
        (13, 1_001, b"three", b""),
    ];

    #[test]
    fn a_sent_batch_becomes_the_same_messages_in_0_8_layout() {
        let mut body = BytesMut::new();
        encode_send(&metadata(3), &MSGS, &mut body);
        let v08 = send_to_v08(&body).unwrap();
        let req = SendMessages::decode(&v08).unwrap();
        assert_eq!(req.lengths.len(), 3);
        let mut at = req.messages_at;
        for (i, (id, ts, payload, headers)) in MSGS.iter().enumerate() {
            let m = MessageHeader::parse(&v08[at..]).unwrap();
            assert_eq!((m.id, m.origin_timestamp), (*id, *ts));
            let p = at + message::HEADER_LEN;
            assert_eq!(&v08[p..p + payload.len()], *payload);
            assert_eq!(&v08[p + payload.len()..p + payload.len() + headers.len()], *headers);
            at += req.lengths[i] as usize;
        }
    }

    #[test]
    fn tampered_or_inconsistent_batches_are_refused() {
        let mut body = BytesMut::new();
        encode_send(&metadata(3), &MSGS, &mut body);
        let batch_at = 4 + metadata(3).len();
        for flip in [batch_at + 300, batch_at + 40, batch_at + 60, batch_at + 256 + 20] {
            let mut bad = body.clone();
            bad[flip] ^= 1;
            assert!(send_to_v08(&bad).is_err(), "flipped byte {flip}");
        }
        let mut wrong_count = BytesMut::new();
        encode_send(&metadata(2), &MSGS, &mut wrong_count);
        assert!(send_to_v08(&wrong_count).is_err());
        for cut in 0..body.len() {
            assert!(send_to_v08(&body[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn stored_messages_poll_as_batches_keeping_every_field() {
        let mut stored = BytesMut::new();
        // offsets 5..9; timestamps: three share one, then two more distinct.
        let stamps = [100u64, 100, 100, 200, 300];
        for (i, ts) in stamps.iter().enumerate() {
            let at = stored.len();
            message::encode_message(&mut stored, i as u128, 50 + i as u64, b"payload", b"");
            message::stamp(&mut stored[at..], 5 + i as u64, *ts);
        }
        let mut out = BytesMut::new();
        encode_polled(3, &stored, &mut out).unwrap();
        let mut at = 0;
        let mut seen = Vec::new();
        let mut batches = 0;
        while at < out.len() {
            let h = BatchHeader::parse(&out[at..]).unwrap();
            let (header, frames) = parse_batch(&out[at..at + h.batch_length as usize]).unwrap();
            assert_eq!(header.partition_id, 3);
            for f in frames {
                seen.push((
                    header.base_offset + u64::from(f.offset_delta),
                    header.base_timestamp,
                    header.origin_timestamp + u64::from(f.timestamp_delta),
                    f.id,
                ));
            }
            at += h.batch_length as usize;
            batches += 1;
        }
        assert_eq!(batches, 3);
        let want: Vec<_> = stamps
            .iter()
            .enumerate()
            .map(|(i, ts)| (5 + i as u64, *ts, 50 + i as u64, i as u128))
            .collect();
        assert_eq!(seen, want);
    }
}
