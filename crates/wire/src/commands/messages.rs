//! SEND_MESSAGES, POLL_MESSAGES (and its deferred form) and FLUSH_UNSAVED_BUFFER.

use bytes::{BufMut, BytesMut};

use super::{Consumer, decode_optional_partition, decode_stream_topic};
use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;
use crate::message::validate_batch;

/// How a batch picks its partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// Round-robin over the topic's partitions.
    Balanced,
    /// This partition.
    PartitionId(u32),
    /// The partition a hash of this key picks: one key, one partition.
    MessagesKey(Vec<u8>),
}

impl Partitioning {
    /// `[kind u8][len u8][value]`.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let kind = c.u8()?;
        let len = usize::from(c.u8()?);
        match (kind, len) {
            (1, 0) => Ok(Self::Balanced),
            (2, 4) => Ok(Self::PartitionId(c.u32()?)),
            (3, 1..) => Ok(Self::MessagesKey(c.bytes(len)?.to_vec())),
            _ => Err(WireError::Invalid("partitioning")),
        }
    }

    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Balanced => out.put_slice(&[1, 0]),
            Self::PartitionId(id) => {
                out.put_slice(&[2, 4]);
                out.put_u32_le(*id);
            }
            Self::MessagesKey(key) => {
                out.put_u8(3);
                out.put_u8(key.len() as u8);
                out.put_slice(key);
            }
        }
    }
}

/// A decoded, validated SEND_MESSAGES request. The messages stay in the caller's buffer, from
/// `messages_at` to its end, so the server can stamp them in place without a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessages {
    pub stream: Identifier,
    pub topic: Identifier,
    pub partitioning: Partitioning,
    /// Where the messages start in the payload.
    pub messages_at: usize,
    /// The length of each message. Invariant: they sum to `payload.len() - messages_at`.
    pub lengths: Vec<u32>,
}

impl SendMessages {
    /// `[metadata_length u32][stream][topic][partitioning][messages_count u32]
    /// [index: count × 16 B][messages]`; `metadata_length` covers the identifiers, the
    /// partitioning and the count. Every message is checked (see `validate_batch`).
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let metadata_len = c.u32()? as usize;
        let start = c.position();
        let (stream, topic) = decode_stream_topic(&mut c)?;
        let partitioning = Partitioning::decode(&mut c)?;
        let count = c.u32()?;
        if c.position() - start != metadata_len {
            return Err(WireError::Invalid("metadata length"));
        }
        let index_len =
            (count as usize).checked_mul(16).ok_or(WireError::Invalid("messages count"))?;
        let index = c.bytes(index_len)?;
        let at = c.position();
        let lengths = validate_batch(count, index, &payload[at..])?;
        Ok(Self { stream, topic, partitioning, messages_at: at, lengths })
    }

    /// Appends a request payload (for clients): `messages` back to back in wire layout.
    pub fn encode(
        stream: &Identifier,
        topic: &Identifier,
        partitioning: &Partitioning,
        messages: &[u8],
        lengths: &[u32],
        out: &mut BytesMut,
    ) {
        Self::encode_prefix(stream, topic, partitioning, lengths, out);
        out.put_slice(messages);
    }

    /// Appends everything of a request payload before its messages (metadata and index), so a
    /// client can send the messages themselves from where they are, without a copy.
    pub fn encode_prefix(
        stream: &Identifier,
        topic: &Identifier,
        partitioning: &Partitioning,
        lengths: &[u32],
        out: &mut BytesMut,
    ) {
        let mut meta = BytesMut::new();
        stream.encode(&mut meta);
        topic.encode(&mut meta);
        partitioning.encode(&mut meta);
        meta.put_u32_le(lengths.len() as u32);
        out.put_u32_le(meta.len() as u32);
        out.put_slice(&meta);
        let mut end = 0u32;
        for len in lengths {
            end += len;
            out.put_u32_le(0);
            out.put_u32_le(end);
            out.put_u64_le(0);
        }
    }
}

