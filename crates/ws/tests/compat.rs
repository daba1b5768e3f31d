//! The article's bridge: byte-exact round trips through `GrowableSyncStream` for sizes from 1 byte
//! to 16 MiB, observable growth and shrink, the cap, EOF, a 16 MiB WebSocket message through
//! tungstenite in each growth policy, and a peer that vanishes mid-message.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

use bytes::Bytes;
use compio::io::AsyncWriteExt;
use compio::net::{TcpListener, TcpStream};
use eddy_ws::compat::{CompatWebSocket, GrowableSyncStream, GrowthPolicy, StreamConfig};
use tungstenite::Message as T;

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = join_local(TcpStream::connect(addr), listener.accept()).await;
    (client.unwrap(), accepted.unwrap().0)
}

/// Writes `data` through the bridge the way tungstenite would: sync writes until WouldBlock,
/// then an async flush.
async fn write_through(s: &mut GrowableSyncStream<TcpStream>, data: &[u8], chunk: usize) {
    let mut pos = 0;
    while pos < data.len() {
        let end = (pos + chunk).min(data.len());
        match s.write(&data[pos..end]) {
            Ok(n) => pos += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                s.flush_write_buf().await.unwrap();
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    s.flush_write_buf().await.unwrap();
}

/// Reads exactly `n` bytes through the bridge in reads of `chunk` bytes.
async fn read_through(s: &mut GrowableSyncStream<TcpStream>, n: usize, chunk: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; chunk];
    while out.len() < n {
        let want = chunk.min(n - out.len());
        match s.read(&mut buf[..want]) {
            Ok(0) => panic!("EOF after {} of {n} bytes", out.len()),
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                s.fill_read_buf().await.unwrap();
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    out
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[compio::test]
async fn byte_exact_round_trips_from_1_byte_to_16_mib() {
    let (a, b) = pair().await;
    let config = StreamConfig { base_capacity: 8 << 10, ..StreamConfig::default() };
    let mut w = GrowableSyncStream::new(a, config);
    let mut r = GrowableSyncStream::new(b, config);
    let mut sizes: Vec<usize> = vec![1, 2, 3, 7, 100, 4095, 4096, 4097];
    let mut p = 8192;
    while p <= 16 << 20 {
        sizes.extend([p - 1, p, p + 1]);
        p *= 4;
    }
    sizes.push(16 << 20);
    for (i, &size) in sizes.iter().enumerate() {
        let data = pattern(size, i as u8);
        let (wchunk, rchunk) = (1 + (size / 3).min(1 << 20), 1 + (size / 7).min(300_000));
        let writer = async {
            write_through(&mut w, &data, wchunk).await;
        };
        let got = {
            let reader = read_through(&mut r, size, rchunk);
            let (_, got) = join_local(writer, reader).await;
            got
        };
        assert!(got == data, "size {size} differs");
    }
}

/// Polls two local futures to completion on this thread.
async fn join_local<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    use std::pin::pin;
    use std::task::Poll;
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

#[compio::test]
async fn buffers_grow_by_policy_and_shrink_back_to_base() {
    for growth in [GrowthPolicy::Linear, GrowthPolicy::Exponential] {
        let (a, b) = pair().await;
        let config =
            StreamConfig { base_capacity: 16 << 10, max_capacity: 8 << 20, growth, pooled: false };
        let mut w = GrowableSyncStream::new(a, config);
        let mut r = GrowableSyncStream::new(b, config);
        assert_eq!(w.write_capacity(), 16 << 10);
        let data = pattern(1 << 20, 9);
        assert_eq!(w.write(&data).unwrap(), data.len(), "one write up to the cap is taken whole");
        assert!(w.write_capacity() >= 1 << 20, "grew: {}", w.write_capacity());
        if growth == GrowthPolicy::Linear {
            assert_eq!(w.write_capacity() % (16 << 10), 0, "linear steps are multiples of base");
        } else {
            assert!(w.write_capacity().is_power_of_two());
        }
        w.flush_write_buf().await.unwrap();
        assert_eq!(w.write_capacity(), 16 << 10, "shrunk to base after the flush");
        // The reader fills without consuming until it must grow.
        while r.readable() < data.len() {
            r.fill_read_buf().await.unwrap();
        }
        assert!(r.read_capacity() >= 1 << 20);
        let got = read_through(&mut r, data.len(), 1 << 20).await;
        assert!(got == data);
        assert_eq!(r.read_capacity(), 16 << 10, "shrunk to base once consumed");
        assert!(r.counters().grows > 0);
    }
}

#[compio::test]
async fn the_cap_is_a_clear_error_and_eof_is_reported() {
    let (mut a, b) = pair().await;
    let config = StreamConfig {
        base_capacity: 4 << 10,
        max_capacity: 16 << 10,
        growth: GrowthPolicy::Exponential,
        pooled: false,
    };
    let mut r = GrowableSyncStream::new(b, config);
    let compio::buf::BufResult(res, _) = a.write_all(vec![7u8; 64 << 10]).await;
    res.unwrap();
    let err = loop {
        match r.fill_read_buf().await {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(err.to_string().contains("maximum"), "{err}");
    // Writes past the cap: a partial write, then WouldBlock.
    let mut w = GrowableSyncStream::new(a, config);
    assert_eq!(w.write(&[1u8; 20 << 10]).unwrap(), 16 << 10);
    assert_eq!(w.write(&[1u8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    w.flush_write_buf().await.unwrap();
    drop(w);
    // EOF after the peer closes: drain, then Ok(0) forever.
    let mut sink = vec![0u8; 1 << 20];
    loop {
        match r.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                r.fill_read_buf().await.ok();
                if r.is_eof() && r.readable() == 0 {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(r.is_eof());
    assert_eq!(r.read(&mut sink).unwrap(), 0);
}

async fn compat_echo_server(config: StreamConfig) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = CompatWebSocket::accept(tcp, config, None).await.unwrap();
        while let Ok(msg) = ws.read().await {
            if msg.is_binary() || msg.is_text() {
                ws.send(msg).await.unwrap();
            }
        }
    })
    .detach();
    addr
}

#[compio::test]
async fn a_16_mib_message_in_each_growth_policy() {
    let policies = [
        ("linear 128 KiB", StreamConfig::default()),
        (
            "exponential",
            StreamConfig { growth: GrowthPolicy::Exponential, ..StreamConfig::default() },
        ),
        (
            "pooled",
            StreamConfig {
                growth: GrowthPolicy::Exponential,
                pooled: true,
                ..StreamConfig::default()
            },
        ),
    ];
    let data = Bytes::from(pattern(16 << 20, 3));
    for (name, config) in policies {
        let addr = compat_echo_server(config).await;
        let (mut ws, _) =
            CompatWebSocket::connect(&format!("ws://{addr}/"), config, None).await.unwrap();
        ws.send(T::Binary(data.clone())).await.unwrap();
        match ws.read().await.unwrap() {
            T::Binary(got) => assert!(got == data, "{name}: echo differs"),
            other => panic!("{name}: unexpected {other:?}"),
        }
        // Back at rest after the message.
        assert!(ws.stream().write_capacity() <= 4 * config.base_capacity, "{name}");
        ws.close(None).await.unwrap();
    }
}

#[compio::test]
async fn a_peer_that_closes_mid_message_is_an_error_not_a_panic() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = CompatWebSocket::accept(tcp, StreamConfig::default(), None).await.unwrap();
        ws.read().await
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    tcp.write_all(request.as_bytes().to_vec()).await.unwrap();
    // Header of a masked 100 000-byte binary frame, then only 1 000 payload bytes.
    let mut frame = vec![0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0x86, 0xA0, 1, 2, 3, 4];
    frame.extend(vec![0u8; 1000]);
    tcp.write_all(frame).await.unwrap();
    drop(tcp);
    assert!(server.await.unwrap().is_err());
}
