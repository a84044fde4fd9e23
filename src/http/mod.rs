//! The HTTP server: accepts connections, bounds how long a client may take to
//! speak, serves HTTP/1.1 and HTTP/2 through hyper, and drains in-flight
//! requests on shutdown.

mod api;
mod handler;
mod negotiate;
mod routes;
mod watchdog;
mod workers;

use std::future::Future;
use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};

use self::workers::{Serving, Workers};
use crate::app::App;
use crate::store::ArticleStore;

/// hyper refuses read buffers smaller than this.
const MIN_BUF_SIZE: usize = 8192;

/// How long in-flight requests may run after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting,
/// lets in-flight requests finish (up to [`DRAIN_TIMEOUT`]) and returns.
/// Connections are served on one thread per core ([`workers`]).
pub async fn serve<S: ArticleStore>(
    listener: TcpListener,
    app: Arc<App<S>>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    serve_on_threads(listener, app, threads, shutdown).await
}

/// [`serve`] on `threads` serving threads.
pub async fn serve_on_threads<S: ArticleStore>(
    listener: TcpListener,
    app: Arc<App<S>>,
    threads: usize,
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
    let mut workers = Workers::start(
        threads,
        Serving {
            app,
            builder,
            header_timeout,
        },
    )?;
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => workers.hand_off(stream, graceful.watcher()),
                // Out of file descriptors and the like: back off instead of spinning.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish in {DRAIN_TIMEOUT:?}; closing them");
    }
    workers.stop().await;
    Ok(())
}

/// Serves one connection once the client has sent its first byte, counting
/// its `progress` for the watchdog.
async fn connection<S: ArticleStore>(
    stream: TcpStream,
    builder: auto::Builder<TokioExecutor>,
    app: Arc<App<S>>,
    header_timeout: Duration,
    watcher: Watcher,
    progress: Arc<watchdog::Progress>,
) {
    // Small responses must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    // The auto builder reads to tell HTTP/1 from HTTP/2: bound that first read
    // (the watchdog would too, a little later).
    let mut first = [0u8; 1];
    match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return,
    }
    let stream = watchdog::Watched::new(stream, Arc::clone(&progress));
    // Every request's future holds the app. Cloned from a handle of this
    // connection's own, its reference count is written by this connection's
    // thread only, instead of by every core's requests in turn.
    let app = Arc::new(app);
    let service = service_fn(move |req| {
        let busy = progress.request();
        let app = Arc::clone(&app);
        async move {
            let response = handler::handle(&app, req).await;
            drop(busy);
            response
        }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(conn).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}
