//! One 16 MiB binary message, echoed over loopback, through each design: compio's fixed 8 KiB
//! SyncStream (GrowableSyncStream with max = base), the article's Linear 128 KiB, Exponential,
//! Exponential + per-thread pool, and the native eddy-ws driver. Reports time per round trip,
//! read/write submissions per message (both sides, counted by wrapping the socket) and the peak
//! RSS of a process that ran only that variant. Writes `bench/results/large-message.{json,md}`.
//!
//! `cargo bench -p eddy-ws --features tungstenite --bench large_message [-- --quick] [-- --out DIR]`

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use compio::buf::{BufResult, IoBuf, IoBufMut, IoVectoredBuf};
use compio::io::{AsyncRead, AsyncWrite};
use compio::net::{TcpListener, TcpStream};
use eddy_ws::compat::{CompatWebSocket, GrowthPolicy, StreamConfig};
use eddy_ws::{ClientRequest, Config, Message};

const SIZE: usize = 16 << 20;

/// A stream that counts read and write submissions.
struct Counted {
    inner: TcpStream,
    reads: Rc<Cell<u64>>,
    writes: Rc<Cell<u64>>,
}

impl AsyncRead for Counted {
    async fn read<B: IoBufMut>(&mut self, buf: B) -> BufResult<usize, B> {
        self.reads.set(self.reads.get() + 1);
        self.inner.read(buf).await
    }
}

impl AsyncWrite for Counted {
    async fn write<B: IoBuf>(&mut self, buf: B) -> BufResult<usize, B> {
        self.writes.set(self.writes.get() + 1);
        self.inner.write(buf).await
    }
    async fn write_vectored<B: IoVectoredBuf>(&mut self, buf: B) -> BufResult<usize, B> {
        self.writes.set(self.writes.get() + 1);
        self.inner.write_vectored(buf).await
    }
    async fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().await
    }
    async fn shutdown(&mut self) -> std::io::Result<()> {
        self.inner.shutdown().await
    }
}

/// Runs its reads and writes in place (the counting wrapper holds no clone to detach with).
impl eddy_ws::Detach for Counted {}

#[derive(Clone, Copy)]
enum Variant {
    Compat(&'static str, StreamConfig),
    Native,
}

fn variants() -> Vec<Variant> {
    let linear = StreamConfig::default();
    vec![
        Variant::Compat("fixed 8 KiB (compio SyncStream)", StreamConfig::fixed(8 << 10)),
        Variant::Compat("linear 128 KiB (article)", linear),
        Variant::Compat(
            "exponential 128 KiB",
            StreamConfig { growth: GrowthPolicy::Exponential, ..linear },
        ),
        Variant::Compat(
            "exponential + pool",
            StreamConfig { growth: GrowthPolicy::Exponential, pooled: true, ..linear },
        ),
        Variant::Native,
    ]
}

fn name(v: &Variant) -> &'static str {
    match v {
        Variant::Compat(n, _) => n,
        Variant::Native => "native eddy-ws",
    }
}

/// Minor page faults of this process so far (/proc/self/stat field 10).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| s.rsplit(')').next()?.split_whitespace().nth(7)?.parse().ok())
        .unwrap_or(0)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

async fn server(listener: TcpListener, v: Variant, counters: (Rc<Cell<u64>>, Rc<Cell<u64>>)) {
    let (tcp, _) = listener.accept().await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let stream = Counted { inner: tcp, reads: counters.0, writes: counters.1 };
    match v {
        Variant::Compat(_, config) => {
            let mut ws = CompatWebSocket::accept(stream, config, None).await.unwrap();
            while let Ok(msg) = ws.read().await {
                if msg.is_binary() {
                    ws.send(msg).await.unwrap();
                }
            }
        }
        Variant::Native => {
            let mut ws = eddy_ws::accept(stream).await.unwrap();
            while let Ok(msg) = ws.read().await {
                if msg.is_data() {
                    ws.send(msg).await.unwrap();
                }
            }
        }
    }
}

