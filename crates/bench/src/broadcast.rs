//! Broadcast to many WebSocket subscribers (issue 16): one eddy-ws server in a child process
//! pinned to core 0 holds `subscribers` connections, each with a task fed by one `Hub`; it
//! publishes `messages` messages back to back, and every connection writes each of them. Two
//! ways to write, same queueing: `prepared` (`feed_prepared`: the payload, and with
//! permessage-deflate without server context takeover its compressed form, shared by every
//! connection) and `per-connection` (`feed(Message::Binary(payload))`: each connection frames,
//! and compresses, its own). The load generator (this process, pinned to core 1) holds the
//! clients and counts what arrives. Reported per mode: deliveries per second, and the server's
//! CPU per delivery (its own thread's, from the first publish to the last flush), which does not
//! depend on how fast the clients read. Writes `results.json` and `report.md`.

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use eddy_ws::deflate::DeflateConfig;
use eddy_ws::{ClientRequest, Config, Hub, Message, PreparedMessage, SlowPolicy};
use serde::Serialize;

/// Options of `eddy-bench broadcast`.
#[derive(clap::Args, Debug)]
pub struct BroadcastArgs {
    /// Connections held open and written to.
    #[arg(long, default_value_t = 10_000)]
    pub subscribers: usize,
    /// Messages published per measurement (uncompressed rows).
    #[arg(long, default_value_t = 50)]
    pub messages: usize,
    /// Messages published per measurement with permessage-deflate.
    #[arg(long, default_value_t = 10)]
    pub deflate_messages: usize,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Measurements per mode (medians reported).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Where the result directory goes.
    #[arg(long, default_value = "target/bench-results")]
    pub output: PathBuf,
}

/// The hidden child: `broadcast-server`.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    #[arg(long)]
    pub subscribers: usize,
    #[arg(long)]
    pub messages: usize,
    #[arg(long)]
    pub size: usize,
    #[arg(long)]
    pub prepared: bool,
    #[arg(long)]
    pub deflate: bool,
    #[arg(long, default_value_t = 0)]
    pub core: usize,
}

/// A JSON-like text payload of `size` bytes (compressible the way real broadcasts are).
fn payload(size: usize) -> Bytes {
    let mut s = String::with_capacity(size + 64);
    let mut i = 0u64;
    while s.len() < size {
        s.push_str(&format!(
            "{{\"seq\":{i},\"price\":{}.{:02},\"side\":\"buy\"}},",
            100 + i % 37,
            i % 100
        ));
        i += 1;
    }
    s.truncate(size);
    Bytes::from(s)
}

fn server_config(deflate: bool) -> Config {
    let config = Config::default();
    if deflate {
        // A fresh context per message on the server side: what lets connections share one
        // compressed form.
        let d = DeflateConfig { server_no_context_takeover: true, ..DeflateConfig::default() };
        config.with_deflate(d)
    } else {
        config
    }
}

