//! `GrowableSyncStream`: synchronous `std::io::Read + Write` over a compio owned-buffer stream,
//! as the article describes. `read` copies out of a read buffer or says `WouldBlock`; `write`
//! appends to a write buffer and says `WouldBlock` only at the cap; `flush` does nothing. The real
//! I/O is [`GrowableSyncStream::fill_read_buf`] and [`GrowableSyncStream::flush_write_buf`].
//! Buffers start at a base capacity, grow by a [`GrowthPolicy`] up to a maximum (beyond it: a
//! clear error), compact unread bytes to the front, and shrink back to the base once empty and
//! over 4× base (the article's rule). Never parses bytes.

use std::io::{self, Read, Write};

use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::pool;

/// How a buffer grows when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowthPolicy {
    /// By one base capacity each time (what the article shipped).
    Linear,
    /// Doubling (the article's future work).
    Exponential,
}

/// Sizes and policy of a [`GrowableSyncStream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Starting (and resting) capacity of each buffer. Default 128 KiB (tungstenite's read size).
    pub base_capacity: usize,
    /// Largest capacity of each buffer. Default 64 MiB. `max = base` reproduces the fixed-size
    /// `SyncStream` of compio (8 KiB in the article's pathology).
    pub max_capacity: usize,
    /// How a buffer grows toward `max_capacity` when a message needs more.
    pub growth: GrowthPolicy,
    /// Borrow grown buffers from the per-thread pool and give them back on shrink.
    pub pooled: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            base_capacity: 128 << 10,
            max_capacity: 64 << 20,
            growth: GrowthPolicy::Linear,
            pooled: false,
        }
    }
}

impl StreamConfig {
    /// compio's fixed `SyncStream` of the article: `capacity` bytes, never growing.
    pub fn fixed(capacity: usize) -> Self {
        Self { base_capacity: capacity, max_capacity: capacity, ..Self::default() }
    }
}

/// Counters of the real I/O done, for benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IoCounters {
    /// `read` submissions.
    pub reads: u64,
    /// `write` submissions (each `write_all` may take several).
    pub writes: u64,
    /// Times a buffer grew.
    pub grows: u64,
}

/// Sync `Read + Write` over an async owned-buffer stream `S`.
#[derive(Debug)]
pub struct GrowableSyncStream<S> {
    inner: S,
    /// Invariant: `read_buf[read_pos..]` is unread; `read_pos <= read_buf.len()`.
    read_buf: Vec<u8>,
    read_pos: usize,
    write_buf: Vec<u8>,
    eof: bool,
    config: StreamConfig,
    counters: IoCounters,
}

/// The capacity after one growth step from `cap` that holds `need` bytes, or `None` past `max`.
fn grown(cap: usize, need: usize, config: &StreamConfig) -> Option<usize> {
    if need > config.max_capacity {
        return None;
    }
    let base = config.base_capacity.max(1);
    let mut next = cap.max(base);
    while next < need {
        next = match config.growth {
            GrowthPolicy::Linear => next + base,
            GrowthPolicy::Exponential => next * 2,
        };
    }
    Some(next.min(config.max_capacity))
}

impl<S> GrowableSyncStream<S> {
    /// Wraps `inner`. The buffers are allocated at base capacity.
    pub fn new(inner: S, config: StreamConfig) -> Self {
        let alloc = |n| if config.pooled { pool::take(n) } else { Vec::with_capacity(n) };
        Self {
            inner,
            read_buf: alloc(config.base_capacity),
            read_pos: 0,
            write_buf: alloc(config.base_capacity),
            eof: false,
            config,
            counters: IoCounters::default(),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably (bytes read or written around the buffers are the caller's
    /// to account for).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The read buffer's capacity now (grows with large messages, shrinks back at rest).
    pub fn read_capacity(&self) -> usize {
        self.read_buf.capacity()
    }

    /// The write buffer's capacity now.
    pub fn write_capacity(&self) -> usize {
        self.write_buf.capacity()
    }

    /// Bytes buffered for reading.
    pub fn readable(&self) -> usize {
        self.read_buf.len() - self.read_pos
    }

    /// Bytes waiting in the write buffer.
    pub fn pending_write(&self) -> usize {
        self.write_buf.len()
    }

    /// Whether a fill saw the end of the stream.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Reads, writes, growths and shrinks so far.
    pub fn counters(&self) -> IoCounters {
        self.counters
    }

    /// Replaces `buf` with one of `capacity` holding the same bytes.
    fn regrow(buf: &mut Vec<u8>, capacity: usize, pooled: bool) {
        let mut fresh = if pooled { pool::take(capacity) } else { Vec::with_capacity(capacity) };
        fresh.extend_from_slice(buf);
        let old = std::mem::replace(buf, fresh);
        if pooled && old.capacity() > 0 {
            pool::give(old);
        }
    }

    /// The article's rule: back to base once empty and over 4× base.
    fn shrink(buf: &mut Vec<u8>, config: &StreamConfig) {
        if buf.is_empty() && buf.capacity() > 4 * config.base_capacity {
            let small = if config.pooled {
                pool::take(config.base_capacity)
            } else {
                Vec::with_capacity(config.base_capacity)
            };
            let old = std::mem::replace(buf, small);
            if config.pooled {
                pool::give(old);
            }
        }
    }
}

impl<S> Drop for GrowableSyncStream<S> {
    fn drop(&mut self) {
        if self.config.pooled {
            pool::give(std::mem::take(&mut self.read_buf));
            pool::give(std::mem::take(&mut self.write_buf));
        }
    }
}

impl<S> Read for GrowableSyncStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = &self.read_buf[self.read_pos..];
        if available.is_empty() {
            if self.eof {
                return Ok(0);
            }
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "read buffer empty: call fill_read_buf",
            ));
        }
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.read_pos += n;
        if self.read_pos == self.read_buf.len() {
            self.read_buf.clear();
            self.read_pos = 0;
            Self::shrink(&mut self.read_buf, &self.config);
        }
        Ok(n)
    }
}

