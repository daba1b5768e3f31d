//! A partition's owner task: it alone touches the partition's log and offsets, executing the
//! operations other tasks (on any shard) send it, in arrival order. Consecutive appends that
//! queued up while it was busy are written one after another and share one sync (group commit);
//! none is acknowledged before the durability policy allows. Deferred polls wait here
//! (`waiting`): they are checked once per group commit, after its sync, so nothing is
//! delivered before it is durable, and at their deadlines. No wire parsing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use eddy_wire::commands::messages::PollingStrategy;

use super::message::{ConsumerId, Deferral, PartitionOp, PartitionStats, Polled, Reply, WaitReply};
use super::waiting::{Waiter, Waiters};
use crate::error::ServerError;
use crate::metadata::PartitionKey;
use crate::metadata::offsets::Offsets;
use crate::storage::StorageError;
use crate::storage::durability::FsyncPolicy;
use crate::storage::log::PartitionLog;

/// Appends grouped under one sync at most.
const MAX_GROUP: usize = 256;

/// The directory of a partition.
pub fn partition_dir(data_dir: &Path, key: PartitionKey) -> PathBuf {
    data_dir
        .join("streams")
        .join(key.stream.to_string())
        .join("topics")
        .join(key.topic.to_string())
        .join("partitions")
        .join(key.partition.to_string())
}

/// Microseconds since the Unix epoch.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The state a partition's task owns.
pub struct PartitionActor {
    key: PartitionKey,
    log: PartitionLog,
    offsets: Offsets,
    policy: FsyncPolicy,
    stats: Arc<PartitionStats>,
    waiters: Waiters,
}

impl PartitionActor {
    /// Opens (recovering) the partition's log and offsets.
    pub async fn open(
        data_dir: &Path,
        key: PartitionKey,
        segment_size: u64,
        policy: FsyncPolicy,
        stats: Arc<PartitionStats>,
    ) -> Result<Self, StorageError> {
        let dir = partition_dir(data_dir, key);
        let log = PartitionLog::open(&dir, segment_size, policy).await?;
        let offsets = Offsets::load(&dir)?;
        let waiters = Waiters::new(stats.waiting.clone());
        let actor = Self { key, log, offsets, policy, stats, waiters };
        actor.publish();
        Ok(actor)
    }

    fn publish(&self) {
        self.stats.next_offset.store(self.log.next_offset(), Ordering::Relaxed);
        self.stats.messages.store(self.log.messages_count(), Ordering::Relaxed);
        self.stats.size_bytes.store(self.log.size_bytes(), Ordering::Relaxed);
        self.stats.segments.store(self.log.segments_count() as u64, Ordering::Relaxed);
    }

    /// Serves operations until the channel closes or a `Close` arrives.
    pub async fn run(self, rx: flume::Receiver<PartitionOp>) {
        self.run_from(None, rx).await;
    }