/// The child: accepts `subscribers` connections, publishes, prints `addr=…` once bound and
/// `cpu_us=… secs=…` once every connection wrote every message.
pub fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    crate::procfs::raise_fd_limit()?;
    crate::rt::pinned(args.core)?.block_on(serve(args))
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    let listener = compio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("addr={}", listener.local_addr()?);
    let config = Rc::new(server_config(args.deflate));
    let hub = Hub::new(args.messages.max(1), SlowPolicy::DropOldest);
    let left = Rc::new(Cell::new(args.subscribers));
    let (done_tx, done_rx) = flume::bounded::<()>(1);
    let mut accepted = 0;
    while accepted < args.subscribers {
        let (tcp, _) = listener.accept().await?;
        accepted += 1;
        let (config, mut sub, left, done) =
            (config.clone(), hub.subscribe(), left.clone(), done_tx.clone());
        let (prepared, total) = (args.prepared, args.messages);
        compio::runtime::spawn(async move {
            let Ok(mut ws) = eddy_ws::accept_with(tcp, &config, |_, _| Ok(())).await else {
                return;
            };
            let mut wrote = 0;
            while wrote < total {
                let Ok(first) = sub.recv().await else { return };
                let mut next = Some(first);
                while let Some(msg) = next {
                    let fed = if prepared {
                        ws.feed_prepared(&msg)
                    } else {
                        ws.feed(Message::Binary(msg.payload().clone()))
                    };
                    if fed.is_err() {
                        return;
                    }
                    wrote += 1;
                    next = sub.try_recv();
                }
                if ws.flush().await.is_err() {
                    return;
                }
            }
            left.set(left.get() - 1);
            if left.get() == 0 {
                done.send_async(()).await.ok();
            }
            // Held open until the process ends: the clients read at their pace.
            std::future::pending::<()>().await;
        })
        .detach();
    }
    // Every handshake done (each connection's task subscribed at accept): publish.
    while hub.subscribers() < args.subscribers {
        compio::time::sleep(Duration::from_millis(5)).await;
    }
    compio::time::sleep(Duration::from_millis(200)).await;
    let body = payload(args.size);
    let (cpu0, t0) = (crate::procfs::thread_cpu_ns().unwrap_or(0), Instant::now());
    for _ in 0..args.messages {
        hub.publish(PreparedMessage::binary(body.clone()));
    }
    done_rx.recv_async().await.ok();
    let cpu = crate::procfs::thread_cpu_ns().unwrap_or(0).saturating_sub(cpu0);
    println!("cpu_us={:.1} secs={:.6}", cpu as f64 / 1e3, t0.elapsed().as_secs_f64());
    std::future::pending::<()>().await;
    Ok(())
}

/// One measurement's figures.
#[derive(Debug, Clone, Serialize)]
struct Measured {
    deliveries_per_sec: f64,
    server_cpu_ns_per_delivery: f64,
    server_write_secs: f64,
}

