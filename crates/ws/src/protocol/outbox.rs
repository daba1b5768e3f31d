//! The outgoing byte queue: frames waiting to be written, as a list of `Bytes` segments for one
//! vectored write. Headers and small payloads are coalesced into one contiguous buffer; large
//! payloads are referenced, never copied (except by a client, which must mask them: it copies once
//! into a buffer it owns, masking as it copies, unless the payload is written in place to begin
//! with). A large masked payload's buffer goes back to the per-thread `crate::recycle` pool once
//! drained, so the next large send reuses its faulted-in pages and an idle connection keeps none
//! of it. Knows nothing of sockets.

use bytes::{Bytes, BytesMut};

use crate::frame::mask::extend_masked;
use crate::frame::{FrameHeader, OpCode};
use crate::recycle::{self, LARGE, Side};

/// How much `head` reserves when it runs out, so small frames do not allocate one by one.
const HEAD_CHUNK: usize = 4 << 10;
/// A drained `head` bigger than this is released instead of kept for reuse, so a connection that
/// once sent a large masked message goes back to a small footprint.
const HEAD_KEEP: usize = 64 << 10;

/// Frames waiting to be written, in order.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Encoded bytes not yet cut into a segment; they follow every entry of `segments`.
    head: BytesMut,
    /// Finished segments, in write order.
    segments: Vec<Bytes>,
    /// Payloads up to this size are copied into `head`.
    coalesce_threshold: usize,
    /// Invariant: the total length of `segments` plus `head`.
    queued: usize,
    /// The largest capacity `head` has had since it was last drained (how big its allocation
    /// is, which `head.capacity()` stops telling once it has been split).
    head_alloc: usize,
}

impl Outbox {
    /// An empty outbox that copies payloads of at most `coalesce_threshold` bytes.
    pub fn new(coalesce_threshold: usize) -> Self {
        Self { coalesce_threshold, ..Self::default() }
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.queued
    }

    /// Makes room for `need` more bytes in `head`; a large room comes from the recycle pool
    /// when `head` holds nothing yet.
    fn make_room(&mut self, need: usize) {
        if self.head.capacity() - self.head.len() >= need {
            return;
        }
        if self.head.is_empty()
            && need >= LARGE
            && let Some(buf) = recycle::take(Side::Write, need)
        {
            self.retire_head();
            self.head = buf;
        } else {
            self.head.reserve(need.max(HEAD_CHUNK));
        }
        self.head_alloc = self.head_alloc.max(self.head.capacity());
    }

    /// Lets go of an empty `head`: a large allocation goes to the recycle pool, a medium one is
    /// freed, a small one is kept for the next frames.
    fn retire_head(&mut self) {
        if self.head_alloc >= LARGE {
            recycle::give(Side::Write, std::mem::take(&mut self.head));
        } else if self.head_alloc > HEAD_KEEP {
            self.head = BytesMut::new();
        }
        self.head_alloc = self.head.capacity();
    }

    /// Lets go of the coalescing buffer and the segment list when nothing is queued (a
    /// connection going to rest: it would otherwise keep up to `HEAD_KEEP` bytes for its next
    /// frames); the next small frame allocates a fresh one.
    pub fn release_idle(&mut self) {
        if self.queued == 0 && self.head.is_empty() {
            self.head = BytesMut::new();
            self.head_alloc = 0;
            self.segments = Vec::new();
        }
    }

