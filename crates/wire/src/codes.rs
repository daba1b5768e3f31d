//! The command and status code tables of Iggy's binary protocol: the only place these numbers
//! live.

/// Command codes (request `code` field).
pub mod command {
    pub const PING: u32 = 1;
    pub const GET_STATS: u32 = 10;
    pub const GET_SNAPSHOT_FILE: u32 = 11;
    pub const GET_CLUSTER_METADATA: u32 = 12;
    pub const GET_ME: u32 = 20;
    pub const GET_CLIENT: u32 = 21;
    pub const GET_CLIENTS: u32 = 22;
    pub const GET_USER: u32 = 31;
    pub const GET_USERS: u32 = 32;
    pub const CREATE_USER: u32 = 33;
    pub const DELETE_USER: u32 = 34;
    pub const UPDATE_USER: u32 = 35;
    pub const UPDATE_PERMISSIONS: u32 = 36;
    pub const CHANGE_PASSWORD: u32 = 37;
    pub const LOGIN_USER: u32 = 38;
    pub const LOGOUT_USER: u32 = 39;
    pub const GET_PERSONAL_ACCESS_TOKENS: u32 = 41;
    pub const CREATE_PERSONAL_ACCESS_TOKEN: u32 = 42;
    pub const DELETE_PERSONAL_ACCESS_TOKEN: u32 = 43;
    pub const LOGIN_WITH_PERSONAL_ACCESS_TOKEN: u32 = 44;
    pub const POLL_MESSAGES: u32 = 100;
    pub const SEND_MESSAGES: u32 = 101;
    pub const FLUSH_UNSAVED_BUFFER: u32 = 102;
    /// A poll that waits (Iggy 0.10's deferred polling, served on the 0.8 wire): the
    /// POLL_MESSAGES body, then `[wait_us u64][min_count u32][max_bytes u32]
    /// [request_timeout_us u64]`.
    pub const POLL_MESSAGES_DEFERRED: u32 = 106;
    /// Ends the connection's waiting poll now (it is answered with what is there).
    pub const CANCEL_DEFERRED_REQUEST: u32 = 108;
    /// A deferred poll of several partitions of one topic (Iggy 0.10's code; the body is
    /// Eddy's, see `commands::messages::FetchMessages` and docs/PROTOCOL.md).
    pub const FETCH_MESSAGES: u32 = 109;
    pub const GET_CONSUMER_OFFSET: u32 = 120;
    pub const STORE_CONSUMER_OFFSET: u32 = 121;
    pub const DELETE_CONSUMER_OFFSET: u32 = 122;
    pub const GET_STREAM: u32 = 200;
    pub const GET_STREAMS: u32 = 201;
    pub const CREATE_STREAM: u32 = 202;
    pub const DELETE_STREAM: u32 = 203;
    pub const UPDATE_STREAM: u32 = 204;
    pub const PURGE_STREAM: u32 = 205;
    pub const GET_TOPIC: u32 = 300;
    pub const GET_TOPICS: u32 = 301;
    pub const CREATE_TOPIC: u32 = 302;
    pub const DELETE_TOPIC: u32 = 303;
    pub const UPDATE_TOPIC: u32 = 304;
    pub const PURGE_TOPIC: u32 = 305;
    pub const CREATE_PARTITIONS: u32 = 402;
    pub const DELETE_PARTITIONS: u32 = 403;
    pub const DELETE_SEGMENTS: u32 = 503;
    pub const GET_CONSUMER_GROUP: u32 = 600;
    pub const GET_CONSUMER_GROUPS: u32 = 601;
    pub const CREATE_CONSUMER_GROUP: u32 = 602;
    pub const DELETE_CONSUMER_GROUP: u32 = 603;
    pub const JOIN_CONSUMER_GROUP: u32 = 604;
    pub const LEAVE_CONSUMER_GROUP: u32 = 605;
    /// A member's partitions and the assignment's generation (Iggy 0.9's; served on both
    /// wires).
    pub const SYNC_CONSUMER_GROUP: u32 = 606;
    /// Eddy's push subscriptions (an extension: Iggy's codes stop at 605, one hundred per
    /// resource; 9000–9099 are Eddy's). See `commands::push` and docs/PROTOCOL.md.
    pub const SUBSCRIBE: u32 = 9000;
    /// Adds messages and bytes to a subscription's credit.
    pub const GRANT_CREDIT: u32 = 9001;
    pub const UNSUBSCRIBE: u32 = 9002;
    /// Eddy's per-shard load (for the dashboard): `commands::system::ShardStats` per shard.
    pub const GET_SHARD_STATS: u32 = 9010;

