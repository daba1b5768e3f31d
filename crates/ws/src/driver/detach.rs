//! Socket operations that outlive the call that started them, which is what makes
//! [`WebSocket::read`](super::WebSocket::read) cancel-safe. compio hands a buffer to the kernel
//! for each operation; dropping the future cancels it, and a read the kernel had already filled
//! loses its bytes, a write may have sent part of its segments. So on a stream where that can
//! happen (a `TcpStream`, a `UnixStream`), each read and write runs as a boxed future that owns a
//! clone of the socket handle and its buffer: the connection keeps it, and a call dropped midway
//! leaves it there for the next call to finish. A stream whose dropped operations lose nothing
//! (compio-tls's `TlsStream`: its reads and writes go through state it keeps, and rustls holds
//! the plaintext) runs them in place. No socket I/O of its own beyond starting those futures.

use std::future::Future;
use std::io;
use std::pin::Pin;

use bytes::{Buf, Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncWrite};

/// A read started by [`Detach::detach_read`]: it fills its buffer from the buffer's length.
pub type ReadOp = Pin<Box<dyn Future<Output = BufResult<usize, BytesMut>>>>;
/// A write started by [`Detach::detach_write`]: it writes a prefix of its segments and says how
/// many bytes.
pub type WriteOp = Pin<Box<dyn Future<Output = BufResult<usize, Vec<Bytes>>>>>;

/// How a stream's reads and writes survive a dropped call.
///
/// Implemented for `TcpStream` and `UnixStream` (their operations run detached, owning a clone
/// of the socket handle) and for compio-tls's `TlsStream` (its own operations lose nothing when
/// dropped, so they run in place). For another stream, an empty `impl Detach for MyStream {}`
/// runs operations in place: `read` is then as cancel-safe as the stream's own reads and writes.
pub trait Detach {
    /// Starts a read into the spare capacity of `buf` that runs on its own, or gives `buf`
    /// back to be read in place.
    fn detach_read(&self, buf: BytesMut) -> Result<ReadOp, BytesMut> {
        Err(buf)
    }

    /// Starts one write of `segments` (vectored when more than one) that runs on its own, or
    /// gives them back to be written in place.
    fn detach_write(&self, segments: Vec<Bytes>) -> Result<WriteOp, Vec<Bytes>> {
        Err(segments)
    }

    /// Starts a read that first waits, holding no buffer, until a read would find bytes (or
    /// EOF: a one-byte `peek` on a socket), then reads into a fresh buffer of `room` bytes, so
    /// that a connection at rest holds this operation and no read buffer. It runs on its own
    /// like [`Self::detach_read`]. `None`: a read now would find bytes (a `TcpStream` asks the
    /// socket with a non-blocking peek, a plain syscall: a busy connection then reads at once,
    /// with no extra operation), or the stream has no such wait (the default) and its reads
    /// hold their buffer while they wait.
    fn detach_read_at_rest(&self, room: usize) -> Option<ReadOp> {
        let _ = room;
        None
    }

    /// Ends this side's writing (TCP FIN) at once, with no operation to wait for (so a call
    /// dropped after it cannot leave it half done); `None`: the stream's own `shutdown` does it.
    fn shutdown_now(&self) -> Option<io::Result<()>> {
        None
    }
}

/// Starts the detached read of a socket handle that can be cloned.
fn read_with<S: AsyncRead + 'static>(mut s: S, buf: BytesMut) -> ReadOp {
    Box::pin(async move { compio::io::AsyncReadExt::append(&mut s, buf).await })
}

/// Starts the detached read at rest of a TCP socket: a `peek` of one byte (it stays in the
/// socket; the operation owns that one-byte array and nothing else), then a read into a buffer
/// allocated only now.
fn read_when_readable(mut s: compio::net::TcpStream, room: usize) -> ReadOp {
    Box::pin(async move {
        if let BufResult(Err(e), _) = s.peek([0u8; 1]).await {
            return BufResult(Err(e), BytesMut::new());
        }
        compio::io::AsyncReadExt::append(&mut s, BytesMut::with_capacity(room)).await
    })
}

