//! Waiting for a connection's socket to become readable without reading it: what lets a
//! connection wait for a deferred poll's reply and for its client at once. A pending `peek`
//! may be dropped at any time (it consumes nothing), unlike a read (see
//! `shared/compio-notes.md`: a dropped read can lose its bytes). A TLS stream has no such wait
//! here (its records are read through rustls), so a connection over TLS waits for the reply
//! alone; a subscribed TLS connection at rest races its read instead (see `watchable`). No protocol logic.

use std::future::Future;
use std::io;

use compio::net::TcpStream;

/// A stream a connection can wait on without reading.
pub trait Readiness {
    /// Resolves once bytes (or EOF) can be read; dropping it while pending loses nothing. A
    /// stream with no such wait never resolves.
    fn readable(&self) -> impl Future<Output = io::Result<()>>;

    /// Whether [`Self::readable`] ever resolves. A stream that cannot be watched must keep the
    /// bytes of a dropped read instead (compio-tls's `TlsStream` does: eddy-ws's
    /// `tests/tls.rs` drops thousands of reads mid-stream and loses none), so that a
    /// subscribed connection at rest can race the read itself against its pushes.
    fn watchable(&self) -> bool {
        true
    }
}

impl Readiness for TcpStream {
    async fn readable(&self) -> io::Result<()> {
        // Bytes already waiting (a client that pipelines) need no operation to wait for.
        if eddy_ws::driver::detach::has_bytes(self) {
            return Ok(());
        }
        // A one-byte array, not a heap buffer: a connection at rest holds this wait.
        let compio::buf::BufResult(res, _) = self.peek([0u8; 1]).await;
        res.map(drop)
    }
}

impl Readiness for eddy_ws::tls::TlsStream<TcpStream> {
    async fn readable(&self) -> io::Result<()> {
        std::future::pending().await
    }

    fn watchable(&self) -> bool {
        false
    }
}

/// Runs `a` and `b` together; the first to finish wins and the other is dropped.
pub async fn first<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
            return std::task::Poll::Ready(Either::Right(v));
        }
        a.as_mut().poll(cx).map(Either::Left)
    })
    .await
}

/// One of two outcomes.
pub enum Either<A, B> {
    Left(A),
    Right(B),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use compio::io::AsyncWriteExt;

    use super::*;

    #[compio::test]
    async fn a_dropped_readiness_wait_loses_no_byte() {
        let listener = compio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        // Nothing to read: the wait loses to a timer and is dropped.
        let timer = compio::time::sleep(Duration::from_millis(50));
        assert!(matches!(first(server.readable(), timer).await, Either::Right(())));
        client.write_all(b"hello").await.0.unwrap();
        // Readable now, and dropped after it completed: the bytes are still there.
        for _ in 0..3 {
            let timer = compio::time::sleep(Duration::from_secs(5));
            assert!(matches!(first(server.readable(), timer).await, Either::Left(Ok(()))));
        }
        let compio::buf::BufResult(n, buf) =
            compio::io::AsyncRead::read(&mut &server, Vec::with_capacity(16)).await;
        assert_eq!(&buf[..n.unwrap()], b"hello");
    }
}
