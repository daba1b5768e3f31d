//! GET/STORE/DELETE_CONSUMER_OFFSET and the offset reply.

use bytes::{BufMut, BytesMut};

use super::{Consumer, decode_optional_partition, decode_stream_topic};
use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// The address of a consumer offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetKey {
    pub consumer: Consumer,
    pub stream: Identifier,
    pub topic: Identifier,
    pub partition: Option<u32>,
}

impl OffsetKey {
    /// `[consumer][stream][topic][has_partition u8][partition u32]`.
    fn decode(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let consumer = Consumer::decode(c)?;
        let (stream, topic) = decode_stream_topic(c)?;
        let partition = decode_optional_partition(c)?;
        Ok(Self { consumer, stream, topic, partition })
    }

    /// GET and DELETE: the key alone.
    pub fn decode_payload(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let key = Self::decode(&mut c)?;
        c.finish()?;
        Ok(key)
    }

    /// STORE: the key, then `[offset u64]`.
    pub fn decode_store(payload: &[u8]) -> Result<(Self, u64), WireError> {
        let mut c = Cursor::new(payload);
        let key = Self::decode(&mut c)?;
        let offset = c.u64()?;
        c.finish()?;
        Ok((key, offset))
    }
}

/// `[partition_id u32][current_offset u64][stored_offset u64]`.
pub fn encode_offset(partition: u32, current: u64, stored: u64, out: &mut BytesMut) {
    out.put_u32_le(partition);
    out.put_u64_le(current);
    out.put_u64_le(stored);
}
