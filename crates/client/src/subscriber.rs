//! A push subscription (Eddy's extension, `eddy_wire::commands::push`): SUBSCRIBE once, then
//! batches as the server pushes them. Credit is granted back as batches are taken (the server
//! never has more than the window out), every pushed batch is checked against the credit left,
//! and when the connection drops (or stays silent for three heartbeats) the subscriber
//! reconnects with jittered exponential back-off and resumes each partition right after the
//! last message it delivered: none lost, none twice.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use eddy_wire::Identifier;
use eddy_wire::codes::{command, status};
use eddy_wire::commands::Consumer;
use eddy_wire::commands::messages::PollingStrategy;
use eddy_wire::commands::push::{self, FROM_STRATEGY, GrantCredit, PushFrame, Subscribe};
use eddy_wire::commands::users::Login;

use crate::ClientError;
use crate::batch::Polled;
use crate::connection::{Connection, Transport};

/// Reconnect attempts in a row before [`Subscriber::next`] gives up.
const MAX_RECONNECTS: u32 = 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What to subscribe to and how much may be in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// A numeric consumer id (its offsets are the ones auto-commit stores).
    pub consumer: u32,
    /// `None`: every partition of the topic.
    pub partitions: Option<Vec<u32>>,
    /// Where each partition starts.
    pub strategy: PollingStrategy,
    /// Most messages per pushed batch.
    pub batch: u32,
    /// The server stores each pushed batch's last offset for the consumer.
    pub auto_commit: bool,
    /// Messages and bytes the server may push beyond what has been taken.
    pub window_messages: u32,
    pub window_bytes: u32,
    /// The server sends a heartbeat after this long without a push (zero: none, and no
    /// silence detection).
    pub heartbeat: Duration,
}

