//! Shards: one pinned thread with its own compio runtime per core, shared nothing. A shard owns
//! the partitions `route::owner` gives it (their tasks run only there), holds its own copy of the
//! catalog snapshot, and accepts TCP and WebSocket connections on SO_REUSEPORT listeners. Work for
//! another shard's partition goes there as a message (`message::PartitionOp`); catalog changes go
//! to the metadata owner on shard 0 (`meta`). No wire parsing, no file formats.

pub mod message;
pub mod meta;
pub mod partition;
pub mod route;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use message::{Install, MetaOp, MetaRequest, OpenPartition, Snapshot};
use meta::{MetaOwner, install_everywhere, new_partition};
use partition::PartitionActor;
use route::owner;

use crate::config::Config;
use crate::error::ServerError;
use crate::metadata::store;
use crate::transport;

/// Counters shared by all shards.
#[derive(Debug, Default)]
pub struct Shared {
    pub clients: AtomicU32,
    pub next_client_id: AtomicU32,
    pub started_at: u64,
}

/// What one shard's tasks share. Lives on the shard's thread only.
pub struct ShardCtx {
    pub id: usize,
    pub config: Arc<Config>,
    pub shared: Arc<Shared>,
    snapshot: RefCell<Arc<Snapshot>>,
    meta: flume::Sender<MetaRequest>,
    /// Round-robin position per (stream, topic) for balanced sends from this shard.
    balanced: RefCell<HashMap<(u32, u32), u32>>,
}

impl ShardCtx {
    /// The current catalog snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// The next partition for a balanced send to `(stream, topic)` with `partitions` partitions.
    pub fn next_balanced(&self, stream: u32, topic: u32, partitions: u32) -> u32 {
        let mut map = self.balanced.borrow_mut();
        let slot = map.entry((stream, topic)).or_insert(self.id as u32);
        let p = *slot % partitions.max(1);
        *slot = slot.wrapping_add(1);
        p
    }

    /// Runs a catalog change through the metadata owner; returns the created ids, if any.
    pub async fn change(&self, op: MetaOp) -> Result<Option<(u32, u32)>, ServerError> {
        let (reply, rx) = flume::bounded(1);
        self.meta
            .send_async(MetaRequest { op, reply })
            .await
            .map_err(|_| ServerError::Internal("metadata owner is gone"))?;
        let (snapshot, created) = rx
            .recv_async()
            .await
            .map_err(|_| ServerError::Internal("metadata owner is gone"))??;
        *self.snapshot.borrow_mut() = snapshot;
        Ok(created)
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{what} {addr}: {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("shard {0} failed to start: {1}")]
    Shard(usize, String),
}

/// A running server.
pub struct ServerHandle {
    pub tcp_addr: Option<SocketAddr>,
    pub ws_addr: Option<SocketAddr>,
    stop: Vec<flume::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    /// Stops every shard and waits for their threads.
    pub fn stop(mut self) {
        self.stop.clear();
        for t in self.threads.drain(..) {
            t.join().ok();
        }
    }

