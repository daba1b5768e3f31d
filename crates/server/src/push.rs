//! One connection's push subscriptions: the credit the client granted, where each partition's
//! next push starts, the waits it keeps in partition owners, and the frames it pushes.
//!
//! A subscription is a chain of waits: each partition it covers has at most one wait in its
//! owner (a deferred poll from the next offset, `min_count` 1, answered after the group commit
//! that makes messages readable, or at the heartbeat interval), reserving part of the credit;
//! its answer becomes one pushed frame and the next wait goes out at once. So the server never
//! pushes past the credit (a wait asks for at most what it reserved, bytes as a hard limit), an
//! idle subscription costs one waiter per partition and no CPU between heartbeats, and a slow
//! subscriber holds at most one answer per partition. All answers of a connection arrive on one
//! channel. Credit is shared among a subscription's partitions: free credit is split between
//! the partitions that have no wait; a partition whose next message does not fit its share, or
//! that filled its wait when the free credit cannot give it as much again (`Starved`), reads
//! next with the whole free credit once the other waits are back (they are cancelled to make
//! that quick), and waits no longer than that read (a wait holding all the credit would leave
//! the others without one; credit granted meanwhile is shared out once it is back); one whose
//! next message does not fit even then (`Blocked`) is reported (a STALLED frame) and waits for
//! a grant. No socket I/O: the transport writes the frames.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use eddy_wire::codes::status;
use eddy_wire::commands::messages::MAX_DEFERRED_WAIT_US;
use eddy_wire::commands::push;

use crate::error::ServerError;
use crate::shard::message::{ConsumerId, Deferral, PartitionOp, PushTo, Pushed, waiter_id};
use crate::transport::conn::Reply;

/// Most answers taken for one write of frames.
const MAX_TAKEN: usize = 64;

/// One partition of a subscription.
#[derive(Debug)]
pub struct Part {
    pub partition: u32,
    pub tx: flume::Sender<PartitionOp>,
    /// The offset the next push starts at.
    pub next: u64,
    state: State,
}

