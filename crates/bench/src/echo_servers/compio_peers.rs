//! Echo servers on compio: eddy-ws native (the tuned loop, the README's plain loop, and with
//! permessage-deflate), eddy-ws compat
//! (tungstenite over GrowableSyncStream), compio-ws, and raw TCP echo.

use std::net::SocketAddr;

use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;

/// Accepts on `addr` (backlog 4096: compio's default 128 overflows under connection bursts) and
/// runs the echo loop of `name` per connection.
pub async fn serve(name: &str, addr: SocketAddr) -> anyhow::Result<()> {
    let socket = compio::net::TcpSocket::new_v4().await?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr).await?;
    let listener = socket.listen(4096).await?;
    println!("addr={}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let task = match name {
            "eddy" => compio::runtime::spawn(eddy(tcp, false)),
            "eddy-plain" => compio::runtime::spawn(eddy_plain(tcp)),
            "eddy-deflate" => compio::runtime::spawn(eddy(tcp, true)),
            "eddy-compat" => compio::runtime::spawn(compat(tcp)),
            "compio-ws" => compio::runtime::spawn(compio_ws(tcp)),
            _ => compio::runtime::spawn(raw(tcp)),
        };
        task.detach();
    }
}

/// Queues each echo with `feed` and flushes once nothing complete is left in the read buffer, so
/// pipelined messages share one write.
async fn eddy(tcp: TcpStream, deflate: bool) {
    let config = match deflate {
        true => eddy_ws::Config::default().with_deflate(eddy_ws::deflate::DeflateConfig::default()),
        false => eddy_ws::Config::default(),
    };
    let Ok(mut ws) = eddy_ws::accept_with(tcp, &config, |_, _| Ok(())).await else { return };
    loop {
        match ws.read().await {
            Ok(msg) if msg.is_data() => {
                if ws.feed(msg).is_err() {
                    return;
                }
                if !ws.has_buffered_message() && ws.flush().await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// The README's loop: `read`, then `send` each data message (`send` batches on its own while
/// more messages are buffered).
async fn eddy_plain(tcp: TcpStream) {
    let Ok(mut ws) = eddy_ws::accept(tcp).await else { return };
    loop {
        match ws.read().await {
            Ok(msg) if msg.is_data() => {
                if ws.send(msg).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// The article's design: tungstenite over the growable bridge, one `send` (and write) per echo.
async fn compat(tcp: TcpStream) {
    use eddy_ws::compat::{CompatWebSocket, GrowthPolicy, StreamConfig};
    let config =
        StreamConfig { growth: GrowthPolicy::Exponential, pooled: true, ..StreamConfig::default() };
    let Ok(mut ws) = CompatWebSocket::accept(tcp, config, None).await else { return };
    loop {
        match ws.read().await {
            Ok(msg) if msg.is_text() || msg.is_binary() => {
                if ws.send(msg).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// compio-ws's echo example without its prints: `read`, then `send` each data message.
async fn compio_ws(tcp: TcpStream) {
    let Ok(mut ws) = compio_ws::accept_async(tcp).await else { return };
    loop {
        match ws.read().await {
            Ok(msg) if msg.is_text() || msg.is_binary() => {
                if ws.send(msg).await.is_err() {
                    return;
                }
            }
            Ok(tungstenite::Message::Close(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

async fn raw(mut tcp: TcpStream) {
    let mut buf = Vec::with_capacity(64 << 10);
    loop {
        buf.clear();
        let BufResult(res, b) = tcp.append(buf).await;
        buf = b;
        if !matches!(res, Ok(n) if n > 0) {
            return;
        }
        let BufResult(res, b) = tcp.write_all(buf).await;
        buf = b;
        if res.is_err() {
            return;
        }
    }
}
