//! The typed API: one method per command, each encoding its request, exchanging it, and decoding
//! the reply.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use eddy_wire::Identifier;
use eddy_wire::codes::command;
use eddy_wire::commands::messages::{FetchMessages, Partitioning, PollingStrategy, SendMessages};
use eddy_wire::commands::users::Login;
use eddy_wire::commands::{CONSUMER_KIND_GROUP, CONSUMER_KIND_SINGLE, Consumer};

use crate::ClientError;
use crate::batch::{Batch, Polled};
use crate::connection::{Connection, Transport};

/// What to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    pub partition: u32,
    /// A numeric consumer id.
    pub consumer: u32,
    pub strategy: PollingStrategy,
    pub count: u32,
    /// Store the last polled offset for the consumer.
    pub auto_commit: bool,
}

/// How long and for what a deferred poll waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deferred {
    pub wait: std::time::Duration,
    pub min_count: u32,
    pub max_bytes: u32,
}

/// The POLL_MESSAGES body. For callers that write requests themselves.
pub fn encode_poll(out: &mut BytesMut, stream: &Identifier, topic: &Identifier, spec: &Poll) {
    consumer_and_ids(out, spec.consumer, stream, topic, spec.partition);
    spec.strategy.encode(out);
    out.put_u32_le(spec.count);
    out.put_u8(u8::from(spec.auto_commit));
}

/// The POLL_MESSAGES_DEFERRED payload: the POLL_MESSAGES body, then `[wait_us u64]
/// [min_count u32][max_bytes u32][request_timeout_us u64]` (no request timeout of its own). For
/// callers that write requests themselves (many connections, pipelining).
pub fn encode_poll_deferred(
    out: &mut BytesMut,
    stream: &Identifier,
    topic: &Identifier,
    spec: &Poll,
    wait: &Deferred,
) {
    encode_poll(out, stream, topic, spec);
    encode_wait(out, wait);
}

/// The POLL_MESSAGES body of a poll as a member of consumer group `group`: the server picks the
/// partition (one the member owns, in turn), so `spec.partition` and `spec.consumer` are unused.
pub fn encode_group_poll(
    out: &mut BytesMut,
    stream: &Identifier,
    topic: &Identifier,
    group: &Identifier,
    spec: &Poll,
) {
    Consumer { kind: CONSUMER_KIND_GROUP, id: group.clone() }.encode(out);
    stream.encode(out);
    topic.encode(out);
    out.put_u8(0); // no partition: the group's turn
    out.put_u32_le(0);
    spec.strategy.encode(out);
    out.put_u32_le(spec.count);
    out.put_u8(u8::from(spec.auto_commit));
}

/// The `[wait_us u64][min_count u32][max_bytes u32][request_timeout_us u64]` tail of a
/// POLL_MESSAGES_DEFERRED payload.
fn encode_wait(out: &mut BytesMut, wait: &Deferred) {
    out.put_u64_le(u64::try_from(wait.wait.as_micros()).unwrap_or(u64::MAX));
    out.put_u32_le(wait.min_count);
    out.put_u32_le(wait.max_bytes);
    out.put_u64_le(0);
}

/// `[stream][topic][group]`, the body of the group commands.
fn group_ids(stream: &Identifier, topic: &Identifier, group: &Identifier) -> Bytes {
    let mut out = BytesMut::with_capacity(3 * 257);
    stream.encode(&mut out);
    topic.encode(&mut out);
    group.encode(&mut out);
    out.freeze()
}

/// The SEND_MESSAGES body of `batch`. For callers that write requests themselves.
pub fn encode_send(
    stream: &Identifier,
    topic: &Identifier,
    partitioning: &Partitioning,
    batch: &Batch,
) -> BytesMut {
    let mut out = BytesMut::with_capacity(64 + batch.len() * 16 + batch.size_bytes());
    SendMessages::encode(stream, topic, partitioning, &batch.messages, &batch.lengths, &mut out);
    out
}

/// A connection to an Iggy-protocol server.
pub struct Client {
    conn: Connection,
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, ClientError> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(ClientError::Malformed("reply too short"))
}

fn consumer_and_ids(
    out: &mut BytesMut,
    consumer: u32,
    stream: &Identifier,
    topic: &Identifier,
    partition: u32,
) {
    Consumer { kind: CONSUMER_KIND_SINGLE, id: Identifier::Numeric(consumer) }.encode(out);
    stream.encode(out);
    topic.encode(out);
    out.put_u8(1); // a partition follows
    out.put_u32_le(partition);
}

