//! What the fan-out benchmarks share: an HTTP client call, readers of a feed
//! during the fan-out and their latencies, and the server's memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::task::JoinHandle;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// An empty answer with `code`.
pub fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = code;
    res
}

/// Sends a request and reads the whole answer.
pub async fn call(
    client: &HttpClient,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<(StatusCode, Bytes)> {
    let mut req = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = client.request(req.body(Full::new(body))?).await?;
    let code = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((code, body))
}

/// VmRSS and VmHWM of `pid`, in KiB.
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// What runs beside the fan-out until [`Meanwhile::finish`]: `readers`
/// clients GETting `url` with gzip in a closed loop, and with a `pid` the
/// server's memory (its peak reset when this starts, VmRSS sampled every 5 ms).
pub struct Meanwhile {
    done: Arc<AtomicBool>,
    readers: Vec<JoinHandle<(Vec<Duration>, usize)>>,
    reader_count: usize,
    url: String,
    pid: Option<u32>,
    before: Option<(u64, u64)>,
    sampler: Option<JoinHandle<u64>>,
}

impl Meanwhile {
    pub fn start(client: &HttpClient, url: &str, readers: usize, pid: Option<u32>) -> Meanwhile {
        let before = pid.and_then(|pid| {
            // "5" resets the peak RSS (VmHWM) to the current RSS.
            let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
            memory(pid)
        });
        let done = Arc::new(AtomicBool::new(false));
        let sampler = pid.map(|pid| {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut peak = 0;
                while !done.load(Relaxed) {
                    if let Some((rss, _)) = memory(pid) {
                        peak = peak.max(rss);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                peak
            })
        });
        let spawned = (0..readers)
            .map(|_| {
                let (client, url, done) = (client.clone(), url.to_owned(), Arc::clone(&done));
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0usize;
                    while !done.load(Relaxed) {
                        let t = Instant::now();
                        let gzip = [(header::ACCEPT_ENCODING.as_str(), "gzip")];
                        match call(&client, Method::GET, &url, &gzip, Bytes::new()).await {
                            Ok((StatusCode::OK, _)) => latencies.push(t.elapsed()),
                            _ => errors += 1,
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        Meanwhile {
            done,
            readers: spawned,
            reader_count: readers,
            url: url.to_owned(),
            pid,
            before,
            sampler,
        }
    }

    /// Stops the readers and the sampler (call it when the fan-out is over).
    pub fn stop(&self) {
        self.done.store(true, Relaxed);
    }

    /// Prints the readers' latencies and the server's memory.
    pub async fn finish(self) -> Result<()> {
        self.stop();
        let mut latencies = Vec::new();
        let mut errors = 0;
        for reader in self.readers {
            let (l, e) = reader.await?;
            latencies.extend(l);
            errors += e;
        }
        latencies.sort_unstable();
        if !latencies.is_empty() {
            let at = |q: f64| {
                let i =
                    ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
                latencies[i].as_secs_f64() * 1e3
            };
            println!(
                "readers: {} clients, {} GETs of {} (gzip) during the fan-out, {errors} errors; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                self.reader_count,
                latencies.len(),
                self.url,
                at(0.5),
                at(0.99),
                at(1.0)
            );
        }
        if let (Some(pid), Some((rss0, hwm0))) = (self.pid, self.before) {
            let sampled = match self.sampler {
                Some(s) => s.await.unwrap_or(0),
                None => 0,
            };
            if let Some((rss1, hwm1)) = memory(pid) {
                println!(
                    "server memory: VmRSS {:.1} → {:.1} MiB, VmHWM {:.1} → {:.1} MiB (peak reset before the write), sampled VmRSS peak {:.1} MiB; growth {:.1} MiB",
                    mib(rss0),
                    mib(rss1),
                    mib(hwm0),
                    mib(hwm1),
                    mib(sampled),
                    mib(hwm1.max(sampled).saturating_sub(rss0))
                );
            }
        }
        Ok(())
    }
}
