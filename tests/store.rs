//! The store trait's behaviour, written once and run against both backends:
//! every behaviour below is a generic async fn, and `on_both!` makes a
//! `sqlite::NAME` and a `postgres::NAME` test of it. PostgreSQL's own duties
//! (migrating once when replicas start together, NOTIFY, the change log's
//! order under concurrent writers, the listener's reconnects) and identical
//! bytes across the two backends follow.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kabar::app::{self, Seed};
use kabar::article::Article;
use kabar::config::DatabaseUrl;
use kabar::store::{ArticleStore, FeedQuery, IfMatch, Seek, StoreError, Touched};
use kabar::urls::{Format, Resource, TagSlug};
use kabar::{App, PgStore};

use common::{DEADLINE, Site, pg};
use futures_util::FutureExt;

/// An article in the original language and `langs`, published at `published`
/// (RFC 3339), in `section`.
fn article(id: &str, published: &str, section: Option<&str>, langs: &[&str]) -> Article {
    let mut versions = serde_json::Map::new();
    versions.insert(
        "id".to_owned(),
        serde_json::json!({
            "translation": "original",
            "title": format!("Judul {id}"),
            "body": format!("Isi {id}.\n\nParagraf kedua."),
            "url": format!("https://kabar.example/id/{id}"),
        }),
    );
    for lang in langs {
        versions.insert(
            (*lang).to_owned(),
            serde_json::json!({
                "translation": "machine",
                "body": format!("<p>Body of {id} in {lang} &amp; more</p>"),
                "format": "html",
                "url": format!("https://kabar.example/{lang}/{id}"),
                "updated": "2026-11-04T01:02:03+09:00",
            }),
        );
    }
    let json = serde_json::json!({
        "id": id,
        "section": section,
        "published": published,
        "tags": ["Rusia", "politik"],
        "authors": [{"name": "Rina Wulandari", "email": "rina@kabar.example"}],
        "image": {"url": "https://kabar.example/img/x.jpg", "type": "image/jpeg", "width": 1200, "alt": "Foto"},
        "versions": versions,
    });
    Article::from_json(&json.to_string()).expect("a valid article")
}