impl Subscription {
    /// Every partition from the first message, batches of up to 1,000, a window of 10,000
    /// messages and 16 MiB, a heartbeat every 5 s.
    pub fn new(consumer: u32) -> Self {
        Self {
            consumer,
            partitions: None,
            strategy: PollingStrategy::First,
            batch: 1000,
            auto_commit: false,
            window_messages: 10_000,
            window_bytes: 16 << 20,
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// Where the subscriber connects and who it logs in as.
#[derive(Debug, Clone)]
struct Target {
    transport: Transport,
    addr: SocketAddr,
    username: String,
    password: String,
    stream: Identifier,
    topic: Identifier,
}

/// A subscribed connection: [`Subscriber::next`] yields the pushed batches.
pub struct Subscriber {
    target: Target,
    spec: Subscription,
    conn: Connection,
    id: u32,
    /// Per partition, the offset of the next message to deliver.
    next: Vec<(u32, u64)>,
    /// Credit granted and not yet used by a pushed batch.
    unspent: (u64, u64),
    /// Credit used by batches already taken, not yet granted back.
    taken: (u64, u64),
    /// Replies (to GRANT_CREDIT) still to come.
    replies_due: u32,
    reconnects: u64,
    seed: u64,
}

impl Subscriber {
    /// Connects, logs in and subscribes.
    #[allow(clippy::too_many_arguments)]
    pub async fn connect(
        transport: Transport,
        addr: SocketAddr,
        username: &str,
        password: &str,
        stream: &Identifier,
        topic: &Identifier,
        spec: Subscription,
    ) -> Result<Self, ClientError> {
        let target = Target {
            transport,
            addr,
            username: username.into(),
            password: password.into(),
            stream: stream.clone(),
            topic: topic.clone(),
        };
        let (conn, id, next) = open(&target, &spec, &[]).await?;
        let unspent = (u64::from(spec.window_messages), u64::from(spec.window_bytes));
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 | 1);
        Ok(Self {
            target,
            spec,
            conn,
            id,
            next,
            unspent,
            taken: (0, 0),
            replies_due: 0,
            reconnects: 0,
            seed,
        })
    }

    /// The partitions and where each one's next message starts.
    pub fn positions(&self) -> &[(u32, u64)] {
        &self.next
    }

    /// How many times the subscriber reconnected.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// The next pushed batch (taking it grants its credit back once half the window is
    /// taken). Reconnects and resumes on its own; fails after repeated failed reconnects, on
    /// an error status, when every partition has ended, or if the server pushes past the
    /// credit.
    pub async fn next(&mut self) -> Result<Polled, ClientError> {
        loop {
            let half = (
                u64::from(self.spec.window_messages / 2).max(1),
                u64::from(self.spec.window_bytes / 2).max(1),
            );
            if self.taken.0 >= half.0 || self.taken.1 >= half.1 {
                let (m, b) = self.taken;
                self.taken = (0, 0);
                if self.grant(m, b).await.is_err() {
                    self.resume().await?;
                    continue;
                }
            }
            let read = self.conn.read_frame();
            let frame = match self.spec.heartbeat {
                d if d.is_zero() => Some(read.await),
                d => compio::time::timeout(d * 3, read).await.ok(),
            };
            let (code, body) = match frame {
                Some(Ok(frame)) => frame,
                // Dropped, failed or silent for three heartbeats.
                Some(Err(_)) | None => {
                    self.resume().await?;
                    continue;
                }
            };
            if code != status::PUSH_FRAME {
                self.replies_due = self.replies_due.saturating_sub(1);
                if code != status::OK {
                    return Err(ClientError::Status(code));
                }
                continue;
            }
            let frame =
                PushFrame::decode(&body).map_err(|_| ClientError::Malformed("push frame"))?;
            match frame {
                PushFrame::Messages { subscription, messages_at, .. }
                    if subscription == self.id =>
                {
                    let bytes = (body.len() - messages_at) as u64;
                    let polled = Polled::parse(body.slice(messages_at - 16..))?;
                    let count = polled.messages.len() as u64;
                    if count > self.unspent.0 || bytes > self.unspent.1 {
                        return Err(ClientError::Malformed("pushed past the credit granted"));
                    }
                    self.unspent = (self.unspent.0 - count, self.unspent.1 - bytes);
                    self.taken = (self.taken.0 + count, self.taken.1 + bytes);
                    if let Some(last) = polled.messages.last() {
                        let at = self.next.iter_mut().find(|(p, _)| *p == polled.partition);
                        if let Some((_, next)) = at {
                            if polled.messages[0].offset != *next {
                                return Err(ClientError::Malformed("pushed batch out of order"));
                            }
                            *next = last.offset + 1;
                        }
                    }
                    return Ok(polled);
                }
                // A message larger than the bytes left: grant a window more.
                PushFrame::Stalled { subscription, .. }
                    if subscription == self.id
                        && self.grant(0, u64::from(self.spec.window_bytes)).await.is_err() =>
                {
                    self.resume().await?;
                }
                PushFrame::Ended { subscription, partition, status } if subscription == self.id => {
                    self.next.retain(|(p, _)| *p != partition);
                    if self.next.is_empty() {
                        return Err(ClientError::Status(status));
                    }
                }
                _ => {} // heartbeats, frames of an earlier subscription
            }
        }
    }

    /// Ends the subscription on the server and closes the connection.
    pub async fn unsubscribe(mut self) -> Result<(), ClientError> {
        self.conn
            .send(command::UNSUBSCRIBE, Bytes::copy_from_slice(&self.id.to_le_bytes()))
            .await?;
        loop {
            let (code, _) = self.conn.read_frame().await?;
            if code == status::PUSH_FRAME {
                continue;
            }
            if self.replies_due == 0 {
                return if code == status::OK { Ok(()) } else { Err(ClientError::Status(code)) };
            }
            self.replies_due -= 1;
        }
    }

    async fn grant(&mut self, messages: u64, bytes: u64) -> Result<(), ClientError> {
        let g = GrantCredit {
            subscription: self.id,
            messages: u32::try_from(messages).unwrap_or(u32::MAX),
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        };
        let mut out = BytesMut::with_capacity(12);
        g.encode(&mut out);
        self.conn.send(command::GRANT_CREDIT, out.freeze()).await?;
        self.unspent.0 += u64::from(g.messages);
        self.unspent.1 += u64::from(g.bytes);
        self.replies_due += 1;
        Ok(())
    }

    /// Reconnects (jittered exponential back-off) and subscribes again from where each
    /// partition's delivery stopped, with a fresh window.
    async fn resume(&mut self) -> Result<(), ClientError> {
        let mut backoff = FIRST_BACKOFF;
        let mut last = ClientError::Closed;
        for _ in 0..MAX_RECONNECTS {
            // xorshift: a delay in [backoff / 2, backoff).
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            let half = backoff.as_micros() as u64 / 2;
            let delay = Duration::from_micros(half + self.seed % half.max(1));
            compio::time::sleep(delay).await;
            match open(&self.target, &self.spec, &self.next).await {
                Ok((conn, id, next)) => {
                    self.conn = conn;
                    self.id = id;
                    self.next = next;
                    self.unspent =
                        (u64::from(self.spec.window_messages), u64::from(self.spec.window_bytes));
                    self.taken = (0, 0);
                    self.replies_due = 0;
                    self.reconnects += 1;
                    return Ok(());
                }
                Err(ClientError::Status(s)) if s != status::CANNOT_ESTABLISH_CONNECTION => {
                    return Err(ClientError::Status(s));
                }
                Err(e) => last = e,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        Err(last)
    }
}

/// Connects, logs in and subscribes: from `resume` (partition, next offset) when given, else
/// as `spec` says. Returns the connection, the subscription id and where each partition starts.
async fn open(
    target: &Target,
    spec: &Subscription,
    resume: &[(u32, u64)],
) -> Result<(Connection, u32, Vec<(u32, u64)>), ClientError> {
    let mut conn = Connection::open(target.transport, target.addr).await?;
    let mut out = BytesMut::new();
    Login {
        username: target.username.clone(),
        password: target.password.clone(),
        version: Some("eddy-client".into()),
    }
    .encode(&mut out);
    expect_ok(conn.exchange(command::LOGIN_USER, out.freeze()).await?)?;
    let partitions = match (resume, &spec.partitions) {
        ([], None) => Vec::new(),
        ([], Some(list)) => list.iter().map(|&p| (p, FROM_STRATEGY)).collect(),
        (resume, _) => resume.to_vec(),
    };
    let req = Subscribe {
        consumer: Consumer { kind: 1, id: Identifier::Numeric(spec.consumer) },
        stream: target.stream.clone(),
        topic: target.topic.clone(),
        strategy: spec.strategy,
        batch: spec.batch,
        auto_commit: spec.auto_commit,
        credit_messages: spec.window_messages,
        credit_bytes: spec.window_bytes,
        heartbeat_ms: u32::try_from(spec.heartbeat.as_millis()).unwrap_or(u32::MAX),
        partitions,
    };
    let mut out = BytesMut::new();
    req.encode(&mut out);
    let reply = expect_ok(conn.exchange(command::SUBSCRIBE, out.freeze()).await?)?;
    let (id, starts) =
        push::decode_subscribed(&reply).map_err(|_| ClientError::Malformed("subscribe reply"))?;
    Ok((conn, id, starts))
}

fn expect_ok((code, body): (u32, Bytes)) -> Result<Bytes, ClientError> {
    match code {
        status::OK => Ok(body),
        code => Err(ClientError::Status(code)),
    }
}
