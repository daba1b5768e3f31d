//! Serving on every core: one thread per core, each with its own compio runtime (pinned if
//! asked, io_uring cooperative task running where the kernel has it) and its own SO_REUSEPORT
//! listener on the same address, so the kernel spreads connections over the threads and nothing
//! is shared between them. [`Server`] runs the WebSocket handshake and calls the application's
//! handler for each connection on the thread that accepted it; [`reuseport_listeners`] and
//! [`runtime`] are the two pieces for a server that runs more than WebSocket on each thread
//! (eddy-server's shards do). Threads and sockets only: no frame is parsed here.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use compio::net::TcpStream;

use crate::config::Config;
use crate::driver::{WebSocket, accept_with};

/// Listen backlog of [`Server`] by default.
pub const DEFAULT_BACKLOG: i32 = 1024;

/// Binds `count` listeners on `addr` with SO_REUSEPORT (and SO_REUSEADDR, TCP_NODELAY inherited
/// by accepted sockets): the first resolves port 0, the rest bind the address it got. Returns
/// that address and the listeners, for one thread each.
pub fn reuseport_listeners(
    addr: SocketAddr,
    count: usize,
    backlog: i32,
) -> io::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    let bind = |addr: SocketAddr| -> io::Result<std::net::TcpListener> {
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
    let first = bind(addr)?;
    let bound = first.local_addr()?;
    let mut out = vec![first];
    for _ in 1..count {
        out.push(bind(bound)?);
    }
    Ok((bound, out))
}

/// A compio runtime for one serving thread: pinned to `core` when given, with io_uring
/// cooperative task running (completions are queued for the thread's next entry into the kernel
/// instead of interrupting it; eddy-server measured ~1.5× on many-connection echo), built
/// without it on kernels that refuse it (before 5.19).
pub fn runtime(core: Option<usize>) -> io::Result<compio::runtime::Runtime> {
    let builder = || {
        let mut b = compio::runtime::RuntimeBuilder::new();
        if let Some(core) = core {
            b.thread_affinity(std::collections::HashSet::from([core]));
        }
        b
    };
    let mut proactor = compio::driver::ProactorBuilder::new();
    proactor.coop_taskrun(true).taskrun_flag(true);
    builder().with_proactor(proactor).build().or_else(|_| builder().build())
}

/// A WebSocket server on every core (or as many threads as asked), one runtime and one
/// SO_REUSEPORT listener per thread.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// let server = eddy_ws::serve::Server::new("127.0.0.1:9001".parse().unwrap())
///     .serve(|mut ws, _peer| async move {
///         while let Ok(msg) = ws.read().await {
///             if msg.is_data() && ws.send(msg).await.is_err() {
///                 break;
///             }
///         }
///     })?;
/// println!("listening on {}", server.local_addr());
/// server.join();
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Server {
    addr: SocketAddr,
    threads: usize,
    pin: bool,
    backlog: i32,
    config: Config,
}

impl Server {
    /// A server on `addr`: one thread per available core, not pinned, default [`Config`].
    pub fn new(addr: SocketAddr) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { addr, threads, pin: false, backlog: DEFAULT_BACKLOG, config: Config::default() }
    }

    /// How many serving threads (at least one).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Pins thread `i` to core `i` modulo the available cores.
    pub fn pin_threads(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// The listen backlog of each thread's listener.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// The configuration of every connection (limits, deflate, timeouts).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Binds, starts the threads and returns once each has its runtime and listener. Each
    /// accepted connection's handshake runs on its own task (a slow handshake holds nobody
    /// else); a connection whose handshake fails is closed with its HTTP refusal, and `handler`
    /// gets the ones that upgraded, with the peer's address, on the accepting thread.
    pub fn serve<F, Fut>(self, handler: F) -> io::Result<Running>
    where
        F: Fn(WebSocket<TcpStream>, SocketAddr) -> Fut + Send + Clone + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (addr, listeners) = reuseport_listeners(self.addr, self.threads, self.backlog)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stopping = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(listeners.len());
        let mut handles = Vec::with_capacity(listeners.len());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        for (i, listener) in listeners.into_iter().enumerate() {
            handles.push(listener.try_clone()?);
            let core = self.pin.then_some(i % cores);
            let (handler, config, stopping, ready) =
                (handler.clone(), self.config.clone(), stopping.clone(), ready_tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("eddy-ws-{i}"))
                .spawn(move || serve_thread(core, listener, config, handler, stopping, ready))?;
            threads.push(thread);
        }
        drop(ready_tx);
        let running = Running { addr, threads, listeners: handles, stopping };
        for _ in 0..running.threads.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    running.stop();
                    return Err(e);
                }
                Err(_) => {
                    running.stop();
                    return Err(io::Error::other("a serving thread ended while starting"));
                }
            }
        }
        Ok(running)
    }
}

/// One serving thread: its runtime, its listener, a task per connection.
fn serve_thread<F, Fut>(
    core: Option<usize>,
    listener: std::net::TcpListener,
    config: Config,
    handler: F,
    stopping: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<io::Result<()>>,
) where
    F: Fn(WebSocket<TcpStream>, SocketAddr) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let runtime = match runtime(core) {
        Ok(rt) => rt,
        Err(e) => {
            ready.send(Err(e)).ok();
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match compio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                ready.send(Err(e)).ok();
                return;
            }
        };
        ready.send(Ok(())).ok();
        let (config, handler) = (std::rc::Rc::new(config), std::rc::Rc::new(handler));
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(_) if stopping.load(Ordering::Acquire) => return,
                Err(e) => {
                    // Out of descriptors or memory: back off instead of spinning; the
                    // connections already served go on.
                    tracing::warn!(error = %e, "accept failed");
                    compio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let (handler, config) = (handler.clone(), config.clone());
            compio::runtime::spawn(async move {
                match accept_with(tcp, &config, |_, _| Ok(())).await {
                    Ok(ws) => handler(ws, peer).await,
                    Err(e) => tracing::debug!(%peer, error = %e, "handshake failed"),
                }
            })
            .detach();
        }
    });
}

/// A started [`Server`]: its address, and the means to stop it.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
    /// Clones of the listening sockets, shut down to wake the accepts at a stop.
    listeners: Vec<std::net::TcpListener>,
    stopping: Arc<AtomicBool>,
}

impl Running {
    /// The address the server listens on (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server: every thread's accept loop ends, and with it the thread and its
    /// runtime, so connections still open there are dropped (closed without a close
    /// handshake: close them first if the peers should get one).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        for l in &self.listeners {
            socket2::SockRef::from(l).shutdown(std::net::Shutdown::Both).ok();
        }
    }

    /// Waits for every thread to end (after [`Running::stop`], or forever).
    pub fn join(self) {
        for t in self.threads {
            t.join().ok();
        }
    }
}
