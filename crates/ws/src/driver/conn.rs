//! What every driven connection shares, split or not: the protocol core with its outbox, the
//! write routine (one vectored submission per batch), and the read loop that turns socket reads
//! into messages. The only place that decides when to write automatic replies and when to end TCP.
//! Never parses bytes itself: `protocol` does.

use std::cell::RefCell;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::buffer::ReadBuffer;
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
    /// A reusable vector for the segments of one write; empty between writes.
    pub iov: Vec<Bytes>,
    pub close_timeout: Duration,
}

/// Writes everything in `core.out`, in batches of at most [`MAX_IOV`] segments, then flushes
/// the stream (a no-op on TCP, required by TLS). The core is never borrowed across an await.
pub(crate) async fn write_out<W: AsyncWrite>(w: &mut W, core: &RefCell<Core>) -> io::Result<()> {
    let mut wrote = false;
    loop {
        let mut batch = {
            let mut core = core.borrow_mut();
            if core.out.is_empty() {
                break;
            }
            let mut batch = std::mem::take(&mut core.iov);
            core.out.drain_into(&mut batch, MAX_IOV);
            batch
        };
        wrote = true;
        let BufResult(result, mut batch) = match batch.pop() {
            Some(one) if batch.is_empty() => {
                let BufResult(result, _) = w.write_all(one).await;
                BufResult(result, batch)
            }
            Some(last) => {
                batch.push(last);
                w.write_vectored_all(batch).await
            }
            None => BufResult(Ok(()), batch),
        };
        batch.clear();
        core.borrow_mut().iov = batch;
        result?;
    }
    if wrote { w.flush().await } else { Ok(()) }
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
    /// Whether everything queued (the application's fed messages too) is written before a read
    /// waits on the socket. True for a whole connection, whose one task both feeds and reads: a
    /// reply it fed and a read that waits for the peer's answer to it must not deadlock. False
    /// for a split read half: what the write half queued is the write half's to flush.
    const FLUSH_BEFORE_WAIT: bool;
}

/// Reads into the spare capacity of the buffer prepared for a frame needing `need` bytes.
pub(crate) async fn fill_from<R: AsyncRead>(
    r: &mut R,
    rbuf: &mut ReadBuffer,
    need: usize,
) -> io::Result<usize> {
    let buf = rbuf.prepare(need);
    let before = buf.len();
    let BufResult(result, buf) = r.append(buf).await;
    let after = buf.len();
    rbuf.restore(buf);
    result.map(|n| n.min(after - before))
}

/// Reads the next message: decodes what is buffered, writes automatic replies, reads more when
/// needed, and ends TCP when the close handshake or a protocol error says so.
pub(crate) async fn read_message<C: ReadConn>(
    c: &mut C,
    rbuf: &mut ReadBuffer,
) -> Result<Message, Error> {
    loop {
        let (result, pending, state, role) = {
            let core = &mut *c.core().borrow_mut();
            let queued = core.out.queued_bytes();
            let result = core.proto.read_message(rbuf.bytes_mut(), &mut core.out);
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
            let flushed = c.flush().await;
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
                    let timeout = c.core().borrow().close_timeout;
                    compio::time::timeout(timeout, wait_eof(c, rbuf)).await.ok();
                }
                return Err(Error::Closed);
            }
            Ok(None) => {
                // Nothing whole is buffered: before waiting on the socket, write what is queued,
                // so fed messages never wait for a flush that a blocked read would hold back.
                if C::FLUSH_BEFORE_WAIT && !c.core().borrow().out.is_empty() {
                    c.flush().await?;
                }
                let need = c.core().borrow().proto.bytes_needed(rbuf.bytes_mut().len());
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
                let timeout = c.core().borrow().close_timeout;
                compio::time::timeout(timeout, wait_eof(c, rbuf)).await.ok();
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
