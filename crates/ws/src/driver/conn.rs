//! What every driven connection shares, split or not: the protocol core with its outbox, the
//! write routine (one vectored submission per batch), and the read loop that turns socket reads
//! into messages. The only place that decides when to write automatic replies and when to end TCP.
//! Never parses bytes itself: `protocol` does.

use std::cell::RefCell;
use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::buffer::ReadBuffer;
use super::detach::{Detach, ReadOp, WriteOp, advance};
use crate::error::Error;
use crate::message::Message;
use crate::protocol::{Outbox, Protocol, Role, State};

/// Segments per write submission; well under the kernel's IOV_MAX of 1024.
const MAX_IOV: usize = 512;

/// The protocol state and outgoing queue of one connection.
#[derive(Debug)]
pub(crate) struct Core {
    pub proto: Protocol,
    pub out: Outbox,
    /// Segments taken from the outbox for the write in progress, the first maybe partly
    /// written; empty (and reused) between writes, and while a detached write holds them.
    pub writing: Vec<Bytes>,
    /// Bytes were written since the last stream flush (a no-op on TCP, required by TLS).
    pub unflushed: bool,
    /// A message decoded and not yet returned, because the read that decoded it was dropped
    /// while it wrote the automatic reply; the next read returns it first.
    pub held: Option<Message>,
    /// The protocol error that failed the connection was returned: reads now return `Closed`.
    pub reported: bool,
    /// When the linger after the close handshake or a protocol error ends: fixed when it starts,
    /// so a read dropped and called again waits out the same deadline, not a fresh one.
    pub linger_until: Option<Instant>,
    pub close_timeout: Duration,
    /// `Config::rest_without_buffer`.
    pub rest_without_buffer: bool,
}

impl Core {
    pub fn new(
        proto: Protocol,
        out: Outbox,
        close_timeout: Duration,
        rest_without_buffer: bool,
    ) -> Self {
        Self {
            proto,
            out,
            writing: Vec::new(),
            unflushed: false,
            held: None,
            reported: false,
            linger_until: None,
            close_timeout,
            rest_without_buffer,
        }
    }

    /// The end of the linger (the close timeout from its first start).
    pub fn linger_deadline(&mut self) -> Instant {
        let timeout = self.close_timeout;
        *self.linger_until.get_or_insert_with(|| Instant::now() + timeout)
    }

    /// Lets go of the outgoing buffers' memory when nothing is queued (a connection going to
    /// rest): the outbox's, and the emptied segment list kept between writes.
    pub fn release_idle(&mut self) {
        self.out.release_idle();
        if self.writing.is_empty() {
            self.writing = Vec::new();
        }
    }

    /// Whether anything queued is not yet written and flushed (a detached write aside).
    pub fn has_unwritten(&self) -> bool {
        !self.out.is_empty() || !self.writing.is_empty() || self.unflushed
    }
}

/// Writes everything in `core.out`, in batches of at most [`MAX_IOV`] segments, then flushes
/// the stream. Cancel-safe: a write in flight when this future is dropped is left in `parked`
/// (a detached one) or was accepted whole or not at all (in place), and what is left of its
/// batch stays in `core.writing`; the next call finishes it first. The core is never borrowed
/// across an await.
pub(crate) async fn write_out<W: AsyncWrite + Detach>(
    w: &mut W,
    core: &RefCell<Core>,
    parked: &mut Option<WriteOp>,
) -> io::Result<()> {
    loop {
        if let Some(op) = parked.as_mut() {
            let BufResult(result, segments) = op.as_mut().await;
            *parked = None;
            wrote(core, result, segments)?;
            continue;
        }
        let segments = {
            let mut core = core.borrow_mut();
            let core = &mut *core;
            if core.writing.is_empty() {
                core.out.drain_into(&mut core.writing, MAX_IOV);
            }
            if core.writing.is_empty() {
                break;
            }
            std::mem::take(&mut core.writing)
        };
        match w.detach_write(segments) {
            Ok(op) => *parked = Some(op),
            Err(segments) => {
                let BufResult(result, segments) = w.write_vectored(segments).await;
                wrote(core, result, segments)?;
            }
        }
    }
    if core.borrow().unflushed {
        w.flush().await?;
        core.borrow_mut().unflushed = false;
    }
    Ok(())
}

