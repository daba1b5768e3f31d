//! Who belongs to which consumer group, and which partitions each member owns. Members are
//! connections (client ids): they come and go with them, so none of this is persisted. Changed
//! only by the metadata owner; every shard reads the same copy in its snapshot.
//!
//! Assignment follows Iggy 0.8. A join is cooperative: partitions nobody owns go to the idle
//! members, and a member holding more than its fair share gives the excess to an idle member by
//! a *revocation*: it stops polling those partitions at once (it may still commit there), but
//! the new member gets them only when the old one is done with them (its connection asks to
//! settle once nothing it polled there is left uncommitted, see `groups::Memberships`), or after
//! `REVOCATION_TIMEOUT_US` if it goes quiet. So no partition is read by two members at once. A leave, or a change of the topic's partition count, rebalances fully:
//! partition `p` to member `p mod n`, members in join order. Pure data, no I/O.

use std::collections::BTreeMap;

use super::{Catalog, GroupKey};

/// How long a revocation may wait for the old owner before the new one takes the partition.
pub const REVOCATION_TIMEOUT_US: u64 = 3_000_000;

/// A partition moving from one member to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Revocation {
    partition: u32,
    /// The member it goes to.
    to: u32,
    /// When it was decided (µs since the Unix epoch).
    since: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    client: u32,
    /// Assigned partitions, those being revoked included.
    partitions: Vec<u32>,
    revoking: Vec<Revocation>,
}

impl Revocation {
    /// Whether it is owed to `client` and has waited `REVOCATION_TIMEOUT_US` by `now`.
    fn late_for(&self, client: u32, now: u64) -> bool {
        self.to == client && now.saturating_sub(self.since) >= REVOCATION_TIMEOUT_US
    }
}

impl Member {
    fn owns(&self, p: u32) -> bool {
        self.partitions.contains(&p) && !self.revoking.iter().any(|r| r.partition == p)
    }
}

/// The members of every group that has any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// Members in join order.
    groups: BTreeMap<GroupKey, Vec<Member>>,
}

/// Deals `partitions` round-robin over `members`, clearing every revocation.
fn rebalance(members: &mut [Member], partitions: u32) {
    for m in members.iter_mut() {
        m.partitions.clear();
        m.revoking.clear();
    }
    let n = members.len();
    if n == 0 {
        return;
    }
    for p in 0..partitions {
        members[p as usize % n].partitions.push(p);
    }
}

/// Whether a member has nothing and nothing on its way.
fn idle(members: &[Member], i: usize) -> bool {
    let client = members[i].client;
    members[i].partitions.is_empty()
        && !members.iter().any(|m| m.revoking.iter().any(|r| r.to == client))
}

/// A join's cooperative step: unowned partitions to idle members, then excess partitions of
/// members over their fair share revoked toward the idle ones.
fn cooperate(members: &mut [Member], partitions: u32, now: u64) {
    let n = members.len();
    if n == 0 || partitions == 0 {
        return;
    }
    let assigned: Vec<u32> = members.iter().flat_map(|m| m.partitions.clone()).collect();
    let free: Vec<u32> = (0..partitions).filter(|p| !assigned.contains(p)).collect();
    let idle_now: Vec<usize> = (0..n).filter(|&i| idle(members, i)).collect();
    if !idle_now.is_empty() {
        for (k, p) in free.into_iter().enumerate() {
            members[idle_now[k % idle_now.len()]].partitions.push(p);
        }
    }
    let mut receivers: Vec<usize> = (0..n).filter(|&i| idle(members, i)).collect();
    if receivers.is_empty() {
        return;
    }
    let fair = partitions as usize / n;
    let mut extra = partitions as usize % n;
    let mut given = 0usize;
    for i in 0..n {
        if receivers.is_empty() {
            break;
        }
        let kept = members[i].partitions.len().saturating_sub(members[i].revoking.len());
        let allowed = fair + usize::from(extra > 0);
        if kept <= allowed {
            if kept > fair {
                extra = extra.saturating_sub(1);
            }
            continue;
        }
        extra = extra.saturating_sub(1);
        let excess: Vec<u32> = members[i]
            .partitions
            .iter()
            .rev()
            .copied()
            .filter(|&p| members[i].owns(p))
            .take(kept - allowed)
            .collect();
        for p in excess {
            let Some(&to) = receivers.get(given.checked_rem(receivers.len()).unwrap_or(0)) else {
                break;
            };
            let to = members[to].client;
            members[i].revoking.push(Revocation { partition: p, to, since: now });
            given += 1;
            // An idle member takes at most a fair share.
            let share =
                |c: u32| members.iter().flat_map(|m| &m.revoking).filter(|r| r.to == c).count();
            receivers.retain(|&r| share(members[r].client) < fair.max(1));
        }
    }
}

