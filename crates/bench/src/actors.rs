//! Pinned actors: one thread per actor, each with its own compio runtime (optionally pinned to a
//! core) and its own connection and stream, timing each batch request → response on the client's
//! wall clock, as Iggy's benchmark does.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use eddy_client::{Batch, Client, Poll, Transport};
use eddy_wire::Identifier;
use eddy_wire::commands::messages::{Partitioning, PollingStrategy};

/// Producer or consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Producer,
    Consumer,
}

/// The workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub actors: usize,
    pub messages_per_batch: u32,
    pub message_size: usize,
    pub batches: u64,
    pub warmup: u64,
    pub pin: bool,
}

/// One actor's measurements: `(seconds since its start, latency ms)` per batch.
#[derive(Debug, Clone)]
pub struct ActorRun {
    pub samples: Vec<(f64, f64)>,
    pub wall_secs: f64,
}

pub fn batch_of(w: &Workload) -> Batch {
    let payload = vec![b'e'; w.message_size];
    Batch::from_payloads((0..w.messages_per_batch).map(|k| (u128::from(k) + 1, payload.as_slice())))
}

/// Runs `w.actors` actors against `streams` (one per actor, topic 0, partition 0).
pub fn run(
    kind: Kind,
    transport: Transport,
    addr: SocketAddr,
    streams: &[u32],
    w: Workload,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<Vec<ActorRun>> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads: Vec<_> = (0..w.actors)
        .map(|i| {
            let (stream, progress) = (streams[i], progress.clone());
            std::thread::spawn(move || -> anyhow::Result<ActorRun> {
                let mut builder = compio::runtime::RuntimeBuilder::new();
                if w.pin {
                    builder.thread_affinity(HashSet::from([i % cores]));
                }
                let runtime = builder.build()?;
                runtime.block_on(actor(kind, transport, addr, stream, w, progress))
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().map_err(|_| anyhow::anyhow!("actor panicked"))?).collect()
}

async fn actor(
    kind: Kind,
    transport: Transport,
    addr: SocketAddr,
    stream: u32,
    w: Workload,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<ActorRun> {
    let mut client = Client::connect(transport, addr).await.context("connecting")?;
    client.login("iggy", "iggy").await?;
    let (s, t) = (Identifier::Numeric(stream), Identifier::Numeric(0));
    let batch = batch_of(&w);
    let mut samples = Vec::with_capacity(w.batches as usize);
    let mut offset = 0u64;
    let start = Instant::now();
    let mut measured_start = start;
    for i in 0..w.warmup + w.batches {
        if i == w.warmup {
            measured_start = Instant::now();
        }
        let t0 = Instant::now();
        match kind {
            Kind::Producer => client.send(&s, &t, &Partitioning::PartitionId(0), &batch).await?,
            Kind::Consumer => {
                let spec = Poll {
                    partition: 0,
                    consumer: 1,
                    strategy: PollingStrategy::Offset(offset),
                    count: w.messages_per_batch,
                    auto_commit: false,
                };
                let polled = client.poll(&s, &t, &spec).await?;
                offset = if polled.messages.len() < w.messages_per_batch as usize {
                    0
                } else {
                    offset + polled.messages.len() as u64
                };
            }
        }
        let latency = t0.elapsed().as_secs_f64() * 1e3;
        if i >= w.warmup {
            samples.push((measured_start.elapsed().as_secs_f64(), latency));
            progress.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(ActorRun { samples, wall_secs: measured_start.elapsed().as_secs_f64() })
}

/// Creates one stream (with one topic of one partition) per actor; returns their ids.
pub async fn create_streams(
    addr: SocketAddr,
    prefix: &str,
    actors: usize,
) -> anyhow::Result<Vec<u32>> {
    let mut admin = Client::connect(Transport::Tcp, addr).await?;
    admin.login("iggy", "iggy").await?;
    let mut ids = Vec::new();
    for i in 0..actors {
        let id = admin.create_stream(&format!("{prefix}-{i}")).await?;
        admin.create_topic(&Identifier::Numeric(id), "t", 1).await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Fills each stream with `w.warmup + w.batches` batches (untimed), for consumers to read.
pub async fn fill(addr: SocketAddr, streams: &[u32], w: &Workload) -> anyhow::Result<()> {
    let mut admin = Client::connect(Transport::Tcp, addr).await?;
    admin.login("iggy", "iggy").await?;
    let batch = batch_of(w);
    for &s in streams {
        for _ in 0..w.warmup + w.batches {
            admin
                .send(
                    &Identifier::Numeric(s),
                    &Identifier::Numeric(0),
                    &Partitioning::PartitionId(0),
                    &batch,
                )
                .await?;
        }
    }
    Ok(())
}
