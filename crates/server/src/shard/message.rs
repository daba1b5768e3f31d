//! The typed messages shards exchange: operations sent to a partition's owner, metadata changes
//! sent to the metadata owner, and the catalog snapshots it publishes. Every field is `Send`:
//! these cross threads. No state, no I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use eddy_wire::Identifier;
use eddy_wire::commands::messages::PollingStrategy;
use eddy_wire::message::MessageHeader;

use crate::error::ServerError;
use crate::metadata::members::Members;
use crate::metadata::{Catalog, PartitionKey, TopicSettings};

/// A one-shot reply channel.
pub type Reply<T> = flume::Sender<Result<T, ServerError>>;

/// A consumer whose offset a partition stores: `(kind, id)`; a group's is stored under its
/// numeric id, whatever name a request used.
pub type ConsumerId = (u8, Identifier);

/// What a poll returns (cloning shares the stored bytes).
#[derive(Debug, Default, Clone)]
pub struct Polled {
    pub partition: u32,
    /// The offset of the last stored message (Iggy's `current_offset`).
    pub current_offset: u64,
    /// The offset of the first message returned (when any are).
    pub start: u64,
    /// None returned although messages are readable: the first one exceeds a hard byte limit.
    pub held: bool,
    pub count: u32,
    /// Stored message bytes, returned as they are on disk.
    pub chunks: Vec<Bytes>,
}

impl Polled {
    /// The stored bytes returned.
    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }

    /// The first messages of this read, at most `count` and `max_bytes` of them (sharing its
    /// bytes, no copy); with `exact` false the first message comes whatever its size.
    pub fn prefix(&self, count: u32, max_bytes: u64, exact: bool) -> Polled {
        if self.count <= count && self.bytes() <= max_bytes {
            return self.clone();
        }
        let mut out = Polled { chunks: Vec::new(), count: 0, held: false, ..*self };
        let mut bytes = 0u64;
        for chunk in &self.chunks {
            let mut at = 0usize;
            while at < chunk.len() && out.count < count {
                let Some(header) = chunk.get(at..).and_then(MessageHeader::parse) else { break };
                let len = usize::try_from(header.total_len()).unwrap_or(usize::MAX);
                let Some(end) = at.checked_add(len).filter(|&e| e <= chunk.len()) else { break };
                let within = bytes.saturating_add(len as u64) <= max_bytes;
                if !within && (exact || out.count > 0) {
                    break;
                }
                bytes = bytes.saturating_add(len as u64);
                out.count += 1;
                at = end;
            }
            if at > 0 {
                out.chunks.push(chunk.slice(..at));
            }
            if at < chunk.len() || out.count >= count {
                break;
            }
        }
        out.held = exact && out.count == 0 && self.count > 0;
        out
    }
}

/// What a `PartitionOp::Retain` removed, and what it could remove next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retained {
    pub removed: crate::storage::log::Removed,
    /// The newest timestamp in the oldest segment that may be deleted now, if any (size-based
    /// retention deletes the topic's oldest such segment first).
    pub next_deletable: Option<u64>,
}

/// An operation on one partition, executed by the shard that owns it.
#[derive(Debug)]
pub enum PartitionOp {
    Append {
        batch: BytesMut,
        lengths: Vec<u32>,
        reply: Reply<u64>,
    },
    Poll {
        consumer: ConsumerId,
        strategy: PollingStrategy,
        count: u32,
        auto_commit: bool,
        /// Wait for messages (a deferred poll) instead of answering at once.
        defer: Option<Deferral>,
        reply: Reply<Polled>,
    },
    /// A subscription's wait for messages from `start` (see `push`): answered as a deferred
    /// poll is, on the subscription's connection channel.
    Push {
        consumer: ConsumerId,
        start: u64,
        count: u32,
        auto_commit: bool,
        defer: Deferral,
        to: PushTo,
    },
    /// Where `strategy` starts a subscription now (the next offset for a timestamp past
    /// every message).
    StartOf {
        consumer: ConsumerId,
        strategy: PollingStrategy,
        count: u32,
        reply: Reply<u64>,
    },
    /// Ends the wait of `waiter` now: with `answer`, it is answered with what is there (a
    /// cancel), else dropped unanswered (its connection or subscription went away). No reply
    /// of its own.
    CancelWait {
        waiter: u64,
        answer: bool,
    },
    /// `(current offset, stored offset)`; `None` when nothing is stored.
    GetOffset {
        consumer: ConsumerId,
        reply: Reply<Option<(u64, u64)>>,
    },
    StoreOffset {
        consumer: ConsumerId,
        offset: u64,
        reply: Reply<()>,
    },
    DeleteOffset {
        consumer: ConsumerId,
        reply: Reply<()>,
    },
    Flush {
        /// `fdatasync` what was written (a flush without it has nothing to do: writes reach
        /// the kernel as they are made).
        fsync: bool,
        reply: Reply<()>,
    },
    Purge {
        reply: Reply<()>,
    },
    /// Deletes sealed segments from the start of the log (never the active one, nor one holding
    /// a message past the lowest stored consumer offset): those whose newest message is older
    /// than `expired_before` (µs), then up to `oldest` more.
    Retain {
        expired_before: Option<u64>,
        oldest: u32,
        reply: Reply<Retained>,
    },
    /// Stop serving; with `delete`, remove the partition's files.
    Close {
        delete: bool,
        reply: Reply<()>,
    },
}

