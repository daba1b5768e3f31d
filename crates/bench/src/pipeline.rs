//! `pipeline`: what pipelining buys a client of eddy-server, and proof that the per-connection
//! reply budget (`limits.max_unsent_reply_bytes`) does not take it away for small requests. One
//! connection keeps `depth` requests in flight (writes a window, reads its replies) for PING and
//! for a one-message POLL_MESSAGES, over TCP and WebSocket, depths interleaved per round;
//! requests per second, medians over rounds, and the speed-up over depth 1. Writes a results
//! folder (JSON + Markdown).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use bytes::{BufMut, Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use eddy_client::{Batch, Client, Transport};
use eddy_wire::Identifier;
use eddy_wire::codes::command;
use eddy_wire::commands::messages::Partitioning;
use eddy_ws::Message;
use serde::Serialize;

#[derive(clap::Args, Clone)]
pub struct PipelineArgs {
    /// Requests in flight per connection, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64,256")]
    depths: Vec<usize>,
    /// Requests per measurement.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where the results folder is written.
    #[arg(long, default_value = "bench/results")]
    output: PathBuf,
}

#[derive(Serialize, Clone)]
struct Row {
    request: &'static str,
    transport: &'static str,
    depth: usize,
    requests_per_sec: f64,
    speedup_over_depth_1: f64,
}

/// One connection that can write a window of requests and read their replies.
enum Conn {
    Tcp(TcpStream, BytesMut),
    Ws(Box<eddy_ws::WebSocket<TcpStream>>),
}

fn request(code: u32, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + payload.len());
    out.put_u32_le(payload.len() as u32 + 4);
    out.put_u32_le(code);
    out.put_slice(payload);
    out.freeze()
}

fn login() -> Bytes {
    let mut p = BytesMut::new();
    eddy_wire::commands::users::Login {
        username: "iggy".into(),
        password: eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD.into(),
        version: None,
    }
    .encode(&mut p);
    request(command::LOGIN_USER, &p)
}

