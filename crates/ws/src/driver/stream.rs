//! [`WebSocket`]: one connection over any compio stream, driven from one task. Reads go into the
//! policy-managed read buffer, writes leave as header + payload segments in one vectored
//! submission. Never parses bytes itself.

use std::cell::RefCell;
use std::io;

use bytes::{Bytes, BytesMut};
use compio::io::{AsyncRead, AsyncWrite};

use super::buffer::ReadBuffer;
use super::conn::{self, Core, ReadConn};
use super::detach::{Detach, ReadOp, WriteOp};
use super::split::{Reader, Writer};
use crate::config::Config;
use crate::error::Error;
use crate::frame::CloseFrame;

/// Most bytes a [`WebSocket::send`] leaves queued, unwritten, while more whole messages wait to
/// be read; at this size it writes.
pub const SEND_DEFER_BYTES: usize = 64 << 10;
use crate::message::Message;
use crate::protocol::prepared::PreparedMessage;
use crate::protocol::{Outbox, Protocol, Role, State};

/// A WebSocket connection over the stream `S` (a `TcpStream`, `UnixStream`, or a TLS stream).
///
/// # Cancel safety
/// [`WebSocket::read`] is cancel-safe: it can sit in a `select!` beside a timer or a channel, and
/// a read future dropped at any point loses no byte and no message. compio hands each buffer to
/// the kernel, and a dropped operation that had completed would lose its bytes; so over a
/// `TcpStream` or `UnixStream` each read and write runs as a future the connection keeps (it
/// owns a clone of the socket handle and only the spare room of the read buffer), and the next
/// call finishes what a dropped one left in flight (see [`Detach`]). A message decoded while its
/// automatic reply was being written waits for the next `read`. compio-tls's `TlsStream` keeps
/// the state of its own dropped operations, so they run in place. Between a dropped read and the
/// next one, `send`, `feed` and `flush` work as usual (the read in flight does not block them).
/// `flush` and `send` are cancel-safe in the same way: a write left in flight is finished, and
/// the rest of its batch written, by the next call that writes (or a `read` that waits).
pub struct WebSocket<S> {
    io: Io<S>,
    rbuf: ReadBuffer,
}

/// Everything but the read buffer, so that a read can borrow the two apart (a read that moved
/// the buffer out would lose it when dropped).
struct Io<S> {
    stream: S,
    core: RefCell<Core>,
    /// A read left in flight by a dropped call (see [`super::detach`]).
    read_op: Option<ReadOp>,
    /// A write left in flight by a dropped call.
    write_op: Option<WriteOp>,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("core", &self.io.core)
            .field("rbuf", &self.rbuf)
            .field("read_in_flight", &self.io.read_op.is_some())
            .field("write_in_flight", &self.io.write_op.is_some())
            .finish_non_exhaustive()
    }
}

impl<S> WebSocket<S> {
    /// Wraps a stream on which the handshake is already done. `leftover` holds bytes read past
    /// the handshake; they are the start of the frame stream.
    pub fn from_raw(stream: S, role: Role, config: &Config, leftover: BytesMut) -> Self {
        let core = Core::new(
            Protocol::new(role, config),
            Outbox::new(config.coalesce_threshold),
            config.close_timeout,
            config.rest_without_buffer,
        );
        let io = Io { stream, core: RefCell::new(core), read_op: None, write_op: None };
        Self { io, rbuf: ReadBuffer::new(config.read_buffer_size, leftover) }
    }

    /// Turns on permessage-deflate as negotiated (the handshake functions call this).
    pub fn enable_deflate(
        &mut self,
        negotiated: crate::deflate::Negotiated,
        config: &crate::deflate::DeflateConfig,
    ) {
        self.io.core.borrow_mut().proto.enable_deflate(negotiated, config);
    }

    /// Whether permessage-deflate is in use.
    pub fn deflate_enabled(&self) -> bool {
        self.io.core.borrow().proto.deflate_enabled()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io.stream
    }

    /// The connection state.
    pub fn state(&self) -> State {
        self.io.core.borrow().proto.state().clone()
    }

    /// The read buffer's current capacity in bytes, the room a read in flight holds included (it
    /// rests at `Config::read_buffer_size`, or at none while a read waits for a readable socket:
    /// [`Config::rest_without_buffer`]).
    pub fn read_buffer_capacity(&self) -> usize {
        self.rbuf.capacity()
    }

    /// Queues a message without writing it; [`WebSocket::flush`] writes everything queued in one
    /// submission, and so does the next [`WebSocket::read`] that has to wait for the socket.
    /// Nothing else writes it: a caller that feeds and then neither reads nor flushes holds it.
    pub fn feed(&mut self, msg: Message) -> Result<(), Error> {
        let core = &mut *self.io.core.borrow_mut();
        core.proto.send(msg, &mut core.out)?;
        Ok(())
    }