/// Counters a partition's owner publishes for every shard to read (stats, topic details).
impl PartitionOp {
    /// Answers the operation with `error` without running it (a partition that could not be
    /// opened). Closing such a partition succeeds: there is nothing open to close.
    pub fn fail(self, error: impl Fn() -> ServerError) {
        match self {
            Self::Append { reply, .. } => drop(reply.send(Err(error()))),
            Self::Poll { reply, .. } => drop(reply.send(Err(error()))),
            Self::GetOffset { reply, .. } => drop(reply.send(Err(error()))),
            Self::StoreOffset { reply, .. }
            | Self::DeleteOffset { reply, .. }
            | Self::Flush { reply, .. }
            | Self::Purge { reply } => drop(reply.send(Err(error()))),
            Self::Retain { reply, .. } => drop(reply.send(Err(error()))),
            Self::StartOf { reply, .. } => drop(reply.send(Err(error()))),
            Self::Push { to, .. } => to.send(Err(error())),
            Self::Close { reply, .. } => drop(reply.send(Ok(()))),
            Self::CancelWait { .. } => {}
        }
    }
}

/// A deferred poll or fetch waiting for its reply: the handler that started it leaves this in
/// the session, and the transport waits for the reply while it reads the socket (so it sees a
/// CANCEL_DEFERRED_REQUEST, or the client going away, at once).
#[derive(Debug, Clone)]
pub enum PendingPoll {
    /// A POLL_MESSAGES_DEFERRED waiting in its partition's owner.
    Partition {
        reply: flume::Receiver<Result<Polled, ServerError>>,
        partition: flume::Sender<PartitionOp>,
        waiter: u64,
    },
    /// A FETCH_MESSAGES waiting in its task (`crate::fetch`): `signal` carries a cancel
    /// (`true`) or an abandon (`false`).
    Fetch { reply: flume::Receiver<Result<Vec<Polled>, ServerError>>, signal: flume::Sender<bool> },
}

/// What a pending poll was answered with.
#[derive(Debug)]
pub enum Waited {
    Polled(Polled),
    /// One per partition, in the order the fetch named them.
    Fetched(Vec<Polled>),
}

impl PendingPoll {
    /// The reply (waits for it). Dropping the future leaves the reply queued.
    pub async fn recv(&self) -> Result<Waited, ServerError> {
        let gone = |_| ServerError::Internal("the poll's owner is gone");
        match self {
            Self::Partition { reply, .. } => {
                reply.recv_async().await.map_err(gone)?.map(Waited::Polled)
            }
            Self::Fetch { reply, .. } => {
                reply.recv_async().await.map_err(gone)?.map(Waited::Fetched)
            }
        }
    }

    /// Asks for the answer now, with what is there.
    pub async fn cancel(&self) {
        match self {
            Self::Partition { partition, waiter, .. } => {
                let op = PartitionOp::CancelWait { waiter: *waiter, answer: true };
                partition.send_async(op).await.ok();
            }
            Self::Fetch { signal, .. } => drop(signal.send_async(true).await),
        }
    }

    /// The client is gone: the wait is dropped unanswered (no auto-commit for messages nobody
    /// will read).
    pub async fn abandon(self) {
        match self {
            Self::Partition { reply, partition, waiter } => {
                drop(reply);
                let op = PartitionOp::CancelWait { waiter, answer: false };
                partition.send_async(op).await.ok();
            }
            Self::Fetch { reply, signal } => {
                drop(reply);
                signal.send_async(false).await.ok();
            }
        }
    }
}

/// Who waits in a partition's owner: a connection's deferred poll, or `client << 32 | n` for
/// its subscription `n` (the deferred poll is `n = 0`).
pub fn waiter_id(client: u32, subscription: u32) -> u64 {
    (u64::from(client) << 32) | u64::from(subscription)
}

/// What a subscription's wait is answered with, on its connection's channel.
#[derive(Debug)]
pub struct Pushed {
    pub subscription: u32,
    pub partition: u32,
    pub result: Result<Polled, ServerError>,
}

/// Where a subscription's wait is answered: the connection's one channel for all of them.
#[derive(Debug, Clone)]
pub struct PushTo {
    pub tx: flume::Sender<Pushed>,
    pub subscription: u32,
    pub partition: u32,
}

