//! The echo servers `ws-echo` compares, each single-threaded and pinned, in a child process of
//! this binary (`echo-server --impl NAME`), each echo loop written the way its crate's own
//! examples write it. How each one flushes is part of the result, so [`IMPLS`] says it.
//! This module only starts servers; it never measures (that is `loadgen` and `ws_echo`).

mod compio_peers;
mod tokio_peers;

use std::net::SocketAddr;

use anyhow::Context;

/// One echo server in the comparison.
#[derive(Debug, Clone, Copy)]
pub struct Impl {
    pub name: &'static str,
    /// Speaks WebSocket (raw TCP echo servers return the load generator's frames unchanged).
    pub websocket: bool,
    /// How its echo loop writes, for the report.
    pub how: &'static str,
}

/// Peers, in table order: eddy first, then the other WebSocket crates, then raw TCP.
pub const IMPLS: [Impl; 8] = [
    Impl {
        name: "eddy",
        websocket: true,
        how: "eddy-ws native (compio): `read` → `feed`; `flush` once nothing more is buffered (one write per burst)",
    },
    Impl {
        name: "eddy-plain",
        websocket: true,
        how: "eddy-ws native, the README's plain loop: `read` → `send` (send defers while more messages are buffered)",
    },
    Impl {
        name: "eddy-compat",
        websocket: true,
        how: "eddy-ws compat: tungstenite over GrowableSyncStream (exponential, pooled): `read` → `send` (one write per message)",
    },
    Impl {
        name: "tokio-tungstenite",
        websocket: true,
        how: "tokio-tungstenite 0.29: `split()` + `forward()` as its echo example (the sink batches flushes)",
    },
    Impl {
        name: "fastwebsockets",
        websocket: true,
        how: "fastwebsockets 0.10 (tokio, hyper upgrade, `FragmentCollector`): `read_frame` → `write_frame` as its echo example (one write per message)",
    },
    Impl {
        name: "compio-ws",
        websocket: true,
        how: "compio-ws 0.4 (async-tungstenite on compio): `read` → `send` as its echo example (one write per message)",
    },
    Impl {
        name: "raw-compio",
        websocket: false,
        how: "TCP echo on compio: read up to 64 KiB, write it back",
    },
    Impl { name: "raw-tokio", websocket: false, how: "TCP echo on tokio: `tokio::io::copy`" },
];

/// The extra server used by the compression table: eddy with permessage-deflate accepted.
pub const EDDY_DEFLATE: &str = "eddy-deflate";

/// Runs the echo server `name` on `addr` (printing `addr=…` once bound) until killed.
pub fn run(name: &str, addr: SocketAddr, core: usize) -> anyhow::Result<()> {
    match name {
        "eddy" | "eddy-plain" | "eddy-deflate" | "eddy-compat" | "compio-ws" | "raw-compio" => {
            crate::rt::pinned(core)?.block_on(compio_peers::serve(name, addr))
        }
        "tokio-tungstenite" | "fastwebsockets" | "raw-tokio" => {
            pin(core);
            let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
            rt.block_on(tokio_peers::serve(name, addr))
        }
        other => anyhow::bail!("unknown echo server {other}"),
    }
}

fn pin(core: usize) {
    // tokio has no affinity knob: build a throwaway compio runtime pinned to `core`, which pins
    // the calling thread.
    crate::rt::pinned(core).ok();
}

/// Starts `name` in a child process pinned to `core`; returns it and its address.
fn spawn(name: &str, core: usize) -> anyhow::Result<(std::process::Child, SocketAddr)> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["echo-server", "--impl", name, "--core", &core.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let reported = (|| -> anyhow::Result<SocketAddr> {
        let stdout = child.stdout.take().context("stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line.trim().strip_prefix("addr=");
        Ok(addr
            .with_context(|| format!("echo server {name} did not report its address"))?
            .parse()?)
    })();
    match reported {
        Ok(addr) => Ok((child, addr)),
        Err(e) => {
            child.kill().ok();
            child.wait().ok();
            Err(e)
        }
    }
}

/// Runs `f` (given the server's pid and address) against a fresh `name` server pinned to `core`,
/// and stops the server afterwards whatever `f` returned.
pub fn with_server<T>(
    name: &str,
    core: usize,
    f: impl FnOnce(u32, SocketAddr) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let (mut child, addr) = spawn(name, core)?;
    let result = f(child.id(), addr);
    child.kill().ok();
    child.wait().ok();
    result
}
