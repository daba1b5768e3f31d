//! The WebSocket transport on eddy-ws (native owned-buffer path): the same request stream as TCP,
//! carried in binary messages (a request may span messages, as in Iggy 0.8), each reply sent as
//! exactly one binary message whose payload parts go out vectored. Ping/Pong and close are handled
//! by eddy-ws. No command-specific logic.

use std::rc::Rc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use compio::net::{TcpListener, TcpStream};
use eddy_wire::commands::system::TRANSPORT_WEBSOCKET;
use eddy_ws::{Config as WsConfig, Message};

use super::conn::{Buffered, accept_loop, run_buffered};
use crate::session::Session;
use crate::shard::ShardCtx;

/// Accepts connections until the listener fails.
pub async fn serve(ctx: Rc<ShardCtx>, listener: TcpListener) {
    accept_loop(ctx, listener, "websocket", |ctx, stream, peer| async move {
        connection(&ctx, stream, peer).await
    })
    .await;
}

async fn connection(ctx: &ShardCtx, stream: TcpStream, peer: String) -> Result<(), eddy_ws::Error> {
    stream.set_nodelay(true)?;
    let max = ctx.config.limits.max_request_size;
    let config = WsConfig::default().with_max_message_size(max + 8).with_max_frame_size(max + 8);
    let mut ws = eddy_ws::accept_with(stream, &config, |_, _| Ok(())).await?;
    let client_id = ctx.shared.next_client_id.fetch_add(1, Ordering::Relaxed) + 1;
    let mut session = Session::new(client_id, TRANSPORT_WEBSOCKET, peer);
    let mut pending = BytesMut::new();
    loop {
        let data = match ws.read().await? {
            Message::Binary(data) => data,
            Message::Text(_) => {
                ws.close(Some(eddy_ws::CloseFrame::new(
                    eddy_ws::CloseCode::UNSUPPORTED,
                    "binary only",
                )))
                .await
                .ok();
                return Ok(());
            }
            Message::Close(_) => return Ok(()),
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if pending.is_empty() {
            pending = BytesMut::from(data);
        } else {
            pending.extend_from_slice(&data);
        }
        let (replies, broken) = match run_buffered(ctx, &mut session, &mut pending).await {
            Buffered::Replies { replies, .. } => (replies, None),
            Buffered::Broken { replies, reason } => (replies, Some(reason)),
        };
        for reply in replies {
            let mut parts: Vec<Bytes> = Vec::with_capacity(1 + reply.chunks.len());
            reply.into_segments(&mut parts);
            ws.feed_binary_parts(&parts)?;
        }
        ws.flush().await?;
        if let Some(reason) = broken {
            tracing::debug!(error = %reason, "closing a websocket whose request framing is lost");
            ws.close(Some(eddy_ws::CloseFrame::new(
                eddy_ws::CloseCode::POLICY,
                "bad request framing",
            )))
            .await
            .ok();
            return Ok(());
        }
    }
}