impl Members {
    /// Adds `client` to `group` of a topic with `partitions` partitions (already a member:
    /// nothing changes), cooperatively.
    pub fn join(&mut self, group: GroupKey, client: u32, partitions: u32, now: u64) {
        let members = self.groups.entry(group).or_default();
        if members.iter().any(|m| m.client == client) {
            return;
        }
        members.push(Member { client, partitions: Vec::new(), revoking: Vec::new() });
        cooperate(members, partitions, now);
    }

    /// Removes `client` from `group` and rebalances fully; false when it was not a member.
    pub fn leave(&mut self, group: GroupKey, client: u32, partitions: u32) -> bool {
        let Some(members) = self.groups.get_mut(&group) else { return false };
        let before = members.len();
        members.retain(|m| m.client != client);
        let was = members.len() < before;
        if was {
            rebalance(members, partitions);
        }
        if members.is_empty() {
            self.groups.remove(&group);
        }
        was
    }

    /// Removes `client` from every group; returns how many it left.
    pub fn leave_all(&mut self, client: u32, catalog: &Catalog) -> usize {
        let groups: Vec<GroupKey> = self.groups_of(client).collect();
        groups.iter().filter(|&&g| self.leave(g, client, partition_count(catalog, g))).count()
    }

    /// Follows the catalog: forgets groups it no longer has (a deleted group, topic or
    /// stream) and rebalances fully any group whose topic's partition count changed.
    pub fn follow(&mut self, catalog: &Catalog) {
        self.groups.retain(|key, _| catalog.has_group(*key));
        for (key, members) in self.groups.iter_mut() {
            let n = partition_count(catalog, *key);
            let mut covered: Vec<u32> = members.iter().flat_map(|m| m.partitions.clone()).collect();
            covered.sort_unstable();
            if covered != (0..n).collect::<Vec<u32>>() {
                rebalance(members, n);
            }
        }
    }

    /// Settles revocations: every one `client` gives up (its in-flight poll is done), and
    /// every one coming to it that has waited `REVOCATION_TIMEOUT_US`. False when there was
    /// none to settle.
    pub fn settle(&mut self, group: GroupKey, client: u32, now: u64) -> bool {
        let Some(members) = self.groups.get_mut(&group) else { return false };
        let mut moved = Vec::new();
        for m in members.iter_mut() {
            let from = m.client;
            m.revoking.retain(|r| {
                let due = from == client || r.late_for(client, now);
                if due {
                    moved.push((from, *r));
                }
                !due
            });
        }
        for (from, r) in &moved {
            for m in members.iter_mut() {
                if m.client == *from {
                    m.partitions.retain(|&p| p != r.partition);
                } else if m.client == r.to {
                    m.partitions.push(r.partition);
                    m.partitions.sort_unstable();
                }
            }
        }
        !moved.is_empty()
    }

    /// The partitions `client` is handing over in `group`.
    pub fn revoking(&self, group: GroupKey, client: u32) -> Vec<u32> {
        self.member(group, client)
            .map(|m| m.revoking.iter().map(|r| r.partition).collect())
            .unwrap_or_default()
    }

