//! `consume`: what a consumer's way of waiting costs. One producer sends at a steady rate (a
//! batch every millisecond, each message stamped with its origin time); one consumer reads the
//! partition as Iggy's SDK does by default (`busy`: poll again at once, even when nothing came),
//! with a 10 ms pause after an empty poll (`interval`), with POLL_MESSAGES_DEFERRED (`long`:
//! one request waits on the server until a message is there), or subscribed (`push`: the server
//! pushes each group commit's messages within the credit eddy-client's `Subscriber` grants).
//! Then fan-out (one producer, many subscribers of one partition) and what idle waiting polls
//! and idle subscriptions cost the server. Reported per mode, transport and
//! rate: end-to-end latency (origin timestamp to the consumer's receipt; p50/p99/p999), and the
//! server's CPU per delivered message (its process's CPU time over the window, from /proc),
//! and beyond what the producer alone costs it (measured first at each rate), next to the
//! loopback PING round trip measured in the same run. The server runs in a child
//! process pinned to core 0 (1 shard); producer and consumer share this process. Writes a
//! results folder (JSON + Markdown).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use eddy_client::{Batch, Client, Deferred, Poll, Subscriber, Subscription, Transport};
use eddy_wire::Identifier;
use eddy_wire::commands::messages::{Partitioning, PollingStrategy};
use serde::Serialize;

use crate::chart;
use crate::server::Target;
use crate::stats::percentile;

#[derive(clap::Args, Clone)]
pub struct ConsumeArgs {
    /// Messages per second the producer sends, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,100000")]
    rates: Vec<u64>,
    /// Measured seconds per mode, transport and rate.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 100)]
    message_size: usize,
    /// fsync before acknowledging sends (adds the sync to every mode's latency).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    fsync: bool,
    /// Connections that each leave a deferred poll waiting (idle cost, then one append wakes
    /// them all).
    #[arg(long, default_value_t = 10_000)]
    waits: usize,
    /// Subscribers of one partition in the fan-out run (0: skip it).
    #[arg(long, default_value_t = 1000)]
    fanout_subscribers: usize,
    /// Messages per second the fan-out producer sends (a batch every 10 ms).
    #[arg(long, default_value_t = 1000)]
    fanout_rate: u64,
    /// Where the results folder is written.
    #[arg(long, default_value = "bench/results")]
    output: PathBuf,
}

/// What waiting polls cost the server at rest, and how fast one append reaches them all.
#[derive(Serialize, Clone)]
struct Waiting {
    /// What each connection left waiting: a deferred poll or a subscription.
    what: &'static str,
    connections: usize,
    /// Server RSS growth per logged-in idle connection.
    idle_connection_bytes: f64,
    /// Further growth per connection once each has its poll or subscription waiting.
    waiting_bytes: f64,
    /// Server CPU while they all waited (% of a core, over `idle_seconds`).
    idle_cpu_percent: f64,
    idle_seconds: f64,
    /// From the append to the last reply (or push) received, with every connection waiting.
    wake_all_ms: f64,
    /// Median time from the append to a connection's reply.
    wake_p50_ms: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// No consumer: what the producer alone costs the server (the baseline).
    None,
    Busy,
    Interval,
    Long,
    Push,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::None => "no consumer (the producer alone)",
            Mode::Busy => "busy-loop polling (Iggy SDK default)",
            Mode::Interval => "polling, 10 ms after an empty poll",
            Mode::Long => "long polling (POLL_MESSAGES_DEFERRED)",
            Mode::Push => "push (SUBSCRIBE, credit 10,000 messages)",
        }
    }
}

#[derive(Serialize, Clone)]
struct Row {
    mode: Mode,
    transport: &'static str,
    rate: u64,
    delivered: u64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    /// Polls the consumer sent (push: frames it received) per delivered message.
    requests_per_message: f64,
    server_cpu_us_per_message: f64,
    /// Server CPU over the window, % of one core.
    server_cpu_percent: f64,
    /// Server CPU over the window beyond the producer-alone baseline at this rate, % of a core:
    /// what delivering to this consumer costs.
    consumer_cpu_percent: f64,
    /// That consumer share per delivered message, µs.
    consumer_cpu_us_per_message: f64,
    /// The measured window, s.
    elapsed_s: f64,
}

pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let rates = args.rates.clone();
    // The server child inherits the raised open-files limit (10,000 waiting connections).
    crate::procfs::raise_fd_limit().ok();
    let target = Target::spawn(args.fsync, 1)?;
    let pid = target.pid().context("our server")?;
    let ws = target.ws.context("a WebSocket listener")?;
    let runtime = crate::rt::pinned(1)?;
    let mut rows = Vec::new();
    let rtt_ms = runtime.block_on(async {
        let mut admin = Client::connect(Transport::Tcp, target.tcp).await?;
        admin.login("iggy", eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD).await?;
        admin.create_stream("consume").await?;
        // One partition per measurement, so each starts on an empty log.
        let cases = rates.len() * 9 + 1;
        admin.create_topic(&Identifier::Numeric(0), "t", cases as u32).await?;
        let mut rtts = Vec::new();
        for _ in 0..2000 {
            let started = Instant::now();
            admin.ping().await?;
            rtts.push(started.elapsed().as_secs_f64() * 1e3);
        }
        rtts.sort_by(f64::total_cmp);
        anyhow::Ok(percentile(&rtts, 50.0))
    })?;
    let bar = indicatif::ProgressBar::new((rates.len() * 9) as u64).with_message("consume");
    let mut partition = 0u32;
    for &rate in &rates {
        let mut cases = vec![(Transport::Tcp, target.tcp, Mode::None)];
        for (transport, addr) in [(Transport::Tcp, target.tcp), (Transport::WebSocket, ws)] {
            for mode in [Mode::Busy, Mode::Interval, Mode::Long, Mode::Push] {
                cases.push((transport, addr, mode));
            }
        }
        let mut baseline = 0.0;
        for (transport, addr, mode) in cases {
            let mut row = runtime.block_on(measure(
                &args, target.tcp, addr, transport, mode, rate, partition, pid,
            ))?;
            if mode == Mode::None {
                baseline = row.server_cpu_percent;
            }
            row.consumer_cpu_percent = row.server_cpu_percent - baseline;
            let per_second = row.delivered.max(1) as f64 / row.elapsed_s.max(1e-9);
            row.consumer_cpu_us_per_message = row.consumer_cpu_percent / 100.0 * 1e6 / per_second;
            rows.push(row);
            partition += 1;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let fanout = match args.fanout_subscribers {
        0 => None,
        n => Some(runtime.block_on(fan_out(&args, target.tcp, pid, partition, n))?),
    };
    drop(target);
    // Each idle-cost run gets a fresh server: memory freed by the previous run would otherwise
    // be reused and hide the growth.
    let mut waits = Vec::new();
    for what in ["deferred poll", "subscription"] {
        let fresh = Target::spawn(args.fsync, 1)?;
        let pid = fresh.pid().context("our server")?;
        runtime.block_on(async {
            let mut admin = Client::connect(Transport::Tcp, fresh.tcp).await?;
            admin.login("iggy", eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD).await?;
            admin.create_stream("idle").await?;
            admin.create_topic(&Identifier::Numeric(0), "t", 1).await?;
            anyhow::Ok(())
        })?;
        waits.push(runtime.block_on(waiting_cost(fresh.tcp, pid, 0, args.waits, what))?);
    }
    let mut md = format!(
        "Loopback PING round trip (p50): {rtt_ms:.3} ms.\n\n| mode | transport | msg/s | delivered | p50 | p99 | p999 | polls (push: frames) per message | server CPU | of it for the consumer | server CPU per message | consumer's share per message |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.2} | {:.0}% | {:.0}% | {:.1} µs | {:.1} µs |\n",
            r.mode.label(),
            r.transport,
            r.rate,
            r.delivered,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.requests_per_message,
            r.server_cpu_percent,
            r.consumer_cpu_percent,
            r.server_cpu_us_per_message,
            r.consumer_cpu_us_per_message,
        ));
    }
    if let Some(f) = &fanout {
        md.push_str(&format!(
            "\nFan-out: one producer at {} msg/s (a batch every 10 ms), {} subscribers of one partition (TCP): {} messages delivered, p50 {:.3} ms, p99 {:.3} ms, p999 {:.3} ms; server CPU {:.0}% of a core, {:.2} µs per delivered message.\n",
            f.rate, f.subscribers, f.delivered, f.p50_ms, f.p99_ms, f.p999_ms, f.server_cpu_percent, f.server_cpu_us_per_message
        ));
    }
    for w in &waits {
        md.push_str(&format!(
            "\n{} connections, each with a {} waiting on one empty partition (no heartbeats): server memory {:.0} bytes per idle logged-in connection, {:.0} more per {}; server CPU while they waited {:.1}% of a core over {:.0} s; one append reached all of them in {:.1} ms (median {:.1} ms after the append).\n",
            w.connections,
            w.what,
            w.idle_connection_bytes,
            w.waiting_bytes,
            w.what,
            w.idle_cpu_percent,
            w.idle_seconds,
            w.wake_all_ms,
            w.wake_p50_ms
        ));
    }
    println!("{md}");
    let (dir, command) = crate::results_folder(&args.output, "consume")?;
    let json = serde_json::json!({
        "benchmark": "consume",
        "command": command,
        "parameters": { "rates": rates, "seconds": args.seconds, "message_size": args.message_size,
                        "fsync": args.fsync, "shards": 1, "batch_every_ms": 1, "long_poll_wait_ms": 1000,
                        "push_window_messages": 10_000, "fanout_subscribers": args.fanout_subscribers,
                        "fanout_rate": args.fanout_rate },
        "machine": crate::machine_info(),
        "loopback_ping_rtt_p50_ms": rtt_ms,
        "results": rows,
        "fanout": fanout,
        "waiting": waits,
    });
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&json)?)?;
    let report = format!(
        "# consume\n\n`{command}`\n\nOne producer sends a batch every millisecond ({} B payloads) to its own partition; one consumer reads it busy-looping (Iggy's SDK default), pausing 10 ms after an empty poll, with POLL_MESSAGES_DEFERRED (1 s wait, min 1 message), or subscribed (eddy-client's `Subscriber`: SUBSCRIBE with a window of 10,000 messages and 16 MiB, batches of up to 1,000, heartbeat 1 s). Latency: the message's origin timestamp to the consumer's receipt. Server CPU: the server process's user+system time over the {} s window (child process, 1 shard, pinned to core 0; producer and consumer share core 1), fsync {}.\n\n{md}",
        args.message_size,
        args.seconds,
        if args.fsync { "on" } else { "off" }
    );
    let report = report + &charts(&dir, &rates, &rows)?;
    std::fs::write(dir.join("report.md"), report)?;
    println!("results: {}", dir.display());
    Ok(())
}

