//! Who belongs to which consumer group, and which partitions each member owns. Members are
//! connections (client ids): they come and go with them, so none of this is persisted. The
//! assignment is a function of the members and the partition count alone (every shard computes
//! the same one from its snapshot): members in client-id order, partition `p` to member
//! `p mod n`. A join or leave moves partitions at once (an eager rebalance: a consumer that
//! commits after processing may see a moved partition's uncommitted messages twice, never lose
//! one). Pure data, no I/O.

use std::collections::{BTreeMap, BTreeSet};

use super::{Catalog, GroupKey};

/// The members of every group that has any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Members {
    groups: BTreeMap<GroupKey, BTreeSet<u32>>,
}

impl Members {
    /// Adds `client` to `group` (already a member: nothing changes).
    pub fn join(&mut self, group: GroupKey, client: u32) {
        self.groups.entry(group).or_default().insert(client);
    }

    /// Removes `client` from `group`; false when it was not a member.
    pub fn leave(&mut self, group: GroupKey, client: u32) -> bool {
        let Some(members) = self.groups.get_mut(&group) else { return false };
        let was = members.remove(&client);
        if members.is_empty() {
            self.groups.remove(&group);
        }
        was
    }

    /// Removes `client` from every group; returns how many it left.
    pub fn leave_all(&mut self, client: u32) -> usize {
        let mut left = 0;
        self.groups.retain(|_, members| {
            left += usize::from(members.remove(&client));
            !members.is_empty()
        });
        left
    }

    /// Forgets the members of groups the catalog no longer has (a deleted group, topic or
    /// stream).
    pub fn retain_existing(&mut self, catalog: &Catalog) {
        self.groups.retain(|key, _| catalog.has_group(*key));
    }

    /// The members of `group`, in client-id order.
    pub fn of(&self, group: GroupKey) -> impl Iterator<Item = u32> + '_ {
        self.groups.get(&group).into_iter().flatten().copied()
    }

    /// How many members `group` has.
    pub fn count(&self, group: GroupKey) -> usize {
        self.groups.get(&group).map_or(0, BTreeSet::len)
    }

    /// Whether `client` belongs to `group`.
    pub fn contains(&self, group: GroupKey, client: u32) -> bool {
        self.groups.get(&group).is_some_and(|m| m.contains(&client))
    }

    /// The groups `client` belongs to.
    pub fn groups_of(&self, client: u32) -> impl Iterator<Item = GroupKey> + '_ {
        self.groups.iter().filter(move |(_, m)| m.contains(&client)).map(|(k, _)| *k)
    }

    /// The partitions `client` owns in `group` of a topic with `partitions` partitions, in
    /// order; empty when it is not a member or has none (more members than partitions).
    pub fn partitions_of(&self, group: GroupKey, client: u32, partitions: u32) -> Vec<u32> {
        let Some(members) = self.groups.get(&group) else { return Vec::new() };
        let Some(index) = members.iter().position(|&m| m == client) else { return Vec::new() };
        let n = members.len();
        (0..partitions).filter(|p| *p as usize % n == index).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: GroupKey = GroupKey { stream: 0, topic: 0, group: 0 };

    #[test]
    fn partitions_are_dealt_round_robin_in_client_id_order_and_move_on_leave() {
        let mut m = Members::default();
        m.join(G, 9);
        m.join(G, 4);
        m.join(G, 4);
        assert_eq!(m.count(G), 2, "joining twice is one membership");
        assert_eq!(m.partitions_of(G, 4, 5), vec![0, 2, 4]);
        assert_eq!(m.partitions_of(G, 9, 5), vec![1, 3]);
        assert!(m.partitions_of(G, 7, 5).is_empty(), "not a member");
        m.join(G, 12);
        let all: Vec<u32> = [4, 9, 12].iter().flat_map(|c| m.partitions_of(G, *c, 2)).collect();
        assert_eq!(all, vec![0, 1], "every partition exactly once; the third member idles");
        assert!(m.leave(G, 4));
        assert!(!m.leave(G, 4), "no longer a member");
        assert_eq!(m.partitions_of(G, 9, 5), vec![0, 2, 4]);
        let other = GroupKey { group: 1, ..G };
        m.join(other, 9);
        assert_eq!(m.groups_of(9).collect::<Vec<_>>(), vec![G, other]);
        assert_eq!(m.leave_all(9), 2);
        assert_eq!(m.of(G).collect::<Vec<_>>(), vec![12]);
        assert_eq!(m.leave_all(12), 1);
        assert_eq!(m, Members::default(), "empty groups are not kept");
    }
}