impl PushTo {
    pub fn send(&self, result: Result<Polled, ServerError>) {
        let pushed = Pushed { subscription: self.subscription, partition: self.partition, result };
        self.tx.send(pushed).ok();
    }
}

/// Where a waiting poll's answer goes.
#[derive(Debug)]
pub enum WaitReply {
    /// A deferred poll's one reply.
    Poll(Reply<Polled>),
    /// A subscription's wait.
    Push(PushTo),
}

impl WaitReply {
    pub fn send(self, result: Result<Polled, ServerError>) {
        match self {
            Self::Poll(reply) => drop(reply.send(result)),
            Self::Push(to) => to.send(result),
        }
    }

    /// The connection that waits is gone.
    pub fn is_disconnected(&self) -> bool {
        match self {
            Self::Poll(reply) => reply.is_disconnected(),
            Self::Push(to) => to.tx.is_disconnected(),
        }
    }
}

/// What makes a poll wait: it is answered once `min_count` messages (at least one) are
/// readable from its start, `max_bytes` of them are (0: no byte budget), or at `deadline`.
#[derive(Debug, Clone, Copy)]
pub struct Deferral {
    pub deadline: std::time::Instant,
    pub min_count: u32,
    pub max_bytes: u32,
    /// `max_bytes` is a hard limit (a subscription's credit): a first message larger than it
    /// is not returned. Otherwise one message is returned whatever its size.
    pub exact_bytes: bool,
    /// Who waits ([`waiter_id`]): its cancel names it.
    pub waiter: u64,
}

#[derive(Debug, Default)]
pub struct PartitionStats {
    pub next_offset: AtomicU64,
    pub messages: AtomicU64,
    pub size_bytes: AtomicU64,
    pub segments: AtomicU64,
    /// Waiting polls and subscription waits on every partition of the server (one gauge,
    /// shared by all partitions).
    pub waiting: Arc<AtomicU64>,
}

impl PartitionStats {
    pub fn load(&self) -> (u64, u64, u64, u64) {
        (
            self.next_offset.load(Ordering::Relaxed),
            self.messages.load(Ordering::Relaxed),
            self.size_bytes.load(Ordering::Relaxed),
            self.segments.load(Ordering::Relaxed),
        )
    }
}

/// How any shard reaches a partition.
#[derive(Debug, Clone)]
pub struct PartitionHandle {
    pub tx: flume::Sender<PartitionOp>,
    pub stats: Arc<PartitionStats>,
}

/// An immutable view of the catalog and the partition handles, shared by every shard.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub catalog: Catalog,
    pub partitions: std::collections::HashMap<PartitionKey, PartitionHandle>,
    /// Who belongs to which consumer group (connections, not persisted).
    pub members: Members,
    /// The users besides root, with their permissions.
    pub users: crate::auth::Users,
}

impl Snapshot {
    /// Fails unless the session's user may do `need`: the root user may do everything; a
    /// deleted or inactive user nothing (the dispatcher logs such a session out).
    pub fn require(
        &self,
        user: Option<u32>,
        need: crate::auth::access::Need,
    ) -> Result<(), crate::error::ServerError> {
        use crate::error::ServerError;
        match user {
            None => Err(ServerError::Unauthenticated),
            Some(crate::auth::users::ROOT_USER_ID) => Ok(()),
            Some(id) => match self.users.users.get(&id) {
                None => Err(ServerError::Unauthenticated),
                Some(u) if !u.active => Err(ServerError::UserInactive),
                Some(u) => match u
                    .permissions
                    .as_ref()
                    .is_some_and(|p| crate::auth::access::allows(p, need))
                {
                    true => Ok(()),
                    false => Err(ServerError::Unauthorized),
                },
            },
        }
    }

    /// Whether `user` may still act: root, or a user that exists and is active.
    pub fn may_act(&self, user: u32) -> bool {
        user == crate::auth::users::ROOT_USER_ID
            || self.users.users.get(&user).is_some_and(|u| u.active)
    }
}

