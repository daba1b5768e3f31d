//! What both transports share: cutting whole requests off a connection's buffer (checking the
//! size limit before any buffer grows), running them in order, and the reply type whose stored
//! bytes go out as they are (vectored). No command-specific logic, no socket.

use std::fmt::Display;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use compio::net::{TcpListener, TcpStream};
use eddy_wire::codes::command;
use eddy_wire::framing::{FramingError, REQUEST_HEADER_LEN, RequestHeader};

use crate::handlers;
use crate::session::Session;
use crate::shard::ShardCtx;

/// A reply: status, then a payload made of a small head and stored chunks.
#[derive(Debug, Default)]
pub struct Reply {
    pub status: u32,
    pub head: BytesMut,
    pub chunks: Vec<Bytes>,
}

impl Reply {
    /// An OK reply with `head` as its payload.
    pub fn ok(head: BytesMut) -> Self {
        Self { status: 0, head, chunks: Vec::new() }
    }

    /// An error reply (no payload).
    pub fn error(status: u32) -> Self {
        Self { status, ..Self::default() }
    }

    pub fn payload_len(&self) -> usize {
        self.head.len() + self.chunks.iter().map(Bytes::len).sum::<usize>()
    }

    /// The reply as segments: `[status][length]` + head in one, then each chunk.
    pub fn into_segments(self, out: &mut Vec<Bytes>) {
        let mut first = BytesMut::with_capacity(8 + self.head.len());
        first.put_u32_le(self.status);
        first.put_u32_le(self.payload_len() as u32);
        first.extend_from_slice(&self.head);
        out.push(first.freeze());
        out.extend(self.chunks.into_iter().filter(|c| !c.is_empty()));
    }
}

/// The outcome of running what a buffer holds.
pub enum Buffered {
    /// Replies to every whole request found; the buffer keeps the incomplete rest. `need` is the
    /// total the buffer must hold to complete the next request (0 if unknown yet).
    Replies { replies: Vec<Reply>, need: usize },
    /// The framing is lost (a length below 4, or over the limit): answer `reply`, then close.
    Broken { replies: Vec<Reply>, reason: FramingError },
}

/// Runs every whole request at the front of `buf`, in order.
pub async fn run_buffered(ctx: &ShardCtx, session: &mut Session, buf: &mut BytesMut) -> Buffered {
    let max = ctx.config.limits.max_request_size;
    let mut replies = Vec::new();
    loop {
        let header = match RequestHeader::parse(buf, max) {
            Ok(Some(h)) => h,
            Ok(None) => return Buffered::Replies { replies, need: 0 },
            Err(reason) => {
                replies.push(Reply::error(eddy_wire::codes::status::INVALID_FORMAT));
                return Buffered::Broken { replies, reason };
            }
        };
        let total = REQUEST_HEADER_LEN + header.payload_len;
        if buf.len() < total {
            return Buffered::Replies { replies, need: total };
        }
        buf.advance(REQUEST_HEADER_LEN);
        let payload = buf.split_to(header.payload_len);
        let reply = match handlers::handle(ctx, session, header.code, payload).await {
            Ok(reply) => reply,
            Err(e) => {
                if header.code != command::LOGIN_USER {
                    tracing::debug!(code = header.code, command = command::name(header.code), error = %e, "request failed");
                }
                Reply::error(e.status())
            }
        };
        replies.push(reply);
    }
}

/// Grows `buf` toward `need` bytes geometrically (a client announcing a large request gets memory
/// as its bytes arrive), keeping at least `min_spare` bytes of room for the next read.
pub fn make_room(buf: &mut BytesMut, need: usize, min_spare: usize) {
    let spare = buf.capacity() - buf.len();
    let want = if need > buf.len() {
        (need - buf.len()).min(buf.capacity().max(min_spare))
    } else {
        min_spare
    };
    if spare < want.max(1) {
        buf.reserve(want.max(min_spare));
    }
}

/// Accepts connections on this shard's listener until it fails, running `connection` for each in
/// its own task and counting connected clients.
pub async fn accept_loop<F, Fut, E>(
    ctx: Rc<ShardCtx>,
    listener: TcpListener,
    transport: &'static str,
    connection: F,
) where
    F: Fn(Rc<ShardCtx>, TcpStream, String) -> Fut + 'static,
    Fut: Future<Output = Result<(), E>> + 'static,
    E: Display,
{
    let connection = Rc::new(connection);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let (ctx, connection) = (ctx.clone(), connection.clone());
                compio::runtime::spawn(async move {
                    ctx.shared.clients.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = connection(ctx.clone(), stream, peer.to_string()).await {
                        tracing::debug!(%peer, transport, error = %e, "connection ended");
                    }
                    ctx.shared.clients.fetch_sub(1, Ordering::Relaxed);
                })
                .detach();
            }
            Err(e) => {
                tracing::warn!(transport, error = %e, "accept failed");
                compio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
