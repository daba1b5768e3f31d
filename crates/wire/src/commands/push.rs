//! Eddy's push subscriptions (an extension of the 0.8 wire; codes in `codes::command`
//! SUBSCRIBE, GRANT_CREDIT, UNSUBSCRIBE): the requests, the SUBSCRIBE reply, and the frames the
//! server pushes, which travel in the place of a reply with the status `status::PUSH_FRAME`.
//! Byte by byte in docs/PROTOCOL.md. No domain logic.

use bytes::{BufMut, BytesMut};

use super::messages::PollingStrategy;
use super::{Consumer, decode_stream_topic};
use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// A pushed frame's kind: a batch of messages (a POLL_MESSAGES reply's body follows).
pub const FRAME_MESSAGES: u8 = 1;
/// A pushed frame's kind: nothing was appended for a heartbeat interval.
pub const FRAME_HEARTBEAT: u8 = 2;
/// A pushed frame's kind: the server ended the subscription's part on one partition.
pub const FRAME_ENDED: u8 = 3;

/// A pushed frame's kind: the next message of a partition is larger than the byte credit
/// left; nothing more comes from that partition (nor, until then, from the others) before a
/// grant.
pub const FRAME_STALLED: u8 = 4;

/// In a SUBSCRIBE's partition list: start where the subscription's strategy says.
pub const FROM_STRATEGY: u64 = u64::MAX;

/// A decoded SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub consumer: Consumer,
    pub stream: Identifier,
    pub topic: Identifier,
    /// Where each partition starts unless the list names an offset.
    pub strategy: PollingStrategy,
    /// Most messages in one pushed frame.
    pub batch: u32,
    /// Store each pushed frame's last offset as the consumer's.
    pub auto_commit: bool,
    /// The credit granted up front: the server pushes no more messages, nor bytes, than the
    /// client has granted (the client tops it up with GRANT_CREDIT).
    pub credit_messages: u32,
    pub credit_bytes: u32,
    /// A heartbeat frame after this long without a push (0: none).
    pub heartbeat_ms: u32,
    /// `(partition, start)`: `start` = [`FROM_STRATEGY`] or an offset. Empty: every partition
    /// of the topic, each from the strategy.
    pub partitions: Vec<(u32, u64)>,
}

impl Subscribe {
    /// `[consumer][stream][topic][strategy u8][value u64][batch u32][auto_commit u8]
    /// [credit_messages u32][credit_bytes u32][heartbeat_ms u32][partitions u32]`, then per
    /// partition `[partition u32][start u64]`.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let consumer = Consumer::decode(&mut c)?;
        let (stream, topic) = decode_stream_topic(&mut c)?;
        let strategy = PollingStrategy::decode(&mut c)?;
        let batch = c.u32()?;
        let auto_commit = match c.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::Invalid("auto commit flag")),
        };
        let credit_messages = c.u32()?;
        let credit_bytes = c.u32()?;
        let heartbeat_ms = c.u32()?;
        let count = c.u32()? as usize;
        if count > c.remaining() / 12 {
            return Err(WireError::Invalid("partition list longer than the request"));
        }
        let mut partitions = Vec::with_capacity(count);
        for _ in 0..count {
            partitions.push((c.u32()?, c.u64()?));
        }
        c.finish()?;
        Ok(Self {
            consumer,
            stream,
            topic,
            strategy,
            batch,
            auto_commit,
            credit_messages,
            credit_bytes,
            heartbeat_ms,
            partitions,
        })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        self.consumer.encode(out);
        self.stream.encode(out);
        self.topic.encode(out);
        self.strategy.encode(out);
        out.put_u32_le(self.batch);
        out.put_u8(u8::from(self.auto_commit));
        out.put_u32_le(self.credit_messages);
        out.put_u32_le(self.credit_bytes);
        out.put_u32_le(self.heartbeat_ms);
        out.put_u32_le(self.partitions.len() as u32);
        for (partition, start) in &self.partitions {
            out.put_u32_le(*partition);
            out.put_u64_le(*start);
        }
    }
}

