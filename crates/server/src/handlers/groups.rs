//! Consumer group commands (600–606). Groups are catalog entries (the metadata owner creates
//! and deletes them, persisted); members are connections (joined and left through the same
//! owner, never persisted: a closed connection leaves at once, see `groups::Memberships`).

use bytes::BytesMut;
use eddy_wire::commands::groups::{self, encode_assignment, encode_group, encode_member};

use super::require_topic;
use crate::auth::access::Need;
use crate::error::ServerError;
use crate::groups::Memberships;
use crate::metadata::{GroupKey, GroupMeta, TopicMeta};
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::shard::message::{MetaOp, Snapshot};
use crate::transport::conn::Reply;

/// A group's details: the group, then each member (client id) and the partitions assigned to
/// it (those it is handing over included).
fn details(snapshot: &Snapshot, key: GroupKey, t: &TopicMeta, g: &GroupMeta) -> Reply {
    let members = &snapshot.members;
    let partitions = t.partitions.len() as u32;
    let mut out = BytesMut::new();
    encode_group(g.id, partitions, members.count(key) as u32, &g.name, &mut out);
    for client in members.of(key) {
        encode_member(client, &members.assigned(key, client), &mut out);
    }
    Reply::ok(out)
}

/// GET_CONSUMER_GROUP: an empty OK reply when the topic has no such group (the SDK's `None`).
pub fn get(ctx: &ShardCtx, user: Option<u32>, payload: &[u8]) -> Result<Reply, ServerError> {
    let (stream, topic, group) = groups::decode_group(payload)?;
    let snapshot = ctx.snapshot();
    let (s, t) = snapshot.catalog.topic(&stream, &topic)?;
    snapshot.require(user, Need::ReadTopic(s.id, t.id))?;
    match snapshot.catalog.group(&stream, &topic, &group) {
        Ok((s, t, g)) => {
            let key = GroupKey { stream: s.id, topic: t.id, group: g.id };
            Ok(details(&snapshot, key, t, g))
        }
        Err(ServerError::GroupNotFound(_)) => Ok(Reply::default()),
        Err(e) => Err(e),
    }
}

/// GET_CONSUMER_GROUPS: every group of the topic, in id order.
pub fn get_all(ctx: &ShardCtx, user: Option<u32>, payload: &[u8]) -> Result<Reply, ServerError> {
    let (stream, topic) = groups::decode_groups(payload)?;
    let snapshot = ctx.snapshot();
    let (s, t) = snapshot.catalog.topic(&stream, &topic)?;
    snapshot.require(user, Need::ReadTopic(s.id, t.id))?;
    let mut out = BytesMut::new();
    for g in t.consumer_groups.values() {
        let key = GroupKey { stream: s.id, topic: t.id, group: g.id };
        let members = snapshot.members.count(key) as u32;
        encode_group(g.id, t.partitions.len() as u32, members, &g.name, &mut out);
    }
    Ok(Reply::ok(out))
}

/// CREATE_CONSUMER_GROUP: replies with the new group's details (no members yet).
pub async fn create(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic, name) = groups::decode_create(payload)?;
    require_topic(ctx, user, &stream, &topic, Need::ReadTopic)?;
    ctx.change(MetaOp::CreateGroup {
        stream: stream.clone(),
        topic: topic.clone(),
        name: name.clone(),
    })
    .await?;
    let snapshot = ctx.snapshot();
    let (s, t, g) = snapshot.catalog.group(&stream, &topic, &eddy_wire::Identifier::Name(name))?;
    let key = GroupKey { stream: s.id, topic: t.id, group: g.id };
    Ok(details(&snapshot, key, t, g))
}

/// DELETE_CONSUMER_GROUP: the group, its members and its stored offsets go.
pub async fn delete(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic, group) = groups::decode_group(payload)?;
    require_topic(ctx, user, &stream, &topic, Need::ReadTopic)?;
    ctx.change(MetaOp::DeleteGroup { stream, topic, group }).await?;
    Ok(Reply::default())
}

/// JOIN_CONSUMER_GROUP: this connection becomes a member (again: nothing changes).
pub async fn join(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic, group) = groups::decode_group(payload)?;
    require_topic(ctx, session.user_id, &stream, &topic, Need::ReadTopic)?;
    let client = session.client_id;
    // Before the join is sent: whatever happens to this request, the connection's end leaves.
    session.groups.get_or_insert_with(|| Box::new(Memberships::new(client, ctx.meta_sender())));
    ctx.change(MetaOp::JoinGroup { stream, topic, group, client }).await?;
    Ok(Reply::default())
}

/// LEAVE_CONSUMER_GROUP: "member not found" unless this connection had joined.
pub async fn leave(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic, group) = groups::decode_group(payload)?;
    require_topic(ctx, session.user_id, &stream, &topic, Need::ReadTopic)?;
    let key = ctx.snapshot().catalog.group_key(&stream, &topic, &group)?;
    let client = session.client_id;
    ctx.change(MetaOp::LeaveGroup { stream, topic, group, client }).await?;
    if let Some(m) = session.groups.as_mut() {
        m.left(key);
    }
    Ok(Reply::default())
}

/// SYNC_CONSUMER_GROUP: the partitions this member polls now (not those it is handing over)
/// and a generation that changes whenever they do (a hash of them); an empty reply unless this
/// connection is a member. Like a poll, it lets a member that is giving partitions up settle.
pub fn sync(ctx: &ShardCtx, session: &mut Session, payload: &[u8]) -> Result<Reply, ServerError> {
    let (stream, topic, group) = groups::decode_group(payload)?;
    require_topic(ctx, session.user_id, &stream, &topic, Need::ReadTopic)?;
    let snapshot = ctx.snapshot();
    let key = snapshot.catalog.group_key(&stream, &topic, &group)?;
    let client = session.client_id;
    let Some(m) = session.groups.as_deref_mut().filter(|_| snapshot.members.contains(key, client))
    else {
        return Ok(Reply::default());
    };
    m.settle_if_due(&snapshot, key);
    let partitions = snapshot.members.polls(key, client);
    let bytes: Vec<u8> = partitions.iter().flat_map(|p| p.to_le_bytes()).collect();
    let generation = xxhash_rust::xxh3::xxh3_64(&bytes);
    let mut out = BytesMut::with_capacity(12 + 4 * partitions.len());
    encode_assignment(generation, &partitions, &mut out);
    Ok(Reply::ok(out))
}