/// Runs one variant; prints one JSON line.
async fn run_variant(v: Variant, rounds: usize, budget: Duration) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let counters = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    compio::runtime::spawn(server(listener, v, counters.clone())).detach();
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let stream = Counted { inner: tcp, reads: counters.0.clone(), writes: counters.1.clone() };
    let payload = Bytes::from(vec![0xA5u8; SIZE]);
    let mut times = Vec::new();
    let start = Instant::now();
    match v {
        Variant::Compat(_, config) => {
            let (mut ws, _) =
                CompatWebSocket::client(&format!("ws://{addr}/"), stream, config, None)
                    .await
                    .unwrap();
            let (r0, w0, f0) = (counters.0.get(), counters.1.get(), minor_faults());
            while times.len() < rounds && start.elapsed() < budget {
                let t = Instant::now();
                ws.send(tungstenite::Message::Binary(payload.clone())).await.unwrap();
                let got = ws.read().await.unwrap();
                times.push(t.elapsed());
                assert_eq!(got.len(), SIZE);
            }
            report(v, &times, counters.0.get() - r0, counters.1.get() - w0, minor_faults() - f0);
        }
        Variant::Native => {
            let request = ClientRequest::new(&format!("ws://{addr}/")).unwrap();
            let (mut ws, _) = eddy_ws::client(stream, request, &Config::default()).await.unwrap();
            let (r0, w0, f0) = (counters.0.get(), counters.1.get(), minor_faults());
            while times.len() < rounds && start.elapsed() < budget {
                let t = Instant::now();
                ws.send(Message::Binary(payload.clone())).await.unwrap();
                let got = ws.read().await.unwrap();
                times.push(t.elapsed());
                assert_eq!(got.payload().len(), SIZE);
            }
            report(v, &times, counters.0.get() - r0, counters.1.get() - w0, minor_faults() - f0);
        }
    }
}

fn report(v: Variant, times: &[Duration], reads: u64, writes: u64, faults: u64) {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    let n = times.len() as f64;
    println!(
        "{{\"variant\": \"{}\", \"rounds\": {}, \"median_ms\": {:.3}, \"min_ms\": {:.3}, \"max_ms\": {:.3}, \"reads_per_message\": {:.1}, \"writes_per_message\": {:.1}, \"page_faults_per_round_trip\": {:.0}, \"peak_rss_mib\": {:.1}}}",
        name(&v),
        times.len(),
        median,
        ms[0],
        ms[ms.len() - 1],
        reads as f64 / n / 2.0,
        writes as f64 / n / 2.0,
        faults as f64 / n,
        peak_rss_kib() as f64 / 1024.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let (rounds, budget) =
        if quick { (2, Duration::from_secs(5)) } else { (10, Duration::from_secs(30)) };
    if let Some(i) = args.iter().position(|a| a == "--variant") {
        let index: usize = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let v = variants()[index];
        compio::runtime::Runtime::new().unwrap().block_on(run_variant(v, rounds, budget));
        return;
    }
    let out_dir = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/results").to_owned());
    let exe = std::env::current_exe().unwrap();
    let mut lines = Vec::new();
    for (i, v) in variants().iter().enumerate() {
        // Each variant in its own process, so peak RSS is that variant's alone.
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--variant", &i.to_string()]);
        if quick {
            cmd.arg("--quick");
        }
        let out = cmd.output().unwrap();
        let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || line.is_empty() {
            eprintln!("variant {} failed: {}", name(v), String::from_utf8_lossy(&out.stderr));
            std::process::exit(1);
        }
        println!("{line}");
        lines.push(line);
    }
    let json = format!(
        "{{\n  \"benchmark\": \"16 MiB binary message echo over loopback, client and server in one process\",\n  \"quick\": {quick},\n  \"cpus\": {},\n  \"results\": [\n    {}\n  ]\n}}\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        lines.join(",\n    ")
    );
    let mut md = String::from(
        "| path | round trip (median) | vs native | reads / msg | writes / msg | page faults / round trip | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let field = |l: &str, k: &str| -> String {
        l.split(&format!("\"{k}\": "))
            .nth(1)
            .map(|s| s.split([',', '}']).next().unwrap_or("").trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    let native_ms: f64 =
        lines.last().map(|l| field(l, "median_ms").parse().unwrap_or(1.0)).unwrap_or(1.0);
    for l in &lines {
        let ms: f64 = field(l, "median_ms").parse().unwrap_or(0.0);
        md.push_str(&format!(
            "| {} | {:.1} ms | {:.2}× | {} | {} | {} | {} MiB |\n",
            field(l, "variant"),
            ms,
            ms / native_ms,
            field(l, "reads_per_message"),
            field(l, "writes_per_message"),
            field(l, "page_faults_per_round_trip"),
            field(l, "peak_rss_mib")
        ));
    }
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(format!("{out_dir}/large-message.json"), json).unwrap();
    std::fs::write(format!("{out_dir}/large-message.md"), &md).unwrap();
    print!("{md}");
}
