//! Bulk loads: a folder of article JSON files, or a JSON Lines file. Each record
//! is validated like a write through the API; good ones are stored in batched
//! transactions, bad ones are reported with where they came from and why.

use std::path::{Path, PathBuf};

use crate::article::Article;
use crate::config::Config;
use crate::store::{ArticleStore, StoreError};

/// Articles per transaction: large enough to amortize the commit, small enough
/// that a failure loses little work.
const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is neither a folder of .json files nor a .jsonl file")]
    NotImportable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("import task failed: {0}")]
    Task(String),
}

/// A record that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// `file` or `file:line`.
    pub record: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    pub failed: Vec<RecordError>,
}

/// Imports every record under `path`.
pub async fn import_path<S: ArticleStore>(
    store: &S,
    config: &Config,
    path: &Path,
) -> Result<ImportReport, ImportError> {
    let owned = path.to_owned();
    let records = tokio::task::spawn_blocking(move || read_records(&owned))
        .await
        .map_err(|e| ImportError::Task(e.to_string()))??;
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    for (record, text) in records {
        match Article::from_json(&text).and_then(|a| a.validate(config).map(|()| a)) {
            Ok(article) => batch.push(article),
            Err(invalid) => report.failed.push(RecordError {
                record,
                reason: invalid.to_string(),
            }),
        }
        if batch.len() == BATCH {
            report.imported += batch.len();
            store.put_articles(std::mem::take(&mut batch)).await?;
        }
    }
    report.imported += batch.len();
    if !batch.is_empty() {
        store.put_articles(batch).await?;
    }
    Ok(report)
}

/// Writes every stored article as one JSON line, in id order; returns the count.
/// The output imports back with [`import_path`] into the same store state.
pub async fn export<S: ArticleStore>(
    store: &S,
    out: &mut impl std::io::Write,
) -> Result<usize, ImportError> {
    let mut after = None;
    let mut count = 0;
    loop {
        let page = store.articles_after(after.clone(), BATCH).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for article in &page {
            let line =
                serde_json::to_string(article).map_err(|e| ImportError::Task(e.to_string()))?;
            writeln!(out, "{line}").map_err(|source| ImportError::Read {
                path: "output".to_owned(),
                source,
            })?;
        }
        count += page.len();
    }
    Ok(count)
}

/// Every record's origin and text: one per `.json` file (sorted by name, so
/// imports are repeatable), or one per non-blank line of a `.jsonl` file.
fn read_records(path: &Path) -> Result<Vec<(String, String)>, ImportError> {
    let read_err = |p: &Path, source| ImportError::Read {
        path: p.display().to_string(),
        source,
    };
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| read_err(path, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        let mut records = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| read_err(&file, e))?;
            records.push((file.display().to_string(), text));
        }
        return Ok(records);
    }
    if path
        .extension()
        .is_some_and(|ext| ext == "jsonl" || ext == "ndjson")
    {
        let text = std::fs::read_to_string(path).map_err(|e| read_err(path, e))?;
        return Ok(text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| (format!("{}:{}", path.display(), i + 1), line.to_owned()))
            .collect());
    }
    if path.extension().is_some_and(|ext| ext == "json") {
        let text = std::fs::read_to_string(path).map_err(|e| read_err(path, e))?;
        return Ok(vec![(path.display().to_string(), text)]);
    }
    Err(ImportError::NotImportable(path.display().to_string()))
}