    /// A short name for logs.
    pub fn name(code: u32) -> &'static str {
        match code {
            PING => "ping",
            GET_STATS => "get_stats",
            GET_SNAPSHOT_FILE => "get_snapshot_file",
            GET_CLUSTER_METADATA => "get_cluster_metadata",
            GET_ME => "get_me",
            GET_CLIENT => "get_client",
            GET_CLIENTS => "get_clients",
            GET_USER => "get_user",
            GET_USERS => "get_users",
            CREATE_USER => "create_user",
            DELETE_USER => "delete_user",
            UPDATE_USER => "update_user",
            UPDATE_PERMISSIONS => "update_permissions",
            CHANGE_PASSWORD => "change_password",
            LOGIN_USER => "login_user",
            LOGOUT_USER => "logout_user",
            GET_PERSONAL_ACCESS_TOKENS => "get_personal_access_tokens",
            CREATE_PERSONAL_ACCESS_TOKEN => "create_personal_access_token",
            DELETE_PERSONAL_ACCESS_TOKEN => "delete_personal_access_token",
            LOGIN_WITH_PERSONAL_ACCESS_TOKEN => "login_with_personal_access_token",
            POLL_MESSAGES => "poll_messages",
            SEND_MESSAGES => "send_messages",
            FLUSH_UNSAVED_BUFFER => "flush_unsaved_buffer",
            POLL_MESSAGES_DEFERRED => "poll_messages_deferred",
            CANCEL_DEFERRED_REQUEST => "cancel_deferred_request",
            FETCH_MESSAGES => "fetch_messages",
            GET_CONSUMER_OFFSET => "get_consumer_offset",
            STORE_CONSUMER_OFFSET => "store_consumer_offset",
            DELETE_CONSUMER_OFFSET => "delete_consumer_offset",
            GET_STREAM => "get_stream",
            GET_STREAMS => "get_streams",
            CREATE_STREAM => "create_stream",
            DELETE_STREAM => "delete_stream",
            UPDATE_STREAM => "update_stream",
            PURGE_STREAM => "purge_stream",
            GET_TOPIC => "get_topic",
            GET_TOPICS => "get_topics",
            CREATE_TOPIC => "create_topic",
            DELETE_TOPIC => "delete_topic",
            UPDATE_TOPIC => "update_topic",
            PURGE_TOPIC => "purge_topic",
            CREATE_PARTITIONS => "create_partitions",
            DELETE_PARTITIONS => "delete_partitions",
            DELETE_SEGMENTS => "delete_segments",
            GET_CONSUMER_GROUP => "get_consumer_group",
            GET_CONSUMER_GROUPS => "get_consumer_groups",
            CREATE_CONSUMER_GROUP => "create_consumer_group",
            DELETE_CONSUMER_GROUP => "delete_consumer_group",
            JOIN_CONSUMER_GROUP => "join_consumer_group",
            LEAVE_CONSUMER_GROUP => "leave_consumer_group",
            SYNC_CONSUMER_GROUP => "sync_consumer_group",
            SUBSCRIBE => "subscribe",
            GRANT_CREDIT => "grant_credit",
            UNSUBSCRIBE => "unsubscribe",
            GET_SHARD_STATS => "get_shard_stats",
            _ => "unknown",
        }
    }
}

/// Codes only the 0.11 wire (Iggy 0.9) has; the 0.8 wire does not know them.
pub mod command_v011 {
    /// DESCRIBE_OPTIONS: the option keys create requests accept.
    pub const DESCRIBE_OPTIONS: u32 = 13;
    /// ATTACH_CONSUMER_SESSION (cluster routing; a single node never needs it).
    pub const ATTACH_CONSUMER_SESSION: u32 = 14;
    /// LOGIN_REGISTER: log in with a password and register the session.
    pub const LOGIN_REGISTER: u32 = 40;
    /// LOGIN_REGISTER_WITH_PAT: the same with a personal access token.
    pub const LOGIN_REGISTER_WITH_PAT: u32 = 45;
    /// GET_POLL_ROUTING (cluster routing).
    pub const GET_POLL_ROUTING: u32 = 103;
    /// POLL_MESSAGES_ON_PRIMARY (cluster routing).
    pub const POLL_MESSAGES_ON_PRIMARY: u32 = 104;
    /// GET_CONSUMER_OFFSET_ROUTING (cluster routing).
    pub const GET_CONSUMER_OFFSET_ROUTING: u32 = 123;
}

