//! Fragment assembly (RFC 6455 §5.4): collects the payloads of a fragmented message until its
//! final frame, enforcing the message size limit before any reserve. Control frames interleaved
//! between fragments pass through `protocol` untouched. Owns no I/O buffer.

use bytes::Bytes;

/// What kind of message is being assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Text: every fragment is UTF-8 checked as it arrives.
    Text,
    /// Binary.
    Binary,
}

/// A fragmented (or compressed) message in progress.
#[derive(Debug)]
pub struct Assembly {
    kind: DataKind,
    /// The message is compressed (RSV1 on its first frame): `buf` holds inflated bytes.
    compressed: bool,
    /// The payloads received so far (inflated if compressed), concatenated.
    buf: Vec<u8>,
}

impl Assembly {
    /// Starts a message with its first fragment.
    pub fn start(kind: DataKind, first: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(first.len().max(1024));
        buf.extend_from_slice(first);
        Self { kind, compressed: false, buf }
    }

    /// Starts a compressed message; its fragments are inflated into [`Assembly::buffer`].
    pub fn start_compressed(kind: DataKind) -> Self {
        Self { kind, compressed: true, buf: Vec::new() }
    }

    /// Whether the message's fragments are inflated as they arrive.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// The buffer inflated bytes go to.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The message kind.
    pub fn kind(&self) -> DataKind {
        self.kind
    }

    /// Bytes assembled so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been assembled yet (an empty first fragment).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends a continuation payload. The caller has checked the size limit against
    /// [`Assembly::len`] when the frame header arrived.
    pub fn push(&mut self, fragment: &[u8]) {
        self.buf.extend_from_slice(fragment);
    }

    /// The whole payload.
    pub fn finish(self) -> (DataKind, Bytes) {
        (self.kind, Bytes::from(self.buf))
    }
}
