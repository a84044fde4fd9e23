//! The connection watchdog: closes a connection that makes no progress for the
//! header-read timeout (a client that connects and says nothing, one that
//! dribbles its headers, an idle keep-alive connection), without a timer per
//! request.
//!
//! hyper's own header-read timeout arms and drops a timer for every request (an
//! allocation, a clock read and, on a keep-alive connection, a timer-wheel
//! insert and removal under the driver's lock), a noticeable part of what a
//! cached hit costs. Here each connection counts its
//! progress in a few uncontended counters, and one timer per connection looks
//! at them twice per timeout.
//!
//! Progress is a request handed to the handler, a handler still running, or
//! bytes written to the socket. So a slow reader of a large feed is not cut off
//! while it keeps reading, and a cold render is not cut off while it renders;
//! a connection with none of these for one timeout (at most one and a half,
//! checks being half a timeout apart) is closed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// What one connection has done, shared by its task and its watchdog.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests handed to the handler so far.
    requests: AtomicU64,
    /// Successful writes to the socket so far.
    writes: AtomicU64,
    /// Handlers running now: a slow render is progress too.
    busy: AtomicUsize,
}

impl Progress {
    /// Counts a request answered at once, with nothing left running.
    pub fn answered(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    /// Marks a request handed to the handler until the returned guard drops.
    pub fn request(self: &Arc<Self>) -> Busy {
        self.answered();
        self.busy.fetch_add(1, Relaxed);
        Busy(Arc::clone(self))
    }

    fn snapshot(&self) -> (u64, u64) {
        (self.requests.load(Relaxed), self.writes.load(Relaxed))
    }
}

/// A handler running on the connection (see [`Progress::request`]).
#[derive(Debug)]
pub struct Busy(Arc<Progress>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Relaxed);
    }
}

/// Completes once `progress` has not moved for `timeout` (checked every half
/// timeout, so within one and a half). Raced against the connection in its
/// task: whichever ends first drops the other.
pub async fn stalled(progress: &Progress, timeout: Duration) {
    let mut last = None;
    let mut since = Instant::now();
    let mut ticks = tokio::time::interval(timeout / 2);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = ticks.tick().await;
        let seen = progress.snapshot();
        if last != Some(seen) || progress.busy.load(Relaxed) > 0 {
            last = Some(seen);
            since = now;
        } else if now.duration_since(since) >= timeout {
            return;
        }
    }
}

/// A socket that counts its writes into a [`Progress`].
#[derive(Debug)]
pub struct Watched<T> {
    io: T,
    progress: Arc<Progress>,
}

impl<T> Watched<T> {
    pub fn new(io: T, progress: Arc<Progress>) -> Self {
        Watched { io, progress }
    }

    fn wrote(&self, result: &Poll<io::Result<usize>>) {
        if matches!(result, Poll::Ready(Ok(n)) if *n > 0) {
            self.progress.writes.fetch_add(1, Relaxed);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_connection_is_reported_and_a_busy_one_is_not() {
        let timeout = Duration::from_secs(10);
        let idle = Progress::default();
        let started = Instant::now();
        stalled(&idle, timeout).await;
        let waited = started.elapsed();
        assert!(waited >= timeout && waited <= timeout * 3 / 2, "{waited:?}");

        let working = Arc::new(Progress::default());
        let watchdog = tokio::spawn({
            let working = Arc::clone(&working);
            async move { stalled(&working, timeout).await }
        });
        let busy = working.request();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!watchdog.is_finished(), "a running handler is progress");
        drop(busy);
        for _ in 0..6 {
            working.writes.fetch_add(1, Relaxed);
            tokio::time::sleep(Duration::from_secs(9)).await;
        }
        assert!(!watchdog.is_finished(), "writes are progress");
        tokio::time::sleep(Duration::from_secs(16)).await;
        assert!(watchdog.is_finished(), "then nothing moved for a timeout");
    }
}
