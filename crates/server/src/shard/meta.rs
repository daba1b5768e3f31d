//! The metadata owner (a task on shard 0): the one place the catalog changes. It applies a change
//! to a copy, persists it, creates or closes the partitions involved, publishes the new snapshot to
//! every shard and waits until each has installed it before replying, so a client that saw the
//! reply finds the change on any shard. No wire parsing, no message bytes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use eddy_wire::Identifier;
use eddy_wire::commands::CONSUMER_KIND_GROUP;

use super::message::{
    Install, MetaOp, MetaOutcome, MetaRequest, OpenPartition, PartitionHandle, PartitionOp,
    PartitionStats, Snapshot, ask,
};
use super::partition::{now_micros, partition_dir};
use super::route::owner;
use crate::auth::Users;
use crate::error::ServerError;
use crate::metadata::members::{Members, partition_count};
use crate::metadata::{Catalog, PartitionKey, store};
use crate::storage::dirs;

/// Depth of each partition's operation queue; senders wait when it is full.
pub const PARTITION_QUEUE: usize = 1024;

/// Creates the channel and counters of a partition.
pub fn new_partition(
    key: PartitionKey,
    waiting: &Arc<AtomicU64>,
) -> (PartitionHandle, OpenPartition) {
    let (tx, rx) = flume::bounded(PARTITION_QUEUE);
    let stats = Arc::new(PartitionStats { waiting: waiting.clone(), ..PartitionStats::default() });
    (PartitionHandle { tx, stats: stats.clone() }, OpenPartition { key, rx, stats })
}

/// The metadata owner's state.
pub struct MetaOwner {
    pub data_dir: PathBuf,
    pub catalog: Catalog,
    pub partitions: HashMap<PartitionKey, PartitionHandle>,
    pub shards: Vec<flume::Sender<Install>>,
    /// The server's gauge of waiting polls, given to every partition it creates.
    pub waiting: Arc<AtomicU64>,
    /// Consumer group members (connections; changed here like the catalog, never saved).
    pub members: Members,
    /// The users besides root (saved to their own file).
    pub users: Users,
    /// The root user's configured name (no other user may take it).
    pub root_name: String,
    pub max_users: usize,
}

impl MetaOwner {
    /// Applies changes one at a time until every sender is gone.
    pub async fn run(mut self, rx: flume::Receiver<MetaRequest>) {
        while let Ok(request) = rx.recv_async().await {
            let result = self.apply(request.op).await;
            request.reply.send(result).ok();
        }
    }

