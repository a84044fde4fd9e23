//! Memory under a crawler: `kabar serve` on a store whose monthly archives
//! together are several times `[cache] max_bytes`, asked for every month
//! from 1970 on in every language, stays within its size after start-up plus
//! `max_bytes` plus the fixed overhead README "Memory" states, as the
//! process's own `/proc/PID/status` tells.
//!
//! For BENCHMARKS.md the same crawl measures another build and runs again:
//! `KABAR_BIN=target/release/kabar KABAR_CRAWLS=8 cargo test --test memory
//! -- --nocapture` prints the sizes after each crawl.

#![cfg(target_os = "linux")]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Datelike;
use common::{Site, eventually};
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The cache's bound here: small, so that the archives are several times
/// it while the test stays quick.
const MAX_BYTES: u64 = 4 << 20;

/// What the server may hold beyond its start-up size and the cache: README
/// "Memory" states it and BENCHMARKS.md has the measurements behind it,
/// this crawl's among them, with room for a busy machine.
const OVERHEAD: u64 = 24 << 20;

/// The generated store: `MONTHS` months from January 2024, `PER_MONTH`
/// articles in each, in every configured language, each version's body
/// about `BODY_BYTES` of text that gzip shrinks by less than half.
const MONTHS: u32 = 30;
const PER_MONTH: u32 = 6;
const BODY_BYTES: usize = 12 * 1024;

/// Keep-alive connections the crawler spreads its requests over.
const CONNECTIONS: usize = 4;

/// The crawl must end within this, or the test fails.
const CRAWL_DEADLINE: Duration = Duration::from_secs(120);

/// A `kabar serve` process, killed when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This build's `kabar`, or the one `KABAR_BIN` names.
fn kabar() -> Command {
    match std::env::var_os("KABAR_BIN") {
        Some(bin) => Command::new(bin),
        None => Command::new(env!("CARGO_BIN_EXE_kabar")),
    }
}

/// A deterministic body of `bytes` or a little more: CJK ideographs drawn
/// by xorshift, in sentences and paragraphs.
fn body(seed: u32, bytes: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let mut text = String::with_capacity(bytes + 16);
    while text.len() < bytes {
        text.extend(char::from_u32(0x4e00 + next() % 4096));
        match next() % 512 {
            0 => text.push_str("。\n\n"),
            1..=16 => text.push('，'),
            _ => {}
        }
    }
    text
}

/// `YYYY-MM` of the `index`th month from January 2024.
fn generated_month(index: u32) -> String {
    format!("{:04}-{:02}", 2024 + index / 12, 1 + index % 12)
}

/// The generated articles as JSON Lines, for `kabar import`.
fn articles(langs: &[&str], original: &str) -> String {
    let mut lines = String::new();
    for m in 0..MONTHS {
        let month = generated_month(m);
        for n in 0..PER_MONTH {
            let mut versions = serde_json::Map::new();
            for (i, lang) in (0..).zip(langs) {
                let translation = if *lang == original {
                    "original"
                } else {
                    "machine"
                };
                versions.insert(
                    (*lang).to_owned(),
                    serde_json::json!({
                        "translation": translation,
                        "title": format!("Arsip {month} nomor {n}"),
                        "body": body((m * PER_MONTH + n) * 16 + i, BODY_BYTES),
                    }),
                );
            }
            let article = serde_json::json!({
                "id": format!("arsip-{month}-{n}"),
                "section": "national",
                "published": format!("{month}-{:02}T09:00:00+07:00", 1 + n * 4),
                "authors": [{"name": "Desk Arsip"}],
                "versions": versions,
            });
            lines.push_str(&article.to_string());
            lines.push('\n');
        }
    }
    lines
}

