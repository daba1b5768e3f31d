//! Stream and topic replies: the 0.8 layouts the handlers encode, re-encoded as protocol 0.11
//! has them. A stream gains an options block (`[len u32]`, empty: streams have no options in
//! Eddy); a topic loses its replication factor and gains two (its explicit and its derived
//! options, empty: the fixed fields carry expiry, size cap and compression); partitions are
//! unchanged. GET_TOPICS' list is prefixed by its count.
//!
//! 0.8 stream: `[id u32][created_at u64][topics_count u32][size u64][messages_count u64]
//! [name: len u8 + utf-8]`. 0.8 topic: `[id u32][created_at u64][partitions_count u32]
//! [message_expiry u64][compression u8][max_topic_size u64][replication_factor u8][size u64]
//! [messages_count u64][name: len u8 + utf-8]`. Partition: 40 bytes.

use bytes::{BufMut, BytesMut};

use super::options::encode_empty_prefixed;
use crate::cursor::{Cursor, WireError};

/// Bytes of one partition in GET_TOPIC's reply.
const PARTITION_LEN: usize = 40;

fn stream(c: &mut Cursor<'_>, out: &mut BytesMut) -> Result<(), WireError> {
    out.put_slice(c.bytes(4 + 8 + 4 + 8 + 8)?);
    let name = c.name("stream name")?;
    out.put_u8(name.len() as u8);
    out.put_slice(name.as_bytes());
    encode_empty_prefixed(out);
    Ok(())
}

fn topic(c: &mut Cursor<'_>, out: &mut BytesMut) -> Result<(), WireError> {
    out.put_slice(c.bytes(4 + 8 + 4 + 8 + 1 + 8)?);
    c.u8()?; // replication factor: not on this wire
    out.put_slice(c.bytes(8 + 8)?);
    let name = c.name("topic name")?;
    out.put_u8(name.len() as u8);
    out.put_slice(name.as_bytes());
    encode_empty_prefixed(out);
    encode_empty_prefixed(out);
    Ok(())
}

/// CREATE_STREAM and GET_STREAM: the stream, then its topics.
pub fn stream_details(v08: &[u8]) -> Result<BytesMut, WireError> {
    let mut c = Cursor::new(v08);
    let mut out = BytesMut::with_capacity(v08.len() + 64);
    stream(&mut c, &mut out)?;
    while c.remaining() > 0 {
        topic(&mut c, &mut out)?;
    }
    Ok(out)
}

/// GET_STREAMS.
pub fn streams(v08: &[u8]) -> Result<BytesMut, WireError> {
    let mut c = Cursor::new(v08);
    let mut out = BytesMut::with_capacity(v08.len() + 64);
    while c.remaining() > 0 {
        stream(&mut c, &mut out)?;
    }
    Ok(out)
}

/// CREATE_TOPIC and GET_TOPIC: the topic, then its partitions.
pub fn topic_details(v08: &[u8]) -> Result<BytesMut, WireError> {
    let mut c = Cursor::new(v08);
    let mut out = BytesMut::with_capacity(v08.len() + 64);
    topic(&mut c, &mut out)?;
    let partitions = c.rest();
    if !partitions.len().is_multiple_of(PARTITION_LEN) {
        return Err(WireError::Invalid("partitions"));
    }
    out.put_slice(partitions);
    Ok(out)
}

/// GET_TOPICS: the count, then each topic.
pub fn topics(v08: &[u8]) -> Result<BytesMut, WireError> {
    let mut c = Cursor::new(v08);
    let mut out = BytesMut::with_capacity(v08.len() + 64);
    out.put_u32_le(0);
    let mut count = 0u32;
    while c.remaining() > 0 {
        topic(&mut c, &mut out)?;
        count += 1;
    }
    out[..4].copy_from_slice(&count.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::streams::StreamSummary;
    use crate::commands::topics::{PartitionSummary, TopicSummary};

    fn topic_summary(id: u32) -> TopicSummary {
        TopicSummary {
            id,
            created_at: 5,
            partitions_count: 2,
            message_expiry: 7,
            compression: 1,
            max_topic_size: 9,
            replication_factor: 1,
            size_bytes: 11,
            messages_count: 13,
            name: format!("t{id}"),
        }
    }

    #[test]
    fn streams_and_topics_gain_their_options_blocks() {
        let mut v08 = BytesMut::new();
        StreamSummary {
            id: 1,
            created_at: 2,
            topics_count: 2,
            size_bytes: 3,
            messages_count: 4,
            name: "s".into(),
        }
        .encode(&mut v08);
        topic_summary(1).encode(&mut v08);
        topic_summary(2).encode(&mut v08);
        let out = stream_details(&v08).unwrap();
        // stream: 32 fixed + 1 + 1 name + 4 options; each topic: 49 fixed + 1 + 2 name + 8.
        assert_eq!(out.len(), (32 + 2 + 4) + 2 * (49 + 3 + 8));
        assert_eq!(&out[34..38], &[0, 0, 0, 0]);
        let t = &out[38..];
        assert_eq!(&t[..4], &1u32.to_le_bytes());
        assert_eq!(&t[33..41], &11u64.to_le_bytes(), "size right after max_topic_size");
        assert_eq!(&t[49..52], b"\x02t1");

        let mut list = BytesMut::new();
        topic_summary(1).encode(&mut list);
        topic_summary(2).encode(&mut list);
        assert_eq!(&topics(&list).unwrap()[..4], &2u32.to_le_bytes());

        let mut details = BytesMut::new();
        topic_summary(3).encode(&mut details);
        PartitionSummary {
            id: 0,
            created_at: 1,
            segments_count: 1,
            current_offset: 9,
            size_bytes: 2,
            messages_count: 10,
        }
        .encode(&mut details);
        let out = topic_details(&details).unwrap();
        assert_eq!(out.len(), 49 + 3 + 8 + 40);
        assert!(topic_details(&details[..details.len() - 1]).is_err());
        assert!(stream_details(&[1, 2, 3]).is_err());
    }
}
