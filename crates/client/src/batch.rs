//! Outgoing batches (messages already in wire layout, so a benchmark can send the same batch many
//! times without re-encoding) and polled messages (payloads sliced out of the reply, no copy).

use bytes::{Buf, Bytes, BytesMut};
use eddy_wire::commands::messages::{FETCHED_PART_HEAD_LEN, POLLED_HEAD_LEN, decode_polled_head};
use eddy_wire::message::{HEADER_LEN, MessageHeader, encode_message};

use crate::ClientError;

/// Messages ready to send.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The messages back to back in wire layout.
    pub(crate) messages: Bytes,
    /// Invariant: one entry per message, summing to `messages.len()`.
    pub(crate) lengths: Vec<u32>,
}

impl Batch {
    /// A batch of `(id, payload)` messages without user headers.
    pub fn from_payloads<'a>(messages: impl IntoIterator<Item = (u128, &'a [u8])>) -> Self {
        Self::from_messages(messages.into_iter().map(|(id, p)| (id, p, &[][..])))
    }

    /// A batch of `(id, payload, user_headers)` messages; `user_headers` is Iggy's encoded header
    /// map (or empty).
    pub fn from_messages<'a>(
        messages: impl IntoIterator<Item = (u128, &'a [u8], &'a [u8])>,
    ) -> Self {
        Self::stamped(0, messages)
    }

    /// [`Batch::from_messages`] with every message's origin timestamp (µs since the Unix
    /// epoch, the producer's clock) set to `origin_timestamp`.
    pub fn stamped<'a>(
        origin_timestamp: u64,
        messages: impl IntoIterator<Item = (u128, &'a [u8], &'a [u8])>,
    ) -> Self {
        let mut out = BytesMut::new();
        let mut lengths = Vec::new();
        for (id, payload, headers) in messages {
            let before = out.len();
            encode_message(&mut out, id, origin_timestamp, payload, headers);
            lengths.push((out.len() - before) as u32);
        }
        Self { messages: out.freeze(), lengths }
    }

    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Bytes of message data.
    pub fn size_bytes(&self) -> usize {
        self.messages.len()
    }
}

/// One polled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolledMessage {
    pub offset: u64,
    pub id: u128,
    pub timestamp: u64,
    /// The producer's timestamp (µs), as it sent it.
    pub origin_timestamp: u64,
    pub checksum: u64,
    pub payload: Bytes,
    pub user_headers: Bytes,
}

/// A poll reply.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub partition: u32,
    pub current_offset: u64,
    pub messages: Vec<PolledMessage>,
}

impl Polled {
    /// Parses `[partition u32][current_offset u64][count u32][messages]`.
    pub(crate) fn parse(mut reply: Bytes) -> Result<Self, ClientError> {
        let (partition, current_offset, count) = decode_polled_head(&reply)
            .map_err(|_| ClientError::Malformed("poll reply shorter than its head"))?;
        reply.advance(POLLED_HEAD_LEN);
        Self::parse_messages(partition, current_offset, count, reply)
    }

    /// Parses a FETCH_MESSAGES reply: `[partitions u32]`, then per partition
    /// `[partition u32][current_offset u64][count u32][bytes u32]` and that many message bytes.
    pub(crate) fn parse_fetched(mut reply: Bytes) -> Result<Vec<Self>, ClientError> {
        let short = || ClientError::Malformed("fetch reply shorter than its heads");
        if reply.len() < 4 {
            return Err(short());
        }
        let n = u32::from_le_bytes([reply[0], reply[1], reply[2], reply[3]]) as usize;
        reply.advance(4);
        let mut out = Vec::with_capacity(n.min(reply.len() / FETCHED_PART_HEAD_LEN));
        for _ in 0..n {
            let (partition, current_offset, count) =
                decode_polled_head(&reply).map_err(|_| short())?;
            let at = POLLED_HEAD_LEN;
            let len = reply.get(at..at + 4).ok_or_else(short)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            reply.advance(FETCHED_PART_HEAD_LEN);
            if len > reply.len() {
                return Err(ClientError::Malformed("truncated fetched partition"));
            }
            let messages = reply.split_to(len);
            out.push(Self::parse_messages(partition, current_offset, count, messages)?);
        }
        if !reply.is_empty() {
            return Err(ClientError::Malformed("bytes after the last fetched partition"));
        }
        Ok(out)
    }

    fn parse_messages(
        partition: u32,
        current_offset: u64,
        count: u32,
        mut reply: Bytes,
    ) -> Result<Self, ClientError> {
        let count = count as usize;
        let mut messages = Vec::with_capacity(count.min(reply.len() / HEADER_LEN));
        while !reply.is_empty() {
            let h = MessageHeader::parse(&reply)
                .ok_or(ClientError::Malformed("truncated message header"))?;
            let total = h.total_len() as usize;
            if total > reply.len() {
                return Err(ClientError::Malformed("truncated message"));
            }
            let mut msg = reply.split_to(total);
            msg.advance(HEADER_LEN);
            let payload = msg.split_to(h.payload_len as usize);
            messages.push(PolledMessage {
                offset: h.offset,
                id: h.id,
                timestamp: h.timestamp,
                origin_timestamp: h.origin_timestamp,
                checksum: h.checksum,
                payload,
                user_headers: msg,
            });
        }
        if messages.len() != count {
            return Err(ClientError::Malformed("message count does not match"));
        }
        Ok(Self { partition, current_offset, messages })
    }
}
