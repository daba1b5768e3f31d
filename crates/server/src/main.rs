//! `eddy-server`: arguments → configuration → shards, until SIGTERM or SIGINT stops them
//! cleanly. Nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use eddy_server::config::{Config, IGGY_DEFAULT_ROOT_PASSWORD, TlsConfig};

/// A durable streaming server speaking Apache Iggy's binary protocol over TCP and WebSocket.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// A TOML configuration file (every key is optional; see the docs).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (default ./local_data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TCP listen address (port 0 picks a free port).
    #[arg(long)]
    tcp_address: Option<SocketAddr>,
    /// WebSocket listen address (port 0 picks a free port).
    #[arg(long)]
    ws_address: Option<SocketAddr>,
    /// Shards (threads, one compio runtime each); 0 = one per core.
    #[arg(long)]
    shards: Option<usize>,
    /// fdatasync before acknowledging sends.
    #[arg(long)]
    fsync: Option<bool>,
    /// The root user's password (`iggy` for Iggy's quickstarts). Without it (and without
    /// auth.root_password) one is generated at the first start, printed once and stored hashed.
    #[arg(long)]
    root_password: Option<String>,
    /// TLS on the TCP port: PEM certificate chain (with --tcp-tls-key).
    #[arg(long, requires = "tcp_tls_key")]
    tcp_tls_cert: Option<PathBuf>,
    /// TLS on the TCP port: PEM private key.
    #[arg(long, requires = "tcp_tls_cert")]
    tcp_tls_key: Option<PathBuf>,
    /// wss:// on the WebSocket port: PEM certificate chain (with --ws-tls-key).
    #[arg(long, requires = "ws_tls_key")]
    ws_tls_cert: Option<PathBuf>,
    /// wss:// on the WebSocket port: PEM private key.
    #[arg(long, requires = "ws_tls_cert")]
    ws_tls_key: Option<PathBuf>,
}

/// Raises the soft open-files limit to the hard one (connections and segment files share it)
/// and logs the result.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut config =
        Config::load(args.config.as_deref(), std::env::vars()).context("loading configuration")?;
    if let Some(dir) = args.data_dir {
        config.system.data_dir = dir;
    }
    if let Some(addr) = args.tcp_address {
        config.tcp.address = addr;
    }
    if let Some(addr) = args.ws_address {
        config.websocket.address = addr;
    }
    if let Some(shards) = args.shards {
        config.system.shards = shards;
    }
    if let Some(fsync) = args.fsync {
        config.storage.fsync = fsync;
    }
    if let (Some(cert), Some(key)) = (args.tcp_tls_cert, args.tcp_tls_key) {
        config.tcp.tls = TlsConfig { enabled: true, cert_file: cert, key_file: key };
    }
    if let (Some(cert), Some(key)) = (args.ws_tls_cert, args.ws_tls_key) {
        config.websocket.tls = TlsConfig { enabled: true, cert_file: cert, key_file: key };
    }
    if let Some(password) = args.root_password {
        config.auth.root_password = password;
    }
    if config.auth.root_password == IGGY_DEFAULT_ROOT_PASSWORD {
        tracing::warn!(
            "the root user has Iggy's well-known default password: use it for local tests only"
        );
    }
    raise_open_files_limit();
    tracing::info!(data_dir = %config.system.data_dir.display(), fsync = config.storage.fsync, "starting");
    let username = config.auth.root_username.clone();
    let signals = eddy_server::StopSignals::install().context("installing signal handlers")?;
    let server = eddy_server::start(config).context("starting the server")?;
    if let Some(password) = &server.generated_root_password {
        // Shown once, on the terminal only: the data directory keeps nothing but its hash.
        println!(
            "\nGenerated the root user's password (stored hashed; shown only now):\n  user: {username}\n  password: {password}\nSet auth.root_password (or --root-password) to choose your own.\n"
        );
    }
    server.run_until_signal(signals);
    Ok(())
}