/// Accounts one finished write: drops what it wrote from the batch and keeps the rest for the
/// next write (an error keeps all of it: nothing more is written on this connection anyway).
fn wrote(
    core: &RefCell<Core>,
    result: io::Result<usize>,
    mut segments: Vec<Bytes>,
) -> io::Result<()> {
    let mut core = core.borrow_mut();
    let n = match result {
        Ok(0) if segments.iter().any(|s| !s.is_empty()) => {
            Err(io::Error::from(io::ErrorKind::WriteZero))
        }
        other => other,
    };
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            core.writing = segments;
            return Err(e);
        }
    };
    core.unflushed = true;
    // What is left (or the emptied vector, kept for its allocation) is the next batch.
    advance(&mut segments, n);
    core.writing = segments;
    Ok(())
}

/// Reads once into the spare capacity of `rbuf` (prepared for a frame needing `need` bytes),
/// returning the bytes read; 0 is EOF. Cancel-safe: the buffered bytes stay in `rbuf` (the read
/// gets only the spare room, split off and joined back), a detached read in flight is left in
/// `parked` for the next call, and an in-place read is one whose stream keeps what it read.
/// With `rest` and nothing buffered, a stream that can wait for readability holding no buffer
/// ([`Detach::detach_read_at_rest`]) gets such a read, parked like any other, and the buffer lets
/// go of its memory meanwhile: what a connection at rest holds is that operation.
pub(crate) async fn fill_parked<R: AsyncRead + Detach>(
    r: &mut R,
    rbuf: &mut ReadBuffer,
    need: usize,
    parked: &mut Option<ReadOp>,
    rest: bool,
) -> io::Result<usize> {
    if parked.is_none()
        && rest
        && rbuf.is_empty()
        && let Some(op) = r.detach_read_at_rest(rbuf.rest_room(need))
    {
        rbuf.rest(need);
        *parked = Some(op);
    }
    let op = match parked {
        Some(op) => op,
        None => match r.detach_read(rbuf.prepare_tail(need)) {
            Ok(op) => parked.insert(op),
            Err(tail) => {
                let BufResult(result, tail) = r.append(tail).await;
                let n = rbuf.restore_tail(tail);
                return result.map(|_| n);
            }
        },
    };
    let BufResult(result, tail) = op.as_mut().await;
    *parked = None;
    let n = rbuf.restore_tail(tail);
    result.map(|_| n)
}

/// The I/O a read loop needs; implemented by the whole stream and by the read half.
pub(crate) trait ReadConn {
    /// The protocol core, never borrowed across an await.
    fn core(&self) -> &RefCell<Core>;
    /// Writes the outbox.
    async fn flush(&mut self) -> Result<(), Error>;
    /// Reads once into `buf` (appending), returning the bytes read; 0 is EOF.
    async fn fill(&mut self, buf: &mut ReadBuffer, need: usize) -> io::Result<usize>;
    /// Ends this side's writing (TCP FIN).
    async fn shutdown(&mut self) -> io::Result<()>;
    /// Whether something queued is not yet written (a write left in flight included).
    fn has_unwritten(&self) -> bool;
    /// Whether everything queued (the application's fed messages too) is written before a read
    /// waits on the socket. True for a whole connection, whose one task both feeds and reads: a
    /// reply it fed and a read that waits for the peer's answer to it must not deadlock. False
    /// for a split read half: what the write half queued is the write half's to flush.
    const FLUSH_BEFORE_WAIT: bool;
}

