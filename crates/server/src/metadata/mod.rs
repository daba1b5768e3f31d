//! Streams, topics, partitions and consumer groups: the catalog every shard reads, and the rules
//! for changing it (unique names, ids that are never reused). Pure data: no message bytes, no I/O
//! (see `store`). Who belongs to a group is not here: that lasts only as long as a connection
//! (see `members`).

pub mod members;
pub mod offsets;
pub mod store;

use std::collections::BTreeMap;

use eddy_wire::Identifier;
use serde::{Deserialize, Serialize};

use crate::error::ServerError;

/// Most partitions a topic may have.
pub const MAX_PARTITIONS: u32 = 1000;

/// The catalog.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Catalog {
    pub streams: BTreeMap<u32, StreamMeta>,
    /// Invariant: greater than every stream id ever used.
    pub next_stream_id: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StreamMeta {
    pub id: u32,
    pub name: String,
    pub created_at: u64,
    pub topics: BTreeMap<u32, TopicMeta>,
    /// Invariant: greater than every topic id ever used in this stream.
    pub next_topic_id: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicMeta {
    pub id: u32,
    pub name: String,
    pub created_at: u64,
    pub compression: u8,
    pub message_expiry: u64,
    pub max_topic_size: u64,
    pub replication_factor: u8,
    /// Partition `i` has id `i`.
    pub partitions: Vec<PartitionMeta>,
    /// Consumer groups by id (none in a catalog saved before groups were served).
    #[serde(default)]
    pub consumer_groups: BTreeMap<u32, GroupMeta>,
    /// Invariant: greater than every group id ever used in this topic.
    #[serde(default)]
    pub next_group_id: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupMeta {
    pub id: u32,
    pub name: String,
    pub created_at: u64,
}

/// A consumer group's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub stream: u32,
    pub topic: u32,
    pub group: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartitionMeta {
    pub id: u32,
    pub created_at: u64,
}

/// A partition's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub stream: u32,
    pub topic: u32,
    pub partition: u32,
}

/// The settings of a new or updated topic.
#[derive(Debug, Clone)]
pub struct TopicSettings {
    pub name: String,
    pub compression: u8,
    pub message_expiry: u64,
    pub max_topic_size: u64,
    pub replication_factor: u8,
}

fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= 255
}

impl Catalog {
    /// The stream `id` names.
    pub fn stream(&self, id: &Identifier) -> Result<&StreamMeta, ServerError> {
        let found = match id {
            Identifier::Numeric(n) => self.streams.get(n),
            Identifier::Name(name) => self.streams.values().find(|s| &s.name == name),
        };
        found.ok_or_else(|| ServerError::StreamNotFound(id.clone()))
    }

    /// The topic `topic` names in the stream `stream` names.
    pub fn topic(
        &self,
        stream: &Identifier,
        topic: &Identifier,
    ) -> Result<(&StreamMeta, &TopicMeta), ServerError> {
        let s = self.stream(stream)?;
        let found = match topic {
            Identifier::Numeric(n) => s.topics.get(n),
            Identifier::Name(name) => s.topics.values().find(|t| &t.name == name),
        };
        found
            .map(|t| (s, t))
            .ok_or_else(|| ServerError::TopicNotFound(stream.clone(), topic.clone()))
    }

    /// The topic `topic` names in the stream `stream` names, mutably, with their ids.
    fn topic_mut(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
    ) -> Result<(u32, u32, &mut TopicMeta), ServerError> {
        let (sid, tid) = {
            let (s, t) = self.topic(stream, topic)?;
            (s.id, t.id)
        };
        match self.streams.get_mut(&sid).and_then(|s| s.topics.get_mut(&tid)) {
            Some(t) => Ok((sid, tid, t)),
            None => Err(ServerError::TopicNotFound(stream.clone(), topic.clone())),
        }
    }

    /// The group `group` names in a topic, with the topic's stream and the topic.
    pub fn group(
        &self,
        stream: &Identifier,
        topic: &Identifier,
        group: &Identifier,
    ) -> Result<(&StreamMeta, &TopicMeta, &GroupMeta), ServerError> {
        let (s, t) = self.topic(stream, topic)?;
        let found = match group {
            Identifier::Numeric(n) => t.consumer_groups.get(n),
            Identifier::Name(name) => t.consumer_groups.values().find(|g| &g.name == name),
        };
        found.map(|g| (s, t, g)).ok_or_else(|| ServerError::GroupNotFound(group.clone()))
    }

