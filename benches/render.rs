//! Cold feed renders: what a cache miss costs, measured on the real path
//! (`store.feed_rows` → `feed::build` → `render::feed` → `Representation::new`,
//! the last three through `serve::render_feed`, the function a miss runs).
//!
//! The store holds 1,000 and 100,000 articles of the deterministic corpus
//! (`support/corpus.rs`), six versions each, generated once in batched
//! transactions and kept under `target/kabar-bench/` keyed by size and corpus
//! version, so re-runs start at once. The same feed (the newest 50 items of a
//! language) is timed at both sizes: the two figures should match.
//!
//! `cargo bench --bench render`; `KABAR_BENCH_SIZES=1000` limits the sizes, and
//! criterion's own filter picks benchmarks (`cargo bench --bench render -- cold/1000/fr`).
//!
//! `KABAR_BENCH_CPU=1` measures the CPU time of the whole process (every
//! thread: the store read runs on tokio's blocking pool) instead of wall-clock
//! time, under group names ending in `-cpu`: on a machine shared with other
//! work, wall-clock time counts the time other processes had the core, CPU
//! time does not.

#[path = "support/corpus.rs"]
mod corpus;

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BatchSize, Criterion, Throughput};
use kabar::feed;
use kabar::serve;
use kabar::serve::representation::{Encoding, Representation};
use kabar::urls::Format;
use kabar::{ArticleStore, Config, SqliteStore};

/// Articles per transaction while generating a store.
const GENERATE_BATCH: u64 = 1_000;

/// Languages timed: a Latin, a CJK and an Arabic one.
const LANGS: [&str; 3] = ["fr", "zh", "ar"];

fn sizes() -> Vec<u64> {
    std::env::var("KABAR_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 100_000])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn config() -> Config {
    Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml")).expect("feeds.toml")
}

fn bench_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("kabar-bench")
}

/// The store of `size` corpus articles, generated on first use.
fn store(rt: &tokio::runtime::Runtime, size: u64) -> SqliteStore {
    let dir = bench_dir();
    let path = dir.join(format!("store-v{}-{size}.sqlite", corpus::CORPUS_VERSION));
    if !path.exists() {
        std::fs::create_dir_all(&dir).expect("bench folder");
        let partial = path.with_extension("partial");
        remove_sqlite(&partial);
        let started = Instant::now();
        eprintln!(
            "generating {size} articles × 6 versions into {}",
            path.display()
        );
        let (store, _) = SqliteStore::open(&partial).expect("open store");
        let mut next = 0;
        while next < size {
            let end = (next + GENERATE_BATCH).min(size);
            let batch = (next..end).map(corpus::article).collect();
            rt.block_on(store.put_articles(batch))
                .expect("put articles");
            next = end;
        }
        drop(store);
        // Fold the WAL back into the file so the rename moves the whole store.
        let conn = rusqlite::Connection::open(&partial).expect("reopen store");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
        drop(conn);
        std::fs::rename(&partial, &path).expect("rename store");
        remove_sqlite(&partial);
        eprintln!("generated in {:.1?}", started.elapsed());
    }
    let (store, _) = SqliteStore::open(&path).expect("open store");
    let count = rt.block_on(store.article_count()).expect("count");
    assert_eq!(count, size, "{} holds {count} articles", path.display());
    store
}

fn remove_sqlite(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

fn lang_index(config: &Config, code: &str) -> usize {
    config
        .languages
        .iter()
        .position(|l| l.code() == code)
        .expect("language in feeds.toml")
}

/// Store read + build + render + compress, for every language and format.
fn cold<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    let rt = runtime();
    let config = config();
    for size in sizes() {
        let store = store(&rt, size);
        let mut group = c.benchmark_group(format!("cold{suffix}/{size}"));
        for code in LANGS {
            let lang = lang_index(&config, code);
            let query = feed::query(&config, &config.languages[lang], None);
            for format in Format::ALL {
                group.bench_function(format!("{code}/{}", format.name()), |b| {
                    b.iter(|| {
                        let rows = rt
                            .block_on(store.feed_rows(query.clone()))
                            .expect("feed rows");
                        serve::render_feed(&config, lang, None, format, &rows).expect("render")
                    });
                });
            }
        }
        group.finish();
    }
}

