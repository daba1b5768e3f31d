//! One connection's consumer-group memberships: which partition its next group poll reads
//! (round-robin over the partitions it owns now), and leaving every group when the connection
//! ends. Who owns what is the snapshot's (`metadata::members`); joining and leaving go through
//! the metadata owner. No I/O.

use std::collections::{HashMap, HashSet};

use eddy_wire::Identifier;
use eddy_wire::commands::{CONSUMER_KIND_GROUP, CONSUMER_KIND_SINGLE, Consumer};

use crate::error::ServerError;
use crate::metadata::GroupKey;
use crate::shard::message::{ConsumerId, MetaOp, MetaRequest, Snapshot};

/// How long a member waits before asking again to settle revocations still in its snapshot.
const SETTLE_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Where a member is in its round-robin over a group's partitions.
#[derive(Debug, Default, Clone, Copy)]
struct Turn {
    /// Index of the next partition to poll among those owned.
    next: usize,
    /// The partition polled last (what an offset command without a partition means).
    last: Option<u32>,
}

/// The groups a connection joined (none until the first JOIN: a connection at rest pays
/// nothing).
#[derive(Debug)]
pub struct Memberships {
    client: u32,
    meta: flume::Sender<MetaRequest>,
    turns: HashMap<GroupKey, Turn>,
    /// When a settle was last asked (its snapshot takes a moment to arrive: not asked again
    /// before `SETTLE_RETRY`).
    settle_asked: Option<std::time::Instant>,
    /// Partitions this member polled without auto-commit and has not stored an offset for
    /// since: it is still working on them, so it does not give them up yet.
    uncommitted: HashSet<(GroupKey, u32)>,
}

impl Memberships {
    pub fn new(client: u32, meta: flume::Sender<MetaRequest>) -> Self {
        let (turns, uncommitted) = (HashMap::new(), HashSet::new());
        Self { client, meta, turns, settle_asked: None, uncommitted }
    }

    /// Forgets the round-robin position in a group left.
    pub fn left(&mut self, group: GroupKey) {
        self.turns.remove(&group);
        self.uncommitted.retain(|(g, _)| *g != group);
    }

    /// The member polled `partition`: without auto-commit it holds messages not committed yet.
    pub fn polled(&mut self, group: GroupKey, partition: u32, auto_commit: bool) {
        if auto_commit {
            self.uncommitted.remove(&(group, partition));
        } else {
            self.uncommitted.insert((group, partition));
        }
    }

    /// The member stored (or deleted) its offset on `partition`.
    pub fn committed(&mut self, group: GroupKey, partition: u32) {
        self.uncommitted.remove(&(group, partition));
    }

    /// A command of this member arrived, so its previous poll is done: if it is giving
    /// partitions up with nothing left uncommitted on them (or one owed to it waited too
    /// long), asks the metadata owner to move them (not waited for: the next snapshot carries
    /// it). A member that never commits gives them up at the timeout.
    pub(crate) fn settle_if_due(&mut self, snapshot: &Snapshot, group: GroupKey) {
        let now = crate::shard::partition::now_micros();
        let giving = snapshot.members.revoking(group, self.client);
        let owed_late = snapshot.members.owed_late(group, self.client, now);
        let waits_for_commit = giving.iter().any(|p| self.uncommitted.contains(&(group, *p)));
        if !owed_late && (giving.is_empty() || waits_for_commit) {
            return;
        }
        let asked_lately = self.settle_asked.is_some_and(|at| at.elapsed() < SETTLE_RETRY);
        if asked_lately {
            return;
        }
        self.settle_asked = Some(std::time::Instant::now());
        let (reply, _) = flume::bounded(1);
        let op = MetaOp::SettleRevocations { group, client: self.client };
        self.meta.send(MetaRequest { op, reply }).ok();
    }
}

impl Drop for Memberships {
    /// The connection is gone: it leaves every group (not waited for; the metadata owner runs
    /// it after anything this connection asked before).
    fn drop(&mut self) {
        let (reply, _) = flume::bounded(1);
        let op = MetaOp::LeaveGroups { client: self.client };
        self.meta.send(MetaRequest { op, reply }).ok();
    }
}

/// Where a poll or offset command goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The consumer id offsets are stored under.
    pub consumer: ConsumerId,
    pub partition: u32,
    /// The group, for a group consumer.
    pub group: Option<GroupKey>,
}

