//! What both transports share: admitting connections (the caps of `admission`), cutting whole
//! requests off a connection's buffer (checking the size limit before any buffer grows), running
//! them in order under the connection's reply budget, waiting for a deferred poll while the
//! socket is still watched (`PollWait`), and the reply type whose stored bytes go out as they are
//! (vectored). No command-specific logic beyond spotting a CANCEL_DEFERRED_REQUEST.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use compio::net::{TcpListener, TcpStream};
use eddy_wire::codes::command;
use eddy_wire::codes::status;
use eddy_wire::framing::{FramingError, REQUEST_HEADER_LEN, RequestHeader};
use eddy_wire::v011::header::HEADER_LEN as V011_HEADER_LEN;

use super::admission::{Permit, Refusal};
use super::readiness::{Either, Readiness, first};
use crate::handlers;
use crate::push::Subscriptions;
use crate::session::{Session, Wire};
use crate::shard::ShardCtx;
use crate::shard::message::{PendingPoll, Pushed};

/// A reply: status, then a payload made of a small head and stored chunks.
#[derive(Debug, Default)]
pub struct Reply {
    pub status: u32,
    pub head: BytesMut,
    pub chunks: Vec<Bytes>,
    /// `head` already holds the whole frame header (a codec other than 0.8's framed it):
    /// written as is.
    pub framed: bool,
    /// What the command did beyond its reply's bytes, for codecs whose replies say more (or
    /// otherwise) than the 0.8 reply does.
    pub outcome: Outcome,
}

/// What a command did that its 0.8 reply does not say.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    #[default]
    Nothing,
    /// SEND_MESSAGES appended this batch (the 0.11 reply confirms it; the 0.8 reply is empty).
    Appended(eddy_wire::v011::codec::Appended),
    /// A group member polled a partition it does not own (0.8: an empty reply; 0.11: an
    /// error that makes the SDK sync its assignment).
    PartitionNotOwned,
}

