//! Pinned actors: one thread per actor, each with its own runtime (optionally pinned to a core),
//! its own connection and stream, timing each batch request → response on the client's wall clock,
//! as Iggy's benchmark does, and the CPU its thread spent. The client is eddy-client (compio), or,
//! on a tokio runtime, Apache Iggy's SDK or a plain client (`tokio_clients`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use eddy_client::{Batch, Client, Poll, Transport};
use eddy_wire::Identifier;
use eddy_wire::commands::messages::{Partitioning, PollingStrategy};
use serde::Serialize;

use crate::procfs;
use crate::tokio_clients;

/// Producer or consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Producer,
    Consumer,
}

/// Which client library the actors drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// eddy-client on compio (eddy-ws for WebSocket).
    Eddy,
    /// Apache Iggy's Rust SDK (`iggy` 0.10.0) on tokio; tokio-tungstenite for WebSocket.
    IggySdk,
    /// A plain tokio client: `read_exact` into a reused buffer over TCP, one tokio-tungstenite
    /// message per reply (its payload used in place) over WebSocket. No SDK around it.
    Tokio,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Eddy => "eddy",
            Self::IggySdk => "iggy-sdk",
            Self::Tokio => "tokio",
        }
    }
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
    pub first_core: usize,
}

/// One actor's measurements: `(seconds since its start, latency ms)` per batch.
#[derive(Debug, Clone)]
pub struct ActorRun {
    pub samples: Vec<(f64, f64)>,
    pub wall_secs: f64,
    /// CPU nanoseconds the actor's thread ran while measuring (schedstat), if known.
    pub cpu_ns: Option<u64>,
}

pub fn batch_of(w: &Workload) -> Batch {
    let payload = vec![b'e'; w.message_size];
    Batch::from_payloads((0..w.messages_per_batch).map(|k| (u128::from(k) + 1, payload.as_slice())))
}

/// What an actor does once per batch, whichever library it goes through.
pub trait BatchClient {
    /// Sends the workload's batch to partition 0.
    async fn produce(&mut self) -> anyhow::Result<()>;
    /// Polls up to `count` messages from partition 0 at `offset`; returns how many came.
    async fn consume(&mut self, offset: u64, count: u32) -> anyhow::Result<usize>;
}

/// Runs `w.actors` actors against `streams` (one per actor, topic 0, partition 0).
pub fn run(
    kind: Kind,
    client: ClientKind,
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
            // Named so that a profile (`perf report --sort comm`) tells the actors from setup.
            let name = format!("actor-{}-{i}", client.name());
            std::thread::Builder::new().name(name).spawn(move || -> anyhow::Result<ActorRun> {
                let core = w.pin.then_some((w.first_core + i) % cores);
                match client {
                    ClientKind::Eddy => {
                        let mut builder = compio::runtime::RuntimeBuilder::new();
                        if let Some(core) = core {
                            builder.thread_affinity(HashSet::from([core]));
                        }
                        builder.build()?.block_on(async {
                            let mut c = EddyActor::connect(transport, addr, stream, &w).await?;
                            drive(&mut c, kind, &w, &progress).await
                        })
                    }
                    ClientKind::IggySdk | ClientKind::Tokio => {
                        if let Some(core) = core {
                            core_affinity::set_for_current(core_affinity::CoreId { id: core });
                        }
                        tokio_clients::run(kind, client, transport, addr, stream, &w, &progress)
                    }
                }
            })
        })
        .collect::<std::io::Result<_>>()?;
    threads.into_iter().map(|t| t.join().map_err(|_| anyhow::anyhow!("actor panicked"))?).collect()
}

/// The batch loop every client shares: warm-up batches, then measured ones.
pub async fn drive<C: BatchClient>(
    client: &mut C,
    kind: Kind,
    w: &Workload,
    progress: &AtomicU64,
) -> anyhow::Result<ActorRun> {
    let mut samples = Vec::with_capacity(w.batches as usize);
    let mut offset = 0u64;
    let mut measured_start = Instant::now();
    let mut cpu_start = procfs::thread_cpu_ns();
    for i in 0..w.warmup + w.batches {
        if i == w.warmup {
            measured_start = Instant::now();
            cpu_start = procfs::thread_cpu_ns();
        }
        let t0 = Instant::now();
        match kind {
            Kind::Producer => client.produce().await?,
            Kind::Consumer => {
                let polled = client.consume(offset, w.messages_per_batch).await?;
                // Every offset polled was produced in setup: an empty reply means a broken client,
                // and timing it would measure nothing.
                anyhow::ensure!(polled > 0, "a poll at offset {offset} returned no messages");
                offset =
                    if polled < w.messages_per_batch as usize { 0 } else { offset + polled as u64 };
            }
        }
        let latency = t0.elapsed().as_secs_f64() * 1e3;
        if i >= w.warmup {
            samples.push((measured_start.elapsed().as_secs_f64(), latency));
            progress.fetch_add(1, Ordering::Relaxed);
        }
    }
    let cpu_ns =
        procfs::thread_cpu_ns().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
    Ok(ActorRun { samples, wall_secs: measured_start.elapsed().as_secs_f64(), cpu_ns })
}

/// The poll every consumer sends: `count` messages of partition 0 from `offset`, no commit.
pub fn poll_at(offset: u64, count: u32) -> Poll {
    Poll {
        partition: 0,
        consumer: 1,
        strategy: PollingStrategy::Offset(offset),
        count,
        auto_commit: false,
    }
}

/// An actor on eddy-client.
struct EddyActor {
    client: Client,
    stream: Identifier,
    batch: Batch,
}

impl EddyActor {
    async fn connect(
        transport: Transport,
        addr: SocketAddr,
        stream: u32,
        w: &Workload,
    ) -> anyhow::Result<Self> {
        let client = logged_in(transport, addr).await?;
        Ok(Self { client, stream: Identifier::Numeric(stream), batch: batch_of(w) })
    }
}

impl BatchClient for EddyActor {
    async fn produce(&mut self) -> anyhow::Result<()> {
        let (t, p) = (Identifier::Numeric(0), Partitioning::PartitionId(0));
        Ok(self.client.send(&self.stream, &t, &p, &self.batch).await?)
    }

    async fn consume(&mut self, offset: u64, count: u32) -> anyhow::Result<usize> {
        let spec = poll_at(offset, count);
        let polled = self.client.poll(&self.stream, &Identifier::Numeric(0), &spec).await?;
        Ok(polled.messages.len())
    }
}

/// An eddy-client connection logged in as the benchmark's server lets it (Iggy's quickstart
/// credentials).
async fn logged_in(transport: Transport, addr: SocketAddr) -> anyhow::Result<Client> {
    let mut client = Client::connect(transport, addr).await.context("connecting")?;
    client.login("iggy", "iggy").await?;
    Ok(client)
}

/// Deletes the streams a run used, so that a long run's data never outgrows the disk (20 rounds
/// of 6 producer lanes write ~38 GB).
pub async fn delete_streams(addr: SocketAddr, ids: &[u32]) -> anyhow::Result<()> {
    let mut admin = logged_in(Transport::Tcp, addr).await?;
    for &id in ids {
        admin.delete_stream(&Identifier::Numeric(id)).await?;
    }
    Ok(())
}

/// Creates one stream (with one topic of one partition) per actor; returns their ids.
pub async fn create_streams(
    addr: SocketAddr,
    prefix: &str,
    actors: usize,
) -> anyhow::Result<Vec<u32>> {
    let mut admin = logged_in(Transport::Tcp, addr).await?;
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
    let mut admin = logged_in(Transport::Tcp, addr).await?;
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