fn ids(rows: &[kabar::store::FeedRow]) -> Vec<&str> {
    rows.iter().map(|r| r.article.id.as_str()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn feed(lang: &str, section: Option<&str>, limit: usize) -> FeedQuery {
    FeedQuery {
        lang: lang.to_owned(),
        section: section.map(str::to_owned),
        tag: None,
        limit,
        published_ms: FeedQuery::ALL_TIME,
    }
}

async fn put<S: ArticleStore>(store: &S, article: Article) -> kabar::store::Change {
    store.put_article(article, None).await.expect("put")
}

// ---- behaviours, once for every backend ------------------------------------

async fn put_then_get_round_trips<S: ArticleStore>(store: &S) {
    let mut a = article(
        "round-trip",
        "2026-11-03T21:35:00+07:00",
        Some("world"),
        &["fr", "ar"],
    );
    a.updated = Some("2026-11-03T16:10:00+01:00".parse().unwrap());
    put(store, a.clone()).await;
    let got = store
        .article("round-trip".into())
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(got, a);
    // Times keep their offset, not just their instant: feeds print them.
    assert_eq!(got.published.to_rfc3339(), "2026-11-03T21:35:00+07:00");
    assert_eq!(
        got.updated.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-03T16:10:00+01:00")
    );
    assert_eq!(got.etag(), a.etag());
    assert_eq!(store.article("missing".into()).await.unwrap(), None);
    assert_eq!(store.article_count().await.unwrap(), 1);
}

async fn feeds_list_newest_first_ties_by_id_bytes<S: ArticleStore>(store: &S) {
    // "a-b" sorts before "aa" by bytes ('-' < 'a'), but after it in most
    // locales' collations, which ignore hyphens: the store must use bytes.
    for (id, at) in [
        ("old", "2026-11-01T08:00:00+07:00"),
        ("aa", "2026-11-02T08:00:00+07:00"),
        ("a-b", "2026-11-02T02:00:00+01:00"),
        ("new", "2026-11-03T08:00:00+07:00"),
    ] {
        put(store, article(id, at, Some("world"), &["fr"])).await;
    }
    let rows = store.feed_rows(feed("fr", None, 50)).await.unwrap();
    assert_eq!(ids(&rows), ["new", "a-b", "aa", "old"]);
    let rows = store.feed_rows(feed("id", None, 50)).await.unwrap();
    assert_eq!(ids(&rows), ["new", "a-b", "aa", "old"]);
    assert!(
        store
            .feed_rows(feed("ja", None, 50))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn section_feeds_hold_their_section_only<S: ArticleStore>(store: &S) {
    put(
        store,
        article("w1", "2026-11-01T08:00:00+07:00", Some("world"), &["en"]),
    )
    .await;
    put(
        store,
        article("b1", "2026-11-02T08:00:00+07:00", Some("business"), &["en"]),
    )
    .await;
    put(
        store,
        article("w2", "2026-11-03T08:00:00+07:00", Some("world"), &["en"]),
    )
    .await;
    put(
        store,
        article("none", "2026-11-04T08:00:00+07:00", None, &["en"]),
    )
    .await;
    let rows = store
        .feed_rows(feed("en", Some("world"), 50))
        .await
        .unwrap();
    assert_eq!(ids(&rows), ["w2", "w1"]);
    let rows = store
        .feed_rows(feed("en", Some("business"), 50))
        .await
        .unwrap();
    assert_eq!(ids(&rows), ["b1"]);
    let rows = store.feed_rows(feed("en", None, 50)).await.unwrap();
    assert_eq!(ids(&rows), ["none", "w2", "b1", "w1"]);
}

async fn feeds_stop_at_the_limit<S: ArticleStore>(store: &S) {
    let batch = (0..12)
        .map(|i| {
            article(
                &format!("n{i:02}"),
                &format!("2026-11-{:02}T08:00:00+07:00", i + 1),
                None,
                &["ja"],
            )
        })
        .collect();
    store.put_articles(batch).await.unwrap();
    let rows = store.feed_rows(feed("ja", None, 5)).await.unwrap();
    assert_eq!(ids(&rows), ["n11", "n10", "n09", "n08", "n07"]);
    assert_eq!(store.feed_rows(feed("ja", None, 1)).await.unwrap().len(), 1);
}

async fn feed_rows_carry_article_version_and_siblings<S: ArticleStore>(store: &S) {
    let a = article(
        "sib",
        "2026-11-03T21:35:00+07:00",
        Some("world"),
        &["fr", "ar", "en"],
    );
    put(store, a.clone()).await;
    let rows = store.feed_rows(feed("fr", None, 50)).await.unwrap();
    let [row] = rows.as_slice() else {
        panic!("one row: {rows:?}")
    };
    assert_eq!(row.version, a.versions["fr"]);
    assert_eq!(row.article.id, "sib");
    assert_eq!(row.article.section.as_deref(), Some("world"));
    assert_eq!(
        row.article.published.to_rfc3339(),
        "2026-11-03T21:35:00+07:00"
    );
    // No update time: the publish time stands in.
    assert_eq!(row.article.updated, row.article.published);
    assert_eq!(row.article.tags, a.tags);
    assert_eq!(row.article.authors, a.authors);
    assert_eq!(row.article.image, a.image);
    let siblings: Vec<(&str, Option<&str>, &str)> = row
        .siblings
        .iter()
        .map(|s| {
            (
                s.lang.as_str(),
                s.url.as_ref().map(|u| u.as_str()),
                s.translation.as_str(),
            )
        })
        .collect();
    assert_eq!(
        siblings,
        [
            ("ar", Some("https://kabar.example/ar/sib"), "machine"),
            ("en", Some("https://kabar.example/en/sib"), "machine"),
            ("id", Some("https://kabar.example/id/sib"), "original"),
        ]
    );
}

async fn the_nearest_publication_either_side_of_an_instant<S: ArticleStore>(store: &S) {
    let (jan, mar_fr, mar_id, jun) = (
        "2026-01-10T08:00:00+07:00",
        "2026-03-05T08:00:00+07:00",
        "2026-03-20T08:00:00+07:00",
        "2026-06-01T00:00:00+07:00",
    );
    for (id, at, langs) in [
        ("jan", jan, &["fr"][..]),
        ("mar-fr", mar_fr, &["fr"]),
        ("mar-id", mar_id, &[]),
        ("jun", jun, &["fr"]),
    ] {
        put(store, article(id, at, None, langs)).await;
    }
    let ms = |at: &str| {
        chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .timestamp_millis()
    };
    let near = async |lang: &str, seek| store.published_near(lang.into(), seek).await.unwrap();
    assert_eq!(near("fr", Seek::Before(i64::MAX)).await, Some(ms(jun)));
    // Before excludes the instant, From includes it; only the language counts.
    assert_eq!(near("fr", Seek::Before(ms(jun))).await, Some(ms(mar_fr)));
    assert_eq!(near("id", Seek::Before(ms(jun))).await, Some(ms(mar_id)));
    assert_eq!(near("fr", Seek::From(ms(mar_fr))).await, Some(ms(mar_fr)));
    assert_eq!(near("fr", Seek::From(ms(mar_fr) + 1)).await, Some(ms(jun)));
    assert_eq!(
        near("id", Seek::From(ms(mar_fr) + 1)).await,
        Some(ms(mar_id))
    );
    assert_eq!(near("fr", Seek::From(i64::MIN)).await, Some(ms(jan)));
    assert_eq!(near("fr", Seek::Before(ms(jan))).await, None);
    assert_eq!(near("fr", Seek::From(ms(jun) + 1)).await, None);
    assert_eq!(near("ja", Seek::From(i64::MIN)).await, None);
}

async fn if_match_guards_writes<S: ArticleStore>(store: &S) {
    let a = article("guarded", "2026-11-03T08:00:00+07:00", None, &["fr"]);
    // Nothing stored: neither `*` nor a tag holds.
    let err = store
        .put_article(a.clone(), Some(IfMatch::Any))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::PreconditionFailed), "{err}");
    assert_eq!(store.article("guarded".into()).await.unwrap(), None);

    put(store, a.clone()).await;
    let mut b = a.clone();
    b.tags.push("baru".into());
    let change = store
        .put_article(b.clone(), Some(IfMatch::Tags(vec![a.etag()])))
        .await
        .expect("the current tag holds");
    assert_eq!(change.before.as_ref(), Some(&a));

    // `a`'s tag is stale now: the write fails and changes nothing.
    let mut c = b.clone();
    c.tags.push("lagi".into());
    let err = store
        .put_article(c, Some(IfMatch::Tags(vec![a.etag()])))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::PreconditionFailed), "{err}");
    assert_eq!(
        store.article("guarded".into()).await.unwrap(),
        Some(b.clone())
    );

    let err = store
        .delete_article("guarded".into(), Some(IfMatch::Tags(vec![a.etag()])))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::PreconditionFailed), "{err}");
    store
        .delete_article("guarded".into(), Some(IfMatch::Any))
        .await
        .expect("`*` holds while it exists");
}