impl Reply {
    /// An OK reply with `head` as its payload.
    pub fn ok(head: BytesMut) -> Self {
        Self { status: 0, head, ..Self::default() }
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
        if self.framed {
            out.push(self.head.freeze());
            out.extend(self.chunks.into_iter().filter(|c| !c.is_empty()));
            return;
        }
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
    /// Replies to the whole requests run; the buffer keeps the rest. `need` is the total the
    /// buffer must hold to complete the next request (0 if unknown yet). `more`: the run stopped
    /// because the replies reached the connection's budget, so whole requests may be left; write
    /// these and run again before reading.
    Replies { replies: Vec<Reply>, need: usize, more: bool },
    /// The connection must close after these replies: its framing is lost (a length below 4 or
    /// over the limit), or a handler ended it (too many failed logins).
    Close { replies: Vec<Reply>, reason: &'static str },
    /// A deferred poll waits: write these replies, then its reply once it comes (reading the
    /// socket meanwhile, see [`PollWait`]), then run what is buffered again.
    Waiting { replies: Vec<Reply>, poll: PendingPoll },
}

/// Runs the whole requests at the front of `buf`, in order, until their replies hold
/// `limits.max_unsent_reply_bytes` (so a connection holds at most that plus one reply), the
/// buffer has no whole request left, or the connection must close. Before login a request may
/// not exceed `limits.max_pre_login_request_size`.
pub async fn run_buffered(ctx: &ShardCtx, session: &mut Session, buf: &mut BytesMut) -> Buffered {
    let limits = &ctx.config.limits;
    let mut replies = Vec::new();
    let mut held = 0usize;
    loop {
        if held >= limits.max_unsent_reply_bytes {
            return Buffered::Replies { replies, need: 0, more: true };
        }
        let logged_in = session.user_id.is_some();
        let max = match logged_in {
            true => limits.max_request_size,
            false => limits.max_pre_login_request_size.min(limits.max_request_size),
        };
        if session.wire == Wire::Unknown {
            match super::wire::detect(buf) {
                Some(wire) => session.wire = wire,
                None => return Buffered::Replies { replies, need: 0, more: false },
            }
        }
        if let Wire::V011 { .. } = session.wire {
            // `max` bounds what follows a 0.8 request's 8-byte header; a 0.11 request may be as
            // large in total (its header is 256 bytes), on TCP and WebSocket alike.
            let max = max.saturating_sub(V011_HEADER_LEN - REQUEST_HEADER_LEN);
            let reply = match super::wire::next_v011(ctx, session, buf, max).await {
                super::wire::Step::Incomplete { need } => {
                    return Buffered::Replies { replies, need, more: false };
                }
                super::wire::Step::Lost(reply, reason) => {
                    replies.push(reply);
                    return Buffered::Close { replies, reason };
                }
                super::wire::Step::Done(reply) => reply,
            };
            held = held.saturating_add(reply.payload_len());
            replies.push(reply);
            if let Some(reason) = session.close.take() {
                return Buffered::Close { replies, reason };
            }
            continue;
        }
        let header = match RequestHeader::parse(buf, max) {
            Ok(Some(h)) => h,
            Ok(None) => return Buffered::Replies { replies, need: 0, more: false },
            Err(reason) => {
                tracing::debug!(peer = %session.address, error = %reason, "request framing lost");
                let (code, why) = match (logged_in, reason) {
                    (false, FramingError::TooLarge { .. }) => {
                        (status::UNAUTHENTICATED, "request too large before login")
                    }
                    _ => (status::INVALID_FORMAT, "bad request framing"),
                };
                replies.push(Reply::error(code));
                return Buffered::Close { replies, reason: why };
            }
        };
        let total = REQUEST_HEADER_LEN + header.payload_len;
        if buf.len() < total {
            return Buffered::Replies { replies, need: total, more: false };
        }
        buf.advance(REQUEST_HEADER_LEN);
        let payload = buf.split_to(header.payload_len);
        let handled = handlers::handle(ctx, session, header.code, payload).await;
        if let Some(poll) = session.pending_poll.take() {
            return Buffered::Waiting { replies, poll };
        }
        let reply = match handled {
            Ok(reply) => reply,
            Err(e) => {
                if header.code != command::LOGIN_USER {
                    tracing::debug!(code = header.code, command = command::name(header.code), error = %e, "request failed");
                }
                Reply::error(e.status())
            }
        };
        held = held.saturating_add(reply.payload_len());
        replies.push(reply);
        if let Some(reason) = session.close.take() {
            return Buffered::Close { replies, reason };
        }
    }
}

/// A request up to this size gets all its room at once, once its header is in: one allocation
/// and one copy of what was read so far, where growing by doubling from the read base copied
/// ~1 MiB and faulted in ~2 MiB of fresh pages per 1 MiB batch. Pages fault in only as bytes
/// arrive, so resident memory still follows what the client sent.
const WHOLE_REQUEST_ROOM: usize = 4 << 20;

/// Grows `buf` toward `need` bytes: at once up to [`WHOLE_REQUEST_ROOM`], geometrically beyond
/// (a client announcing a large request gets memory as its bytes arrive), keeping at least
/// `min_spare` bytes of room for the next read.
pub fn make_room(buf: &mut BytesMut, need: usize, min_spare: usize) {
    let spare = buf.capacity() - buf.len();
    let want = if need <= buf.len() {
        min_spare
    } else if need <= WHOLE_REQUEST_ROOM {
        need - buf.len()
    } else {
        (need - buf.len()).min(buf.capacity().max(min_spare))
    };
    if spare < want.max(1) {
        buf.reserve(want.max(min_spare));
    }
}

/// Accepts connections on this shard's listener until it fails, running `connection` for each in
/// its own task with its admission: a permit to hold for the connection's lifetime, or the
/// refusal the transport must answer with before closing.
pub async fn accept_loop<F, Fut, E>(
    ctx: Rc<ShardCtx>,
    listener: TcpListener,
    transport: &'static str,
    connection: F,
) where
    F: Fn(Rc<ShardCtx>, TcpStream, SocketAddr, Result<Permit, Refusal>) -> Fut + 'static,
    Fut: Future<Output = Result<(), E>> + 'static,
    E: Display,
{
    let connection = Rc::new(connection);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let admitted = ctx.shared.admission.admit(peer.ip());
                if let Err(refusal) = &admitted {
                    tracing::warn!(%peer, transport, %refusal, "connection refused");
                }
                let (ctx, connection) = (ctx.clone(), connection.clone());
                compio::runtime::spawn(async move {
                    let counter = ctx.clone();
                    let _open = admitted.is_ok().then(|| counter.load().connection());
                    if let Err(e) = connection(ctx, stream, peer, admitted).await {
                        tracing::debug!(%peer, transport, error = %e, "connection ended");
                    }
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

/// Runs `read` under `deadline`; `None` when the deadline passed (the read is dropped with its
/// buffer: only for a connection that closes next, since a dropped read may lose bytes). The
/// caller pins `read` in its own state (`std::pin::pin!`), so the read is held once: an async
/// wrapper taking it by value holds it again for each layer (over `compio::time::timeout_at`,
/// eddy-ws's 2 KB read future became 8.7 KB of every WebSocket connection at rest).
pub async fn read_until<F: Future>(
    deadline: Option<Instant>,
    mut read: Pin<&mut F>,
) -> Option<F::Output> {
    let Some(deadline) = deadline else { return Some(read.await) };
    let mut sleep = std::pin::pin!(compio::time::sleep_until(deadline));
    std::future::poll_fn(|cx| match read.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending => sleep.as_mut().poll(cx).map(|()| None),
    })
    .await
}

/// Most request bytes a connection buffers while its deferred poll waits; past this it reads
/// no more until the reply (the wait is bounded by `limits.max_poll_wait_ms`).
pub const MAX_BUFFERED_WHILE_WAITING: usize = 64 << 10;

/// A deferred poll's reply being waited for while the connection reads on. The connection
/// waits for its socket to become readable (`readiness`, which may be dropped without losing a
/// byte) or for the reply, whichever comes first, and reads only once it is readable; bytes that
/// arrive meanwhile are buffered, and a CANCEL_DEFERRED_REQUEST among them ends the wait at once
/// (the request itself runs after the poll's reply, in order). A client that goes away abandons
/// the poll: its owner drops it unanswered.
pub struct PollWait {
    poll: PendingPoll,
    cancel_sent: bool,
}

/// What ended a [`PollWait::next`].
pub enum Woke {
    /// The socket can be read (or failed).
    Readable(std::io::Result<()>),
    /// The poll's reply.
    Reply(Reply),
    /// A subscription's wait was answered.
    Pushed(Pushed),
}

/// What ended an [`idle`] wait.
pub enum AtRest {
    /// The socket can be read (or failed).
    Readable(std::io::Result<()>),
    /// A subscription's wait was answered.
    Pushed(Pushed),
}

/// Waits until `stream` is readable or one of `subscriptions`' waits is answered (a connection
/// with subscriptions at rest). Dropping it loses nothing.
pub async fn idle<S: Readiness>(stream: &S, subscriptions: &Subscriptions) -> AtRest {
    match first(stream.readable(), subscriptions.next()).await {
        Either::Left(ready) => AtRest::Readable(ready),
        Either::Right(pushed) => AtRest::Pushed(pushed),
    }
}

/// Takes `pushed` and every other answer already queued, and returns the frames to push.
pub async fn pushes(subscriptions: &mut Subscriptions, pushed: Pushed) -> Vec<Reply> {
    subscriptions.take(pushed).await;
    subscriptions.take_queued().await;
    subscriptions.take_frames()
}

impl PollWait {
    pub fn new(poll: PendingPoll) -> Self {
        Self { poll, cancel_sent: false }
    }

    /// Waits until `stream` is readable, the reply comes, or a wait of `subscriptions` is
    /// answered.
    pub async fn next<S: Readiness>(
        &self,
        stream: &S,
        subscriptions: Option<&Subscriptions>,
    ) -> Woke {
        // A dropped `recv` leaves the reply queued.
        let reply = self.poll.recv();
        let Some(subscriptions) = subscriptions else {
            return match first(stream.readable(), reply).await {
                Either::Left(ready) => Woke::Readable(ready),
                Either::Right(reply) => Woke::Reply(into_reply(reply)),
            };
        };
        match first(idle(stream, subscriptions), reply).await {
            Either::Left(AtRest::Readable(ready)) => Woke::Readable(ready),
            Either::Left(AtRest::Pushed(pushed)) => Woke::Pushed(pushed),
            Either::Right(reply) => Woke::Reply(into_reply(reply)),
        }
    }

    /// Bytes arrived (`buf` holds every request buffered): if a whole CANCEL_DEFERRED_REQUEST
    /// is among them, the poll is answered now.
    pub async fn saw(&mut self, buf: &[u8], max_request: usize) {
        if !self.cancel_sent && holds_cancel(buf, max_request) {
            self.cancel_sent = true;
            self.poll.cancel().await;
        }
    }

    /// The reply (waits for it).
    pub async fn reply(self) -> Reply {
        into_reply(self.poll.recv().await)
    }

    /// The client is gone.
    pub async fn abandon(self) {
        self.poll.abandon().await;
    }
}

fn into_reply(reply: Result<crate::shard::message::Waited, crate::error::ServerError>) -> Reply {
    use crate::shard::message::Waited;
    match reply {
        Ok(Waited::Polled(polled)) => handlers::messages::polled_reply(polled),
        Ok(Waited::Fetched(parts)) => handlers::messages::fetched_reply(parts),
        Err(e) => Reply::error(e.status()),
    }
}

/// Whether the whole requests at the front of `buf` include a CANCEL_DEFERRED_REQUEST.
fn holds_cancel(buf: &[u8], max_request: usize) -> bool {
    let mut at = 0;
    while let Some(rest) = buf.get(at..) {
        let Ok(Some(header)) = RequestHeader::parse(rest, max_request) else { return false };
        let total = REQUEST_HEADER_LEN + header.payload_len;
        if rest.len() < total {
            return false;
        }
        if header.code == command::CANCEL_DEFERRED_REQUEST {
            return true;
        }
        at += total;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(code: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 4) as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&code.to_le_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn room_for_a_request_comes_at_once_up_to_the_cap_and_geometrically_beyond() {
        let mut buf = BytesMut::with_capacity(8192);
        buf.extend_from_slice(&[0; 4096]);
        make_room(&mut buf, 1 << 20, 4096);
        assert!(buf.capacity() >= 1 << 20, "a 1 MiB request gets its room at once");
        let mut big = BytesMut::with_capacity(8192);
        big.extend_from_slice(&[0; 4096]);
        make_room(&mut big, 64 << 20, 4096);
        assert!(big.capacity() < 1 << 20, "a 64 MiB one grows as it arrives: {}", big.capacity());
        let mut idle = BytesMut::new();
        make_room(&mut idle, 0, 4096);
        assert!(idle.capacity() >= 4096 && idle.capacity() < 1 << 20);
    }

    #[test]
    fn a_cancel_is_spotted_among_whole_requests_only() {
        let mut buf = request(command::PING, &[]);
        buf.extend(request(command::SEND_MESSAGES, &[0; 40]));
        assert!(!holds_cancel(&buf, 1 << 20));
        let cancel = request(command::CANCEL_DEFERRED_REQUEST, &[]);
        let mut with = buf.clone();
        with.extend_from_slice(&cancel[..5]);
        assert!(!holds_cancel(&with, 1 << 20), "half a cancel is not a cancel");
        with.extend_from_slice(&cancel[5..]);
        assert!(holds_cancel(&with, 1 << 20));
        assert!(!holds_cancel(&[0xff; 12], 1 << 20), "lost framing");
    }
}
