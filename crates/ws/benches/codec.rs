//! Codec micro-benchmark: unmasking throughput, masking while copying (a client's send) against
//! copying then masking, frame decode and encode cost per frame for 16 B,
//! 1 KiB and 64 KiB payloads, and UTF-8 validation throughput. Writes
//! `bench/results/codec.json` and `bench/results/codec.md` (or `--out DIR`).
//!
//! `cargo bench -p eddy-ws --bench codec` (add `-- --quick` for a seconds-long smoke run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use eddy_ws::frame::mask::{apply_mask, apply_mask_scalar, extend_masked};
use eddy_ws::frame::{FrameHeader, OpCode};
use eddy_ws::protocol::{Outbox, Protocol};
use eddy_ws::utf8::Utf8Validator;
use eddy_ws::{Config, Role};

struct Bench {
    sample_time: Duration,
    samples: usize,
    rows: Vec<Row>,
}

struct Row {
    name: String,
    unit: &'static str,
    /// Nanoseconds per operation, median over samples.
    ns_per_op: f64,
    /// Bytes per operation, for throughput.
    bytes_per_op: usize,
}

impl Bench {
    /// Times `op` (which performs `ops` operations of `bytes` bytes each per call).
    fn run(
        &mut self,
        name: &str,
        unit: &'static str,
        ops: usize,
        bytes: usize,
        mut op: impl FnMut(),
    ) {
        // Calibrate: how many calls fill one sample.
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < self.sample_time / 4 {
            op();
            calls += 1;
        }
        let per_sample = (calls * 4).max(1);
        let mut results: Vec<f64> = (0..self.samples)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..per_sample {
                    op();
                }
                t.elapsed().as_nanos() as f64 / (per_sample as f64 * ops as f64)
            })
            .collect();
        results.sort_by(f64::total_cmp);
        let ns_per_op = results[results.len() / 2];
        println!("{name:<40} {ns_per_op:>10.1} ns/{unit}  {:>8.2} GB/s", bytes as f64 / ns_per_op);
        self.rows.push(Row { name: name.to_owned(), unit, ns_per_op, bytes_per_op: bytes });
    }
}