async fn delete_removes_the_article_from_every_feed<S: ArticleStore>(store: &S) {
    let a = article(
        "gone",
        "2026-11-03T08:00:00+07:00",
        Some("world"),
        &["fr", "en"],
    );
    put(store, a.clone()).await;
    put(
        store,
        article("stays", "2026-11-02T08:00:00+07:00", Some("world"), &["fr"]),
    )
    .await;
    let change = store.delete_article("gone".into(), None).await.unwrap();
    assert_eq!(change.before, Some(a));
    assert_eq!(change.after, None);
    assert_eq!(change.touched.langs, set(&["en", "fr", "id"]));
    assert_eq!(change.touched.sections, set(&["world"]));
    assert!(change.seq > 0);
    assert_eq!(store.article("gone".into()).await.unwrap(), None);
    for lang in ["fr", "en", "id"] {
        let rows = store.feed_rows(feed(lang, None, 50)).await.unwrap();
        assert!(!ids(&rows).contains(&"gone"), "{lang}");
    }
    let rows = store.feed_rows(feed("fr", None, 50)).await.unwrap();
    assert_eq!(ids(&rows), ["stays"]);

    let again = store.delete_article("gone".into(), None).await.unwrap();
    assert_eq!(again.before, None);
    assert!(again.touched.is_empty());
    assert_eq!(again.seq, 0);
}

async fn writes_report_the_feeds_they_touch<S: ArticleStore>(store: &S) {
    let v1 = article(
        "touchy",
        "2026-11-03T08:00:00+07:00",
        Some("world"),
        &["fr", "en"],
    );
    let created = put(store, v1.clone()).await;
    assert_eq!(created.touched.langs, set(&["en", "fr", "id"]));
    assert!(created.seq > 0);

    let same = put(store, v1.clone()).await;
    assert!(same.touched.is_empty(), "{:?}", same.touched);
    assert_eq!(same.seq, 0);

    // A retranslation touches its own language only.
    let mut v2 = v1.clone();
    if let Some(fr) = v2.versions.get_mut("fr") {
        fr.body = "<p>Nouvelle traduction</p>".into();
    }
    let change = put(store, v2.clone()).await;
    assert_eq!(
        change.touched,
        Touched {
            langs: set(&["fr"]),
            sections: set(&["world"]),
            tags: set(&["politik", "rusia"]),
            every_tag: false,
        }
    );
    assert!(change.seq > created.seq);

    // A new section touches every language, in both sections.
    let mut v3 = v2.clone();
    v3.section = Some("business".into());
    let change = put(store, v3).await;
    assert_eq!(change.touched.langs, set(&["en", "fr", "id"]));
    assert_eq!(change.touched.sections, set(&["business", "world"]));
}

