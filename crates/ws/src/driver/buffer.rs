//! The read buffer policy: a `BytesMut` that rests at a small base capacity, grows geometrically
//! while a frame in flight needs more (never beyond what that frame needs, so a peer announcing a
//! huge frame gets memory only as its bytes arrive), and drops back to the base size once the big
//! frame has been handed out. Reads go into the spare capacity, never zero-filled. Never parses.

use bytes::BytesMut;

/// The smallest useful read: below this much spare room the buffer is replaced before reading.
const MIN_READ: usize = 512;

/// A connection's read buffer.
#[derive(Debug)]
pub struct ReadBuffer {
    /// Invariant: starts with the unconsumed bytes of the stream, frame-aligned.
    buf: BytesMut,
    base: usize,
}

impl ReadBuffer {
    /// A buffer that rests at `base` bytes, holding `leftover` (bytes read past a handshake).
    pub fn new(base: usize, leftover: BytesMut) -> Self {
        let mut buffer = Self { buf: leftover, base: base.max(MIN_READ) };
        if buffer.buf.capacity() > 4 * buffer.base {
            buffer.reallocate(buffer.base.max(buffer.buf.len()));
        }
        buffer
    }

    /// The buffered bytes.
    pub fn bytes_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The spare capacity the next read fills.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Makes room for the next read, given that the frame in flight needs `need` bytes counted
    /// from the start of the buffer. Returns the buffer to read into (by value, as compio wants).
    pub fn prepare(&mut self, need: usize) -> BytesMut {
        let len = self.buf.len();
        let cap = self.buf.capacity();
        let want_more = need.saturating_sub(len).max(1);
        let spare = cap - len;
        if len < self.base && cap > 4 * self.base {
            // A big frame was consumed: go back to the resting size.
            self.reallocate(self.base.max(need.min(2 * self.base)));
        } else if spare < want_more.min(MIN_READ) {
            let grown =
                if need <= self.base { self.base } else { need.min((2 * cap).max(self.base)) };
            self.reallocate(grown.max(len + want_more.min(MIN_READ)));
        } else if spare < want_more && cap < need {
            // Room for a read, but the frame needs more: grow geometrically toward `need`.
            self.reallocate(need.min(2 * cap));
        }
        std::mem::take(&mut self.buf)
    }

    /// Puts the buffer back after a read.
    pub fn restore(&mut self, buf: BytesMut) {
        self.buf = buf;
    }

    fn reallocate(&mut self, capacity: usize) {
        let mut fresh = BytesMut::with_capacity(capacity.max(self.buf.len()));
        fresh.extend_from_slice(&self.buf);
        self.buf = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(rb: &mut ReadBuffer, need: usize, bytes: usize) {
        let mut buf = rb.prepare(need);
        let room = buf.capacity() - buf.len();
        buf.extend(std::iter::repeat_n(0u8, bytes.min(room)));
        rb.restore(buf);
    }

    #[test]
    fn grows_geometrically_toward_the_frame_and_shrinks_back() {
        let mut rb = ReadBuffer::new(4096, BytesMut::new());
        let buf = rb.prepare(2);
        assert_eq!(buf.capacity(), 4096);
        rb.restore(buf);
        let need = 1 << 20;
        let mut caps = Vec::new();
        while rb.bytes_mut().len() < need {
            fill(&mut rb, need, usize::MAX);
            caps.push(rb.capacity());
        }
        assert!(caps.windows(2).all(|w| w[1] <= 2 * w[0]), "at most doubling: {caps:?}");
        assert_eq!(*caps.last().unwrap(), need, "never beyond the frame");
        // The frame is consumed: the next read uses a base-sized buffer.
        let _frame = rb.bytes_mut().split_to(need);
        let buf = rb.prepare(2);
        assert_eq!(buf.capacity(), 4096);
    }

    #[test]
    fn keeps_leftover_bytes_and_reads_small_frames_in_place() {
        let mut rb = ReadBuffer::new(4096, BytesMut::from(&b"\x81\x05Hel"[..]));
        let buf = rb.prepare(7);
        assert_eq!(&buf[..], b"\x81\x05Hel");
        assert!(buf.capacity() >= 4096);
    }
}