/// Where a poll starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollingStrategy {
    /// At this offset.
    Offset(u64),
    /// At the first message whose timestamp (µs) is ≥ this.
    Timestamp(u64),
    /// At the first message.
    First,
    /// At the last `count` messages.
    Last,
    /// After the consumer's stored offset (or at the start).
    Next,
}

impl PollingStrategy {
    /// `[kind u8: 1 offset, 2 timestamp, 3 first, 4 last, 5 next][value u64]`.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let kind = c.u8()?;
        let value = c.u64()?;
        Ok(match kind {
            1 => Self::Offset(value),
            2 => Self::Timestamp(value),
            3 => Self::First,
            4 => Self::Last,
            5 => Self::Next,
            _ => return Err(WireError::Invalid("polling strategy")),
        })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        let (kind, value) = match *self {
            Self::Offset(o) => (1, o),
            Self::Timestamp(t) => (2, t),
            Self::First => (3, 0),
            Self::Last => (4, 0),
            Self::Next => (5, 0),
        };
        out.put_u8(kind);
        out.put_u64_le(value);
    }
}

/// A decoded POLL_MESSAGES request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollMessages {
    pub consumer: Consumer,
    pub stream: Identifier,
    pub topic: Identifier,
    pub partition: Option<u32>,
    pub strategy: PollingStrategy,
    pub count: u32,
    pub auto_commit: bool,
}

impl PollMessages {
    /// `[consumer][stream][topic][has_partition u8][partition u32][strategy u8][value u64]
    /// [count u32][auto_commit u8]`.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let poll = Self::decode_from(&mut c)?;
        c.finish()?;
        Ok(poll)
    }

    fn decode_from(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let consumer = Consumer::decode(c)?;
        let (stream, topic) = decode_stream_topic(c)?;
        let partition = decode_optional_partition(c)?;
        let strategy = PollingStrategy::decode(c)?;
        let count = c.u32()?;
        let auto_commit = match c.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::Invalid("auto commit flag")),
        };
        Ok(Self { consumer, stream, topic, partition, strategy, count, auto_commit })
    }
}

/// The longest wait a deferred poll may ask for (µs): 600 s.
pub const MAX_DEFERRED_WAIT_US: u64 = 600_000_000;

/// A decoded POLL_MESSAGES_DEFERRED request: a poll answered once `min_count` messages are
/// there, `max_bytes` of them are (0: no byte budget), or `wait_us` has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollDeferred {
    pub poll: PollMessages,
    pub wait_us: u64,
    pub min_count: u32,
    pub max_bytes: u32,
    /// How long the client waits for the reply (µs; 0: no limit of its own): the wait never
    /// runs past it.
    pub request_timeout_us: u64,
}

impl PollDeferred {
    /// The POLL_MESSAGES body, then `[wait_us u64][min_count u32][max_bytes u32]
    /// [request_timeout_us u64]`. A wait over [`MAX_DEFERRED_WAIT_US`] is invalid.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let poll = PollMessages::decode_from(&mut c)?;
        let wait_us = c.u64()?;
        let min_count = c.u32()?;
        let max_bytes = c.u32()?;
        let request_timeout_us = c.u64()?;
        c.finish()?;
        if wait_us > MAX_DEFERRED_WAIT_US {
            return Err(WireError::Invalid("deferred wait over 600 s"));
        }
        Ok(Self { poll, wait_us, min_count, max_bytes, request_timeout_us })
    }

    /// The wait the server grants: the asked one, never past the client's own timeout or `cap`.
    pub fn granted_wait_us(&self, cap_us: u64) -> u64 {
        let mut wait = self.wait_us.min(cap_us);
        if self.request_timeout_us > 0 {
            wait = wait.min(self.request_timeout_us);
        }
        wait
    }
}

/// Most partitions one FETCH_MESSAGES names (a topic has at most 1000).
pub const MAX_FETCH_PARTITIONS: usize = 1000;

