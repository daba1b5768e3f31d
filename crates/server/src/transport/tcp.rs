//! The TCP transport: accept on this shard's SO_REUSEPORT listener, then per connection read into
//! an owned buffer, run whole requests in order, and write their replies in vectored submissions
//! as the reply budget fills (a client that pipelines but never reads holds at most the budget
//! plus one reply: the server stops running its requests while its replies wait). A refused
//! connection gets one error reply and is closed. While a deferred poll waits, the connection
//! watches its socket (bounded) so a cancel or a vanished client is seen at once (not over
//! TLS: see `readiness`). A connection at rest holds no read buffer (it waits for readiness
//! first; not over TLS). With `[tcp.tls]` the same runs over rustls. No command-specific
//! logic.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use compio::net::TcpListener;
use eddy_wire::codes::status;
use eddy_wire::commands::system::TRANSPORT_TCP;

use super::admission::{Permit, Refusal};
use super::conn::{
    AtRest, Buffered, MAX_BUFFERED_WHILE_WAITING, PollWait, Reply, Woke, accept_loop, idle,
    make_room, pushes, read_until, run_buffered,
};
use super::readiness::{Either, Readiness, first};
use crate::push::Subscriptions;
use crate::session::{Session, Wire};
use crate::shard::ShardCtx;

/// Read buffer size at rest.
const READ_BASE: usize = 8 << 10;
/// Segments per write submission (under IOV_MAX).
const MAX_IOV: usize = 512;
/// How long a refused connection is drained before it is dropped.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// Accepts connections until the listener fails; with `[tcp.tls]`, each one starts with a TLS
/// handshake (bounded by the login timeout).
pub async fn serve(ctx: Rc<ShardCtx>, listener: TcpListener) {
    accept_loop(ctx, listener, "tcp", |ctx, stream, peer, admitted| async move {
        stream.set_nodelay(true)?;
        match ctx.shared.tls.tcp.clone() {
            None => serve_stream(&ctx, stream, peer, admitted).await,
            Some(acceptor) => {
                let timeout = match admitted {
                    Ok(_) => ctx.config.login_timeout(),
                    Err(_) => REFUSAL_LINGER,
                };
                // Boxed: a TLS connection's futures are large, and a plain one should not pay
                // for them at rest.
                let tls = compio::time::timeout(timeout, Box::pin(acceptor.accept(stream)))
                    .await
                    .map_err(|_| std::io::Error::new(ErrorKind::TimedOut, "TLS handshake"))??;
                Box::pin(serve_stream(&ctx, tls, peer, admitted)).await
            }
        }
    })
    .await;
}

