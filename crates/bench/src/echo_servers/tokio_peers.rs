//! Echo servers on a current-thread tokio runtime: tokio-tungstenite, fastwebsockets (behind
//! hyper's upgrade, as its example), and raw TCP echo.

use std::net::SocketAddr;

use tokio::net::TcpStream;

pub async fn serve(name: &str, addr: SocketAddr) -> anyhow::Result<()> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(4096)?;
    println!("addr={}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        match name {
            "tokio-tungstenite" => tokio::spawn(tungstenite_echo(tcp)),
            "fastwebsockets" => tokio::spawn(fastwebsockets_conn(tcp)),
            _ => tokio::spawn(raw(tcp)),
        };
    }
}

/// tokio-tungstenite's echo example: the read half forwarded into the write half.
async fn tungstenite_echo(tcp: TcpStream) {
    use futures_util::{StreamExt, TryStreamExt};
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
    let (write, read) = ws.split();
    read.try_filter(|m| std::future::ready(m.is_text() || m.is_binary())).forward(write).await.ok();
}

/// fastwebsockets' echo example: hyper serves the upgrade request, the upgraded connection runs
/// the frame loop in an unconstrained task.
async fn fastwebsockets_conn(tcp: TcpStream) {
    use hyper::body::{Bytes, Incoming};
    let service = hyper::service::service_fn(|mut req: hyper::Request<Incoming>| async move {
        let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut req)?;
        tokio::spawn(tokio::task::unconstrained(fastwebsockets_echo(upgrade)));
        Ok::<hyper::Response<http_body_util::Empty<Bytes>>, fastwebsockets::WebSocketError>(
            response,
        )
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
        .with_upgrades()
        .await
        .ok();
}

async fn fastwebsockets_echo(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
) -> Result<(), fastwebsockets::WebSocketError> {
    use fastwebsockets::OpCode;
    let mut ws = fastwebsockets::FragmentCollector::new(upgrade.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn raw(mut tcp: TcpStream) {
    let (mut r, mut w) = tcp.split();
    tokio::io::copy(&mut r, &mut w).await.ok();
}
