//! The WebSocket transport on eddy-ws (native owned-buffer path): the same request stream as TCP,
//! carried in binary messages (a request may span messages, as in Iggy 0.8), each reply sent as
//! exactly one binary message whose payload parts go out vectored: replies to pipelined requests
//! share a write (eddy-ws writes them before its next read waits on the socket, or when they
//! reach the reply budget). The handshake refuses foreign browser origins (403) and connections
//! over the caps (503). With `[websocket.tls]` it serves wss://. A GET without `Upgrade` gets the
//! dashboard's files (`dashboard`) unless `websocket.dashboard = false`. Ping/Pong and close are
//! handled by eddy-ws. While a deferred poll waits, the socket is still watched (`readiness`; not
//! over TLS), so a cancel or a vanished client is seen at once; a subscribed connection at rest
//! waits for its client or a push, whichever first (over TLS by racing the read itself). At
//! rest a connection waits for a readable socket (a `peek`) holding no buffer, and its task
//! holds little more than that wait: awaits that only some connections make, or only busy ones,
//! run boxed. No command-specific logic.

use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use compio::io::{AsyncRead, AsyncWrite};
use compio::net::{TcpListener, TcpStream};
use eddy_wire::commands::system::TRANSPORT_WEBSOCKET;
use eddy_ws::{
    CloseCode, CloseFrame, Config as WsConfig, HttpResponse, Incoming, Message, Rejection,
    WebSocket,
};

use super::admission::{Permit, Refusal};
use super::conn::{
    AtRest, Buffered, MAX_BUFFERED_WHILE_WAITING, PollWait, Reply, Woke, accept_loop, idle, pushes,
    read_until, run_buffered,
};
use super::dashboard;
use super::readiness::{Either, Readiness, first};
use crate::push::Subscriptions;
use crate::session::Session;
use crate::shard::ShardCtx;

/// How long a refused connection may take to send its handshake.
const REFUSAL_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Accepts connections until the listener fails.
pub async fn serve(ctx: Rc<ShardCtx>, listener: TcpListener) {
    accept_loop(ctx, listener, "websocket", |ctx, stream, peer, admitted| async move {
        connection(&ctx, stream, peer, admitted).await
    })
    .await;
}

/// The handshake's verdict: caps first, then the origin allow-list.
fn check(
    ctx: &ShardCtx,
    peer: SocketAddr,
    admitted: &Result<Permit, Refusal>,
    request: &eddy_ws::Request,
) -> Result<(), Rejection> {
    if let Err(refusal) = admitted {
        return Err(Rejection::new(503, refusal.to_string()).with_header("Retry-After", "5"));
    }
    let origin = request.header("Origin");
    if !ctx.shared.origins.allows(origin) {
        let origin = String::from_utf8_lossy(origin.unwrap_or_default());
        tracing::warn!(%peer, origin = ?origin, "WebSocket refused: origin not allowed");
        return Err(Rejection::new(403, "origin not allowed"));
    }
    Ok(())
}

async fn connection(
    ctx: &ShardCtx,
    stream: TcpStream,
    peer: SocketAddr,
    admitted: Result<Permit, Refusal>,
) -> Result<(), eddy_ws::Error> {
    // `admitted` holds the connection's permit (it counts against the caps) until it ends.
    // The handshake runs boxed and hands back a boxed WebSocket, and the connection runs boxed:
    // the task is sized for its largest await, and what crosses the connection's long await is
    // two pointers. (Matching on the handshake's result in the same statement as that await
    // would keep the `Incoming`, 0.5 KB over TCP and 1.7 KB over TLS, alive in every
    // connection's task for its whole life.)
    match ctx.shared.tls.websocket.clone() {
        None => {
            let Some(ws) = Box::pin(handshake(ctx, stream, peer, &admitted)).await? else {
                return Ok(());
            };
            Box::pin(serve_socket(ctx, ws, peer)).await
        }
        Some(acceptor) => {
            let Some(ws) = Box::pin(handshake_tls(ctx, acceptor, stream, peer, &admitted)).await?
            else {
                return Ok(());
            };
            Box::pin(serve_socket(ctx, ws, peer)).await
        }
    }
}