/// `VmRSS` and `VmHWM` (the peak resident set) of process `pid`, in bytes.
fn resident(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts `kabar serve` on `config`, logging to `log`, and returns it with
/// the address it logs.
async fn serve(config: &Path, log: &Path) -> (Running, SocketAddr) {
    let mut child = Running(
        kabar()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("kabar starts"),
    );
    let addr = eventually(
        "kabar to log its address",
        Duration::from_secs(20),
        async || {
            let text = std::fs::read_to_string(log).expect("log");
            if let Some(status) = child.0.try_wait().expect("wait") {
                panic!("kabar exited ({status}) before listening:\n{text}");
            }
            // Only a whole line: the rest of the address may still be on its way.
            let (line, _) = text
                .split("listening on http://")
                .nth(1)?
                .split_once('\n')?;
            Some(line.trim().trim_end_matches('/').parse().expect("address"))
        },
    )
    .await;
    (child, addr)
}

/// GETs each of `paths` in turn on one keep-alive connection; returns each
/// path with its status and the length of its body, read to the end.
async fn crawl(addr: SocketAddr, paths: Vec<String>) -> Vec<(String, StatusCode, usize)> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut answers = Vec::with_capacity(paths.len());
    for path in paths {
        sender.ready().await.expect("the connection stays open");
        let req = Request::get(&path)
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())
            .expect("request");
        let res = sender.send_request(req).await.expect("response");
        let status = res.status();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        answers.push((path, status, body.len()));
    }
    answers
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crawler_asking_for_every_month_leaves_memory_within_the_bound() {
    let site = Site::edited(|text| {
        text.replace("max_bytes = 67108864", &format!("max_bytes = {MAX_BYTES}"))
            // Every body in the heap, where the resident set counts it: with
            // sendfile the large ones lie in the page file instead.
            .replace("sendfile = true", "sendfile = false")
    });
    let config = site.config();
    let langs = config.language_codes();
    let lines = site.dir().join("archives.jsonl");
    std::fs::write(&lines, articles(&langs, config.original_language())).expect("write");
    let import = kabar()
        .arg("import")
        .arg(&lines)
        .arg("--config")
        .arg(site.config_file())
        .stdout(Stdio::null())
        .output()
        .expect("kabar import runs");
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    let (server, addr) = serve(&site.config_file(), &site.dir().join("serve.log")).await;
    let pid = server.0.id();
    let health = common::request(addr, "GET", "/healthz", &[]).await;
    assert_eq!(health.status, StatusCode::OK);
    let (baseline, _) = resident(pid);

    // Every month from 1970 to this one, in every language, dealt out to
    // the connections in turn.
    let today = chrono::Utc::now();
    let mut shares = vec![Vec::new(); CONNECTIONS];
    let mut requests = 0;
    for year in 1970..=today.year() {
        for month in 1..=12 {
            if (year, month) > (today.year(), today.month()) {
                break;
            }
            for lang in &langs {
                let path = format!("/{lang}/archive/{year:04}-{month:02}/atom.xml");
                shares[requests % CONNECTIONS].push(path);
                requests += 1;
            }
        }
    }
    let crawls: usize = std::env::var("KABAR_CRAWLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let mut answers = Vec::with_capacity(requests);
    let (mut rss, mut peak, mut crawled) = (0, 0, Duration::ZERO);
    for _ in 0..crawls {
        let started = Instant::now();
        let crawlers: Vec<_> = shares
            .iter()
            .map(|paths| tokio::spawn(crawl(addr, paths.clone())))
            .collect();
        answers.clear();
        for crawler in crawlers {
            let done = tokio::time::timeout(CRAWL_DEADLINE, crawler)
                .await
                .expect("the crawl ends in time");
            answers.extend(done.expect("a crawler panicked"));
        }
        crawled = started.elapsed();
        (rss, peak) = resident(pid);
        if crawls > 1 {
            eprintln!(
                "crawl in {crawled:.1?}: VmRSS {} kB, VmHWM {} kB",
                rss / 1024,
                peak / 1024
            );
        }
    }

    // Archives exist for the closed months with items: every generated
    // month but the last, which is the current one. Every other month,
    // before the first item among them, is not found.
    let (first, current) = (generated_month(0), generated_month(MONTHS - 1));
    let archived = |path: &str| {
        let month = path.split('/').nth(3).unwrap_or_default();
        (first.as_str()..current.as_str()).contains(&month)
    };
    assert_eq!(answers.len(), requests);
    let mut archive_bytes = 0;
    for (path, status, len) in &answers {
        if archived(path) {
            assert_eq!(*status, StatusCode::OK, "{path}");
            archive_bytes += *len as u64;
        } else {
            assert_eq!(*status, StatusCode::NOT_FOUND, "{path}");
        }
    }
    let archives = answers.iter().filter(|(p, ..)| archived(p)).count();
    assert_eq!(archives, langs.len() * (MONTHS as usize - 1));
    // A render holds its identity body and more (gzip): the archives'
    // identity bodies alone are several times what the cache may hold.
    assert!(
        archive_bytes >= 3 * MAX_BYTES,
        "the archives are only {archive_bytes} bytes"
    );

    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let bound = baseline + MAX_BYTES + OVERHEAD;
    eprintln!(
        "{requests} requests in {crawled:.1?}, {archives} archives of {:.1} MiB; \
         start-up {:.1} MiB, then VmRSS {:.1} MiB, VmHWM {:.1} MiB; bound {:.1} MiB",
        mib(archive_bytes),
        mib(baseline),
        mib(rss),
        mib(peak),
        mib(bound),
    );
    assert!(
        peak <= bound,
        "peak resident set {:.1} MiB over the bound {:.1} MiB \
         (start-up {:.1} + max_bytes {:.1} + overhead {:.1})",
        mib(peak),
        mib(bound),
        mib(baseline),
        mib(MAX_BYTES),
        mib(OVERHEAD),
    );
}
