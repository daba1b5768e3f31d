//! `startup`: how long eddy-server takes to serve again over a data directory of a given size,
//! after a clean stop (SIGTERM: every partition checkpointed), after an unclean one (SIGKILL
//! right after more data was sent with fsync on: the tail since the last checkpoint is
//! verified), and without checkpoints (every byte re-verified, as before checkpoints existed).
//! The data is written with eddy-server's own storage (`PartitionLog`) into the partitions a
//! real server created, then every start is the real server in a child process, timed from
//! spawn until it reports its bound listeners (every partition recovered), and checked: each
//! partition must report the message count that was written. Writes a results folder (JSON +
//! Markdown).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::BytesMut;
use eddy_client::{Batch, Client, Poll, Transport};
use eddy_server::storage::durability::FsyncPolicy;
use eddy_server::storage::log::PartitionLog;
use eddy_wire::Identifier;
use eddy_wire::commands::messages::{Partitioning, PollingStrategy};
use serde::Serialize;

use crate::server::Target;

#[derive(clap::Args, Clone)]
pub struct StartupArgs {
    /// Data sizes in GiB (fractions allowed), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    sizes: Vec<f64>,
    /// Partitions the data is spread over (one topic).
    #[arg(long, default_value_t = 4)]
    partitions: u32,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 1000)]
    message_size: usize,
    /// Timed starts per case (the median is reported).
    #[arg(long, default_value_t = 3)]
    starts: usize,
    /// MiB sent through the server (fsync on) before each SIGKILL of the unclean case.
    #[arg(long, default_value_t = 128)]
    unclean_mib: u64,
    /// Server shards (0 = one per core).
    #[arg(long, default_value_t = 0)]
    shards: usize,
    /// Where the data directories are made (removed afterwards); default: the temp dir.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where the results folder is written.
    #[arg(long, default_value = "bench/results")]
    output: PathBuf,
}

#[derive(Serialize, Clone)]
struct Row {
    size_gib: f64,
    stop: &'static str,
    starts: usize,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    messages: u64,
    segments: usize,
}

const ADMIN: (&str, &str) = ("iggy", eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD);
const MESSAGES_PER_BATCH: usize = 1000;

pub fn run(args: StartupArgs) -> anyhow::Result<()> {
    let sizes = args.sizes.clone();
    anyhow::ensure!(args.partitions > 0 && args.starts > 0, "--partitions and --starts ≥ 1");
    let base = args.data.clone().unwrap_or_else(std::env::temp_dir);
    let runtime = crate::rt::pinned(0)?;
    let mut rows = Vec::new();
    for &size in &sizes {
        let dir = base.join(format!("eddy-startup-{}-{size}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let result = runtime.block_on(measure_size(&args, &dir, size, &mut rows));
        std::fs::remove_dir_all(&dir).ok();
        result?;
    }
    let mut md = String::from(
        "| data | stop before the start | starts | median start | min | max | messages | segments |\n|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} GiB | {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {} | {} |\n",
            r.size_gib, r.stop, r.starts, r.median_ms, r.min_ms, r.max_ms, r.messages, r.segments
        ));
    }
    println!("{md}");
    let (out, command) = crate::results_folder(&args.output, "startup")?;
    let json = serde_json::json!({
        "benchmark": "startup",
        "command": command,
        "parameters": { "sizes_gib": sizes, "partitions": args.partitions,
                        "message_size": args.message_size, "starts": args.starts,
                        "unclean_mib": args.unclean_mib, "shards": args.shards,
                        "segment_size": eddy_server::config::StorageConfig::default().segment_size,
                        "checkpoint_every_bytes": eddy_server::storage::log::CHECKPOINT_EVERY_BYTES },
        "machine": crate::machine_info(),
        "results": rows,
    });
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&json)?)?;
    let report = format!(
        "# startup\n\n`{}`\n\nTime from spawning eddy-server until it serves (every partition recovered, listeners bound) over a data directory of the given size: one topic, {} partitions, {}-byte payloads, default segment size. *clean*: after SIGTERM (every partition checkpointed). *unclean*: after SIGKILL right after {} MiB more were sent with fsync on (the tail since the last checkpoint is verified). *no checkpoint*: every checkpoint removed, so every byte is verified (the start before checkpoints). Each start is checked: every partition reports the messages written.\n\n{md}",
        command, args.partitions, args.message_size, args.unclean_mib
    );
    std::fs::write(out.join("report.md"), report)?;
    println!("results: {}", out.display());
    Ok(())
}

