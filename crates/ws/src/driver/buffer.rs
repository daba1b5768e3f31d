//! The read buffer policy: a `BytesMut` that rests at a small base capacity, grows while a frame
//! in flight needs more (a frame up to 1 MiB gets its room at once plus room for a following frame
//! of up to 64 KiB; a larger one grows geometrically and never beyond what it needs, so a peer
//! announcing a huge frame gets memory only as its bytes arrive), and drops back to the base size
//! once the big frame has been handed out. Reads go into the spare capacity, never zero-filled.
//! Never parses.
//!
//! Large allocations are recycled per thread through `crate::recycle`: a buffer that backed a
//! large frame is parked when the connection moves on and reused by the next large frame on this
//! thread once the application has dropped every `Bytes` cut from it.

use bytes::BytesMut;

use crate::recycle::{self, LARGE, Side};

/// The smallest useful read: below this much spare room the buffer is replaced before reading.
const MIN_READ: usize = 512;
/// Growth factor while a large frame arrives. Every step is a fresh allocation whose pages fault
/// in as they are written; the large-message benchmark measured doubling at ~2× the frame size in
/// page faults, quadrupling at ~1.3×.
const GROWTH: usize = 4;
/// A frame up to this size gets its whole buffer at once when its header arrives (fewer reads and
/// copies; the pages fault in only as bytes arrive). Beyond it, growth is geometric from here.
const FIRST_STEP: usize = 1 << 20;
/// Largest read burst the buffer adapts to under load.
const MAX_BURST: usize = 64 << 10;

/// A connection's read buffer.
#[derive(Debug)]
pub struct ReadBuffer {
    /// Invariant: starts with the unconsumed bytes of the stream, frame-aligned.
    buf: BytesMut,
    base: usize,
    /// `buf` lives in an allocation of at least [`LARGE`] bytes (worth parking when replaced).
    large: bool,
    /// The room each read is given: doubles (up to [`MAX_BURST`]) while reads fill all the room
    /// they get, halves back toward `base` when they come back small. Under pipelined load one
    /// read then carries many frames instead of about one. Invariant: `base <= burst`.
    burst: usize,
    /// Length and spare room of the buffer handed to the last read, and whether that read was
    /// for small frames (only those adapt the burst; a large frame's reads are sized by the frame).
    handed: (usize, usize, bool),
    /// The room a read in flight holds ([`Self::prepare_tail`] until [`Self::restore_tail`]).
    lent: usize,
}

impl ReadBuffer {
    /// A buffer that rests at `base` bytes, holding `leftover` (bytes read past a handshake).
    pub fn new(base: usize, leftover: BytesMut) -> Self {
        let base = base.max(MIN_READ);
        let mut buffer =
            Self { buf: leftover, base, large: false, burst: base, handed: (0, 0, false), lent: 0 };
        if buffer.buf.capacity() > 4 * buffer.base {
            buffer.reallocate(buffer.base.max(buffer.buf.len()));
        }
        buffer
    }

    /// How many bytes are buffered.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The buffered bytes.
    pub fn bytes_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Lets go of a large allocation that holds no unread bytes, instead of parking it for reuse
    /// at the next read, so that payloads cut from it may be its only owners (and become
    /// `BytesMut` without a copy). A read in flight keeps its share.
    pub fn release_if_drained(&mut self) {
        if self.large && self.buf.is_empty() {
            self.buf = BytesMut::new();
            self.large = false;
        }
    }

    /// The room a read at rest (nothing buffered; see [`Self::rest`]) allocates once its socket
    /// is readable: a whole burst, as a fresh buffer gets.
    pub fn rest_room(&self, need: usize) -> usize {
        self.burst.max(need).max(MIN_READ)
    }

    /// Lets go of the allocation while a read at rest waits with none (nothing is buffered; a
    /// large one goes back to the pool as when it is replaced); the read's buffer, of
    /// [`Self::rest_room`] bytes, comes back through [`Self::restore_tail`] and becomes this one.
    pub fn rest(&mut self, need: usize) {
        debug_assert!(self.buf.is_empty(), "a read at rest starts with nothing buffered");
        let room = self.rest_room(need);
        self.let_go();
        self.handed = (0, room, need <= self.burst);
    }

