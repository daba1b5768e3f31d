//! The connection state machine of RFC 6455, sans I/O: bytes in, messages and outgoing frames out.
//!
//! It holds no socket, runs no async code and reads no clock; any runtime can drive it. The caller
//! owns both buffers: the read buffer (a `BytesMut` the driver fills) and the [`Outbox`] (frames the
//! driver must write).
//!
//! # Method groups and call order
//! - Input: [`Protocol::read_message`] consumes whole frames from the front of the read buffer and
//!   returns at most one message per call. Call it again until it returns `Ok(None)` ("need more
//!   bytes"), then read from the socket and append to the buffer. Automatic replies (Pong for Ping,
//!   the echoed Close, the close frame for a protocol error) are queued in the outbox by this call.
//! - Output: [`Protocol::send`] and [`Protocol::close`] queue frames in the outbox.
//! - After every call, if the outbox is not empty, write it (see `Outbox::drain_into`).
//! - Getters: [`Protocol::state`], [`Protocol::bytes_needed`] (how big the read buffer must get
//!   for the frame in flight, used to size the next read).
//!
//! Errors from `read_message` are fatal and sticky: the close frame for them is queued once, and
//! every later call returns the same error.
//!
//! Strictness: text is checked for UTF-8 as its bytes arrive, including bytes of a frame that has
//! not fully arrived, so an invalid sequence fails the connection at once (Autobahn 6.4.x strict).

pub mod assemble;
pub mod mask_keys;
pub mod outbox;
pub mod prepared;

use bytes::{Buf, Bytes, BytesMut};

use crate::config::Config;
use crate::deflate::{Compressor, Decompressor, DeflateConfig, InflateError, Negotiated};
use crate::error::{ProtocolError, UsageError};
use crate::frame::{CloseFrame, FrameHeader, OpCode, apply_mask};
use crate::message::Message;
use crate::utf8::{Utf8Bytes, Utf8Validator};
use assemble::{Assembly, DataKind};
use mask_keys::MaskKeys;
pub use outbox::{Outbox, PayloadWriter};

/// Which end of the connection this is; it decides the masking rules (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts connections; receives masked frames, sends unmasked ones.
    Server,
    /// Opens connections; sends masked frames with a fresh key each, receives unmasked ones.
    Client,
}

/// Where the connection is in its life (§7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// This side sent a close frame and waits for the peer's. Incoming data is discarded.
    CloseSent,
    /// Both close frames have been exchanged (or queued): the TCP connection should now end,
    /// the server first (§7.1.1).
    Closed,
    /// The peer broke the protocol; the close frame for it is queued. Sticky.
    Failed(ProtocolError),
}

/// The frame whose header has arrived but whose payload may not have.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    header: FrameHeader,
    header_len: usize,
    /// The frame carries uncompressed text (a Text frame, or a continuation of a text message),
    /// checked for UTF-8 as it arrives.
    text: bool,
    /// The frame belongs to a compressed message.
    compressed: bool,
    /// Payload bytes already unmasked (and, for text, UTF-8 checked) in place.
    /// Invariant: `checked <= header.payload_len`.
    checked: usize,
}

/// One WebSocket connection's protocol state.
#[derive(Debug)]
pub struct Protocol {
    role: Role,
    max_frame_size: usize,
    max_message_size: usize,
    state: State,
    /// Invariant: when set, the read buffer starts with this frame's header.
    in_flight: Option<InFlight>,
    assembly: Option<Assembly>,
    utf8: Utf8Validator,
    keys: MaskKeys,
    /// Set when permessage-deflate was negotiated (boxed: ~330 bytes most connections never use).
    deflate: Option<Box<Deflate>>,
}

/// permessage-deflate state of a connection.
#[derive(Debug)]
struct Deflate {
    compressor: Compressor,
    decompressor: Decompressor,
    /// False when the peer limited our window to 8, which zlib cannot honour: send uncompressed.
    compress: bool,
    min_size: usize,
}

