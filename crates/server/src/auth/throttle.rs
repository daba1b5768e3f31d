//! Per-IP back-off after failed logins, shared by every shard: after `FREE_FAILURES` failures
//! from one address, each attempt after a further failure waits 100 ms, doubling per failure up to a
//! configured maximum, counted from the last failure. A success clears the address; an address
//! quiet for `FORGET_AFTER` is forgotten. Bounded: at most `MAX_TRACKED` addresses are held.
//! Touched only on login, never on the message path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures from one address before attempts from it are delayed.
pub const FREE_FAILURES: u32 = 5;
/// The first delay; each further failure doubles it.
const BASE_DELAY: Duration = Duration::from_millis(100);
/// An address with no failure for this long starts over.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Most addresses tracked at once.
const MAX_TRACKED: usize = 16_384;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The shared back-off table.
#[derive(Debug)]
pub struct LoginThrottle {
    max_delay: Duration,
    table: Mutex<HashMap<IpAddr, Failures>>,
}

impl LoginThrottle {
    pub fn new(max_delay: Duration) -> Self {
        Self { max_delay, table: Mutex::new(HashMap::new()) }
    }

    /// How long an attempt from `ip` starting `now` must wait first.
    pub fn delay(&self, ip: IpAddr, now: Instant) -> Duration {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        match table.get(&ip) {
            Some(f) if now.duration_since(f.last) < FORGET_AFTER => {
                self.backoff(f.count).saturating_sub(now.duration_since(f.last))
            }
            _ => Duration::ZERO,
        }
    }

    /// The delay owed after `count` failures.
    fn backoff(&self, count: u32) -> Duration {
        match count.checked_sub(FREE_FAILURES + 1) {
            None => Duration::ZERO,
            Some(extra) => BASE_DELAY.saturating_mul(1u32 << extra.min(20)).min(self.max_delay),
        }
    }

    /// Records a failed attempt from `ip`; returns the failures counted for it.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> u32 {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if table.len() >= MAX_TRACKED && !table.contains_key(&ip) {
            table.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if table.len() >= MAX_TRACKED {
                // Still full of recent failures: forget the oldest to stay bounded.
                if let Some(oldest) = table.iter().min_by_key(|(_, f)| f.last).map(|(ip, _)| *ip) {
                    table.remove(&oldest);
                }
            }
        }
        let entry = table.entry(ip).or_insert(Failures { count: 0, last: now });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        entry.count
    }

    /// Clears `ip` after a successful login.
    pub fn succeeded(&self, ip: IpAddr) {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_double_and_cap() {
        let t = LoginThrottle::new(Duration::from_secs(1));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let now = Instant::now();
        for i in 1..=FREE_FAILURES {
            assert_eq!(t.delay(ip, now), Duration::ZERO);
            assert_eq!(t.failed(ip, now), i);
        }
        assert_eq!(t.delay(ip, now), Duration::ZERO, "the fifth failure is still free");
        t.failed(ip, now);
        assert_eq!(t.delay(ip, now), Duration::from_millis(100));
        assert_eq!(t.delay(ip, now + Duration::from_millis(60)), Duration::from_millis(40));
        t.failed(ip, now);
        assert_eq!(t.delay(ip, now), Duration::from_millis(200));
        for _ in 0..10 {
            t.failed(ip, now);
        }
        assert_eq!(t.delay(ip, now), Duration::from_secs(1), "capped");
        assert_eq!(t.delay(other, now), Duration::ZERO, "per address");
        assert_eq!(t.delay(ip, now + FORGET_AFTER), Duration::ZERO, "forgotten");
        t.succeeded(ip);
        assert_eq!(t.delay(ip, now), Duration::ZERO);
    }

    #[test]
    fn the_table_stays_bounded() {
        let t = LoginThrottle::new(Duration::from_secs(1));
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 100) {
            t.failed(IpAddr::from(i.to_be_bytes()), now);
        }
        assert!(t.table.lock().unwrap().len() <= MAX_TRACKED);
    }
}