/// SUBSCRIBE's reply: `[subscription u32][partitions u32]`, then per partition
/// `[partition u32][start u64]` (the offset its first push starts at).
pub fn encode_subscribed(subscription: u32, partitions: &[(u32, u64)], out: &mut BytesMut) {
    out.put_u32_le(subscription);
    out.put_u32_le(partitions.len() as u32);
    for (partition, start) in partitions {
        out.put_u32_le(*partition);
        out.put_u64_le(*start);
    }
}

/// The subscription id and its partitions' starts from SUBSCRIBE's reply.
pub fn decode_subscribed(payload: &[u8]) -> Result<(u32, Vec<(u32, u64)>), WireError> {
    let mut c = Cursor::new(payload);
    let id = c.u32()?;
    let count = c.u32()? as usize;
    if count > c.remaining() / 12 {
        return Err(WireError::Invalid("partition list longer than the reply"));
    }
    let parts = (0..count).map(|_| Ok((c.u32()?, c.u64()?))).collect::<Result<_, WireError>>()?;
    c.finish()?;
    Ok((id, parts))
}

/// GRANT_CREDIT: `[subscription u32][messages u32][bytes u32]`, added to what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantCredit {
    pub subscription: u32,
    pub messages: u32,
    pub bytes: u32,
}

impl GrantCredit {
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let grant = Self { subscription: c.u32()?, messages: c.u32()?, bytes: c.u32()? };
        c.finish()?;
        Ok(grant)
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.subscription);
        out.put_u32_le(self.messages);
        out.put_u32_le(self.bytes);
    }
}

/// UNSUBSCRIBE: `[subscription u32]`.
pub fn decode_unsubscribe(payload: &[u8]) -> Result<u32, WireError> {
    let mut c = Cursor::new(payload);
    let id = c.u32()?;
    c.finish()?;
    Ok(id)
}

/// A pushed batch's head, the whole frame body before the messages: `[subscription u32]
/// [kind u8 = 1][partition u32][current_offset u64][count u32]`; the messages follow as in a
/// POLL_MESSAGES reply.
pub fn encode_messages_head(
    subscription: u32,
    partition: u32,
    current_offset: u64,
    count: u32,
    out: &mut BytesMut,
) {
    out.put_u32_le(subscription);
    out.put_u8(FRAME_MESSAGES);
    super::messages::encode_polled_head(partition, current_offset, count, out);
}

/// A heartbeat: `[subscription u32][kind u8 = 2][credit_messages u64][credit_bytes u64]`, the
/// credit the server holds unspent.
pub fn encode_heartbeat(subscription: u32, messages: u64, bytes: u64, out: &mut BytesMut) {
    out.put_u32_le(subscription);
    out.put_u8(FRAME_HEARTBEAT);
    out.put_u64_le(messages);
    out.put_u64_le(bytes);
}

/// An end: `[subscription u32][kind u8 = 3][partition u32][status u32]` (an Iggy error code:
/// the partition or its topic is gone). The subscription goes on on its other partitions.
pub fn encode_ended(subscription: u32, partition: u32, status: u32, out: &mut BytesMut) {
    out.put_u32_le(subscription);
    out.put_u8(FRAME_ENDED);
    out.put_u32_le(partition);
    out.put_u32_le(status);
}

/// A stall: `[subscription u32][kind u8 = 4][partition u32][offset u64]` (the message at
/// `offset` does not fit the byte credit left).
pub fn encode_stalled(subscription: u32, partition: u32, offset: u64, out: &mut BytesMut) {
    out.put_u32_le(subscription);
    out.put_u8(FRAME_STALLED);
    out.put_u32_le(partition);
    out.put_u64_le(offset);
}