    /// Whether a partition owed to `client` in `group` has waited `REVOCATION_TIMEOUT_US`.
    pub fn owed_late(&self, group: GroupKey, client: u32, now: u64) -> bool {
        self.groups.get(&group).is_some_and(|members| {
            members.iter().flat_map(|m| &m.revoking).any(|r| r.late_for(client, now))
        })
    }

    /// The members of `group`, in join order.
    pub fn of(&self, group: GroupKey) -> impl Iterator<Item = u32> + '_ {
        self.groups.get(&group).into_iter().flatten().map(|m| m.client)
    }

    /// How many members `group` has.
    pub fn count(&self, group: GroupKey) -> usize {
        self.groups.get(&group).map_or(0, Vec::len)
    }

    /// Whether `client` belongs to `group`.
    pub fn contains(&self, group: GroupKey, client: u32) -> bool {
        self.groups.get(&group).is_some_and(|m| m.iter().any(|m| m.client == client))
    }

    /// The groups `client` belongs to.
    pub fn groups_of(&self, client: u32) -> impl Iterator<Item = GroupKey> + '_ {
        self.groups
            .iter()
            .filter(move |(_, m)| m.iter().any(|m| m.client == client))
            .map(|(k, _)| *k)
    }

    /// The partitions `client` is assigned in `group`, in order, those it is giving up
    /// included (what GET_CONSUMER_GROUP lists).
    pub fn assigned(&self, group: GroupKey, client: u32) -> Vec<u32> {
        self.member(group, client).map(|m| m.partitions.clone()).unwrap_or_default()
    }

    /// The partitions `client` may poll in `group`: its own, less those it is giving up; empty
    /// when it is not a member or has none (more members than partitions).
    pub fn polls(&self, group: GroupKey, client: u32) -> Vec<u32> {
        let Some(m) = self.member(group, client) else { return Vec::new() };
        m.partitions.iter().copied().filter(|&p| m.owns(p)).collect()
    }

    fn member(&self, group: GroupKey, client: u32) -> Option<&Member> {
        self.groups.get(&group)?.iter().find(|m| m.client == client)
    }
}