async fn bulk_puts_are_one_write<S: ArticleStore>(store: &S) {
    let batch: Vec<Article> = [("b1", Some("world")), ("b2", Some("sports")), ("b3", None)]
        .into_iter()
        .enumerate()
        .map(|(i, (id, section))| {
            article(
                id,
                &format!("2026-11-0{}T08:00:00+07:00", i + 1),
                section,
                &["en"],
            )
        })
        .collect();
    let touched = store.put_articles(batch.clone()).await.unwrap();
    assert_eq!(touched.langs, set(&["en", "id"]));
    assert_eq!(touched.sections, set(&["sports", "world"]));
    assert_eq!(store.article_count().await.unwrap(), 3);
    for a in &batch {
        assert_eq!(store.article(a.id.clone()).await.unwrap().as_ref(), Some(a));
    }
    let again = store.put_articles(batch).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
}

async fn export_pages_through_articles_in_id_order<S: ArticleStore>(store: &S) {
    let batch: Vec<Article> = ["e", "a-b", "c", "aa", "d"]
        .into_iter()
        .map(|id| article(id, "2026-11-03T08:00:00+07:00", None, &["en", "zh"]))
        .collect();
    store.put_articles(batch.clone()).await.unwrap();
    let mut after = None;
    let mut seen = Vec::new();
    loop {
        let page = store.articles_after(after.clone(), 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        seen.extend(page);
    }
    let order: Vec<&str> = seen.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(order, ["a-b", "aa", "c", "d", "e"]);
    for a in &seen {
        assert_eq!(Some(a), batch.iter().find(|b| b.id == a.id));
    }
}

/// The ids in the tag feed of `slug` in `lang`, newest first.
async fn tagged<S: ArticleStore>(store: &S, lang: &str, slug: &str) -> Vec<String> {
    let rows = store.feed_rows(tag_feed(lang, slug)).await.unwrap();
    ids(&rows).into_iter().map(str::to_owned).collect()
}

fn tag_feed(lang: &str, slug: &str) -> FeedQuery {
    FeedQuery {
        tag: Some(slug.to_owned()),
        ..feed(lang, None, 50)
    }
}

/// An article with `tags` (see [`article`]).
fn with_tags(mut article: Article, tags: &[&str]) -> Article {
    article.tags = tags.iter().map(|t| (*t).to_owned()).collect();
    article
}

async fn tag_feeds_read_the_tag_index<S: ArticleStore>(store: &S) {
    let a = with_tags(
        article(
            "t1",
            "2026-11-03T08:00:00+07:00",
            Some("world"),
            &["fr", "en"],
        ),
        &["Économie Verte", "economie verte", "经济"],
    );
    let b = with_tags(
        article("t2", "2026-11-03T09:00:00+07:00", None, &["fr"]),
        &["Économie verte"],
    );
    let c = article("t3", "2026-11-03T10:00:00+07:00", None, &["fr"]);
    let created = put(store, a.clone()).await;
    assert_eq!(created.touched.tags, set(&["economie-verte", "经济"]));
    put(store, b.clone()).await;
    put(store, c).await;
    let rows = store
        .feed_rows(tag_feed("fr", "economie-verte"))
        .await
        .unwrap();
    assert_eq!(ids(&rows), ["t2", "t1"], "newest first, each article once");
    assert_eq!(rows[1].siblings.len(), 2, "rows are whole feed rows");
    assert_eq!(tagged(store, "en", "economie-verte").await, ["t1"]);
    assert_eq!(tagged(store, "en", "经济").await, ["t1"]);
    assert!(tagged(store, "ja", "经济").await.is_empty());
    // t3 keeps article()'s own tags.
    assert_eq!(tagged(store, "fr", "rusia").await, ["t3"]);
    let mut limited = tag_feed("fr", "economie-verte");
    limited.limit = 1;
    assert_eq!(ids(&store.feed_rows(limited).await.unwrap()), ["t2"]);
    let mut in_section = tag_feed("fr", "economie-verte");
    in_section.section = Some("world".to_owned());
    assert_eq!(ids(&store.feed_rows(in_section).await.unwrap()), ["t1"]);

    // Removing a tag touches the old tag and the kept one, and the index follows.
    let changed = put(store, with_tags(a.clone(), &["经济"])).await;
    assert_eq!(changed.touched.tags, set(&["economie-verte", "经济"]));
    assert_eq!(tagged(store, "fr", "economie-verte").await, ["t2"]);
    assert_eq!(tagged(store, "fr", "经济").await, ["t1"]);
    // A language version dropped leaves that language's tag feed.
    let mut fr_only = with_tags(a, &["经济"]);
    fr_only.versions.remove("en");
    put(store, fr_only).await;
    assert!(tagged(store, "en", "经济").await.is_empty());
    let deleted = store.delete_article("t2".into(), None).await.unwrap();
    assert_eq!(deleted.touched.tags, set(&["economie-verte"]));
    assert!(tagged(store, "fr", "economie-verte").await.is_empty());
    // Bulk puts keep the index too.
    store.put_articles(vec![b]).await.unwrap();
    assert_eq!(tagged(store, "fr", "economie-verte").await, ["t2"]);
    let log = store.changes_since(0).await.unwrap();
    let last = log.records.last().unwrap();
    assert_eq!(last.touched.tags, set(&["economie-verte"]));
    assert!(log.records.iter().all(|r| !r.touched.every_tag));
}

async fn the_change_log_records_every_write<S: ArticleStore>(store: &S) {
    let empty = store.changes_since(0).await.unwrap();
    assert_eq!((empty.records.len(), empty.oldest, empty.latest), (0, 0, 0));

    let first = put(
        store,
        article("c1", "2026-11-03T08:00:00+07:00", Some("world"), &["fr"]),
    )
    .await;
    let second = put(
        store,
        article("c2", "2026-11-03T09:00:00+07:00", None, &["en"]),
    )
    .await;
    let third = store.delete_article("c1".into(), None).await.unwrap();

    let log = store.changes_since(0).await.unwrap();
    let seqs: Vec<u64> = log.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [first.seq, second.seq, third.seq]);
    assert!(first.seq < second.seq && second.seq < third.seq);
    assert_eq!(log.oldest, first.seq);
    assert_eq!(log.latest, third.seq);
    assert_eq!(log.records[0].touched, first.touched);
    assert_eq!(log.records[1].touched, second.touched);
    assert_eq!(log.records[2].touched, third.touched);

    let tail = store.changes_since(first.seq).await.unwrap();
    assert_eq!(
        tail.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [second.seq, third.seq]
    );
    let none = store.changes_since(third.seq).await.unwrap();
    assert!(none.records.is_empty());
    assert_eq!((none.oldest, none.latest), (first.seq, third.seq));
    // How a follower starts: from the latest, with nothing to replay.
    let start = store.changes_since(u64::MAX).await.unwrap();
    assert!(start.records.is_empty());
    assert_eq!(start.latest, third.seq);
}

