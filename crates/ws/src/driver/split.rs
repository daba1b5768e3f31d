//! The two halves of a split connection, for two tasks on one thread: a [`Reader`] and a
//! [`Writer`] sharing the protocol core and the write half of the stream through an `Rc`.
//!
//! Writing is a lane that one side holds at a time: whoever holds the write half writes
//! everything queued (its own frames and the other side's), then hands it back and wakes the
//! other side. So the Reader can answer pings and close frames while the Writer is idle, and a
//! Writer mid-write carries the Reader's Pong out with its own batch. No locks, no `Send`.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{Poll, Waker};

use compio::io::{AsyncRead, AsyncWrite};

use super::buffer::ReadBuffer;
use super::conn::{self, Core, ReadConn};
use super::detach::{Detach, ReadOp, WriteOp};
use crate::error::Error;
use crate::frame::CloseFrame;
use crate::message::Message;
use crate::protocol::State;

/// Operations a dropped call of the whole connection left in flight, handed to the halves.
pub(super) struct Parked {
    pub read: Option<ReadOp>,
    pub write: Option<WriteOp>,
}

/// State shared by the halves.
struct Shared<W> {
    core: RefCell<Core>,
    /// The write half and a write left in flight by a dropped flush; `None` while one side is
    /// writing.
    writer: Cell<Option<(W, Option<WriteOp>)>>,
    /// Tasks waiting for the write half.
    waiters: RefCell<Vec<Waker>>,
}

impl<W: AsyncWrite + Detach> Shared<W> {
    /// Takes the write half, waiting while the other side writes.
    async fn acquire(&self) -> (W, Option<WriteOp>) {
        poll_fn(|cx| match self.writer.take() {
            Some(w) => Poll::Ready(w),
            None => {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    fn release(&self, w: (W, Option<WriteOp>)) {
        self.writer.set(Some(w));
        for waker in self.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// Writes everything queued, by either side.
    /// Cancel-safe: the write half goes back (with a write still in flight) if this is dropped.
    async fn flush(&self) -> io::Result<()> {
        if !self.core.borrow().has_unwritten() && self.writer_idle() {
            return Ok(());
        }
        let mut lane = Lane::take(self).await;
        let Some((w, parked)) = lane.held.as_mut() else { return Ok(()) };
        conn::write_out(w, &self.core, parked).await
    }

    async fn shutdown(&self) -> io::Result<()> {
        let mut lane = Lane::take(self).await;
        let Some((w, _)) = lane.held.as_mut() else { return Ok(()) };
        super::detach::shutdown(w).await
    }

    /// Whether no write is left in flight (true while the other side holds the lane).
    fn writer_idle(&self) -> bool {
        let held = self.writer.take();
        let idle = held.as_ref().is_none_or(|(_, parked)| parked.is_none());
        self.writer.set(held);
        idle
    }
}

/// The write half, held; released on drop, so a dropped flush gives the lane back.
struct Lane<'a, W: AsyncWrite + Detach> {
    shared: &'a Shared<W>,
    held: Option<(W, Option<WriteOp>)>,
}

impl<'a, W: AsyncWrite + Detach> Lane<'a, W> {
    async fn take(shared: &'a Shared<W>) -> Self {
        let held = shared.acquire().await;
        Self { shared, held: Some(held) }
    }
}

impl<W: AsyncWrite + Detach> Drop for Lane<'_, W> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.shared.release(held);
        }
    }
}

pub(super) fn new<R, W>(
    r: R,
    w: W,
    core: Core,
    rbuf: ReadBuffer,
    parked: Parked,
) -> (Reader<R>, Writer<W>)
where
    W: AsyncWrite + Detach + 'static,
{
    let shared = Rc::new(Shared {
        core: RefCell::new(core),
        writer: Cell::new(Some((w, parked.write))),
        waiters: RefCell::new(Vec::new()),
    });
    let reader = Reader { stream: r, rbuf, read_op: parked.read, lane: Box::new(shared.clone()) };
    (reader, Writer { shared })
}

/// Type-erases the write half for the reader, which only needs to flush and shut down.
trait WriteLane {
    fn core(&self) -> &RefCell<Core>;
    fn flush(&self) -> std::pin::Pin<Box<dyn Future<Output = io::Result<()>> + '_>>;
    fn shutdown(&self) -> std::pin::Pin<Box<dyn Future<Output = io::Result<()>> + '_>>;
}

impl<W: AsyncWrite + Detach> WriteLane for Rc<Shared<W>> {
    fn core(&self) -> &RefCell<Core> {
        &self.core
    }
    fn flush(&self) -> std::pin::Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        Box::pin(Shared::flush(self))
    }
    fn shutdown(&self) -> std::pin::Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        Box::pin(Shared::shutdown(self))
    }
}