/// Status codes (response `status` field; Iggy's error codes). 0 is success.
pub mod status {
    pub const OK: u32 = 0;
    /// Not a status: marks a frame the server pushes to a subscribed connection (Eddy's
    /// extension), in the place a reply's status goes. Far from every Iggy error code (< 15000).
    pub const PUSH_FRAME: u32 = 0xEDD0_0001;
    pub const ERROR: u32 = 1;
    pub const INVALID_COMMAND: u32 = 3;
    pub const INVALID_FORMAT: u32 = 4;
    pub const FEATURE_UNAVAILABLE: u32 = 5;
    pub const INVALID_IDENTIFIER: u32 = 6;
    /// Sent to a connection refused at accept (over the connection caps), then closed.
    pub const CANNOT_ESTABLISH_CONNECTION: u32 = 9;
    /// A user named by GET_USER's siblings does not exist (Iggy's "resource not found").
    pub const RESOURCE_NOT_FOUND: u32 = 20;
    pub const UNAUTHENTICATED: u32 = 40;
    /// Logged in, but the user lacks the permission the command needs.
    pub const UNAUTHORIZED: u32 = 41;
    pub const INVALID_CREDENTIALS: u32 = 42;
    pub const INVALID_USERNAME: u32 = 43;
    pub const INVALID_PASSWORD: u32 = 44;
    pub const INVALID_USER_STATUS: u32 = 45;
    pub const USER_ALREADY_EXISTS: u32 = 46;
    pub const USER_INACTIVE: u32 = 47;
    /// The root user cannot be deleted.
    pub const CANNOT_DELETE_USER: u32 = 48;
    /// The root user's permissions cannot be changed.
    pub const CANNOT_CHANGE_PERMISSIONS: u32 = 49;
    pub const INVALID_PERSONAL_ACCESS_TOKEN_NAME: u32 = 50;
    pub const PERSONAL_ACCESS_TOKEN_ALREADY_EXISTS: u32 = 51;
    pub const PERSONAL_ACCESS_TOKENS_LIMIT_REACHED: u32 = 52;
    pub const INVALID_PERSONAL_ACCESS_TOKEN: u32 = 53;
    pub const PERSONAL_ACCESS_TOKEN_EXPIRED: u32 = 54;
    pub const USERS_LIMIT_REACHED: u32 = 55;
    pub const STREAM_ID_NOT_FOUND: u32 = 1009;
    pub const STREAM_NAME_NOT_FOUND: u32 = 1010;
    pub const STREAM_NAME_ALREADY_EXISTS: u32 = 1012;
    pub const INVALID_STREAM_NAME: u32 = 1013;
    pub const TOPIC_ID_NOT_FOUND: u32 = 2010;
    pub const TOPIC_NAME_NOT_FOUND: u32 = 2011;
    pub const TOPIC_NAME_ALREADY_EXISTS: u32 = 2013;
    pub const INVALID_TOPIC_NAME: u32 = 2014;
    pub const INVALID_PARTITIONS_COUNT: u32 = 2019;
    pub const PARTITION_NOT_FOUND: u32 = 3007;
    /// A consumer group's offset asked for a partition its member does not own.
    pub const NOT_RESOLVED_CONSUMER: u32 = 3022;
    pub const INVALID_MESSAGES_COUNT: u32 = 4009;
    pub const CANNOT_APPEND_MESSAGE: u32 = 4010;
    pub const TOO_BIG_MESSAGE_PAYLOAD: u32 = 4022;
    pub const TOO_MANY_MESSAGES: u32 = 4023;
    pub const EMPTY_MESSAGE_PAYLOAD: u32 = 4024;
    pub const INVALID_MESSAGE_PAYLOAD_LENGTH: u32 = 4025;
    /// 0.11 wire: a create or update request named an option key Eddy does not know.
    pub const UNSUPPORTED_OPTION_KEY: u32 = 4041;
    /// 0.11 wire: an option's value has the wrong kind or does not parse.
    pub const INVALID_OPTION_VALUE: u32 = 4042;
    pub const INVALID_OFFSET: u32 = 4100;
    pub const CONSUMER_GROUP_ID_NOT_FOUND: u32 = 5000;
    pub const CONSUMER_GROUP_NAME_NOT_FOUND: u32 = 5003;
    pub const CONSUMER_GROUP_NAME_ALREADY_EXISTS: u32 = 5004;
    pub const INVALID_CONSUMER_GROUP_NAME: u32 = 5005;
    /// The connection is not a member of the group it polls or leaves as.
    pub const CONSUMER_GROUP_MEMBER_NOT_FOUND: u32 = 5006;
    /// 0.11 wire: a group member polled a partition it does not own (its SDK syncs again).
    pub const CONSUMER_GROUP_PARTITION_NOT_OWNED: u32 = 5009;
    /// Eddy's extension: GRANT_CREDIT or UNSUBSCRIBE named no subscription of the connection.
    pub const SUBSCRIPTION_NOT_FOUND: u32 = 9000;
    /// Eddy's extension: the connection holds `limits.max_subscriptions` already.
    pub const TOO_MANY_SUBSCRIPTIONS: u32 = 9001;
    /// 0.11 wire: a login announced a protocol version this server does not speak.
    pub const INCOMPATIBLE_PROTOCOL_VERSION: u32 = 14003;
}
