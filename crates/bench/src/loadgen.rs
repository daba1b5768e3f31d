//! The echo load generator: cheap by construction so it is never the bottleneck. Frames are built
//! once (masked, with a fixed key) and written from one reused buffer; replies are parsed by
//! header only. Each connection has a reader task (counts echoed frames) and a writer task
//! (sends one frame per echoed frame), so a server that echoes while still reading (raw TCP) can
//! never deadlock against it. Works unchanged against raw TCP echo servers, which return the
//! masked frames as they are. It measures the load side only; the server side is `ws_echo`'s.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
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
    /// Stop after this many echoed messages in total (the time bound still applies).
    pub max_messages: u64,
    /// WebSocket handshake first (false for raw TCP echo servers).
    pub websocket: bool,
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
    /// Echoed messages.
    pub messages: u64,
    pub wall_secs: f64,
    /// CPU seconds of the load generator's thread.
    pub cpu_secs: f64,
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

/// Connects (with `TCP_NODELAY`) and, for WebSocket, runs a minimal client handshake.
async fn open(addr: SocketAddr, websocket: bool, deflate: bool) -> anyhow::Result<TcpStream> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    if websocket {
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

/// Shared by the tasks of one run.
struct Shared {
    load: Load,
    /// Bytes of one frame, and `in_flight` frames back to back.
    one: usize,
    burst: Bytes,
    deadline: Instant,
    echoed: Cell<u64>,
    rtts: Cell<Vec<f64>>,
}

/// Writes one frame per credit received, from the burst shared by every connection.
async fn writer(
    mut tcp: TcpStream,
    one: usize,
    burst: Bytes,
    credits: flume::Receiver<usize>,
    sent_at: Rc<Cell<Instant>>,
) {
    while let Ok(mut n) = credits.recv_async().await {
        while let Ok(more) = credits.try_recv() {
            n += more;
        }
        sent_at.set(Instant::now());
        let BufResult(res, _) = tcp.write_all(burst.slice(..one * n)).await;
        if res.is_err() {
            return;
        }
    }
}

/// Reads echoes on an open connection until the deadline or the message cap, handing the
/// writer one credit per echoed frame.
async fn connection(mut tcp: TcpStream, shared: Rc<Shared>) -> anyhow::Result<()> {
    let load = shared.load;
    let one = shared.one;
    let (credit, credits) = flume::unbounded();
    let sent_at = Rc::new(Cell::new(Instant::now()));
    let writer = compio::runtime::spawn(writer(
        tcp.clone(),
        one,
        shared.burst.clone(),
        credits,
        sent_at.clone(),
    ));
    credit.send(load.in_flight).ok();
    let mut buf: Vec<u8> = Vec::with_capacity((one * load.in_flight).clamp(64 << 10, 4 << 20));
    let mut times = Vec::new();
    while shared.echoed.get() < load.max_messages {
        if buf.capacity() - buf.len() < one.min(1 << 20) {
            buf.reserve(one.min(1 << 20));
        }
        // Abandoning the read at the deadline loses nothing that is counted.
        let Ok(BufResult(res, b)) =
            compio::time::timeout_at(shared.deadline, tcp.append(buf)).await
        else {
            break;
        };
        buf = b;
        anyhow::ensure!(res? > 0, "server closed");
        let mut pos = 0;
        let mut done = 0;
        while let Some(n) = complete_frame(&buf[pos..]) {
            pos += n;
            done += 1;
        }
        if done > 0 {
            buf.drain(..pos);
            if load.in_flight == 1 {
                times.push(sent_at.get().elapsed().as_secs_f64() * 1e6);
            }
            shared.echoed.set(shared.echoed.get() + done as u64);
            credit.send(done).ok();
        }
    }
    drop(credit);
    // A writer still blocked on a peer that stopped reading is cancelled with its handle.
    drop(writer);
    tcp.set_zero_linger().ok();
    let mut all = shared.rtts.take();
    all.extend(times);
    shared.rtts.set(all);
    Ok(())
}

fn on_pinned_thread<T: Send + 'static>(
    core: usize,
    f: impl AsyncFnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    std::thread::spawn(move || -> anyhow::Result<T> { crate::rt::pinned(core)?.block_on(f()) })
        .join()
        .map_err(|_| anyhow::anyhow!("load generator panicked"))?
}

/// Opens `count` connections in waves of 256, so no listen backlog overflows.
async fn open_all(
    addr: SocketAddr,
    websocket: bool,
    deflate: bool,
    count: usize,
) -> anyhow::Result<Vec<TcpStream>> {
    let mut conns = Vec::with_capacity(count);
    while conns.len() < count {
        let wave = (count - conns.len()).min(256);
        let tasks: Vec<_> =
            (0..wave).map(|_| compio::runtime::spawn(open(addr, websocket, deflate))).collect();
        for t in tasks {
            conns.push(t.await.map_err(|_| anyhow::anyhow!("connect task panicked"))??);
        }
    }
    Ok(conns)
}

/// Runs `load` against the echo server at `addr` on a thread pinned to `core`. The clock starts
/// once every connection is open.
pub fn run(addr: SocketAddr, load: Load, core: usize) -> anyhow::Result<Measured> {
    on_pinned_thread(core, async move || {
        let conns = open_all(addr, load.websocket, load.deflate, load.connections).await?;
        let one = frame(load.size, load.deflate);
        let burst = Bytes::from(one.repeat(load.in_flight));
        let cpu0 = crate::procfs::thread_cpu_secs().unwrap_or(0.0);
        let start = Instant::now();
        let shared = Rc::new(Shared {
            load,
            one: one.len(),
            burst,
            deadline: start + load.duration,
            echoed: Cell::new(0),
            rtts: Cell::new(Vec::new()),
        });
        let tasks: Vec<_> = conns
            .into_iter()
            .map(|c| compio::runtime::spawn(connection(c, shared.clone())))
            .collect();
        for t in tasks {
            t.await.map_err(|_| anyhow::anyhow!("load task panicked"))??;
        }
        let wall_secs = start.elapsed().as_secs_f64();
        let mut rtts = shared.rtts.take();
        rtts.sort_by(f64::total_cmp);
        let messages = shared.echoed.get();
        Ok(Measured {
            msgs_per_s: messages as f64 / wall_secs,
            median_rtt_us: rtts.get(rtts.len() / 2).copied().unwrap_or(0.0),
            messages,
            wall_secs,
            cpu_secs: crate::procfs::thread_cpu_secs().unwrap_or(0.0) - cpu0,
        })
    })
}

/// Opens `count` connections (handshake done, then silent), waits `settle`, calls `measure`
/// while they are all open, and closes them.
pub fn hold_idle<T: Send + 'static>(
    addr: SocketAddr,
    websocket: bool,
    count: usize,
    settle: Duration,
    core: usize,
    measure: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    on_pinned_thread(core, async move || {
        let conns = open_all(addr, websocket, false, count).await?;
        compio::time::sleep(settle).await;
        let out = measure();
        for c in &conns {
            c.set_zero_linger().ok();
        }
        Ok(out)
    })
}
