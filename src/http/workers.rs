//! Serving threads: one per core, each running a single-threaded runtime and
//! accepting on a listening socket of its own, as a static file server's
//! worker processes do.
//!
//! On tokio's work-stealing runtime a worker that finds a task ready may wake
//! a parked sibling to share the load, which finds nothing and parks again;
//! and every worker reads the renders every other one serves. Here a
//! connection is accepted, served and closed by one thread: nothing wakes
//! another core, and the per-thread copies of hot renders (`serve::cache::local`)
//! are read by one thread's connections only. The price is that a connection
//! cannot move off its thread: when that thread is preempted (more busy
//! threads than cores) its connections wait for it, which shows in the tail
//! latency of a benchmark that runs its load generator on the same cores.
//!
//! On Linux every thread's socket is bound to the same address with
//! `SO_REUSEPORT`, and the kernel spreads incoming connections over them by
//! a hash of their addresses: no thread accepts for another, so a new
//! connection costs what it costs on a single runtime. Elsewhere the threads
//! share one socket.

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use super::{DRAIN_TIMEOUT, connection};
use crate::app::App;
use crate::store::ArticleStore;

/// Connections waiting to be accepted, per socket: the kernel caps it at
/// `net.core.somaxconn`.
const BACKLOG: i32 = 1024;

/// Blocking threads of all serving threads together: tokio's default for one
/// runtime. A stuck store ties up at most this many threads; later calls queue.
const BLOCKING_THREADS: usize = 512;

/// Blocking threads each serving thread may have at least.
const MIN_BLOCKING_THREADS: usize = 16;

/// The listening sockets of the serving threads, bound and listening, so that
/// connections made before the threads start wait in the backlog.
#[derive(Debug)]
pub struct Listeners {
    sockets: Vec<StdTcpListener>,
}

impl Listeners {
    /// Binds `addr` once per thread, `threads` at least one.
    pub fn bind(addr: SocketAddr, threads: usize) -> io::Result<Listeners> {
        let first = listen(addr)?;
        // Port 0 picks a port: the other sockets join the one it picked.
        let addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..threads.max(1) {
            let socket = if cfg!(target_os = "linux") {
                listen(addr)?
            } else {
                sockets[0].try_clone()?
            };
            sockets.push(socket);
        }
        Ok(Listeners { sockets })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sockets[0].local_addr()
    }
}

/// One listening socket on `addr`, in the `SO_REUSEPORT` group of the others
/// on Linux, non-blocking for tokio.
fn listen(addr: SocketAddr) -> io::Result<StdTcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // As std does: a restarted server can bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    #[cfg(target_os = "linux")]
    socket.set_reuse_port(true)?;
    // Small responses must not wait for Nagle's algorithm. Linux copies the
    // option to every accepted socket: one system call per server instead of
    // one per connection (elsewhere `connection` sets it).
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// What every connection is served with.
pub struct Serving<S> {
    pub app: Arc<App<S>>,
    pub builder: auto::Builder<TokioExecutor>,
    pub header_timeout: Duration,
}

/// The running serving threads.
pub struct Threads {
    /// Set to `true`, or dropped, to stop accepting.
    stop: watch::Sender<bool>,
    /// One per thread: fired when it has drained and stopped.
    stopped: Vec<oneshot::Receiver<()>>,
}

impl Threads {
    /// Starts one serving thread per socket of `listeners`.
    pub fn start<S: ArticleStore>(
        listeners: Listeners,
        serving: Serving<S>,
    ) -> io::Result<Threads> {
        let serving = Arc::new(serving);
        let (stop, stopping) = watch::channel(false);
        // Each runtime has its own blocking pool (renders, SQLite calls);
        // together they get what one runtime's pool would.
        let blocking = BLOCKING_THREADS
            .div_ceil(listeners.sockets.len())
            .max(MIN_BLOCKING_THREADS);
        let stopped = listeners
            .sockets
            .into_iter()
            .enumerate()
            .map(|(index, socket)| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .max_blocking_threads(blocking)
                    .build()?;
                spawn(
                    index,
                    runtime,
                    socket,
                    Arc::clone(&serving),
                    stopping.clone(),
                )
            })
            .collect::<io::Result<_>>()?;
        Ok(Threads { stop, stopped })
    }

    /// Stops accepting on every thread and waits while each lets its
    /// in-flight requests finish (up to [`DRAIN_TIMEOUT`]).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for thread in self.stopped {
            let _ = thread.await;
        }
    }
}

/// Runs `runtime` on a thread of its own, accepting on `socket`.
fn spawn<S: ArticleStore>(
    index: usize,
    runtime: tokio::runtime::Runtime,
    socket: StdTcpListener,
    serving: Arc<Serving<S>>,
    stopping: watch::Receiver<bool>,
) -> io::Result<oneshot::Receiver<()>> {
    let (stopped_tx, stopped) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("kabar-http-{index}"))
        .spawn(move || {
            runtime.block_on(accept_until_stopped(socket, &serving, stopping));
            // Dropping the runtime closes what the drain timeout left open.
            drop(runtime);
            let _ = stopped_tx.send(());
        })?;
    Ok(stopped)
}

/// One thread's life: accept and serve until told to stop, then drain.
async fn accept_until_stopped<S: ArticleStore>(
    socket: StdTcpListener,
    serving: &Serving<S>,
    mut stopping: watch::Receiver<bool>,
) {
    let listener = match TcpListener::from_std(socket) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "a serving thread cannot listen");
            return;
        }
    };
    let graceful = GracefulShutdown::new();
    // A `true`, or the server gone. Made once: not re-armed per connection.
    let stop = stopping.wait_for(|stop| *stop);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    tokio::spawn(connection(
                        stream,
                        serving.builder.clone(),
                        Arc::clone(&serving.app),
                        serving.header_timeout,
                        graceful.watcher(),
                    ));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = &mut stop => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish in {DRAIN_TIMEOUT:?}; closing them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_gets_a_socket_on_the_same_address() {
        let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let addr = listeners.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        assert_eq!(listeners.sockets.len(), 3);
        for socket in &listeners.sockets {
            assert_eq!(socket.local_addr().unwrap(), addr);
        }
        // Another server cannot take the address while these hold it.
        assert!(std::net::TcpListener::bind(addr).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn accepted_connections_send_without_delay() {
        let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let _client = std::net::TcpStream::connect(listeners.local_addr().unwrap()).unwrap();
        listeners.sockets[0].set_nonblocking(false).unwrap();
        let (accepted, _) = listeners.sockets[0].accept().unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    /// The kernel spreads connections over the threads' sockets: with 64
    /// connections, every one of four sockets gets some (the chance that
    /// one gets none is (3/4)^64, about 1 in 10^8).
    #[cfg(target_os = "linux")]
    #[test]
    fn connections_are_spread_over_the_sockets() {
        let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
        let addr = listeners.local_addr().unwrap();
        let mut clients = Vec::new();
        for _ in 0..64 {
            clients.push(std::net::TcpStream::connect(addr).unwrap());
        }
        let mut accepted = Vec::new();
        for socket in &listeners.sockets {
            let mut count = 0;
            while socket.accept().is_ok() {
                count += 1;
            }
            accepted.push(count);
        }
        assert_eq!(accepted.iter().sum::<usize>(), 64, "{accepted:?}");
        assert!(accepted.iter().all(|&n| n > 0), "{accepted:?}");
    }
}