fn now_micros() -> u64 {
    eddy_server::shard::partition::now_micros()
}

/// The producer: its own thread and runtime, a batch of `per_batch` stamped messages every
/// `every`, until `stop`; returns how many it sent.
fn spawn_producer(
    tcp: SocketAddr,
    partition: u32,
    per_batch: usize,
    every: Duration,
    size: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<anyhow::Result<u64>> {
    std::thread::spawn(move || -> anyhow::Result<u64> {
        crate::rt::pinned(1)?.block_on(async move {
            let (s, t) = (Identifier::Numeric(0), Identifier::Numeric(0));
            let mut c = Client::connect(Transport::Tcp, tcp).await?;
            c.login("iggy", eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD).await?;
            let body = vec![0x42u8; size];
            let started = Instant::now();
            let mut sent = 0u64;
            let mut tick = 0u32;
            while !stop.load(Ordering::Relaxed) {
                tick += 1;
                let at = started + every * tick;
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    compio::time::sleep(wait).await;
                }
                let origin = now_micros();
                let batch = Batch::stamped(
                    origin,
                    (0..per_batch).map(|i| (sent as u128 + i as u128 + 1, &body[..], &[][..])),
                );
                c.send(&s, &t, &Partitioning::PartitionId(partition), &batch).await?;
                sent += per_batch as u64;
            }
            Ok(sent)
        })
    })
}

