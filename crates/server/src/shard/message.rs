//! The typed messages shards exchange: operations sent to a partition's owner, metadata changes
//! sent to the metadata owner, and the catalog snapshots it publishes. Every field is `Send`:
//! these cross threads. No state, no I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use eddy_wire::Identifier;
use eddy_wire::commands::messages::PollingStrategy;

use crate::error::ServerError;
use crate::metadata::{Catalog, PartitionKey, TopicSettings};

/// A one-shot reply channel.
pub type Reply<T> = flume::Sender<Result<T, ServerError>>;

/// A consumer whose offset a partition stores: `(kind, id)`.
pub type ConsumerId = (u8, Identifier);

/// What a poll returns (cloning shares the stored bytes).
#[derive(Debug, Default, Clone)]
pub struct Polled {
    pub partition: u32,
    /// The offset of the last stored message (Iggy's `current_offset`).
    pub current_offset: u64,
    pub count: u32,
    /// Stored message bytes, returned as they are on disk.
    pub chunks: Vec<Bytes>,
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
    /// Answers the waiting poll of `waiter` now, with what is there (a cancel, or its
    /// connection went away). No reply of its own.
    CancelWait {
        waiter: u32,
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
            Self::Close { reply, .. } => drop(reply.send(Ok(()))),
            Self::CancelWait { .. } => {}
        }
    }
}

/// A deferred poll waiting in its partition's owner: the handler that sent it leaves this in
/// the session, and the transport waits for the reply while it reads the socket (so it sees a
/// CANCEL_DEFERRED_REQUEST, or the client going away, at once).
#[derive(Debug, Clone)]
pub struct PendingPoll {
    pub reply: flume::Receiver<Result<Polled, ServerError>>,
    pub partition: flume::Sender<PartitionOp>,
    pub waiter: u32,
}

impl PendingPoll {
    /// Asks the owner to answer the poll now, with what is there.
    pub async fn cancel(&self) {
        let op = PartitionOp::CancelWait { waiter: self.waiter };
        self.partition.send_async(op).await.ok();
    }

    /// The client is gone: the owner drops the poll unanswered (no auto-commit for messages
    /// nobody will read).
    pub async fn abandon(self) {
        let Self { reply, partition, waiter } = self;
        drop(reply);
        partition.send_async(PartitionOp::CancelWait { waiter }).await.ok();
    }
}

/// What makes a poll wait: it is answered once `min_count` messages (at least one) are
/// readable from its start, `max_bytes` of them are (0: no byte budget), or at `deadline`.
#[derive(Debug, Clone, Copy)]
pub struct Deferral {
    pub deadline: std::time::Instant,
    pub min_count: u32,
    pub max_bytes: u32,
    /// Who waits (the connection's client id): its cancel names it.
    pub waiter: u32,
}

#[derive(Debug, Default)]
pub struct PartitionStats {
    pub next_offset: AtomicU64,
    pub messages: AtomicU64,
    pub size_bytes: AtomicU64,
    pub segments: AtomicU64,
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
}

/// A change to the catalog, sent to the metadata owner.
#[derive(Debug)]
pub enum MetaOp {
    CreateStream { name: String },
    UpdateStream { stream: Identifier, name: String },
    DeleteStream { stream: Identifier },
    PurgeStream { stream: Identifier },
    CreateTopic { stream: Identifier, settings: TopicSettings, partitions: u32 },
    UpdateTopic { stream: Identifier, topic: Identifier, settings: TopicSettings },
    DeleteTopic { stream: Identifier, topic: Identifier },
    PurgeTopic { stream: Identifier, topic: Identifier },
    CreatePartitions { stream: Identifier, topic: Identifier, count: u32 },
    DeletePartitions { stream: Identifier, topic: Identifier, count: u32 },
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