fn spawn_server(
    args: &ServerArgs,
) -> anyhow::Result<(Child, SocketAddr, BufReader<std::process::ChildStdout>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("broadcast-server")
        .args(["--subscribers", &args.subscribers.to_string()])
        .args(["--messages", &args.messages.to_string()])
        .args(["--size", &args.size.to_string()])
        .args(["--core", &args.core.to_string()])
        .args(args.prepared.then_some("--prepared"))
        .args(args.deflate.then_some("--deflate"))
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().context("server stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    let addr = line.trim().strip_prefix("addr=").context("server address")?.parse()?;
    Ok((child, addr, out))
}

async fn measure(args: &ServerArgs) -> anyhow::Result<Measured> {
    let (mut child, addr, mut out) = spawn_server(args)?;
    let result = async {
        let config = server_config(args.deflate);
        let received = Rc::new(Cell::new(0usize));
        let first_at: Rc<Cell<Option<Instant>>> = Rc::default();
        let want = args.subscribers * args.messages;
        let mut tasks = Vec::with_capacity(args.subscribers);
        for _ in 0..args.subscribers {
            let request = ClientRequest::new(&format!("ws://{addr}/"))?;
            let (mut ws, _) = eddy_ws::connect_with(request, &config).await?;
            let (received, first_at, total) = (received.clone(), first_at.clone(), args.messages);
            tasks.push(compio::runtime::spawn(async move {
                for _ in 0..total {
                    match ws.read().await {
                        Ok(Message::Binary(_)) => {
                            if first_at.get().is_none() {
                                first_at.set(Some(Instant::now()));
                            }
                            received.set(received.get() + 1);
                        }
                        _ => return None,
                    }
                }
                Some(ws)
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        while received.get() < want {
            anyhow::ensure!(Instant::now() < deadline, "deliveries stalled at {}", received.get());
            compio::time::sleep(Duration::from_millis(1)).await;
        }
        let secs = first_at.get().map_or(f64::NAN, |t| t.elapsed().as_secs_f64());
        let mut line = String::new();
        out.read_line(&mut line)?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let v =
                line.split_whitespace().find_map(|kv| kv.strip_prefix(name)).context("field")?;
            Ok(v.parse()?)
        };
        let (cpu_us, write_secs) = (field("cpu_us=")?, field("secs=")?);
        drop(tasks);
        Ok(Measured {
            deliveries_per_sec: want as f64 / secs,
            server_cpu_ns_per_delivery: cpu_us * 1e3 / want as f64,
            server_write_secs: write_secs,
        })
    }
    .await;
    child.kill().ok();
    child.wait().ok();
    result
}

#[derive(Debug, Serialize)]
struct Row {
    mode: &'static str,
    deflate: bool,
    messages: usize,
    median: Measured,
    rounds: Vec<Measured>,
}

/// `eddy-bench broadcast`.
pub fn run(args: BroadcastArgs) -> anyhow::Result<()> {
    crate::procfs::raise_fd_limit()?;
    let modes = [
        ("prepared", true, false),
        ("per-connection", false, false),
        ("prepared", true, true),
        ("per-connection", false, true),
    ];
    let bar = indicatif::ProgressBar::new((modes.len() * args.rounds) as u64);
    let mut rows = Vec::new();
    let runtime = crate::rt::pinned(1)?;
    for &(mode, prepared, deflate) in &modes {
        let messages = if deflate { args.deflate_messages } else { args.messages };
        let server = ServerArgs {
            subscribers: args.subscribers,
            messages,
            size: args.size,
            prepared,
            deflate,
            core: 0,
        };
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            rounds.push(runtime.block_on(measure(&server))?);
            bar.inc(1);
        }
        let median = |f: fn(&Measured) -> f64| {
            let mut v: Vec<f64> = rounds.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let median = Measured {
            deliveries_per_sec: median(|m| m.deliveries_per_sec),
            server_cpu_ns_per_delivery: median(|m| m.server_cpu_ns_per_delivery),
            server_write_secs: median(|m| m.server_write_secs),
        };
        rows.push(Row { mode, deflate, messages, median, rounds });
    }
    bar.finish_and_clear();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let dir = args.output.join(format!("broadcast-{stamp}"));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&rows)?)?;
    let mut md = String::new();
    md.push_str("# broadcast\n\n");
    md.push_str(&format!(
        "{} subscribers over loopback, {} B JSON-like payload; the server (eddy-ws, one thread pinned to core 0, a `Hub` task per connection, one flush per burst) publishes the messages back to back; the clients (this process, core 1) read them. Medians of {} rounds. Server CPU is its thread's run time (schedstat), from the first publish to the last connection's last flush. `prepared`: `feed_prepared` (one shared payload; with permessage-deflate and server_no_context_takeover, one shared compressed form). `per-connection`: `feed(Message::Binary(payload))`, framed (and compressed) by each connection.\n\n",
        args.subscribers, args.size, args.rounds
    ));
    md.push_str("| deflate | messages | mode | deliveries/s | server CPU per delivery | server time to write all |\n|---|---:|---|---:|---:|---:|\n");
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {:.0} k/s | {:.0} ns | {:.3} s |\n",
            if r.deflate { "yes" } else { "no" },
            r.messages,
            r.mode,
            r.median.deliveries_per_sec / 1e3,
            r.median.server_cpu_ns_per_delivery,
            r.median.server_write_secs
        ));
    }
    md.push_str("\n| deflate | server CPU per delivery, per-connection / prepared | deliveries/s, prepared / per-connection |\n|---|---:|---:|\n");
    for pair in rows.chunks(2) {
        if let [p, c] = pair {
            md.push_str(&format!(
                "| {} | {:.2}× | {:.2}× |\n",
                if p.deflate { "yes" } else { "no" },
                c.median.server_cpu_ns_per_delivery / p.median.server_cpu_ns_per_delivery,
                p.median.deliveries_per_sec / c.median.deliveries_per_sec
            ));
        }
    }
    std::fs::write(dir.join("report.md"), &md)?;
    println!("{md}\nresults: {}", dir.display());
    Ok(())
}