    async fn apply(&mut self, op: MetaOp) -> Result<MetaOutcome, ServerError> {
        let mut catalog = self.catalog.clone();
        let now = now_micros();
        let mut opened: Vec<PartitionKey> = Vec::new();
        let mut closed: Vec<PartitionKey> = Vec::new();
        let mut purged: Vec<PartitionKey> = Vec::new();
        // Partitions whose stored offset for a deleted group goes with it.
        let mut forgotten: Vec<(PartitionKey, u32)> = Vec::new();
        let mut members = self.members.clone();
        let mut users = self.users.clone();
        let mut created = None;
        match op {
            MetaOp::CreateStream { name } => {
                created = Some((catalog.create_stream(&name, now)?, 0))
            }
            MetaOp::UpdateStream { stream, name } => catalog.update_stream(&stream, &name)?,
            MetaOp::DeleteStream { stream } => closed = catalog.delete_stream(&stream)?,
            MetaOp::PurgeStream { stream } => {
                let sid = catalog.stream(&stream)?.id;
                purged = catalog.partitions().filter(|k| k.stream == sid).collect();
            }
            MetaOp::CreateTopic { stream, settings, partitions } => {
                let ids = catalog.create_topic(&stream, settings, partitions, now)?;
                opened = catalog.partitions().filter(|k| (k.stream, k.topic) == ids).collect();
                created = Some(ids);
            }
            MetaOp::UpdateTopic { stream, topic, settings } => {
                catalog.update_topic(&stream, &topic, settings)?
            }
            MetaOp::DeleteTopic { stream, topic } => {
                closed = catalog.delete_topic(&stream, &topic)?
            }
            MetaOp::PurgeTopic { stream, topic } => {
                let (s, t) = catalog.topic(&stream, &topic)?;
                let ids = (s.id, t.id);
                purged = catalog.partitions().filter(|k| (k.stream, k.topic) == ids).collect();
            }
            MetaOp::CreatePartitions { stream, topic, count } => {
                opened = catalog.create_partitions(&stream, &topic, count, now)?;
            }
            MetaOp::DeletePartitions { stream, topic, count } => {
                closed = catalog.delete_partitions(&stream, &topic, count)?;
            }
            MetaOp::CreateGroup { stream, topic, name } => {
                catalog.create_group(&stream, &topic, &name, now)?;
            }
            MetaOp::DeleteGroup { stream, topic, group } => {
                let (key, partitions) = catalog.delete_group(&stream, &topic, &group)?;
                forgotten = partitions.into_iter().map(|p| (p, key.group)).collect();
            }
            MetaOp::JoinGroup { stream, topic, group, client } => {
                let key = catalog.group_key(&stream, &topic, &group)?;
                members.join(key, client, partition_count(&catalog, key), now);
            }
            MetaOp::LeaveGroup { stream, topic, group, client } => {
                let key = catalog.group_key(&stream, &topic, &group)?;
                if !members.leave(key, client, partition_count(&catalog, key)) {
                    return Err(ServerError::NotGroupMember(client, group));
                }
            }
            MetaOp::LeaveGroups { client } => {
                members.leave_all(client, &catalog);
            }
            MetaOp::SettleRevocations { group, client } => {
                if !members.settle(group, client, now) {
                    // Settled already (an earlier request of the same member): nothing to
                    // publish.
                    return Ok((self.snapshot(), None));
                }
            }
            MetaOp::CreateUser(new) => {
                let id = users.create(new, &self.root_name, self.max_users)?;
                created = Some((id, 0));
            }
            MetaOp::DeleteUser { user } => {
                users.delete(user)?;
            }
            MetaOp::UpdateUser { user, username, active } => {
                users.update(user, username, active, &self.root_name)?;
            }
            MetaOp::UpdatePermissions { user, permissions } => {
                users.set_permissions(user, permissions)?;
            }
            MetaOp::ChangePassword { user, expected, hash } => {
                users.set_password(user, &expected, hash)?;
            }
        }
        members.follow(&catalog);
        for key in purged {
            if let Some(handle) = self.partitions.get(&key) {
                ask(&handle.tx, |reply| PartitionOp::Purge { reply }).await?;
            }
        }
        // A new partition starts empty: a directory left under its id (a deleted partition
        // whose removal a crash interrupted) goes first, before the catalog names it again.
        for &key in &opened {
            let dir = partition_dir(&self.data_dir, key);
            if dir.exists() {
                tracing::warn!(dir = %dir.display(), "removing what a deleted partition left");
                dirs::remove_dir_all_durable(&dir)
                    .map_err(crate::storage::StorageError::io("remove", &dir))?;
            }
        }
        if catalog != self.catalog {
            store::save(&self.data_dir, &catalog)?;
        }
        if users != self.users {
            users.save(&self.data_dir)?;
        }
        // The change is durable from here on: memory follows the disk even if cleaning up
        // fails (what is left on disk is removed at the next start or reuse). A deleted group's
        // id is never used again, so an offset file its deletion leaves behind is never read.
        for (key, group) in forgotten {
            if let Some(handle) = self.partitions.get(&key) {
                let consumer = (CONSUMER_KIND_GROUP, Identifier::Numeric(group));
                if let Err(e) =
                    ask(&handle.tx, |reply| PartitionOp::DeleteOffset { consumer, reply }).await
                {
                    tracing::warn!(key = ?key, error = %e, "a deleted group's offset file stays");
                }
            }
        }
        for key in closed {
            if let Some(handle) = self.partitions.remove(&key) {
                let closing = ask(&handle.tx, |reply| PartitionOp::Close { delete: true, reply });
                if let Err(e) = closing.await {
                    tracing::warn!(key = ?key, error = %e, "a removed partition's files stay until the next start");
                }
            }
        }
        let mut opens: Vec<Vec<OpenPartition>> = self.shards.iter().map(|_| Vec::new()).collect();
        for key in opened {
            let (handle, open) = new_partition(key, &self.waiting);
            self.partitions.insert(key, handle);
            opens[owner(key, self.shards.len())].push(open);
        }
        self.catalog = catalog;
        self.members = members;
        self.users = users;
        let snapshot = self.snapshot();
        install_everywhere(&self.shards, &snapshot, opens).await?;
        Ok((snapshot, created))
    }

    /// A snapshot of the current state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            catalog: self.catalog.clone(),
            partitions: self.partitions.clone(),
            members: self.members.clone(),
            users: self.users.clone(),
        })
    }
}

/// Sends the snapshot (and the partitions each shard must open) to every shard and waits for all.
pub async fn install_everywhere(
    shards: &[flume::Sender<Install>],
    snapshot: &Arc<Snapshot>,
    opens: Vec<Vec<OpenPartition>>,
) -> Result<(), ServerError> {
    let mut waits = Vec::new();
    for (shard, open) in shards.iter().zip(opens) {
        let (done, wait) = flume::bounded(1);
        shard
            .send_async(Install { snapshot: snapshot.clone(), open, done })
            .await
            .map_err(|_| ServerError::Internal("a shard is gone"))?;
        waits.push(wait);
    }
    for wait in waits {
        match wait.recv_async().await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a shard failed to open a partition");
                return Err(ServerError::Internal("a shard failed to open a partition"));
            }
            Err(_) => return Err(ServerError::Internal("a shard is gone")),
        }
    }
    Ok(())
}