async fn serve_stream<S: AsyncRead + AsyncWrite + Readiness>(
    ctx: &ShardCtx,
    stream: S,
    peer: SocketAddr,
    admitted: Result<Permit, Refusal>,
) -> std::io::Result<()> {
    match admitted {
        Ok(permit) => connection(ctx, stream, peer, permit).await,
        // Boxed: refusals are rare, and their linger would size every connection's task.
        Err(refusal) => Box::pin(refuse(stream, refusal)).await,
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Readiness>(
    ctx: &ShardCtx,
    mut stream: S,
    peer: SocketAddr,
    _permit: Permit,
) -> std::io::Result<()> {
    let client_id = ctx.shared.next_client_id.fetch_add(1, Ordering::Relaxed) + 1;
    let mut session = Session::new(client_id, TRANSPORT_TCP, peer, ctx.config.login_timeout());
    session.watchable = stream.watchable();
    // Listed by GET_CLIENT(S) until the connection ends.
    let _listed = ctx.clients.register(session.client_info());
    let mut buf = BytesMut::with_capacity(READ_BASE);
    let mut need = 0;
    loop {
        // At rest (nothing buffered) a connection holds no read buffer: it waits until the
        // socket is readable (a `peek`, holding no buffer of ours), then reads into a fresh one.
        // Not over TLS, which cannot be watched (its buffer stays, shrunk to the base size).
        let at_rest = buf.is_empty() && session.watchable;
        if at_rest {
            buf = BytesMut::new();
        }
        // With subscriptions, the connection waits for its client or a push, whichever first
        // (and reads only once readable, so no read is dropped). Over TLS, which cannot be
        // peeked, the read itself races the pushes, into a fresh buffer: a dropped TLS read
        // keeps its bytes in the TLS stream and loses only that empty buffer.
        let mut read_already = false;
        while let Some(subs) = session.subscriptions.as_mut() {
            // Boxed, as every await only some connections make (and those on the hot path):
            // the task is sized for its largest await, and a connection at rest should hold
            // little more than its wait for a readable socket.
            let rest = if session.watchable {
                Box::pin(idle(&stream, subs)).await
            } else {
                let fresh = BytesMut::with_capacity(READ_BASE);
                match Box::pin(first(stream.append(fresh), subs.next())).await {
                    Either::Left(BufResult(read, got)) => {
                        if read? == 0 {
                            return Ok(());
                        }
                        if buf.is_empty() {
                            buf = got;
                        } else {
                            buf.extend_from_slice(&got);
                        }
                        read_already = true;
                        break;
                    }
                    Either::Right(pushed) => AtRest::Pushed(pushed),
                }
            };
            match rest {
                AtRest::Pushed(pushed) => {
                    let frames = Box::pin(pushes(subs, pushed)).await;
                    Box::pin(write_replies(&mut stream, frames)).await?;
                }
                AtRest::Readable(ready) => {
                    ready?;
                    break;
                }
            }
        }
        if !read_already {
            if at_rest && session.subscriptions.is_none() {
                let deadline = session.read_deadline(false, ctx.config.request_timeout());
                let Some(ready) = read_until(deadline, pin!(stream.readable())).await else {
                    tracing::debug!(%peer, logged_in = session.user_id.is_some(), "idle past its deadline: closing");
                    return Ok(());
                };
                ready?;
            }
            make_room(&mut buf, need, READ_BASE / 2);
            let deadline = session.read_deadline(!buf.is_empty(), ctx.config.request_timeout());
            let read = {
                let mut read = Box::pin(stream.append(buf));
                read_until(deadline, read.as_mut()).await
            };
            let Some(BufResult(res, b)) = read else {
                tracing::debug!(%peer, logged_in = session.user_id.is_some(), "read timed out: closing");
                return Ok(());
            };
            buf = b;
            if res? == 0 {
                return Ok(());
            }
        }
        loop {
            let buffered = Box::pin(run_buffered(ctx, &mut session, &mut buf)).await;
            let (replies, close, more) = match buffered {
                Buffered::Replies { replies, need: n, more } => {
                    need = n;
                    (replies, None, more)
                }
                Buffered::Close { replies, reason } => (replies, Some(reason), false),
                Buffered::Waiting { replies, poll } => {
                    Box::pin(write_replies(&mut stream, replies)).await?;
                    let max = ctx.config.limits.max_request_size;
                    let wait = PollWait::new(poll);
                    let subs = &mut session.subscriptions;
                    match Box::pin(read_while_waiting(&mut stream, &mut buf, wait, subs, max))
                        .await?
                    {
                        Some(reply) => (vec![reply], None, true),
                        None => return Ok(()),
                    }
                }
            };
            Box::pin(write_replies(&mut stream, replies)).await?;
            if let Some(subs) = session.subscriptions.as_mut() {
                Box::pin(write_replies(&mut stream, subs.take_frames())).await?;
            }
            if let Some(reason) = close {
                tracing::debug!(%peer, reason, "closing the connection");
                stream.shutdown().await.ok();
                return Ok(());
            }
            if !more {
                break;
            }
        }
        if buf.is_empty() && buf.capacity() > 4 * READ_BASE {
            buf = BytesMut::with_capacity(READ_BASE);
        }
    }
}

/// Reads into `buf` (up to `MAX_BUFFERED_WHILE_WAITING`) until the deferred poll's reply comes
/// or a cancel among the bytes makes it come; `None` when the client went away (the poll is
/// abandoned). Reads start only once the socket is readable, so no read is ever dropped.
async fn read_while_waiting<S: AsyncRead + AsyncWrite + Readiness>(
    stream: &mut S,
    buf: &mut BytesMut,
    mut wait: PollWait,
    subscriptions: &mut Option<Box<Subscriptions>>,
    max_request: usize,
) -> std::io::Result<Option<Reply>> {
    // Requests buffered behind the poll (a pipelined cancel) count as arrived.
    wait.saw(buf, max_request).await;
    while buf.len() < MAX_BUFFERED_WHILE_WAITING {
        if buf.is_empty() {
            *buf = BytesMut::new(); // no buffer held while it waits
        }
        match wait.next(&*stream, subscriptions.as_deref()).await {
            Woke::Reply(reply) => return Ok(Some(reply)),
            Woke::Pushed(pushed) => {
                if let Some(subs) = subscriptions.as_mut() {
                    let frames = pushes(subs, pushed).await;
                    if let Err(e) = write_replies(stream, frames).await {
                        wait.abandon().await;
                        return Err(e);
                    }
                }
                continue;
            }
            Woke::Readable(Err(e)) => {
                wait.abandon().await;
                return Err(e);
            }
            Woke::Readable(Ok(())) => {}
        }
        make_room(buf, 0, READ_BASE / 2);
        let BufResult(res, b) = stream.append(std::mem::take(buf)).await;
        *buf = b;
        match res {
            Err(e) => {
                wait.abandon().await;
                return Err(e);
            }
            Ok(0) => {
                wait.abandon().await;
                return Ok(None);
            }
            Ok(_) => wait.saw(buf, max_request).await,
        }
    }
    Ok(Some(wait.reply().await))
}

/// Answers a connection over the caps with one error reply in its client's wire (told from
/// the first bytes it sends within `REFUSAL_LINGER`; the 0.8 wire if none come), then closes it
/// (after draining what it sent for a moment, so the close does not reset the reply away).
async fn refuse<S: AsyncRead + AsyncWrite>(
    mut stream: S,
    _refusal: Refusal,
) -> std::io::Result<()> {
    let first = compio::time::timeout(REFUSAL_LINGER, stream.read(Vec::with_capacity(4096))).await;
    let reply = match first {
        Ok(BufResult(Ok(_), bytes))
            if super::wire::detect(&bytes) == Some(Wire::V011 { session: 0 }) =>
        {
            super::wire::error_without_request(status::CANNOT_ESTABLISH_CONNECTION)
        }
        _ => Reply::error(status::CANNOT_ESTABLISH_CONNECTION),
    };
    write_replies(&mut stream, vec![reply]).await?;
    stream.shutdown().await.ok();
    let drain = stream.read(Vec::with_capacity(4096));
    compio::time::timeout(REFUSAL_LINGER, drain).await.ok();
    Ok(())
}

async fn write_replies<S: AsyncWrite>(stream: &mut S, replies: Vec<Reply>) -> std::io::Result<()> {
    if replies.is_empty() {
        return Ok(());
    }
    let mut segments = Vec::new();
    for reply in replies {
        reply.into_segments(&mut segments);
    }
    write_segments(stream, segments).await
}

/// Writes every segment (vectored, at most `MAX_IOV` per submission), then flushes (a no-op on
/// plain TCP; TLS writes its buffered records).
async fn write_segments<S: AsyncWrite>(
    stream: &mut S,
    mut segments: Vec<Bytes>,
) -> std::io::Result<()> {
    while !segments.is_empty() {
        let rest = if segments.len() > MAX_IOV { segments.split_off(MAX_IOV) } else { Vec::new() };
        let BufResult(res, _) = stream.write_vectored_all(segments).await;
        res?;
        segments = rest;
    }
    stream.flush().await
}
