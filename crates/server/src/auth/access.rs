//! Who may do what: what each command needs (`Need`) and Iggy 0.8's rules for whether a set of
//! permissions grants it (a "manage" right includes the matching "read" right; stream rights
//! cover the stream's topics; global rights cover every stream). The root user may do
//! everything. Pure: no sessions, no catalog.

use eddy_wire::commands::users::Permissions;

/// What a command needs, with the ids of the stream and topic it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// GET_STATS, GET_CLIENT(S), GET_SHARD_STATS.
    ReadServers,
    /// GET_USER (of another user), GET_USERS.
    ReadUsers,
    /// CREATE/DELETE/UPDATE_USER, UPDATE_PERMISSIONS, CHANGE_PASSWORD of another user.
    ManageUsers,
    /// GET_STREAMS.
    ReadStreams,
    /// GET_STREAM.
    ReadStream(u32),
    /// CREATE_STREAM.
    CreateStream,
    /// UPDATE/DELETE/PURGE_STREAM.
    ManageStream(u32),
    /// GET_TOPICS.
    ReadTopics(u32),
    /// GET_TOPIC, and every consumer group command.
    ReadTopic(u32, u32),
    /// CREATE_TOPIC.
    CreateTopic(u32),
    /// UPDATE/DELETE/PURGE_TOPIC, CREATE/DELETE_PARTITIONS, DELETE_SEGMENTS.
    ManageTopic(u32, u32),
    /// POLL_MESSAGES (deferred too), SUBSCRIBE, and the consumer offset commands.
    Poll(u32, u32),
    /// SEND_MESSAGES, FLUSH_UNSAVED_BUFFER.
    Send(u32, u32),
}

/// Whether `p` grants `need`.
pub fn allows(p: &Permissions, need: Need) -> bool {
    let g = &p.global;
    let stream = |s: u32| p.streams.get(&s);
    let topic = |s: u32, t: u32| stream(s).and_then(|s| s.topics.get(&t));
    match need {
        Need::ReadServers => g.manage_servers || g.read_servers,
        Need::ReadUsers => g.manage_users || g.read_users,
        Need::ManageUsers => g.manage_users,
        Need::ReadStreams => g.manage_streams || g.read_streams,
        Need::ReadStream(s) => {
            g.manage_streams
                || g.read_streams
                || stream(s).is_some_and(|s| s.manage_stream || s.read_stream)
        }
        Need::CreateStream => g.manage_streams,
        Need::ManageStream(s) => g.manage_streams || stream(s).is_some_and(|s| s.manage_stream),
        Need::ReadTopics(s) => {
            g.manage_streams
                || g.read_streams
                || g.manage_topics
                || g.read_topics
                || stream(s).is_some_and(|s| {
                    s.manage_stream || s.read_stream || s.manage_topics || s.read_topics
                })
        }
        Need::ReadTopic(s, t) => {
            allows(p, Need::ReadTopics(s))
                || topic(s, t).is_some_and(|t| t.manage_topic || t.read_topic)
        }
        Need::CreateTopic(s) => {
            g.manage_streams
                || g.manage_topics
                || stream(s).is_some_and(|s| s.manage_stream || s.manage_topics)
        }
        Need::ManageTopic(s, t) => {
            allows(p, Need::CreateTopic(s)) || topic(s, t).is_some_and(|t| t.manage_topic)
        }
        Need::Poll(s, t) => {
            g.poll_messages
                || allows(p, Need::ReadTopic(s, t))
                || stream(s).is_some_and(|s| s.poll_messages)
                || topic(s, t).is_some_and(|t| t.poll_messages)
        }
        Need::Send(s, t) => {
            g.send_messages
                || allows(p, Need::ManageTopic(s, t))
                || stream(s).is_some_and(|s| s.send_messages)
                || topic(s, t).is_some_and(|t| t.send_messages)
        }
    }
}

#[cfg(test)]
mod tests {
    use eddy_wire::commands::users::{StreamPermissions, TopicPermissions};

    use super::*;

    const EVERY_NEED: [fn(u32, u32) -> Need; 13] = [
        |_, _| Need::ReadServers,
        |_, _| Need::ReadUsers,
        |_, _| Need::ManageUsers,
        |_, _| Need::ReadStreams,
        |s, _| Need::ReadStream(s),
        |_, _| Need::CreateStream,
        |s, _| Need::ManageStream(s),
        |s, _| Need::ReadTopics(s),
        Need::ReadTopic,
        |s, _| Need::CreateTopic(s),
        Need::ManageTopic,
        Need::Poll,
        Need::Send,
    ];

    fn granted(p: &Permissions, s: u32, t: u32) -> Vec<Need> {
        EVERY_NEED.iter().map(|f| f(s, t)).filter(|&n| allows(p, n)).collect()
    }

    #[test]
    fn no_permissions_grant_nothing_and_all_grant_everything() {
        assert!(granted(&Permissions::default(), 1, 1).is_empty());
        assert_eq!(granted(&Permissions::all(), 1, 1).len(), EVERY_NEED.len());
    }

    #[test]
    fn global_rights_follow_iggys_inheritance() {
        let mut p = Permissions::default();
        p.global.read_topics = true;
        assert_eq!(
            granted(&p, 1, 2),
            [Need::ReadTopics(1), Need::ReadTopic(1, 2), Need::Poll(1, 2)],
            "read_topics reads topics and polls, nothing else"
        );
        let mut p = Permissions::default();
        p.global.manage_topics = true;
        assert_eq!(
            granted(&p, 1, 2),
            [
                Need::ReadTopics(1),
                Need::ReadTopic(1, 2),
                Need::CreateTopic(1),
                Need::ManageTopic(1, 2),
                Need::Poll(1, 2),
                Need::Send(1, 2)
            ]
        );
        let mut p = Permissions::default();
        p.global.send_messages = true;
        assert_eq!(granted(&p, 1, 2), [Need::Send(1, 2)]);
        let mut p = Permissions::default();
        p.global.manage_users = true;
        assert_eq!(granted(&p, 1, 2), [Need::ReadUsers, Need::ManageUsers]);
    }

    #[test]
    fn stream_and_topic_rights_stay_where_they_are_given() {
        let mut p = Permissions::default();
        let mut s = StreamPermissions { read_stream: true, ..Default::default() };
        s.topics.insert(5, TopicPermissions { send_messages: true, ..Default::default() });
        p.streams.insert(3, s);
        assert_eq!(
            granted(&p, 3, 5),
            [
                Need::ReadStream(3),
                Need::ReadTopics(3),
                Need::ReadTopic(3, 5),
                Need::Poll(3, 5),
                Need::Send(3, 5)
            ]
        );
        assert_eq!(
            granted(&p, 3, 6),
            [Need::ReadStream(3), Need::ReadTopics(3), Need::ReadTopic(3, 6), Need::Poll(3, 6)],
            "the topic's send right is that topic's only"
        );
        assert!(granted(&p, 4, 5).is_empty(), "another stream: nothing");
        assert!(!allows(&p, Need::ReadStreams), "listing every stream needs a global right");
    }
}
