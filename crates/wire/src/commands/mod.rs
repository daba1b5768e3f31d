//! Typed requests and responses, one file per resource: decode a request payload, encode a
//! response payload. No domain logic.

pub mod groups;
pub mod messages;
pub mod offsets;
pub mod push;
pub mod streams;
pub mod system;
pub mod tokens;
pub mod topics;
pub mod users;

use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// The consumer kind of a single consumer.
pub const CONSUMER_KIND_SINGLE: u8 = 1;
/// The consumer kind of a consumer group (the identifier names the group).
pub const CONSUMER_KIND_GROUP: u8 = 2;

/// A consumer: `[kind u8: 1 consumer, 2 consumer group][Identifier]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Consumer {
    /// 1 = a single consumer, 2 = a consumer group.
    pub kind: u8,
    pub id: Identifier,
}

impl Consumer {
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let kind = c.u8()?;
        if !matches!(kind, CONSUMER_KIND_SINGLE | CONSUMER_KIND_GROUP) {
            return Err(WireError::Invalid("consumer kind"));
        }
        Ok(Self { kind, id: Identifier::decode(c)? })
    }

    pub fn encode(&self, out: &mut bytes::BytesMut) {
        bytes::BufMut::put_u8(out, self.kind);
        self.id.encode(out);
    }
}

/// `[has_partition u8][partition_id u32]`: an optional partition id.
pub fn decode_optional_partition(c: &mut Cursor<'_>) -> Result<Option<u32>, WireError> {
    let has = c.u8()?;
    let id = c.u32()?;
    match has {
        0 => Ok(None),
        1 => Ok(Some(id)),
        _ => Err(WireError::Invalid("partition flag")),
    }
}

/// `[stream Identifier][topic Identifier]`.
pub fn decode_stream_topic(c: &mut Cursor<'_>) -> Result<(Identifier, Identifier), WireError> {
    Ok((Identifier::decode(c)?, Identifier::decode(c)?))
}
