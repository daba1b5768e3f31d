//! The echo load generator: cheap by construction so it is never the bottleneck. Frames are built
//! once (masked, with a fixed key) and written in bursts; replies are parsed by header only.
//! Works unchanged against raw TCP echo servers, which return the masked frames as they are.

use std::cell::Cell;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use eddy_ws::frame::{FrameHeader, OpCode, apply_mask};

/// One load shape.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub connections: usize,
    pub in_flight: usize,
    pub size: usize,
    pub duration: Duration,
    /// Send JSON-like text compressed with permessage-deflate (negotiated without context
    /// takeover, so one pre-built compressed frame stays valid for every send).
    pub deflate: bool,
}

/// What a run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    pub msgs_per_s: f64,
    /// Median round trip with one message in flight (µs); 0 for pipelined loads.
    pub median_rtt_us: f64,
}

/// JSON-like text of exactly `size` bytes.
pub fn json(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 64);
    let mut i = 0;
    while out.len() < size {
        let record =
            format!("{{\"id\":{i},\"user\":\"eddy\",\"ok\":true,\"score\":{}}},", i * 7 % 1000);
        out.extend_from_slice(record.as_bytes());
        i += 1;
    }
    out.truncate(size);
    out
}

fn frame(size: usize, deflate: bool) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let (payload, rsv, opcode) = if deflate {
        let mut c = eddy_ws::deflate::Compressor::new(15, 3, true);
        let mut z = Vec::new();
        c.compress(&json(size), &mut z);
        (z, 0b100, OpCode::Binary)
    } else {
        (vec![b'e'; size], 0, OpCode::Binary)
    };
    let mut out = BytesMut::new();
    FrameHeader { fin: true, rsv, opcode, mask: Some(key), payload_len: payload.len() as u64 }
        .encode(&mut out);
    let start = out.len();
    out.extend_from_slice(&payload);
    apply_mask(&mut out[start..], key, 0);
    out.to_vec()
}

/// Length of the whole frame at the start of `buf`, if complete.
fn complete_frame(buf: &[u8]) -> Option<usize> {
    let (h, n) = FrameHeader::parse(buf).ok()??;
    let total = n + h.payload_len as usize;
    (buf.len() >= total).then_some(total)
}

async fn open(addr: SocketAddr, ws: bool, deflate: bool) -> anyhow::Result<TcpStream> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    if ws {
        let ext = if deflate {
            "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n"
        } else {
            ""
        };
        let req = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        );
        let BufResult(res, _) = tcp.write_all(req.into_bytes()).await;
        res?;
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let BufResult(res, b) = tcp.read(Vec::<u8>::with_capacity(1024)).await;
            anyhow::ensure!(res? > 0, "closed during the handshake");
            head.extend_from_slice(&b);
        }
        anyhow::ensure!(head.starts_with(b"HTTP/1.1 101"), "handshake refused");
        let negotiated = head.windows(18).any(|w| w == b"permessage-deflate");
        anyhow::ensure!(negotiated == deflate, "permessage-deflate negotiation: wanted {deflate}");
    }
    Ok(tcp)
}

async fn connection(
    addr: SocketAddr,
    ws: bool,
    load: Load,
    deadline: Instant,
    count: Rc<Cell<u64>>,
    rtts: Rc<Cell<Vec<f64>>>,
) -> anyhow::Result<()> {
    let mut tcp = open(addr, ws, load.deflate).await?;
    let one = frame(load.size, load.deflate);
    let burst: Vec<u8> = one.iter().copied().cycle().take(one.len() * load.in_flight).collect();
    let BufResult(res, _) = tcp.write_all(burst.clone()).await;
    res?;
    let mut sent_at = Instant::now();
    let mut buf: Vec<u8> = Vec::with_capacity((one.len() * load.in_flight).max(64 << 10));
    let mut times = Vec::new();
    while Instant::now() < deadline {
        if buf.capacity() - buf.len() < one.len() {
            buf.reserve(one.len());
        }
        let BufResult(res, b) = tcp.append(buf).await;
        buf = b;
        anyhow::ensure!(res? > 0, "server closed");
        let mut pos = 0;
        let mut done = 0;
        while let Some(n) = complete_frame(&buf[pos..]) {
            pos += n;
            done += 1;
        }
        buf.drain(..pos);
        if done > 0 {
            if load.in_flight == 1 {
                times.push(sent_at.elapsed().as_secs_f64() * 1e6);
            }
            count.set(count.get() + done as u64);
            let BufResult(res, _) = tcp.write_all(burst[..one.len() * done].to_vec()).await;
            res?;
            sent_at = Instant::now();
        }
    }
    let mut all = rtts.take();
    all.extend(times);
    rtts.set(all);
    Ok(())
}

/// Runs `load` against the echo server at `addr` on a thread pinned to `core`.
pub fn run(addr: SocketAddr, ws: bool, load: Load, core: usize) -> anyhow::Result<Measured> {
    std::thread::spawn(move || -> anyhow::Result<Measured> {
        let rt = compio::runtime::RuntimeBuilder::new()
            .thread_affinity(HashSet::from([core]))
            .build()?;
        rt.block_on(async move {
            let count = Rc::new(Cell::new(0u64));
            let rtts = Rc::new(Cell::new(Vec::new()));
            let start = Instant::now();
            let deadline = start + load.duration;
            let tasks: Vec<_> = (0..load.connections)
                .map(|_| {
                    compio::runtime::spawn(connection(
                        addr,
                        ws,
                        load,
                        deadline,
                        count.clone(),
                        rtts.clone(),
                    ))
                })
                .collect();
            for t in tasks {
                t.await.map_err(|_| anyhow::anyhow!("load task panicked"))??;
            }
            let secs = start.elapsed().as_secs_f64();
            let mut rtts = rtts.take();
            rtts.sort_by(f64::total_cmp);
            Ok(Measured {
                msgs_per_s: count.get() as f64 / secs,
                median_rtt_us: rtts.get(rtts.len() / 2).copied().unwrap_or(0.0),
            })
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("load generator panicked"))?
}
