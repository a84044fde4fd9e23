//! Serving threads: each runs a single-threaded runtime of its own and serves
//! the connections handed to it from first byte to close, as a static file
//! server's worker processes do.
//!
//! On tokio's work-stealing runtime a worker that finds a task ready wakes a
//! parked sibling to share the load, which finds nothing and parks again: a
//! futex wake and two context switches that a cached hit does not need, and
//! the largest difference between Kabar's and nginx's CPU per request in a
//! `perf` profile (BENCHMARKS.md). A connection here stays on the thread that
//! took it, so the per-thread copies of hot renders (`cache::local`) are the
//! only ones it reads and nothing wakes another core.
//!
//! The accept loop (in `http::serve`) hands each connection to the thread
//! serving the fewest; keep-alive connections live long, so balancing them at
//! accept time balances the load.

use std::net::TcpStream as StdTcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::{connection, watchdog};
use crate::app::App;
use crate::store::ArticleStore;

/// A connection on its way to a serving thread, with the graceful-shutdown
/// watcher that lets `serve` drain it.
struct Handoff {
    stream: StdTcpStream,
    watcher: Watcher,
}

/// What every connection is served with.
pub struct Serving<S> {
    pub app: Arc<App<S>>,
    pub builder: auto::Builder<TokioExecutor>,
    pub header_timeout: Duration,
}

/// One serving thread, seen from the accept loop.
struct Worker {
    handoffs: mpsc::UnboundedSender<Handoff>,
    /// Connections it is serving now.
    open: Arc<AtomicUsize>,
    /// Fired when its runtime has stopped and dropped what it still held.
    stopped: oneshot::Receiver<()>,
}

/// The serving threads.
pub struct Workers {
    workers: Vec<Worker>,
    /// Where the search for the least busy thread starts: rotating it spreads
    /// ties (an idle server) over every thread instead of piling on the first.
    next: usize,
}

impl Workers {
    /// Starts `count` serving threads (at least one).
    pub fn start<S: ArticleStore>(count: usize, serving: Serving<S>) -> std::io::Result<Workers> {
        let serving = Arc::new(serving);
        let workers = (0..count.max(1))
            .map(|index| spawn(index, Arc::clone(&serving)))
            .collect::<std::io::Result<_>>()?;
        Ok(Workers { workers, next: 0 })
    }

    /// Gives `stream` to the thread serving the fewest connections.
    pub fn hand_off(&mut self, stream: TcpStream, watcher: Watcher) {
        // Leaves this runtime's reactor; the serving thread registers it with its own.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot hand a connection to a serving thread");
                return;
            }
        };
        let mut handoff = Handoff { stream, watcher };
        while let Some(index) = self.least_busy() {
            let worker = &self.workers[index];
            worker.open.fetch_add(1, Relaxed);
            match worker.handoffs.send(handoff) {
                Ok(()) => return,
                // Only a thread whose runtime died stops receiving: take the
                // next one, and never pick this one again.
                Err(mpsc::error::SendError(returned)) => {
                    tracing::error!("a serving thread has stopped; serving on the others");
                    handoff = returned;
                    self.workers.swap_remove(index);
                }
            }
        }
        tracing::error!("no serving thread is left; connection dropped");
    }

    /// The index of the thread serving the fewest connections.
    fn least_busy(&mut self) -> Option<usize> {
        let count = self.workers.len();
        if count == 0 {
            return None;
        }
        let start = self.next % count;
        self.next = (start + 1) % count;
        (0..count)
            .map(|offset| (start + offset) % count)
            .min_by_key(|&index| self.workers[index].open.load(Relaxed))
    }

    /// Stops every thread: connections still open are closed. Call it once
    /// in-flight requests have drained.
    pub async fn stop(self) {
        let stopped: Vec<_> = self
            .workers
            .into_iter()
            .map(|worker| {
                // Closing its channel ends the thread's accept loop.
                drop(worker.handoffs);
                worker.stopped
            })
            .collect();
        for thread in stopped {
            let _ = thread.await;
        }
    }
}