/// A decoded FETCH_MESSAGES request (code 109; Eddy's layout, see docs/PROTOCOL.md): a deferred
/// poll of several partitions of one topic at once, answered once `min_count` messages are
/// readable across them, or when the wait ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchMessages {
    pub consumer: Consumer,
    pub stream: Identifier,
    pub topic: Identifier,
    /// Empty: every partition of the topic.
    pub partitions: Vec<u32>,
    pub strategy: PollingStrategy,
    /// At most this many messages per partition.
    pub count: u32,
    pub auto_commit: bool,
    pub wait_us: u64,
    pub min_count: u32,
    /// The reply's byte budget (0: the server's limit); at least one message is returned.
    pub max_bytes: u32,
    pub request_timeout_us: u64,
}

impl FetchMessages {
    /// `[consumer][stream][topic][partitions_count u32][partition_id u32]*[strategy u8]
    /// [value u64][count u32][auto_commit u8][wait_us u64][min_count u32][max_bytes u32]
    /// [request_timeout_us u64]`. A wait over [`MAX_DEFERRED_WAIT_US`], more than
    /// [`MAX_FETCH_PARTITIONS`] partitions or one named twice is invalid.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let consumer = Consumer::decode(&mut c)?;
        let (stream, topic) = decode_stream_topic(&mut c)?;
        let n = c.u32()? as usize;
        if n > MAX_FETCH_PARTITIONS || n > c.remaining() / 4 {
            return Err(WireError::Invalid("fetch partitions count"));
        }
        let mut partitions = Vec::with_capacity(n);
        for _ in 0..n {
            let p = c.u32()?;
            if partitions.contains(&p) {
                return Err(WireError::Invalid("a partition listed twice"));
            }
            partitions.push(p);
        }
        let strategy = PollingStrategy::decode(&mut c)?;
        let count = c.u32()?;
        let auto_commit = match c.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::Invalid("auto commit flag")),
        };
        let wait_us = c.u64()?;
        let min_count = c.u32()?;
        let max_bytes = c.u32()?;
        let request_timeout_us = c.u64()?;
        c.finish()?;
        if wait_us > MAX_DEFERRED_WAIT_US {
            return Err(WireError::Invalid("deferred wait over 600 s"));
        }
        Ok(Self {
            consumer,
            stream,
            topic,
            partitions,
            strategy,
            count,
            auto_commit,
            wait_us,
            min_count,
            max_bytes,
            request_timeout_us,
        })
    }

    /// Appends the request payload (for clients).
    pub fn encode(&self, out: &mut BytesMut) {
        self.consumer.encode(out);
        self.stream.encode(out);
        self.topic.encode(out);
        out.put_u32_le(self.partitions.len() as u32);
        for p in &self.partitions {
            out.put_u32_le(*p);
        }
        self.strategy.encode(out);
        out.put_u32_le(self.count);
        out.put_u8(u8::from(self.auto_commit));
        out.put_u64_le(self.wait_us);
        out.put_u32_le(self.min_count);
        out.put_u32_le(self.max_bytes);
        out.put_u64_le(self.request_timeout_us);
    }

    /// The wait the server grants: the asked one, never past the client's own timeout or `cap`.
    pub fn granted_wait_us(&self, cap_us: u64) -> u64 {
        let mut wait = self.wait_us.min(cap_us);
        if self.request_timeout_us > 0 {
            wait = wait.min(self.request_timeout_us);
        }
        wait
    }
}

/// FETCH_MESSAGES's reply: `[partitions u32]`, then per partition (in the order asked) the head
/// `encode_fetched_part` writes and its messages.
pub fn encode_fetched_count(partitions: u32, out: &mut BytesMut) {
    out.put_u32_le(partitions);
}