/// The partition count of the topic `group` belongs to (0 if it is gone).
pub fn partition_count(catalog: &Catalog, group: GroupKey) -> u32 {
    catalog
        .streams
        .get(&group.stream)
        .and_then(|s| s.topics.get(&group.topic))
        .map_or(0, |t| t.partitions.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: GroupKey = GroupKey { stream: 0, topic: 0, group: 0 };

    /// What makes a member's connection ask to settle (see `groups::Memberships`, which also
    /// waits for uncommitted polls): it gives partitions up, or one owed to it is late.
    impl Members {
        fn should_settle(&self, group: GroupKey, client: u32, now: u64) -> bool {
            !self.revoking(group, client).is_empty() || self.owed_late(group, client, now)
        }
    }

    /// Every partition polled by exactly one member, none while it moves.
    fn check_disjoint(m: &Members, clients: &[u32], partitions: u32) {
        let mut polled: Vec<u32> = clients.iter().flat_map(|c| m.polls(G, *c)).collect();
        polled.sort_unstable();
        polled.dedup();
        let total: usize = clients.iter().map(|c| m.polls(G, *c).len()).sum();
        assert_eq!(polled.len(), total, "a partition polled by two members");
        assert!(polled.iter().all(|p| *p < partitions));
    }

    #[test]
    fn a_join_hands_partitions_over_only_once_the_old_owner_settles() {
        let mut m = Members::default();
        m.join(G, 4, 4, 0);
        assert_eq!(m.polls(G, 4), vec![0, 1, 2, 3], "alone: everything");
        m.join(G, 4, 4, 0);
        assert_eq!(m.count(G), 1, "joining twice is one membership");
        m.join(G, 9, 4, 10);
        // 9 is owed two partitions; 4 stops polling them at once, 9 does not have them yet.
        assert_eq!(m.polls(G, 4), vec![0, 1]);
        assert!(m.polls(G, 9).is_empty());
        assert_eq!(m.assigned(G, 4), vec![0, 1, 2, 3], "listed until settled");
        check_disjoint(&m, &[4, 9], 4);
        assert!(m.should_settle(G, 4, 11), "the old owner's next poll settles");
        assert!(!m.should_settle(G, 9, 11), "not yet the new owner's business");
        assert!(!m.settle(G, 9, 11));
        assert!(m.settle(G, 4, 11));
        assert_eq!((m.polls(G, 4), m.polls(G, 9)), (vec![0, 1], vec![2, 3]));
        assert!(!m.should_settle(G, 4, 12));
    }

    #[test]
    fn joins_in_any_numbers_never_panic_and_settle_to_a_partition_each() {
        for partitions in 0..7u32 {
            for joins in 1..9u32 {
                let mut m = Members::default();
                for c in 1..=joins {
                    m.join(G, c, partitions, 0);
                    check_disjoint(&m, &(1..=c).collect::<Vec<_>>(), partitions);
                    for settling in 1..=c {
                        m.settle(G, settling, 0);
                    }
                }
                let clients: Vec<u32> = (1..=joins).collect();
                let owned: usize = clients.iter().map(|c| m.polls(G, *c).len()).sum();
                assert_eq!(owned, partitions as usize, "{partitions} partitions, {joins} joins");
                check_disjoint(&m, &clients, partitions);
            }
        }
    }

    #[test]
    fn a_quiet_old_owner_loses_the_partition_after_the_timeout() {
        let mut m = Members::default();
        m.join(G, 1, 2, 0);
        m.join(G, 2, 2, 100);
        assert!(m.polls(G, 2).is_empty());
        let late = 100 + REVOCATION_TIMEOUT_US;
        assert!(!m.should_settle(G, 2, late - 1));
        assert!(m.should_settle(G, 2, late));
        assert!(m.settle(G, 2, late));
        assert_eq!((m.polls(G, 1), m.polls(G, 2)), (vec![0], vec![1]));
    }

    #[test]
    fn a_leave_or_a_new_partition_count_rebalances_fully_and_empty_groups_go() {
        let mut m = Members::default();
        for c in [1, 2, 3] {
            m.join(G, c, 5, 0);
            for settling in [1, 2, 3] {
                m.settle(G, settling, 0);
            }
        }
        check_disjoint(&m, &[1, 2, 3], 5);
        let all: usize = [1, 2, 3].iter().map(|c| m.polls(G, *c).len()).sum();
        assert_eq!(all, 5, "every partition owned once settled");
        assert!(m.leave(G, 2, 5));
        assert!(!m.leave(G, 2, 5));
        assert_eq!((m.polls(G, 1), m.polls(G, 3)), (vec![0, 2, 4], vec![1, 3]));
        // More members than partitions: the last ones idle.
        let mut small = Members::default();
        for c in [1, 2, 3] {
            small.join(G, c, 2, 0);
            small.settle(G, 1, 0);
        }
        assert_eq!(small.polls(G, 3), Vec::<u32>::new());
        check_disjoint(&small, &[1, 2, 3], 2);
        let other = GroupKey { group: 1, ..G };
        let mut catalog = Catalog::default();
        catalog.create_stream("s", 0).unwrap();
        let settings = crate::metadata::TopicSettings {
            name: "t".into(),
            compression: 1,
            message_expiry: 0,
            max_topic_size: 0,
            replication_factor: 1,
        };
        let (s, t) = (eddy_wire::Identifier::Numeric(0), eddy_wire::Identifier::Numeric(0));
        catalog.create_topic(&s, settings, 3, 0).unwrap();
        catalog.create_group(&s, &t, "g", 0).unwrap();
        m.join(other, 1, 5, 0);
        m.follow(&catalog);
        assert_eq!(m.count(other), 0, "a group the catalog does not have is forgotten");
        assert_eq!((m.polls(G, 1), m.polls(G, 3)), (vec![0, 2], vec![1]), "3 partitions now");
        assert_eq!(m.leave_all(1, &catalog), 1);
        assert_eq!(m.leave_all(3, &catalog), 1);
        assert_eq!(m, Members::default(), "empty groups are not kept");
    }
}