    /// Lets go of the allocation when nothing is buffered and no read holds its room, for a
    /// connection about to wait on its own for a readable socket; the next read gets a fresh
    /// buffer of a whole burst. Returns whether it did.
    pub fn release(&mut self) -> bool {
        if !self.buf.is_empty() || self.lent != 0 {
            return false;
        }
        self.let_go();
        true
    }

    /// Drops the allocation (a large one goes back to the pool, as when it is replaced).
    fn let_go(&mut self) {
        let old = std::mem::take(&mut self.buf);
        if self.large {
            recycle::give(Side::Read, old);
        }
        self.large = false;
    }

    /// The buffer's capacity, the room a read in flight holds included.
    pub fn capacity(&self) -> usize {
        self.buf.capacity() + self.lent
    }

    /// Makes room for the next read, given that the frame in flight needs `need` bytes counted
    /// from the start of the buffer. Returns the buffer to read into (by value, as compio wants).
    pub fn prepare(&mut self, need: usize) -> BytesMut {
        let len = self.buf.len();
        let cap = self.buf.capacity();
        let want_more = need.saturating_sub(len).max(1);
        let spare = cap - len;
        let rest = self.burst;
        // Any useful read; when a new buffer is needed it gets a whole burst of room.
        let min_room = MIN_READ;
        if len < rest && cap > 4 * rest.max(self.base) {
            // A big frame was consumed: go back to the resting size.
            self.reallocate(rest.max(need.min(2 * rest)));
        } else if spare < min_room {
            // Never read into a sliver: a few bytes per read would cost a submission per frame.
            let grown = if need <= rest { rest } else { self.step_toward(need) };
            self.reallocate(grown.max(len + min_room));
        } else if spare < want_more && cap < need {
            // Room for a read, but the frame needs more: grow geometrically toward `need`.
            self.reallocate(self.step_toward(need));
        }
        self.handed = (self.buf.len(), self.buf.capacity() - self.buf.len(), need <= self.burst);
        std::mem::take(&mut self.buf)
    }

    /// Like [`Self::prepare`], but hands out only the spare room, split off the buffer (same
    /// allocation, no copy): the buffered bytes stay here whatever becomes of the read, and
    /// [`Self::restore_tail`] joins what it read back on.
    pub fn prepare_tail(&mut self, need: usize) -> BytesMut {
        let buf = self.prepare(need);
        self.buf = buf;
        let len = self.buf.len();
        let tail = self.buf.split_off(len);
        self.lent = tail.capacity();
        tail
    }

    /// Joins a read's tail back on (in place when it is still adjacent, as it is unless the
    /// buffer moved meanwhile) and adapts the burst; returns the bytes the read brought.
    pub fn restore_tail(&mut self, tail: BytesMut) -> usize {
        let read = tail.len();
        self.lent = 0;
        let mut buf = std::mem::take(&mut self.buf);
        // What was consumed while the read was out does not count as read.
        self.handed.0 = buf.len();
        buf.unsplit(tail);
        self.restore(buf);
        read
    }

    /// The next capacity for a frame that needs `need` bytes. Up to [`FIRST_STEP`] the frame
    /// gets its room at once plus room for a following frame of up to its size (at most
    /// [`MAX_BURST`]), so pipelined medium frames arrive two per read rather than one read
    /// and one reallocation each. Beyond it, geometric steps that never pass the frame.
    fn step_toward(&self, need: usize) -> usize {
        if need <= FIRST_STEP {
            need + need.min(MAX_BURST)
        } else {
            need.min((GROWTH * self.buf.capacity()).max(FIRST_STEP))
        }
    }

    /// Puts the buffer back after a read.
    pub fn restore(&mut self, buf: BytesMut) {
        let (len, spare, small_frames) = self.handed;
        let read = buf.len().saturating_sub(len);
        if !small_frames {
            // Reads for a large frame say nothing about the burst of small ones.
        } else if spare > 0 && read >= spare {
            self.burst = (self.burst * 2).min(MAX_BURST.max(self.base));
        } else if read < self.burst / 8 {
            self.burst = (self.burst / 2).max(self.base);
        }
        self.buf = buf;
    }