/// A subscriber of one partition from its first message.
async fn subscriber(
    transport: Transport,
    addr: SocketAddr,
    partition: u32,
    consumer: u32,
) -> anyhow::Result<Subscriber> {
    let mut spec = Subscription::new(consumer);
    spec.partitions = Some(vec![partition]);
    spec.heartbeat = Duration::from_secs(1);
    let (s, t) = (Identifier::Numeric(0), Identifier::Numeric(0));
    let password = eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD;
    Ok(Subscriber::connect(transport, addr, "iggy", password, &s, &t, spec).await?)
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &ConsumeArgs,
    tcp: SocketAddr,
    addr: SocketAddr,
    transport: Transport,
    mode: Mode,
    rate: u64,
    partition: u32,
    server_pid: u32,
) -> anyhow::Result<Row> {
    let per_batch = rate.div_ceil(1000).max(1) as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let window = Duration::from_secs_f64(args.seconds);
    let every = Duration::from_millis(1);
    let producer =
        spawn_producer(tcp, partition, per_batch, every, args.message_size, stop.clone());
    let (s, t) = (Identifier::Numeric(0), Identifier::Numeric(0));
    let mut c = Client::connect(transport, addr).await?;
    c.login("iggy", eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD).await?;
    let mut sub = match mode {
        Mode::Push => Some(subscriber(transport, addr, partition, 1).await?),
        _ => None,
    };
    let mut next = 0u64;
    let mut latencies = Vec::new();
    let mut requests = 0u64;
    // Warm up for a tenth of the window, then measure.
    let warm_until = Instant::now() + window / 10;
    let mut measuring = false;
    let mut cpu_start = 0.0;
    let mut measure_start = Instant::now();
    let end = warm_until + window;
    while Instant::now() < end {
        if !measuring && Instant::now() >= warm_until {
            measuring = true;
            latencies.clear();
            requests = 0;
            cpu_start = crate::procfs::cpu_secs(server_pid).unwrap_or(0.0);
            measure_start = Instant::now();
        }
        let spec = Poll {
            partition,
            consumer: 1,
            strategy: PollingStrategy::Offset(next),
            count: 10_000,
            auto_commit: false,
        };
        let polled = match (mode, sub.as_mut()) {
            (Mode::None, _) => {
                compio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            // The producer never pauses, so the next push is at most a millisecond away.
            (Mode::Push, Some(sub)) => sub.next().await?,
            (Mode::Long, _) => {
                let wait = Deferred { wait: Duration::from_secs(1), min_count: 1, max_bytes: 0 };
                c.poll_deferred(&s, &t, &spec, &wait).await?
            }
            _ => c.poll(&s, &t, &spec).await?,
        };
        requests += 1;
        let now = now_micros();
        for m in &polled.messages {
            latencies.push(now.saturating_sub(m.origin_timestamp) as f64 / 1e3);
        }
        next += polled.messages.len() as u64;
        if polled.messages.is_empty() && mode == Mode::Interval {
            compio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let cpu = crate::procfs::cpu_secs(server_pid).unwrap_or(0.0) - cpu_start;
    let elapsed = measure_start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    producer.join().map_err(|_| anyhow::anyhow!("producer panicked"))??;
    drop(sub);
    latencies.sort_by(f64::total_cmp);
    let delivered = match mode {
        Mode::None => (rate as f64 * elapsed) as u64,
        _ => latencies.len() as u64,
    };
    Ok(Row {
        mode,
        transport: crate::name(transport),
        rate,
        delivered,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        p999_ms: percentile(&latencies, 99.9),
        requests_per_message: requests as f64 / delivered.max(1) as f64,
        server_cpu_us_per_message: cpu * 1e6 / delivered.max(1) as f64,
        server_cpu_percent: cpu / elapsed * 100.0,
        consumer_cpu_percent: 0.0,
        consumer_cpu_us_per_message: 0.0,
        elapsed_s: elapsed,
    })
}

/// Fan-out: what many subscribers of one partition cost.
#[derive(Serialize, Clone)]
struct FanOut {
    subscribers: usize,
    rate: u64,
    delivered: u64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    server_cpu_percent: f64,
    server_cpu_us_per_message: f64,
}

/// `n` subscribers of `partition` (each on its own connection, all in this task's runtime) and
/// one producer at `args.fanout_rate`; latency over every delivered message.
async fn fan_out(
    args: &ConsumeArgs,
    tcp: SocketAddr,
    pid: u32,
    partition: u32,
    n: usize,
) -> anyhow::Result<FanOut> {
    let latencies = Rc::new(RefCell::new(Vec::new()));
    let recording = Rc::new(Cell::new(false));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let mut sub = subscriber(Transport::Tcp, tcp, partition, 1000 + i as u32).await?;
        let (latencies, recording) = (latencies.clone(), recording.clone());
        tasks.push(compio::runtime::spawn(async move {
            while let Ok(polled) = sub.next().await {
                if recording.get() {
                    let now = now_micros();
                    let mut l = latencies.borrow_mut();
                    for m in &polled.messages {
                        l.push(now.saturating_sub(m.origin_timestamp) as f64 / 1e3);
                    }
                }
            }
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let per_batch = args.fanout_rate.div_ceil(100).max(1) as usize;
    let every = Duration::from_millis(10);
    let producer =
        spawn_producer(tcp, partition, per_batch, every, args.message_size, stop.clone());
    compio::time::sleep(Duration::from_secs_f64(args.seconds / 10.0 + 0.5)).await;
    recording.set(true);
    let cpu_start = crate::procfs::cpu_secs(pid).unwrap_or(0.0);
    let started = Instant::now();
    compio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    recording.set(false);
    let cpu = crate::procfs::cpu_secs(pid).unwrap_or(0.0) - cpu_start;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    producer.join().map_err(|_| anyhow::anyhow!("producer panicked"))??;
    drop(tasks); // cancels the subscribers: their connections close
    let mut l = latencies.take();
    l.sort_by(f64::total_cmp);
    let delivered = l.len() as u64;
    Ok(FanOut {
        subscribers: n,
        rate: args.fanout_rate,
        delivered,
        p50_ms: percentile(&l, 50.0),
        p99_ms: percentile(&l, 99.0),
        p999_ms: percentile(&l, 99.9),
        server_cpu_percent: cpu / elapsed * 100.0,
        server_cpu_us_per_message: cpu * 1e6 / delivered.max(1) as f64,
    })
}

/// Bar charts per rate: server CPU per delivered message, and p50 latency, per mode and
/// transport. Returns the Markdown that shows them.
fn charts(dir: &std::path::Path, rates: &[u64], rows: &[Row]) -> anyhow::Result<String> {
    let mut md = String::from(
        "\n## Charts\n\nBars, left to right: busy (blue), interval (red), long (green), push (orange) over TCP, then the same over WebSocket.\n",
    );
    for &rate in rates {
        let bars: Vec<&Row> =
            rows.iter().filter(|r| r.rate == rate && r.mode != Mode::None).collect();
        for (name, value, unit) in [
            (
                "cpu-per-message",
                (|r: &Row| r.consumer_cpu_us_per_message.max(0.0)) as fn(&Row) -> f64,
                "µs of server CPU per delivered message for the consumer (beyond the producer alone)",
            ),
            ("latency-p50", |r: &Row| r.p50_ms, "p50 end-to-end latency, ms"),
        ] {
            let ymax = chart::nice_max(bars.iter().map(|r| value(r)).fold(0.0, f64::max) * 1.1);
            let xmax = bars.len().max(1) as f64;
            let mut canvas = chart::Canvas::new();
            canvas.axes(xmax, ymax);
            for (i, r) in bars.iter().enumerate() {
                let color = chart::COLORS[i % 4];
                canvas.bar(i as f64 + 0.1, 0.8, value(r), xmax, ymax, color);
            }
            let file = format!("{name}-{rate}.png");
            canvas.save(&dir.join(&file))?;
            md.push_str(&format!("\n{rate} msg/s, {unit}:\n\n![]({file})\n"));
        }
    }
    Ok(md)
}

/// Opens `n` connections (logged in), measures the server's memory, leaves a deferred poll
/// (or a subscription, `what`) waiting on each (partition `partition`, empty), measures again
/// and the CPU while they wait, then appends one message and times the replies (or pushes).
async fn waiting_cost(
    tcp: SocketAddr,
    pid: u32,
    partition: u32,
    n: usize,
    what: &'static str,
) -> anyhow::Result<Waiting> {
    let subscribing = what == "subscription";
    use compio::io::{AsyncReadExt, AsyncWriteExt};
    let rss = || crate::procfs::rss_kib(pid).unwrap_or(0.0) * 1024.0;
    let settle = || compio::time::sleep(Duration::from_millis(500));
    settle().await;
    let before = rss();
    let mut conns = Vec::with_capacity(n);
    let login = raw_request(eddy_wire::codes::command::LOGIN_USER, &login_payload());
    for _ in 0..n {
        let mut s = compio::net::TcpStream::connect(tcp).await?;
        s.write_all(login.clone()).await.0?;
        let compio::buf::BufResult(res, head) = s.read_exact(Vec::with_capacity(12)).await;
        res?;
        anyhow::ensure!(head[..4] == [0; 4], "login refused (connection caps?)");
        conns.push(s);
    }
    settle().await;
    let idle = rss();
    let poll = match subscribing {
        true => raw_request(eddy_wire::codes::command::SUBSCRIBE, &subscribe(partition)),
        false => raw_request(
            eddy_wire::codes::command::POLL_MESSAGES_DEFERRED,
            &deferred_poll(partition),
        ),
    };
    for s in &mut conns {
        s.write_all(poll.clone()).await.0?;
        if subscribing {
            // [status][length][subscription][1 partition][partition][start]
            let compio::buf::BufResult(res, head) = s.read_exact(Vec::with_capacity(28)).await;
            res?;
            anyhow::ensure!(head[..4] == [0; 4], "subscribe refused");
        }
    }
    settle().await;
    let waiting = rss();
    let cpu_before = crate::procfs::cpu_secs(pid).unwrap_or(0.0);
    let idle_seconds = 2.0;
    compio::time::sleep(Duration::from_secs_f64(idle_seconds)).await;
    let idle_cpu = crate::procfs::cpu_secs(pid).unwrap_or(0.0) - cpu_before;
    // One append wakes every waiting poll; each connection's reply is read in its own task.
    let started = Instant::now();
    let mut readers = Vec::with_capacity(n);
    for mut s in conns {
        readers.push(compio::runtime::spawn(async move {
            let compio::buf::BufResult(res, head) = s.read_exact(Vec::with_capacity(8)).await;
            res.map(|_| (started.elapsed(), head))
        }));
    }
    let mut producer = Client::connect(Transport::Tcp, tcp).await?;
    producer.login("iggy", eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD).await?;
    let batch = Batch::from_payloads([(1u128, &b"wake"[..])]);
    let (s, t) = (Identifier::Numeric(0), Identifier::Numeric(0));
    let sent_at = started.elapsed();
    producer.send(&s, &t, &Partitioning::PartitionId(partition), &batch).await?;
    let mut wakes = Vec::with_capacity(n);
    for r in readers {
        let (at, head) = r.await.map_err(|_| anyhow::anyhow!("reader panicked"))??;
        let expected = match subscribing {
            true => eddy_wire::codes::status::PUSH_FRAME,
            false => eddy_wire::codes::status::OK,
        };
        anyhow::ensure!(head[..4] == expected.to_le_bytes(), "no reply or push");
        wakes.push(at.saturating_sub(sent_at).as_secs_f64() * 1e3);
    }
    wakes.sort_by(f64::total_cmp);
    let per = |a: f64, b: f64| (b - a) / n.max(1) as f64;
    Ok(Waiting {
        what,
        connections: n,
        idle_connection_bytes: per(before, idle),
        waiting_bytes: per(idle, waiting),
        idle_cpu_percent: idle_cpu / idle_seconds * 100.0,
        idle_seconds,
        wake_all_ms: wakes.last().copied().unwrap_or(0.0),
        wake_p50_ms: percentile(&wakes, 50.0),
    })
}

/// A whole request: header, then `payload`.
pub(crate) fn raw_request(code: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::with_capacity(8 + payload.len());
    eddy_wire::framing::RequestHeader::encode(code, payload.len(), &mut out);
    out.extend_from_slice(payload);
    out.to_vec()
}

pub(crate) fn login_payload() -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    eddy_wire::commands::users::Login {
        username: "iggy".into(),
        password: eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD.into(),
        version: None,
    }
    .encode(&mut out);
    out.to_vec()
}

/// A deferred poll by consumer 1 of `partition` from offset 0, waiting up to 30 s for 1 message.
fn deferred_poll(partition: u32) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    let spec = Poll {
        partition,
        consumer: 1,
        strategy: PollingStrategy::Offset(0),
        count: 10,
        auto_commit: false,
    };
    let wait = Deferred { wait: Duration::from_secs(30), min_count: 1, max_bytes: 0 };
    let (s, t) = (Identifier::Numeric(0), Identifier::Numeric(0));
    eddy_client::encode_poll_deferred(&mut out, &s, &t, &spec, &wait);
    out.to_vec()
}

/// A subscription by consumer 1 of `partition` from offset 0 (credit 10 messages, 1 MiB; no
/// heartbeats).
fn subscribe(partition: u32) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    eddy_wire::commands::push::Subscribe {
        consumer: eddy_wire::commands::Consumer { kind: 1, id: Identifier::Numeric(1) },
        stream: Identifier::Numeric(0),
        topic: Identifier::Numeric(0),
        strategy: PollingStrategy::First,
        batch: 10,
        auto_commit: false,
        credit_messages: 10,
        credit_bytes: 1 << 20,
        heartbeat_ms: 0,
        partitions: vec![(partition, 0)],
    }
    .encode(&mut out);
    out.to_vec()
}
