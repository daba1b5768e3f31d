//! Topic and partition commands and the topic details reply.

use bytes::{BufMut, BytesMut};

use super::decode_stream_topic;
use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// CREATE_TOPIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopic {
    pub stream: Identifier,
    pub partitions_count: u32,
    pub compression: u8,
    pub message_expiry: u64,
    pub max_topic_size: u64,
    pub replication_factor: u8,
    pub name: String,
}

impl CreateTopic {
    /// `[stream][partitions_count u32][compression u8][message_expiry u64][max_topic_size u64]
    /// [replication_factor u8][name_len u8][name]`.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let out = Self {
            stream: Identifier::decode(&mut c)?,
            partitions_count: c.u32()?,
            compression: c.u8()?,
            message_expiry: c.u64()?,
            max_topic_size: c.u64()?,
            replication_factor: c.u8()?,
            name: c.name("topic name")?.to_owned(),
        };
        c.finish()?;
        Ok(out)
    }
}

/// UPDATE_TOPIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateTopic {
    pub stream: Identifier,
    pub topic: Identifier,
    pub compression: u8,
    pub message_expiry: u64,
    pub max_topic_size: u64,
    pub replication_factor: u8,
    pub name: String,
}

impl UpdateTopic {
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let (stream, topic) = decode_stream_topic(&mut c)?;
        let out = Self {
            stream,
            topic,
            compression: c.u8()?,
            message_expiry: c.u64()?,
            max_topic_size: c.u64()?,
            replication_factor: c.u8()?,
            name: c.name("topic name")?.to_owned(),
        };
        c.finish()?;
        Ok(out)
    }
}

/// GET/DELETE/PURGE_TOPIC: `[stream][topic]`.
pub fn decode_ids(payload: &[u8]) -> Result<(Identifier, Identifier), WireError> {
    let mut c = Cursor::new(payload);
    let ids = decode_stream_topic(&mut c)?;
    c.finish()?;
    Ok(ids)
}

/// CREATE/DELETE_PARTITIONS: `[stream][topic][partitions_count u32]`.
pub fn decode_partitions(payload: &[u8]) -> Result<(Identifier, Identifier, u32), WireError> {
    let mut c = Cursor::new(payload);
    let (stream, topic) = decode_stream_topic(&mut c)?;
    let count = c.u32()?;
    c.finish()?;
    Ok((stream, topic, count))
}

/// DELETE_SEGMENTS: `[stream][topic][partition_id u32][segments_count u32]`.
pub fn decode_delete_segments(
    payload: &[u8],
) -> Result<(Identifier, Identifier, u32, u32), WireError> {
    let mut c = Cursor::new(payload);
    let (stream, topic) = decode_stream_topic(&mut c)?;
    let partition = c.u32()?;
    let count = c.u32()?;
    c.finish()?;
    Ok((stream, topic, partition, count))
}

/// The fixed part of a topic, as listed by GET_STREAM/GET_TOPICS and heading GET_TOPIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSummary {
    pub id: u32,
    pub created_at: u64,
    pub partitions_count: u32,
    pub message_expiry: u64,
    pub compression: u8,
    pub max_topic_size: u64,
    pub replication_factor: u8,
    pub size_bytes: u64,
    pub messages_count: u64,
    pub name: String,
}

impl TopicSummary {
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.id);
        out.put_u64_le(self.created_at);
        out.put_u32_le(self.partitions_count);
        out.put_u64_le(self.message_expiry);
        out.put_u8(self.compression);
        out.put_u64_le(self.max_topic_size);
        out.put_u8(self.replication_factor);
        out.put_u64_le(self.size_bytes);
        out.put_u64_le(self.messages_count);
        out.put_u8(self.name.len() as u8);
        out.put_slice(self.name.as_bytes());
    }
}

/// One partition in GET_TOPIC's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSummary {
    pub id: u32,
    pub created_at: u64,
    pub segments_count: u32,
    pub current_offset: u64,
    pub size_bytes: u64,
    pub messages_count: u64,
}

impl PartitionSummary {
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.id);
        out.put_u64_le(self.created_at);
        out.put_u32_le(self.segments_count);
        out.put_u64_le(self.current_offset);
        out.put_u64_le(self.size_bytes);
        out.put_u64_le(self.messages_count);
    }
}
