//! Echo server: answers every text and binary message with itself.
//!
//! `cargo run --release -p eddy-ws --example echo-server -- 127.0.0.1:9001`

use std::net::SocketAddr;

use clap::Parser;
use compio::net::{TcpListener, TcpSocket};
use eddy_ws::deflate::DeflateConfig;
use eddy_ws::{Config, Error, Message, accept_with};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(default_value = "127.0.0.1:9001")]
    addr: SocketAddr,
    /// Serve through the article's bridge (tungstenite over GrowableSyncStream) instead of the
    /// native driver. Needs the `tungstenite` feature.
    #[arg(long)]
    compat: bool,
    /// Do not accept permessage-deflate (accepted by default).
    #[arg(long)]
    no_deflate: bool,
}

#[compio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(env_filter()).init();
    let args = Args::parse();
    let listener = listen(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, compat = args.compat, "echo server listening");
    #[cfg(not(feature = "tungstenite"))]
    if args.compat {
        anyhow::bail!("--compat needs the `tungstenite` feature");
    }
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let compat = args.compat;
        let config = match args.no_deflate {
            true => Config::default(),
            false => Config::default().with_deflate(DeflateConfig::default()),
        };
        compio::runtime::spawn(async move {
            let result = if compat {
                echo_compat(tcp).await
            } else {
                echo(tcp, config).await.map_err(anyhow::Error::from)
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        })
        .detach();
    }
}

#[cfg(feature = "tungstenite")]
async fn echo_compat(tcp: compio::net::TcpStream) -> anyhow::Result<()> {
    use eddy_ws::compat::{CompatWebSocket, StreamConfig};
    use tungstenite::Message as T;
    let mut ws = CompatWebSocket::accept(tcp, StreamConfig::default(), None).await?;
    loop {
        if let msg @ (T::Text(_) | T::Binary(_)) = ws.read().await? {
            ws.send(msg).await?;
        }
    }
}

#[cfg(not(feature = "tungstenite"))]
async fn echo_compat(_tcp: compio::net::TcpStream) -> anyhow::Result<()> {
    anyhow::bail!("--compat needs the `tungstenite` feature")
}

async fn echo(tcp: compio::net::TcpStream, config: Config) -> Result<(), Error> {
    let mut ws = accept_with(tcp, &config, |_, _| Ok(())).await?;
    loop {
        match ws.read().await? {
            msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg).await?,
            Message::Close(_) => return Ok(()),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

/// A listener with a deep accept backlog (compio's default of 128 overflows under bursts).
async fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket =
        if addr.is_ipv4() { TcpSocket::new_v4().await? } else { TcpSocket::new_v6().await? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr).await?;
    socket.listen(4096).await
}

fn env_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}
