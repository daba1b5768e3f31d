//! FETCH_MESSAGES: a deferred poll of several partitions of one topic, run as a task on the
//! requesting shard while its connection reads on. It is due once `min_count` messages are
//! readable across the partitions (at most `count` counted per partition), when its wait ends,
//! or when the client cancels it; then each partition is polled once, in the order asked, with
//! the fetch's auto-commit (so only returned messages are committed), until the reply's byte
//! budget is spent. Meanwhile it waits by placing, in every partition, a one-message deferred
//! poll from where the partition ends now (so messages already there, too few, never wake it
//! again) that commits nothing, and taking the first answer: the partitions' owners wake it
//! once per group commit that appends, after the sync, as they wake any deferred poll. A client
//! that goes away abandons it: the waits are dropped and nothing is read or committed. No
//! socket, no wire.

use std::sync::atomic::Ordering;
use std::time::Instant;

use eddy_wire::commands::messages::PollingStrategy;

use crate::error::ServerError;
use crate::shard::message::{ConsumerId, Deferral, PartitionHandle, PartitionOp, Polled, ask};
use crate::storage::log::MAX_READ_BYTES;
use crate::transport::readiness::{Either, first};

/// What a fetch reads and when it is due.
#[derive(Debug)]
pub struct Fetch {
    pub consumer: ConsumerId,
    /// `(partition id, handle)`, in the order the reply lists them.
    pub parts: Vec<(u32, PartitionHandle)>,
    pub strategy: PollingStrategy,
    pub count: u32,
    pub auto_commit: bool,
    pub min_count: u32,
    /// The reply's byte budget (0: `MAX_READ_BYTES`): no further partition is read once it is
    /// spent; a partition's messages are never cut.
    pub max_bytes: u32,
    pub deadline: Instant,
    /// The connection's waiter id (its deferred poll's): its cancels name it.
    pub waiter: u64,
}

/// What ends a wait early: `true` answers now (a cancel), `false` abandons (the client left).
pub type Signal = flume::Receiver<bool>;

/// Waits until the fetch is due, then reads and sends the reply (nothing when abandoned).
pub async fn run(
    fetch: Fetch,
    signal: Signal,
    reply: flume::Sender<Result<Vec<Polled>, ServerError>>,
) {
    match wait(&fetch, &signal).await {
        Ok(true) => drop(reply.send(read(&fetch).await)),
        Ok(false) => {}
        Err(e) => drop(reply.send(Err(e))),
    }
}

/// Messages readable now for the fetch's consumer across its partitions (each counted up to
/// `count`), and where each partition ends.
async fn available(f: &Fetch) -> Result<(u64, Vec<u64>), ServerError> {
    let mut total = 0u64;
    let mut ends = Vec::with_capacity(f.parts.len());
    for (_, h) in &f.parts {
        let (consumer, strategy, count) = (f.consumer.clone(), f.strategy, f.count);
        let start =
            ask(&h.tx, |reply| PartitionOp::StartOf { consumer, strategy, count, reply }).await?;
        let end = h.stats.next_offset.load(Ordering::Relaxed);
        total = total.saturating_add(end.saturating_sub(start).min(u64::from(f.count)));
        ends.push(end);
    }
    Ok((total, ends))
}

/// `Ok(true)`: due (enough messages, the deadline, a cancel, or nothing to wait for);
/// `Ok(false)`: abandoned.
async fn wait(f: &Fetch, signal: &Signal) -> Result<bool, ServerError> {
    if f.count == 0 || f.parts.is_empty() {
        return Ok(true);
    }
    let wanted = u64::from(f.min_count.clamp(1, f.count))
        .min(u64::from(f.count).saturating_mul(f.parts.len() as u64));
    loop {
        match signal.try_recv() {
            Ok(answer) => return Ok(answer),
            Err(flume::TryRecvError::Disconnected) => return Ok(false),
            Err(flume::TryRecvError::Empty) => {}
        }
        if Instant::now() >= f.deadline {
            return Ok(true);
        }
        let (total, ends) = available(f).await?;
        if total >= wanted {
            return Ok(true);
        }
        // Woken by the next message appended anywhere: each wait starts where its partition
        // ends now, so messages already there (too few) never wake it again.
        let (woken, wake) = flume::unbounded();
        for ((_, h), end) in f.parts.iter().zip(ends) {
            let defer = Deferral {
                deadline: f.deadline,
                min_count: 1,
                max_bytes: 0,
                exact_bytes: false,
                waiter: f.waiter,
            };
            let op = PartitionOp::Poll {
                consumer: f.consumer.clone(),
                strategy: PollingStrategy::Offset(end),
                count: 1,
                auto_commit: false,
                defer: Some(defer),
                reply: woken.clone(),
            };
            h.tx.send_async(op).await.map_err(|_| ServerError::Internal("partition is closed"))?;
        }
        drop(woken);
        let ended = first(wake.recv_async(), signal.recv_async()).await;
        // Whatever ended the round, the other waits go unanswered (they commit nothing).
        for (_, h) in &f.parts {
            let cancel = PartitionOp::CancelWait { waiter: f.waiter, answer: false };
            h.tx.send_async(cancel).await.ok();
        }
        match ended {
            Either::Left(Ok(Ok(_))) => {}
            Either::Left(Ok(Err(e))) => return Err(e),
            // Every wait ended unanswered: only a closing partition does that.
            Either::Left(Err(_)) => return Err(ServerError::Internal("partition is closed")),
            Either::Right(Ok(answer)) => return Ok(answer),
            Either::Right(Err(_)) => return Ok(false),
        }
    }
}

/// Polls each partition once, in order, until the byte budget is spent.
async fn read(f: &Fetch) -> Result<Vec<Polled>, ServerError> {
    let budget = match f.max_bytes {
        0 => MAX_READ_BYTES,
        b => u64::from(b).min(MAX_READ_BYTES),
    };
    let mut spent = 0u64;
    let mut out = Vec::with_capacity(f.parts.len());
    for (partition, h) in &f.parts {
        if spent >= budget {
            let current_offset = h.stats.next_offset.load(Ordering::Relaxed).saturating_sub(1);
            out.push(Polled { partition: *partition, current_offset, ..Polled::default() });
            continue;
        }
        let (consumer, strategy, count, auto_commit) =
            (f.consumer.clone(), f.strategy, f.count, f.auto_commit);
        let polled = ask(&h.tx, |reply| PartitionOp::Poll {
            consumer,
            strategy,
            count,
            auto_commit,
            defer: None,
            reply,
        })
        .await?;
        spent = spent.saturating_add(polled.bytes());
        out.push(polled);
    }
    Ok(out)
}