impl Protocol {
    /// A connection in the `Open` state, after a successful handshake.
    pub fn new(role: Role, config: &Config) -> Self {
        Self {
            role,
            max_frame_size: config.max_frame_size,
            max_message_size: config.max_message_size,
            state: State::Open,
            in_flight: None,
            assembly: None,
            utf8: Utf8Validator::new(),
            keys: MaskKeys::default(),
            deflate: None,
        }
    }

    /// Turns on permessage-deflate as negotiated in the handshake.
    pub fn enable_deflate(&mut self, negotiated: Negotiated, config: &DeflateConfig) {
        let (ours_bits, ours_reset, theirs_reset) = match self.role {
            Role::Server => (
                negotiated.server_max_window_bits,
                negotiated.server_no_context_takeover,
                negotiated.client_no_context_takeover,
            ),
            Role::Client => (
                negotiated.client_max_window_bits,
                negotiated.client_no_context_takeover,
                negotiated.server_no_context_takeover,
            ),
        };
        let bits = ours_bits.min(config.max_window_bits);
        self.deflate = Some(Box::new(Deflate {
            compressor: Compressor::new(bits, config.level, ours_reset),
            decompressor: Decompressor::new(theirs_reset),
            compress: bits >= 9,
            min_size: config.min_size,
        }));
    }

    /// Whether permessage-deflate is in use.
    pub fn deflate_enabled(&self) -> bool {
        self.deflate.is_some()
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The connection state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The number of bytes the read buffer must hold, counted from its start, to complete the
    /// frame in flight: the header plus its payload once the header is known, otherwise the
    /// buffered bytes plus one (at least 2, the shortest header).
    pub fn bytes_needed(&self, buffered: usize) -> usize {
        match &self.in_flight {
            Some(f) => f.header_len + f.header.payload_len as usize,
            None => (buffered + 1).max(2),
        }
    }

    /// Consumes frames from the front of `buf` until a message is complete (`Ok(Some)`) or more
    /// bytes are needed (`Ok(None)`). Automatic replies are queued in `out`. Returns `Ok(None)`
    /// once the connection is `Closed`, without consuming anything.
    pub fn read_message(
        &mut self,
        buf: &mut BytesMut,
        out: &mut Outbox,
    ) -> Result<Option<Message>, ProtocolError> {
        match &self.state {
            State::Failed(err) => return Err(err.clone()),
            State::Closed => return Ok(None),
            State::Open | State::CloseSent => {}
        }
        match self.read_frames(buf, out) {
            Ok(msg) => Ok(msg),
            Err(err) => {
                self.fail(err.clone(), out);
                Err(err)
            }
        }
    }

    fn read_frames(
        &mut self,
        buf: &mut BytesMut,
        out: &mut Outbox,
    ) -> Result<Option<Message>, ProtocolError> {
        loop {
            let mut frame = match self.in_flight {
                Some(frame) => frame,
                None => match FrameHeader::parse(buf)? {
                    None => return Ok(None),
                    Some((header, header_len)) => {
                        let (text, compressed) = self.check_header(&header)?;
                        InFlight { header, header_len, text, compressed, checked: 0 }
                    }
                },
            };
            let payload_len = frame.header.payload_len as usize;
            let available = buf.len().saturating_sub(frame.header_len).min(payload_len);
            if frame.checked < available {
                let piece =
                    &mut buf[frame.header_len + frame.checked..frame.header_len + available];
                if let Some(key) = frame.header.mask {
                    apply_mask(piece, key, frame.checked);
                }
                if frame.text {
                    self.utf8.feed(piece).map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                frame.checked = available;
            }
            if available < payload_len {
                self.in_flight = Some(frame);
                return Ok(None);
            }
            self.in_flight = None;
            buf.advance(frame.header_len);
            let payload = buf.split_to(payload_len).freeze();
            let result = if frame.compressed {
                self.on_compressed_frame(frame.header, &payload)
            } else {
                self.on_frame(frame.header, payload, out)
            };
            if let Some(msg) = result? {
                return Ok(Some(msg));
            }
            if self.state == State::Closed {
                return Ok(None);
            }
        }
    }

    /// Checks a header against the rules that need no payload; returns whether it carries
    /// uncompressed text and whether it belongs to a compressed message.
    fn check_header(&self, h: &FrameHeader) -> Result<(bool, bool), ProtocolError> {
        // RFC 7692 §6: RSV1 marks the first frame of a compressed message; nothing else may set
        // a reserved bit.
        let rsv1 = h.rsv == 0b100;
        if (h.rsv != 0 && !rsv1)
            || (rsv1
                && (self.deflate.is_none()
                    || h.opcode.is_control()
                    || h.opcode == OpCode::Continuation))
        {
            return Err(ProtocolError::ReservedBits);
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            if !h.fin {
                return Err(ProtocolError::FragmentedControl);
            }
            if h.payload_len > 125 {
                return Err(ProtocolError::ControlTooLong);
            }
            return Ok((false, false));
        }
        let (assembled, text, compressed) = match (h.opcode, &self.assembly) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(a)) => {
                (a.len() as u64, a.kind() == DataKind::Text, a.is_compressed())
            }
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (op, None) => (0, op == OpCode::Text, rsv1),
        };
        // The limits are on what the application receives. A compressed frame carries deflate's
        // worst case (incompressible data grows slightly), so its wire size may exceed the limit
        // by that much; its inflated size is bounded exactly while inflating.
        let wire_limit = |limit: usize| if compressed { compressed_bound(limit) } else { limit };
        let frame_limit = wire_limit(self.max_frame_size);
        if h.payload_len > frame_limit as u64 {
            return Err(ProtocolError::FrameTooLarge { size: h.payload_len, limit: frame_limit });
        }
        let size = assembled.saturating_add(h.payload_len);
        let message_limit = wire_limit(self.max_message_size);
        if size > message_limit as u64 {
            return Err(ProtocolError::MessageTooLarge { size, limit: message_limit });
        }
        Ok((text && !compressed, compressed))
    }