async fn measure_size(
    args: &StartupArgs,
    dir: &Path,
    size_gib: f64,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    // The catalog, made by a real server.
    let target = Target::spawn_on(dir, false, args.shards)?;
    let mut admin = Client::connect(Transport::Tcp, target.tcp).await?;
    admin.login(ADMIN.0, ADMIN.1).await?;
    admin.create_stream("startup").await?;
    admin.create_topic(&Identifier::Numeric(0), "t", args.partitions).await?;
    drop(admin);
    target.stop_clean()?;
    let partitions = partition_dirs(dir)?;
    anyhow::ensure!(partitions.len() == args.partitions as usize, "partitions on disk");
    let bytes = (size_gib * f64::from(1u32 << 30)) as u64;
    let mut counts =
        fill(&partitions, bytes / u64::from(args.partitions), args.message_size).await?;
    let segments = count_segments(&partitions);
    let total = |c: &[u64]| c.iter().sum::<u64>();

    let mut clean = Vec::new();
    for _ in 0..args.starts {
        let (t, target) = timed_start(dir, args.shards).await?;
        check_counts(&target, &counts).await?;
        target.stop_clean()?;
        clean.push(t);
    }
    rows.push(row(size_gib, "clean (SIGTERM)", &clean, total(&counts), segments));

    let mut unclean = Vec::new();
    let target = Target::spawn_on(dir, true, args.shards)?;
    send_more(&target, args, &mut counts).await?;
    target.kill()?;
    for _ in 0..args.starts {
        let (t, target) = timed_start(dir, args.shards).await?;
        check_counts(&target, &counts).await?;
        unclean.push(t);
        send_more(&target, args, &mut counts).await?;
        target.kill()?;
    }
    // Clean again, so the runs without checkpoints start from a known state.
    let target = Target::spawn_on(dir, true, args.shards)?;
    target.stop_clean()?;
    rows.push(row(
        size_gib,
        "unclean (SIGKILL after sending)",
        &unclean,
        total(&counts),
        count_segments(&partitions),
    ));

    let mut full = Vec::new();
    for _ in 0..args.starts {
        for p in &partitions {
            std::fs::remove_file(p.join(eddy_server::storage::checkpoint::FILE)).ok();
        }
        let (t, target) = timed_start(dir, args.shards).await?;
        check_counts(&target, &counts).await?;
        target.stop_clean()?;
        full.push(t);
    }
    rows.push(row(
        size_gib,
        "no checkpoint (all verified)",
        &full,
        total(&counts),
        count_segments(&partitions),
    ));
    Ok(())
}

fn row(
    size_gib: f64,
    stop: &'static str,
    times: &[Duration],
    messages: u64,
    segments: usize,
) -> Row {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    Row {
        size_gib,
        stop,
        starts: ms.len(),
        median_ms: ms[ms.len() / 2],
        min_ms: ms[0],
        max_ms: ms[ms.len() - 1],
        messages,
        segments,
    }
}

async fn timed_start(dir: &Path, shards: usize) -> anyhow::Result<(Duration, Target)> {
    let started = Instant::now();
    let target = Target::spawn_on(dir, true, shards)?;
    Ok((started.elapsed(), target))
}

