//! Deferred polls waiting in a partition's owner: what each one waits for, the earliest
//! deadline, and which are due after an append, at a deadline or on a cancel. Plain data: the
//! owner reads the log and replies. A waiter is ~100 bytes plus its reply channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::message::{ConsumerId, Deferral, WaitReply};

/// A poll (or a subscription) that waits.
#[derive(Debug)]
pub struct Waiter {
    pub consumer: ConsumerId,
    /// The offset it reads from (its strategy resolved when it arrived).
    pub start: u64,
    pub count: u32,
    pub auto_commit: bool,
    pub defer: Deferral,
    pub reply: WaitReply,
}

impl Waiter {
    /// Whether it is due now: its deadline passed, its client is gone, enough messages are
    /// readable (`min_count`, at least one, at most `count`), or their bytes fill `max_bytes`
    /// (`bytes_from(start)`: `None` when unknown, taken as full when anything is readable).
    pub fn is_due(&self, now: Instant, readable_end: u64, bytes: Option<u64>) -> bool {
        let available = readable_end.saturating_sub(self.start);
        let wanted = u64::from(self.defer.min_count.clamp(1, self.count.max(1)));
        let budget_full = self.defer.max_bytes > 0
            && available > 0
            && bytes.is_none_or(|b| b >= u64::from(self.defer.max_bytes));
        now >= self.defer.deadline
            || self.reply.is_disconnected()
            || available >= wanted
            || budget_full
    }
}

/// The waiting polls of one partition, in arrival order, counted in a gauge the whole server
/// shares (`ServerHandle::waiting`).
#[derive(Debug, Default)]
pub struct Waiters {
    list: Vec<Waiter>,
    gauge: Arc<AtomicU64>,
}

impl Waiters {
    pub fn new(gauge: Arc<AtomicU64>) -> Self {
        Self { list: Vec::new(), gauge }
    }

    pub fn push(&mut self, waiter: Waiter) {
        self.list.push(waiter);
        self.gauge.fetch_add(1, Ordering::Relaxed);
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The earliest deadline, if any waits.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.list.iter().map(|w| w.defer.deadline).min()
    }

    /// Removes and returns the waiters for which `due` holds, in arrival order.
    pub fn take_due(&mut self, mut due: impl FnMut(&Waiter) -> bool) -> Vec<Waiter> {
        let (ready, waiting): (Vec<Waiter>, Vec<Waiter>) =
            std::mem::take(&mut self.list).into_iter().partition(|w| due(w));
        self.list = waiting;
        self.gauge.fetch_sub(ready.len() as u64, Ordering::Relaxed);
        ready
    }
}

impl Drop for Waiters {
    fn drop(&mut self) {
        self.gauge.fetch_sub(self.list.len() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn waiter(start: u64, count: u32, min_count: u32, max_bytes: u32) -> (Waiter, impl Drop) {
        let (reply, rx) =
            flume::bounded::<Result<super::super::message::Polled, crate::error::ServerError>>(1);
        let defer = Deferral {
            deadline: Instant::now() + Duration::from_secs(60),
            min_count,
            max_bytes,
            exact_bytes: false,
            waiter: 1,
        };
        let consumer = (1, eddy_wire::Identifier::Numeric(1));
        let reply = WaitReply::Poll(reply);
        (Waiter { consumer, start, count, auto_commit: false, defer, reply }, rx)
    }

    #[test]
    fn due_when_enough_messages_bytes_or_time() {
        let now = Instant::now();
        let (w, _rx) = waiter(10, 100, 3, 0);
        assert!(!w.is_due(now, 12, Some(500)), "two of three");
        assert!(w.is_due(now, 13, None), "three");
        assert!(w.is_due(now + Duration::from_secs(61), 10, Some(0)), "deadline");
        let (w, _rx) = waiter(10, 2, 50, 0);
        assert!(w.is_due(now, 12, None), "min_count is capped by count");
        let (w, _rx) = waiter(10, 100, 0, 0);
        assert!(!w.is_due(now, 10, None) && w.is_due(now, 11, None), "min_count 0 means 1");
        let (w, _rx) = waiter(10, 100, 1000, 400);
        assert!(!w.is_due(now, 11, Some(399)) && w.is_due(now, 11, Some(400)), "byte budget");
        assert!(w.is_due(now, 11, None), "unknown bytes past the active segment: full");
        assert!(!w.is_due(now, 10, None), "nothing readable is never a full budget");
    }

    #[test]
    fn a_vanished_client_is_due_at_once_and_take_due_keeps_order() {
        let now = Instant::now();
        let (gone, rx) = waiter(0, 1, 1, 0);
        drop(rx);
        assert!(gone.is_due(now, 0, None));
        let mut waiters = Waiters::default();
        let (a, _ra) = waiter(5, 1, 1, 0);
        let (b, _rb) = waiter(9, 1, 1, 0);
        waiters.push(a);
        waiters.push(gone);
        waiters.push(b);
        let due = waiters.take_due(|w| w.start < 9);
        assert_eq!(due.iter().map(|w| w.start).collect::<Vec<_>>(), vec![5, 0]);
        assert_eq!(waiters.len(), 1);
        assert_eq!(waiters.gauge.load(Ordering::Relaxed), 1, "the gauge counts who waits");
        assert!(waiters.next_deadline().is_some());
    }
}
