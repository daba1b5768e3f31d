//! `eddy-bench`: the Iggy article's pinned-producer and pinned-consumer benchmarks, TCP vs
//! WebSocket in one run against the same server, with latency percentiles, a console table, and a
//! results folder (JSON, Markdown, PNG charts); and `ws-echo`, WebSocket echo against peer crates
//! and raw TCP (see `ws_echo`); `pipeline` (pipelined small requests); `startup` (start time
//! over large data directories, see `startup`); `consume` (poll vs long poll, see `consume`);
//! `idle` (what a connection at rest costs the server, see `idle`).

mod actors;
mod broadcast;
mod chart;
mod consume;
mod echo_servers;
mod idle;
mod loadgen;
mod pipeline;
mod procfs;
mod rt;
mod server;
mod startup;
mod stats;
mod tokio_clients;
mod ws_echo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actors::{ActorRun, ClientKind, Kind, Workload};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use eddy_client::Transport;
use serde::Serialize;
use stats::{PERCENTILES, Summary};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// N producers, each on its own stream (one topic, one partition), sending batches.
    PinnedProducer(RunArgs),
    /// N consumers, each polling its own stream by offset (filled first, untimed).
    PinnedConsumer(RunArgs),
    /// WebSocket echo against peer crates and raw TCP: each server single-threaded and pinned in
    /// its own process, the load generator pinned to another core.
    WsEcho(ws_echo::EchoArgs),
    /// Pipelined small requests on one connection (PING, one-message polls) at several depths,
    /// over TCP and WebSocket: what pipelining buys under the server's reply budget.
    Pipeline(pipeline::PipelineArgs),
    /// What a consumer's way of waiting costs: busy-loop polling, polling with a pause, long
    /// polling; end-to-end latency and server CPU per message, TCP and WebSocket.
    Consume(consume::ConsumeArgs),
    /// What a logged-in connection at rest costs eddy-server (memory, CPU), TCP and WebSocket.
    Idle(idle::IdleArgs),
    /// Start time of eddy-server over 1 GiB, 10 GiB, … of data: after a clean stop, after a
    /// SIGKILL, and with every byte re-verified (no checkpoints).
    Startup(startup::StartupArgs),
    /// Broadcast to 10,000 WebSocket subscribers: eddy-ws's PreparedMessage against framing
    /// (and compressing) per connection; deliveries per second and server CPU per delivery.
    Broadcast(broadcast::BroadcastArgs),
    /// Runs the broadcast server (used by broadcast for its child process).
    #[command(hide = true)]
    BroadcastServer(broadcast::ServerArgs),
    /// Runs one echo server (used by ws-echo for its child processes).
    #[command(hide = true)]
    EchoServer {
        #[arg(long = "impl")]
        name: String,
        #[arg(long, default_value_t = 0)]
        core: usize,
    },
    /// Runs eddy-server in this process (used by the benchmark for its child process).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        fsync: bool,
        #[arg(long, default_value_t = 0)]
        shards: usize,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TransportArg {
    Tcp,
    Ws,
    Both,
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// tcp, ws, or both (TCP then WebSocket against the same server, alternating per round).
    #[arg(long, value_enum, default_value = "both")]
    transport: TransportArg,
    /// Client libraries, comma-separated, each over every transport in the same run: eddy
    /// (eddy-client), iggy-sdk (Apache Iggy's Rust SDK 0.10.0), tokio (plain tokio TCP and
    /// tokio-tungstenite, the SDK's WebSocket library, with nothing around them).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "eddy")]
    client: Vec<ClientKind>,
    /// Actors (producers or consumers), each with its own stream and connection.
    #[arg(long, default_value_t = 2)]
    actors: usize,
    #[arg(long, default_value_t = 1000)]
    messages_per_batch: u32,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 1000)]
    message_size: usize,
    /// Measured batches per actor (per transport and round).
    #[arg(long, default_value_t = 300)]
    batches: u64,
    /// Unmeasured batches per actor before measuring.
    #[arg(long, default_value_t = 20)]
    warmup: u64,
    /// Rounds; with `both`, each round runs TCP then WebSocket.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// fsync every batch before acknowledging (the article's setting).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    fsync: bool,
    /// Server shards (0 = one per core).
    #[arg(long, default_value_t = 0)]
    shards: usize,
    /// Pin actor i to core (first_core + i) mod cores.
    #[arg(long)]
    pin: bool,
    /// With `--pin`, the first actor's core (1 with `--shards 1` keeps the actors off the
    /// server's core).
    #[arg(long, default_value_t = 0)]
    first_core: usize,
    /// Drive an external Iggy-0.8-compatible server at this TCP address instead of starting one.
    #[arg(long)]
    server_address: Option<SocketAddr>,
    /// The external server's WebSocket address.
    #[arg(long)]
    ws_address: Option<SocketAddr>,
    /// Also drive this Iggy-0.8-compatible server (e.g. Apache Iggy), interleaved with the first
    /// in every round, with the same clients and transports.
    #[arg(long)]
    compare_address: Option<SocketAddr>,
    /// The compared server's WebSocket address.
    #[arg(long)]
    compare_ws_address: Option<SocketAddr>,
    /// The compared server's name in the tables.
    #[arg(long, default_value = "other")]
    compare_name: String,
    /// The compared server's process id, for its CPU per batch and peak memory.
    #[arg(long)]
    compare_pid: Option<u32>,
    /// Where the results folder is written.
    #[arg(long, default_value = "bench/results")]
    output: PathBuf,
}

