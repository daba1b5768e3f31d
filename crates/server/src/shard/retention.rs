//! Retention: a task per shard that, every `storage.retention_interval_ms`, enforces
//! `message_expiry` and `max_topic_size` of the topics whose partition 0 this shard owns, by
//! asking each partition's owner (on any shard) to delete sealed segments from the start of its
//! log (`PartitionOp::Retain`). Expiry: every segment whose newest message is older goes. Size
//! (Iggy's rule): while the topic holds 90% of its maximum or more, its oldest deletable segment
//! goes. Never the active segment, never a message a stored consumer offset has not passed (as
//! in Iggy). Topic settings of 0 (the server's default) and u64::MAX mean no limit. No file I/O
//! of its own.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::ShardCtx;
use super::message::{PartitionHandle, PartitionOp, ask};
use super::partition::now_micros;
use super::route::owner;
use crate::error::ServerError;
use crate::metadata::{PartitionKey, TopicMeta};

/// Most segments one pass deletes from one topic for its size (the next pass goes on).
const MAX_SIZE_DELETIONS_PER_PASS: usize = 10_000;

/// A topic setting's limit: none for 0 (the server's default: none) and u64::MAX.
fn limit(value: u64) -> Option<u64> {
    (value != 0 && value != u64::MAX).then_some(value)
}

/// Runs passes until the shard stops (`storage.retention_interval_ms` of 0: never).
pub async fn run(ctx: Rc<ShardCtx>) {
    let every = Duration::from_millis(ctx.config.storage.retention_interval_ms);
    if every.is_zero() {
        return;
    }
    loop {
        compio::time::sleep(every).await;
        pass(&ctx).await;
    }
}

/// One pass over the topics this shard coordinates.
pub async fn pass(ctx: &ShardCtx) {
    let snapshot = ctx.snapshot();
    let shards = ctx.config.shard_count();
    let mut topics = Vec::new();
    for s in snapshot.catalog.streams.values() {
        for t in s.topics.values() {
            let first = PartitionKey { stream: s.id, topic: t.id, partition: 0 };
            let (expiry, max) = (limit(t.message_expiry), limit(t.max_topic_size));
            if t.partitions.is_empty()
                || owner(first, shards) != ctx.id
                || (expiry, max) == (None, None)
            {
                continue;
            }
            let handles: Vec<PartitionHandle> = partition_keys(s.id, t)
                .filter_map(|k| snapshot.partitions.get(&k).cloned())
                .collect();
            topics.push(((s.id, t.id), handles, expiry, max));
        }
    }
    drop(snapshot);
    let now = now_micros();
    for (ids, handles, expiry, max) in topics {
        if let Err(e) = retain_topic(&handles, now, expiry, max).await {
            tracing::warn!(stream = ids.0, topic = ids.1, error = %e, "retention pass failed; the next one retries");
        }
    }
}

fn partition_keys(stream: u32, t: &TopicMeta) -> impl Iterator<Item = PartitionKey> + '_ {
    t.partitions.iter().map(move |p| PartitionKey { stream, topic: t.id, partition: p.id })
}

async fn retain_topic(
    handles: &[PartitionHandle],
    now: u64,
    expiry: Option<u64>,
    max: Option<u64>,
) -> Result<(), ServerError> {
    let expired_before = expiry.map(|e| now.saturating_sub(e));
    let mut next = Vec::with_capacity(handles.len());
    for h in handles {
        let r =
            ask(&h.tx, |reply| PartitionOp::Retain { expired_before, oldest: 0, reply }).await?;
        next.push(r.next_deletable);
    }
    let Some(max) = max else { return Ok(()) };
    let threshold = max - max / 10;
    let mut size: u64 = handles.iter().map(|h| h.stats.size_bytes.load(Ordering::Relaxed)).sum();
    let mut deleted = 0;
    while size >= threshold && deleted < MAX_SIZE_DELETIONS_PER_PASS {
        let oldest =
            next.iter().enumerate().filter_map(|(i, t)| Some((i, (*t)?))).min_by_key(|&(_, t)| t);
        let Some((i, _)) = oldest else { break };
        let r = ask(&handles[i].tx, |reply| PartitionOp::Retain {
            expired_before: None,
            oldest: 1,
            reply,
        })
        .await?;
        size = size.saturating_sub(r.removed.bytes);
        next[i] = r.next_deletable;
        deleted += 1;
    }
    Ok(())
}
