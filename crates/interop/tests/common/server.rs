//! Starts `eddy-server` as a child process on free ports with a temporary data directory. No SDK
//! in here: the test crates of each Iggy SDK version include this file.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace's target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The server binary, built on first use.
pub fn server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("EDDY_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let bin = target_dir().join("debug/eddy-server");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "eddy-server", "--bin", "eddy-server"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building eddy-server failed");
    });
    bin
}

/// A running server process. Killed (SIGKILL) on drop.
pub struct Server {
    pub child: Option<Child>,
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
    pub data_dir: PathBuf,
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn temp_data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-interop-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

impl Server {
    /// Starts a server on `data_dir` with `shards` shards and the given fsync switch, with Iggy's
    /// quickstart credentials (`iggy`/`iggy`) set explicitly as a user of the SDK would.
    pub fn start(data_dir: &Path, shards: usize, fsync: bool) -> Self {
        let mut command = Self::command(data_dir, shards, fsync);
        command.args(["--root-password", "iggy"]);
        Self::spawn(command, data_dir)
    }

    /// The server's command line on free ports, before any credential or limit is chosen.
    pub fn command(data_dir: &Path, shards: usize, fsync: bool) -> Command {
        let mut command = Command::new(server_binary());
        command
            .args(["--data-dir"])
            .arg(data_dir)
            .args(["--tcp-address", "127.0.0.1:0", "--ws-address", "127.0.0.1:0"])
            .args(["--shards", &shards.to_string(), "--fsync", &fsync.to_string()])
            .env("RUST_LOG", "info");
        command
    }

    /// Spawns `command` and waits until it reports both addresses; every line it prints is
    /// kept in [`Server::output`].
    pub fn spawn(mut command: Command, data_dir: &Path) -> Self {
        let mut child =
            command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = output.clone();
        std::thread::spawn(move || {
            // INTEROP_SERVER_LOG=1 echoes the server's log to stderr (for a failing run; not EDDY_*:
            // those are the server's configuration).
            let echo = std::env::var_os("INTEROP_SERVER_LOG").is_some();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("server: {line}");
                }
                kept.lock().unwrap().push(line.clone());
                // Keep draining after the receiver is gone so the server never blocks on a pipe.
                tx.send(line).ok();
            }
        });
        let (mut tcp, mut ws) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tcp.is_none() || ws.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("server reports its addresses in time");
            let addr = || {
                line.split("addr=")
                    .nth(1)
                    .and_then(|s| s.split_whitespace().next())
                    .and_then(|a| a.parse().ok())
            };
            if line.contains("TCP listening") {
                tcp = addr();
            } else if line.contains("WebSocket listening") {
                ws = addr();
            }
        }
        Self {
            child: Some(child),
            tcp: tcp.unwrap(),
            ws: ws.unwrap(),
            data_dir: data_dir.to_path_buf(),
            output,
        }
    }

    /// Everything the server printed so far, one entry per line.
    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The addresses of a server owned elsewhere (for clients in other tasks).
    pub fn addresses_only(tcp: SocketAddr, ws: SocketAddr) -> Self {
        Self { child: None, tcp, ws, data_dir: PathBuf::new(), output: Default::default() }
    }

    /// SIGKILL, as a crash.
    pub fn kill(mut self) {
        self.stop();
    }

    /// SIGTERM, a clean stop; waits for the exit (SIGKILL after 30 s). Whether it exited with
    /// success.
    pub fn terminate(mut self) -> bool {
        let Some(mut child) = self.child.take() else { return false };
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while sent.as_ref().is_ok_and(|s| s.success()) && Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().ok();
        child.wait().ok();
        false
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Which transport a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    WebSocket,
}