impl Client {
    /// Connects (no login yet).
    pub async fn connect(transport: Transport, addr: SocketAddr) -> Result<Self, ClientError> {
        Ok(Self { conn: Connection::open(transport, addr).await? })
    }

    /// Runs one command; an error status becomes `ClientError::Status`.
    pub async fn request(&mut self, code: u32, payload: Bytes) -> Result<Bytes, ClientError> {
        match self.conn.exchange(code, payload).await? {
            (0, body) => Ok(body),
            (status, _) => Err(ClientError::Status(status)),
        }
    }

    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.request(command::PING, Bytes::new()).await.map(drop)
    }

    /// Logs in; returns the user id.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<u32, ClientError> {
        let mut out = BytesMut::new();
        Login {
            username: username.into(),
            password: password.into(),
            version: Some("eddy-client".into()),
        }
        .encode(&mut out);
        let reply = self.request(command::LOGIN_USER, out.freeze()).await?;
        u32_at(&reply, 0)
    }

    /// Creates a stream; returns its id.
    pub async fn create_stream(&mut self, name: &str) -> Result<u32, ClientError> {
        let mut out = BytesMut::new();
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        let reply = self.request(command::CREATE_STREAM, out.freeze()).await?;
        u32_at(&reply, 0)
    }

    pub async fn delete_stream(&mut self, stream: &Identifier) -> Result<(), ClientError> {
        let mut out = BytesMut::new();
        stream.encode(&mut out);
        self.request(command::DELETE_STREAM, out.freeze()).await.map(drop)
    }

    /// Creates a topic with `partitions` partitions; returns its id.
    pub async fn create_topic(
        &mut self,
        stream: &Identifier,
        name: &str,
        partitions: u32,
    ) -> Result<u32, ClientError> {
        let mut out = BytesMut::new();
        stream.encode(&mut out);
        out.put_u32_le(partitions);
        out.put_u8(1); // compression: none
        out.put_u64_le(0); // message expiry: server default
        out.put_u64_le(0); // max topic size: server default
        out.put_u8(1); // replication factor
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        let reply = self.request(command::CREATE_TOPIC, out.freeze()).await?;
        u32_at(&reply, 0)
    }

    /// Sends a batch.
    pub async fn send(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        partitioning: &Partitioning,
        batch: &Batch,
    ) -> Result<(), ClientError> {
        // The metadata and index are encoded here; the messages go out from the batch itself.
        let mut prefix = BytesMut::with_capacity(64 + batch.len() * 16);
        SendMessages::encode_prefix(stream, topic, partitioning, &batch.lengths, &mut prefix);
        let parts = vec![prefix.freeze(), batch.messages.clone()];
        match self.conn.exchange_parts(command::SEND_MESSAGES, parts).await? {
            (0, _) => Ok(()),
            (status, _) => Err(ClientError::Status(status)),
        }
    }

    /// Polls messages as `spec` says.
    pub async fn poll(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        spec: &Poll,
    ) -> Result<Polled, ClientError> {
        let mut out = BytesMut::with_capacity(64);
        encode_poll(&mut out, stream, topic, spec);
        let reply = self.request(command::POLL_MESSAGES, out.freeze()).await?;
        Polled::parse(reply)
    }

    /// A poll that waits on the server (POLL_MESSAGES_DEFERRED): answered once `wait.min_count`
    /// messages (at least one) are there, `wait.max_bytes` of them are (0: no budget), or
    /// `wait.wait` has passed (then possibly empty). The server caps the wait (30 s by
    /// default).
    pub async fn poll_deferred(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        spec: &Poll,
        wait: &Deferred,
    ) -> Result<Polled, ClientError> {
        let mut out = BytesMut::with_capacity(88);
        encode_poll_deferred(&mut out, stream, topic, spec, wait);
        let reply = self.request(command::POLL_MESSAGES_DEFERRED, out.freeze()).await?;
        Polled::parse(reply)
    }

    /// A deferred poll of several partitions of a topic at once (FETCH_MESSAGES; `partitions`
    /// empty: all of them): answered once `wait.min_count` messages (at least one) are there
    /// across them, or when `wait.wait` has passed; each partition returns at most `spec.count`
    /// messages from `spec.strategy` for `spec.consumer` (`spec.partition` is unused), and
    /// partitions stop being read once `wait.max_bytes` are in the reply (0: the server's
    /// limit). One `Polled` per partition, in the order asked.
    pub async fn fetch(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        partitions: &[u32],
        spec: &Poll,
        wait: &Deferred,
    ) -> Result<Vec<Polled>, ClientError> {
        let request = FetchMessages {
            consumer: Consumer {
                kind: CONSUMER_KIND_SINGLE,
                id: Identifier::Numeric(spec.consumer),
            },
            stream: stream.clone(),
            topic: topic.clone(),
            partitions: partitions.to_vec(),
            strategy: spec.strategy,
            count: spec.count,
            auto_commit: spec.auto_commit,
            wait_us: u64::try_from(wait.wait.as_micros()).unwrap_or(u64::MAX),
            min_count: wait.min_count,
            max_bytes: wait.max_bytes,
            request_timeout_us: 0,
        };
        let mut out = BytesMut::with_capacity(96 + 4 * partitions.len());
        request.encode(&mut out);
        let reply = self.request(command::FETCH_MESSAGES, out.freeze()).await?;
        Polled::parse_fetched(reply)
    }

    /// Creates consumer group `name` in a topic; returns its id.
    pub async fn create_group(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        name: &str,
    ) -> Result<u32, ClientError> {
        let mut out = BytesMut::new();
        stream.encode(&mut out);
        topic.encode(&mut out);
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        let reply = self.request(command::CREATE_CONSUMER_GROUP, out.freeze()).await?;
        u32_at(&reply, 0)
    }

    /// Joins a consumer group: this connection becomes a member (until it leaves or closes)
    /// and owns a share of the topic's partitions.
    pub async fn join_group(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        group: &Identifier,
    ) -> Result<(), ClientError> {
        let ids = group_ids(stream, topic, group);
        self.request(command::JOIN_CONSUMER_GROUP, ids).await.map(drop)
    }

    pub async fn leave_group(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        group: &Identifier,
    ) -> Result<(), ClientError> {
        let ids = group_ids(stream, topic, group);
        self.request(command::LEAVE_CONSUMER_GROUP, ids).await.map(drop)
    }

    /// Polls as a member of `group` (see [`encode_group_poll`]): from the next of its
    /// partitions in turn; empty when it owns none.
    pub async fn poll_group(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        group: &Identifier,
        spec: &Poll,
    ) -> Result<Polled, ClientError> {
        let mut out = BytesMut::with_capacity(64);
        encode_group_poll(&mut out, stream, topic, group, spec);
        let reply = self.request(command::POLL_MESSAGES, out.freeze()).await?;
        Polled::parse(reply)
    }

    /// [`Client::poll_group`] that waits on the server as [`Client::poll_deferred`] does, on
    /// the partition whose turn it is.
    pub async fn poll_group_deferred(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        group: &Identifier,
        spec: &Poll,
        wait: &Deferred,
    ) -> Result<Polled, ClientError> {
        let mut out = BytesMut::with_capacity(88);
        encode_group_poll(&mut out, stream, topic, group, spec);
        encode_wait(&mut out, wait);
        let reply = self.request(command::POLL_MESSAGES_DEFERRED, out.freeze()).await?;
        Polled::parse(reply)
    }

    /// Stores a consumer offset.
    pub async fn store_offset(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        partition: u32,
        consumer: u32,
        offset: u64,
    ) -> Result<(), ClientError> {
        let mut out = BytesMut::with_capacity(48);
        consumer_and_ids(&mut out, consumer, stream, topic, partition);
        out.put_u64_le(offset);
        self.request(command::STORE_CONSUMER_OFFSET, out.freeze()).await.map(drop)
    }

    /// The stored offset of a consumer, if any.
    pub async fn get_offset(
        &mut self,
        stream: &Identifier,
        topic: &Identifier,
        partition: u32,
        consumer: u32,
    ) -> Result<Option<u64>, ClientError> {
        let mut out = BytesMut::with_capacity(48);
        consumer_and_ids(&mut out, consumer, stream, topic, partition);
        let reply = self.request(command::GET_CONSUMER_OFFSET, out.freeze()).await?;
        if reply.is_empty() {
            return Ok(None);
        }
        let stored = reply.get(12..20).and_then(|s| s.try_into().ok()).map(u64::from_le_bytes);
        stored.map(Some).ok_or(ClientError::Malformed("offset reply too short"))
    }
}
