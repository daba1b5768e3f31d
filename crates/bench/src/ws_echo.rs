//! `ws-echo`: WebSocket echo against peer crates and raw TCP. Every server runs single-threaded
//! and pinned (core 0) in its own child process, started fresh for each measurement; the load
//! generator runs pinned to another core. Scenarios: ping-pong latency, pipelined throughput,
//! one large message round trip, idle memory per connection, and permessage-deflate on JSON.
//! Peers are interleaved round by round; the report gives medians, ratios to the best other
//! WebSocket peer and to raw TCP, and the CPU of both sides.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::echo_servers::{self, IMPLS, Impl};
use crate::{loadgen, procfs};

#[derive(clap::Args, Clone)]
pub struct EchoArgs {
    /// Seconds per timed measurement.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Rounds (peers interleaved in each); medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Open-connection counts for the idle-memory rows.
    #[arg(long, value_delimiter = ',', default_values_t = [1000usize, 10000])]
    idle: Vec<usize>,
    /// Size of the large-message round trip, MiB.
    #[arg(long, default_value_t = 16)]
    large_mib: usize,
    /// Only these peers (default: all).
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Only scenarios whose label contains one of these, `;`-separated (labels hold commas),
    /// e.g. `ping-pong;128×32, 64 KiB`.
    #[arg(long, value_delimiter = ';')]
    only: Vec<String>,
    /// Skip the permessage-deflate table.
    #[arg(long)]
    no_compression: bool,
    /// Where the results folder is written.
    #[arg(long, default_value = "bench/results")]
    output: PathBuf,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// One connection, one message in flight: median round trip.
    PingPong { size: usize },
    /// `connections` × 32 in flight: messages per second.
    Pipelined { connections: usize, size: usize },
    /// One message of `size` bytes, one at a time: median round trip.
    Large { size: usize },
    /// `connections` open and silent: server RSS growth per connection.
    Idle { connections: usize },
}

const IN_FLIGHT: usize = 32;
const SIZES: [usize; 3] = [16, 1024, 64 << 10];

fn size_label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1024 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

impl Scenario {
    fn label(self) -> String {
        match self {
            Self::PingPong { size } => format!("ping-pong {}", size_label(size)),
            Self::Pipelined { connections, size } => {
                format!("pipelined {connections}×{IN_FLIGHT}, {}", size_label(size))
            }
            Self::Large { size } => format!("{} round trip", size_label(size)),
            Self::Idle { connections } => format!("idle memory, {connections} connections"),
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Self::PingPong { .. } => "median round trip µs",
            Self::Pipelined { .. } => "messages/s",
            Self::Large { .. } => "median round trip ms",
            Self::Idle { .. } => "server RSS KiB per connection",
        }
    }

    fn higher_is_better(self) -> bool {
        matches!(self, Self::Pipelined { .. })
    }

    fn cell(self, v: f64) -> String {
        match self {
            Self::PingPong { .. } => format!("{v:.0} µs"),
            Self::Pipelined { .. } => format!("{:.0} k/s", v / 1e3),
            Self::Large { .. } => format!("{v:.1} ms"),
            Self::Idle { .. } => format!("{v:.1} KiB"),
        }
    }
}

