//! Per-shard load counters for GET_SHARD_STATS: connections open on a shard, requests it has
//! served, and its thread's CPU time (read from `/proc`). Each shard writes only its own slot;
//! any shard reads all of them. Atomics only, relaxed: these are statistics, not state.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// One shard's counters.
#[derive(Debug, Default)]
pub struct ShardLoad {
    connections: AtomicU32,
    requests: AtomicU64,
    /// The shard thread's Linux thread id (0 until the shard has started).
    tid: AtomicU32,
}

impl ShardLoad {
    /// Called on the shard's own thread once it runs.
    pub fn record_thread(&self) {
        let tid = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0);
        self.tid.store(tid, Ordering::Relaxed);
    }

    /// A connection was admitted on this shard; the guard counts it until dropped.
    pub fn connection(&self) -> ConnectionGuard<'_> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self)
    }

    /// A request was served.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connections(&self) -> u32 {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The thread's user + system CPU time in microseconds (0 when `/proc` cannot say).
    pub fn cpu_micros(&self) -> u64 {
        match self.tid.load(Ordering::Relaxed) {
            0 => 0,
            tid => std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
                .ok()
                .and_then(|stat| cpu_ticks(&stat))
                .map_or(0, |ticks| ticks.saturating_mul(MICROS_PER_TICK)),
        }
    }
}

/// Linux reports thread CPU time in USER_HZ ticks, 100 per second on every architecture's ABI.
const MICROS_PER_TICK: u64 = 10_000;

/// utime + stime (fields 14 and 15) of a `/proc/.../stat` line; the name in parentheses may hold
/// spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Counts one connection while alive.
#[derive(Debug)]
pub struct ConnectionGuard<'a>(&'a ShardLoad);

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (eddy (shard) 0) S 1 2 3 4 5 6 7 8 9 10 250 13 0 0 20 0 1 0";
        assert_eq!(cpu_ticks(stat), Some(263));
        assert_eq!(cpu_ticks("4242 (x) S 1 2"), None);
    }

    #[test]
    fn this_threads_cpu_time_is_found_and_connections_are_counted_while_held() {
        let load = ShardLoad::default();
        load.record_thread();
        let start = std::time::Instant::now();
        while load.cpu_micros() < 20_000 && start.elapsed().as_secs() < 5 {
            std::hint::black_box((0..10_000u64).sum::<u64>());
        }
        assert!(load.cpu_micros() >= 20_000, "no CPU time read for this thread");
        let a = load.connection();
        let b = load.connection();
        assert_eq!(load.connections(), 2);
        drop(a);
        drop(b);
        assert_eq!(load.connections(), 0);
    }
}
