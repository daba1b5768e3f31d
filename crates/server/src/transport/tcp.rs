//! The TCP transport: accept on this shard's SO_REUSEPORT listener, then per connection read into
//! an owned buffer, run whole requests in order, and write all their replies in one vectored
//! submission. No command-specific logic.

use std::rc::Rc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use eddy_wire::commands::system::TRANSPORT_TCP;

use super::conn::{Buffered, accept_loop, make_room, run_buffered};
use crate::session::Session;
use crate::shard::ShardCtx;

/// Read buffer size at rest.
const READ_BASE: usize = 8 << 10;
/// Segments per write submission (under IOV_MAX).
const MAX_IOV: usize = 512;

/// Accepts connections until the listener fails.
pub async fn serve(ctx: Rc<ShardCtx>, listener: TcpListener) {
    accept_loop(ctx, listener, "tcp", |ctx, stream, peer| async move {
        connection(&ctx, stream, peer).await
    })
    .await;
}

async fn connection(ctx: &ShardCtx, mut stream: TcpStream, peer: String) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let client_id = ctx.shared.next_client_id.fetch_add(1, Ordering::Relaxed) + 1;
    let mut session = Session::new(client_id, TRANSPORT_TCP, peer);
    let mut buf = BytesMut::with_capacity(READ_BASE);
    let mut need = 0;
    loop {
        make_room(&mut buf, need, READ_BASE / 2);
        let BufResult(res, b) = stream.append(buf).await;
        buf = b;
        if res? == 0 {
            return Ok(());
        }
        let (replies, broken) = match run_buffered(ctx, &mut session, &mut buf).await {
            Buffered::Replies { replies, need: n } => {
                need = n;
                (replies, None)
            }
            Buffered::Broken { replies, reason } => (replies, Some(reason)),
        };
        if !replies.is_empty() {
            let mut segments = Vec::new();
            for reply in replies {
                reply.into_segments(&mut segments);
            }
            write_segments(&mut stream, segments).await?;
        }
        if let Some(reason) = broken {
            tracing::debug!(error = %reason, "closing a connection whose framing is lost");
            stream.shutdown().await.ok();
            return Ok(());
        }
        if buf.is_empty() && buf.capacity() > 4 * READ_BASE {
            buf = BytesMut::with_capacity(READ_BASE);
        }
    }
}

async fn write_segments(stream: &mut TcpStream, mut segments: Vec<Bytes>) -> std::io::Result<()> {
    while !segments.is_empty() {
        let rest = if segments.len() > MAX_IOV { segments.split_off(MAX_IOV) } else { Vec::new() };
        let BufResult(res, _) = stream.write_vectored_all(segments).await;
        res?;
        segments = rest;
    }
    Ok(())
}
