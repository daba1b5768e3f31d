//! SEND_MESSAGES, POLL_MESSAGES (and POLL_MESSAGES_DEFERRED, CANCEL_DEFERRED_REQUEST) and
//! FLUSH_UNSAVED_BUFFER: resolve the partition, then hand the work to its owner shard.

use bytes::BytesMut;
use eddy_wire::commands::CONSUMER_KIND_GROUP;
use eddy_wire::commands::messages::Partitioning;
use eddy_wire::commands::messages::{
    self, FETCHED_PART_HEAD_LEN, FetchMessages, PollDeferred, PollMessages, SendMessages,
    encode_fetched_count, encode_fetched_part, encode_polled_head,
};

use super::{partition_handle, require_topic};
use crate::auth::access::Need;
use crate::error::ServerError;
use crate::groups::{Target, note, resolve};
use crate::metadata::PartitionKey;
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::shard::message::{Deferral, PartitionOp, PendingPoll, Polled, ask, waiter_id};
use crate::transport::conn::{Outcome, Reply};

pub async fn send(
    ctx: &ShardCtx,
    user: Option<u32>,
    mut payload: BytesMut,
) -> Result<Reply, ServerError> {
    let req = SendMessages::decode(&payload)?;
    let snapshot = ctx.snapshot();
    let (s, t) = snapshot.catalog.topic(&req.stream, &req.topic)?;
    snapshot.require(user, Need::Send(s.id, t.id))?;
    let count = t.partitions.len() as u32;
    if count == 0 {
        return Err(ServerError::PartitionNotFound(0));
    }
    let partition = match &req.partitioning {
        Partitioning::Balanced => ctx.next_balanced(s.id, t.id, count),
        Partitioning::PartitionId(p) if *p < count => *p,
        Partitioning::PartitionId(p) => return Err(ServerError::PartitionNotFound(*p)),
        Partitioning::MessagesKey(key) => {
            (xxhash_rust::xxh3::xxh3_64(key) % u64::from(count)) as u32
        }
    };
    let key = PartitionKey { stream: s.id, topic: t.id, partition };
    let handle =
        snapshot.partitions.get(&key).cloned().ok_or(ServerError::PartitionNotFound(partition))?;
    drop(snapshot);
    let batch = payload.split_off(req.messages_at);
    let lengths = req.lengths;
    let base_offset =
        ask(&handle.tx, |reply| PartitionOp::Append { batch, lengths, reply }).await?;
    let appended = eddy_wire::v011::codec::Appended {
        stream: key.stream,
        topic: key.topic,
        partition,
        base_offset,
    };
    Ok(Reply { outcome: Outcome::Appended(appended), ..Reply::default() })
}

/// The consumer and partition a poll reads (see `groups::resolve`); `None`: a group member
/// that owns no partition, answered with an empty reply.
fn poll_target(
    ctx: &ShardCtx,
    session: &mut Session,
    req: &PollMessages,
) -> Result<Option<Target>, ServerError> {
    require_topic(ctx, session.user_id, &req.stream, &req.topic, Need::Poll)?;
    let ids = (&req.stream, &req.topic);
    let groups = session.groups.as_deref_mut();
    resolve(&ctx.snapshot(), groups, session.client_id, ids, &req.consumer, req.partition, true)
}

pub async fn poll(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let req = PollMessages::decode(payload)?;
    let Some(target) = poll_target(ctx, session, &req)? else {
        let mut reply = polled_reply(Polled::default());
        if req.consumer.kind == CONSUMER_KIND_GROUP && req.partition.is_some() {
            reply.outcome = Outcome::PartitionNotOwned;
        }
        return Ok(reply);
    };
    let handle = partition_handle(ctx, &req.stream, &req.topic, target.partition)?;
    note(session.groups.as_deref_mut(), &target, Some(req.auto_commit));
    let Target { consumer, .. } = target;
    let (strategy, count, auto_commit) = (req.strategy, req.count, req.auto_commit);
    let polled = ask(&handle.tx, |reply| PartitionOp::Poll {
        consumer,
        strategy,
        count,
        auto_commit,
        defer: None,
        reply,
    })
    .await?;
    Ok(polled_reply(polled))
}

/// A poll reply: the 16-byte head, then the stored bytes as they are.
pub(crate) fn polled_reply(polled: Polled) -> Reply {
    let mut head = BytesMut::with_capacity(16);
    encode_polled_head(polled.partition, polled.current_offset, polled.count, &mut head);
    Reply { status: 0, head, chunks: polled.chunks, ..Reply::default() }
}