/// Whether bytes (or EOF, or an error) wait in the socket now: a non-blocking one-byte peek, a
/// plain syscall. A read that would find them gains nothing by resting first; a caller that
/// waits for readability on its own can skip the wait the same way.
#[cfg(unix)]
pub fn has_bytes(s: &compio::net::TcpStream) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    match socket2::SockRef::from(s).recv_with_flags(&mut byte, flags) {
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        Ok(_) => true,
    }
}

/// Elsewhere every read at rest rests.
#[cfg(not(unix))]
pub fn has_bytes(_: &compio::net::TcpStream) -> bool {
    false
}

/// Starts the detached write of a socket handle that can be cloned.
fn write_with<S: AsyncWrite + 'static>(mut s: S, mut segments: Vec<Bytes>) -> WriteOp {
    Box::pin(async move {
        if segments.len() == 1 {
            let Some(one) = segments.pop() else { return BufResult(Ok(0), segments) };
            let BufResult(result, one) = s.write(one).await;
            segments.push(one);
            BufResult(result, segments)
        } else {
            s.write_vectored(segments).await
        }
    })
}

/// Detach for a socket whose handle clones cheaply (a shared descriptor): the operation owns a
/// clone; the shutdown is a plain `shutdown(2)`.
macro_rules! detach_by_clone {
    ($($(#[$attr:meta])* $stream:ty $({ $($extra:tt)* })?),*) => {$(
        $(#[$attr])*
        impl Detach for $stream {
            $($($extra)*)?

            fn detach_read(&self, buf: BytesMut) -> Result<ReadOp, BytesMut> {
                Ok(read_with(self.clone(), buf))
            }

            fn detach_write(&self, segments: Vec<Bytes>) -> Result<WriteOp, Vec<Bytes>> {
                Ok(write_with(self.clone(), segments))
            }

            fn shutdown_now(&self) -> Option<io::Result<()>> {
                Some(socket2::SockRef::from(self).shutdown(std::net::Shutdown::Write))
            }
        }
    )*};
}

detach_by_clone!(
    compio::net::TcpStream {
        fn detach_read_at_rest(&self, room: usize) -> Option<ReadOp> {
            match has_bytes(self) {
                true => None,
                false => Some(read_when_readable(self.clone(), room)),
            }
        }
    },
    #[cfg(unix)]
    compio::net::UnixStream
);

#[cfg(feature = "tls")]
impl<S: compio::io::util::Splittable> Detach for compio::tls::TlsStream<S> {}

/// Ends the writing side of `w` (TCP FIN): at once where the stream can
/// ([`Detach::shutdown_now`], so a caller dropped afterwards leaves nothing half done), else
/// through the stream's own `shutdown`.
pub(crate) async fn shutdown<W: AsyncWrite + Detach>(w: &mut W) -> io::Result<()> {
    match w.shutdown_now() {
        Some(done) => done,
        None => w.shutdown().await,
    }
}

/// Drops the first `n` bytes of `segments` (whole segments, then the front of a partial one).
pub(crate) fn advance(segments: &mut Vec<Bytes>, mut n: usize) {
    let mut done = 0;
    for segment in segments.iter_mut() {
        if n < segment.len() {
            segment.advance(n);
            break;
        }
        n -= segment.len();
        done += 1;
    }
    segments.drain(..done);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_drops_whole_segments_then_the_front_of_a_partial_one() {
        let mut segments =
            vec![Bytes::from_static(b"abc"), Bytes::from_static(b"de"), Bytes::from_static(b"f")];
        advance(&mut segments, 4);
        assert_eq!(segments, vec![Bytes::from_static(b"e"), Bytes::from_static(b"f")]);
        advance(&mut segments, 0);
        assert_eq!(segments.len(), 2);
        advance(&mut segments, 2);
        assert!(segments.is_empty());
    }
}
