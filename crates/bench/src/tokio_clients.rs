//! The pinned actors' tokio clients: Apache Iggy's Rust SDK (`iggy` 0.10.0, whose WebSocket
//! client is tokio-tungstenite 0.29), and a plain client that sends the same requests and reads the
//! same replies with nothing around the socket: over TCP `read_exact` into one reused buffer, over
//! WebSocket tokio-tungstenite 0.29 with its default configuration (the SDK's), each reply's
//! message used in place. Between them they split the SDK's WebSocket cost into the library's
//! (tokio-tungstenite) and the SDK's own. Each actor runs on a current-thread runtime on its own
//! (optionally pinned) thread, so that thread's CPU is all the client's.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use eddy_client::{Transport, encode_poll, encode_send};
use eddy_wire::codes::command;
use eddy_wire::commands::messages::{Partitioning, decode_polled_head};
use eddy_wire::commands::users::Login;
use eddy_wire::framing::{
    REQUEST_HEADER_LEN, RESPONSE_HEADER_LEN, RequestHeader, parse_response_header,
};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::actors::{ActorRun, BatchClient, ClientKind, Kind, Workload, batch_of, drive, poll_at};

/// Runs one actor to the end on a current-thread tokio runtime.
pub fn run(
    kind: Kind,
    client: ClientKind,
    transport: Transport,
    addr: SocketAddr,
    stream: u32,
    w: &Workload,
    progress: &AtomicU64,
) -> anyhow::Result<ActorRun> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match client {
            ClientKind::IggySdk => {
                let mut c = Sdk::connect(transport, addr, stream, w).await?;
                drive(&mut c, kind, w, progress).await
            }
            ClientKind::Tokio => {
                let mut c = Plain::connect(transport, addr, stream, w).await?;
                drive(&mut c, kind, w, progress).await
            }
            ClientKind::Eddy => bail!("eddy-client runs on compio (actors::run), not on tokio"),
        }
    })
}

/// An actor on Apache Iggy's SDK, with its defaults (as users run it).
struct Sdk {
    client: iggy::prelude::IggyClient,
    stream: iggy::prelude::Identifier,
    topic: iggy::prelude::Identifier,
    consumer: iggy::prelude::Consumer,
    messages: Vec<iggy::prelude::IggyMessage>,
}

impl Sdk {
    async fn connect(
        transport: Transport,
        addr: SocketAddr,
        stream: u32,
        w: &Workload,
    ) -> anyhow::Result<Self> {
        use iggy::prelude::*;
        let builder = IggyClient::builder();
        let client = match transport {
            Transport::Tcp => builder.with_tcp().with_server_address(addr.to_string()).build(),
            Transport::WebSocket => {
                builder.with_websocket().with_server_address(addr.to_string()).build()
            }
        }
        .context("building the SDK client")?;
        client.connect().await.context("connecting (SDK)")?;
        client.login_user("iggy", "iggy").await.context("logging in (SDK)")?;
        let payload = Bytes::from(vec![b'e'; w.message_size]);
        let messages = (0..w.messages_per_batch)
            .map(|k| IggyMessage::builder().id(u128::from(k) + 1).payload(payload.clone()).build())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            client,
            stream: Identifier::numeric(stream)?,
            topic: Identifier::numeric(0)?,
            consumer: Consumer::new(Identifier::numeric(1)?),
            messages,
        })
    }
}

impl BatchClient for Sdk {
    async fn produce(&mut self) -> anyhow::Result<()> {
        use iggy::prelude::*;
        let p = Partitioning::partition_id(0);
        Ok(self.client.send_messages(&self.stream, &self.topic, &p, &mut self.messages).await?)
    }

    async fn consume(&mut self, offset: u64, count: u32) -> anyhow::Result<usize> {
        use iggy::prelude::*;
        let strategy = PollingStrategy::offset(offset);
        let polled = self
            .client
            .poll_messages(
                &self.stream,
                &self.topic,
                Some(0),
                &self.consumer,
                &strategy,
                count,
                false,
            )
            .await?;
        Ok(polled.messages.len())
    }
}