/// The cold path cut into its steps, for one feed of each script: the store
/// read at every size, the rest at the first size (it does not see the
/// store): where the milliseconds go.
fn steps<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    let rt = runtime();
    let config = config();
    for size in sizes() {
        let store = store(&rt, size);
        let mut group = c.benchmark_group(format!("steps{suffix}/{size}"));
        for code in LANGS {
            let query = feed::query(&config, &config.languages[lang_index(&config, code)], None);
            group.bench_function(format!("{code}/rows"), |b| {
                b.iter(|| rt.block_on(store.feed_rows(query.clone())).expect("rows"));
            });
        }
        group.finish();
    }
    let size = sizes()[0];
    let store = store(&rt, size);
    let mut group = c.benchmark_group(format!("steps{suffix}/{size}"));
    for code in LANGS {
        let lang = lang_index(&config, code);
        let language = &config.languages[lang];
        let query = feed::query(&config, language, None);
        let rows = rt.block_on(store.feed_rows(query.clone())).expect("rows");
        group.bench_function(format!("{code}/build"), |b| {
            b.iter(|| feed::build(&config, language, None, black_box(&rows)));
        });
        let built = feed::build(&config, language, None, &rows);
        for format in Format::ALL {
            group.bench_function(format!("{code}/render/{}", format.name()), |b| {
                b.iter(|| kabar::render::feed(black_box(&built), format, &config).expect("render"));
            });
            let body = kabar::render::feed(&built, format, &config).expect("render");
            let rep = Representation::new::<chrono::Utc>("text/plain", body.clone(), None, None);
            eprintln!(
                "{code}/{}: identity {} B, gzip {} B, br {} B",
                format.name(),
                rep.identity.bytes.len(),
                rep.gzip.bytes.len(),
                rep.body(Encoding::Brotli).bytes.len()
            );
            group.bench_function(format!("{code}/compress/{}", format.name()), |b| {
                b.iter(|| {
                    Representation::new::<chrono::Utc>("text/plain", body.clone(), None, None)
                });
            });
            // What the first client that prefers brotli adds, once per render.
            group.bench_function(format!("{code}/first-br/{}", format.name()), |b| {
                b.iter_batched(
                    || Representation::new::<chrono::Utc>("text/plain", body.clone(), None, None),
                    |rep| rep.body(Encoding::Brotli).bytes.len(),
                    BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
}

/// Brotli and gzip alone at several levels on the RSS body of each language:
/// the size each buys and its price, to choose `BROTLI_QUALITY` and
/// `GZIP_LEVEL` in `src/representation.rs` by measurement.
fn compression_levels<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    let rt = runtime();
    let config = config();
    let size = sizes()[0];
    let store = store(&rt, size);
    for code in LANGS {
        let lang = lang_index(&config, code);
        let language = &config.languages[lang];
        let rows = rt
            .block_on(store.feed_rows(feed::query(&config, language, None)))
            .expect("rows");
        let built = feed::build(&config, language, None, &rows);
        let body = kabar::render::feed(&built, Format::Rss, &config).expect("render");
        let mut group = c.benchmark_group(format!("brotli{suffix}/{code}/rss"));
        for quality in [1, 2, 3, 4, 5, 6, 9, 11] {
            eprintln!(
                "{code} brotli q{quality}: {} B of {} B",
                brotli(&body, quality).len(),
                body.len()
            );
            group.bench_function(format!("q{quality}"), |b| {
                b.iter(|| brotli(black_box(&body), quality));
            });
        }
        group.finish();
        let mut group = c.benchmark_group(format!("gzip{suffix}/{code}/rss"));
        for level in [1, 2, 3, 4, 5, 6, 9] {
            eprintln!(
                "{code} gzip {level}: {} B of {} B",
                gzip(&body, level).len(),
                body.len()
            );
            group.bench_function(format!("level{level}"), |b| {
                b.iter(|| gzip(black_box(&body), level));
            });
        }
        group.finish();
    }
}

fn gzip(body: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new().write(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::new(level),
    );
    encoder.write_all(body).expect("compress");
    encoder.finish().expect("compress")
}

fn brotli(body: &[u8], quality: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 4);
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, 22);
        writer.write_all(body).expect("compress");
        writer.flush().expect("compress");
    }
    out
}

fn config_for<M: Measurement>(c: Criterion<M>) -> Criterion<M> {
    c.sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args()
}

fn main() {
    if std::env::var_os("KABAR_BENCH_CPU").is_some() {
        let mut c = config_for(Criterion::default().with_measurement(ProcessCpu));
        cold(&mut c, "-cpu");
        steps(&mut c, "-cpu");
        compression_levels(&mut c, "-cpu");
        c.final_summary();
    } else {
        let mut c = config_for(Criterion::default());
        cold(&mut c, "");
        steps(&mut c, "");
        compression_levels(&mut c, "");
        c.final_summary();
    }
}

/// CPU time of the whole process, all threads, in nanoseconds.
struct ProcessCpu;

impl ProcessCpu {
    fn now() -> u64 {
        /// `CLOCK_PROCESS_CPUTIME_ID` in Linux's time.h.
        const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        unsafe extern "C" {
            fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
        }
        let mut time = Timespec { sec: 0, nsec: 0 };
        // SAFETY: `time` is a valid, writable timespec for the call.
        let status = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut time) };
        assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
        u64::try_from(time.sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(time.nsec).unwrap_or(0)
    }
}

impl Measurement for ProcessCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        ProcessCpu::now()
    }

    fn end(&self, start: u64) -> u64 {
        ProcessCpu::now().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Nanoseconds of CPU, shown like criterion's wall-clock times.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns (CPU)")
        } else if typical < 1e6 {
            (1e-3, "µs (CPU)")
        } else if typical < 1e9 {
            (1e-6, "ms (CPU)")
        } else {
            (1e-9, "s (CPU)")
        };
        for value in values {
            *value *= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        _: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per = match throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => {
                *n as f64
            }
            _ => 1.0,
        };
        for value in values {
            *value = per * 1e9 / *value;
        }
        "per CPU second"
    }

    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}
