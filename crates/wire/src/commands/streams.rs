//! Stream commands and the stream details reply.

use bytes::{BufMut, BytesMut};

use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// CREATE_STREAM: `[name_len u8][name]`.
pub fn decode_create(payload: &[u8]) -> Result<String, WireError> {
    let mut c = Cursor::new(payload);
    let name = c.name("stream name")?.to_owned();
    c.finish()?;
    Ok(name)
}

/// GET/DELETE/PURGE_STREAM: `[stream Identifier]`.
pub fn decode_id(payload: &[u8]) -> Result<Identifier, WireError> {
    let mut c = Cursor::new(payload);
    let id = Identifier::decode(&mut c)?;
    c.finish()?;
    Ok(id)
}

/// UPDATE_STREAM: `[stream Identifier][name_len u8][name]`.
pub fn decode_update(payload: &[u8]) -> Result<(Identifier, String), WireError> {
    let mut c = Cursor::new(payload);
    let id = Identifier::decode(&mut c)?;
    let name = c.name("stream name")?.to_owned();
    c.finish()?;
    Ok((id, name))
}

/// The summary of one stream, as GET_STREAMS lists it and GET_STREAM starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub id: u32,
    pub created_at: u64,
    pub topics_count: u32,
    pub size_bytes: u64,
    pub messages_count: u64,
    pub name: String,
}

impl StreamSummary {
    /// `[id u32][created_at u64][topics_count u32][size u64][messages_count u64][name_len u8][name]`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.id);
        out.put_u64_le(self.created_at);
        out.put_u32_le(self.topics_count);
        out.put_u64_le(self.size_bytes);
        out.put_u64_le(self.messages_count);
        out.put_u8(self.name.len() as u8);
        out.put_slice(self.name.as_bytes());
    }
}