impl<S> Write for GrowableSyncStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.config.max_capacity.saturating_sub(self.write_buf.len());
        if room == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "write buffer at its cap: call flush_write_buf",
            ));
        }
        let n = buf.len().min(room);
        let need = self.write_buf.len() + n;
        if need > self.write_buf.capacity() {
            let cap = grown(self.write_buf.capacity(), need, &self.config)
                .unwrap_or(self.config.max_capacity);
            Self::regrow(&mut self.write_buf, cap, self.config.pooled);
            self.counters.grows += 1;
        }
        self.write_buf.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: AsyncRead> GrowableSyncStream<S> {
    /// Reads once from the stream into the read buffer (compacting unread bytes to the front and
    /// growing when full). Returns the bytes read; 0 means EOF. A full buffer at its maximum is an
    /// error: the peer sent more than the configured cap without it being consumed.
    pub async fn fill_read_buf(&mut self) -> io::Result<usize> {
        if self.read_pos > 0 {
            self.read_buf.drain(..self.read_pos);
            self.read_pos = 0;
        }
        if self.read_buf.len() == self.read_buf.capacity() {
            let need = self.read_buf.len() + 1;
            let Some(cap) = grown(self.read_buf.capacity(), need, &self.config) else {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!(
                        "read buffer reached its maximum of {} bytes",
                        self.config.max_capacity
                    ),
                ));
            };
            Self::regrow(&mut self.read_buf, cap, self.config.pooled);
            self.counters.grows += 1;
        }
        let buf = std::mem::take(&mut self.read_buf);
        let before = buf.len();
        let BufResult(result, buf) = self.inner.append(buf).await;
        self.counters.reads += 1;
        let got = buf.len() - before;
        self.read_buf = buf;
        let n = result?.min(got);
        if n == 0 {
            self.eof = true;
        }
        Ok(n)
    }
}

impl<S: AsyncWrite> GrowableSyncStream<S> {
    /// Writes the whole write buffer to the stream, flushes the stream, and shrinks the buffer
    /// back to base if it had grown past 4× base. Returns the bytes written.
    pub async fn flush_write_buf(&mut self) -> io::Result<usize> {
        let len = self.write_buf.len();
        if len > 0 {
            let buf = std::mem::take(&mut self.write_buf);
            let BufResult(result, mut buf) = self.inner.write_all(buf).await;
            self.counters.writes += 1;
            buf.clear();
            self.write_buf = buf;
            result?;
            Self::shrink(&mut self.write_buf, &self.config);
        }
        self.inner.flush().await?;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_steps_follow_the_policy_and_stop_at_the_cap() {
        let lin = StreamConfig {
            base_capacity: 10,
            max_capacity: 100,
            growth: GrowthPolicy::Linear,
            pooled: false,
        };
        assert_eq!(grown(10, 11, &lin), Some(20));
        assert_eq!(grown(10, 35, &lin), Some(40));
        assert_eq!(grown(10, 100, &lin), Some(100));
        assert_eq!(grown(10, 101, &lin), None);
        let exp = StreamConfig { growth: GrowthPolicy::Exponential, ..lin };
        assert_eq!(grown(10, 35, &exp), Some(40));
        assert_eq!(grown(40, 41, &exp), Some(80));
        assert_eq!(grown(80, 81, &exp), Some(100));
    }
}