/// One server and client: the runs that share a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lane {
    /// Index into the servers under test.
    server: usize,
    client: ClientKind,
}

/// A lane's name in tables and file names: the client's, after the server's when several run.
fn lane_name(servers: &[String], lane: Lane) -> String {
    match servers {
        [_] => lane.client.name().to_owned(),
        _ => format!("{}/{}", servers[lane.server], lane.client.name()),
    }
}

#[derive(Serialize)]
struct TransportResult {
    #[serde(skip)]
    lane: Lane,
    /// `lane_name`.
    name: String,
    server: String,
    client: ClientKind,
    transport: &'static str,
    group: Summary,
    actors: Vec<Summary>,
    /// The actors' own CPU (their threads' schedstat) per measured batch, µs.
    client_cpu_us_per_batch: Option<f64>,
    /// The server's CPU (all its threads) per batch, warm-up included, µs.
    server_cpu_us_per_batch: Option<f64>,
}

/// One client over one transport in one round.
struct Run {
    round: u32,
    lane: Lane,
    transport: Transport,
    actors: Vec<ActorRun>,
    /// Server CPU ns over the whole run (warm-up included), if the server is ours.
    server_cpu_ns: Option<u64>,
}

fn name(t: Transport) -> &'static str {
    match t {
        Transport::Tcp => "tcp",
        Transport::WebSocket => "ws",
    }
}

fn main() -> anyhow::Result<()> {
    // Logs go to stderr: a `serve` child reports its addresses on stdout.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve { data_dir, fsync, shards } => server::serve(data_dir, fsync, shards),
        Command::EchoServer { name, core } => {
            echo_servers::run(&name, "127.0.0.1:0".parse()?, core)
        }
        Command::WsEcho(args) => ws_echo::run(args),
        Command::PinnedProducer(args) => bench(Kind::Producer, args),
        Command::Pipeline(args) => pipeline::run(args),
        Command::Startup(args) => startup::run(args),
        Command::Broadcast(args) => broadcast::run(args),
        Command::BroadcastServer(args) => broadcast::run_server(args),
        Command::Consume(args) => consume::run(args),
        Command::Idle(args) => idle::run(args),
        Command::PinnedConsumer(args) => bench(Kind::Consumer, args),
    }
}

