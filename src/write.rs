//! The newsroom's write path: validate, store in one durable transaction, retire
//! exactly the feeds the write touched, tell WebSub hubs and queue deliveries
//! to the built-in hub's subscribers.
//!
//! The HTTP API and the tests call these functions; they know nothing of HTTP.

use crate::app::App;
use crate::article::{Article, Invalid, Version};
use crate::store::{ArticleStore, Change, IfMatch, StoreError};

/// How often a version write retries when another write changed the article
/// between our read and our write.
const VERSION_WRITE_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    NotFound(String),
    #[error("the article does not match If-Match")]
    PreconditionFailed,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::PreconditionFailed => WriteError::PreconditionFailed,
            other => WriteError::Store(other),
        }
    }
}

/// The outcome of a write.
#[derive(Debug)]
pub struct Written {
    /// The article as stored now; `None` after a delete.
    pub article: Option<Article>,
    /// Whether the write created the article.
    pub created: bool,
}

/// Creates or replaces a whole article.
pub async fn put_article<S: ArticleStore>(
    app: &App<S>,
    id: &str,
    article: Article,
    if_match: Option<IfMatch>,
) -> Result<Written, WriteError> {
    if article.id != id {
        return Err(Invalid::new(
            "id",
            format!("is {:?} but the URL names {id:?}", article.id),
        )
        .into());
    }
    article.validate(&app.config)?;
    let change = app.store.put_article(article, if_match).await?;
    Ok(announce(app, change).await)
}

/// Adds or replaces one language version of an existing article.
pub async fn put_version<S: ArticleStore>(
    app: &App<S>,
    id: &str,
    lang: &str,
    version: Version,
    if_match: Option<IfMatch>,
) -> Result<Written, WriteError> {
    update(app, id, if_match, |article| {
        article.versions.insert(lang.to_owned(), version.clone());
        Ok(())
    })
    .await
}

/// Removes one translation; the original can only go with its article.
pub async fn delete_version<S: ArticleStore>(
    app: &App<S>,
    id: &str,
    lang: &str,
    if_match: Option<IfMatch>,
) -> Result<Written, WriteError> {
    if lang == app.config.original_language() {
        return Err(WriteError::Conflict(format!(
            "the {lang} version is the original: delete the article instead"
        )));
    }
    update(app, id, if_match, |article| {
        match article.versions.remove(lang) {
            Some(_) => Ok(()),
            None => Err(WriteError::NotFound(format!(
                "article {id:?} has no {lang} version"
            ))),
        }
    })
    .await
}

/// Retracts an article from every feed.
pub async fn delete_article<S: ArticleStore>(
    app: &App<S>,
    id: &str,
    if_match: Option<IfMatch>,
) -> Result<Written, WriteError> {
    let change = app.store.delete_article(id.to_owned(), if_match).await?;
    if change.before.is_none() {
        return Err(WriteError::NotFound(format!("no article {id:?}")));
    }
    Ok(announce(app, change).await)
}

/// Read, modify, validate, write back guarded by the article's own entity tag,
/// so a concurrent write is never overwritten; retried when one lands between.
async fn update<S: ArticleStore>(
    app: &App<S>,
    id: &str,
    if_match: Option<IfMatch>,
    modify: impl Fn(&mut Article) -> Result<(), WriteError>,
) -> Result<Written, WriteError> {
    for _ in 0..VERSION_WRITE_ATTEMPTS {
        let current = app.store.article(id.to_owned()).await?;
        let Some(mut article) = current else {
            return Err(WriteError::NotFound(format!("no article {id:?}")));
        };
        if if_match.as_ref().is_some_and(|c| !c.holds(Some(&article))) {
            return Err(WriteError::PreconditionFailed);
        }
        let guard = IfMatch::Tags(vec![article.etag()]);
        modify(&mut article)?;
        article.validate(&app.config)?;
        match app.store.put_article(article, Some(guard)).await {
            Ok(change) => return Ok(announce(app, change).await),
            Err(StoreError::PreconditionFailed) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(WriteError::Conflict(format!(
        "article {id:?} kept changing during the write; try again"
    )))
}

/// Retires the touched feeds and tells the hubs; returns what the client gets.
async fn announce<S: ArticleStore>(app: &App<S>, change: Change) -> Written {
    let created = change.before.is_none() && change.after.is_some();
    if !change.touched.is_empty() {
        // Retired before it is marked as ours: a follower that reads the
        // record in between retires it again, rather than passing it with
        // the old render still cached (a hub delivery could send that).
        let resources = app.cache.retire(&change.touched).await;
        app.own_writes.mark_own(change.seq);
        app.announce(&resources).await;
    }
    Written {
        article: change.after,
        created,
    }
}