    /// Waits until the shards end (they end when stopped).
    pub fn wait(mut self) {
        for t in self.threads.drain(..) {
            t.join().ok();
        }
    }
}

/// Creates `count` SO_REUSEPORT listeners on `addr`: the first binds it (resolving port 0), the
/// rest bind the resolved address, so the kernel spreads connections over the shards.
fn listeners(
    addr: SocketAddr,
    count: usize,
    backlog: i32,
    what: &'static str,
) -> Result<(SocketAddr, Vec<std::net::TcpListener>), StartError> {
    let bind = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let domain = if addr.is_ipv4() { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
        let socket =
            socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_tcp_nodelay(true)?;
        socket.bind(&addr.into())?;
        socket.listen(backlog)?;
        Ok(socket.into())
    };
    let first = bind(addr).map_err(|source| StartError::Bind { what, addr, source })?;
    let bound = first.local_addr().map_err(|source| StartError::Bind { what, addr, source })?;
    let mut out = vec![first];
    for _ in 1..count {
        out.push(bind(bound).map_err(|source| StartError::Bind { what, addr: bound, source })?);
    }
    Ok((bound, out))
}

/// Starts the server: recovers the catalog, binds the listeners, starts one thread per shard
/// (each opening and recovering the partitions it owns) and returns once every shard serves.
pub fn start(config: Config) -> Result<ServerHandle, StartError> {
    let config = Arc::new(config);
    let data_dir = config.system.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .map_err(|source| StartError::DataDir { path: data_dir.clone(), source })?;
    let catalog = store::load(&data_dir)?;
    let n = config.shard_count();
    let mut handles = HashMap::new();
    let mut opens: Vec<Vec<OpenPartition>> = (0..n).map(|_| Vec::new()).collect();
    for key in catalog.partitions() {
        let (handle, open) = new_partition(key);
        handles.insert(key, handle);
        opens[owner(key, n)].push(open);
    }
    let snapshot = Arc::new(Snapshot { catalog: catalog.clone(), partitions: handles.clone() });
    let mut tcp = match config.tcp.enabled {
        true => Some(listeners(config.tcp.address, n, config.limits.listen_backlog, "tcp")?),
        false => None,
    };
    let mut ws = match config.websocket.enabled {
        true => {
            Some(listeners(config.websocket.address, n, config.limits.listen_backlog, "websocket")?)
        }
        false => None,
    };
    let tcp_addr = tcp.as_ref().map(|(a, _)| *a);
    let ws_addr = ws.as_ref().map(|(a, _)| *a);
    let (meta_tx, meta_rx) = flume::unbounded();
    let installs: Vec<(flume::Sender<Install>, flume::Receiver<Install>)> =
        (0..n).map(|_| flume::unbounded()).collect();
    let install_txs: Vec<flume::Sender<Install>> =
        installs.iter().map(|(tx, _)| tx.clone()).collect();
    let shared = Arc::new(Shared { started_at: partition::now_micros(), ..Shared::default() });
    let mut owner_state =
        Some(MetaOwner { data_dir, catalog, partitions: handles, shards: install_txs });
    let mut meta_rx = Some(meta_rx);
    let (ready_tx, ready_rx) = flume::unbounded();
    let mut threads = Vec::new();
    let mut stop = Vec::new();
    for (id, ((_, install_rx), open)) in installs.into_iter().zip(opens).enumerate() {
        let (stop_tx, stop_rx) = flume::bounded::<()>(1);
        stop.push(stop_tx);
        let boot = Boot {
            id,
            config: config.clone(),
            shared: shared.clone(),
            snapshot: snapshot.clone(),
            open,
            install_rx,
            meta_tx: meta_tx.clone(),
            meta: if id == 0 { owner_state.take().zip(meta_rx.take()) } else { None },
            tcp: tcp.as_mut().and_then(|(_, l)| l.pop()),
            ws: ws.as_mut().and_then(|(_, l)| l.pop()),
            ready: ready_tx.clone(),
            stop: stop_rx,
        };
        let thread = std::thread::Builder::new()
            .name(format!("eddy-shard-{id}"))
            .spawn(move || run_shard(boot))
            .map_err(|e| StartError::Shard(id, e.to_string()))?;
        threads.push(thread);
    }
    drop(ready_tx);
    for _ in 0..n {
        match ready_rx.recv() {
            Ok((_, Ok(()))) => {}
            Ok((id, Err(e))) => return Err(StartError::Shard(id, e)),
            Err(_) => return Err(StartError::Shard(usize::MAX, "a shard thread exited".into())),
        }
    }
    if let Some(addr) = tcp_addr {
        tracing::info!(%addr, shards = n, "TCP listening");
    }
    if let Some(addr) = ws_addr {
        tracing::info!(%addr, shards = n, "WebSocket listening");
    }
    Ok(ServerHandle { tcp_addr, ws_addr, stop, threads })
}

/// Everything a shard thread starts with.
struct Boot {
    id: usize,
    config: Arc<Config>,
    shared: Arc<Shared>,
    snapshot: Arc<Snapshot>,
    open: Vec<OpenPartition>,
    install_rx: flume::Receiver<Install>,
    meta_tx: flume::Sender<MetaRequest>,
    meta: Option<(MetaOwner, flume::Receiver<MetaRequest>)>,
    tcp: Option<std::net::TcpListener>,
    ws: Option<std::net::TcpListener>,
    ready: flume::Sender<(usize, Result<(), String>)>,
    stop: flume::Receiver<()>,
}

fn run_shard(boot: Boot) {
    let id = boot.id;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let runtime = match shard_runtime(id % cores) {
        Ok(rt) => rt,
        Err(e) => {
            boot.ready.send((id, Err(format!("cannot create the io_uring runtime: {e}")))).ok();
            return;
        }
    };
    runtime.block_on(shard_main(boot));
}

/// The shard's runtime, pinned to `core`, with cooperative task running: the kernel queues
/// completions for the next time the thread enters it instead of interrupting a busy shard for
/// each one (measured ~1.5× on many-connection echo). Built without the flag on kernels that
/// refuse it (before 5.19).
fn shard_runtime(core: usize) -> std::io::Result<compio::runtime::Runtime> {
    let mut proactor = compio::driver::ProactorBuilder::new();
    proactor.coop_taskrun(true).taskrun_flag(true);
    compio::runtime::RuntimeBuilder::new()
        .with_proactor(proactor)
        .thread_affinity(HashSet::from([core]))
        .build()
        .or_else(|_| {
            compio::runtime::RuntimeBuilder::new().thread_affinity(HashSet::from([core])).build()
        })
}

async fn open_partitions(ctx: &ShardCtx, open: Vec<OpenPartition>) -> Result<(), String> {
    let mut failures = Vec::new();
    for p in open {
        let opened = PartitionActor::open(
            &ctx.config.system.data_dir,
            p.key,
            ctx.config.storage.segment_size,
            ctx.config.fsync_policy(),
            p.stats,
        )
        .await;
        match opened {
            Ok(actor) => compio::runtime::spawn(actor.run(p.rx)).detach(),
            Err(e) => {
                // The partition is not served (its queue is dropped, so requests get an error);
                // the rest of the server goes on.
                tracing::error!(shard = ctx.id, key = ?p.key, error = %e, "partition not served");
                failures.push(e.to_string());
            }
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

async fn shard_main(boot: Boot) {
    let ctx = std::rc::Rc::new(ShardCtx {
        id: boot.id,
        config: boot.config,
        shared: boot.shared,
        snapshot: RefCell::new(boot.snapshot),
        meta: boot.meta_tx,
        balanced: RefCell::new(HashMap::new()),
    });
    // Recovery failures of single partitions are logged and leave those partitions unserved;
    // they do not stop the server.
    open_partitions(&ctx, boot.open).await.ok();
    let install_ctx = ctx.clone();
    let install_rx = boot.install_rx;
    compio::runtime::spawn(async move {
        while let Ok(install) = install_rx.recv_async().await {
            *install_ctx.snapshot.borrow_mut() = install.snapshot;
            let result = open_partitions(&install_ctx, install.open).await;
            install.done.send(result).ok();
        }
    })
    .detach();
    if let Some((owner, rx)) = boot.meta {
        // Publish the startup snapshot once so that shard-local copies agree.
        let snapshot = Arc::new(Snapshot {
            catalog: owner.catalog.clone(),
            partitions: owner.partitions.clone(),
        });
        let empty = owner.shards.iter().map(|_| Vec::new()).collect();
        let shards = owner.shards.clone();
        compio::runtime::spawn(async move {
            install_everywhere(&shards, &snapshot, empty).await.ok();
        })
        .detach();
        compio::runtime::spawn(owner.run(rx)).detach();
    }
    let mut started = Ok(());
    if let Some(l) = boot.tcp {
        match compio::net::TcpListener::from_std(l) {
            Ok(l) => compio::runtime::spawn(transport::tcp::serve(ctx.clone(), l)).detach(),
            Err(e) => started = Err(format!("tcp listener: {e}")),
        }
    }
    if let Some(l) = boot.ws {
        match compio::net::TcpListener::from_std(l) {
            Ok(l) => compio::runtime::spawn(transport::ws::serve(ctx.clone(), l)).detach(),
            Err(e) => started = Err(format!("websocket listener: {e}")),
        }
    }
    boot.ready.send((boot.id, started)).ok();
    // Run until stopped (the stop sender is dropped).
    boot.stop.recv_async().await.ok();
}
