//! Shards: one pinned thread with its own compio runtime per core, shared nothing. A shard owns
//! the partitions `route::owner` gives it (their tasks run only there), holds its own copy of the
//! catalog snapshot, and accepts TCP and WebSocket connections on SO_REUSEPORT listeners. Work for
//! another shard's partition goes there as a message (`message::PartitionOp`); catalog changes go
//! to the metadata owner on shard 0 (`meta`). No wire parsing, no file formats.

pub mod clients;
pub mod load;
pub mod message;
pub mod meta;
pub mod partition;
pub mod retention;
pub mod route;
pub mod waiting;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use message::{Install, MetaOp, MetaRequest, OpenPartition, Snapshot};
use meta::{MetaOwner, install_everywhere, new_partition};
use partition::PartitionActor;
use route::owner;

use crate::auth::{LoginThrottle, RootCredentials, RootPasswordError};
use crate::config::Config;
use crate::error::ServerError;
use crate::metadata::store;
use crate::storage::StorageError;
use crate::storage::dir_lock::{DataDirLock, LockError};
use crate::transport;
use crate::transport::admission::Admission;
use crate::transport::origin::OriginPolicy;
use crate::transport::tls::Acceptors;

/// What all shards share: counters, the connection caps, the login back-off, the root
/// credentials, the WebSocket origin policy and each shard's load counters. Nothing here is on the message path.
#[derive(Debug)]
pub struct Shared {
    pub next_client_id: AtomicU32,
    pub started_at: u64,
    pub admission: Arc<Admission>,
    pub throttle: LoginThrottle,
    pub root: RootCredentials,
    /// Personal access tokens (touched only by the token commands and token logins).
    pub tokens: std::sync::Mutex<crate::auth::Tokens>,
    pub origins: OriginPolicy,
    pub tls: Acceptors,
    /// One slot per shard, indexed by shard id.
    pub load: Box<[load::ShardLoad]>,
    /// The bound TCP and WebSocket addresses (GET_CLUSTER_METADATA names them).
    pub tcp_address: Option<SocketAddr>,
    pub ws_address: Option<SocketAddr>,
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
    /// The clients connected to this shard.
    pub clients: Rc<clients::Clients>,
    /// Every shard's client queries, indexed by shard id (this one's included).
    pub client_queries: Arc<[flume::Sender<clients::ClientsQuery>]>,
}

impl ShardCtx {
    /// The current catalog snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// This shard's load counters.
    pub fn load(&self) -> &load::ShardLoad {
        &self.shared.load[self.id]
    }

    /// The next partition for a balanced send to `(stream, topic)` with `partitions` partitions.
    pub fn next_balanced(&self, stream: u32, topic: u32, partitions: u32) -> u32 {
        let mut map = self.balanced.borrow_mut();
        let slot = map.entry((stream, topic)).or_insert(self.id as u32);
        let p = *slot % partitions.max(1);
        *slot = slot.wrapping_add(1);
        p
    }