/// POLL_MESSAGES_DEFERRED: the poll waits in the partition's owner until it is due (enough
/// messages or bytes, or the granted wait: the asked one, capped by `limits.max_poll_wait_ms`
/// and the client's own timeout).
pub async fn poll_deferred(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let req = PollDeferred::decode(payload)?;
    let poll = &req.poll;
    let Some(target) = poll_target(ctx, session, poll)? else {
        return Ok(polled_reply(Polled::default()));
    };
    let handle = partition_handle(ctx, &poll.stream, &poll.topic, target.partition)?;
    note(session.groups.as_deref_mut(), &target, Some(poll.auto_commit));
    let Target { consumer, .. } = target;
    let wait = std::time::Duration::from_micros(req.granted_wait_us(ctx.config.max_poll_wait_us()));
    let defer = Deferral {
        deadline: std::time::Instant::now() + wait,
        min_count: req.min_count,
        max_bytes: req.max_bytes,
        exact_bytes: false,
        waiter: waiter_id(session.client_id, 0),
    };
    let (strategy, count, auto_commit) = (poll.strategy, poll.count, poll.auto_commit);
    let (reply, rx) = flume::bounded(1);
    let op =
        PartitionOp::Poll { consumer, strategy, count, auto_commit, defer: Some(defer), reply };
    handle.tx.send_async(op).await.map_err(|_| ServerError::Internal("partition is closed"))?;
    // The transport waits for the reply (reading the socket meanwhile); this reply is unused.
    session.pending_poll =
        Some(PendingPoll::Partition { reply: rx, partition: handle.tx, waiter: defer.waiter });
    Ok(Reply::default())
}

/// FETCH_MESSAGES: a deferred poll of several partitions at once, run by a task of this shard
/// (`crate::fetch`) while the transport waits for its reply. Single consumers only: a group
/// member's partitions change hands, so it polls them one at a time (deferred polls wait too).
pub async fn fetch(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let req = FetchMessages::decode(payload)?;
    if req.consumer.kind == CONSUMER_KIND_GROUP {
        return Err(ServerError::FeatureUnavailable(
            "FETCH_MESSAGES for consumer groups (use POLL_MESSAGES_DEFERRED)",
        ));
    }
    let snapshot = ctx.snapshot();
    let (s, t) = snapshot.catalog.topic(&req.stream, &req.topic)?;
    snapshot.require(session.user_id, Need::Poll(s.id, t.id))?;
    let ids: Vec<u32> = match req.partitions.is_empty() {
        true => t.partitions.iter().map(|p| p.id).collect(),
        false => req.partitions.clone(),
    };
    let mut parts = Vec::with_capacity(ids.len());
    for partition in ids {
        let key = PartitionKey { stream: s.id, topic: t.id, partition };
        let handle = snapshot
            .partitions
            .get(&key)
            .cloned()
            .ok_or(ServerError::PartitionNotFound(partition))?;
        parts.push((partition, handle));
    }
    drop(snapshot);
    let wait = std::time::Duration::from_micros(req.granted_wait_us(ctx.config.max_poll_wait_us()));
    let fetch = crate::fetch::Fetch {
        consumer: (req.consumer.kind, req.consumer.id.clone()),
        parts,
        strategy: req.strategy,
        count: req.count,
        auto_commit: req.auto_commit,
        min_count: req.min_count,
        max_bytes: req.max_bytes,
        deadline: std::time::Instant::now() + wait,
        waiter: waiter_id(session.client_id, 0),
    };
    let (reply, rx) = flume::bounded(1);
    let (signal, signals) = flume::bounded(1);
    compio::runtime::spawn(crate::fetch::run(fetch, signals, reply)).detach();
    // The transport waits for the reply (reading the socket meanwhile); this reply is unused.
    session.pending_poll = Some(PendingPoll::Fetch { reply: rx, signal });
    Ok(Reply::default())
}

/// A fetch reply: `[partitions u32]`, then per partition its 20-byte head and its stored bytes
/// as they are.
pub(crate) fn fetched_reply(parts: Vec<Polled>) -> Reply {
    let mut head = BytesMut::with_capacity(4);
    encode_fetched_count(parts.len() as u32, &mut head);
    let mut chunks = Vec::with_capacity(parts.len() * 2);
    for p in parts {
        let mut part = BytesMut::with_capacity(FETCHED_PART_HEAD_LEN);
        let bytes = u32::try_from(p.bytes()).unwrap_or(u32::MAX);
        encode_fetched_part(p.partition, p.current_offset, p.count, bytes, &mut part);
        chunks.push(part.freeze());
        chunks.extend(p.chunks);
    }
    Reply { status: 0, head, chunks, ..Reply::default() }
}

pub async fn flush(
    ctx: &ShardCtx,
    user: Option<u32>,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let (stream, topic, partition, fsync) = messages::decode_flush(payload)?;
    require_topic(ctx, user, &stream, &topic, Need::Send)?;
    let handle = partition_handle(ctx, &stream, &topic, partition)?;
    ask(&handle.tx, |reply| PartitionOp::Flush { fsync, reply }).await?;
    Ok(Reply::default())
}