async fn ping_answers<S: ArticleStore>(store: &S) {
    store.ping().await.expect("ping");
    assert_eq!(store.article_count().await.unwrap(), 0);
}

// ---- the two backends -----------------------------------------------------

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let (store, created) =
                        kabar::SqliteStore::open(&dir.path().join("kabar.sqlite")).unwrap();
                    assert!(created);
                    super::$name(&store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    let db = super::pg::scratch().await;
                    let (store, created) = kabar::PgStore::open(&db.url).await.unwrap();
                    assert!(created);
                    super::$name(&store).await;
                    drop(store);
                    drop(db);
                }
            )*
        }
    };
}

on_both!(
    put_then_get_round_trips,
    feeds_list_newest_first_ties_by_id_bytes,
    section_feeds_hold_their_section_only,
    feeds_stop_at_the_limit,
    feed_rows_carry_article_version_and_siblings,
    the_nearest_publication_either_side_of_an_instant,
    if_match_guards_writes,
    delete_removes_the_article_from_every_feed,
    writes_report_the_feeds_they_touch,
    bulk_puts_are_one_write,
    export_pages_through_articles_in_id_order,
    the_change_log_records_every_write,
    tag_feeds_read_the_tag_index,
    ping_answers,
);

// ---- migrations ---------------------------------------------------------------

