//! Writes the deterministic benchmark corpus (`benches/support/corpus.rs`):
//! as JSON Lines for `kabar import`, or straight into a SQLite store.
//!
//! ```sh
//! cargo run --release --example corpus -- jsonl 10000 > articles.jsonl
//! cargo run --release --example corpus -- jsonl 1000 --first 10000 > more.jsonl
//! cargo run --release --example corpus -- sqlite 100000 store.sqlite
//! ```

#[path = "../benches/support/corpus.rs"]
mod corpus;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use kabar::{ArticleStore, SqliteStore};

/// Articles per transaction when writing a store.
const BATCH: u64 = 1_000;

const USAGE: &str = "usage: corpus jsonl COUNT [--first N] | corpus sqlite COUNT PATH";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |s: Option<&String>| s.and_then(|s| s.parse::<u64>().ok());
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["jsonl", n] | ["jsonl", n, "--first", _] => {
            let first = count(args.get(3)).unwrap_or(0);
            match n.parse::<u64>() {
                Ok(n) => jsonl(first, n),
                Err(_) => Err(USAGE.to_owned()),
            }
        }
        ["sqlite", n, path] => match n.parse::<u64>() {
            Ok(n) => sqlite(n, Path::new(path)),
            Err(_) => Err(USAGE.to_owned()),
        },
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("corpus: {error}");
            ExitCode::FAILURE
        }
    }
}

fn jsonl(first: u64, count: u64) -> Result<(), String> {
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout);
    corpus::json_lines(first..first + count, &mut out).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

/// Loads articles `0..count` into a new store at `path`, in transactions of
/// [`BATCH`] articles, as the render benchmark does.
fn sqlite(count: u64, path: &Path) -> Result<(), String> {
    if path.exists() {
        return Err(format!("{} exists", path.display()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (store, _) = SqliteStore::open(path).map_err(|e| e.to_string())?;
    let mut next = 0;
    while next < count {
        let end = (next + BATCH).min(count);
        let batch = (next..end).map(corpus::article).collect();
        runtime
            .block_on(store.put_articles(batch))
            .map_err(|e| e.to_string())?;
        next = end;
    }
    drop(store);
    eprintln!(
        "wrote {count} articles to {} in {:.1?}",
        path.display(),
        started.elapsed()
    );
    Ok(())
}
