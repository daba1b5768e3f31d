//! Topic and partition commands.

use bytes::BytesMut;
use eddy_wire::Identifier;
use eddy_wire::commands::topics::{self, CreateTopic, PartitionSummary, TopicSummary, UpdateTopic};

use super::{require_stream, require_topic};
use crate::auth::access::Need;
use crate::error::ServerError;
use crate::metadata::{PartitionKey, TopicMeta, TopicSettings};
use crate::shard::ShardCtx;
use crate::shard::message::{MetaOp, PartitionOp, Snapshot, ask};
use crate::transport::conn::Reply;

fn partition_summaries(snapshot: &Snapshot, stream: u32, t: &TopicMeta) -> Vec<PartitionSummary> {
    t.partitions
        .iter()
        .map(|p| {
            let key = PartitionKey { stream, topic: t.id, partition: p.id };
            let (next, messages, size, segments) =
                snapshot.partitions.get(&key).map_or((0, 0, 0, 0), |h| h.stats.load());
            PartitionSummary {
                id: p.id,
                created_at: p.created_at,
                segments_count: segments as u32,
                current_offset: next.saturating_sub(1),
                size_bytes: size,
                messages_count: messages,
            }
        })
        .collect()
}

pub(super) fn topic_summary(snapshot: &Snapshot, stream: u32, t: &TopicMeta) -> TopicSummary {
    let parts = partition_summaries(snapshot, stream, t);
    TopicSummary {
        id: t.id,
        created_at: t.created_at,
        partitions_count: t.partitions.len() as u32,
        message_expiry: t.message_expiry,
        compression: t.compression,
        max_topic_size: t.max_topic_size,
        replication_factor: t.replication_factor,
        size_bytes: parts.iter().map(|p| p.size_bytes).sum(),
        messages_count: parts.iter().map(|p| p.messages_count).sum(),
        name: t.name.clone(),
    }
}

fn details(
    snapshot: &Snapshot,
    stream: &Identifier,
    topic: &Identifier,
) -> Result<Reply, ServerError> {
    let (s, t) = snapshot.catalog.topic(stream, topic)?;
    let mut out = BytesMut::new();
    topic_summary(snapshot, s.id, t).encode(&mut out);
    for p in partition_summaries(snapshot, s.id, t) {
        p.encode(&mut out);
    }
    Ok(Reply::ok(out))
}

fn settings(
    name: String,
    compression: u8,
    message_expiry: u64,
    max_topic_size: u64,
    replication_factor: u8,
) -> TopicSettings {
    TopicSettings { name, compression, message_expiry, max_topic_size, replication_factor }
}

pub fn get(ctx: &ShardCtx, user: Option<u32>, payload: &[u8]) -> Result<Reply, ServerError> {
    let (stream, topic) = topics::decode_ids(payload)?;
    let snapshot = ctx.snapshot();
    match snapshot.catalog.topic(&stream, &topic) {
        Ok((s, t)) => snapshot.require(user, Need::ReadTopic(s.id, t.id))?,
        // A missing topic is an empty OK reply: the SDK maps it to `None`.
        Err(_) => return Ok(Reply::default()),
    }
    details(&snapshot, &stream, &topic)
}

pub fn get_all(ctx: &ShardCtx, user: Option<u32>, payload: &[u8]) -> Result<Reply, ServerError> {
    let stream = eddy_wire::commands::streams::decode_id(payload)?;
    let snapshot = ctx.snapshot();
    let s = snapshot.catalog.stream(&stream)?;
    snapshot.require(user, Need::ReadTopics(s.id))?;
    let mut out = BytesMut::new();
    for t in s.topics.values() {
        topic_summary(&snapshot, s.id, t).encode(&mut out);
    }
    Ok(Reply::ok(out))
}

pub async fn create(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let req = CreateTopic::decode(payload)?;
    require_stream(ctx, user, &req.stream, Need::CreateTopic)?;
    let settings = settings(
        req.name,
        req.compression,
        req.message_expiry,
        req.max_topic_size,
        req.replication_factor,
    );
    let stream = req.stream;
    let created = ctx
        .change(MetaOp::CreateTopic { stream, settings, partitions: req.partitions_count })
        .await?;
    let (s, t) = created.unwrap_or_default();
    details(&ctx.snapshot(), &Identifier::Numeric(s), &Identifier::Numeric(t))
}

pub async fn update(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let req = UpdateTopic::decode(payload)?;
    require_topic(ctx, user, &req.stream, &req.topic, Need::ManageTopic)?;
    let settings = settings(
        req.name,
        req.compression,
        req.message_expiry,
        req.max_topic_size,
        req.replication_factor,
    );
    ctx.change(MetaOp::UpdateTopic { stream: req.stream, topic: req.topic, settings }).await?;
    Ok(Reply::default())
}

pub async fn delete(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic) = topics::decode_ids(payload)?;
    require_topic(ctx, user, &stream, &topic, Need::ManageTopic)?;
    ctx.change(MetaOp::DeleteTopic { stream, topic }).await?;
    Ok(Reply::default())
}

pub async fn purge(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic) = topics::decode_ids(payload)?;
    require_topic(ctx, user, &stream, &topic, Need::ManageTopic)?;
    ctx.change(MetaOp::PurgeTopic { stream, topic }).await?;
    Ok(Reply::default())
}

pub async fn create_partitions(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic, count) = topics::decode_partitions(payload)?;
    require_topic(ctx, user, &stream, &topic, Need::ManageTopic)?;
    ctx.change(MetaOp::CreatePartitions { stream, topic, count }).await?;
    Ok(Reply::default())
}

pub async fn delete_partitions(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic, count) = topics::decode_partitions(payload)?;
    require_topic(ctx, user, &stream, &topic, Need::ManageTopic)?;
    ctx.change(MetaOp::DeletePartitions { stream, topic, count }).await?;
    Ok(Reply::default())
}

/// DELETE_SEGMENTS: the partition's `count` oldest sealed segments go (never the active one,
/// nor one holding a message a stored consumer offset has not passed: as Iggy does).
pub async fn delete_segments(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic, partition, count) = topics::decode_delete_segments(payload)?;
    require_topic(ctx, user, &stream, &topic, Need::ManageTopic)?;
    let handle = super::partition_handle(ctx, &stream, &topic, partition)?;
    ask(&handle.tx, |reply| PartitionOp::Retain { expired_before: None, oldest: count, reply })
        .await?;
    Ok(Reply::default())
}