/// Articles that were stored before the tag index existed.
fn before_tags() -> Vec<Article> {
    vec![
        with_tags(
            article("m1", "2026-11-03T08:00:00+07:00", None, &["fr", "zh"]),
            &["Économie Verte", "经济"],
        ),
        with_tags(
            article("m2", "2026-11-03T09:00:00+07:00", None, &["fr"]),
            &["economie verte"],
        ),
    ]
}

/// What a store migrated from the schema before tags must show: the index
/// filled from the articles, and the old log records read as "tags unknown".
async fn backfilled<S: ArticleStore>(store: &S) {
    assert_eq!(tagged(store, "fr", "economie-verte").await, ["m2", "m1"]);
    assert_eq!(tagged(store, "zh", "经济").await, ["m1"]);
    assert_eq!(tagged(store, "zh", "economie-verte").await, ["m1"]);
    let log = store.changes_since(0).await.unwrap();
    assert_eq!(log.records.len(), 2);
    assert!(
        log.records
            .iter()
            .all(|r| r.touched.every_tag && r.touched.tags.is_empty())
    );
    // New writes log their tags.
    let change = put(store, with_tags(before_tags()[1].clone(), &["Baru"])).await;
    let log = store.changes_since(change.seq - 1).await.unwrap();
    assert_eq!(
        log.records[0].touched.tags,
        set(&["baru", "economie-verte"])
    );
    assert!(!log.records[0].touched.every_tag);
    assert_eq!(tagged(store, "fr", "baru").await, ["m2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_migration_backfills_the_tag_index() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kabar.sqlite");
    {
        let (store, _) = kabar::SqliteStore::open(&file).unwrap();
        store.put_articles(before_tags()).await.unwrap();
    }
    // Back to schema 4 exactly: schemas 5 and 6 only added these.
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch(
        "DROP TABLE fedi_followers; DROP TABLE fedi_keys; DROP TABLE fedi_log;
         DROP TABLE fedi_posts; DROP TABLE fedi_deliveries;
         DROP TABLE article_tags; ALTER TABLE changes DROP COLUMN tags; PRAGMA user_version = 4;",
    )
    .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!tables.contains(&"article_tags".to_owned()), "{tables:?}");
    drop(conn);
    let (store, created) = kabar::SqliteStore::open(&file).unwrap();
    assert!(!created);
    backfilled(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_migration_backfills_the_tag_index() {
    let db = pg::scratch().await;
    {
        let (store, _) = PgStore::open(&db.url).await.unwrap();
        store.put_articles(before_tags()).await.unwrap();
    }
    // Back to schema 3 exactly: schemas 4 and 5 only added these.
    let client = pg::admin(&db.url).await;
    client
        .batch_execute(
            "DROP TABLE fedi_followers; DROP TABLE fedi_keys; DROP TABLE fedi_log;
         DROP TABLE fedi_posts; DROP TABLE fedi_deliveries;
             DROP TABLE article_tags; ALTER TABLE changes DROP COLUMN tags;
             UPDATE kabar_schema SET version = 3;",
        )
        .await
        .unwrap();
    let gone: bool = client
        .query_one("SELECT to_regclass('article_tags') IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(gone);
    drop(client);
    let (store, created) = PgStore::open(&db.url).await.unwrap();
    assert!(!created);
    backfilled(&store).await;
    drop(store);
    drop(db);
}

// ---- PostgreSQL's own duties --------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn replicas_starting_together_migrate_once() {
    let db = pg::scratch().await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PgStore::open(&url).await })
        })
        .collect();
    let mut created = 0;
    let mut stores = Vec::new();
    for open in opens {
        let (store, was_created) = open.await.unwrap().expect("every replica opens");
        created += usize::from(was_created);
        stores.push(store);
    }
    assert_eq!(created, 1, "exactly one replica creates the schema");
    put(
        &stores[0],
        article("x", "2026-11-03T08:00:00+07:00", None, &[]),
    )
    .await;
    assert_eq!(stores[3].article_count().await.unwrap(), 1);
    // Opening again finds nothing to do.
    let (_again, created) = PgStore::open(&db.url).await.unwrap();
    assert!(!created);
    drop(stores);
}

/// The sequence numbers NOTIFYed on the change channel, in commit order, as
/// a replica's listening connection hears them (on a connection of the
/// test's own, so that a notice nobody should get is seen, not coalesced
/// into a wake-up).
struct Notices {
    _client: tokio_postgres::Client,
    seqs: tokio::sync::mpsc::UnboundedReceiver<u64>,
}