fn masked_frames(payload: usize, count: usize) -> BytesMut {
    let mut buf = BytesMut::new();
    let data = vec![b'a'; payload];
    for i in 0..count {
        let key = (i as u32).wrapping_mul(0x9E37_79B9).to_be_bytes();
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some(key),
            payload_len: payload as u64,
        }
        .encode(&mut buf);
        let start = buf.len();
        buf.extend_from_slice(&data);
        apply_mask(&mut buf[start..], key, 0);
    }
    buf
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let out_dir = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/results").to_owned());
    let mut bench = Bench {
        sample_time: Duration::from_millis(if quick { 20 } else { 200 }),
        samples: if quick { 3 } else { 11 },
        rows: Vec::new(),
    };

    let mut data = vec![0x5Au8; 64 << 10];
    let key = [1, 2, 3, 4];
    bench.run("unmask 64 KiB (word loop)", "buf", 1, data.len(), || {
        apply_mask(black_box(&mut data), key, 0)
    });
    bench.run("unmask 64 KiB (scalar reference)", "buf", 1, data.len(), || {
        apply_mask_scalar(black_box(&mut data), key, 0)
    });

    // A client sending a payload it does not own: copy it into the frame and mask it there,
    // in two passes or in one (`extend_masked`, what the outbox does).
    let src = vec![0x5Au8; 1 << 20];
    let mut dst = BytesMut::with_capacity(src.len());
    bench.run("mask 1 MiB while copying (one pass)", "buf", 1, src.len(), || {
        dst.clear();
        extend_masked(&mut dst, black_box(&src), key, 0);
        black_box(&dst);
    });
    bench.run("copy 1 MiB, then mask it in place", "buf", 1, src.len(), || {
        dst.clear();
        dst.extend_from_slice(black_box(&src));
        apply_mask(&mut dst, key, 0);
        black_box(&dst);
    });
    bench.run("copy 1 MiB (no mask: the floor)", "buf", 1, src.len(), || {
        dst.clear();
        dst.extend_from_slice(black_box(&src));
        black_box(&dst);
    });

    for (label, size) in [("16 B", 16), ("1 KiB", 1024), ("64 KiB", 64 << 10)] {
        let count = ((1 << 20) / (size + 14)).max(16);
        let frames = masked_frames(size, count);
        let config = Config::default();
        // Decoding unmasks in place, so each call decodes a fresh copy of the input; the cost of
        // that copy is measured alone and subtracted.
        bench.run("(copy of the decode input)", "frame", count, size, || {
            black_box(frames.clone());
        });
        let copy_ns = bench.rows.pop().map_or(0.0, |r| r.ns_per_op);
        bench.run(&format!("decode {label} masked frame (server)"), "frame", count, size, || {
            let mut buf = frames.clone();
            let mut proto = Protocol::new(Role::Server, &config);
            let mut out = Outbox::new(1024);
            while let Ok(Some(msg)) = proto.read_message(&mut buf, &mut out) {
                black_box(msg);
            }
        });
        if let Some(row) = bench.rows.last_mut() {
            row.ns_per_op = (row.ns_per_op - copy_ns).max(0.1);
            println!("{:<40} {:>10.1} ns/frame without the copy", "", row.ns_per_op);
        }
        let payload = Bytes::from(vec![b'a'; size]);
        for (role, name) in [(Role::Server, "server, unmasked"), (Role::Client, "client, masked")] {
            let mut proto = Protocol::new(role, &config);
            let mut out = Outbox::new(1024);
            let mut segs = Vec::with_capacity(64);
            bench.run(&format!("encode {label} frame ({name})"), "frame", 64, size, || {
                for _ in 0..64 {
                    let msg = eddy_ws::Message::Binary(payload.clone());
                    if proto.send(msg, &mut out).is_err() {
                        unreachable!("open connection");
                    }
                }
                while !out.is_empty() {
                    out.drain_into(&mut segs, 512);
                }
                black_box(&segs);
                segs.clear();
            });
        }
    }

    // permessage-deflate on JSON-like text: the sender's compress and the receiver's decode of
    // a compressed message (context takeover on, level 3, window 15).
    for (label, records) in [("1 KiB", 20), ("64 KiB", 1300)] {
        let json: String = (0..records)
            .map(|i| {
                format!("{{\"id\":{i},\"name\":\"eddy\",\"ok\":true,\"tags\":[\"a\",\"b\"]}},")
            })
            .collect();
        let payload = Bytes::from(json);
        let neg = eddy_ws::deflate::Negotiated {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        };
        let dc = eddy_ws::deflate::DeflateConfig { min_size: 0, ..Default::default() };
        let mut server = Protocol::new(Role::Server, &Config::default());
        server.enable_deflate(neg, &dc);
        let mut out = Outbox::new(1024);
        let mut segs = Vec::new();
        bench.run(&format!("deflate send {label} JSON (server)"), "msg", 1, payload.len(), || {
            if server.send(eddy_ws::Message::Binary(payload.clone()), &mut out).is_err() {
                unreachable!("open connection");
            }
            out.drain_into(&mut segs, 512);
            black_box(&segs);
            segs.clear();
        });
        // One client-side compressed stream of many messages, decoded by a fresh server each run.
        let mut client = Protocol::new(Role::Client, &Config::default());
        client.enable_deflate(neg, &dc);
        let mut cout = Outbox::new(1024);
        let count = 64;
        for _ in 0..count {
            if client.send(eddy_ws::Message::Binary(payload.clone()), &mut cout).is_err() {
                unreachable!("open connection");
            }
        }
        let mut wire = Vec::new();
        cout.drain_into(&mut wire, 1 << 20);
        let wire = BytesMut::from(&wire.concat()[..]);
        println!(
            "  {label} JSON compresses to {:.1}% on the wire",
            100.0 * wire.len() as f64 / (count * payload.len()) as f64
        );
        bench.run(
            &format!("inflate + decode {label} JSON (server)"),
            "msg",
            count,
            payload.len(),
            || {
                let mut buf = wire.clone();
                let mut proto = Protocol::new(Role::Server, &Config::default());
                proto.enable_deflate(neg, &dc);
                let mut out = Outbox::new(1024);
                while let Ok(Some(msg)) = proto.read_message(&mut buf, &mut out) {
                    black_box(msg);
                }
            },
        );
    }

    let text = "Eddy – WebSocket über io_uring ✓ ".repeat(2048);
    bench.run("utf8 validate 64 KiB (incremental)", "buf", 1, text.len(), || {
        let mut v = Utf8Validator::new();
        v.feed(black_box(text.as_bytes())).ok();
        black_box(v.finish().is_ok());
    });

    write_results(&out_dir, &bench.rows, quick);
}

fn write_results(dir: &str, rows: &[Row], quick: bool) {
    let mut json = String::from("{\n  \"benchmark\": \"eddy-ws codec\",\n");
    json.push_str(&format!("  \"quick\": {quick},\n"));
    json.push_str(&format!(
        "  \"machine\": {{\"cpus\": {}, \"os\": \"{}\"}},\n",
        num_cpus(),
        std::env::consts::OS
    ));
    json.push_str("  \"results\": [\n");
    let mut md = String::from("| benchmark | ns per op | GB/s |\n|---|---:|---:|\n");
    for (i, r) in rows.iter().enumerate() {
        let gbs = r.bytes_per_op as f64 / r.ns_per_op;
        json.push_str(&format!(
            "    {{\"name\": \"{}\", \"unit\": \"{}\", \"ns_per_op\": {:.2}, \"bytes_per_op\": {}, \"gb_per_s\": {:.3}}}{}\n",
            r.name,
            r.unit,
            r.ns_per_op,
            r.bytes_per_op,
            gbs,
            if i + 1 == rows.len() { "" } else { "," }
        ));
        md.push_str(&format!("| {} | {:.1} ns/{} | {:.2} |\n", r.name, r.ns_per_op, r.unit, gbs));
    }
    json.push_str("  ]\n}\n");
    if std::fs::create_dir_all(dir).is_err()
        || std::fs::write(format!("{dir}/codec.json"), json).is_err()
        || std::fs::write(format!("{dir}/codec.md"), md).is_err()
    {
        eprintln!("could not write results to {dir}");
        std::process::exit(1);
    }
    println!("results written to {dir}/codec.json and codec.md");
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