    /// Queues one frame. With `mask`, the payload is copied and masked in place.
    pub fn push_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &Bytes,
        mask: Option<[u8; 4]>,
    ) {
        self.push_frame_rsv(opcode, fin, 0, payload, mask);
    }

    /// Queues one frame with RSV bits `rsv` (RSV1 = `0b100` marks a compressed message).
    pub fn push_frame_rsv(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &Bytes,
        mask: Option<[u8; 4]>,
    ) {
        let header = FrameHeader { fin, rsv, opcode, mask, payload_len: payload.len() as u64 };
        let copy = mask.is_some() || payload.len() <= self.coalesce_threshold;
        self.make_room(header.encoded_len() + if copy { payload.len() } else { 0 });
        header.encode(&mut self.head);
        if copy {
            PayloadWriter::new(&mut self.head, mask).put_slice(payload);
        } else {
            self.segments.push(self.head.split().freeze());
            self.segments.push(payload.clone());
        }
        self.queued += header.encoded_len() + payload.len();
    }

    /// Queues one frame whose payload is the concatenation of `parts` (e.g. a reply head and
    /// stored bytes), without joining them: small parts are copied next to the header, large ones
    /// referenced. With `mask`, every part is copied and masked in place.
    pub fn push_frame_parts(
        &mut self,
        opcode: OpCode,
        fin: bool,
        parts: &[Bytes],
        mask: Option<[u8; 4]>,
    ) {
        let total: usize = parts.iter().map(Bytes::len).sum();
        let header = FrameHeader { fin, rsv: 0, opcode, mask, payload_len: total as u64 };
        // A client copies (and masks) every part: room for all of it at once.
        let copied = if mask.is_some() { total } else { 0 };
        self.make_room(header.encoded_len() + copied);
        header.encode(&mut self.head);
        let mut offset = 0;
        for part in parts {
            if let Some(key) = mask {
                extend_masked(&mut self.head, part, key, offset);
            } else if part.len() <= self.coalesce_threshold {
                self.head.extend_from_slice(part);
            } else {
                self.segments.push(self.head.split().freeze());
                self.segments.push(part.clone());
            }
            offset += part.len();
        }
        self.queued += header.encoded_len() + total;
    }

    /// Queues one final frame of exactly `len` payload bytes that `write` puts in place, right
    /// after the header: no copy of the payload, and a client's is masked as it is written.
    /// Returns how many bytes `write` put when that is not `len`; nothing is queued then.
    pub fn push_frame_written(
        &mut self,
        opcode: OpCode,
        len: usize,
        mask: Option<[u8; 4]>,
        write: impl FnOnce(&mut PayloadWriter<'_>),
    ) -> Result<(), usize> {
        let header = FrameHeader { fin: true, rsv: 0, opcode, mask, payload_len: len as u64 };
        self.make_room(header.encoded_len() + len);
        let frame_start = self.head.len();
        header.encode(&mut self.head);
        let mut writer = PayloadWriter::new(&mut self.head, mask);
        write(&mut writer);
        let written = writer.written;
        if written != len {
            self.head.truncate(frame_start);
            return Err(written);
        }
        self.queued += header.encoded_len() + len;
        Ok(())
    }

    /// Moves up to `max_segments` segments, in order, onto `dst` for one write, and returns how
    /// many bytes they hold. Everything moved is no longer counted as queued.
    pub fn drain_into(&mut self, dst: &mut Vec<Bytes>, max_segments: usize) -> usize {
        if !self.head.is_empty() {
            self.segments.push(self.head.split().freeze());
            self.retire_head();
        }
        let n = self.segments.len().min(max_segments.max(1));
        let bytes: usize = self.segments[..n].iter().map(Bytes::len).sum();
        dst.extend(self.segments.drain(..n));
        self.queued -= bytes;
        bytes
    }
}

/// Where a payload is written in place ([`Outbox::push_frame_written`]): appends to the frame
/// it belongs to, masking as it copies when the frame is masked. It can only append: the frames
/// queued before it are out of its reach.
#[derive(Debug)]
pub struct PayloadWriter<'a> {
    buf: &'a mut BytesMut,
    mask: Option<[u8; 4]>,
    /// Bytes appended so far (the key's phase for the next ones).
    written: usize,
}

impl<'a> PayloadWriter<'a> {
    /// A writer appending to `buf`, masking with `mask` from payload byte 0.
    pub fn new(buf: &'a mut BytesMut, mask: Option<[u8; 4]>) -> Self {
        Self { buf, mask, written: 0 }
    }

