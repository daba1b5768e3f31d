//! Runs every case of an Autobahn|Testsuite fuzzingserver against the eddy-ws client, then asks
//! it to write its reports.
//!
//! `cargo run --release -p eddy-ws --example autobahn-client -- --server ws://127.0.0.1:9001`

use clap::Parser;
use eddy_ws::deflate::DeflateConfig;
use eddy_ws::{ClientRequest, Config, Error, Message, connect, connect_with};

#[derive(Parser)]
struct Args {
    /// The fuzzingserver's base URL.
    #[arg(long, default_value = "ws://127.0.0.1:9001")]
    server: String,
    /// The agent name the reports use.
    #[arg(long, default_value = "eddy-ws")]
    agent: String,
    /// Run the cases through the article's bridge (tungstenite over GrowableSyncStream). Needs
    /// the `tungstenite` feature.
    #[arg(long)]
    compat: bool,
}

#[compio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let (mut ws, _) = connect(&format!("{}/getCaseCount", args.server)).await?;
    let count: u32 = match ws.read().await? {
        Message::Text(text) => text.trim().parse()?,
        other => anyhow::bail!("unexpected case count message: {other:?}"),
    };
    drain(&mut ws).await;
    tracing::info!(count, "running cases");
    for case in 1..=count {
        let url = format!("{}/runCase?case={case}&agent={}", args.server, args.agent);
        if args.compat {
            if let Err(e) = compat_case(&url).await {
                tracing::debug!(case, error = %e, "case ended with an error");
            }
            continue;
        }
        let config = Config::default().with_deflate(DeflateConfig::default());
        match connect_with(ClientRequest::new(&url)?, &config).await {
            Ok((mut ws, _)) => {
                if let Err(e) = echo(&mut ws).await {
                    tracing::debug!(case, error = %e, "case ended with an error");
                }
            }
            Err(e) => tracing::warn!(case, error = %e, "could not connect"),
        }
    }
    let (mut ws, _) =
        connect(&format!("{}/updateReports?agent={}", args.server, args.agent)).await?;
    drain(&mut ws).await;
    tracing::info!("reports updated");
    Ok(())
}

#[cfg(feature = "tungstenite")]
async fn compat_case(url: &str) -> anyhow::Result<()> {
    use eddy_ws::compat::{CompatWebSocket, StreamConfig};
    use tungstenite::Message as T;
    let (mut ws, _) = CompatWebSocket::connect(url, StreamConfig::default(), None).await?;
    loop {
        if let msg @ (T::Text(_) | T::Binary(_)) = ws.read().await? {
            ws.send(msg).await?;
        }
    }
}

#[cfg(not(feature = "tungstenite"))]
async fn compat_case(_url: &str) -> anyhow::Result<()> {
    anyhow::bail!("--compat needs the `tungstenite` feature")
}

async fn echo(ws: &mut eddy_ws::WebSocket<compio::net::TcpStream>) -> Result<(), Error> {
    loop {
        match ws.read().await? {
            msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg).await?,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
        }
    }
}

async fn drain(ws: &mut eddy_ws::WebSocket<compio::net::TcpStream>) {
    while ws.read().await.is_ok() {}
}