/// A decoded pushed frame (its body, after `[status][length]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushFrame {
    /// `messages_at`: where the messages start in the body (a POLL_MESSAGES reply's messages).
    Messages {
        subscription: u32,
        partition: u32,
        current_offset: u64,
        count: u32,
        messages_at: usize,
    },
    Heartbeat {
        subscription: u32,
        credit_messages: u64,
        credit_bytes: u64,
    },
    Ended {
        subscription: u32,
        partition: u32,
        status: u32,
    },
    Stalled {
        subscription: u32,
        partition: u32,
        offset: u64,
    },
}

impl PushFrame {
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(body);
        let subscription = c.u32()?;
        let frame = match c.u8()? {
            FRAME_MESSAGES => Self::Messages {
                subscription,
                partition: c.u32()?,
                current_offset: c.u64()?,
                count: c.u32()?,
                messages_at: c.position(),
            },
            FRAME_HEARTBEAT => {
                Self::Heartbeat { subscription, credit_messages: c.u64()?, credit_bytes: c.u64()? }
            }
            FRAME_ENDED => Self::Ended { subscription, partition: c.u32()?, status: c.u32()? },
            FRAME_STALLED => Self::Stalled { subscription, partition: c.u32()?, offset: c.u64()? },
            _ => return Err(WireError::Invalid("push frame kind")),
        };
        if !matches!(frame, Self::Messages { .. }) {
            c.finish()?;
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_round_trips_and_refuses_a_list_longer_than_the_request() {
        let sub = Subscribe {
            consumer: Consumer { kind: 1, id: Identifier::Numeric(7) },
            stream: Identifier::Numeric(1),
            topic: Identifier::Name("t".into()),
            strategy: PollingStrategy::Next,
            batch: 100,
            auto_commit: true,
            credit_messages: 1000,
            credit_bytes: 1 << 20,
            heartbeat_ms: 5000,
            partitions: vec![(0, FROM_STRATEGY), (3, 42)],
        };
        let mut out = BytesMut::new();
        sub.encode(&mut out);
        assert_eq!(Subscribe::decode(&out).unwrap(), sub);
        let at = out.len() - 2 * 12 - 4;
        out[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Subscribe::decode(&out).is_err());
        assert!(Subscribe::decode(&out[..10]).is_err());
    }

    #[test]
    fn frames_and_replies_round_trip() {
        let mut out = BytesMut::new();
        encode_subscribed(4, &[(1, 10), (2, 0)], &mut out);
        assert_eq!(decode_subscribed(&out).unwrap(), (4, vec![(1, 10), (2, 0)]));
        let mut out = BytesMut::new();
        encode_messages_head(4, 2, 99, 3, &mut out);
        out.extend_from_slice(b"messages");
        let frame = PushFrame::decode(&out).unwrap();
        let PushFrame::Messages {
            subscription: 4,
            partition: 2,
            current_offset: 99,
            count: 3,
            messages_at,
        } = frame
        else {
            panic!("{frame:?}")
        };
        assert_eq!(&out[messages_at..], b"messages");
        let mut out = BytesMut::new();
        encode_heartbeat(4, 5, 6, &mut out);
        assert_eq!(
            PushFrame::decode(&out).unwrap(),
            PushFrame::Heartbeat { subscription: 4, credit_messages: 5, credit_bytes: 6 }
        );
        let mut out = BytesMut::new();
        encode_ended(4, 1, 3007, &mut out);
        assert_eq!(
            PushFrame::decode(&out).unwrap(),
            PushFrame::Ended { subscription: 4, partition: 1, status: 3007 }
        );
        let mut out = BytesMut::new();
        encode_stalled(4, 1, 77, &mut out);
        assert_eq!(
            PushFrame::decode(&out).unwrap(),
            PushFrame::Stalled { subscription: 4, partition: 1, offset: 77 }
        );
        assert!(PushFrame::decode(&[4, 0, 0, 0, 9]).is_err());
        let g = GrantCredit { subscription: 1, messages: 2, bytes: 3 };
        let mut out = BytesMut::new();
        g.encode(&mut out);
        assert_eq!(GrantCredit::decode(&out).unwrap(), g);
        assert_eq!(decode_unsubscribe(&1u32.to_le_bytes()).unwrap(), 1);
    }
}