/// The reading half of a split [`WebSocket`](super::WebSocket). Its `read` is cancel-safe
/// as `WebSocket::read` is.
pub struct Reader<R> {
    stream: R,
    rbuf: ReadBuffer,
    /// A read left in flight by a dropped call.
    read_op: Option<ReadOp>,
    lane: Box<dyn WriteLane>,
}

impl<R> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("rbuf", &self.rbuf).finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Detach> Reader<R> {
    /// Reads the next message, answering pings and close frames through the shared write half.
    pub async fn read(&mut self) -> Result<Message, Error> {
        let mut half =
            ReadHalf { stream: &mut self.stream, read_op: &mut self.read_op, lane: &*self.lane };
        conn::read_message(&mut half, &mut self.rbuf).await
    }

    /// The connection state.
    pub fn state(&self) -> State {
        self.lane.core().borrow().proto.state().clone()
    }
}

/// A reader's parts apart from its read buffer.
struct ReadHalf<'a, R> {
    stream: &'a mut R,
    read_op: &'a mut Option<ReadOp>,
    lane: &'a dyn WriteLane,
}

impl<R: AsyncRead + Detach> ReadConn for ReadHalf<'_, R> {
    fn core(&self) -> &RefCell<Core> {
        self.lane.core()
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.lane.flush().await?;
        Ok(())
    }

    async fn fill(&mut self, buf: &mut ReadBuffer, need: usize) -> io::Result<usize> {
        let rest = self.lane.core().borrow().rest_without_buffer;
        conn::fill_parked(self.stream, buf, need, self.read_op, rest).await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.lane.shutdown().await
    }

    fn has_unwritten(&self) -> bool {
        self.lane.core().borrow().has_unwritten()
    }

    const FLUSH_BEFORE_WAIT: bool = false;
}

/// The writing half of a split [`WebSocket`](super::WebSocket).
pub struct Writer<W> {
    shared: Rc<Shared<W>>,
}

impl<W> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("core", &self.shared.core).finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Detach> Writer<W> {
    /// Queues a message without writing it.
    pub fn feed(&mut self, msg: Message) -> Result<(), Error> {
        let core = &mut *self.shared.core.borrow_mut();
        core.proto.send(msg, &mut core.out)?;
        Ok(())
    }

    /// Queues a message prepared once for many connections (see `WebSocket::feed_prepared`).
    pub fn feed_prepared(&mut self, msg: &crate::PreparedMessage) -> Result<(), Error> {
        let core = &mut *self.shared.core.borrow_mut();
        core.proto.send_prepared(msg, &mut core.out)?;
        Ok(())
    }

    /// Queues one binary message of `len` bytes written in place by `write` (see
    /// `WebSocket::feed_binary_with`).
    pub fn feed_binary_with(
        &mut self,
        len: usize,
        write: impl FnOnce(&mut crate::protocol::PayloadWriter<'_>),
    ) -> Result<(), Error> {
        let core = &mut *self.shared.core.borrow_mut();
        core.proto.send_binary_written(len, write, &mut core.out)?;
        Ok(())
    }

    /// Writes everything queued, waiting while the reader writes a reply.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.shared.flush().await?;
        Ok(())
    }

    /// Queues and writes one message.
    pub async fn send(&mut self, msg: Message) -> Result<(), Error> {
        self.feed(msg)?;
        self.flush().await
    }

    /// Sends a close frame. The peer's reply arrives through the [`Reader`], which then ends TCP.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.send(Message::Close(frame)).await
    }

    /// The connection state.
    pub fn state(&self) -> State {
        self.shared.core.borrow().proto.state().clone()
    }
}