impl Notices {
    /// Listens from now on.
    async fn listen(url: &str) -> Notices {
        let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let (tx, seqs) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(message)) =
                std::future::poll_fn(|cx| connection.poll_message(cx)).await
            {
                if let tokio_postgres::AsyncMessage::Notification(notice) = message {
                    let payload: serde_json::Value =
                        serde_json::from_str(notice.payload()).unwrap();
                    let _ = tx.send(payload["seq"].as_u64().expect("a seq"));
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {}", kabar::store::CHANGE_CHANNEL))
            .await
            .unwrap();
        Notices {
            _client: client,
            seqs,
        }
    }

    /// The sequence number of the next notice.
    async fn next(&mut self) -> u64 {
        tokio::time::timeout(DEADLINE, self.seqs.recv())
            .await
            .expect("a notice in time")
            .expect("still listening")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_wakes_the_other_replicas_at_once() {
    let db = pg::scratch().await;
    let (a, _) = PgStore::open(&db.url).await.unwrap();
    let (b, _) = PgStore::open(&db.url).await.unwrap();
    let mut notices = Notices::listen(&db.url).await;
    let waiting = b.wait_for_change();
    tokio::pin!(waiting);
    // Nothing written: no wake-up (B's open returned once it listened, so one would be pending).
    assert!(waiting.as_mut().now_or_never().is_none());
    // That poll registered B's wait, so the write below is what must wake it.
    let within_a_second = tokio::time::Instant::now() + Duration::from_secs(1);
    let change = put(
        &a,
        article("woken", "2026-11-03T08:00:00+07:00", None, &["en"]),
    )
    .await;
    tokio::time::timeout_at(within_a_second, waiting)
        .await
        .expect("B heard A's write within a second");
    let log = b.changes_since(0).await.unwrap();
    assert_eq!(log.latest, change.seq);
    assert_eq!(notices.next().await, change.seq);
    // A rolled-back write (If-Match failed) notifies nobody.
    let _ = a
        .put_article(
            article("woken", "2026-11-04T08:00:00+07:00", None, &["en"]),
            Some(IfMatch::Tags(vec!["\"stale\"".into()])),
        )
        .await
        .unwrap_err();
    let next = put(
        &a,
        article("later", "2026-11-04T08:00:00+07:00", None, &["en"]),
    )
    .await;
    // Notices come in commit order: had the refused write sent one, it would come before this.
    assert_eq!(
        notices.next().await,
        next.seq,
        "a notice before the next write's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_polling_during_concurrent_writes_misses_none() {
    let db = pg::scratch().await;
    let (a, _) = PgStore::open(&db.url).await.unwrap();
    let (b, _) = PgStore::open(&db.url).await.unwrap();
    let (reader, _) = PgStore::open(&db.url).await.unwrap();
    let stores = [Arc::new(a), Arc::new(b)];
    const WRITERS: usize = 6;
    const WRITES: usize = 25;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&stores[w % 2]);
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..WRITES {
                    let id = format!("w{w}-{i}");
                    let change = put(
                        &*store,
                        article(&id, "2026-11-03T08:00:00+07:00", None, &["en"]),
                    )
                    .await;
                    seqs.push(change.seq);
                }
                seqs
            })
        })
        .collect();
    // Poll as `changes::follow` does, as fast as possible, while they write.
    let mut last = 0;
    let mut seen = Vec::new();
    let mut written = BTreeSet::new();
    let mut done = false;
    while !done {
        done = writers.iter().all(|w| w.is_finished());
        let log = reader.changes_since(last).await.unwrap();
        for record in log.records {
            assert!(record.seq > last);
            last = record.seq;
            seen.push(record.seq);
        }
    }
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    let log = reader.changes_since(last).await.unwrap();
    seen.extend(log.records.iter().map(|r| r.seq));
    assert_eq!(written.len(), WRITERS * WRITES);
    assert_eq!(
        seen.into_iter().collect::<BTreeSet<_>>(),
        written,
        "a follower reading after its last seq saw every write"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_listening_connection_comes_back_with_a_new_epoch() {
    let db = pg::scratch().await;
    let (store, _) = PgStore::open(&db.url).await.unwrap();
    assert_eq!(store.push_epoch(), 0);
    let admin = db.admin().await;
    let name = format!(
        "{}/{}",
        kabar::store::LISTEN_APPLICATION_NAME,
        std::process::id()
    );
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND application_name = $2",
            &[&db.name, &name],
        )
        .await
        .unwrap();
    assert_eq!(killed.len(), 1, "one listening connection");
    tokio::time::timeout(Duration::from_secs(10), store.wait_for_change())
        .await
        .expect("woken when listening again");
    assert_eq!(store.push_epoch(), 1);
    // And it hears writes again.
    let (writer, _) = PgStore::open(&db.url).await.unwrap();
    let waiting = store.wait_for_change();
    tokio::pin!(waiting);
    // Polling once registers the wait, so that it is waiting when the write lands.
    assert!(waiting.as_mut().now_or_never().is_none());
    let within_a_second = tokio::time::Instant::now() + Duration::from_secs(1);
    put(
        &writer,
        article("again", "2026-11-03T08:00:00+07:00", None, &[]),
    )
    .await;
    let woken = tokio::time::timeout_at(within_a_second, waiting).await;
    assert!(woken.is_ok());
}

