//! The echo servers `ws-echo` compares, each written the way its crate's own examples do it,
//! single-threaded and pinned, run in a child process (`echo-server --impl NAME`):
//! - `eddy`: eddy-ws native driver; reads a message, queues the echo with `feed`, and flushes
//!   once nothing more is buffered (`has_buffered_message`), so pipelined messages share writes.
//! - `tokio-tungstenite`: `split()` + `forward()`, as its echo-server example (flushes batched by
//!   the sink).
//! - `eddy-deflate`: the same with permessage-deflate accepted (default `DeflateConfig`).
//! - `raw-compio` / `raw-tokio`: plain TCP echo, the reference for what the wire allows.

use std::collections::HashSet;
use std::net::SocketAddr;

use anyhow::Context;

/// Peers, in table order.
pub const IMPLS: [&str; 4] = ["eddy", "tokio-tungstenite", "raw-compio", "raw-tokio"];

/// Runs the echo server `name` on `addr` (printing `addr=…` once bound) until killed.
pub fn run(name: &str, addr: SocketAddr, core: usize) -> anyhow::Result<()> {
    match name {
        "eddy" | "eddy-deflate" | "raw-compio" => {
            let rt = compio::runtime::RuntimeBuilder::new()
                .thread_affinity(HashSet::from([core]))
                .build()?;
            rt.block_on(compio_server(name != "raw-compio", name == "eddy-deflate", addr))
        }
        "tokio-tungstenite" | "raw-tokio" => {
            pin(core);
            let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
            rt.block_on(tokio_server(name == "tokio-tungstenite", addr))
        }
        other => anyhow::bail!("unknown echo server {other}"),
    }
}

fn pin(core: usize) {
    // tokio has no affinity knob: build a throwaway compio runtime pinned to `core`, which pins
    // the calling thread.
    compio::runtime::RuntimeBuilder::new().thread_affinity(HashSet::from([core])).build().ok();
}

async fn compio_server(ws: bool, deflate: bool, addr: SocketAddr) -> anyhow::Result<()> {
    use compio::buf::BufResult;
    use compio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = compio::net::TcpSocket::new_v4().await?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr).await?;
    let listener = socket.listen(4096).await?;
    println!("addr={}", listener.local_addr()?);
    loop {
        let (mut tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        compio::runtime::spawn(async move {
            if ws {
                let config = match deflate {
                    true => eddy_ws::Config::default()
                        .with_deflate(eddy_ws::deflate::DeflateConfig::default()),
                    false => eddy_ws::Config::default(),
                };
                let Ok(mut ws) = eddy_ws::accept_with(tcp, &config, |_, _| Ok(())).await else {
                    return;
                };
                loop {
                    match ws.read().await {
                        Ok(msg) if msg.is_data() => {
                            if ws.feed(msg).is_err() {
                                return;
                            }
                            if !ws.has_buffered_message() && ws.flush().await.is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            } else {
                let mut buf = Vec::with_capacity(64 << 10);
                loop {
                    buf.clear();
                    let BufResult(res, b) = tcp.append(buf).await;
                    buf = b;
                    match res {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let BufResult(res, b) = tcp.write_all(buf).await;
                    buf = b;
                    if res.is_err() {
                        return;
                    }
                }
            }
        })
        .detach();
    }
}

async fn tokio_server(ws: bool, addr: SocketAddr) -> anyhow::Result<()> {
    use futures_util::{StreamExt, TryStreamExt};
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("addr={}", listener.local_addr()?);
    loop {
        let (mut tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            if ws {
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
                let (write, read) = ws.split();
                read.try_filter(|m| std::future::ready(m.is_text() || m.is_binary()))
                    .forward(write)
                    .await
                    .ok();
            } else {
                let (mut r, mut w) = tcp.split();
                tokio::io::copy(&mut r, &mut w).await.ok();
            }
        });
    }
}

/// Starts `name` in a child process pinned to `core`; returns it and its address.
pub fn spawn(name: &str, core: usize) -> anyhow::Result<(std::process::Child, SocketAddr)> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["echo-server", "--impl", name, "--core", &core.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("addr=")
        .context("echo server did not report its address")?
        .parse()?;
    Ok((child, addr))
}
