//! Stream commands.

use bytes::BytesMut;
use eddy_wire::Identifier;
use eddy_wire::commands::streams::{self, StreamSummary};

use super::require_stream;
use super::topics::topic_summary;
use crate::auth::access::Need;
use crate::error::ServerError;
use crate::metadata::StreamMeta;
use crate::shard::ShardCtx;
use crate::shard::message::{MetaOp, Snapshot};
use crate::transport::conn::Reply;

fn summary(snapshot: &Snapshot, s: &StreamMeta) -> StreamSummary {
    let (mut size, mut messages) = (0, 0);
    for t in s.topics.values() {
        let ts = topic_summary(snapshot, s.id, t);
        size += ts.size_bytes;
        messages += ts.messages_count;
    }
    StreamSummary {
        id: s.id,
        created_at: s.created_at,
        topics_count: s.topics.len() as u32,
        size_bytes: size,
        messages_count: messages,
        name: s.name.clone(),
    }
}

/// Stream details: the summary, then each topic's summary.
fn details(snapshot: &Snapshot, id: &Identifier) -> Result<Reply, ServerError> {
    let s = snapshot.catalog.stream(id)?;
    let mut out = BytesMut::new();
    summary(snapshot, s).encode(&mut out);
    for t in s.topics.values() {
        topic_summary(snapshot, s.id, t).encode(&mut out);
    }
    Ok(Reply::ok(out))
}

pub fn get(ctx: &ShardCtx, user: Option<u32>, payload: &[u8]) -> Result<Reply, ServerError> {
    let id = streams::decode_id(payload)?;
    let snapshot = ctx.snapshot();
    match snapshot.catalog.stream(&id) {
        Ok(s) => snapshot.require(user, Need::ReadStream(s.id))?,
        // A missing stream is an empty OK reply: the SDK maps it to `None`.
        Err(_) => return Ok(Reply::default()),
    }
    details(&snapshot, &id)
}

pub fn get_all(ctx: &ShardCtx, user: Option<u32>) -> Result<Reply, ServerError> {
    let snapshot = ctx.snapshot();
    snapshot.require(user, Need::ReadStreams)?;
    let mut out = BytesMut::new();
    for s in snapshot.catalog.streams.values() {
        summary(&snapshot, s).encode(&mut out);
    }
    Ok(Reply::ok(out))
}

pub async fn create(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    ctx.snapshot().require(user, Need::CreateStream)?;
    let name = streams::decode_create(payload)?;
    let created = ctx.change(MetaOp::CreateStream { name }).await?;
    let id = created.map_or(0, |(s, _)| s);
    details(&ctx.snapshot(), &Identifier::Numeric(id))
}

pub async fn update(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, name) = streams::decode_update(payload)?;
    require_stream(ctx, user, &stream, Need::ManageStream)?;
    ctx.change(MetaOp::UpdateStream { stream, name }).await?;
    Ok(Reply::default())
}

pub async fn delete(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let stream = streams::decode_id(payload)?;
    require_stream(ctx, user, &stream, Need::ManageStream)?;
    ctx.change(MetaOp::DeleteStream { stream }).await?;
    Ok(Reply::default())
}

pub async fn purge(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let stream = streams::decode_id(payload)?;
    require_stream(ctx, user, &stream, Need::ManageStream)?;
    ctx.change(MetaOp::PurgeStream { stream }).await?;
    Ok(Reply::default())
}