/// One partition of a FETCH_MESSAGES reply: `[partition_id u32][current_offset u64]
/// [messages_count u32][messages_bytes u32]`, then that many bytes of stored messages.
pub fn encode_fetched_part(
    partition: u32,
    current_offset: u64,
    count: u32,
    bytes: u32,
    out: &mut BytesMut,
) {
    encode_polled_head(partition, current_offset, count, out);
    out.put_u32_le(bytes);
}

/// Bytes of the head of one partition in a FETCH_MESSAGES reply.
pub const FETCHED_PART_HEAD_LEN: usize = 20;

/// The head of a poll reply: `[partition_id u32][current_offset u64][messages_count u32]`;
/// the stored message bytes follow as they are.
pub fn encode_polled_head(partition: u32, current_offset: u64, count: u32, out: &mut BytesMut) {
    out.put_u32_le(partition);
    out.put_u64_le(current_offset);
    out.put_u32_le(count);
}

/// Reads the head `encode_polled_head` writes: `(partition, current_offset, count)`; the messages
/// are the bytes after the first [`POLLED_HEAD_LEN`].
pub fn decode_polled_head(reply: &[u8]) -> Result<(u32, u64, u32), WireError> {
    let mut c = Cursor::new(reply);
    Ok((c.u32()?, c.u64()?, c.u32()?))
}

/// Bytes of a poll reply's head.
pub const POLLED_HEAD_LEN: usize = 16;