/// One measurement of one peer in one scenario.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Sample {
    value: f64,
    /// Server CPU over the measurement, % of one core.
    server_cpu_pct: f64,
    /// Load generator CPU, % of one core.
    load_cpu_pct: f64,
    /// Server peak RSS at the end, MiB.
    server_peak_rss_mib: f64,
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    x.get(x.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs one measurement of `imp` in `scenario` against a freshly started server.
fn measure(
    imp: &Impl,
    scenario: Scenario,
    args: &EchoArgs,
    load_core: usize,
) -> anyhow::Result<Sample> {
    echo_servers::with_server(imp.name, 0, |pid, addr| {
        let duration = Duration::from_secs_f64(args.seconds.max(0.05));
        let load = |connections, in_flight, size, duration, max_messages| loadgen::Load {
            connections,
            in_flight,
            size,
            duration,
            max_messages,
            websocket: imp.websocket,
            deflate: false,
        };
        let timed = |load: loadgen::Load| -> anyhow::Result<(loadgen::Measured, f64)> {
            let cpu0 = procfs::cpu_secs(pid).unwrap_or(0.0);
            let m = loadgen::run(addr, load, load_core)?;
            let server = procfs::cpu_secs(pid).unwrap_or(0.0) - cpu0;
            anyhow::ensure!(m.messages > 0, "{}: no message echoed", imp.name);
            Ok((m, server))
        };
        let (value, m, server_cpu) = match scenario {
            Scenario::PingPong { size } => {
                let (m, s) = timed(load(1, 1, size, duration, u64::MAX))?;
                (m.median_rtt_us, Some(m), s)
            }
            Scenario::Pipelined { connections, size } => {
                let (m, s) = timed(load(connections, IN_FLIGHT, size, duration, u64::MAX))?;
                (m.msgs_per_s, Some(m), s)
            }
            Scenario::Large { size } => {
                // Bounded by count (20 round trips) and by time (at least 5 s for slow peers).
                let (m, s) = timed(load(1, 1, size, duration.max(Duration::from_secs(5)), 20))?;
                (m.median_rtt_us / 1e3, Some(m), s)
            }
            Scenario::Idle { connections } => {
                let before = procfs::rss_kib(pid).unwrap_or(0.0);
                let after = loadgen::hold_idle(
                    addr,
                    imp.websocket,
                    connections,
                    Duration::from_millis(500),
                    load_core,
                    move || procfs::rss_kib(pid),
                )?
                .unwrap_or(before);
                (((after - before) / connections as f64).max(0.0), None, 0.0)
            }
        };
        let pct = |cpu: f64, m: &loadgen::Measured| 100.0 * cpu / m.wall_secs.max(1e-9);
        Ok(Sample {
            value,
            server_cpu_pct: m.as_ref().map_or(0.0, |m| pct(server_cpu, m)),
            load_cpu_pct: m.as_ref().map_or(0.0, |m| pct(m.cpu_secs, m)),
            server_peak_rss_mib: procfs::peak_rss_kib(pid).unwrap_or(0.0) / 1024.0,
        })
    })
}

/// The `ws-echo` subcommand.
pub fn run(args: EchoArgs) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load_core = 1 % cores;
    let fd_limit = procfs::raise_fd_limit()?;
    let impls: Vec<Impl> = IMPLS
        .iter()
        .filter(|i| args.peers.is_empty() || args.peers.iter().any(|p| p == i.name))
        .copied()
        .collect();
    anyhow::ensure!(!impls.is_empty(), "no peer matches --peers");
    let mut scenarios: Vec<Scenario> =
        SIZES.iter().map(|&size| Scenario::PingPong { size }).collect();
    for connections in [1, 16, 128] {
        scenarios.extend(SIZES.iter().map(|&size| Scenario::Pipelined { connections, size }));
    }
    scenarios.push(Scenario::Large { size: args.large_mib << 20 });
    for &connections in &args.idle {
        // The load generator's and the server's descriptors each count against their own limit.
        if (connections as u64) + 64 > fd_limit {
            eprintln!(
                "skipping idle memory with {connections} connections: the open-files limit is {fd_limit}"
            );
            continue;
        }
        scenarios.push(Scenario::Idle { connections });
    }
    scenarios.retain(|s| {
        args.only.is_empty() || args.only.iter().any(|o| s.label().contains(o.as_str()))
    });

    // samples[scenario][impl] = one per round
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); impls.len()]; scenarios.len()];
    let bar = indicatif::ProgressBar::new((args.rounds * scenarios.len() * impls.len()) as u64)
        .with_style(indicatif::ProgressStyle::with_template(
            "{msg:40} [{bar:30}] {pos}/{len} ({eta})",
        )?);
    for _ in 0..args.rounds {
        for (si, &scenario) in scenarios.iter().enumerate() {
            for (ii, imp) in impls.iter().enumerate() {
                bar.set_message(format!("{} · {}", scenario.label(), imp.name));
                samples[si][ii].push(measure(imp, scenario, &args, load_core)?);
                bar.inc(1);
            }
        }
    }
    let compression = match args.no_compression {
        true => Compression { rows: Vec::new() },
        false => compression(&args, load_core, &bar)?,
    };
    bar.finish_and_clear();

    let report = Report::new(&impls, &scenarios, &samples);
    let md = format!("{}\n{}\n{}", report.table(), report.cpu_table(), compression.table());
    println!("{md}");

    let (dir, command) = crate::results_folder(&args.output, "ws-echo")?;
    let json = serde_json::json!({
        "benchmark": "ws-echo",
        "command": command,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "in_flight": IN_FLIGHT,
        "servers_pinned_core": 0,
        "load_pinned_core": load_core,
        "machine": crate::machine_info(),
        "io_uring": crate::rt::mode(),
        "peers": impls.iter().map(|i| serde_json::json!({"name": i.name, "how": i.how})).collect::<Vec<_>>(),
        "results": report.json(),
        "compression": compression.json(),
    });
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&json)?)?;
    let peers: String = impls.iter().map(|i| format!("- **{}**: {}\n", i.name, i.how)).collect();
    std::fs::write(
        dir.join("report.md"),
        format!(
            "# ws-echo\n\n`{}`\n\nMedians of {} rounds ({} s per timed measurement; peers interleaved in each round). Each server is single-threaded, pinned to core 0, in its own process started fresh per measurement; the load generator is pinned to core {load_core}, sends pre-built masked frames and parses replies by header only. Pipelined rows keep {IN_FLIGHT} messages in flight per connection. Ratios > 1 mean eddy is better. Idle memory is the server's RSS growth divided by the connections held open. compio runtimes: io_uring `{uring}`. Machine: {machine}.\n\nPeers:\n\n{peers}\n{md}",
            command,
            args.rounds,
            args.seconds,
            uring = crate::rt::mode(),
            machine = machine_line(),
        ),
    )?;
    println!("results: {}", dir.display());
    Ok(())
}

