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
use crate::error::Error;
use crate::frame::CloseFrame;
use crate::message::Message;
use crate::protocol::State;

/// State shared by the halves.
struct Shared<W> {
    core: RefCell<Core>,
    /// The write half; `None` while one side is writing.
    writer: Cell<Option<W>>,
    /// Tasks waiting for the write half.
    waiters: RefCell<Vec<Waker>>,
}

impl<W: AsyncWrite> Shared<W> {
    /// Takes the write half, waiting while the other side writes.
    async fn acquire(&self) -> W {
        poll_fn(|cx| match self.writer.take() {
            Some(w) => Poll::Ready(w),
            None => {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    fn release(&self, w: W) {
        self.writer.set(Some(w));
        for waker in self.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// Writes everything queued, by either side.
    async fn flush(&self) -> io::Result<()> {
        if self.core.borrow().out.is_empty() {
            return Ok(());
        }
        let mut w = self.acquire().await;
        let result = conn::write_out(&mut w, &self.core).await;
        self.release(w);
        result
    }

    async fn shutdown(&self) -> io::Result<()> {
        let mut w = self.acquire().await;
        let result = w.shutdown().await;
        self.release(w);
        result
    }
}

pub(super) fn new<R, W>(r: R, w: W, core: Core, rbuf: ReadBuffer) -> (Reader<R>, Writer<W>)
where
    W: AsyncWrite + 'static,
{
    let shared = Rc::new(Shared {
        core: RefCell::new(core),
        writer: Cell::new(Some(w)),
        waiters: RefCell::new(Vec::new()),
    });
    let reader = Reader { stream: r, rbuf, lane: Box::new(shared.clone()) };
    (reader, Writer { shared })
}

/// Type-erases the write half for the reader, which only needs to flush and shut down.
trait Lane {
    fn core(&self) -> &RefCell<Core>;
    fn flush(&self) -> std::pin::Pin<Box<dyn Future<Output = io::Result<()>> + '_>>;
    fn shutdown(&self) -> std::pin::Pin<Box<dyn Future<Output = io::Result<()>> + '_>>;
}

impl<W: AsyncWrite> Lane for Rc<Shared<W>> {
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

/// The reading half of a split [`WebSocket`](super::WebSocket). Same cancel-safety rule as
/// `WebSocket::read`: give it its own task rather than a `select!`.
pub struct Reader<R> {
    stream: R,
    rbuf: ReadBuffer,
    lane: Box<dyn Lane>,
}

impl<R> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("rbuf", &self.rbuf).finish_non_exhaustive()
    }
}

impl<R: AsyncRead> Reader<R> {
    /// Reads the next message, answering pings and close frames through the shared write half.
    pub async fn read(&mut self) -> Result<Message, Error> {
        let mut rbuf =
            std::mem::replace(&mut self.rbuf, ReadBuffer::new(0, bytes::BytesMut::new()));
        let result = conn::read_message(self, &mut rbuf).await;
        self.rbuf = rbuf;
        result
    }

    /// The connection state.
    pub fn state(&self) -> State {
        self.lane.core().borrow().proto.state().clone()
    }
}

impl<R: AsyncRead> ReadConn for Reader<R> {
    fn core(&self) -> &RefCell<Core> {
        self.lane.core()
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.lane.flush().await?;
        Ok(())
    }

    async fn fill(&mut self, buf: &mut ReadBuffer, need: usize) -> io::Result<usize> {
        conn::fill_from(&mut self.stream, buf, need).await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.lane.shutdown().await
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

impl<W: AsyncWrite> Writer<W> {
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
