//! The HTTP server: accepts connections on one thread per core, bounds how
//! long a client may take to speak, serves HTTP/1.1 and HTTP/2 through hyper
//! (large bodies by `sendfile`, see `socket`), and drains in-flight requests
//! on shutdown.

mod api;
mod body;
mod fedi;
mod handler;
mod hub;
mod negotiate;
mod response;
mod routes;
mod socket;
mod watchdog;
mod workers;

use std::convert::Infallible;
use std::future::{self, Future};
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;

use self::handler::Handled;
pub use self::workers::Listeners;
use self::workers::{Serving, Threads};
use crate::app::App;
use crate::store::ArticleStore;

/// hyper refuses read buffers smaller than this.
const MIN_BUF_SIZE: usize = 8192;

/// How long in-flight requests may run after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Binds `addr` for one serving thread per core (see [`Listeners`]).
pub fn bind(addr: SocketAddr) -> io::Result<Listeners> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    Listeners::bind(addr, cores)
}

/// Serves `app` on `listeners`, one thread each, until `shutdown` completes;
/// then stops accepting, lets in-flight requests finish (up to
/// [`DRAIN_TIMEOUT`]) and returns. Fails only when a thread cannot start.
pub async fn serve<S: ArticleStore>(
    listeners: Listeners,
    app: Arc<App<S>>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let header_timeout = Duration::from_secs(app.config.server.header_read_timeout_secs.get());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // No timer for HTTP/1, so hyper arms none per request: the connection
    // watchdog bounds silent, slow and idle clients instead (see `watchdog`).
    builder
        .http1()
        .max_buf_size(app.config.server.max_header_bytes.get().max(MIN_BUF_SIZE));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(
            u32::try_from(app.config.server.max_header_bytes.get()).unwrap_or(u32::MAX),
        );
    let threads = Threads::start(
        listeners,
        Serving {
            app,
            builder,
            header_timeout,
        },
    )?;
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight requests");
    threads.stop().await;
    Ok(())
}

/// Serves one connection until it ends, the server drains it, or its
/// watchdog finds it stalled.
async fn connection<S: ArticleStore>(
    stream: TcpStream,
    builder: auto::Builder<TokioExecutor>,
    app: Arc<App<S>>,
    header_timeout: Duration,
    watcher: Watcher,
) {
    // Small responses must not wait for Nagle's algorithm (on Linux the
    // socket has it from its listener).
    #[cfg(not(target_os = "linux"))]
    let _ = stream.set_nodelay(true);
    let progress = Arc::new(watchdog::Progress::default());
    let stream = socket::Socket::new(stream, app.cache.pages().cloned());
    let stream = watchdog::Watched::new(stream, Arc::clone(&progress));
    let service_progress = Arc::clone(&progress);
    let service = service_fn(move |req| {
        // Most requests are answered here, in the call: hyper then holds a
        // ready response, not a request's whole future. Only those that wait
        // (see `handler::Wait`) get a future, allocated for them alone, and
        // count as busy while it runs.
        match handler::start(&app, &req) {
            Handled::Now(response) => {
                service_progress.answered();
                Either::Left(future::ready(Ok(response)))
            }
            Handled::Later(wait) => {
                let busy = service_progress.request();
                let app = Arc::clone(&app);
                Either::Right(Box::pin(async move {
                    let response = handler::finish(&app, req, wait).await;
                    drop(busy);
                    Ok::<_, Infallible>(response)
                }))
            }
        }
    });
    let conn = watcher.watch(builder.serve_connection(TokioIo::new(stream), service));
    // In the connection's own task, so the watchdog's timer goes with it.
    tokio::select! {
        served = conn => if let Err(error) = served {
            tracing::debug!(%error, "connection ended with an error");
        },
        () = watchdog::stalled(&progress, header_timeout) => {
            tracing::debug!(timeout = ?header_timeout, "closed a connection that made no progress");
        }
    }
}
