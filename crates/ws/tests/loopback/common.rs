//! Shared helpers: a one-connection server, and a raw TCP peer that speaks the handshake and
//! hand-built frames.

use std::future::Future;
use std::net::SocketAddr;

use bytes::BytesMut;
use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use compio::runtime::JoinHandle;
use eddy_ws::frame::{FrameHeader, OpCode, apply_mask};
use eddy_ws::{Config, WebSocket, accept_with};

/// Starts a server that accepts one WebSocket connection with `config` and runs `handler` on it.
pub async fn serve_one<F, Fut, T>(config: Config, handler: F) -> (SocketAddr, JoinHandle<T>)
where
    F: FnOnce(Result<WebSocket<TcpStream>, eddy_ws::Error>) -> Fut + 'static,
    Fut: Future<Output = T> + 'static,
    T: 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = accept_with(tcp, &config, |_, _| Ok(())).await;
        handler(ws).await
    });
    (addr, task)
}

pub fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// A TCP peer that did the handshake by hand and now writes raw bytes.
pub struct RawPeer {
    pub tcp: TcpStream,
    pub buf: Vec<u8>,
}

pub const REQUEST: &str = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

impl RawPeer {
    /// Connects and sends `request` plus `extra` bytes in one write; reads the response head.
    pub async fn connect(addr: SocketAddr, extra: &[u8]) -> Self {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut bytes = REQUEST.as_bytes().to_vec();
        bytes.extend_from_slice(extra);
        tcp.write_all(bytes).await.unwrap();
        let mut peer = Self { tcp, buf: Vec::new() };
        while !peer.buf.windows(4).any(|w| w == b"\r\n\r\n") {
            assert!(peer.read_some().await > 0, "EOF before the handshake response");
        }
        let end = peer.buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(peer.buf.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&peer.buf));
        peer.buf.drain(..end);
        peer
    }

    pub async fn send(&mut self, bytes: Vec<u8>) {
        let BufResult(res, _) = self.tcp.write_all(bytes).await;
        res.unwrap();
    }

    pub async fn read_some(&mut self) -> usize {
        let BufResult(res, chunk) = self.tcp.read(Vec::with_capacity(64 << 10)).await;
        let n = res.unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads until EOF and returns everything received.
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        while self.read_some().await > 0 {}
        std::mem::take(&mut self.buf)
    }
}

/// A masked frame as a client sends it.
pub fn client_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let header =
        FrameHeader { fin, rsv: 0, opcode, mask: Some(key), payload_len: payload.len() as u64 };
    let mut out = BytesMut::new();
    header.encode(&mut out);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key, 0);
    out.to_vec()
}

/// The unmasked close frame a server sends with `code`.
pub fn server_close(code: u16) -> Vec<u8> {
    let mut v = vec![0x88, 0x02];
    v.extend_from_slice(&code.to_be_bytes());
    v
}
