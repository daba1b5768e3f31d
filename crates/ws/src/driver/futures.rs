//! `futures` views of a [`WebSocket`] (feature `futures`): `Stream<Item = Result<Message>>` and
//! `Sink<Message>`, so the combinators and adapters of that ecosystem apply. Both are thin:
//! each poll runs one step of the cancel-safe `read`/`flush` and drops it if it must wait (what
//! it left in flight stays with the connection, see `super::detach`). Batching is kept: the
//! sink's `start_send` only queues (like `feed`), `poll_flush` writes everything queued in one
//! submission, so `SinkExt::feed` + `flush` or `send_all`/`forward` (which flush only when the
//! source has nothing ready) write once per burst; `SinkExt::send` flushes per item.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use compio::io::{AsyncRead, AsyncWrite};

use super::detach::Detach;
use super::stream::{SEND_DEFER_BYTES, WebSocket};
use crate::error::Error;
use crate::message::Message;
use crate::protocol::State;

/// Messages as they arrive; pings are answered and yielded like `read` returns them, a close
/// frame is answered and yielded, and the stream ends (`None`) once the connection is closed.
/// A protocol error is yielded once (its close frame was sent), then the stream ends.
impl<S: AsyncRead + AsyncWrite + Detach + Unpin> futures_core::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match pin!(this.read()).poll(cx) {
            Poll::Ready(Err(Error::Closed)) => Poll::Ready(None),
            Poll::Ready(item) => Poll::Ready(Some(item)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Messages to send: `start_send` queues (no write), `poll_flush` writes all that is queued,
/// `poll_ready` makes room by writing once [`SEND_DEFER_BYTES`] are queued, `poll_close` sends
/// a close frame (no code) and flushes; the peer's reply then comes through the stream.
impl<S: AsyncRead + AsyncWrite + Detach + Unpin> futures_sink::Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.queued_bytes() < SEND_DEFER_BYTES {
            return Poll::Ready(Ok(()));
        }
        self.poll_flush(cx)
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), Error> {
        self.get_mut().feed(msg)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        pin!(self.get_mut().flush()).poll(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.state() == State::Open {
            this.feed(Message::Close(None))?;
        }
        pin!(this.flush()).poll(cx)
    }
}