    /// Where catalog changes go (for a change sent without waiting, as a closing connection's).
    pub fn meta_sender(&self) -> flume::Sender<MetaRequest> {
        self.meta.clone()
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
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("root password: {0}")]
    RootPassword(#[from] RootPasswordError),
    #[error("users: {0}")]
    Users(#[from] crate::auth::UserError),
    #[error("personal access tokens: {0}")]
    Tokens(#[from] crate::auth::TokenError),
    #[error("TLS: {0}")]
    Tls(#[from] eddy_ws::tls::TlsError),
}

/// A running server.
pub struct ServerHandle {
    pub tcp_addr: Option<SocketAddr>,
    pub ws_addr: Option<SocketAddr>,
    /// The root password generated at this first start, to be shown once; `None` when it was
    /// configured or generated by an earlier start.
    pub generated_root_password: Option<String>,
    stop: Vec<flume::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    waiting: Arc<std::sync::atomic::AtomicU64>,
    /// Held until the shards are gone: one process per data directory.
    _lock: DataDirLock,
}

impl ServerHandle {
    /// How many polls and subscription waits wait in partition owners now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops every shard cleanly (each partition syncs and writes its checkpoint) and waits
    /// for their threads.
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

    /// Serves until `signals` catches SIGTERM or SIGINT, then stops cleanly (see
    /// [`Self::stop`]); a second signal exits at once. Returns the signal.
    pub fn run_until_signal(self, mut signals: StopSignals) -> i32 {
        let signal = signals.0.forever().next().unwrap_or(signal_hook::consts::SIGTERM);
        tracing::info!(signal, "stopping: every partition syncs and writes its checkpoint");
        std::thread::spawn(move || {
            if signals.0.forever().next().is_some() {
                std::process::exit(130);
            }
        });
        self.stop();
        tracing::info!("stopped cleanly");
        signal
    }
}

/// SIGTERM and SIGINT, caught from the moment this is made: made before [`start`], a stop sent
/// as soon as the server reports its addresses is never lost to the default action.
pub struct StopSignals(signal_hook::iterator::Signals);

impl StopSignals {
    pub fn install() -> std::io::Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        Ok(Self(signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?))
    }
}

/// `max_connections`, lowered when the open-files limit cannot hold that many connections and
/// still leave room for segment files, the metadata and accepting (an eighth of the limit, at
/// least 64): idle connections must never starve a segment roll of file descriptors.
fn connection_cap(max_connections: u32) -> u32 {
    let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return max_connections;
    };
    let reserve = (soft / 8).max(64);
    let cap = u32::try_from(soft.saturating_sub(reserve)).unwrap_or(u32::MAX).max(1);
    if cap < max_connections {
        tracing::warn!(
            max_connections,
            cap,
            open_files_limit = soft,
            "connections capped below limits.max_connections by the open-files limit"
        );
    }
    cap.min(max_connections)
}

/// Creates `count` SO_REUSEPORT listeners on `addr` (eddy-ws's serve code: the first binds it,
/// resolving port 0, the rest bind the resolved address), so the kernel spreads connections
/// over the shards.
fn listeners(
    addr: SocketAddr,
    count: usize,
    backlog: i32,
    what: &'static str,
) -> Result<(SocketAddr, Vec<std::net::TcpListener>), StartError> {
    eddy_ws::serve::reuseport_listeners(addr, count, backlog).map_err(|source| StartError::Bind {
        what,
        addr,
        source,
    })
}

/// Removes stream, topic and partition directories the catalog does not list: what a crash left
/// between a catalog change and the removal of the files it dropped. Failures are logged (the
/// next start retries; a reused partition id removes its leftover before it opens).
fn remove_unlisted(data_dir: &std::path::Path, catalog: &crate::metadata::Catalog) {
    let mut listed = HashSet::new();
    for (sid, stream) in &catalog.streams {
        let stream_dir = data_dir.join("streams").join(sid.to_string());
        for (tid, topic) in &stream.topics {
            let topic_dir = stream_dir.join("topics").join(tid.to_string());
            for p in &topic.partitions {
                listed.insert(topic_dir.join("partitions").join(p.id.to_string()));
            }
            listed.insert(topic_dir);
        }
        listed.insert(stream_dir);
    }
    let children = |dir: std::path::PathBuf| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.is_dir()).collect()
            })
            .unwrap_or_default()
    };
    for stream in children(data_dir.join("streams")) {
        if !listed.contains(&stream) {
            remove_leftover(&stream);
            continue;
        }
        for topic in children(stream.join("topics")) {
            if !listed.contains(&topic) {
                remove_leftover(&topic);
                continue;
            }
            for partition in children(topic.join("partitions")) {
                if !listed.contains(&partition) {
                    remove_leftover(&partition);
                }
            }
        }
    }
}

