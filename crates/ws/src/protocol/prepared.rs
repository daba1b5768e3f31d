//! A data message prepared once for many connections (broadcast). Its payload is shared `Bytes`:
//! each server connection queues a reference to it (a small payload is copied next to the frame
//! header, as any send does), never a re-encoded copy. With permessage-deflate, a connection
//! that resets its compressor after every message (it negotiated `server_no_context_takeover`)
//! compresses exactly as every other such connection with the same window and level does, so the
//! compressed form is made once per (window, level) and shared too; a connection with context
//! takeover compresses for itself (its dictionary is its own history). A client masks every
//! frame with its own key, so it always encodes its own copy. No I/O.

use std::sync::Mutex;

use bytes::Bytes;

use crate::deflate::Compressor;
use crate::frame::OpCode;
use crate::message::Message;
use crate::utf8::Utf8Bytes;

/// A text or binary message to send to many connections (`WebSocket::feed_prepared`). Cheap to
/// share behind an `Arc` or `Rc`; `Sync`, so shards on other threads may send it too.
#[derive(Debug)]
pub struct PreparedMessage {
    opcode: OpCode,
    payload: Bytes,
    /// Compressed forms made so far: `(window bits, level, deflate bytes)`; `None` where zlib
    /// failed (the message then goes uncompressed, which RFC 7692 allows).
    compressed: Mutex<Vec<(u8, u32, Option<Bytes>)>>,
}

impl PreparedMessage {
    /// A binary message.
    pub fn binary(payload: impl Into<Bytes>) -> Self {
        Self::new(OpCode::Binary, payload.into())
    }

    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::new(OpCode::Text, text.into().into_bytes())
    }

    /// The message as prepared; `None` for a control message (ping, pong, close), which is
    /// never broadcast.
    pub fn from_message(msg: Message) -> Option<Self> {
        match msg {
            Message::Text(text) => Some(Self::text(text)),
            Message::Binary(bytes) => Some(Self::binary(bytes)),
            _ => None,
        }
    }

    fn new(opcode: OpCode, payload: Bytes) -> Self {
        Self { opcode, payload, compressed: Mutex::new(Vec::new()) }
    }

    /// The payload's length.
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    pub(crate) fn opcode(&self) -> OpCode {
        self.opcode
    }

    /// The payload as prepared (uncompressed).
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The payload compressed with a fresh context at `bits` and `level`, made on first use.
    pub(crate) fn compressed(&self, bits: u8, level: u32) -> Option<Bytes> {
        // A poisoned lock only means another thread panicked mid-compress: compress again.
        let mut forms = self.compressed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, form)) = forms.iter().find(|(b, l, _)| *b == bits && *l == level) {
            return form.clone();
        }
        let mut out = Vec::with_capacity(self.payload.len() / 2 + 64);
        let form = Compressor::new(bits, level, true)
            .compress(&self.payload, &mut out)
            .then(|| Bytes::from(out));
        forms.push((bits, level, form.clone()));
        form
    }
}