/// What a consumer addresses in a command on `(stream, topic)`: the consumer id offsets are
/// stored under, and the partition. A single consumer reads the partition asked (0 when none).
/// A group consumer must be a member (joined on this connection); it reads the partition asked
/// if it is assigned it (one it is handing over included, so it can still commit there), else
/// its next one in turn (`advance`: a poll) or the one it polled last (an offset command).
/// `None`: the member owns no partition (or not the one asked).
pub fn resolve(
    snapshot: &Snapshot,
    memberships: Option<&mut Memberships>,
    client: u32,
    (stream, topic): (&Identifier, &Identifier),
    consumer: &Consumer,
    partition: Option<u32>,
    advance: bool,
) -> Result<Option<Target>, ServerError> {
    if consumer.kind == CONSUMER_KIND_SINGLE {
        let consumer = (CONSUMER_KIND_SINGLE, consumer.id.clone());
        return Ok(Some(Target { consumer, partition: partition.unwrap_or(0), group: None }));
    }
    let key = snapshot.catalog.group_key(stream, topic, &consumer.id)?;
    let Some(m) = memberships.filter(|_| snapshot.members.contains(key, client)) else {
        return Err(ServerError::NotGroupMember(client, consumer.id.clone()));
    };
    m.settle_if_due(snapshot, key);
    let target = |partition| Target {
        consumer: (CONSUMER_KIND_GROUP, Identifier::Numeric(key.group)),
        partition,
        group: Some(key),
    };
    if let Some(p) = partition {
        return Ok(snapshot.members.assigned(key, client).contains(&p).then(|| target(p)));
    }
    let owned = snapshot.members.polls(key, client);
    if owned.is_empty() {
        return Ok(None);
    }
    let turn = m.turns.entry(key).or_default();
    let chosen = match (advance, turn.last) {
        (false, Some(last)) if owned.contains(&last) => last,
        (false, _) => owned[0],
        (true, _) => {
            let p = owned[turn.next % owned.len()];
            turn.next = (turn.next % owned.len()) + 1;
            p
        }
    };
    turn.last = Some(chosen);
    Ok(Some(target(chosen)))
}

/// Notes what a command did on a group's partition (see `Memberships::polled`/`committed`):
/// `Some(auto_commit)` for a poll, `None` for an offset stored or deleted. Nothing for a single
/// consumer.
pub fn note(memberships: Option<&mut Memberships>, target: &Target, poll: Option<bool>) {
    let (Some(m), Some(group)) = (memberships, target.group) else { return };
    match poll {
        Some(auto_commit) => m.polled(group, target.partition, auto_commit),
        None => m.committed(group, target.partition),
    }
}