/// "2 × AMD EPYC, Linux 6.x" for the report.
fn machine_line() -> String {
    let m = crate::machine_info();
    format!(
        "{} × {}, Linux {}",
        m["cpus"],
        m["cpu"].as_str().unwrap_or("unknown CPU"),
        m["kernel"].as_str().unwrap_or("unknown")
    )
}

/// Medians and ratios of the main table.
struct Report<'a> {
    impls: &'a [Impl],
    scenarios: &'a [Scenario],
    samples: &'a [Vec<Vec<Sample>>],
}

impl<'a> Report<'a> {
    fn new(impls: &'a [Impl], scenarios: &'a [Scenario], samples: &'a [Vec<Vec<Sample>>]) -> Self {
        Self { impls, scenarios, samples }
    }

    fn medians(&self, si: usize, f: fn(&Sample) -> f64) -> Vec<f64> {
        self.samples[si].iter().map(|runs| median(runs.iter().map(f).collect())).collect()
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.impls.iter().position(|i| i.name == name)
    }

    /// "eddy is N× better than `other`" (throughput: eddy/other; latency, memory: other/eddy).
    fn ratio(scenario: Scenario, eddy: f64, other: f64) -> f64 {
        // Idle memory can be ~0; compare from 0.1 KiB up so a ratio stays meaningful.
        let (eddy, other) = match scenario {
            Scenario::Idle { .. } => (eddy.max(0.1), other.max(0.1)),
            _ => (eddy, other),
        };
        if scenario.higher_is_better() { eddy / other } else { other / eddy }
    }

    /// Index of the best WebSocket peer other than eddy for row `si`.
    fn best_peer(&self, si: usize, values: &[f64]) -> Option<usize> {
        let better = |a: f64, b: f64| {
            if self.scenarios[si].higher_is_better() { a > b } else { a < b }
        };
        (0..self.impls.len())
            .filter(|&i| self.impls[i].websocket && !self.impls[i].name.starts_with("eddy"))
            .filter(|&i| values[i].is_finite())
            .reduce(|best, i| if better(values[i], values[best]) { i } else { best })
    }

    fn table(&self) -> String {
        let names: Vec<&str> = self.impls.iter().map(|i| i.name).collect();
        let mut md = format!(
            "| scenario | {} | eddy vs best other WebSocket peer | eddy vs raw TCP (compio) | plain loop vs tuned |\n|---|{}---|---:|---:|\n",
            names.join(" | "),
            "---:|".repeat(names.len())
        );
        let (eddy, raw) = (self.index("eddy"), self.index("raw-compio"));
        let plain = self.index("eddy-plain");
        for (si, &scenario) in self.scenarios.iter().enumerate() {
            let values = self.medians(si, |s| s.value);
            let cells: Vec<String> = values.iter().map(|&v| scenario.cell(v)).collect();
            let vs_peer = match (eddy, self.best_peer(si, &values)) {
                (Some(e), Some(p)) => format!(
                    "{:.2}× ({})",
                    Self::ratio(scenario, values[e], values[p]),
                    self.impls[p].name
                ),
                _ => "n/a".into(),
            };
            let vs_raw = match (eddy, raw) {
                (Some(e), Some(r)) if !matches!(scenario, Scenario::Idle { .. }) => {
                    format!("{:.2}×", Self::ratio(scenario, values[e], values[r]))
                }
                _ => "n/a".into(),
            };
            let vs_tuned = match (plain, eddy) {
                (Some(p), Some(e)) => {
                    format!("{:.2}×", Self::ratio(scenario, values[p], values[e]))
                }
                _ => "n/a".into(),
            };
            md.push_str(&format!(
                "| {} | {} | {vs_peer} | {vs_raw} | {vs_tuned} |\n",
                scenario.label(),
                cells.join(" | ")
            ));
            if let Scenario::Large { .. } = scenario {
                let rss = self.medians(si, |s| s.server_peak_rss_mib);
                let cells: Vec<String> = rss.iter().map(|v| format!("{v:.0} MiB")).collect();
                md.push_str(&format!("| ↳ server peak RSS | {} | | | |\n", cells.join(" | ")));
            }
        }
        md
    }