    /// The address of the group `group` names.
    pub fn group_key(
        &self,
        stream: &Identifier,
        topic: &Identifier,
        group: &Identifier,
    ) -> Result<GroupKey, ServerError> {
        let (s, t, g) = self.group(stream, topic, group)?;
        Ok(GroupKey { stream: s.id, topic: t.id, group: g.id })
    }

    /// Whether the group at `key` exists.
    pub fn has_group(&self, key: GroupKey) -> bool {
        self.streams
            .get(&key.stream)
            .and_then(|s| s.topics.get(&key.topic))
            .is_some_and(|t| t.consumer_groups.contains_key(&key.group))
    }

    /// Creates a consumer group in a topic; returns its address.
    pub fn create_group(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        name: &str,
        now: u64,
    ) -> Result<GroupKey, ServerError> {
        if !valid_name(name) {
            return Err(ServerError::InvalidGroupName);
        }
        let (sid, tid, t) = self.topic_mut(stream, topic)?;
        if t.consumer_groups.values().any(|g| g.name == name) {
            return Err(ServerError::GroupNameExists(name.to_owned()));
        }
        let id = t.next_group_id;
        t.next_group_id += 1;
        t.consumer_groups.insert(id, GroupMeta { id, name: name.to_owned(), created_at: now });
        Ok(GroupKey { stream: sid, topic: tid, group: id })
    }

    /// Removes a consumer group; returns its address and its topic's partition keys (whose
    /// offsets for the group go with it).
    pub fn delete_group(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        group: &Identifier,
    ) -> Result<(GroupKey, Vec<PartitionKey>), ServerError> {
        let key = self.group_key(stream, topic, group)?;
        let (_, _, t) = self.topic_mut(stream, topic)?;
        t.consumer_groups.remove(&key.group);
        let partitions = t
            .partitions
            .iter()
            .map(|p| PartitionKey { stream: key.stream, topic: key.topic, partition: p.id })
            .collect();
        Ok((key, partitions))
    }

