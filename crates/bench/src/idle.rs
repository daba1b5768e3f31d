//! `idle`: what a connection at rest costs eddy-server. Opens many connections, logs each in
//! (Iggy's LOGIN_USER as root), and leaves them silent: the server's memory growth per connection
//! and its CPU while they wait, over TCP and over WebSocket, each measurement on a fresh server
//! (memory freed by an earlier run would be reused and hide the growth). Writes results; asserts
//! nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use eddy_ws::Message;
use serde::Serialize;

use crate::consume::{login_payload, raw_request};
use crate::server::Target;

#[derive(clap::Args)]
pub struct IdleArgs {
    /// Connections held open per measurement (the open-files limit is raised to its hard limit).
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Measurements per transport, each on a fresh server; the report gives their median.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// How long the connections wait silent while the server's CPU is measured.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    #[arg(long, default_value = "bench/results")]
    output: PathBuf,
}

#[derive(Serialize)]
struct Row {
    transport: &'static str,
    connections: usize,
    /// Median over the rounds of the server's RSS growth per logged-in idle connection.
    bytes_per_connection: f64,
    rounds_bytes_per_connection: Vec<f64>,
    /// Median server CPU while they waited, % of one core.
    cpu_percent: f64,
}

/// One client connection, kept open and silent until dropped.
type Held = Box<dyn std::any::Any>;

async fn open(tcp: SocketAddr, ws: Option<SocketAddr>, login: &[u8]) -> anyhow::Result<Held> {
    match ws {
        None => {
            let mut s = TcpStream::connect(tcp).await?;
            s.write_all(login.to_vec()).await.0?;
            let BufResult(res, head) = s.read_exact(Vec::with_capacity(8)).await;
            res?;
            anyhow::ensure!(head[..4] == [0; 4], "login refused over TCP");
            let len = u32::from_le_bytes(head[4..8].try_into()?) as usize;
            let BufResult(res, _) = s.read_exact(Vec::with_capacity(len)).await;
            res?;
            Ok(Box::new(s))
        }
        Some(ws) => {
            let (mut c, _) = eddy_ws::connect(&format!("ws://{ws}/")).await?;
            c.send(Message::binary(login.to_vec())).await?;
            let Message::Binary(reply) = c.read().await? else {
                anyhow::bail!("no binary reply to the login");
            };
            anyhow::ensure!(reply.get(..4) == Some(&[0u8; 4][..]), "login refused over WebSocket");
            Ok(Box::new(c))
        }
    }
}

/// One measurement: `(bytes per connection, CPU %)`.
async fn measure(
    target: &Target,
    websocket: bool,
    n: usize,
    secs: f64,
) -> anyhow::Result<(f64, f64)> {
    let pid = target.pid().context("our server")?;
    let rss = || crate::procfs::rss_kib(pid).unwrap_or(0.0) * 1024.0;
    let settle = || compio::time::sleep(Duration::from_millis(500));
    let ws = match websocket {
        true => Some(target.ws.context("no WebSocket listener")?),
        false => None,
    };
    let login = raw_request(eddy_wire::codes::command::LOGIN_USER, &login_payload());
    settle().await;
    let before = rss();
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(open(target.tcp, ws, &login).await?);
    }
    settle().await;
    let at_rest = rss();
    let cpu_before = crate::procfs::cpu_secs(pid).unwrap_or(0.0);
    compio::time::sleep(Duration::from_secs_f64(secs)).await;
    let cpu = crate::procfs::cpu_secs(pid).unwrap_or(0.0) - cpu_before;
    drop(conns);
    Ok(((at_rest - before) / n.max(1) as f64, cpu / secs * 100.0))
}

pub fn run(args: IdleArgs) -> anyhow::Result<()> {
    let limit = crate::procfs::raise_fd_limit()?;
    anyhow::ensure!(
        args.connections as u64 + 64 <= limit,
        "{} connections need more than the open-files limit ({limit})",
        args.connections
    );
    let runtime = compio::runtime::Runtime::new()?;
    let bar = indicatif::ProgressBar::new(2 * args.rounds.max(1) as u64).with_style(
        indicatif::ProgressStyle::with_template("{msg:20} [{bar:30}] {pos}/{len} ({eta})")?,
    );
    let mut rows = Vec::new();
    for (transport, websocket) in [("TCP", false), ("WebSocket", true)] {
        bar.set_message(transport);
        let (mut bytes, mut cpu) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds.max(1) {
            let target = Target::spawn(false, 1)?;
            let (b, c) =
                runtime.block_on(measure(&target, websocket, args.connections, args.seconds))?;
            bytes.push(b);
            cpu.push(c);
            bar.inc(1);
        }
        rows.push(Row {
            transport,
            connections: args.connections,
            bytes_per_connection: crate::median(bytes.clone()).unwrap_or(0.0),
            rounds_bytes_per_connection: bytes,
            cpu_percent: crate::median(cpu).unwrap_or(0.0),
        });
    }
    bar.finish_and_clear();
    let mut md = String::from(
        "| transport | connections | server memory per idle connection | rounds | server CPU while idle |\n|---|---:|---:|---|---:|\n",
    );
    for r in &rows {
        let rounds: Vec<String> =
            r.rounds_bytes_per_connection.iter().map(|b| format!("{b:.0}")).collect();
        md.push_str(&format!(
            "| {} | {} | {:.0} B | {} | {:.1}% |\n",
            r.transport,
            r.connections,
            r.bytes_per_connection,
            rounds.join(", "),
            r.cpu_percent
        ));
    }
    println!("{md}");
    let (dir, command) = crate::results_folder(&args.output, "idle")?;
    let json = serde_json::json!({
        "benchmark": "idle",
        "command": command,
        "parameters": { "connections": args.connections, "rounds": args.rounds, "seconds": args.seconds, "shards": 1, "fsync": false },
        "machine": crate::machine_info(),
        "results": rows,
    });
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&json)?)?;
    let report = format!(
        "# idle\n\n`{command}`\n\nEach round starts a fresh eddy-server (child process, 1 shard), opens the connections one after another, logs each in as root (LOGIN_USER; over WebSocket after the upgrade), and leaves them silent: the server's RSS growth after 500 ms, divided by the connections, and its CPU over {} s while they wait. Medians of {} rounds per transport.\n\n{md}",
        args.seconds, args.rounds
    );
    std::fs::write(dir.join("report.md"), report)?;
    println!("results: {}", dir.display());
    Ok(())
}
