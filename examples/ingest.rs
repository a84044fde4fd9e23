//! Drives the write API with the benchmark corpus: `PUT /api/v1/articles/{id}`
//! of whole articles (six versions each) from several keep-alive clients at
//! once, and reports articles per second and the latency of each write.
//!
//! ```sh
//! KABAR_API_TOKEN=… cargo run --release --example ingest -- \
//!     --addr 127.0.0.1:8080 --count 3000 --first 10000 --clients 16
//! ```
//!
//! Articles `first..first + count` are sent, each exactly once; every answer
//! must be 200 or 201. Loopback only: the address must be 127.0.0.1.

#[path = "../benches/support/corpus.rs"]
mod corpus;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Args {
    addr: SocketAddr,
    first: u64,
    count: u64,
    clients: usize,
    token: String,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:8080".parse().map_err(|_| "address")?,
        first: 0,
        count: 1_000,
        clients: 16,
        token: std::env::var("KABAR_API_TOKEN").map_err(|_| "set KABAR_API_TOKEN")?,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--addr" => args.addr = value.parse().map_err(|_| bad.clone())?,
            "--first" => args.first = value.parse().map_err(|_| bad.clone())?,
            "--count" => args.count = value.parse().map_err(|_| bad.clone())?,
            "--clients" => args.clients = value.parse().map_err(|_| bad.clone())?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !args.addr.ip().is_loopback() {
        return Err("the write benchmark only talks to a loopback address".to_owned());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => Arc::new(args),
        Err(error) => {
            eprintln!("ingest: {error}");
            return ExitCode::FAILURE;
        }
    };
    let next = Arc::new(AtomicU64::new(args.first));
    let started = Instant::now();
    let clients: Vec<_> = (0..args.clients)
        .map(|_| tokio::spawn(client(Arc::clone(&args), Arc::clone(&next))))
        .collect();
    let mut latencies = Vec::with_capacity(usize::try_from(args.count).unwrap_or(0));
    let mut errors = 0u64;
    for client in clients {
        match client.await {
            Ok(Ok((times, failed))) => {
                latencies.extend(times);
                errors += failed;
            }
            Ok(Err(error)) => {
                eprintln!("ingest: client failed: {error}");
                errors += 1;
            }
            Err(error) => {
                eprintln!("ingest: client panicked: {error}");
                errors += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let stored = latencies.len();
    println!(
        "RESULT articles={stored} seconds={:.3} rate={:.1} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} errors={errors} clients={}",
        elapsed.as_secs_f64(),
        stored as f64 / elapsed.as_secs_f64(),
        ms(quantile(0.5)),
        ms(quantile(0.99)),
        ms(quantile(1.0)),
        args.clients
    );
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One keep-alive connection sending articles until the range is used up;
/// returns the latency of each stored article and how many writes failed.
async fn client(args: Arc<Args>, next: Arc<AtomicU64>) -> Result<(Vec<Duration>, u64), String> {
    let stream = TcpStream::connect(args.addr)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let auth = format!("Bearer {}", args.token);
    let mut times = Vec::new();
    let mut failed = 0;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= args.first + args.count {
            return Ok((times, failed));
        }
        let article = corpus::article(i);
        let body = serde_json::to_vec(&article).map_err(|e| e.to_string())?;
        let req = Request::put(format!("/api/v1/articles/{}", article.id))
            .header("host", args.addr.to_string())
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let sent = Instant::now();
        sender.ready().await.map_err(|e| e.to_string())?;
        let response = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let answer = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if status.as_u16() == 200 || status.as_u16() == 201 {
            times.push(sent.elapsed());
        } else {
            failed += 1;
            if failed <= 3 {
                eprintln!(
                    "ingest: {} answered {status}: {}",
                    article.id,
                    String::from_utf8_lossy(&answer)
                );
            }
        }
    }
}