    /// Every partition, with its key.
    pub fn partitions(&self) -> impl Iterator<Item = PartitionKey> + '_ {
        self.streams.values().flat_map(|s| {
            s.topics.values().flat_map(move |t| {
                t.partitions.iter().map(move |p| PartitionKey {
                    stream: s.id,
                    topic: t.id,
                    partition: p.id,
                })
            })
        })
    }

    pub fn create_stream(&mut self, name: &str, now: u64) -> Result<u32, ServerError> {
        if !valid_name(name) {
            return Err(ServerError::InvalidStreamName);
        }
        if self.streams.values().any(|s| s.name == name) {
            return Err(ServerError::StreamNameExists(name.to_owned()));
        }
        let id = self.next_stream_id;
        self.next_stream_id += 1;
        let stream = StreamMeta {
            id,
            name: name.to_owned(),
            created_at: now,
            topics: BTreeMap::new(),
            next_topic_id: 0,
        };
        self.streams.insert(id, stream);
        Ok(id)
    }

    pub fn update_stream(&mut self, id: &Identifier, name: &str) -> Result<(), ServerError> {
        if !valid_name(name) {
            return Err(ServerError::InvalidStreamName);
        }
        let sid = self.stream(id)?.id;
        if self.streams.values().any(|s| s.name == name && s.id != sid) {
            return Err(ServerError::StreamNameExists(name.to_owned()));
        }
        if let Some(s) = self.streams.get_mut(&sid) {
            s.name = name.to_owned();
        }
        Ok(())
    }

    /// Removes a stream and returns the partitions it held.
    pub fn delete_stream(&mut self, id: &Identifier) -> Result<Vec<PartitionKey>, ServerError> {
        let sid = self.stream(id)?.id;
        let gone: Vec<PartitionKey> = self.partitions().filter(|k| k.stream == sid).collect();
        self.streams.remove(&sid);
        Ok(gone)
    }

    pub fn create_topic(
        &mut self,
        stream: &Identifier,
        settings: TopicSettings,
        partitions: u32,
        now: u64,
    ) -> Result<(u32, u32), ServerError> {
        if !valid_name(&settings.name) {
            return Err(ServerError::InvalidTopicName);
        }
        if partitions > MAX_PARTITIONS {
            return Err(ServerError::InvalidPartitionsCount(partitions));
        }
        let sid = self.stream(stream)?.id;
        let Some(s) = self.streams.get_mut(&sid) else {
            return Err(ServerError::StreamNotFound(stream.clone()));
        };
        if s.topics.values().any(|t| t.name == settings.name) {
            return Err(ServerError::TopicNameExists(settings.name));
        }
        let id = s.next_topic_id;
        s.next_topic_id += 1;
        let topic = TopicMeta {
            id,
            name: settings.name,
            created_at: now,
            compression: settings.compression,
            message_expiry: settings.message_expiry,
            max_topic_size: settings.max_topic_size,
            replication_factor: settings.replication_factor,
            partitions: (0..partitions).map(|p| PartitionMeta { id: p, created_at: now }).collect(),
            consumer_groups: BTreeMap::new(),
            next_group_id: 0,
        };
        s.topics.insert(id, topic);
        Ok((sid, id))
    }

    pub fn update_topic(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        settings: TopicSettings,
    ) -> Result<(), ServerError> {
        if !valid_name(&settings.name) {
            return Err(ServerError::InvalidTopicName);
        }
        let (s, t) = self.topic(stream, topic)?;
        if s.topics.values().any(|o| o.name == settings.name && o.id != t.id) {
            return Err(ServerError::TopicNameExists(settings.name));
        }
        let (_, _, t) = self.topic_mut(stream, topic)?;
        t.name = settings.name;
        t.compression = settings.compression;
        t.message_expiry = settings.message_expiry;
        t.max_topic_size = settings.max_topic_size;
        t.replication_factor = settings.replication_factor;
        Ok(())
    }

    pub fn delete_topic(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
    ) -> Result<Vec<PartitionKey>, ServerError> {
        let (sid, tid) = {
            let (s, t) = self.topic(stream, topic)?;
            (s.id, t.id)
        };
        let gone = self.partitions().filter(|k| k.stream == sid && k.topic == tid).collect();
        if let Some(s) = self.streams.get_mut(&sid) {
            s.topics.remove(&tid);
        }
        Ok(gone)
    }

    /// Adds `count` partitions; returns the new keys.
    pub fn create_partitions(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        count: u32,
        now: u64,
    ) -> Result<Vec<PartitionKey>, ServerError> {
        let (sid, tid, t) = self.topic_mut(stream, topic)?;
        let total = t.partitions.len() as u32 + count;
        if count == 0 || total > MAX_PARTITIONS {
            return Err(ServerError::InvalidPartitionsCount(count));
        }
        let first = t.partitions.len() as u32;
        t.partitions.extend((first..total).map(|p| PartitionMeta { id: p, created_at: now }));
        Ok((first..total).map(|p| PartitionKey { stream: sid, topic: tid, partition: p }).collect())
    }

    /// Removes the last `count` partitions; returns their keys.
    pub fn delete_partitions(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        count: u32,
    ) -> Result<Vec<PartitionKey>, ServerError> {
        let (sid, tid, t) = self.topic_mut(stream, topic)?;
        if count == 0 || count as usize > t.partitions.len() {
            return Err(ServerError::InvalidPartitionsCount(count));
        }
        let keep = t.partitions.len() - count as usize;
        let gone = t.partitions.split_off(keep);
        Ok(gone.iter().map(|p| PartitionKey { stream: sid, topic: tid, partition: p.id }).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(name: &str) -> TopicSettings {
        TopicSettings {
            name: name.into(),
            compression: 1,
            message_expiry: 0,
            max_topic_size: 0,
            replication_factor: 1,
        }
    }

    #[test]
    fn ids_start_at_zero_names_are_unique_and_ids_are_not_reused() {
        let mut c = Catalog::default();
        assert_eq!(c.create_stream("a", 1).unwrap(), 0);
        assert!(matches!(c.create_stream("a", 1), Err(ServerError::StreamNameExists(_))));
        assert_eq!(
            c.create_topic(&Identifier::Name("a".into()), settings("t"), 3, 1).unwrap(),
            (0, 0)
        );
        assert_eq!(c.partitions().count(), 3);
        assert_eq!(c.delete_stream(&Identifier::Numeric(0)).unwrap().len(), 3);
        assert_eq!(c.create_stream("b", 1).unwrap(), 1);
        assert!(matches!(c.stream(&Identifier::Numeric(0)), Err(ServerError::StreamNotFound(_))));
    }

    #[test]
    fn partitions_grow_and_shrink_from_the_end() {
        let mut c = Catalog::default();
        c.create_stream("s", 1).unwrap();
        let s = Identifier::Numeric(0);
        c.create_topic(&s, settings("t"), 1, 1).unwrap();
        let t = Identifier::Numeric(0);
        let added = c.create_partitions(&s, &t, 2, 1).unwrap();
        assert_eq!(added.iter().map(|k| k.partition).collect::<Vec<_>>(), vec![1, 2]);
        let gone = c.delete_partitions(&s, &t, 2).unwrap();
        assert_eq!(gone.iter().map(|k| k.partition).collect::<Vec<_>>(), vec![1, 2]);
        assert!(c.delete_partitions(&s, &t, 5).is_err());
    }

    #[test]
    fn groups_have_unique_names_and_ids_never_reused_and_load_from_an_older_catalog() {
        let mut c = Catalog::default();
        c.create_stream("s", 1).unwrap();
        let s = Identifier::Numeric(0);
        c.create_topic(&s, settings("t"), 2, 1).unwrap();
        let t = Identifier::Name("t".into());
        let a = c.create_group(&s, &t, "a", 1).unwrap();
        assert_eq!(a, GroupKey { stream: 0, topic: 0, group: 0 });
        assert!(matches!(c.create_group(&s, &t, "a", 1), Err(ServerError::GroupNameExists(_))));
        assert!(matches!(c.create_group(&s, &t, " ", 1), Err(ServerError::InvalidGroupName)));
        assert_eq!(c.group_key(&s, &t, &Identifier::Name("a".into())).unwrap(), a);
        let (gone, partitions) = c.delete_group(&s, &t, &Identifier::Numeric(0)).unwrap();
        assert_eq!((gone, partitions.len()), (a, 2));
        assert!(!c.has_group(a));
        assert!(matches!(
            c.group(&s, &t, &Identifier::Name("a".into())),
            Err(ServerError::GroupNotFound(_))
        ));
        assert_eq!(c.create_group(&s, &t, "a", 1).unwrap().group, 1, "ids are not reused");
        // A catalog saved before groups existed has neither field.
        let mut json = serde_json::to_value(&c).unwrap();
        let topic = &mut json["streams"]["0"]["topics"]["0"];
        topic.as_object_mut().unwrap().remove("consumer_groups");
        topic.as_object_mut().unwrap().remove("next_group_id");
        let old: Catalog = serde_json::from_value(json).unwrap();
        let (_, t0) = old.topic(&s, &t).unwrap();
        assert!(t0.consumer_groups.is_empty() && t0.next_group_id == 0);
    }

    #[test]
    fn a_topic_is_updated_by_name_or_id_and_keeps_names_unique() {
        let mut c = Catalog::default();
        c.create_stream("s", 1).unwrap();
        let s = Identifier::Name("s".into());
        c.create_topic(&s, settings("a"), 1, 1).unwrap();
        c.create_topic(&s, settings("b"), 1, 1).unwrap();
        let mut renamed = settings("c");
        renamed.message_expiry = 7;
        c.update_topic(&s, &Identifier::Name("a".into()), renamed).unwrap();
        let (_, t) = c.topic(&s, &Identifier::Numeric(0)).unwrap();
        assert_eq!((t.name.as_str(), t.message_expiry), ("c", 7));
        assert!(matches!(
            c.update_topic(&s, &Identifier::Numeric(0), settings("b")),
            Err(ServerError::TopicNameExists(_))
        ));
        // Its own name again is fine.
        c.update_topic(&s, &Identifier::Numeric(0), settings("c")).unwrap();
        assert!(matches!(
            c.update_topic(&s, &Identifier::Numeric(9), settings("d")),
            Err(ServerError::TopicNotFound(..))
        ));
    }
}
