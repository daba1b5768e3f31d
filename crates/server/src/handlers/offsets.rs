//! Consumer offset commands, executed by the partition's owner; a consumer group's offsets are
//! the group's, stored under its numeric id (`groups::resolve`).

use bytes::BytesMut;
use eddy_wire::commands::offsets::{OffsetKey, encode_offset};

use super::{partition_handle, require_topic};
use crate::auth::access::Need;
use crate::error::ServerError;
use crate::groups::{Target, note, resolve, stored_id};
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::shard::message::{PartitionOp, ask};
use crate::transport::conn::Reply;

/// GET_CONSUMER_OFFSET. A group's offset needs no membership (as in Iggy): the partition
/// asked, or 0.
pub async fn get(ctx: &ShardCtx, user: Option<u32>, payload: &[u8]) -> Result<Reply, ServerError> {
    let key = OffsetKey::decode_payload(payload)?;
    require_topic(ctx, user, &key.stream, &key.topic, Need::Poll)?;
    let partition = key.partition.unwrap_or(0);
    let consumer = stored_id(&ctx.snapshot(), (&key.stream, &key.topic), &key.consumer)?;
    let handle = partition_handle(ctx, &key.stream, &key.topic, partition)?;
    match ask(&handle.tx, |reply| PartitionOp::GetOffset { consumer, reply }).await? {
        // Nothing stored: an empty OK reply, which the SDK maps to `None`.
        None => Ok(Reply::default()),
        Some((current, stored)) => {
            let mut out = BytesMut::with_capacity(20);
            encode_offset(partition, current, stored, &mut out);
            Ok(Reply::ok(out))
        }
    }
}

/// The consumer and partition a STORE or DELETE addresses: a group's member must own the
/// partition (the one asked, or the one it polled last).
fn target(ctx: &ShardCtx, session: &mut Session, key: &OffsetKey) -> Result<Target, ServerError> {
    require_topic(ctx, session.user_id, &key.stream, &key.topic, Need::Poll)?;
    let ids = (&key.stream, &key.topic);
    let groups = session.groups.as_deref_mut();
    resolve(&ctx.snapshot(), groups, session.client_id, ids, &key.consumer, key.partition, false)?
        .ok_or_else(|| ServerError::NotResolvedConsumer(key.consumer.id.clone()))
}

pub async fn store(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (key, offset) = OffsetKey::decode_store(payload)?;
    let target = target(ctx, session, &key)?;
    let handle = partition_handle(ctx, &key.stream, &key.topic, target.partition)?;
    let consumer = target.consumer.clone();
    ask(&handle.tx, |reply| PartitionOp::StoreOffset { consumer, offset, reply }).await?;
    note(session.groups.as_deref_mut(), &target, None);
    Ok(Reply::default())
}

pub async fn delete(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let key = OffsetKey::decode_payload(payload)?;
    let target = target(ctx, session, &key)?;
    let handle = partition_handle(ctx, &key.stream, &key.topic, target.partition)?;
    let consumer = target.consumer.clone();
    ask(&handle.tx, |reply| PartitionOp::DeleteOffset { consumer, reply }).await?;
    note(session.groups.as_deref_mut(), &target, None);
    Ok(Reply::default())
}