impl Part {
    pub fn new(partition: u32, tx: flume::Sender<PartitionOp>, next: u64) -> Self {
        Self { partition, tx, next, state: State::Idle }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No wait out; gets a share of the free credit.
    Idle,
    /// A wait is out, holding this much credit; `all`: it was given all the free credit.
    Waiting { messages: u64, bytes: u64, all: bool },
    /// Its next message did not fit its share: it goes next, alone, with all the free credit.
    Starved,
    /// Its next message does not fit the whole free credit: waits for a grant.
    Blocked,
}

/// What a SUBSCRIBE asked for, resolved (partitions found, starts known).
#[derive(Debug)]
pub struct Spec {
    pub consumer: ConsumerId,
    pub auto_commit: bool,
    pub batch: u32,
    pub credit_messages: u32,
    pub credit_bytes: u32,
    pub heartbeat_ms: u32,
    pub parts: Vec<Part>,
}

#[derive(Debug)]
struct Subscription {
    id: u32,
    consumer: ConsumerId,
    auto_commit: bool,
    batch: u32,
    heartbeat: Option<Duration>,
    /// Credit neither spent nor held by a wait.
    free_messages: u64,
    free_bytes: u64,
    last_frame: Instant,
    parts: Vec<Part>,
}

impl Subscription {
    fn held(&self) -> (u64, u64) {
        self.parts.iter().fold((0, 0), |(m, b), p| match p.state {
            State::Waiting { messages, bytes, .. } => (m + messages, b + bytes),
            _ => (m, b),
        })
    }
}

/// A connection's subscriptions and the channel their waits are answered on.
#[derive(Debug)]
pub struct Subscriptions {
    client: u32,
    subs: Vec<Subscription>,
    next_id: u32,
    tx: flume::Sender<Pushed>,
    rx: flume::Receiver<Pushed>,
    /// Frames to push, in order.
    frames: Vec<Reply>,
}

impl Subscriptions {
    pub fn new(client: u32) -> Self {
        let (tx, rx) = flume::unbounded();
        Self { client, subs: Vec::new(), next_id: 1, tx, rx, frames: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.subs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// Adds a subscription and sends its first waits; returns its id.
    pub async fn add(&mut self, spec: Spec) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let heartbeat =
            (spec.heartbeat_ms > 0).then(|| Duration::from_millis(u64::from(spec.heartbeat_ms)));
        self.subs.push(Subscription {
            id,
            consumer: spec.consumer,
            auto_commit: spec.auto_commit,
            batch: spec.batch.max(1),
            heartbeat,
            free_messages: u64::from(spec.credit_messages),
            free_bytes: u64::from(spec.credit_bytes),
            last_frame: Instant::now(),
            parts: spec.parts,
        });
        self.pump(id).await;
        id
    }

    /// Adds credit to subscription `id`.
    pub async fn grant(&mut self, id: u32, messages: u32, bytes: u32) -> Result<(), ServerError> {
        let sub = self.get_mut(id)?;
        sub.free_messages = sub.free_messages.saturating_add(u64::from(messages));
        sub.free_bytes = sub.free_bytes.saturating_add(u64::from(bytes));
        for part in &mut sub.parts {
            if part.state == State::Blocked {
                part.state = State::Starved;
            }
        }
        self.pump(id).await;
        Ok(())
    }

    /// Ends subscription `id`: its waits are dropped unanswered.
    pub async fn remove(&mut self, id: u32) -> Result<(), ServerError> {
        let at = self
            .subs
            .iter()
            .position(|s| s.id == id)
            .ok_or(ServerError::SubscriptionNotFound(id))?;
        let sub = self.subs.remove(at);
        let waiter = waiter_id(self.client, id);
        for part in sub.parts {
            if matches!(part.state, State::Waiting { .. }) {
                part.tx.send_async(PartitionOp::CancelWait { waiter, answer: false }).await.ok();
            }
        }
        Ok(())
    }

    /// The next answer of a wait (dropping this future loses nothing: it stays queued).
    pub async fn next(&self) -> Pushed {
        match self.rx.recv_async().await {
            Ok(pushed) => pushed,
            // `self` holds a sender: the channel never closes while it waits.
            Err(_) => std::future::pending().await,
        }
    }

    /// Takes an answer: queues its frame (if any) and sends the next waits.
    pub async fn take(&mut self, pushed: Pushed) {
        let Pushed { subscription, partition, result } = pushed;
        let client = self.client;
        let Some(sub) = self.subs.iter_mut().find(|s| s.id == subscription) else {
            return; // answered after its unsubscribe
        };
        let Some(at) = sub.parts.iter().position(|p| p.partition == partition) else { return };
        let part = &mut sub.parts[at];
        let State::Waiting { messages, bytes, all } = part.state else { return };
        part.state = State::Idle;
        let mut head = BytesMut::with_capacity(32);
        match result {
            Err(e) => {
                // The partition is gone (or failed): this part ends, the rest goes on.
                sub.free_messages = sub.free_messages.saturating_add(messages);
                sub.free_bytes = sub.free_bytes.saturating_add(bytes);
                sub.parts.remove(at);
                push::encode_ended(subscription, partition, e.status(), &mut head);
                self.frames.push(frame(head));
            }
            Ok(polled) if polled.count > 0 => {
                let spent = polled.bytes();
                let unspent_m = messages.saturating_sub(u64::from(polled.count));
                sub.free_messages = sub.free_messages.saturating_add(unspent_m);
                sub.free_bytes = sub.free_bytes.saturating_add(bytes.saturating_sub(spent));
                part.next = polled.start.saturating_add(u64::from(polled.count));
                sub.last_frame = Instant::now();
                // It filled its wait (more may be there) and the free credit cannot give it
                // as much again, while other partitions' waits hold the rest (a client that
                // grants back at half its window might never see that half): it goes next,
                // alone, with all the credit, once those waits are back. (Whether its wait had
                // all the credit does not matter: a grant may have come while it was out.)
                let filled = u64::from(polled.count) == messages;
                if filled && sub.free_messages < messages && sub.held().0 > 0 {
                    starve(sub, at, waiter_id(client, subscription)).await;
                }
                push::encode_messages_head(
                    subscription,
                    partition,
                    polled.current_offset,
                    polled.count,
                    &mut head,
                );
                self.frames.push(Reply {
                    status: status::PUSH_FRAME,
                    head,
                    chunks: polled.chunks,
                    ..Reply::default()
                });
            }
            Ok(polled) => {
                sub.free_messages = sub.free_messages.saturating_add(messages);
                sub.free_bytes = sub.free_bytes.saturating_add(bytes);
                if polled.held {
                    // Messages are there, and the next one did not fit the wait's bytes.
                    if all {
                        part.state = State::Blocked;
                        push::encode_stalled(subscription, partition, part.next, &mut head);
                        self.frames.push(frame(head));
                    } else {
                        starve(sub, at, waiter_id(client, subscription)).await;
                    }
                } else if let Some(every) = sub.heartbeat
                    && sub.last_frame.elapsed() >= every.mul_f32(0.9)
                {
                    sub.last_frame = Instant::now();
                    let (held_m, held_b) = sub.held();
                    let unspent_m = sub.free_messages.saturating_add(held_m);
                    let unspent_b = sub.free_bytes.saturating_add(held_b);
                    push::encode_heartbeat(subscription, unspent_m, unspent_b, &mut head);
                    self.frames.push(frame(head));
                }
            }
        }
        self.pump(subscription).await;
    }

    /// Takes every answer already queued (so their frames share a write).
    pub async fn take_queued(&mut self) {
        for _ in 0..MAX_TAKEN {
            let Ok(pushed) = self.rx.try_recv() else { return };
            self.take(pushed).await;
        }
    }

    /// The frames queued since the last call, in order.
    pub fn take_frames(&mut self) -> Vec<Reply> {
        std::mem::take(&mut self.frames)
    }

    pub fn has_frames(&self) -> bool {
        !self.frames.is_empty()
    }

    fn get_mut(&mut self, id: u32) -> Result<&mut Subscription, ServerError> {
        self.subs.iter_mut().find(|s| s.id == id).ok_or(ServerError::SubscriptionNotFound(id))
    }

    /// Sends waits for the partitions of `id` that have none, as credit allows.
    async fn pump(&mut self, id: u32) {
        let client = self.client;
        let tx = self.tx.clone();
        let Some(sub) = self.subs.iter_mut().find(|s| s.id == id) else { return };
        let waiting = sub.parts.iter().filter(|p| matches!(p.state, State::Waiting { .. })).count();
        // A wait with all the credit is answered at once (it reads what is there and waits no
        // longer): credit granted meanwhile waits for it, so that its partition can have it
        // if it filled its wait, rather than idle partitions holding it in long waits.
        let alone = |p: &Part| {
            p.state == State::Blocked || matches!(p.state, State::Waiting { all: true, .. })
        };
        if sub.parts.iter().any(alone) {
            return;
        }
        // A starved partition goes alone, with everything, once the other waits are back.
        let starved = sub.parts.iter().position(|p| p.state == State::Starved);
        let chosen: Vec<(usize, bool)> = match starved {
            Some(_) if waiting > 0 => return,
            Some(at) => vec![(at, true)],
            None => sub
                .parts
                .iter()
                .enumerate()
                .filter(|(_, p)| p.state == State::Idle)
                .map(|(at, _)| (at, false))
                .collect(),
        };
        let wait = sub.heartbeat.unwrap_or(Duration::from_micros(MAX_DEFERRED_WAIT_US));
        let mut failed = Vec::new();
        for (k, &(at, all)) in chosen.iter().enumerate() {
            let share = (chosen.len() - k) as u64;
            let messages = (sub.free_messages / share).max(sub.free_messages.min(1));
            let messages = messages.min(u64::from(sub.batch));
            let bytes = (sub.free_bytes / share).max(sub.free_bytes.min(1));
            let bytes = bytes.min(u64::from(u32::MAX));
            if messages == 0 || bytes == 0 {
                break;
            }
            sub.free_messages -= messages;
            sub.free_bytes -= bytes;
            let part = &mut sub.parts[at];
            part.state = State::Waiting { messages, bytes, all };
            let defer = Deferral {
                deadline: Instant::now() + wait,
                min_count: 1,
                max_bytes: bytes as u32,
                exact_bytes: true,
                waiter: waiter_id(client, id),
            };
            let to = PushTo { tx: tx.clone(), subscription: id, partition: part.partition };
            let op = PartitionOp::Push {
                consumer: sub.consumer.clone(),
                start: part.next,
                count: messages as u32,
                auto_commit: sub.auto_commit,
                defer,
                to,
            };
            if part.tx.send_async(op).await.is_err() {
                failed.push(part.partition);
            } else if all {
                // A starved partition reads what is there now and waits no longer: holding all
                // the credit in a wait would leave every other partition without one (and its
                // new messages unseen until that wait's deadline).
                let op = PartitionOp::CancelWait { waiter: waiter_id(client, id), answer: true };
                part.tx.send_async(op).await.ok();
            }
        }
        // A partition whose owner is gone answers as a deleted one does.
        for partition in failed {
            let error = Err(ServerError::PartitionNotFound(partition));
            tx.send(Pushed { subscription: id, partition, result: error }).ok();
        }
    }
}

/// Marks part `at` of `sub` starved and ends the other parts' waits early (answered with what
/// they have), so their credit comes back for it.
async fn starve(sub: &mut Subscription, at: usize, waiter: u64) {
    sub.parts[at].state = State::Starved;
    for other in &sub.parts {
        if matches!(other.state, State::Waiting { .. }) {
            other.tx.send_async(PartitionOp::CancelWait { waiter, answer: true }).await.ok();
        }
    }
}

impl Drop for Subscriptions {
    /// The connection is gone: every wait is dropped unanswered now (if an owner's queue is
    /// full, at its next append or deadline: its channel is closed).
    fn drop(&mut self) {
        for sub in &self.subs {
            let waiter = waiter_id(self.client, sub.id);
            for part in &sub.parts {
                if matches!(part.state, State::Waiting { .. }) {
                    part.tx.try_send(PartitionOp::CancelWait { waiter, answer: false }).ok();
                }
            }
        }
    }
}

fn frame(head: BytesMut) -> Reply {
    Reply { status: status::PUSH_FRAME, head, ..Reply::default() }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use eddy_wire::Identifier;

    use super::*;
    use crate::shard::message::Polled;

    /// Partition 1 always has messages (100 bytes each), the others none; each partition's
    /// owner serves its queue in order and answers a wait as a real owner does: at once if
    /// anything is readable, else at a cancel (with nothing) or never (a minute's heartbeat).
    struct Owners {
        rx: Vec<flume::Receiver<PartitionOp>>,
        /// Idle partitions' waits: (partition, to).
        waits: Vec<(u32, PushTo)>,
        next: u64,
    }

    impl Owners {
        /// Serves one queued operation of `partition`; false if none is queued.
        fn serve(&mut self, partition: u32) -> bool {
            let Ok(op) = self.rx[partition as usize].try_recv() else { return false };
            match op {
                PartitionOp::Push { start, count, defer, to, .. } if partition == 1 => {
                    assert_eq!(start, self.next, "from where the last push ended");
                    let count = count.min(defer.max_bytes / 100);
                    let chunks = vec![Bytes::from(vec![0u8; count as usize * 100])];
                    self.next += u64::from(count);
                    to.send(Ok(Polled { partition, start, count, chunks, ..Polled::default() }));
                }
                PartitionOp::Push { to, .. } => {
                    assert!(self.waits.iter().all(|w| w.0 != partition), "one wait each");
                    self.waits.push((partition, to));
                }
                PartitionOp::CancelWait { answer, .. } => {
                    if let Some(at) = self.waits.iter().position(|w| w.0 == partition) {
                        let (_, to) = self.waits.remove(at);
                        if answer {
                            to.send(Ok(Polled { partition, ..Polled::default() }));
                        }
                    }
                }
                _ => panic!("unexpected operation"),
            }
            true
        }
    }

    #[compio::test]
    async fn a_busy_partition_among_idle_ones_never_stalls_whatever_the_interleaving() {
        // Only partition 1 of three gets messages; the client grants back what it took once it
        // took half its window of 64. Owners' queues, the connection's answers and the grants
        // interleave at random (a grant can land while the busy partition's wait is out, even
        // one holding all the credit): the busy partition must never be left without a wait
        // while idle partitions hold the credit in waits that last until the heartbeat.
        for seed in 1..=300u64 {
            let mut rng = seed;
            let mut below = |n: u64| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (rng >> 33) % n
            };
            let mut subs = Subscriptions::new(7);
            let mut rx = Vec::new();
            let parts = (0..3)
                .map(|partition| {
                    let (tx, r) = flume::unbounded();
                    rx.push(r);
                    Part::new(partition, tx, 0)
                })
                .collect();
            let spec = Spec {
                consumer: (1, Identifier::Numeric(1)),
                auto_commit: false,
                batch: 32,
                credit_messages: 64,
                credit_bytes: 1 << 20,
                heartbeat_ms: 60_000,
                parts,
            };
            let mut owners = Owners { rx, waits: Vec::new(), next: 0 };
            let id = subs.add(spec).await;
            let (mut taken, mut delivered) = (0u64, 0u64);
            for step in 0..2_000 {
                let answers = !subs.rx.is_empty();
                let queued = owners.rx.iter().any(|r| !r.is_empty());
                assert!(
                    answers || queued || taken >= 32,
                    "seed {seed} step {step}: stalled after {delivered} messages"
                );
                match below(3) {
                    0 if taken >= 32 => {
                        subs.grant(id, taken as u32, taken as u32 * 100).await.unwrap();
                        taken = 0;
                    }
                    1 if answers => {
                        let pushed = subs.rx.try_recv().unwrap();
                        subs.take(pushed).await;
                        for frame in subs.take_frames() {
                            let count = frame.chunks.iter().map(|c| c.len() as u64 / 100);
                            let count: u64 = count.sum();
                            taken += count;
                            delivered += count;
                        }
                    }
                    _ => {
                        owners.serve(below(3) as u32);
                    }
                }
                assert!(taken <= 64, "seed {seed}: never pushed past the window");
            }
            assert!(delivered > 1000, "seed {seed}: it kept flowing: {delivered}");
        }
    }
}