    /// Handles one frame of a compressed message: inflates it (bounded by the message limit),
    /// checks new text for UTF-8, and returns the message at its final frame.
    fn on_compressed_frame(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
    ) -> Result<Option<Message>, ProtocolError> {
        let limit = self.max_message_size;
        if header.opcode != OpCode::Continuation {
            let kind =
                if header.opcode == OpCode::Text { DataKind::Text } else { DataKind::Binary };
            self.assembly = Some(Assembly::start_compressed(kind));
        }
        let (Some(assembly), Some(deflate)) = (self.assembly.as_mut(), self.deflate.as_mut())
        else {
            return Err(ProtocolError::UnexpectedContinuation);
        };
        let out = assembly.buffer();
        let before = out.len();
        deflate.decompressor.inflate(payload, header.fin, out, limit).map_err(|e| match e {
            InflateError::TooBig(limit) => {
                ProtocolError::MessageTooLarge { size: limit as u64 + 1, limit }
            }
            InflateError::Corrupt => ProtocolError::BadCompressedData,
        })?;
        if assembly.kind() == DataKind::Text {
            self.utf8.feed(&assembly.buffer()[before..]).map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if !header.fin {
            return Ok(None);
        }
        self.finish_assembly()
    }

    /// Ends the message being assembled (its final frame has been added): checks that text
    /// ended on a whole UTF-8 sequence and returns the message, unless a close was sent.
    fn finish_assembly(&mut self) -> Result<Option<Message>, ProtocolError> {
        let Some(assembly) = self.assembly.take() else {
            return Err(ProtocolError::UnexpectedContinuation);
        };
        let msg = match assembly.finish() {
            (DataKind::Text, bytes) => {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                Message::Text(Utf8Bytes::from_validated(bytes))
            }
            (DataKind::Binary, bytes) => Message::Binary(bytes),
        };
        Ok((self.state != State::CloseSent).then_some(msg))
    }

    /// Handles one complete, unmasked frame.
    fn on_frame(
        &mut self,
        header: FrameHeader,
        payload: Bytes,
        out: &mut Outbox,
    ) -> Result<Option<Message>, ProtocolError> {
        let discard = self.state == State::CloseSent;
        match header.opcode {
            OpCode::Text | OpCode::Binary if header.fin => {
                let msg = if header.opcode == OpCode::Text {
                    self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    Message::Text(Utf8Bytes::from_validated(payload))
                } else {
                    Message::Binary(payload)
                };
                Ok((!discard).then_some(msg))
            }
            OpCode::Text => {
                self.assembly = Some(Assembly::start(DataKind::Text, &payload));
                Ok(None)
            }
            OpCode::Binary => {
                self.assembly = Some(Assembly::start(DataKind::Binary, &payload));
                Ok(None)
            }
            OpCode::Continuation => {
                let Some(assembly) = self.assembly.as_mut() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                assembly.push(&payload);
                if !header.fin {
                    return Ok(None);
                }
                self.finish_assembly()
            }
            OpCode::Ping => {
                if self.state == State::Open {
                    self.push(OpCode::Pong, &payload, out);
                }
                Ok((!discard).then_some(Message::Ping(payload)))
            }
            OpCode::Pong => Ok((!discard).then_some(Message::Pong(payload))),
            OpCode::Close => {
                let frame = CloseFrame::parse(payload).map_err(ProtocolError::BadClose)?;
                if self.state == State::Open {
                    // §5.5.1: reply with a close frame, "typically echoing the status code it
                    // received".
                    let mut reply = BytesMut::new();
                    if let Some(f) = &frame {
                        reply.extend_from_slice(&f.code.0.to_be_bytes());
                    }
                    self.push(OpCode::Close, &reply.freeze(), out);
                }
                self.state = State::Closed;
                Ok(Some(Message::Close(frame)))
            }
        }
    }

    /// Queues `msg`. Sending a `Close` message is the same as [`Protocol::close`].
    pub fn send(&mut self, msg: Message, out: &mut Outbox) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        match msg {
            Message::Text(text) => self.push_data(OpCode::Text, &text.into_bytes(), out),
            Message::Binary(bytes) => self.push_data(OpCode::Binary, &bytes, out),
            Message::Ping(bytes) | Message::Pong(bytes) if bytes.len() > 125 => {
                return Err(UsageError::ControlTooLong(bytes.len()));
            }
            Message::Ping(bytes) => self.push(OpCode::Ping, &bytes, out),
            Message::Pong(bytes) => self.push(OpCode::Pong, &bytes, out),
            Message::Close(frame) => return self.close(frame, out),
        }
        Ok(())
    }