/// POLL_MESSAGES of one message at offset 0 of stream 0 / topic 0 / partition 0.
fn poll_one() -> Bytes {
    let mut p = BytesMut::new();
    p.put_slice(&[1, 1, 4, 1, 0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    p.put_u64_le(0);
    p.put_u32_le(1);
    p.put_u8(0);
    request(command::POLL_MESSAGES, &p)
}

impl Conn {
    async fn open(transport: Transport, tcp: SocketAddr, ws: SocketAddr) -> anyhow::Result<Self> {
        let mut conn = match transport {
            Transport::Tcp => {
                let s = TcpStream::connect(tcp).await?;
                s.set_nodelay(true)?;
                Self::Tcp(s, BytesMut::with_capacity(64 << 10))
            }
            Transport::WebSocket => {
                Self::Ws(Box::new(eddy_ws::connect(&format!("ws://{ws}/")).await?.0))
            }
        };
        conn.window(&login(), 1).await?;
        Ok(conn)
    }

    /// Writes `depth` copies of `req` at once, then reads `depth` replies (all must be OK).
    async fn window(&mut self, req: &Bytes, depth: usize) -> anyhow::Result<()> {
        match self {
            Self::Tcp(s, buf) => {
                let mut out = BytesMut::with_capacity(req.len() * depth);
                for _ in 0..depth {
                    out.put_slice(req);
                }
                let BufResult(r, _) = s.write_all(out).await;
                r?;
                let mut left = depth;
                while left > 0 {
                    while buf.len() >= 8 {
                        let status = u32::from_le_bytes(buf[..4].try_into()?);
                        let len = u32::from_le_bytes(buf[4..8].try_into()?) as usize;
                        anyhow::ensure!(status == 0, "status {status}");
                        if buf.len() < 8 + len {
                            break;
                        }
                        let _ = buf.split_to(8 + len);
                        left -= 1;
                        if left == 0 {
                            break;
                        }
                    }
                    if left == 0 {
                        break;
                    }
                    if buf.capacity() - buf.len() < 16 << 10 {
                        buf.reserve(64 << 10);
                    }
                    let BufResult(n, b) = s.append(std::mem::take(buf)).await;
                    *buf = b;
                    anyhow::ensure!(n? > 0, "server closed");
                }
                Ok(())
            }
            Self::Ws(ws) => {
                for _ in 0..depth {
                    ws.feed(Message::Binary(req.clone()))?;
                }
                ws.flush().await?;
                for _ in 0..depth {
                    match ws.read().await? {
                        Message::Binary(reply) => {
                            anyhow::ensure!(
                                reply.get(..4) == Some(&[0, 0, 0, 0][..]),
                                "error reply"
                            )
                        }
                        other => anyhow::bail!("unexpected {other:?}"),
                    }
                }
                Ok(())
            }
        }
    }
}

async fn measure(
    conn: &mut Conn,
    req: &Bytes,
    depth: usize,
    requests: usize,
) -> anyhow::Result<f64> {
    let windows = requests.div_ceil(depth).max(1);
    conn.window(req, depth).await?; // warm-up
    let started = Instant::now();
    for _ in 0..windows {
        conn.window(req, depth).await?;
    }
    Ok((windows * depth) as f64 / started.elapsed().as_secs_f64())
}

pub fn run(args: PipelineArgs) -> anyhow::Result<()> {
    let depths = args.depths.clone();
    let target = crate::server::Target::spawn(false, 1)?;
    let ws = target.ws.context("the server has a WebSocket listener")?;
    let runtime = crate::rt::pinned(1)?;
    let mut rows = Vec::new();
    runtime.block_on(async {
        // One stored message for the polls.
        let mut admin = Client::connect(Transport::Tcp, target.tcp).await?;
        admin.login("iggy", eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD).await?;
        admin.create_stream("pipeline").await?;
        admin.create_topic(&Identifier::Numeric(0), "t", 1).await?;
        let batch = Batch::from_payloads([(1u128, &[7u8; 100][..])]);
        admin
            .send(
                &Identifier::Numeric(0),
                &Identifier::Numeric(0),
                &Partitioning::PartitionId(0),
                &batch,
            )
            .await?;
        let kinds = [("ping", request(command::PING, &[])), ("poll 1 × 100 B", poll_one())];
        let mut samples: Vec<(usize, usize, usize, Vec<f64>)> = Vec::new();
        for (k, _) in kinds.iter().enumerate() {
            for t in 0..2 {
                for &d in &depths {
                    samples.push((k, t, d, Vec::new()));
                }
            }
        }
        for round in 0..args.rounds {
            for (k, t, d, values) in samples.iter_mut() {
                let transport = if *t == 0 { Transport::Tcp } else { Transport::WebSocket };
                let mut conn = Conn::open(transport, target.tcp, ws).await?;
                values.push(measure(&mut conn, &kinds[*k].1, *d, args.requests).await?);
            }
            println!("pipeline: round {} of {} done", round + 1, args.rounds);
        }
        for (k, t, d, mut values) in samples.clone() {
            values.sort_by(f64::total_cmp);
            let median = values[values.len() / 2];
            let base = samples.iter().find(|(k1, t1, d1, _)| (*k1, *t1, *d1) == (k, t, 1)).map(
                |(_, _, _, v)| {
                    let mut v = v.clone();
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                },
            );
            rows.push(Row {
                request: kinds[k].0,
                transport: if t == 0 { "tcp" } else { "websocket" },
                depth: d,
                requests_per_sec: median,
                speedup_over_depth_1: base.map_or(f64::NAN, |b| median / b),
            });
        }
        anyhow::Ok(())
    })?;
    let mut md = String::from(
        "| request | transport | depth | requests/s | × depth 1 |\n|---|---|---:|---:|---:|\n",
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2}× |\n",
            r.request, r.transport, r.depth, r.requests_per_sec, r.speedup_over_depth_1
        ));
    }
    println!("{md}");
    let (dir, command) = crate::results_folder(&args.output, "pipeline")?;
    let json = serde_json::json!({
        "benchmark": "pipeline",
        "command": command,
        "parameters": { "depths": depths, "requests": args.requests, "rounds": args.rounds,
                        "fsync": false, "shards": 1, "max_unsent_reply_bytes": eddy_server::config::LimitsConfig::default().max_unsent_reply_bytes },
        "machine": crate::machine_info(),
        "results": rows,
    });
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&json)?)?;
    let report = format!(
        "# pipeline\n\n`{}`\n\nOne connection keeps `depth` requests in flight (writes the window, reads its replies); eddy-server in a child process, 1 shard, fsync off, default reply budget ({} MiB). Medians of {} rounds of {} requests, depths interleaved.\n\n{md}",
        command,
        eddy_server::config::LimitsConfig::default().max_unsent_reply_bytes >> 20,
        args.rounds,
        args.requests
    );
    std::fs::write(dir.join("report.md"), report)?;
    println!("results: {}", dir.display());
    Ok(())
}