/// A change to the catalog, sent to the metadata owner.
#[derive(Debug)]
pub enum MetaOp {
    CreateStream {
        name: String,
    },
    UpdateStream {
        stream: Identifier,
        name: String,
    },
    DeleteStream {
        stream: Identifier,
    },
    PurgeStream {
        stream: Identifier,
    },
    CreateTopic {
        stream: Identifier,
        settings: TopicSettings,
        partitions: u32,
    },
    UpdateTopic {
        stream: Identifier,
        topic: Identifier,
        settings: TopicSettings,
    },
    DeleteTopic {
        stream: Identifier,
        topic: Identifier,
    },
    PurgeTopic {
        stream: Identifier,
        topic: Identifier,
    },
    CreatePartitions {
        stream: Identifier,
        topic: Identifier,
        count: u32,
    },
    DeletePartitions {
        stream: Identifier,
        topic: Identifier,
        count: u32,
    },
    CreateGroup {
        stream: Identifier,
        topic: Identifier,
        name: String,
    },
    DeleteGroup {
        stream: Identifier,
        topic: Identifier,
        group: Identifier,
    },
    JoinGroup {
        stream: Identifier,
        topic: Identifier,
        group: Identifier,
        client: u32,
    },
    LeaveGroup {
        stream: Identifier,
        topic: Identifier,
        group: Identifier,
        client: u32,
    },
    /// A connection ended: it leaves every group it had joined.
    LeaveGroups {
        client: u32,
    },
    /// A member polled again (its in-flight poll is done): the partitions it gives up move on,
    /// and so do those owed to it that waited too long (see `metadata::members`).
    SettleRevocations {
        group: crate::metadata::GroupKey,
        client: u32,
    },
    /// Adds a user (its password already hashed); the outcome's first id is the user's.
    CreateUser(crate::auth::users::NewUser),
    DeleteUser {
        user: u32,
    },
    UpdateUser {
        user: u32,
        username: Option<String>,
        active: Option<bool>,
    },
    UpdatePermissions {
        user: u32,
        permissions: Option<eddy_wire::commands::users::Permissions>,
    },
    /// Replaces a password hash, if it is still the one the current password was checked
    /// against.
    ChangePassword {
        user: u32,
        expected: String,
        hash: String,
    },
}

/// The result of a metadata change: the new snapshot (already installed on every shard) and the
/// `(stream, topic)` ids of what was created, if anything.
pub type MetaOutcome = (Arc<Snapshot>, Option<(u32, u32)>);

/// A metadata change and where its result goes.
#[derive(Debug)]
pub struct MetaRequest {
    pub op: MetaOp,
    pub reply: Reply<MetaOutcome>,
}

/// A partition a shard must start serving.
#[derive(Debug)]
pub struct OpenPartition {
    pub key: PartitionKey,
    pub rx: flume::Receiver<PartitionOp>,
    pub stats: Arc<PartitionStats>,
}

/// Sent to every shard by the metadata owner: install this snapshot, open these partitions
/// (owned by this shard), then acknowledge.
#[derive(Debug)]
pub struct Install {
    pub snapshot: Arc<Snapshot>,
    pub open: Vec<OpenPartition>,
    pub done: flume::Sender<Result<(), String>>,
}

/// Asks for one reply over a fresh channel.
pub async fn ask<T>(
    tx: &flume::Sender<PartitionOp>,
    make: impl FnOnce(Reply<T>) -> PartitionOp,
) -> Result<T, ServerError> {
    let (reply, rx) = flume::bounded(1);
    tx.send_async(make(reply)).await.map_err(|_| ServerError::Internal("partition is closed"))?;
    rx.recv_async().await.map_err(|_| ServerError::Internal("partition dropped the request"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages with payloads of these sizes, in two chunks: `[a, b]` and `[c]`.
    fn polled(sizes: [usize; 3]) -> Polled {
        let mut chunks = Vec::new();
        for group in [&sizes[..2], &sizes[2..]] {
            let mut out = BytesMut::new();
            for (i, &size) in group.iter().enumerate() {
                eddy_wire::message::encode_message(&mut out, i as u128, 0, &vec![1; size], &[]);
            }
            chunks.push(out.freeze());
        }
        Polled { partition: 0, current_offset: 2, start: 0, held: false, count: 3, chunks }
    }

    #[test]
    fn a_prefix_cuts_whole_messages_and_shares_the_bytes() {
        let p = polled([10, 20, 30]);
        let (a, b, c) = (74u64, 84u64, 94u64);
        assert_eq!(p.bytes(), a + b + c);
        let all = p.prefix(3, u64::MAX, true);
        assert_eq!((all.count, all.bytes()), (3, a + b + c));
        let two = p.prefix(2, u64::MAX, true);
        assert_eq!((two.count, two.bytes(), two.chunks.len()), (2, a + b, 1));
        assert_eq!(two.chunks[0].as_ptr(), p.chunks[0].as_ptr(), "the same bytes, no copy");
        let budget = p.prefix(3, a + b + c - 1, true);
        assert_eq!((budget.count, budget.bytes()), (2, a + b), "the third does not fit");
        let one = p.prefix(3, a, true);
        assert_eq!((one.count, one.chunks.len()), (1, 1));
        let none = p.prefix(3, a - 1, true);
        assert!(none.count == 0 && none.chunks.is_empty() && none.held, "exact: held back");
        let first = p.prefix(3, 1, false);
        assert!(first.count == 1 && !first.held, "not exact: the first comes anyway");
    }
}
