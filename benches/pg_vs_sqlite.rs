//! Cold render on PostgreSQL against SQLite, for the same store: the cost of a
//! cache miss (`FeedCache::get` after every render was retired: store read,
//! build, render, compress) on each backend, in one run, alternating between
//! them so both see the same machine.
//!
//! Both stores hold the deterministic corpus of `support/corpus.rs` (six
//! versions per article), loaded through `put_articles` in batches of 1,000.
//! They are kept between runs: the SQLite file under `target/kabar-bench/`, the
//! PostgreSQL database as `kabar_bench_v{corpus}_{size}` on the bench server.
//! The PostgreSQL query plans of the timed feeds are printed first.
//!
//! `cargo bench --bench pg_vs_sqlite`. The server is `KABAR_BENCH_DATABASE_URL`,
//! else `KABAR_TEST_DATABASE_URL`, else postgres://postgres@127.0.0.1:5432/postgres
//! (it must allow CREATE DATABASE). `KABAR_BENCH_ARTICLES` sets the size
//! (100,000 by default), `KABAR_BENCH_ITERATIONS` the timed renders per feed
//! and backend (200).

#[path = "support/corpus.rs"]
mod corpus;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kabar::feed;
use kabar::urls::Format;
use kabar::urls::Resource;
use kabar::{App, ArticleStore, Config, PgStore, SqliteStore};
use tokio_postgres::NoTls;

/// Articles per transaction while loading a store.
const LOAD_BATCH: u64 = 1_000;

/// Renders before timing starts (statement caches, page cache).
const WARM_UP: usize = 20;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn server_url() -> String {
    ["KABAR_BENCH_DATABASE_URL", "KABAR_TEST_DATABASE_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(server: &str, db: &str) -> String {
    let mut url = url::Url::parse(server).expect("the bench server's URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

fn bench_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("kabar-bench")
}

async fn load<S: ArticleStore>(store: &S, size: u64, name: &str) {
    let started = Instant::now();
    let mut next = 0;
    while next < size {
        let end = (next + LOAD_BATCH).min(size);
        store
            .put_articles((next..end).map(corpus::article).collect())
            .await
            .expect("put articles");
        next = end;
    }
    eprintln!(
        "{name}: loaded {size} articles in {:.1?}",
        started.elapsed()
    );
}

/// The SQLite store of `size` corpus articles, loaded on first use.
async fn sqlite(size: u64) -> SqliteStore {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).expect("bench folder");
    let path = dir.join(format!(
        "pg-vs-sqlite-v{}-{size}.sqlite",
        corpus::CORPUS_VERSION
    ));
    if !path.exists() {
        let partial = path.with_extension("partial");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
        }
        let (store, _) = SqliteStore::open(&partial).expect("open SQLite");
        load(&store, size, "SQLite").await;
        drop(store);
        let conn = rusqlite::Connection::open(&partial).expect("reopen");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
        drop(conn);
        std::fs::rename(&partial, &path).expect("rename");
    }
    let (store, _) = SqliteStore::open(&path).expect("open SQLite");
    assert_eq!(store.article_count().await.expect("count"), size);
    store
}

/// The PostgreSQL store of `size` corpus articles, loaded on first use into
/// a database renamed into place only when complete.
async fn postgres(server: &str, size: u64) -> PgStore {
    let name = format!("kabar_bench_v{}_{size}", corpus::CORPUS_VERSION);
    let partial = format!("{name}_partial");
    let (admin, connection) = tokio_postgres::connect(server, NoTls)
        .await
        .unwrap_or_else(|e| panic!("the bench PostgreSQL server ({server}) does not answer: {e}"));
    tokio::spawn(connection);
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("pg_database")
        .is_some();
    if !exists {
        // One statement each: a multi-statement string runs as one
        // transaction, where these cannot.
        for sql in [
            format!("DROP DATABASE IF EXISTS {partial} WITH (FORCE)"),
            format!("CREATE DATABASE {partial}"),
        ] {
            admin
                .batch_execute(&sql)
                .await
                .expect("create the bench database");
        }
        let (store, _) = PgStore::open(&with_database(server, &partial))
            .await
            .expect("open PostgreSQL");
        load(&store, size, "PostgreSQL").await;
        drop(store);
        tokio::time::sleep(Duration::from_millis(200)).await;
        admin
            .batch_execute(&format!("ALTER DATABASE {partial} RENAME TO {name}"))
            .await
            .expect("rename the bench database");
    }
    let url = with_database(server, &name);
    let (db, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    // Fresh statistics, as autovacuum would have them on a live database.
    db.batch_execute("VACUUM ANALYZE").await.expect("analyze");
    let (store, _) = PgStore::open(&url).await.expect("open PostgreSQL");
    assert_eq!(store.article_count().await.expect("count"), size);
    store
}

struct Timings(Vec<Duration>);

impl Timings {
    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[at]
    }

    fn mean(&self) -> Duration {
        self.0.iter().sum::<Duration>() / u32::try_from(self.0.len()).unwrap_or(1)
    }
}