    /// Server and load-generator CPU (% of one core) per timed row.
    fn cpu_table(&self) -> String {
        let names: Vec<&str> = self.impls.iter().map(|i| i.name).collect();
        let mut md = format!(
            "CPU, % of one core: server / load generator\n\n| scenario | {} |\n|---|{}\n",
            names.join(" | "),
            "---:|".repeat(names.len())
        );
        for (si, &scenario) in self.scenarios.iter().enumerate() {
            if let Scenario::Idle { .. } = scenario {
                continue;
            }
            let server = self.medians(si, |s| s.server_cpu_pct);
            let load = self.medians(si, |s| s.load_cpu_pct);
            let cells: Vec<String> =
                server.iter().zip(&load).map(|(s, l)| format!("{s:.0} / {l:.0}")).collect();
            md.push_str(&format!("| {} | {} |\n", scenario.label(), cells.join(" | ")));
        }
        md
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.scenarios
            .iter()
            .enumerate()
            .map(|(si, &scenario)| {
                let peers: BTreeMap<&str, serde_json::Value> = self
                    .impls
                    .iter()
                    .enumerate()
                    .map(|(ii, imp)| {
                        let runs = &self.samples[si][ii];
                        (
                            imp.name,
                            serde_json::json!({
                                "median": median(runs.iter().map(|s| s.value).collect()),
                                "rounds": runs,
                            }),
                        )
                    })
                    .collect();
                serde_json::json!({"scenario": scenario.label(), "unit": scenario.unit(), "peers": peers})
            })
            .collect()
    }
}

/// JSON-like text through eddy with and without permessage-deflate, pipelined 1×16.
struct Compression {
    /// (payload size, plain msg/s, deflate msg/s)
    rows: Vec<(usize, f64, f64)>,
}

fn compression(
    args: &EchoArgs,
    load_core: usize,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Compression> {
    let duration = Duration::from_secs_f64(args.seconds.max(0.05));
    let mut rows = Vec::new();
    for size in [1024usize, 64 << 10] {
        let (mut plain, mut deflated) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds {
            for (name, deflate) in [("eddy", false), (echo_servers::EDDY_DEFLATE, true)] {
                bar.set_message(format!("JSON {} · {name}", size_label(size)));
                let load = loadgen::Load {
                    connections: 1,
                    in_flight: 16,
                    size,
                    duration,
                    max_messages: u64::MAX,
                    websocket: true,
                    deflate,
                };
                let measured = echo_servers::with_server(name, 0, |_, addr| {
                    loadgen::run(addr, load, load_core)
                })?;
                let out = if deflate { &mut deflated } else { &mut plain };
                out.push(measured.msgs_per_s);
            }
        }
        rows.push((size, median(plain), median(deflated)));
    }
    Ok(Compression { rows })
}

impl Compression {
    fn table(&self) -> String {
        let mut md = String::from(
            "| JSON payload, pipelined 1×16 | eddy, uncompressed | eddy, permessage-deflate | deflate / plain |\n|---|---:|---:|---:|\n",
        );
        for &(size, p, d) in &self.rows {
            md.push_str(&format!(
                "| {} | {:.0} k/s | {:.0} k/s | {:.2}× |\n",
                size_label(size),
                p / 1e3,
                d / 1e3,
                d / p.max(1e-9)
            ));
        }
        md
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.rows
            .iter()
            .map(|&(size, p, d)| serde_json::json!({"scenario": format!("json {} pipelined 1x16", size_label(size)), "unit": "messages/s", "eddy": p, "eddy-deflate": d}))
            .collect()
    }
}