    fn reallocate(&mut self, capacity: usize) {
        let capacity = capacity.max(self.buf.len());
        let large = capacity >= LARGE;
        let mut fresh = if large { recycle::take(Side::Read, capacity) } else { None }
            .unwrap_or_else(|| BytesMut::with_capacity(capacity));
        fresh.extend_from_slice(&self.buf);
        let old = std::mem::replace(&mut self.buf, fresh);
        if self.large {
            recycle::give(Side::Read, old);
        }
        self.large = large;
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
        let need = 8 << 20;
        let mut caps = Vec::new();
        while rb.bytes_mut().len() < need {
            fill(&mut rb, need, usize::MAX);
            caps.push(rb.capacity());
        }
        assert_eq!(caps[0], FIRST_STEP, "the first step for a large frame");
        assert!(caps.windows(2).all(|w| w[1] <= GROWTH * w[0]), "geometric steps: {caps:?}");
        assert_eq!(*caps.last().unwrap(), need, "never beyond the frame");
        // The frame is consumed: the next read uses a base-sized buffer.
        let _frame = rb.bytes_mut().split_to(need);
        let buf = rb.prepare(2);
        assert_eq!(buf.capacity(), 4096);
    }

    #[test]
    fn a_large_buffer_is_reused_once_its_frames_are_dropped() {
        let mut rb = ReadBuffer::new(4096, BytesMut::new());
        let need = 1 << 20;
        while rb.bytes_mut().len() < need {
            fill(&mut rb, need, usize::MAX);
        }
        let frame = rb.bytes_mut().split_to(need).freeze();
        let first_ptr = frame.as_ptr();
        drop(rb.prepare(2));
        // Still shared with `frame`: a second large frame gets fresh memory.
        let mut rb2 = ReadBuffer::new(4096, BytesMut::new());
        rb2.reallocate(need);
        assert_ne!(rb2.bytes_mut().as_ptr(), first_ptr);
        drop(frame);
        let mut rb3 = ReadBuffer::new(4096, BytesMut::new());
        rb3.reallocate(need);
        assert_eq!(rb3.bytes_mut().as_ptr(), first_ptr, "the dropped frame's memory is reused");
    }

    #[test]
    fn the_read_room_grows_while_reads_fill_it_and_decays_when_they_do_not() {
        let mut rb = ReadBuffer::new(4096, BytesMut::new());
        for _ in 0..10 {
            let mut buf = rb.prepare(2);
            let room = buf.capacity() - buf.len();
            buf.extend(std::iter::repeat_n(1u8, room));
            rb.restore(buf);
            drop(rb.bytes_mut().split());
        }
        assert_eq!(rb.burst, MAX_BURST, "full reads grow the burst");
        // The frames were handed out and the room used up: the next buffer has a whole burst.
        let buf = rb.prepare(2);
        assert!(buf.capacity() >= MAX_BURST, "{}", buf.capacity());
        rb.restore(buf);
        for _ in 0..10 {
            let mut buf = rb.prepare(2);
            buf.extend_from_slice(b"x");
            rb.restore(buf);
            drop(rb.bytes_mut().split());
        }
        assert_eq!(rb.burst, 4096, "small reads shrink it back");
        let buf = rb.prepare(2);
        assert!(buf.capacity() <= 4 * 4096);
    }

    #[test]
    fn keeps_leftover_bytes_and_reads_small_frames_in_place() {
        let mut rb = ReadBuffer::new(4096, BytesMut::from(&b"\x81\x05Hel"[..]));
        let buf = rb.prepare(7);
        assert_eq!(&buf[..], b"\x81\x05Hel");
        assert!(buf.capacity() >= 4096);
    }

    #[test]
    fn a_medium_frame_gets_room_for_the_next_one_and_a_large_one_does_not() {
        let mut rb = ReadBuffer::new(4096, BytesMut::new());
        // A 64 KiB frame whose header has arrived: its buffer also holds a following frame.
        fill(&mut rb, 2, 14);
        let need = (64 << 10) + 14;
        let buf = rb.prepare(need);
        assert_eq!(buf.capacity(), need + MAX_BURST);
        assert_eq!(&buf[..], &[0u8; 14][..], "the bytes read so far are kept");
        rb.restore(buf);
        // A frame beyond FIRST_STEP grows only toward itself.
        let mut rb = ReadBuffer::new(4096, BytesMut::new());
        fill(&mut rb, 2, 14);
        assert_eq!(rb.prepare(8 << 20).capacity(), FIRST_STEP);
    }
}