/// The WebSocket settings of a connection admitted (or refused) so.
fn ws_config(ctx: &ShardCtx, admitted: &Result<Permit, Refusal>) -> WsConfig {
    let max = ctx.config.limits.max_request_size;
    let mut config = WsConfig::default()
        .with_max_message_size(max + eddy_wire::framing::REQUEST_HEADER_LEN)
        .with_max_frame_size(max + eddy_wire::framing::REQUEST_HEADER_LEN)
        // Not eddy-ws's own rest: `serve_socket` waits for a readable socket itself (its read
        // future would otherwise be part of every connection at rest) and lets go of the
        // buffers first.
        .with_rest_without_buffer(false);
    config.handshake_timeout = match admitted {
        Ok(_) => config.handshake_timeout.min(ctx.config.login_timeout()),
        Err(_) => REFUSAL_HANDSHAKE_TIMEOUT,
    };
    config
}

/// Plain GETs: the dashboard, or (over the caps) the same 503 an upgrade would get.
fn http_answer(
    ctx: &ShardCtx,
    admitted: &Result<Permit, Refusal>,
    request: &eddy_ws::Request,
) -> Option<HttpResponse> {
    match admitted {
        Err(refusal) => Some(
            HttpResponse::new(503, "text/plain; charset=utf-8", refusal.to_string())
                .with_header("Retry-After", "5"),
        ),
        Ok(_) => ctx.config.websocket.dashboard.then(|| dashboard::answer(request)),
    }
}

/// The opening handshake over plain TCP: the WebSocket, boxed (held once from here on), or
/// `None` when a plain HTTP request was answered.
async fn handshake(
    ctx: &ShardCtx,
    stream: TcpStream,
    peer: SocketAddr,
    admitted: &Result<Permit, Refusal>,
) -> Result<Option<Box<WebSocket<TcpStream>>>, eddy_ws::Error> {
    stream.set_nodelay(true)?;
    let config = ws_config(ctx, admitted);
    let verdict =
        |request: &eddy_ws::Request, _: &mut eddy_ws::Response| check(ctx, peer, admitted, request);
    let http = |request: &eddy_ws::Request| http_answer(ctx, admitted, request);
    Ok(match eddy_ws::accept_or_serve(stream, &config, verdict, http).await? {
        Incoming::WebSocket(ws) => Some(Box::new(ws)),
        Incoming::Served => None,
    })
}

/// The opening handshake over TLS (wss://), as [`handshake`].
async fn handshake_tls(
    ctx: &ShardCtx,
    acceptor: eddy_ws::tls::TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    admitted: &Result<Permit, Refusal>,
) -> Result<Option<Box<WebSocket<eddy_ws::tls::TlsStream<TcpStream>>>>, eddy_ws::Error> {
    stream.set_nodelay(true)?;
    let config = ws_config(ctx, admitted);
    let verdict =
        |request: &eddy_ws::Request, _: &mut eddy_ws::Response| check(ctx, peer, admitted, request);
    let http = |request: &eddy_ws::Request| http_answer(ctx, admitted, request);
    let accepted = eddy_ws::tls::accept_or_serve(&acceptor, stream, &config, verdict, http);
    Ok(match accepted.await? {
        Incoming::WebSocket(ws) => Some(Box::new(ws)),
        Incoming::Served => None,
    })
}