fn bench(kind: Kind, args: RunArgs) -> anyhow::Result<()> {
    let kind_name = if kind == Kind::Producer { "pinned-producer" } else { "pinned-consumer" };
    let mut targets = vec![match args.server_address {
        Some(tcp) => server::Target::external(tcp, args.ws_address),
        None => server::Target::spawn(args.fsync, args.shards)?,
    }];
    let mut servers =
        vec![if args.server_address.is_some() { "external" } else { "eddy-server" }.to_owned()];
    if let Some(tcp) = args.compare_address {
        targets.push(
            server::Target::external(tcp, args.compare_ws_address).with_pid(args.compare_pid),
        );
        servers.push(args.compare_name.clone());
    }
    let transports: Vec<Transport> = match args.transport {
        TransportArg::Tcp => vec![Transport::Tcp],
        TransportArg::Ws => vec![Transport::WebSocket],
        TransportArg::Both => vec![Transport::Tcp, Transport::WebSocket],
    };
    let w = Workload {
        actors: args.actors.max(1),
        messages_per_batch: args.messages_per_batch.max(1),
        message_size: args.message_size.max(1),
        batches: args.batches.max(1),
        warmup: args.warmup,
        pin: args.pin,
        first_core: args.first_core,
    };
    let batch_bytes = actors::batch_of(&w).size_bytes();
    let mut clients = args.client.clone();
    clients.dedup();
    let lanes: Vec<Lane> = (0..targets.len())
        .flat_map(|server| clients.iter().map(move |&client| Lane { server, client }))
        .collect();
    let total = w.actors as u64
        * w.batches
        * transports.len() as u64
        * lanes.len() as u64
        * u64::from(args.rounds);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {pos}/{len} batches ({eta})",
    )?);
    let runtime = compio::runtime::Runtime::new()?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let mut runs: Vec<Run> = Vec::new();
    for round in 0..args.rounds {
        // Consumers of each server read the streams filled for them this round.
        let mut consumer_streams = Vec::new();
        for target in &targets {
            consumer_streams.push(if kind == Kind::Consumer {
                let streams = runtime.block_on(actors::create_streams(
                    target.tcp,
                    &format!("bench-{stamp}-c{round}"),
                    w.actors,
                ))?;
                bar.set_message("filling");
                runtime.block_on(actors::fill(target.tcp, &streams, &w))?;
                Some(streams)
            } else {
                None
            });
        }
        // Every round starts one step further along, so that no server, client or transport
        // always runs first (right after the fill) or last.
        let mut order: Vec<(Lane, Transport)> =
            lanes.iter().flat_map(|&l| transports.iter().map(move |&t| (l, t))).collect();
        let steps = round as usize % order.len().max(1);
        order.rotate_left(steps);
        for (lane, t) in order {
            let (client, target) = (lane.client, &targets[lane.server]);
            let addr = match t {
                Transport::Tcp => target.tcp,
                Transport::WebSocket => {
                    target.ws.context("no WebSocket address (use --ws-address)")?
                }
            };
            let streams = match &consumer_streams[lane.server] {
                Some(s) => s.clone(),
                None => runtime.block_on(actors::create_streams(
                    target.tcp,
                    &format!("bench-{stamp}-{}-{}-{round}", client.name(), name(t)),
                    w.actors,
                ))?,
            };
            bar.set_message(format!(
                "{kind_name} {} {} round {}",
                lane_name(&servers, lane),
                name(t),
                round + 1
            ));
            let progress = Arc::new(AtomicU64::new(0));
            let base = bar.position();
            let watcher = {
                let (bar, progress) = (bar.clone(), progress.clone());
                std::thread::spawn(move || {
                    while Arc::strong_count(&progress) > 1 {
                        bar.set_position(base + progress.load(Ordering::Relaxed));
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
            };
            let server_cpu = target.pid().and_then(procfs::process_cpu_ns);
            let result = actors::run(kind, client, t, addr, &streams, w, progress.clone());
            let server_cpu_ns = target
                .pid()
                .and_then(procfs::process_cpu_ns)
                .zip(server_cpu)
                .map(|(end, start)| end.saturating_sub(start));
            drop(progress);
            watcher.join().ok();
            let actors = result?;
            bar.set_position(base + w.actors as u64 * w.batches);
            runs.push(Run { round, lane, transport: t, actors, server_cpu_ns });
            if consumer_streams[lane.server].is_none() {
                runtime.block_on(actors::delete_streams(target.tcp, &streams))?;
            }
        }
        for (target, streams) in targets.iter().zip(&consumer_streams) {
            if let Some(streams) = streams {
                runtime.block_on(actors::delete_streams(target.tcp, streams))?;
            }
        }
    }
    bar.finish_and_clear();

    // Per lane and transport: every round's samples of each actor, summarised.
    let mut results = Vec::new();
    for (&lane, &t) in lanes.iter().flat_map(|l| transports.iter().map(move |t| (l, t))) {
        let these: Vec<&Run> = runs.iter().filter(|r| r.lane == lane && r.transport == t).collect();
        let per_actor: Vec<Summary> = (0..w.actors)
            .map(|i| {
                let mut lat = Vec::new();
                let mut wall = 0.0;
                for run in &these {
                    lat.extend(run.actors[i].samples.iter().map(|s| s.1));
                    wall += run.actors[i].wall_secs;
                }
                Summary::of(&lat, batch_bytes, w.messages_per_batch as usize, wall)
            })
            .collect();
        let measured = (these.len() * w.actors) as f64 * w.batches as f64;
        let client_cpu: Option<u64> =
            these.iter().flat_map(|r| r.actors.iter().map(|a| a.cpu_ns)).sum();
        let server_cpu: Option<u64> = these.iter().map(|r| r.server_cpu_ns).sum();
        let all_batches = measured * (w.warmup + w.batches) as f64 / w.batches as f64;
        results.push(TransportResult {
            lane,
            name: lane_name(&servers, lane),
            server: servers[lane.server].clone(),
            client: lane.client,
            transport: name(t),
            group: Summary::group(&per_actor),
            actors: per_actor,
            client_cpu_us_per_batch: client_cpu.map(|ns| ns as f64 / 1e3 / measured.max(1.0)),
            server_cpu_us_per_batch: server_cpu.map(|ns| ns as f64 / 1e3 / all_batches.max(1.0)),
        });
    }
    let server_rss = targets[0].peak_rss_mib();
    let mut table = String::new();
    for &lane in &lanes {
        let these: Vec<&TransportResult> = results.iter().filter(|r| r.lane == lane).collect();
        if lanes.len() > 1 {
            table.push_str(&format!("Client: {}\n\n", lane_name(&servers, lane)));
        }
        table.push_str(&article_table(&these));
        table.push('\n');
    }
    if lanes.len() > 1 || transports.len() > 1 {
        table.push_str(&summary_table(&results));
    }
    let rounds = per_round(&runs, &w, batch_bytes, &servers);
    if transports.len() > 1 && args.rounds > 1 {
        table.push('\n');
        table.push_str(&round_ratio_table(&lanes, &servers, &rounds));
    }
    println!(
        "{kind_name}: {} actors × {} batches × {} messages × {} B, fsync {}",
        w.actors, w.batches, w.messages_per_batch, w.message_size, args.fsync
    );
    println!("{table}");
    if let Some(rss) = server_rss {
        println!("server peak RSS: {rss:.1} MiB");
    }
    // The compared server's, when its pid was given: a line of the table, so the report has it.
    if let Some(rss) = targets.get(1).and_then(server::Target::peak_rss_mib) {
        let line = format!("{} peak RSS: {rss:.1} MiB (since it started)\n", servers[1]);
        print!("{line}");
        table.push('\n');
        table.push_str(&line);
    }
    let dir = args.output.join(format!("{kind_name}-{stamp}"));
    write_results(&dir, kind_name, &args, &w, &results, &runs, &rounds, server_rss, &table)?;
    println!("results: {}", dir.display());
    Ok(())
}

/// One client and transport in one round: the group's p50 and average, and CPU per batch.
#[derive(Debug, Clone, serde::Serialize)]
struct RoundResult {
    round: u32,
    #[serde(skip)]
    lane: Lane,
    server: String,
    client: ClientKind,
    transport: &'static str,
    p50_ms: f64,
    avg_ms: f64,
    client_cpu_us_per_batch: Option<f64>,
    server_cpu_us_per_batch: Option<f64>,
}

fn per_round(
    runs: &[Run],
    w: &Workload,
    batch_bytes: usize,
    servers: &[String],
) -> Vec<RoundResult> {
    let batch_messages = w.messages_per_batch as usize;
    // Server CPU covers the warm-up too, as in the summary.
    let all_per_measured = (w.warmup + w.batches) as f64 / w.batches.max(1) as f64;
    runs.iter()
        .map(|run| {
            let actors: Vec<Summary> = run
                .actors
                .iter()
                .map(|a| {
                    let lat: Vec<f64> = a.samples.iter().map(|s| s.1).collect();
                    Summary::of(&lat, batch_bytes, batch_messages, a.wall_secs)
                })
                .collect();
            let group = Summary::group(&actors);
            let measured: usize = actors.iter().map(|a| a.samples).sum();
            let client_cpu: Option<u64> = run.actors.iter().map(|a| a.cpu_ns).sum();
            RoundResult {
                round: run.round,
                lane: run.lane,
                server: servers[run.lane.server].clone(),
                client: run.lane.client,
                transport: name(run.transport),
                p50_ms: group.percentiles[0],
                avg_ms: group.avg,
                client_cpu_us_per_batch: client_cpu
                    .map(|ns| ns as f64 / 1e3 / measured.max(1) as f64),
                server_cpu_us_per_batch: run
                    .server_cpu_ns
                    .map(|ns| ns as f64 / 1e3 / (measured as f64 * all_per_measured).max(1.0)),
            }
        })
        .collect()
}

/// The median of a list (the middle value, or the mean of the two middle ones).
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Per client, each round's WebSocket/TCP p50 ratio (the two ran minutes apart at most, so the
/// machine's slow drifts cancel), and their median: the steadiest single figure of a noisy run.
fn round_ratio_table(lanes: &[Lane], servers: &[String], rounds: &[RoundResult]) -> String {
    let mut out = String::from("| Client | WS/TCP p50 per round | Median |\n|---|---|---:|\n");
    for &lane in lanes {
        let mut ratios = Vec::new();
        for r in rounds.iter().filter(|r| r.lane == lane && r.transport == "ws") {
            let tcp = rounds
                .iter()
                .find(|o| o.lane == lane && o.round == r.round && o.transport == "tcp");
            if let Some(tcp) = tcp {
                ratios.push(r.p50_ms / tcp.p50_ms.max(1e-9));
            }
        }
        let list: Vec<String> = ratios.iter().map(|x| format!("{x:.2}")).collect();
        let med = median(ratios).map_or("n/a".into(), |m| format!("{m:.2}×"));
        out.push_str(&format!("| {} | {} | {med} |\n", lane_name(servers, lane), list.join(" ")));
    }
    out
}

/// Per client, TCP against WebSocket: p50 and average latency, their ratios, throughput, and
/// client and server CPU per batch.
fn summary_table(results: &[TransportResult]) -> String {
    let cpu = |v: Option<f64>| v.map_or("n/a".into(), |us| format!("{us:.0} µs"));
    let mut out = String::from(
        "| Client | Transport | P50 | Average | P50 vs TCP | Average vs TCP | Throughput | Client CPU/batch | Server CPU/batch |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let tcp = results.iter().find(|o| o.lane == r.lane && o.transport == "tcp");
        let ratio = |f: fn(&Summary) -> f64| {
            tcp.map_or("".into(), |t| format!("{:.2}×", f(&r.group) / f(&t.group).max(1e-9)))
        };
        out.push_str(&format!(
            "| {} | {} | {:.3} ms | {:.3} ms | {} | {} | {:.0} MB/s | {} | {} |\n",
            r.name,
            r.transport,
            r.group.percentiles[0],
            r.group.avg,
            ratio(|g| g.percentiles[0]),
            ratio(|g| g.avg),
            r.group.mb_per_s,
            cpu(r.client_cpu_us_per_batch),
            cpu(r.server_cpu_us_per_batch),
        ));
    }
    out
}

/// The article's table: Percentile | TCP | WebSocket | Difference.
fn article_table(results: &[&TransportResult]) -> String {
    let mut rows: Vec<(String, Vec<f64>)> =
        vec![("Average".into(), results.iter().map(|r| r.group.avg).collect())];
    for (i, (label, _)) in PERCENTILES.iter().enumerate() {
        rows.push((label.to_uppercase(), results.iter().map(|r| r.group.percentiles[i]).collect()));
    }
    rows.push(("Min".into(), results.iter().map(|r| r.group.min).collect()));
    rows.push(("Max".into(), results.iter().map(|r| r.group.max).collect()));
    let mut out = String::new();
    let headers: Vec<&str> =
        results.iter().map(|r| if r.transport == "tcp" { "TCP" } else { "WebSocket" }).collect();
    out.push_str(&format!("| Percentile | {} |", headers.join(" | ")));
    if results.len() == 2 {
        out.push_str(" Difference |");
    }
    out.push('\n');
    out.push_str(&format!(
        "|---|{}",
        "---:|".repeat(results.len() + usize::from(results.len() == 2))
    ));
    out.push('\n');
    for (label, values) in rows {
        out.push_str(&format!(
            "| {label} | {} |",
            values.iter().map(|v| format!("{v:.3} ms")).collect::<Vec<_>>().join(" | ")
        ));
        if let [a, b] = values[..] {
            out.push_str(&format!(" {:+.3} ms ({:+.1}%) |", b - a, (b - a) / a.max(1e-9) * 100.0));
        }
        out.push('\n');
    }
    let tput: Vec<String> = results
        .iter()
        .map(|r| format!("{:.1} MB/s, {:.0} msg/s", r.group.mb_per_s, r.group.msgs_per_s))
        .collect();
    out.push_str(&format!(
        "| Throughput | {} |{}\n",
        tput.join(" | "),
        if results.len() == 2 { " |" } else { "" }
    ));
    out
}

#[allow(clippy::too_many_arguments)]
fn write_results(
    dir: &std::path::Path,
    kind: &str,
    args: &RunArgs,
    w: &Workload,
    results: &[TransportResult],
    runs: &[Run],
    rounds: &[RoundResult],
    server_rss: Option<f64>,
    table: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let command: Vec<String> = std::env::args().collect();
    let machine = machine_info();
    let json = serde_json::json!({
        "benchmark": kind,
        "command": command.join(" "),
        "parameters": {
            "actors": w.actors, "messages_per_batch": w.messages_per_batch, "message_size": w.message_size,
            "batches": w.batches, "warmup": w.warmup, "rounds": args.rounds, "fsync": args.fsync,
            "pinned": w.pin, "first_core": w.first_core, "external_server": args.server_address.is_some(),
            "clients": args.client,
            "compared_server": args.compare_address.map(|_| &args.compare_name),
        },
        "machine": machine,
        "server_peak_rss_mib": server_rss,
        "percentile_labels": PERCENTILES.iter().map(|p| p.0).collect::<Vec<_>>(),
        "results": results,
        "rounds": rounds,
    });
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&json)?)?;
    let mut md = format!(
        "# {kind}\n\n`{}`\n\n{} actors × {} batches × {} messages × {} B, {} round(s), fsync {}, server peak RSS {}.\nLatency is the client's wall time of one batch request → response.\n\n{table}\n",
        command.join(" "),
        w.actors,
        w.batches,
        w.messages_per_batch,
        w.message_size,
        args.rounds,
        args.fsync,
        server_rss.map_or("n/a".into(), |r| format!("{r:.1} MiB"))
    );
    for r in results {
        let t = format!("{}-{}", r.name.replace('/', "-"), r.transport);
        let samples: Vec<Vec<(f64, f64)>> = runs
            .iter()
            .filter(|run| run.lane == r.lane && name(run.transport) == r.transport)
            .flat_map(|run| run.actors.iter().map(|x| x.samples.clone()))
            .collect();
        // Latency over time, one line per actor run, clipped at the p99.9 for readability.
        let ymax = chart::nice_max(r.group.percentiles[4] * 1.1);
        let xmax = samples.iter().flat_map(|s| s.last().map(|p| p.0)).fold(0.0, f64::max).max(1e-3);
        let mut canvas = chart::Canvas::new();
        canvas.axes(xmax, ymax);
        for (i, s) in samples.iter().enumerate() {
            canvas.polyline(s, xmax, ymax, chart::COLORS[i % chart::COLORS.len()]);
        }
        canvas.save(&dir.join(format!("latency-over-time-{t}.png")))?;
        // Distribution: a histogram of all latencies up to the p99.9.
        let all: Vec<f64> = samples.iter().flatten().map(|p| p.1).collect();
        let bins = 60usize;
        let width = ymax / bins as f64;
        let mut counts = vec![0usize; bins];
        for v in &all {
            counts[((v / width) as usize).min(bins - 1)] += 1;
        }
        let cmax = chart::nice_max(*counts.iter().max().unwrap_or(&1) as f64);
        let mut canvas = chart::Canvas::new();
        canvas.axes(ymax, cmax);
        for (b, &c) in counts.iter().enumerate() {
            canvas.bar(b as f64 * width, width * 0.9, c as f64, ymax, cmax, chart::COLORS[0]);
        }
        canvas.save(&dir.join(format!("latency-distribution-{t}.png")))?;
        md.push_str(&format!("\n## {t}\n\nLatency over time (x: seconds, y: ms):\n\n![](latency-over-time-{t}.png)\n\nDistribution (x: ms, y: batches):\n\n![](latency-distribution-{t}.png)\n"));
    }
    std::fs::write(dir.join("report.md"), md)?;
    Ok(())
}