fn remove_leftover(dir: &std::path::Path) {
    tracing::warn!(dir = %dir.display(), "removing a directory the catalog no longer lists");
    if let Err(e) = crate::storage::dirs::remove_dir_all_durable(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove it; the next start retries");
    }
}

/// Starts the server: recovers the catalog, binds the listeners, starts one thread per shard
/// (each opening and recovering the partitions it owns) and returns once every shard serves.
pub fn start(config: Config) -> Result<ServerHandle, StartError> {
    let config = Arc::new(config);
    let data_dir = config.system.data_dir.clone();
    crate::storage::dirs::create_dir_all_durable(&data_dir)
        .map_err(|source| StartError::DataDir { path: data_dir.clone(), source })?;
    // Before any other file is opened: a second process on this directory stops here.
    let lock = DataDirLock::acquire(&data_dir)?;
    let tls = Acceptors::from_config(&config)?;
    let (root, generated_root_password) =
        RootCredentials::load_or_generate(&config.auth.root_password, &data_dir)?;
    let tokens = crate::auth::Tokens::load(&data_dir, config.auth.max_tokens_per_user)?;
    let users = crate::auth::Users::load(&data_dir)?;
    let catalog = store::load(&data_dir)?;
    remove_unlisted(&data_dir, &catalog);
    let n = config.shard_count();
    let mut handles = HashMap::new();
    let mut opens: Vec<Vec<OpenPartition>> = (0..n).map(|_| Vec::new()).collect();
    let waiting = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for key in catalog.partitions() {
        let (handle, open) = new_partition(key, &waiting);
        handles.insert(key, handle);
        opens[owner(key, n)].push(open);
    }
    let snapshot = Arc::new(Snapshot {
        catalog: catalog.clone(),
        partitions: handles.clone(),
        members: Default::default(),
        users: users.clone(),
    });
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
    let limits = &config.limits;
    let shared = Arc::new(Shared {
        next_client_id: AtomicU32::new(0),
        started_at: partition::now_micros(),
        admission: Arc::new(Admission::new(
            connection_cap(limits.max_connections),
            limits.max_connections_per_ip,
        )),
        throttle: LoginThrottle::new(std::time::Duration::from_millis(
            config.auth.login_backoff_max_ms,
        )),
        root,
        tokens: std::sync::Mutex::new(tokens),
        origins: OriginPolicy::new(
            ws_addr.unwrap_or(config.websocket.address),
            &config.websocket.allowed_origins,
        ),
        tls,
        load: (0..n).map(|_| load::ShardLoad::default()).collect(),
        tcp_address: tcp_addr,
        ws_address: ws_addr,
    });
    let mut owner_state = Some(MetaOwner {
        data_dir,
        catalog,
        partitions: handles,
        shards: install_txs,
        waiting: waiting.clone(),
        members: Default::default(),
        users,
        root_name: config.auth.root_username.clone(),
        max_users: config.auth.max_users,
    });
    let mut meta_rx = Some(meta_rx);
    let (ready_tx, ready_rx) = flume::unbounded();
    let (query_txs, mut query_rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| flume::unbounded()).unzip();
    let client_queries: Arc<[flume::Sender<clients::ClientsQuery>]> = query_txs.into();
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
            client_queries: client_queries.clone(),
            client_query_rx: query_rxs.remove(0),
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
    Ok(ServerHandle {
        tcp_addr,
        ws_addr,
        generated_root_password,
        stop,
        threads,
        waiting,
        _lock: lock,
    })
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
    client_queries: Arc<[flume::Sender<clients::ClientsQuery>]>,
    client_query_rx: flume::Receiver<clients::ClientsQuery>,
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

/// The shard's runtime, pinned to `core`, with cooperative task running where the kernel has
/// it (eddy-ws's serve code, shared with its `Server`).
fn shard_runtime(core: usize) -> std::io::Result<compio::runtime::Runtime> {
    eddy_ws::serve::runtime(Some(core))
}

async fn open_partitions(ctx: &ShardCtx, open: Vec<OpenPartition>) -> Result<(), String> {
    let mut failures = Vec::new();
    for p in open {
        let opened = PartitionActor::open(
            &ctx.config.system.data_dir,
            p.key,
            ctx.config.storage.segment_size,
            ctx.config.fsync_policy(),
            p.stats.clone(),
        )
        .await;
        match opened {
            Ok(actor) => compio::runtime::spawn(actor.run(p.rx)).detach(),
            Err(e @ StorageError::Io { .. }) => {
                // The file system refused (no descriptors, no space, permissions): nothing was
                // written, so each later operation retries the open and is answered with the
                // error until one succeeds. Never a partition lost until restart.
                tracing::warn!(shard = ctx.id, key = ?p.key, error = %e, "partition open failed; retrying on its next operation");
                failures.push(e.to_string());
                compio::runtime::spawn(retry_open(ctx.config.clone(), p)).detach();
            }
            Err(e) => {
                // Damage: the partition is not served (its queue is dropped, so requests get an
                // error); the rest of the server goes on.
                tracing::error!(shard = ctx.id, key = ?p.key, error = %e, "partition not served");
                failures.push(e.to_string());
            }
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

/// Holds an unopened partition's queue: every operation first retries the open; the first
/// success serves that operation and everything after it, a failure answers it with the error.
async fn retry_open(config: Arc<Config>, p: OpenPartition) {
    while let Ok(op) = p.rx.recv_async().await {
        let opened = PartitionActor::open(
            &config.system.data_dir,
            p.key,
            config.storage.segment_size,
            config.fsync_policy(),
            p.stats.clone(),
        )
        .await;
        match opened {
            Ok(actor) => {
                tracing::info!(key = ?p.key, "partition opened on retry");
                actor.run_from(Some(op), p.rx).await;
                return;
            }
            Err(e) => {
                let reason = e.to_string();
                op.fail(|| ServerError::Storage(StorageError::Poisoned(reason.clone())));
            }
        }
    }
}

async fn shard_main(boot: Boot) {
    let ctx = std::rc::Rc::new(ShardCtx {
        id: boot.id,
        config: boot.config,
        shared: boot.shared,
        snapshot: RefCell::new(boot.snapshot),
        meta: boot.meta_tx,
        balanced: RefCell::new(HashMap::new()),
        clients: Rc::new(clients::Clients::default()),
        client_queries: boot.client_queries,
    });
    compio::runtime::spawn(clients::serve_queries(ctx.clients.clone(), boot.client_query_rx))
        .detach();
    ctx.load().record_thread();
    // Recovery failures of single partitions are logged and leave those partitions unserved;
    // they do not stop the server.
    open_partitions(&ctx, boot.open).await.ok();
    compio::runtime::spawn(retention::run(ctx.clone())).detach();
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
        let snapshot = owner.snapshot();
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
    close_owned_partitions(&ctx).await;
}

/// How long a clean stop waits for one partition to sync and checkpoint.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A clean stop: every partition this shard owns syncs what is unsynced and writes its
/// checkpoint, so the next start verifies nothing. Queued operations run first.
async fn close_owned_partitions(ctx: &ShardCtx) {
    let snapshot = ctx.snapshot();
    let shards = ctx.config.shard_count();
    for (key, handle) in &snapshot.partitions {
        if owner(*key, shards) != ctx.id {
            continue;
        }
        let closing =
            message::ask(&handle.tx, |reply| message::PartitionOp::Close { delete: false, reply });
        match compio::time::timeout(CLOSE_TIMEOUT, closing).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(key = ?key, error = %e, "partition not closed cleanly; the next start verifies its tail")
            }
            Err(_) => tracing::warn!(key = ?key, "partition close timed out"),
        }
    }
}