/// A plain tokio connection: raw TCP or tokio-tungstenite.
enum PlainConn {
    Tcp { stream: TcpStream, reply: Vec<u8> },
    Ws(Box<WebSocketStream<TcpStream>>),
}

/// An actor on a plain tokio connection; its requests are encoded once.
struct Plain {
    conn: PlainConn,
    stream: eddy_wire::Identifier,
    send: Bytes,
}

/// A request frame: header, then payload.
fn request(code: u32, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(REQUEST_HEADER_LEN + payload.len());
    RequestHeader::encode(code, payload.len(), &mut out);
    out.extend_from_slice(payload);
    out.freeze()
}

/// The message count of a POLL_MESSAGES reply body (its messages are not parsed).
fn polled_count(body: &[u8]) -> anyhow::Result<usize> {
    let (_, _, count) = decode_polled_head(body)?;
    Ok(count as usize)
}

impl Plain {
    async fn connect(
        transport: Transport,
        addr: SocketAddr,
        stream: u32,
        w: &Workload,
    ) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(addr).await.context("connecting")?;
        let conn = match transport {
            Transport::Tcp => PlainConn::Tcp { stream: tcp, reply: Vec::new() },
            Transport::WebSocket => {
                let url = format!("ws://{addr}/");
                let (ws, _) = tokio_tungstenite::client_async(url, tcp).await?;
                PlainConn::Ws(Box::new(ws))
            }
        };
        let stream = eddy_wire::Identifier::Numeric(stream);
        let topic = eddy_wire::Identifier::Numeric(0);
        let batch = batch_of(w);
        let send = encode_send(&stream, &topic, &Partitioning::PartitionId(0), &batch);
        let mut plain = Self { conn, stream, send: request(command::SEND_MESSAGES, &send) };
        let mut login = BytesMut::new();
        Login { username: "iggy".into(), password: "iggy".into(), version: None }
            .encode(&mut login);
        plain.exchange(request(command::LOGIN_USER, &login)).await?;
        Ok(plain)
    }

    /// Sends one request and reads its reply; returns the reply body's length and its poll count
    /// (when it is long enough to hold one).
    async fn exchange(&mut self, request: Bytes) -> anyhow::Result<Option<usize>> {
        match &mut self.conn {
            PlainConn::Tcp { stream, reply } => {
                stream.write_all(&request).await?;
                let mut head = [0u8; RESPONSE_HEADER_LEN];
                stream.read_exact(&mut head).await?;
                let (status, len) = parse_response_header(&head).context("reply header")?;
                if status != 0 {
                    bail!("server answered status {status}");
                }
                // The buffer is reused: only growth is zeroed, once.
                reply.resize(len, 0);
                stream.read_exact(reply).await?;
                Ok(polled_count(reply).ok())
            }
            PlainConn::Ws(ws) => {
                ws.send(Message::Binary(request)).await?;
                loop {
                    match ws.next().await.context("connection closed")?? {
                        Message::Binary(reply) => {
                            let (status, len) =
                                parse_response_header(&reply).context("reply header")?;
                            if status != 0 {
                                bail!("server answered status {status}");
                            }
                            let body = reply.get(RESPONSE_HEADER_LEN..).unwrap_or_default();
                            if body.len() != len {
                                bail!("reply of {} bytes, header says {len}", body.len());
                            }
                            return Ok(polled_count(body).ok());
                        }
                        Message::Close(_) => bail!("server closed the WebSocket"),
                        _ => {}
                    }
                }
            }
        }
    }
}

impl BatchClient for Plain {
    async fn produce(&mut self) -> anyhow::Result<()> {
        self.exchange(self.send.clone()).await.map(drop)
    }

    async fn consume(&mut self, offset: u64, count: u32) -> anyhow::Result<usize> {
        let spec = poll_at(offset, count);
        let mut body = BytesMut::with_capacity(64);
        encode_poll(&mut body, &self.stream, &eddy_wire::Identifier::Numeric(0), &spec);
        let reply = self.exchange(request(command::POLL_MESSAGES, &body)).await?;
        reply.context("poll reply too short")
    }
}