    /// Serves `first` (if any), then operations until the channel closes or a `Close` arrives.
    pub async fn run_from(mut self, first: Option<PartitionOp>, rx: flume::Receiver<PartitionOp>) {
        let mut pending = first;
        loop {
            let op = match pending.take() {
                Some(op) => op,
                None => match self.waiters.next_deadline() {
                    None => match rx.recv_async().await {
                        Ok(op) => op,
                        Err(_) => return,
                    },
                    // A dropped `recv_async` loses nothing: the message stays queued.
                    Some(deadline) => {
                        match compio::time::timeout_at(deadline, rx.recv_async()).await {
                            Ok(Ok(op)) => op,
                            Ok(Err(_)) => return,
                            Err(_) => {
                                self.answer_due_waiters().await;
                                continue;
                            }
                        }
                    }
                },
            };
            match op {
                PartitionOp::Append { batch, lengths, reply } => {
                    let mut acks = Vec::new();
                    let result = self.log.append(batch, &lengths, now_micros()).await;
                    acks.push((reply, result));
                    while acks.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(PartitionOp::Append { batch, lengths, reply }) => {
                                let result = self.log.append(batch, &lengths, now_micros()).await;
                                acks.push((reply, result));
                            }
                            Ok(other) => {
                                pending = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.acknowledge(acks).await;
                }
                PartitionOp::Poll {
                    consumer,
                    strategy,
                    count,
                    auto_commit,
                    defer: None,
                    reply,
                } => {
                    let result = self.poll(consumer, strategy, count, auto_commit).await;
                    reply.send(result).ok();
                }
                PartitionOp::Poll {
                    consumer,
                    strategy,
                    count,
                    auto_commit,
                    defer: Some(defer),
                    reply,
                } => {
                    let reply = WaitReply::Poll(reply);
                    self.poll_deferred(consumer, strategy, count, auto_commit, defer, reply).await
                }
                PartitionOp::Push { consumer, start, count, auto_commit, defer, to } => {
                    let start = start.max(self.log.first_offset());
                    let reply = WaitReply::Push(to);
                    self.wait(Waiter { consumer, start, count, auto_commit, defer, reply }).await;
                }
                PartitionOp::StartOf { consumer, strategy, count, reply } => {
                    let start = self.start_of(&consumer, strategy, count).await.map(|start| {
                        start.unwrap_or(self.log.readable_end()).max(self.log.first_offset())
                    });
                    reply.send(start).ok();
                }
                PartitionOp::CancelWait { waiter, answer } => {
                    let cancelled = self.waiters.take_due(|w| w.defer.waiter == waiter);
                    if answer {
                        self.answer_all(cancelled).await;
                    }
                }
                PartitionOp::GetOffset { consumer, reply } => {
                    let current = self.log.readable_end().saturating_sub(1);
                    reply.send(Ok(self.offsets.get(&consumer).map(|s| (current, s)))).ok();
                }
                PartitionOp::StoreOffset { consumer, offset, reply } => {
                    let result = if offset >= self.log.readable_end() {
                        Err(ServerError::InvalidOffset(offset))
                    } else {
                        self.offsets
                            .store(consumer, offset, self.policy)
                            .await
                            .map_err(ServerError::from)
                    };
                    reply.send(result).ok();
                }
                PartitionOp::DeleteOffset { consumer, reply } => {
                    let result = self
                        .offsets
                        .delete(&consumer, self.policy)
                        .await
                        .map(|_| ())
                        .map_err(ServerError::from);
                    reply.send(result).ok();
                }
                PartitionOp::Flush { fsync, reply } => {
                    let result = if fsync { self.log.sync().await } else { Ok(()) };
                    reply.send(result.map_err(ServerError::from)).ok();
                }
                PartitionOp::Purge { reply } => {
                    let result = self.log.purge().await.map_err(ServerError::from);
                    self.publish();
                    reply.send(result).ok();
                }
                PartitionOp::Retain { expired_before, oldest, reply } => {
                    let result = self.retain(expired_before, oldest).await;
                    self.publish();
                    reply.send(result.map_err(ServerError::from)).ok();
                }
                PartitionOp::Close { delete, reply } => {
                    let result = if delete {
                        tracing::debug!(key = ?self.key, "deleting partition");
                        drop(self.offsets);
                        self.log.delete().await.map_err(ServerError::from)
                    } else {
                        // A clean stop: the next start trusts everything unread.
                        self.log.close().await.map_err(ServerError::from)
                    };
                    reply.send(result).ok();
                    return;
                }
            }
        }
    }

    /// Runs a `PartitionOp::Retain`: expired segments first, then up to `oldest` more; none
    /// holding a message no consumer with a stored offset has passed.
    async fn retain(
        &mut self,
        expired_before: Option<u64>,
        oldest: u32,
    ) -> Result<super::message::Retained, StorageError> {
        let barrier = self.offsets.min_stored();
        let consumed = move |s: &crate::storage::segment::Segment| {
            barrier.is_none_or(|b| s.end_offset() <= b.saturating_add(1))
        };
        let mut removed = crate::storage::log::Removed::default();
        if let Some(before) = expired_before {
            let expired =
                |s: &crate::storage::segment::Segment| consumed(s) && s.last_timestamp() < before;
            removed = self.log.delete_oldest(usize::MAX, expired).await?;
        }
        if oldest > 0 {
            let more = self.log.delete_oldest(oldest as usize, consumed).await?;
            removed.segments += more.segments;
            removed.messages += more.messages;
            removed.bytes += more.bytes;
        }
        if removed.segments > 0 {
            tracing::info!(key = ?self.key, ?removed, first_offset = self.log.first_offset(), "retention deleted segments");
        }
        let next = self.log.sealed_segments().first().filter(|s| consumed(s));
        let next_deletable = next.map(|s| s.last_timestamp());
        Ok(super::message::Retained { removed, next_deletable })
    }

    /// Syncs if the policy says so, answers the waiters now due (consumers first: their
    /// delivery is the latency that counts end to end), then replies to every grouped append.
    /// A failed sync fails every append it covered: none of them is acknowledged, nor shown.
    async fn acknowledge(&mut self, acks: Vec<(Reply<u64>, Result<u64, StorageError>)>) {
        let any_ok = acks.iter().any(|(_, r)| r.is_ok());
        let sync_error = if any_ok && self.policy.sync_before_ack() {
            self.log.sync().await.err()
        } else {
            None
        };
        self.publish();
        if !self.waiters.is_empty() {
            self.answer_due_waiters().await;
        }
        for (reply, result) in acks {
            let result = match (&sync_error, result) {
                (Some(e), Ok(_)) => {
                    Err(ServerError::Storage(StorageError::Poisoned(e.to_string())))
                }
                (_, r) => r.map_err(ServerError::from),
            };
            reply.send(result).ok();
        }
    }

    /// Where a poll with `strategy` starts; `None` for a timestamp past every message.
    async fn start_of(
        &mut self,
        consumer: &ConsumerId,
        strategy: PollingStrategy,
        count: u32,
    ) -> Result<Option<u64>, ServerError> {
        let next = self.log.readable_end();
        Ok(Some(match strategy {
            PollingStrategy::Offset(o) => o,
            PollingStrategy::Timestamp(t) => match self.log.offset_at_or_after(t).await? {
                Some(o) => o,
                None => return Ok(None),
            },
            PollingStrategy::First => self.log.first_offset(),
            PollingStrategy::Last => next.saturating_sub(u64::from(count)),
            PollingStrategy::Next => self.offsets.get(consumer).map_or(0, |o| o + 1),
        }))
    }

    async fn poll(
        &mut self,
        consumer: ConsumerId,
        strategy: PollingStrategy,
        count: u32,
        auto_commit: bool,
    ) -> Result<Polled, ServerError> {
        let Some(start) = self.start_of(&consumer, strategy, count).await? else {
            return Ok(self.empty());
        };
        let polled = self.read_range(start, count, 0).await?;
        if auto_commit {
            self.commit(consumer, start, polled.count).await?;
        }
        Ok(polled)
    }

    /// A poll that waits: answered now if it is already due, else kept until an append, its
    /// deadline or a cancel makes it due. A timestamp past every message waits for the next one.
    async fn poll_deferred(
        &mut self,
        consumer: ConsumerId,
        strategy: PollingStrategy,
        count: u32,
        auto_commit: bool,
        defer: Deferral,
        reply: WaitReply,
    ) {
        let start = match self.start_of(&consumer, strategy, count).await {
            Ok(start) => start.unwrap_or(self.log.readable_end()),
            Err(e) => {
                reply.send(Err(e));
                return;
            }
        };
        let start = start.max(self.log.first_offset());
        self.wait(Waiter { consumer, start, count, auto_commit, defer, reply }).await;
    }

    /// Answers `waiter` now if it is due, else keeps it.
    async fn wait(&mut self, waiter: Waiter) {
        if waiter.count == 0 || self.is_due(&waiter) {
            self.answer_all(vec![waiter]).await;
        } else {
            self.waiters.push(waiter);
        }
    }

    fn is_due(&self, w: &Waiter) -> bool {
        let end = self.log.readable_end();
        w.is_due(std::time::Instant::now(), end, self.log.readable_bytes_from(w.start))
    }

    /// Answers every waiter that is due.
    async fn answer_due_waiters(&mut self) {
        let now = std::time::Instant::now();
        let end = self.log.readable_end();
        let log = &self.log;
        let due = self.waiters.take_due(|w| w.is_due(now, end, log.readable_bytes_from(w.start)));
        self.answer_all(due).await;
    }

    /// Replies to each waiter with what is readable from its start now (nothing to a client
    /// that is gone: its auto-commit must not move past messages it never got). Waiters that
    /// start at the same offset (a fan-out: many consumers at the head of one partition) share
    /// one read, as large as the largest of them asks: each reply is a prefix of it holding the
    /// same stored bytes, not copies.
    async fn answer_all(&mut self, waiters: Vec<Waiter>) {
        let waiters: Vec<Waiter> =
            waiters.into_iter().filter(|w| !w.reply.is_disconnected()).collect();
        let budget = |w: &Waiter| match w.defer.max_bytes {
            0 => crate::storage::log::MAX_READ_BYTES,
            n => u64::from(n),
        };
        // Per start: the most any waiter there asks for, then its read.
        let mut reads: Vec<(u64, u32, u64, Option<Polled>)> = Vec::new();
        for w in &waiters {
            match reads.iter_mut().find(|r| r.0 == w.start) {
                Some(r) => {
                    r.1 = r.1.max(w.count);
                    r.2 = r.2.max(budget(w));
                }
                None => reads.push((w.start, w.count, budget(w), None)),
            }
        }
        for w in waiters {
            let Some(at) = reads.iter().position(|r| r.0 == w.start) else { continue };
            let read = match &reads[at].3 {
                Some(polled) => Ok(polled.clone()),
                None => {
                    let (start, count, bytes, _) = reads[at];
                    let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
                    let read = self.read_range(start, count, bytes).await;
                    if let Ok(polled) = &read {
                        reads[at].3 = Some(polled.clone());
                    }
                    read
                }
            };
            let polled = read.map(|p| p.prefix(w.count, budget(&w), w.defer.exact_bytes));
            let result = match polled {
                Ok(polled) if w.auto_commit => {
                    self.commit(w.consumer, w.start, polled.count).await.map(|()| polled)
                }
                other => other,
            };
            w.reply.send(result);
        }
    }

    fn empty(&self) -> Polled {
        let current_offset = self.log.readable_end().saturating_sub(1);
        let start = self.log.readable_end();
        Polled { partition: self.key.partition, current_offset, start, ..Polled::default() }
    }

    /// Reads up to `count` messages from `start` (at most `max_bytes`, 0: no budget), never
    /// past the durable end (after a failed sync the rest is never shown: it was not
    /// acknowledged and its durability is unknown).
    async fn read_range(
        &mut self,
        start: u64,
        count: u32,
        max_bytes: u32,
    ) -> Result<Polled, ServerError> {
        let next = self.log.readable_end();
        let current_offset = next.saturating_sub(1);
        if count == 0 || start >= next {
            return Ok(self.empty());
        }
        let budget = match max_bytes {
            0 => crate::storage::log::MAX_READ_BYTES,
            n => u64::from(n),
        };
        let read = self.log.read_at_most(start, count as usize, budget).await?;
        Ok(Polled {
            partition: self.key.partition,
            current_offset,
            start: start.max(self.log.first_offset()),
            held: false,
            count: read.count as u32,
            chunks: read.chunks,
        })
    }

    /// Stores the offset of the last of `count` messages returned from `start` (nothing when
    /// none were).
    async fn commit(
        &mut self,
        consumer: ConsumerId,
        start: u64,
        count: u32,
    ) -> Result<(), ServerError> {
        if count == 0 {
            return Ok(());
        }
        let first = start.max(self.log.first_offset());
        let last = first + u64::from(count) - 1;
        self.offsets.store(consumer, last, self.policy).await.map_err(ServerError::from)
    }
}
