//! Consumer group commands (600–605) and their replies. No domain logic: which partitions a
//! member gets is the server's business.

use bytes::{BufMut, BytesMut};

use super::decode_stream_topic;
use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// GET/DELETE/JOIN/LEAVE_CONSUMER_GROUP: `[stream Identifier][topic Identifier]
/// [group Identifier]`.
pub fn decode_group(payload: &[u8]) -> Result<(Identifier, Identifier, Identifier), WireError> {
    let mut c = Cursor::new(payload);
    let (stream, topic) = decode_stream_topic(&mut c)?;
    let group = Identifier::decode(&mut c)?;
    c.finish()?;
    Ok((stream, topic, group))
}

/// GET_CONSUMER_GROUPS: `[stream Identifier][topic Identifier]`.
pub fn decode_groups(payload: &[u8]) -> Result<(Identifier, Identifier), WireError> {
    let mut c = Cursor::new(payload);
    let ids = decode_stream_topic(&mut c)?;
    c.finish()?;
    Ok(ids)
}

/// CREATE_CONSUMER_GROUP: `[stream Identifier][topic Identifier][name_len u8][name]` (the
/// server picks the id).
pub fn decode_create(payload: &[u8]) -> Result<(Identifier, Identifier, String), WireError> {
    let mut c = Cursor::new(payload);
    let (stream, topic) = decode_stream_topic(&mut c)?;
    let name = c.name("consumer group name")?.to_owned();
    c.finish()?;
    Ok((stream, topic, name))
}

/// One group as GET_CONSUMER_GROUPS lists it and the details reply starts with:
/// `[id u32][partitions_count u32][members_count u32][name_len u8][name]`.
pub fn encode_group(
    id: u32,
    partitions_count: u32,
    members_count: u32,
    name: &str,
    out: &mut BytesMut,
) {
    out.put_u32_le(id);
    out.put_u32_le(partitions_count);
    out.put_u32_le(members_count);
    out.put_u8(name.len().min(255) as u8);
    out.put_slice(&name.as_bytes()[..name.len().min(255)]);
}

/// One member in GET_CONSUMER_GROUP's (and CREATE's) reply, after the group:
/// `[member id u32][partitions_count u32][partition id u32 …]`.
/// SYNC_CONSUMER_GROUP's reply: `[generation u64][count u32][partition u32 × count]`.
pub fn encode_assignment(generation: u64, partitions: &[u32], out: &mut BytesMut) {
    out.put_u64_le(generation);
    out.put_u32_le(partitions.len() as u32);
    for p in partitions {
        out.put_u32_le(*p);
    }
}

pub fn encode_member(id: u32, partitions: &[u32], out: &mut BytesMut) {
    out.put_u32_le(id);
    out.put_u32_le(partitions.len() as u32);
    for p in partitions {
        out.put_u32_le(*p);
    }
}

/// A group a client belongs to, in GET_ME's and GET_CLIENT's reply after the client:
/// `[stream_id u32][topic_id u32][group_id u32]`.
pub fn encode_membership(stream: u32, topic: u32, group: u32, out: &mut BytesMut) {
    out.put_u32_le(stream);
    out.put_u32_le(topic);
    out.put_u32_le(group);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_requests_decode_and_reject_leftovers() {
        let mut p = BytesMut::new();
        Identifier::Numeric(1).encode(&mut p);
        Identifier::Name("t".into()).encode(&mut p);
        let ids = p.clone();
        Identifier::Name("g".into()).encode(&mut p);
        let (s, t, g) = decode_group(&p).unwrap();
        assert_eq!(
            (s, t, g),
            (Identifier::Numeric(1), Identifier::Name("t".into()), Identifier::Name("g".into()))
        );
        assert!(decode_groups(&p).is_err(), "a trailing identifier");
        assert_eq!(decode_groups(&ids).unwrap().0, Identifier::Numeric(1));
        let mut create = ids.clone();
        create.put_u8(3);
        create.put_slice(b"grp");
        assert_eq!(decode_create(&create).unwrap().2, "grp");
        let mut empty = ids.clone();
        empty.put_u8(0);
        assert!(decode_create(&empty).is_err(), "an empty name");
        assert!(decode_group(&p[..p.len() - 1]).is_err(), "truncated");
    }

    #[test]
    fn a_group_and_its_members_encode_as_iggy_lays_them_out() {
        let mut out = BytesMut::new();
        encode_group(7, 3, 1, "g", &mut out);
        encode_member(42, &[0, 2], &mut out);
        assert_eq!(
            &out[..],
            &[
                7, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, b'g', 42, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                2, 0, 0, 0
            ]
        );
    }
}