/// Serves one accepted WebSocket until it closes.
async fn serve_socket<S: AsyncRead + AsyncWrite + Readiness + eddy_ws::Detach>(
    ctx: &ShardCtx,
    mut ws: Box<WebSocket<S>>,
    peer: SocketAddr,
) -> Result<(), eddy_ws::Error> {
    let client_id = ctx.shared.next_client_id.fetch_add(1, Ordering::Relaxed) + 1;
    let mut session =
        Session::new(client_id, TRANSPORT_WEBSOCKET, peer, ctx.config.login_timeout());
    session.watchable = ws.get_ref().watchable();
    // Listed by GET_CLIENT(S) until the connection ends.
    let _listed = ctx.clients.register(session.client_info());
    let mut pending = BytesMut::new();
    loop {
        // With subscriptions, the connection waits for its client or a push, whichever first
        // (and reads only once input is there, so no read is dropped).
        while let Some(subs) = session.subscriptions.as_mut() {
            if ws.buffered_input() > 0 {
                break;
            }
            // Replies held back for pipelining go out before the connection rests: only a
            // read would write them, and at rest it waits on the socket instead.
            if ws.queued_bytes() > 0 {
                ws.flush().await?;
            }
            // A socket that can be watched is peeked, holding no buffer; over TLS the read
            // itself races the push (a dropped TLS read keeps its bytes in the TLS stream, and
            // nothing of ours is buffered here: see `Readiness::watchable`). Boxed, as every
            // await only some connections make: the task is sized for its largest await.
            let rest = if ws.get_ref().watchable() {
                ws.release_buffers();
                Box::pin(idle(ws.get_ref(), subs)).await
            } else {
                // Boxed: the TLS-only race would otherwise size every connection's task.
                match Box::pin(first(ws.fill(), subs.next())).await {
                    Either::Left(read) => {
                        if read? == 0 {
                            return Ok(());
                        }
                        break;
                    }
                    Either::Right(pushed) => AtRest::Pushed(pushed),
                }
            };
            match rest {
                AtRest::Pushed(pushed) => {
                    for frame in Box::pin(pushes(subs, pushed)).await {
                        feed(&mut ws, frame)?;
                    }
                    ws.flush().await?;
                }
                AtRest::Readable(ready) => {
                    ready?;
                    break;
                }
            }
        }
        let deadline = session.read_deadline(!pending.is_empty(), ctx.config.request_timeout());
        // At rest (nothing buffered) a connection that can be watched waits for its socket with
        // a `peek`, holding no buffer (what it queued is written first, as a read that waits
        // would); then it reads, boxed: the read's state is not part of a connection at rest.
        if ws.buffered_input() == 0 && session.watchable {
            if ws.queued_bytes() > 0 {
                ws.flush().await?;
            }
            ws.release_buffers();
            let Some(ready) = read_until(deadline, pin!(ws.get_ref().readable())).await else {
                tracing::debug!(%peer, logged_in = session.user_id.is_some(), "idle past its deadline: closing");
                return Ok(());
            };
            ready?;
        }
        let read = {
            let mut read = Box::pin(ws.read());
            read_until(deadline, read.as_mut()).await
        };
        let Some(read) = read else {
            tracing::debug!(%peer, logged_in = session.user_id.is_some(), "read timed out: closing");
            return Ok(());
        };
        let data = match read? {
            Message::Binary(data) => data,
            Message::Text(_) => {
                Box::pin(ws.close(Some(CloseFrame::new(CloseCode::UNSUPPORTED, "binary only"))))
                    .await
                    .ok();
                return Ok(());
            }
            Message::Close(_) => return Ok(()),
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if pending.is_empty() {
            // A large request alone in its message is stamped in place, not copied.
            pending = ws.payload_mut(data);
        } else {
            pending.extend_from_slice(&data);
        }
        loop {
            let buffered = Box::pin(run_buffered(ctx, &mut session, &mut pending)).await;
            let (replies, close, more) = match buffered {
                Buffered::Replies { replies, more, .. } => (replies, None, more),
                Buffered::Close { replies, reason } => (replies, Some(reason), false),
                Buffered::Waiting { replies, poll } => {
                    for reply in replies {
                        feed(&mut ws, reply)?;
                    }
                    ws.flush().await?;
                    let max = ctx.config.limits.max_request_size;
                    let wait = PollWait::new(poll);
                    let subs = &mut session.subscriptions;
                    match Box::pin(read_while_waiting(&mut ws, &mut pending, wait, subs, max))
                        .await?
                    {
                        Some(reply) => (vec![reply], None, true),
                        None => return Ok(()),
                    }
                }
            };
            for reply in replies {
                feed(&mut ws, reply)?;
            }
            if let Some(subs) = session.subscriptions.as_mut() {
                for frame in subs.take_frames() {
                    feed(&mut ws, frame)?;
                }
            }
            if let Some(reason) = close {
                tracing::debug!(%peer, reason, "closing the websocket");
                ws.flush().await.ok();
                Box::pin(ws.close(Some(CloseFrame::new(CloseCode::POLICY, reason)))).await.ok();
                return Ok(());
            }
            if !more {
                break;
            }
            ws.flush().await?;
        }
        // Replies wait while more requests are already buffered (pipelined requests share one
        // write), up to the reply budget; the next read writes them before it waits on the
        // socket.
        if ws.queued_bytes() >= ctx.config.limits.max_unsent_reply_bytes {
            ws.flush().await?;
        }
        // A consumed request lets go of its buffer (the read buffer it was read into, when it
        // was stamped in place): a connection at rest holds none.
        if pending.is_empty() {
            pending = BytesMut::new();
        }
    }
}

/// Queues one reply as one binary message.
fn feed<S: AsyncRead + AsyncWrite + eddy_ws::Detach>(
    ws: &mut WebSocket<S>,
    reply: Reply,
) -> Result<(), eddy_ws::Error> {
    let mut parts: Vec<Bytes> = Vec::with_capacity(1 + reply.chunks.len());
    reply.into_segments(&mut parts);
    ws.feed_binary_parts(&parts)
}

/// Reads messages into `pending` (up to `MAX_BUFFERED_WHILE_WAITING`) until the deferred poll's
/// reply comes or a cancel among them makes it come; `None` when the client went away (the poll
/// is abandoned). A read starts only when eddy-ws holds input or the socket is readable, so no
/// read is ever dropped (a client that sends half a frame delays only its own reply).
async fn read_while_waiting<S: AsyncRead + AsyncWrite + Readiness + eddy_ws::Detach>(
    ws: &mut WebSocket<S>,
    pending: &mut BytesMut,
    mut wait: PollWait,
    subscriptions: &mut Option<Box<Subscriptions>>,
    max_request: usize,
) -> Result<Option<Reply>, eddy_ws::Error> {
    // Requests buffered behind the poll (a pipelined cancel) count as arrived.
    wait.saw(pending, max_request).await;
    while pending.len() < MAX_BUFFERED_WHILE_WAITING {
        if ws.buffered_input() == 0 {
            match wait.next(ws.get_ref(), subscriptions.as_deref()).await {
                Woke::Reply(reply) => return Ok(Some(reply)),
                Woke::Pushed(pushed) => {
                    if let Some(subs) = subscriptions.as_mut() {
                        for frame in pushes(subs, pushed).await {
                            feed(ws, frame)?;
                        }
                        if let Err(e) = ws.flush().await {
                            wait.abandon().await;
                            return Err(e);
                        }
                    }
                    continue;
                }
                Woke::Readable(Err(e)) => {
                    wait.abandon().await;
                    return Err(e.into());
                }
                Woke::Readable(Ok(())) => {}
            }
        }
        match ws.read().await {
            Ok(Message::Binary(data)) => {
                pending.extend_from_slice(&data);
                wait.saw(pending, max_request).await;
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(Message::Text(_)) => {
                wait.abandon().await;
                ws.close(Some(CloseFrame::new(CloseCode::UNSUPPORTED, "binary only"))).await.ok();
                return Ok(None);
            }
            Ok(Message::Close(_)) => {
                wait.abandon().await;
                return Ok(None);
            }
            Err(e) => {
                wait.abandon().await;
                return Err(e);
            }
        }
    }
    Ok(Some(wait.reply().await))
}
