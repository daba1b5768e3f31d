//! Per-thread recycling of large buffers (no I/O, no parsing). A buffer that backed a large frame
//! (read side) or a large masked payload (client write side) is parked here when its owner moves
//! on; the next large buffer on this thread reuses it once every `Bytes` cut from it has been
//! dropped (`try_reclaim` proves that). Its pages are already faulted in: for large messages the
//! page faults of fresh memory, not copying, were the main cost. Bounded: at most [`PARKED_MAX`]
//! buffers per thread and side, oldest dropped first, so memory is handed back rather than kept
//! per connection. Read and write buffers are parked apart: a client and a server on one thread
//! would otherwise take each other's buffers (measured: +65% page faults on a 16 MiB echo).

use std::cell::RefCell;

use bytes::BytesMut;

/// Allocations at least this big are worth recycling.
pub const LARGE: usize = 256 << 10;
/// Most parked buffers per thread.
pub const PARKED_MAX: usize = 4;

/// Which buffers a pool holds.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    /// Read buffers (`driver::buffer`).
    Read,
    /// Masked outgoing payloads (`protocol::outbox`).
    Write,
}

thread_local! {
    static PARKED_READ: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static PARKED_WRITE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

fn with_pool<T>(side: Side, f: impl FnOnce(&mut Vec<BytesMut>) -> T) -> T {
    let pool = match side {
        Side::Read => &PARKED_READ,
        Side::Write => &PARKED_WRITE,
    };
    pool.with(|parked| f(&mut parked.borrow_mut()))
}

/// An empty parked buffer of `side` that is no longer shared and holds `capacity` bytes, if any.
pub fn take(side: Side, capacity: usize) -> Option<BytesMut> {
    with_pool(side, |parked| {
        let i = parked.iter_mut().position(|b| {
            b.clear();
            b.try_reclaim(capacity)
        })?;
        Some(parked.swap_remove(i))
    })
}

/// Parks a buffer of `side` that backed a large allocation (dropping the oldest when full).
pub fn give(side: Side, buf: BytesMut) {
    with_pool(side, |parked| {
        if parked.len() == PARKED_MAX {
            parked.remove(0);
        }
        parked.push(buf);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_buffer_is_reused_only_once_unshared_and_big_enough() {
        let mut buf = BytesMut::with_capacity(LARGE);
        buf.extend_from_slice(&[7u8; 1000]);
        let ptr = buf.as_ptr();
        let out = buf.split().freeze();
        give(Side::Read, buf);
        assert!(take(Side::Write, LARGE).is_none(), "the other side's pool");
        assert!(take(Side::Read, LARGE).is_none(), "still shared with `out`");
        drop(out);
        assert!(take(Side::Read, 2 * LARGE).is_none(), "too small");
        let again = take(Side::Read, LARGE).expect("reclaimed");
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty() && again.capacity() >= LARGE);
        assert!(take(Side::Read, LARGE).is_none(), "taken once");
    }

    #[test]
    fn at_most_parked_max_buffers_are_kept() {
        // Told apart by capacity (freed addresses get reused, so pointers would not do).
        let caps: Vec<usize> = (0..PARKED_MAX + 2).map(|i| LARGE + i * 4096).collect();
        for &cap in &caps {
            give(Side::Write, BytesMut::with_capacity(cap));
        }
        let mut back = Vec::new();
        while let Some(b) = take(Side::Write, LARGE) {
            back.push(b.capacity());
        }
        back.sort_unstable();
        assert_eq!(back, caps[2..], "the two oldest were dropped");
    }
}