/// Reads the next message: decodes what is buffered, writes automatic replies, reads more when
/// needed, and ends TCP when the close handshake or a protocol error says so.
pub(crate) async fn read_message<C: ReadConn>(
    c: &mut C,
    rbuf: &mut ReadBuffer,
) -> Result<Message, Error> {
    loop {
        let (mut result, pending, state, role) = {
            let core = &mut *c.core().borrow_mut();
            if core.reported {
                return Err(Error::Closed);
            }
            let queued = core.out.queued_bytes();
            let result = match core.held.take() {
                Some(msg) => Ok(Some(msg)),
                None => core.proto.read_message(rbuf.bytes_mut(), &mut core.out),
            };
            // Flush only when this decode queued a reply (Pong, close echo, error close): data the
            // application queued with `feed` waits for its own `flush`, so a read loop can batch.
            (
                result,
                core.out.queued_bytes() > queued,
                core.proto.state().clone(),
                core.proto.role(),
            )
        };
        if pending {
            // The message waits in the core while its reply is written: a read dropped during
            // that write leaves it for the next read.
            if let Ok(Some(msg)) = result {
                c.core().borrow_mut().held = Some(msg);
                result = Ok(None);
            }
            let flushed = c.flush().await;
            if let Some(msg) = c.core().borrow_mut().held.take() {
                result = Ok(Some(msg));
            }
            if let (Ok(_), Err(e)) = (&result, flushed) {
                return Err(e);
            }
        }
        match result {
            Ok(Some(msg)) => {
                if matches!(msg, Message::Close(_)) && role == Role::Server {
                    // §7.1.1: the server closes the TCP connection first, right after the close
                    // handshake. A failed shutdown means the peer is already gone: nothing to do.
                    c.shutdown().await.ok();
                }
                return Ok(msg);
            }
            Ok(None) if state == State::Closed => {
                // The handshake is over. A client waits (bounded) for the server's TCP close.
                if role == Role::Client {
                    let deadline = c.core().borrow_mut().linger_deadline();
                    Box::pin(compio::time::timeout_at(deadline, wait_eof(c, rbuf))).await.ok();
                }
                return Err(Error::Closed);
            }
            Ok(None) => {
                // Nothing whole is buffered: before waiting on the socket, write what is queued,
                // so fed messages never wait for a flush that a blocked read would hold back.
                if C::FLUSH_BEFORE_WAIT && c.has_unwritten() {
                    c.flush().await?;
                }
                let need = {
                    let core = &mut *c.core().borrow_mut();
                    if core.rest_without_buffer && rbuf.is_empty() {
                        // Going to rest: the write side lets go of its buffer too (if empty).
                        core.release_idle();
                    }
                    core.proto.bytes_needed(rbuf.bytes_mut().len())
                };
                if c.fill(rbuf, need).await? == 0 {
                    return Err(match state {
                        State::Open => Error::Reset,
                        _ => Error::Closed,
                    });
                }
            }
            Err(e) => {
                // The close frame for the error went out above; fail the connection (§7.1.7).
                c.shutdown().await.ok();
                // Then discard what the peer still sends (the rest of an oversized message, its
                // close echo) until it ends, for at most the close timeout: a socket closed with
                // unread input answers with RST, and the peer's TCP may drop the close frame
                // before its application reads it (browsers then report 1006, not the code).
                let deadline = c.core().borrow_mut().linger_deadline();
                Box::pin(compio::time::timeout_at(deadline, wait_eof(c, rbuf))).await.ok();
                c.core().borrow_mut().reported = true;
                return Err(Error::Protocol(e));
            }
        }
    }
}

/// Discards input until EOF.
async fn wait_eof<C: ReadConn>(c: &mut C, rbuf: &mut ReadBuffer) {
    loop {
        rbuf.bytes_mut().clear();
        match c.fill(rbuf, 1).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