/// A new results folder `<output>/<name>-<unix seconds>`, and the command line that made it.
pub(crate) fn results_folder(
    output: &std::path::Path,
    name: &str,
) -> anyhow::Result<(PathBuf, String)> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let dir = output.join(format!("{name}-{stamp}"));
    std::fs::create_dir_all(&dir)?;
    Ok((dir, std::env::args().collect::<Vec<_>>().join(" ")))
}

/// CPU count and model, kernel: the "on what machine" of every results file.
pub(crate) fn machine_info() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_owned())
    });
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu": cpu,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(round: u32, client: ClientKind, transport: &'static str, p50_ms: f64) -> RoundResult {
        RoundResult {
            round,
            lane: Lane { server: 0, client },
            server: "eddy".into(),
            client,
            transport,
            p50_ms,
            avg_ms: p50_ms,
            client_cpu_us_per_batch: None,
            server_cpu_us_per_batch: None,
        }
    }

    #[test]
    fn lanes_are_named_by_client_alone_unless_servers_are_compared() {
        let lane = Lane { server: 1, client: ClientKind::IggySdk };
        assert_eq!(lane_name(&["eddy-server".into()], Lane { server: 0, ..lane }), "iggy-sdk");
        assert_eq!(lane_name(&["eddy-server".into(), "iggy".into()], lane), "iggy/iggy-sdk");
    }

    #[test]
    fn median_of_odd_even_and_empty_lists() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn round_ratios_pair_each_websocket_run_with_its_own_rounds_tcp_run() {
        let rounds = [
            round(0, ClientKind::Eddy, "tcp", 1.0),
            round(0, ClientKind::Eddy, "ws", 2.0),
            round(1, ClientKind::Eddy, "ws", 3.0),
            round(1, ClientKind::Eddy, "tcp", 2.0),
            round(2, ClientKind::Eddy, "tcp", 4.0),
            round(2, ClientKind::Eddy, "ws", 4.0),
        ];
        let lane = Lane { server: 0, client: ClientKind::Eddy };
        let table = round_ratio_table(&[lane], &["eddy".into()], &rounds);
        assert!(table.contains("| eddy | 2.00 1.50 1.00 | 1.50× |"), "{table}");
    }
}
