//! The per-connection compressor and decompressor. Compression ends each message with a sync
//! flush and strips its `00 00 ff ff` tail (RFC 7692 §7.2.1); decompression appends that tail at
//! the end of each message and stops as soon as the output would exceed the message limit, so a
//! small compressed frame can never allocate more than the limit (decompression bombs get 1009).
//! Both are created lazily, on first use, and reset after each message when the peer agreed to
//! no context takeover. No I/O.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The tail a sync flush leaves, removed on the wire.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Largest step by which the inflate output grows.
const INFLATE_STEP: usize = 64 << 10;

/// Why a message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The inflated message exceeds the limit.
    #[error("inflated message exceeds {0} bytes")]
    TooBig(usize),
    /// The compressed data is invalid.
    #[error("invalid compressed data")]
    Corrupt,
}

/// Compresses outgoing messages.
#[derive(Debug)]
pub struct Compressor {
    state: Option<Compress>,
    window_bits: u8,
    level: u32,
    /// Reset after each message (our side's no_context_takeover).
    reset: bool,
}

impl Compressor {
    /// A compressor for a `window_bits` window (clamped to 9–15) at `level` (0–9); `reset`
    /// starts each message with a fresh dictionary. Its zlib state is allocated on first use.
    pub fn new(window_bits: u8, level: u32, reset: bool) -> Self {
        Self { state: None, window_bits: window_bits.clamp(9, 15), level: level.min(9), reset }
    }

    /// Whether every message starts from a fresh dictionary (so equal messages compress equally).
    pub fn resets(&self) -> bool {
        self.reset
    }

    /// `(window bits, level)` as clamped.
    pub fn params(&self) -> (u8, u32) {
        (self.window_bits, self.level)
    }

    /// Appends the compressed form of `data` (without the sync-flush tail) to `out`. Returns
    /// false (with `out` as it was and the context reset) if zlib failed; the caller then sends
    /// the message uncompressed, which the extension allows.
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        let (level, bits) = (self.level, self.window_bits);
        let c = self.state.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        let start_in = c.total_in();
        let start_len = out.len();
        loop {
            let consumed = (c.total_in() - start_in) as usize;
            out.reserve((data.len() - consumed) / 2 + 64);
            let (in_before, out_before) = (c.total_in(), c.total_out());
            if c.compress_vec(&data[consumed..], out, FlushCompress::Sync).is_err() {
                out.truncate(start_len);
                c.reset();
                return false;
            }
            let consumed = (c.total_in() - start_in) as usize;
            let done = consumed == data.len() && out.len() < out.capacity();
            let stuck = c.total_in() == in_before && c.total_out() == out_before;
            if done || stuck {
                break;
            }
        }
        if out[start_len..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.len() == start_len {
            // Nothing new to flush (an empty message after another): RFC 7692 §7.2.3.6 sends a
            // single 0x00, which with the receiver's tail forms an empty stored block.
            out.push(0x00);
        }
        if self.reset {
            c.reset();
        }
        true
    }
}

/// Inflates incoming messages, bounded.
#[derive(Debug)]
pub struct Decompressor {
    state: Option<Decompress>,
    /// Reset after each message (the peer's no_context_takeover).
    reset: bool,
}

impl Decompressor {
    /// A decompressor; `reset` drops the dictionary after each message. Its zlib state is
    /// allocated on first use.
    pub fn new(reset: bool) -> Self {
        Self { state: None, reset }
    }

    /// Inflates one frame's compressed payload into `out`, never letting `out` exceed `limit`.
    /// With `last`, the message's tail is fed and the context reset if agreed.
    pub fn inflate(
        &mut self,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        self.feed(data, out, limit)?;
        if last {
            self.feed(&TAIL, out, limit)?;
            if self.reset
                && let Some(d) = self.state.as_mut()
            {
                d.reset(false);
            }
        }
        Ok(())
    }

    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        // A 32 KiB window decodes data compressed with any smaller window.
        let d = self.state.get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
        let start_in = d.total_in();
        loop {
            let consumed = (d.total_in() - start_in) as usize;
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    // Full at the limit: one more byte of output would exceed it.
                    let mut probe = Vec::with_capacity(1);
                    let before = d.total_out();
                    d.decompress_vec(&data[consumed..], &mut probe, FlushDecompress::Sync)
                        .map_err(|_| InflateError::Corrupt)?;
                    if d.total_out() > before {
                        return Err(InflateError::TooBig(limit));
                    }
                    if (d.total_in() - start_in) as usize == data.len() {
                        return Ok(());
                    }
                    continue;
                }
                out.reserve_exact(INFLATE_STEP.min(limit - out.len()).max(1));
            }
            let (in_before, out_before) = (d.total_in(), d.total_out());
            let status = d
                .decompress_vec(&data[consumed..], out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            let consumed = (d.total_in() - start_in) as usize;
            if consumed == data.len() && out.len() < out.capacity() {
                return Ok(());
            }
            if d.total_in() == in_before
                && d.total_out() == out_before
                && out.len() < out.capacity()
            {
                // No progress with room to spare: zlib wants input this frame does not have.
                return Ok(());
            }
            if status == Status::StreamEnd {
                // A final deflate block inside a message: valid, nothing more can follow in it.
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8], bits: u8, reset: bool) {
        let mut c = Compressor::new(bits, 3, reset);
        let mut d = Decompressor::new(reset);
        for _ in 0..3 {
            let mut wire = Vec::new();
            assert!(c.compress(data, &mut wire));
            assert!(!wire.ends_with(&TAIL));
            let mut out = Vec::new();
            d.inflate(&wire, true, &mut out, usize::MAX).unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn messages_round_trip_with_and_without_context_takeover() {
        let text = "{\"id\":1,\"name\":\"eddy\",\"tags\":[\"a\",\"b\"]}".repeat(100);
        for bits in [9, 12, 15] {
            round_trip(text.as_bytes(), bits, false);
            round_trip(text.as_bytes(), bits, true);
            round_trip(b"", bits, false);
        }
        let random: Vec<u8> =
            (0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        round_trip(&random, 15, false);
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        let mut c = Compressor::new(15, 9, false);
        let mut wire = Vec::new();
        assert!(c.compress(&vec![0u8; 32 << 20], &mut wire));
        assert!(wire.len() < 64 << 10, "32 MiB of zeros compress to {} bytes", wire.len());
        let mut d = Decompressor::new(false);
        let mut out = Vec::new();
        assert_eq!(d.inflate(&wire, true, &mut out, 1 << 20), Err(InflateError::TooBig(1 << 20)));
        assert!(out.capacity() <= (1 << 20) + INFLATE_STEP, "memory bounded: {}", out.capacity());
        let mut d = Decompressor::new(false);
        assert_eq!(
            d.inflate(&[0xff, 0xff, 0xff], true, &mut Vec::new(), 1000),
            Err(InflateError::Corrupt)
        );
    }
}