/// `streams/*/topics/*/partitions/*`, ordered by partition id.
fn partition_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let topic = dir.join("streams/0/topics/0/partitions");
    let mut out: Vec<(u32, PathBuf)> = std::fs::read_dir(&topic)
        .with_context(|| format!("listing {}", topic.display()))?
        .filter_map(|e| {
            let e = e.ok()?;
            Some((e.file_name().to_str()?.parse().ok()?, e.path()))
        })
        .collect();
    out.sort();
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

fn count_segments(partitions: &[PathBuf]) -> usize {
    partitions
        .iter()
        .filter_map(|p| std::fs::read_dir(p).ok())
        .flatten()
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".log")))
        .count()
}

/// Appends about `per_partition` bytes of messages to each partition with the server's own
/// storage, then closes each (sync + checkpoint), as a clean stop would. Returns the counts.
async fn fill(
    partitions: &[PathBuf],
    per_partition: u64,
    payload: usize,
) -> anyhow::Result<Vec<u64>> {
    let segment_size = eddy_server::config::StorageConfig::default().segment_size;
    let mut template = BytesMut::new();
    let mut lengths = Vec::with_capacity(MESSAGES_PER_BATCH);
    let body = vec![0x5au8; payload];
    for i in 0..MESSAGES_PER_BATCH {
        let before = template.len();
        eddy_wire::message::encode_message(&mut template, i as u128 + 1, 1, &body, b"");
        lengths.push((template.len() - before) as u32);
    }
    let batches = per_partition.div_ceil(template.len() as u64).max(1);
    let bar =
        indicatif::ProgressBar::new(batches * partitions.len() as u64).with_message("writing data");
    let mut counts = Vec::new();
    for dir in partitions {
        let mut log = PartitionLog::open(dir, segment_size, FsyncPolicy::Never).await?;
        for _ in 0..batches {
            log.append(template.clone(), &lengths, eddy_server::shard::partition::now_micros())
                .await?;
            bar.inc(1);
        }
        log.close().await?;
        counts.push(log.next_offset());
    }
    bar.finish_and_clear();
    Ok(counts)
}

/// Sends `--unclean-mib` MiB over the partitions through the server (acknowledged, so synced).
async fn send_more(target: &Target, args: &StartupArgs, counts: &mut [u64]) -> anyhow::Result<()> {
    let mut client = Client::connect(Transport::Tcp, target.tcp).await?;
    client.login(ADMIN.0, ADMIN.1).await?;
    let body = vec![0xa5u8; args.message_size];
    let batch = Batch::from_payloads((0..MESSAGES_PER_BATCH as u128).map(|i| (i + 1, &body[..])));
    let batches = ((args.unclean_mib << 20) / batch.size_bytes() as u64).max(1);
    for b in 0..batches {
        let p = (b % counts.len() as u64) as usize;
        client
            .send(
                &Identifier::Numeric(0),
                &Identifier::Numeric(0),
                &Partitioning::PartitionId(p as u32),
                &batch,
            )
            .await?;
        counts[p] += MESSAGES_PER_BATCH as u64;
    }
    Ok(())
}

/// Every partition reports the expected number of messages.
async fn check_counts(target: &Target, counts: &[u64]) -> anyhow::Result<()> {
    let mut client = Client::connect(Transport::Tcp, target.tcp).await?;
    client.login(ADMIN.0, ADMIN.1).await?;
    for (p, &expected) in counts.iter().enumerate() {
        let spec = Poll {
            partition: p as u32,
            consumer: 1,
            strategy: PollingStrategy::Last,
            count: 1,
            auto_commit: false,
        };
        let polled = client.poll(&Identifier::Numeric(0), &Identifier::Numeric(0), &spec).await?;
        anyhow::ensure!(
            polled.current_offset + 1 == expected && polled.messages.len() == 1,
            "partition {p}: current offset {} after a start, {} messages written",
            polled.current_offset,
            expected
        );
    }
    Ok(())
}