    /// Queues one binary message whose payload is the concatenation of `parts`, without joining
    /// them (vectored on the wire).
    pub fn send_binary_parts(
        &mut self,
        parts: &[Bytes],
        out: &mut Outbox,
    ) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        let mask = self.next_mask();
        out.push_frame_parts(OpCode::Binary, true, parts, mask);
        Ok(())
    }

    /// Queues one binary message of `len` bytes that `write` puts straight into the outgoing
    /// buffer: the payload is never copied again, and a client's is masked as it is written. With
    /// permessage-deflate compressing it, the bytes are written aside and compressed instead.
    pub fn send_binary_written(
        &mut self,
        len: usize,
        write: impl FnOnce(&mut PayloadWriter<'_>),
        out: &mut Outbox,
    ) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        let wrong = |written| UsageError::WrittenLength { expected: len, written };
        if let Some(deflate) = self.deflate.as_ref()
            && deflate.compress
            && len >= deflate.min_size
        {
            let mut payload = BytesMut::with_capacity(len);
            let mut writer = PayloadWriter::new(&mut payload, None);
            write(&mut writer);
            if writer.written() != len {
                return Err(wrong(writer.written()));
            }
            self.push_data(OpCode::Binary, &payload.freeze(), out);
            return Ok(());
        }
        let mask = self.next_mask();
        out.push_frame_written(OpCode::Binary, len, mask, write).map_err(wrong)
    }

    /// Queues a prepared (broadcast) message: a server shares its payload, and its compressed
    /// form when this connection compresses every message with a fresh context; otherwise it is
    /// sent as [`Protocol::send`] would.
    pub fn send_prepared(
        &mut self,
        msg: &prepared::PreparedMessage,
        out: &mut Outbox,
    ) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        let (opcode, payload) = (msg.opcode(), msg.payload());
        if self.role == Role::Server
            && let Some(deflate) = self.deflate.as_ref()
            && deflate.compress
            && payload.len() >= deflate.min_size
            && deflate.compressor.resets()
        {
            let (bits, level) = deflate.compressor.params();
            if let Some(compressed) = msg.compressed(bits, level) {
                out.push_frame_rsv(opcode, true, 0b100, &compressed, None);
                return Ok(());
            }
            self.push(opcode, payload, out);
            return Ok(());
        }
        self.push_data(opcode, payload, out);
        Ok(())
    }

    /// Starts the close handshake: queues a close frame and moves to `CloseSent`. The peer's close
    /// frame then arrives through [`Protocol::read_message`].
    pub fn close(&mut self, frame: Option<CloseFrame>, out: &mut Outbox) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        let mut payload = BytesMut::new();
        if let Some(frame) = &frame {
            if !frame.code.is_sendable() {
                return Err(UsageError::InvalidCloseCode(frame.code.0));
            }
            if frame.encoded_len() > 125 {
                return Err(UsageError::ControlTooLong(frame.encoded_len()));
            }
            frame.encode(&mut payload);
        }
        self.push(OpCode::Close, &payload.freeze(), out);
        self.state = State::CloseSent;
        Ok(())
    }

    /// Queues a data message, compressed when permessage-deflate is on and it is worth it.
    fn push_data(&mut self, opcode: OpCode, payload: &Bytes, out: &mut Outbox) {
        if let Some(deflate) = self.deflate.as_mut()
            && deflate.compress
            && payload.len() >= deflate.min_size
        {
            let mut compressed = Vec::with_capacity(payload.len() / 2 + 64);
            if deflate.compressor.compress(payload, &mut compressed) {
                let mask = self.next_mask();
                out.push_frame_rsv(opcode, true, 0b100, &Bytes::from(compressed), mask);
                return;
            }
        }
        self.push(opcode, payload, out);
    }

    /// A fresh masking key for a client's frame (§5.3), none for a server's.
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(self.keys.next_key()),
            Role::Server => None,
        }
    }

    fn push(&mut self, opcode: OpCode, payload: &Bytes, out: &mut Outbox) {
        let mask = self.next_mask();
        out.push_frame(opcode, true, payload, mask);
    }

    /// Enters the sticky failed state, queueing the close frame for `err` unless one was sent.
    fn fail(&mut self, err: ProtocolError, out: &mut Outbox) {
        if self.state == State::Open {
            let mut payload = BytesMut::with_capacity(2);
            payload.extend_from_slice(&err.close_code().0.to_be_bytes());
            self.push(OpCode::Close, &payload.freeze(), out);
        }
        self.in_flight = None;
        self.assembly = None;
        self.state = State::Failed(err);
    }
}

#[cfg(test)]
mod tests;

/// The most bytes raw deflate can turn `n` bytes into: stored blocks add 5 bytes per 64 KiB at
/// worst; this allows 1 per KiB plus a tail, comfortably above that.
pub(crate) fn compressed_bound(n: usize) -> usize {
    n.saturating_add(n >> 10).saturating_add(64)
}
