//! The server under test: eddy-server started in a child process of this binary (so its memory
//! is measured alone), on free ports with a temporary data directory, or an external server
//! given by address.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// A server to benchmark.
pub struct Target {
    pub tcp: SocketAddr,
    pub ws: Option<SocketAddr>,
    child: Option<Child>,
    data_dir: Option<PathBuf>,
    /// An external server's process, if given.
    pid: Option<u32>,
}

impl Target {
    /// An external server.
    pub fn external(tcp: SocketAddr, ws: Option<SocketAddr>) -> Self {
        Self { tcp, ws, child: None, data_dir: None, pid: None }
    }

    /// Names an external server's process, so that its CPU and memory are measured too.
    pub fn with_pid(mut self, pid: Option<u32>) -> Self {
        self.pid = pid;
        self
    }

    /// Starts `eddy-server` in a child process (`<this binary> serve …`) on a fresh temporary
    /// data directory, removed when dropped.
    pub fn spawn(fsync: bool, shards: usize) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("eddy-bench-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let mut target = Self::spawn_on(&dir, fsync, shards)?;
        target.data_dir = Some(dir);
        Ok(target)
    }

    /// Starts `eddy-server` in a child process on `dir` (kept when dropped). Returns once it
    /// serves: every partition recovered, the listeners bound.
    pub fn spawn_on(dir: &std::path::Path, fsync: bool, shards: usize) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .args(["--fsync", &fsync.to_string(), "--shards", &shards.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let tcp = parts
            .next()
            .and_then(|a| a.strip_prefix("tcp="))
            .context("server did not report its address")?
            .parse()?;
        let ws = parts.next().and_then(|a| a.strip_prefix("ws=")).map(str::parse).transpose()?;
        Ok(Self { tcp, ws, child: Some(child), data_dir: None, pid: None })
    }

    /// Stops our server with SIGTERM (a clean stop: partitions sync and checkpoint) and waits.
    pub fn stop_clean(mut self) -> anyhow::Result<()> {
        let mut child = self.child.take().context("not our server")?;
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let exit = child.wait()?;
        anyhow::ensure!(exit.success(), "the server exited with {exit}");
        Ok(())
    }

    /// Kills our server with SIGKILL (an unclean stop) and waits.
    pub fn kill(mut self) -> anyhow::Result<()> {
        let mut child = self.child.take().context("not our server")?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// The server process's pid, if it is ours or was given.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id).or(self.pid)
    }

    /// Peak resident memory of the server process, if its pid is known.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        Some(crate::procfs::peak_rss_kib(self.pid()?)? / 1024.0)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
        if let Some(dir) = self.data_dir.take() {
            std::fs::remove_dir_all(dir).ok();
        }
    }
}

/// The `serve` subcommand: runs eddy-server and reports the bound addresses on stdout.
pub fn serve(data_dir: PathBuf, fsync: bool, shards: usize) -> anyhow::Result<()> {
    let mut config = eddy_server::Config::default();
    config.system.data_dir = data_dir;
    config.system.shards = shards;
    config.storage.fsync = fsync;
    // The benchmark logs in as Iggy's quickstarts do; this server is its own child on loopback.
    config.auth.root_password = eddy_server::config::IGGY_DEFAULT_ROOT_PASSWORD.into();
    // Every benchmark client comes from 127.0.0.1, and the idle-cost runs open 10,000 of them:
    // the caps are raised (the server still clamps them to its open-files limit).
    config.limits.max_connections = 20_000;
    config.limits.max_connections_per_ip = 20_000;
    config.tcp.address = "127.0.0.1:0".parse()?;
    config.websocket.address = "127.0.0.1:0".parse()?;
    let signals = eddy_server::StopSignals::install()?;
    let server = eddy_server::start(config)?;
    println!(
        "tcp={} ws={}",
        server.tcp_addr.context("tcp listener")?,
        server.ws_addr.context("websocket listener")?
    );
    server.run_until_signal(signals);
    Ok(())
}