// ---- identical bytes across backends ----------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_and_postgres_render_identical_bytes() {
    let site = Site::new();
    let config = Arc::new(site.config());
    let sqlite = site.store().await;
    let db = pg::scratch().await;
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let postgres = app::open_postgres(&config, &url, Seed::IfCreated)
        .await
        .unwrap();
    assert_eq!(
        postgres.article_count().await.unwrap(),
        sqlite.article_count().await.unwrap()
    );
    assert!(sqlite.article_count().await.unwrap() > 10);
    let sqlite = App::new(Arc::clone(&config), Arc::new(sqlite), None);
    let postgres = App::new(Arc::clone(&config), Arc::new(postgres), None);
    let mut compared = 0;
    for lang in 0..config.languages.len() {
        for section in std::iter::once(None).chain((0..config.sections.len()).map(Some)) {
            for format in Format::ALL {
                let resource = Resource::Feed {
                    lang,
                    section,
                    format,
                };
                let a = sqlite.cache.get(resource).await.unwrap();
                let b = postgres.cache.get(resource).await.unwrap();
                assert_eq!(a.identity.bytes, b.identity.bytes, "{resource:?}");
                compared += 1;
            }
        }
    }
    assert_eq!(
        compared,
        config.languages.len() * (config.sections.len() + 1) * Format::ALL.len()
    );
    // Tag feeds, from each backend's tag index.
    let mut tags = 0;
    for (lang, tag) in [
        (1, "transportasi"),
        (5, "bursa-saham"),
        (2, "bmkg"),
        (0, "pilkades"),
    ] {
        for format in Format::ALL {
            let resource = Resource::Tag {
                lang,
                tag: TagSlug::parse(tag).unwrap(),
                format,
            };
            let a = sqlite.cache.get(resource).await.unwrap();
            let b = postgres.cache.get(resource).await.unwrap();
            assert_eq!(a.identity.bytes, b.identity.bytes, "{resource:?}");
            tags += 1;
        }
    }
    assert_eq!(tags, 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn open_postgres_seeds_only_a_new_empty_database() {
    let site = Site::new();
    let config = site.config();
    let db = pg::scratch().await;
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let store = app::open_postgres(&config, &url, Seed::IfCreated)
        .await
        .unwrap();
    let seeded = store.article_count().await.unwrap();
    assert!(seeded > 0);
    let first = store.articles_after(None, 1).await.unwrap().remove(0);
    store.delete_article(first.id, None).await.unwrap();
    drop(store);
    // Not new any more: the deleted article stays deleted.
    let store = app::open_postgres(&config, &url, Seed::IfCreated)
        .await
        .unwrap();
    assert_eq!(store.article_count().await.unwrap(), seeded - 1);
}

/// Every feed, tag feeds included, is read from one index range in feed
/// order: no table is scanned and no sort is made, however many articles.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reads_each_feed_from_one_index_range() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = kabar::SqliteStore::open(&dir.path().join("kabar.sqlite")).unwrap();
    store.put_articles(common::demo_articles()).await.unwrap();
    let mut in_section = tag_feed("fr", "economie-verte");
    in_section.section = Some("world".to_owned());
    for (query, index) in [
        (feed("fr", None, 50), "versions_by_language"),
        (feed("fr", Some("world"), 50), "versions_by_section"),
        (tag_feed("fr", "economie-verte"), "article_tags_by_slug"),
        (in_section, "article_tags_by_slug"),
    ] {
        let plan = store.explain_feed(query.clone()).await.unwrap();
        let first = plan.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("SEARCH") && first.contains(index),
            "{query:?} starts from {index}:\n{plan}"
        );
        assert!(!plan.contains("SCAN"), "{query:?} scans:\n{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{query:?} sorts:\n{plan}");
    }
}