/// FLUSH_UNSAVED_BUFFER: `[stream][topic][partition u32][fsync u8]`.
pub fn decode_flush(payload: &[u8]) -> Result<(Identifier, Identifier, u32, bool), WireError> {
    let mut c = Cursor::new(payload);
    let (stream, topic) = decode_stream_topic(&mut c)?;
    let partition = c.u32()?;
    let fsync = c.u8()? != 0;
    c.finish()?;
    Ok((stream, topic, partition, fsync))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::encode_message;

    fn fetch() -> FetchMessages {
        FetchMessages {
            consumer: Consumer { kind: 1, id: Identifier::Numeric(7) },
            stream: Identifier::Name("s".into()),
            topic: Identifier::Numeric(2),
            partitions: vec![3, 0, 1],
            strategy: PollingStrategy::Next,
            count: 10,
            auto_commit: true,
            wait_us: 5_000_000,
            min_count: 4,
            max_bytes: 1 << 20,
            request_timeout_us: 2_000_000,
        }
    }

    #[test]
    fn a_fetch_round_trips_and_bad_ones_are_refused() {
        let f = fetch();
        let mut out = BytesMut::new();
        f.encode(&mut out);
        assert_eq!(FetchMessages::decode(&out), Ok(f.clone()));
        assert_eq!(f.granted_wait_us(u64::MAX), 2_000_000, "the client's timeout bounds it");
        assert_eq!(f.granted_wait_us(1_000), 1_000, "the server's cap bounds it");
        for cut in 0..out.len() {
            assert!(FetchMessages::decode(&out[..cut]).is_err(), "cut at {cut}");
        }
        let twice = FetchMessages { partitions: vec![1, 1], ..f.clone() };
        let mut out = BytesMut::new();
        twice.encode(&mut out);
        assert_eq!(
            FetchMessages::decode(&out),
            Err(WireError::Invalid("a partition listed twice"))
        );
        let long = FetchMessages { wait_us: MAX_DEFERRED_WAIT_US + 1, ..f.clone() };
        let mut out = BytesMut::new();
        long.encode(&mut out);
        assert!(FetchMessages::decode(&out).is_err());
        let many = FetchMessages { partitions: (0..1001).collect(), ..f };
        let mut out = BytesMut::new();
        many.encode(&mut out);
        assert_eq!(FetchMessages::decode(&out), Err(WireError::Invalid("fetch partitions count")));
    }

    #[test]
    fn polled_head_round_trips_and_a_short_one_is_refused() {
        let mut out = BytesMut::new();
        encode_polled_head(7, u64::MAX - 1, 1000, &mut out);
        assert_eq!(out.len(), POLLED_HEAD_LEN);
        assert_eq!(decode_polled_head(&out).unwrap(), (7, u64::MAX - 1, 1000));
        assert!(decode_polled_head(&out[..POLLED_HEAD_LEN - 1]).is_err());
    }

    #[test]
    fn send_messages_round_trip_and_checks() {
        let mut msgs = BytesMut::new();
        encode_message(&mut msgs, 1, 0, b"hello", b"");
        let first = msgs.len() as u32;
        encode_message(&mut msgs, 2, 0, b"world!", b"");
        let lengths = vec![first, msgs.len() as u32 - first];
        let mut out = BytesMut::new();
        let (s, t) = (Identifier::Numeric(0), Identifier::Name("orders".into()));
        SendMessages::encode(
            &s,
            &t,
            &Partitioning::MessagesKey(b"k".to_vec()),
            &msgs,
            &lengths,
            &mut out,
        );
        let payload = out.freeze();
        let decoded = SendMessages::decode(&payload).unwrap();
        assert_eq!((decoded.stream, decoded.topic), (s, t));
        assert_eq!(decoded.partitioning, Partitioning::MessagesKey(b"k".to_vec()));
        assert_eq!(decoded.lengths, lengths);
        assert_eq!(&payload[decoded.messages_at..], &msgs[..]);
        for cut in 0..payload.len() {
            assert!(SendMessages::decode(&payload.slice(..cut)).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn poll_messages_decodes_every_strategy() {
        for (kind, strategy) in [
            (1u8, PollingStrategy::Offset(9)),
            (2, PollingStrategy::Timestamp(9)),
            (3, PollingStrategy::First),
            (4, PollingStrategy::Last),
            (5, PollingStrategy::Next),
        ] {
            let mut p = BytesMut::new();
            p.put_u8(1);
            Identifier::Numeric(3).encode(&mut p);
            Identifier::Numeric(0).encode(&mut p);
            Identifier::Numeric(0).encode(&mut p);
            p.put_u8(1);
            p.put_u32_le(2);
            p.put_u8(kind);
            p.put_u64_le(9);
            p.put_u32_le(100);
            p.put_u8(1);
            let poll = PollMessages::decode(&p).unwrap();
            assert_eq!(
                (poll.strategy, poll.partition, poll.count, poll.auto_commit),
                (strategy, Some(2), 100, true)
            );
        }
    }

    #[test]
    fn a_deferred_poll_is_a_poll_and_its_wait() {
        let mut p = BytesMut::new();
        p.put_u8(1);
        Identifier::Numeric(3).encode(&mut p);
        Identifier::Numeric(0).encode(&mut p);
        Identifier::Numeric(0).encode(&mut p);
        p.put_u8(1);
        p.put_u32_le(2);
        p.put_u8(5);
        p.put_u64_le(0);
        p.put_u32_le(100);
        p.put_u8(0);
        assert!(PollDeferred::decode(&p).is_err(), "a plain poll is too short");
        let plain = p.clone();
        p.put_u64_le(2_000_000);
        p.put_u32_le(10);
        p.put_u32_le(4096);
        p.put_u64_le(1_500_000);
        let d = PollDeferred::decode(&p).unwrap();
        assert_eq!(d.poll, PollMessages::decode(&plain).unwrap());
        assert_eq!((d.wait_us, d.min_count, d.max_bytes), (2_000_000, 10, 4096));
        assert_eq!(d.granted_wait_us(30_000_000), 1_500_000, "never past the client's timeout");
        assert_eq!(d.granted_wait_us(1_000), 1_000, "never past the server's cap");
        assert!(PollMessages::decode(&p).is_err(), "a deferred body is not a plain poll");
        let mut too_long = plain.clone();
        too_long.put_u64_le(MAX_DEFERRED_WAIT_US + 1);
        too_long.put_u32_le(1);
        too_long.put_u32_le(0);
        too_long.put_u64_le(0);
        assert!(PollDeferred::decode(&too_long).is_err(), "over 600 s");
    }
}