/// The consumer id a group consumer's stored offsets go under, for a command that needs no
/// membership (GET_CONSUMER_OFFSET): the group's numeric id.
pub fn stored_id(
    snapshot: &Snapshot,
    (stream, topic): (&Identifier, &Identifier),
    consumer: &Consumer,
) -> Result<ConsumerId, ServerError> {
    if consumer.kind == CONSUMER_KIND_SINGLE {
        return Ok((CONSUMER_KIND_SINGLE, consumer.id.clone()));
    }
    let key = snapshot.catalog.group_key(stream, topic, &consumer.id)?;
    Ok((CONSUMER_KIND_GROUP, Identifier::Numeric(key.group)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::TopicSettings;

    fn snapshot_with(members: &[u32], partitions: u32) -> Snapshot {
        let mut catalog = crate::metadata::Catalog::default();
        catalog.create_stream("s", 0).unwrap();
        let settings = TopicSettings {
            name: "t".into(),
            compression: 1,
            message_expiry: 0,
            max_topic_size: 0,
            replication_factor: 1,
        };
        catalog.create_topic(&Identifier::Numeric(0), settings, partitions, 0).unwrap();
        let key =
            catalog.create_group(&Identifier::Numeric(0), &Identifier::Numeric(0), "g", 0).unwrap();
        let mut snapshot = Snapshot { catalog, ..Snapshot::default() };
        for m in members {
            snapshot.members.join(key, *m, partitions, 0);
            snapshot.members.settle(key, 1, 0);
        }
        snapshot
    }

    #[test]
    fn a_member_polls_its_own_partitions_in_turn_and_offsets_use_the_last_one() {
        let snapshot = snapshot_with(&[1, 2], 5);
        let (meta, _rx) = flume::unbounded();
        let mut mine = Memberships::new(1, meta);
        let ids = (&Identifier::Numeric(0), &Identifier::Name("t".into()));
        let group = Consumer { kind: CONSUMER_KIND_GROUP, id: Identifier::Name("g".into()) };
        let mut poll = |advance| {
            resolve(&snapshot, Some(&mut mine), 1, ids, &group, None, advance).unwrap().unwrap()
        };
        let polled: Vec<u32> = (0..4).map(|_| poll(true).partition).collect();
        assert_eq!(polled, vec![0, 1, 2, 0], "client 1 kept 0, 1 and 2 when 2 joined");
        assert_eq!(poll(false).partition, 0, "an offset command means the partition polled last");
        assert_eq!(poll(true).consumer, (CONSUMER_KIND_GROUP, Identifier::Numeric(0)), "by id");
        let mut asked = |p| resolve(&snapshot, Some(&mut mine), 1, ids, &group, Some(p), true);
        assert!(asked(2).unwrap().is_some());
        assert!(asked(3).unwrap().is_none(), "owned by client 2");
        let mut stranger = Memberships::new(3, flume::unbounded().0);
        let err = resolve(&snapshot, Some(&mut stranger), 3, ids, &group, None, true);
        assert!(matches!(err, Err(ServerError::NotGroupMember(3, _))));
        assert!(
            matches!(
                resolve(&snapshot, None, 1, ids, &group, None, true),
                Err(ServerError::NotGroupMember(..))
            ),
            "a member by id, but not through this connection"
        );
        let unknown = Consumer { kind: CONSUMER_KIND_GROUP, id: Identifier::Numeric(9) };
        assert!(matches!(
            resolve(&snapshot, Some(&mut mine), 1, ids, &unknown, None, true),
            Err(ServerError::GroupNotFound(_))
        ));
    }

    #[test]
    fn a_member_giving_partitions_up_skips_them_and_asks_once_to_settle() {
        let mut snapshot = snapshot_with(&[1], 4);
        let key = GroupKey { stream: 0, topic: 0, group: 0 };
        snapshot.members.join(key, 2, 4, 0);
        let (meta, rx) = flume::unbounded();
        let mut first = Memberships::new(1, meta);
        let ids = (&Identifier::Numeric(0), &Identifier::Numeric(0));
        let group = Consumer { kind: CONSUMER_KIND_GROUP, id: Identifier::Numeric(0) };
        let mut polled = Vec::new();
        for _ in 0..4 {
            let got = resolve(&snapshot, Some(&mut first), 1, ids, &group, None, true);
            polled.push(got.unwrap().unwrap().partition);
        }
        assert_eq!(polled, vec![0, 1, 0, 1], "2 and 3 are on their way to client 2");
        let asked: Vec<MetaRequest> = rx.try_iter().collect();
        assert_eq!(asked.len(), 1, "asked once, not per poll");
        assert!(matches!(asked[0].op, MetaOp::SettleRevocations { client: 1, .. }));
        let mut second = Memberships::new(2, flume::unbounded().0);
        let got = resolve(&snapshot, Some(&mut second), 2, ids, &group, None, true).unwrap();
        assert!(got.is_none(), "not its own until settled");
    }

    #[test]
    fn a_partition_being_handed_over_waits_for_its_commit_and_can_still_be_committed() {
        let key = GroupKey { stream: 0, topic: 0, group: 0 };
        let mut snapshot = snapshot_with(&[1], 2);
        let (meta, rx) = flume::unbounded();
        let mut first = Memberships::new(1, meta);
        let ids = (&Identifier::Numeric(0), &Identifier::Numeric(0));
        let group = Consumer { kind: CONSUMER_KIND_GROUP, id: Identifier::Numeric(0) };
        // It reads partition 1 without auto-commit; then client 2 joins and is owed partition 1.
        first.polled(key, 1, false);
        snapshot.members.join(key, 2, 2, crate::shard::partition::now_micros());
        assert_eq!(snapshot.members.revoking(key, 1), vec![1]);
        let got = resolve(&snapshot, Some(&mut first), 1, ids, &group, None, true).unwrap();
        assert_eq!(got.unwrap().partition, 0, "it polls what it keeps");
        assert!(rx.try_recv().is_err(), "not given up while its messages are uncommitted");
        // It may still commit there, and that lets the partition go.
        let commit = resolve(&snapshot, Some(&mut first), 1, ids, &group, Some(1), false);
        assert_eq!(commit.unwrap().unwrap().partition, 1);
        first.committed(key, 1);
        resolve(&snapshot, Some(&mut first), 1, ids, &group, None, true).unwrap();
        assert!(matches!(rx.try_recv().unwrap().op, MetaOp::SettleRevocations { client: 1, .. }));
    }

    #[test]
    fn a_member_without_partitions_reads_none_and_a_dropped_connection_leaves() {
        let snapshot = snapshot_with(&[1, 2, 3], 2);
        let (meta, rx) = flume::unbounded();
        let mut third = Memberships::new(3, meta);
        let ids = (&Identifier::Numeric(0), &Identifier::Numeric(0));
        let group = Consumer { kind: CONSUMER_KIND_GROUP, id: Identifier::Numeric(0) };
        assert!(
            resolve(&snapshot, Some(&mut third), 3, ids, &group, None, true).unwrap().is_none()
        );
        drop(third);
        let request = rx.try_recv().expect("a leave on drop");
        assert!(matches!(request.op, MetaOp::LeaveGroups { client: 3 }));
    }
}