    /// Appends `bytes` to the payload.
    pub fn put_slice(&mut self, bytes: &[u8]) {
        match self.mask {
            Some(key) => extend_masked(self.buf, bytes, key, self.written),
            None => self.buf.extend_from_slice(bytes),
        }
        self.written += bytes.len();
    }

    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.written
    }
}

impl std::io::Write for PayloadWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.put_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::apply_mask;

    fn drained(outbox: &mut Outbox) -> Vec<u8> {
        let mut segs = Vec::new();
        while !outbox.is_empty() {
            outbox.drain_into(&mut segs, 2);
        }
        segs.concat()
    }

    #[test]
    fn an_idle_outbox_lets_go_of_its_buffer_and_a_busy_one_keeps_it() {
        let mut outbox = Outbox::new(16);
        outbox.push_frame(OpCode::Text, true, &Bytes::from_static(b"hi"), None);
        outbox.release_idle();
        assert_eq!(drained(&mut outbox), b"\x81\x02hi", "nothing queued is lost");
        assert!(outbox.head.capacity() > 0, "a small head is kept for the next frames");
        outbox.release_idle();
        assert_eq!(outbox.head.capacity(), 0, "at rest it holds no buffer");
        outbox.push_frame(OpCode::Text, true, &Bytes::from_static(b"again"), None);
        assert_eq!(drained(&mut outbox), b"\x81\x05again");
    }

    #[test]
    fn small_frames_coalesce_and_large_payloads_are_referenced() {
        let mut outbox = Outbox::new(16);
        let small = Bytes::from_static(b"hi");
        let large = Bytes::from(vec![7u8; 100]);
        outbox.push_frame(OpCode::Text, true, &small, None);
        outbox.push_frame(OpCode::Binary, true, &large, None);
        outbox.push_frame(OpCode::Text, true, &small, None);
        assert_eq!(outbox.queued_bytes(), 4 + 102 + 4);
        let mut segs = Vec::new();
        outbox.drain_into(&mut segs, 16);
        assert_eq!(segs.len(), 3, "header run, large payload, tail run");
        assert_eq!(segs[1].as_ptr(), large.as_ptr(), "large payload not copied");
        assert!(outbox.is_empty());
        let bytes = segs.concat();
        assert_eq!(&bytes[..4], b"\x81\x02hi");
        assert_eq!(&bytes[4..6], b"\x82\x64");
        assert_eq!(&bytes[106..], b"\x81\x02hi");
    }

    #[test]
    fn masked_frames_are_copied_and_masked_in_place() {
        let mut outbox = Outbox::new(0);
        let payload = Bytes::from_static(b"Hello");
        outbox.push_frame(OpCode::Text, true, &payload, Some([0x37, 0xfa, 0x21, 0x3d]));
        // RFC 6455 §5.7: a masked "Hello".
        assert_eq!(drained(&mut outbox), b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
        assert_eq!(&payload[..], b"Hello", "the caller's payload is untouched");
    }

    #[test]
    fn a_frame_from_parts_equals_the_frame_of_the_joined_payload() {
        let parts =
            [Bytes::from_static(b"head"), Bytes::from(vec![9u8; 300]), Bytes::from_static(b"t")];
        let joined = Bytes::from(parts.concat());
        for mask in [None, Some([1, 2, 3, 4])] {
            let mut a = Outbox::new(16);
            a.push_frame_parts(OpCode::Binary, true, &parts, mask);
            let mut b = Outbox::new(16);
            b.push_frame(OpCode::Binary, true, &joined, mask);
            assert_eq!(a.queued_bytes(), b.queued_bytes());
            assert_eq!(drained(&mut a), drained(&mut b));
        }
    }

    #[test]
    fn a_frame_written_in_place_in_pieces_equals_the_frame_of_the_same_payload() {
        let payload: Vec<u8> = (0..LARGE + 5).map(|i| (i * 31) as u8).collect();
        for mask in [None, Some([9, 8, 7, 6])] {
            let mut a = Outbox::new(16);
            a.push_frame(OpCode::Text, true, &Bytes::from_static(b"x"), mask);
            let mut at = std::ptr::null();
            a.push_frame_written(OpCode::Binary, payload.len(), mask, |w| {
                at = w.buf.as_ptr().wrapping_add(w.buf.len());
                w.put_slice(&payload[..7]);
                w.put_slice(&payload[7..]);
            })
            .expect("exact length");
            let mut b = Outbox::new(16);
            b.push_frame(OpCode::Text, true, &Bytes::from_static(b"x"), mask);
            b.push_frame(OpCode::Binary, true, &Bytes::from(payload.clone()), mask);
            assert_eq!(a.queued_bytes(), b.queued_bytes());
            let mut segs = Vec::new();
            a.drain_into(&mut segs, 16);
            assert_eq!(segs.len(), 1, "one contiguous segment: header, then the payload in place");
            let key_len = if mask.is_some() { 4 } else { 0 };
            // The one-byte text frame, then this frame's header (64-bit length).
            let payload_at = (2 + key_len + 1) + (2 + 8 + key_len);
            assert_eq!(segs[0].as_ptr().wrapping_add(payload_at), at, "written where it is sent");
            assert_eq!(segs.concat(), drained(&mut b));
        }
    }

    #[test]
    fn a_written_frame_of_the_wrong_length_queues_nothing() {
        let mut outbox = Outbox::new(16);
        outbox.push_frame(OpCode::Text, true, &Bytes::from_static(b"hi"), Some([1, 2, 3, 4]));
        let before = outbox.queued_bytes();
        for wrote in [3usize, 5] {
            let res = outbox.push_frame_written(OpCode::Binary, 4, Some([1, 2, 3, 4]), |w| {
                w.put_slice(&vec![0u8; wrote]);
            });
            assert_eq!(res, Err(wrote));
            assert_eq!(outbox.queued_bytes(), before);
        }
        let mut expected = Outbox::new(16);
        expected.push_frame(OpCode::Text, true, &Bytes::from_static(b"hi"), Some([1, 2, 3, 4]));
        assert_eq!(drained(&mut outbox), drained(&mut expected));
    }

    #[test]
    fn draining_in_small_batches_keeps_order() {
        let mut outbox = Outbox::new(0);
        let mut expected = Vec::new();
        for i in 0..10u8 {
            let payload = Bytes::from(vec![i; usize::from(i) + 1]);
            outbox.push_frame(OpCode::Binary, true, &payload, None);
            expected.extend_from_slice(&[0x82, i + 1]);
            expected.extend_from_slice(&payload);
        }
        assert_eq!(drained(&mut outbox), expected);
    }

    #[test]
    fn a_large_masked_payload_leaves_no_memory_behind_and_its_buffer_is_reused() {
        let mut outbox = Outbox::new(16);
        let payload = Bytes::from(vec![9u8; LARGE]);
        let mut segs = Vec::new();
        outbox.push_frame(OpCode::Binary, true, &payload, Some([1, 2, 3, 4]));
        outbox.drain_into(&mut segs, 16);
        let first = segs[0].as_ptr();
        assert!(outbox.head.capacity() < HEAD_KEEP, "the outbox keeps no large buffer");
        // Still being written: the next large send cannot have that memory.
        outbox.push_frame(OpCode::Binary, true, &payload, Some([1, 2, 3, 4]));
        let mut second = Vec::new();
        outbox.drain_into(&mut second, 16);
        assert_ne!(second[0].as_ptr(), first);
        // Both writes done: a third large send reuses one of the two buffers.
        let ptrs = [first, second[0].as_ptr()];
        drop((segs, second));
        outbox.push_frame(OpCode::Binary, true, &payload, Some([1, 2, 3, 4]));
        let mut third = Vec::new();
        outbox.drain_into(&mut third, 16);
        assert!(ptrs.contains(&third[0].as_ptr()), "a recycled buffer");
        // Header: 2 bytes, a 64-bit length, the 4-byte key.
        let mut unmasked = third.concat();
        apply_mask(&mut unmasked[14..], [1, 2, 3, 4], 0);
        assert_eq!(&unmasked[14..], &payload[..], "payload intact after reuse");
    }
}