/// One cold render: retire everything, then ask the cache.
async fn cold<S: ArticleStore>(app: &App<S>, resource: Resource) -> Duration {
    app.cache.invalidate_all();
    let started = Instant::now();
    let rep = app.cache.get(resource).await.expect("render");
    let took = started.elapsed();
    assert!(!rep.identity.bytes.is_empty());
    took
}

/// The store read alone.
async fn rows<S: ArticleStore>(app: &App<S>, query: &kabar::store::FeedQuery) -> Duration {
    let started = Instant::now();
    let rows = app.store.feed_rows(query.clone()).await.expect("rows");
    let took = started.elapsed();
    assert_eq!(rows.len(), query.limit);
    took
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs benches without `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("pg_vs_sqlite: run with `cargo bench --bench pg_vs_sqlite`");
        return;
    }
    let size = env_number("KABAR_BENCH_ARTICLES", 100_000);
    let iterations = usize::try_from(env_number("KABAR_BENCH_ITERATIONS", 200)).unwrap_or(200);
    let config = Arc::new(
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml"))
            .expect("feeds.toml"),
    );
    let server = server_url();
    let sqlite = App::new(Arc::clone(&config), Arc::new(sqlite(size).await), None);
    let postgres = App::new(
        Arc::clone(&config),
        Arc::new(postgres(&server, size).await),
        None,
    );

    let lang = |code: &str| {
        config
            .languages
            .iter()
            .position(|l| l.code() == code)
            .expect("language")
    };
    let world = config.sections.iter().position(|s| s.slug() == "world");
    let feeds = [
        ("/fr/rss.xml", lang("fr"), None, Format::Rss),
        ("/zh/world/atom.xml", lang("zh"), world, Format::Atom),
    ];

    for (path, l, s, _) in feeds {
        let query = feed::query(
            &config,
            &config.languages[l],
            s.map(|s| &config.sections[s]),
        );
        println!(
            "EXPLAIN ANALYZE of {path} on PostgreSQL ({size} articles):\n{}\n",
            postgres.store.explain_feed(&query).await.expect("explain")
        );
    }

    println!(
        "{size} articles × {} versions, {iterations} cold renders per feed and backend",
        corpus::LANGUAGES.len()
    );
    println!("| feed | step | SQLite median (p90) | PostgreSQL median (p90) | PG / SQLite |");
    println!("| --- | --- | --- | --- | --- |");
    for (path, l, s, format) in feeds {
        let resource = Resource::Feed {
            lang: l,
            section: s,
            format,
        };
        let query = feed::query(
            &config,
            &config.languages[l],
            s.map(|s| &config.sections[s]),
        );
        for _ in 0..WARM_UP {
            cold(&sqlite, resource).await;
            cold(&postgres, resource).await;
        }
        let (mut read_a, mut read_b, mut cold_a, mut cold_b) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..iterations {
            cold_a.push(cold(&sqlite, resource).await);
            cold_b.push(cold(&postgres, resource).await);
            read_a.push(rows(&sqlite, &query).await);
            read_b.push(rows(&postgres, &query).await);
        }
        for (step, a, b) in [
            ("store read (feed_rows)", Timings(read_a), Timings(read_b)),
            (
                "cold render (read + build + render + compress)",
                Timings(cold_a),
                Timings(cold_b),
            ),
        ] {
            let ratio = b.quantile(0.5).as_secs_f64() / a.quantile(0.5).as_secs_f64();
            println!(
                "| {path} | {step} | {} ({}) | {} ({}) | {ratio:.2} |",
                ms(a.quantile(0.5)),
                ms(a.quantile(0.9)),
                ms(b.quantile(0.5)),
                ms(b.quantile(0.9)),
            );
            eprintln!(
                "{path} {step}: means SQLite {} PostgreSQL {}",
                ms(a.mean()),
                ms(b.mean())
            );
        }
    }
}
