//! A per-thread pool of large buffers (the article's "buffer pooling" future work): a stream that
//! must grow borrows a buffer that a previous message already faulted in, instead of asking the
//! allocator (which, for sizes over its mmap threshold, maps fresh zero pages every time), and
//! gives it back when it shrinks. Bounded: at most [`MAX_POOLED_BYTES`] per thread. Thread-local,
//! as compio runtimes are: no locks.

use std::cell::RefCell;

/// Most bytes one thread keeps in its pool.
pub const MAX_POOLED_BYTES: usize = 256 << 20;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Takes an empty buffer with at least `capacity` bytes of capacity, from the pool if it holds
/// one (the smallest that fits), else newly allocated.
pub fn take(capacity: usize) -> Vec<u8> {
    let pooled = POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        best.map(|i| pool.swap_remove(i))
    });
    pooled.unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Returns a buffer to the pool (dropped instead if the pool is full).
pub fn give(mut buf: Vec<u8>) {
    buf.clear();
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let held: usize = pool.iter().map(Vec::capacity).sum();
        if held + buf.capacity() <= MAX_POOLED_BYTES {
            pool.push(buf);
        }
    });
}

/// Bytes currently pooled on this thread.
pub fn pooled_bytes() -> usize {
    POOL.with(|pool| pool.borrow().iter().map(Vec::capacity).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_smallest_fit_first_and_the_pool_is_bounded() {
        give(Vec::with_capacity(1 << 20));
        give(Vec::with_capacity(4 << 20));
        let b = take(2 << 20);
        assert!(b.capacity() >= 4 << 20, "the 4 MiB one fits");
        let small = take(1000);
        assert!(small.capacity() >= 1 << 20, "the 1 MiB one is reused");
        give(Vec::with_capacity(MAX_POOLED_BYTES + 1));
        assert!(pooled_bytes() <= MAX_POOLED_BYTES);
    }
}