    /// Queues one binary message made of `parts` (sent back to back, never joined in memory).
    pub fn feed_binary_parts(&mut self, parts: &[bytes::Bytes]) -> Result<(), Error> {
        let core = &mut *self.io.core.borrow_mut();
        core.proto.send_binary_parts(parts, &mut core.out)?;
        Ok(())
    }

    /// Queues one binary message of exactly `len` bytes that `write` puts in place in the
    /// outgoing buffer, through a [`PayloadWriter`](crate::PayloadWriter): the payload is written
    /// where it is sent from and never copied again; a client's is masked as it is written, in
    /// one pass. A message built from parts (a request header and its body) or encoded on the fly
    /// costs a client one pass over its bytes instead of an encode, a copy and a masking pass. A
    /// `write` that puts another length queues nothing and returns
    /// [`UsageError::WrittenLength`].
    ///
    /// [`UsageError::WrittenLength`]: crate::UsageError::WrittenLength
    pub fn feed_binary_with(
        &mut self,
        len: usize,
        write: impl FnOnce(&mut crate::protocol::PayloadWriter<'_>),
    ) -> Result<(), Error> {
        let core = &mut *self.io.core.borrow_mut();
        core.proto.send_binary_written(len, write, &mut core.out)?;
        Ok(())
    }

    /// Queues a message prepared once for many connections (broadcast): its payload, and for a
    /// server that compresses with a fresh context per message its compressed form, are shared,
    /// not copied or re-encoded. Written by the next `flush` (or a `send`/`read` that writes).
    pub fn feed_prepared(&mut self, msg: &PreparedMessage) -> Result<(), Error> {
        let core = &mut *self.io.core.borrow_mut();
        core.proto.send_prepared(msg, &mut core.out)?;
        Ok(())
    }

    /// Whether a whole frame is already buffered, so the next `read` returns without waiting for
    /// the socket (an echo loop uses it to flush once per burst instead of once per message).
    pub fn has_buffered_message(&mut self) -> bool {
        let buf = self.rbuf.bytes_mut();
        match crate::frame::FrameHeader::parse(buf) {
            Ok(Some((h, n))) => (buf.len() - n) as u64 >= h.payload_len,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Bytes read from the socket that no returned message has consumed yet (a whole message
    /// buffered here is returned by the next [`WebSocket::read`] without waiting on the socket).
    /// With a readiness wait on the stream (e.g. a `peek`), this lets a task wait on the socket
    /// and on something else at once without a cancelled read: call `read` only once this is
    /// non-zero or the stream is readable.
    pub fn buffered_input(&self) -> usize {
        self.rbuf.len()
    }

    /// A payload this connection read, as a `BytesMut` to change in place: without a copy when
    /// nothing else holds its buffer, as for a large message with nothing read after it (the
    /// read buffer then lets go of that allocation rather than keep it for the next large
    /// message); otherwise a copy, as `BytesMut::from` makes. A server that rewrites what it
    /// was sent (stamps a batch before storing it) saves a copy per large message.
    pub fn payload_mut(&mut self, payload: Bytes) -> BytesMut {
        self.rbuf.release_if_drained();
        BytesMut::from(payload)
    }

    /// Lets go of the read buffer's and the outgoing buffers' memory, for a caller about to
    /// wait on its own until the socket is readable (a server watching many quiet connections
    /// with a `peek`, say): the connection then holds its state and no buffer, and the next read
    /// or send allocates afresh. Only when nothing is buffered, queued or in flight; returns
    /// whether it let go. [`Config::rest_without_buffer`] does the same inside `read`.
    pub fn release_buffers(&mut self) -> bool {
        if self.io.read_op.is_some() || self.io.write_op.is_some() {
            return false;
        }
        let core = &mut *self.io.core.borrow_mut();
        if core.has_unwritten() || !self.rbuf.release() {
            return false;
        }
        core.release_idle();
        true
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.io.core.borrow().out.queued_bytes()
    }
}

impl<S: AsyncRead + AsyncWrite + Detach> WebSocket<S> {
    /// Reads the next message. Pings are answered before they are returned; a received close
    /// frame is answered and returned as `Message::Close`, after which reads return
    /// `Error::Closed`; so do reads after a protocol error was returned (its close frame was
    /// sent, and the read lingered until the peer ended or the close timeout). A read that returns a message already buffered writes nothing the
    /// application fed (so a loop can batch its replies); a read that must wait on the socket
    /// first writes everything queued, so a fed reply never waits behind the read for the
    /// peer's answer to it.
    pub async fn read(&mut self) -> Result<Message, Error> {
        conn::read_message(&mut self.io, &mut self.rbuf).await
    }

    /// Reads once from the stream into the read buffer, without decoding, writing or answering
    /// anything (the next [`WebSocket::read`] decodes what it brought); 0 means EOF. Cancel-safe
    /// as `read` is: a task can race it against something else and read the messages later.
    pub async fn fill(&mut self) -> Result<usize, Error> {
        let need = self.rbuf.len() + 1;
        Ok(self.io.fill(&mut self.rbuf, need).await?)
    }

    /// Writes everything queued by [`WebSocket::feed`] or a deferred [`WebSocket::send`] (and
    /// automatic replies), in one submission of up to 512 segments at a time.
    pub async fn flush(&mut self) -> Result<(), Error> {
        ReadConn::flush(&mut self.io).await
    }

    /// Queues one message and writes it, with one exception that makes a plain `read` → `send`
    /// loop batch its writes: while another whole message is already buffered for reading (the
    /// peer pipelines) and fewer than [`SEND_DEFER_BYTES`] are queued, `send` returns without
    /// writing. The next [`WebSocket::read`] then returns that buffered message at once, and
    /// whatever is queued is written, in one submission, by the first of: a `send` when no whole
    /// message is buffered (the end of the burst), the queue reaching [`SEND_DEFER_BYTES`], a
    /// `read` that has to wait for the socket, [`WebSocket::flush`] or [`WebSocket::close`].
    /// So a request/response loop never waits for its own reply, and a message sent when
    /// nothing is left to read leaves before `send` returns. Only a caller that stops reading
    /// while messages are still buffered must `flush` for its last sends to leave.
    pub async fn send(&mut self, msg: Message) -> Result<(), Error> {
        self.feed(msg)?;
        if self.queued_bytes() < SEND_DEFER_BYTES && self.has_buffered_message() {
            return Ok(());
        }
        self.flush().await
    }

    /// Runs the close handshake: sends a close frame, then reads (discarding data messages) until
    /// the peer's close frame arrives or `Config::close_timeout` passes, and ends TCP.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.feed(Message::Close(frame))?;
        self.flush().await?;
        let timeout = self.io.core.borrow().close_timeout;
        let drain = async {
            loop {
                match self.read().await {
                    Ok(Message::Close(_)) | Err(Error::Closed) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
        };
        let result = compio::time::timeout(timeout, drain).await.unwrap_or(Err(Error::Timeout));
        super::detach::shutdown(&mut self.io.stream).await.ok();
        result
    }

    /// Splits the connection into a [`Reader`] and a [`Writer`] that two tasks can drive at the
    /// same time. Pongs and the close reply are written by whichever half is free.
    pub fn split(self) -> (Reader<S::ReadHalf>, Writer<S::WriteHalf>)
    where
        S: compio::io::util::Splittable,
        S::ReadHalf: AsyncRead + Detach,
        S::WriteHalf: AsyncWrite + Detach + 'static,
    {
        let Io { stream, core, read_op, write_op } = self.io;
        let (r, w) = stream.split();
        let parked = super::split::Parked { read: read_op, write: write_op };
        super::split::new(r, w, core.into_inner(), self.rbuf, parked)
    }
}

impl<S: AsyncRead + AsyncWrite + Detach> ReadConn for Io<S> {
    fn core(&self) -> &RefCell<Core> {
        &self.core
    }

    async fn flush(&mut self) -> Result<(), Error> {
        conn::write_out(&mut self.stream, &self.core, &mut self.write_op).await?;
        Ok(())
    }

    async fn fill(&mut self, buf: &mut ReadBuffer, need: usize) -> io::Result<usize> {
        let rest = self.core.borrow().rest_without_buffer;
        conn::fill_parked(&mut self.stream, buf, need, &mut self.read_op, rest).await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        super::detach::shutdown(&mut self.stream).await
    }

    fn has_unwritten(&self) -> bool {
        self.write_op.is_some() || self.core.borrow().has_unwritten()
    }

    const FLUSH_BEFORE_WAIT: bool = true;
}

#[cfg(test)]
mod tests {
    /// A connection at rest should cost bytes: state only some connections use (deflate, a
    /// client's masking keys) lives behind pointers. 952 bytes before that was done.
    #[test]
    fn the_connection_state_stays_small() {
        let size = std::mem::size_of::<super::WebSocket<compio::net::TcpStream>>();
        assert!(size <= 512, "WebSocket<TcpStream> is {size} bytes");
        assert!(std::mem::size_of::<crate::protocol::Protocol>() <= 192);
    }
}
