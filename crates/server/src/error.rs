//! Server errors and the Iggy status code each one is answered with: the one table. No I/O.

use eddy_wire::codes::status;
use eddy_wire::{Identifier, WireError};

use crate::auth::{TokenError, UserError};
use crate::storage::StorageError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Logged in, without the permission the command needs.
    #[error("unauthorized")]
    Unauthorized,
    #[error("the user is inactive")]
    UserInactive,
    #[error("user: {0}")]
    User(#[from] UserError),
    #[error("invalid command code {0}")]
    InvalidCommand(u32),
    #[error("feature unavailable: {0}")]
    FeatureUnavailable(&'static str),
    #[error("malformed payload: {0}")]
    Malformed(#[from] WireError),
    #[error("stream {0} not found")]
    StreamNotFound(Identifier),
    #[error("stream name {0:?} already exists")]
    StreamNameExists(String),
    #[error("invalid stream name")]
    InvalidStreamName,
    #[error("topic {1} not found in stream {0}")]
    TopicNotFound(Identifier, Identifier),
    #[error("topic name {0:?} already exists")]
    TopicNameExists(String),
    #[error("invalid topic name")]
    InvalidTopicName,
    #[error("invalid partitions count {0}")]
    InvalidPartitionsCount(u32),
    #[error("partition {0} not found")]
    PartitionNotFound(u32),
    #[error("invalid offset {0}")]
    InvalidOffset(u64),
    #[error("consumer group {0} not found")]
    GroupNotFound(Identifier),
    #[error("consumer group name {0:?} already exists")]
    GroupNameExists(String),
    #[error("invalid consumer group name")]
    InvalidGroupName,
    #[error("client {0} is not a member of consumer group {1}")]
    NotGroupMember(u32, Identifier),
    /// A consumer group's offset was named for a partition its member does not own.
    #[error("consumer {0} owns no such partition")]
    NotResolvedConsumer(Identifier),
    #[error("personal access token: {0}")]
    Token(#[from] crate::auth::TokenError),
    #[error("subscription {0} not found")]
    SubscriptionNotFound(u32),
    #[error("too many subscriptions on one connection (at most {0})")]
    TooManySubscriptions(usize),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A shard or partition task is gone (shutting down).
    #[error("internal: {0}")]
    Internal(&'static str),
}

impl ServerError {
    /// The status code the client receives.
    pub fn status(&self) -> u32 {
        match self {
            Self::Unauthenticated => status::UNAUTHENTICATED,
            Self::InvalidCredentials => status::INVALID_CREDENTIALS,
            Self::Unauthorized => status::UNAUTHORIZED,
            Self::UserInactive => status::USER_INACTIVE,
            Self::User(e) => match e {
                UserError::NotFound(_) => status::RESOURCE_NOT_FOUND,
                UserError::InvalidUsername => status::INVALID_USERNAME,
                UserError::InvalidPassword => status::INVALID_PASSWORD,
                UserError::InvalidStatus(_) => status::INVALID_USER_STATUS,
                UserError::Exists(_) => status::USER_ALREADY_EXISTS,
                UserError::LimitReached(_) => status::USERS_LIMIT_REACHED,
                UserError::CannotDeleteRoot => status::CANNOT_DELETE_USER,
                UserError::CannotChangeRoot => status::CANNOT_CHANGE_PERMISSIONS,
                UserError::PasswordChanged => status::INVALID_CREDENTIALS,
                UserError::Io { .. } | UserError::Corrupt(_) => status::ERROR,
            },
            Self::InvalidCommand(_) => status::INVALID_COMMAND,
            Self::FeatureUnavailable(_) => status::FEATURE_UNAVAILABLE,
            Self::Malformed(WireError::Invalid("identifier")) => status::INVALID_IDENTIFIER,
            Self::Malformed(WireError::Invalid("messages count")) => status::INVALID_MESSAGES_COUNT,
            Self::Malformed(WireError::Invalid("empty message payload")) => {
                status::EMPTY_MESSAGE_PAYLOAD
            }
            Self::Malformed(WireError::Invalid("message payload length")) => {
                status::INVALID_MESSAGE_PAYLOAD_LENGTH
            }
            Self::Malformed(_) => status::INVALID_FORMAT,
            Self::StreamNotFound(Identifier::Name(_)) => status::STREAM_NAME_NOT_FOUND,
            Self::StreamNotFound(_) => status::STREAM_ID_NOT_FOUND,
            Self::StreamNameExists(_) => status::STREAM_NAME_ALREADY_EXISTS,
            Self::InvalidStreamName => status::INVALID_STREAM_NAME,
            Self::TopicNotFound(_, Identifier::Name(_)) => status::TOPIC_NAME_NOT_FOUND,
            Self::TopicNotFound(..) => status::TOPIC_ID_NOT_FOUND,
            Self::TopicNameExists(_) => status::TOPIC_NAME_ALREADY_EXISTS,
            Self::InvalidTopicName => status::INVALID_TOPIC_NAME,
            Self::InvalidPartitionsCount(_) => status::INVALID_PARTITIONS_COUNT,
            Self::PartitionNotFound(_) => status::PARTITION_NOT_FOUND,
            Self::InvalidOffset(_) => status::INVALID_OFFSET,
            Self::GroupNotFound(Identifier::Name(_)) => status::CONSUMER_GROUP_NAME_NOT_FOUND,
            Self::GroupNotFound(_) => status::CONSUMER_GROUP_ID_NOT_FOUND,
            Self::GroupNameExists(_) => status::CONSUMER_GROUP_NAME_ALREADY_EXISTS,
            Self::InvalidGroupName => status::INVALID_CONSUMER_GROUP_NAME,
            Self::NotGroupMember(..) => status::CONSUMER_GROUP_MEMBER_NOT_FOUND,
            Self::NotResolvedConsumer(_) => status::NOT_RESOLVED_CONSUMER,
            Self::Token(e) => match e {
                TokenError::InvalidName => status::INVALID_PERSONAL_ACCESS_TOKEN_NAME,
                TokenError::NameExists(_) => status::PERSONAL_ACCESS_TOKEN_ALREADY_EXISTS,
                TokenError::LimitReached(_) => status::PERSONAL_ACCESS_TOKENS_LIMIT_REACHED,
                TokenError::Invalid => status::INVALID_PERSONAL_ACCESS_TOKEN,
                TokenError::Expired(_) => status::PERSONAL_ACCESS_TOKEN_EXPIRED,
                TokenError::Io { .. } | TokenError::Corrupt(_) | TokenError::Random(_) => {
                    status::ERROR
                }
            },
            Self::SubscriptionNotFound(_) => status::SUBSCRIPTION_NOT_FOUND,
            Self::TooManySubscriptions(_) => status::TOO_MANY_SUBSCRIPTIONS,
            Self::Storage(_) => status::CANNOT_APPEND_MESSAGE,
            Self::Internal(_) => status::ERROR,
        }
    }
}