fn spawn<S: ArticleStore>(index: usize, serving: Arc<Serving<S>>) -> std::io::Result<Worker> {
    let (handoffs, mut incoming) = mpsc::unbounded_channel::<Handoff>();
    let (stopped_tx, stopped) = oneshot::channel();
    let open = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let thread_open = Arc::clone(&open);
    std::thread::Builder::new()
        .name(format!("kabar-http-{index}"))
        .spawn(move || {
            runtime.block_on(async move {
                while let Some(handoff) = incoming.recv().await {
                    serve(handoff, &serving, &thread_open);
                }
            });
            // Dropping the runtime cancels the connections still open.
            drop(runtime);
            let _ = stopped_tx.send(());
        })?;
    Ok(Worker {
        handoffs,
        open,
        stopped,
    })
}

/// Spawns the connection's task and its watchdog on this thread's runtime.
fn serve<S: ArticleStore>(handoff: Handoff, serving: &Serving<S>, open: &Arc<AtomicUsize>) {
    let stream = match TcpStream::from_std(handoff.stream) {
        Ok(stream) => stream,
        Err(error) => {
            open.fetch_sub(1, Relaxed);
            tracing::warn!(%error, "cannot serve a handed-off connection");
            return;
        }
    };
    let progress = Arc::new(watchdog::Progress::default());
    let closed = Closed(Arc::clone(open));
    let task = tokio::spawn({
        let connection = connection(
            stream,
            serving.builder.clone(),
            Arc::clone(&serving.app),
            serving.header_timeout,
            handoff.watcher,
            Arc::clone(&progress),
        );
        async move {
            connection.await;
            drop(closed);
        }
    });
    tokio::spawn(watchdog::watch(
        Arc::downgrade(&progress),
        task.abort_handle(),
        serving.header_timeout,
    ));
}

/// Counts a connection closed however its task ends: finished, aborted by the
/// watchdog, or dropped with the runtime.
struct Closed(Arc<AtomicUsize>);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use hyper_util::server::graceful::GracefulShutdown;
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::Config;
    use crate::store::SqliteStore;

    fn open_counts(workers: &Workers) -> Vec<usize> {
        workers
            .workers
            .iter()
            .map(|worker| worker.open.load(Relaxed))
            .collect()
    }

    fn serving(dir: &tempfile::TempDir) -> Serving<SqliteStore> {
        let (store, _) = SqliteStore::open(&dir.path().join("kabar.sqlite")).unwrap();
        let config = Config::parse(include_str!("../../feeds.toml"), "feeds.toml").unwrap();
        Serving {
            app: App::new(Arc::new(config), Arc::new(store), None),
            builder: auto::Builder::new(TokioExecutor::new()),
            header_timeout: Duration::from_secs(30),
        }
    }

    #[tokio::test]
    async fn connections_go_to_the_least_busy_thread_and_are_counted_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut workers = Workers::start(3, serving(&dir)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let graceful = GracefulShutdown::new();

        let mut clients = Vec::new();
        for _ in 0..6 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            let (stream, _) = listener.accept().await.unwrap();
            workers.hand_off(stream, graceful.watcher());
        }
        assert_eq!(open_counts(&workers), [2, 2, 2]);

        // Closed by their clients before saying anything: counted out.
        drop(clients);
        tokio::time::timeout(Duration::from_secs(10), async {
            while open_counts(&workers) != [0, 0, 0] {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("closed connections are counted out");

        // The next one goes to a thread again, and stopping closes it.
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        workers.hand_off(stream, graceful.watcher());
        assert_eq!(open_counts(&workers).iter().sum::<usize>(), 1);
        workers.stop().await;
        tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
            .await
            .expect("stopping the threads drops their connections");
    }

    #[tokio::test]
    async fn a_thread_that_died_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut workers = Workers::start(1, serving(&dir)).unwrap();
        // A thread whose runtime is gone: nothing receives, and it looks idle.
        let (handoffs, incoming) = mpsc::unbounded_channel();
        drop(incoming);
        let (_, stopped) = oneshot::channel();
        workers.workers.insert(
            0,
            Worker {
                handoffs,
                open: Arc::new(AtomicUsize::new(0)),
                stopped,
            },
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let graceful = GracefulShutdown::new();
        let mut clients = Vec::new();
        for _ in 0..2 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            let (stream, _) = listener.accept().await.unwrap();
            workers.hand_off(stream, graceful.watcher());
        }
        assert_eq!(open_counts(&workers), [2]);
        drop(clients);
        workers.stop().await;
    }
}
