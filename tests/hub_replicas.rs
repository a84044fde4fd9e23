//! Two replicas on one PostgreSQL database, each with its delivery worker:
//! every delivery a write queues is made exactly once.

mod common;

use std::sync::Arc;

use common::subscriber::Callback;
use common::{DEADLINE, Site, eventually, pg, send};
use hyper::StatusCode;
use kabar::app::{self, Seed};
use kabar::config::DatabaseUrl;
use kabar::hub::{Delivered, Verification};
use kabar::store::HubStore;
use kabar::{PgStore, article::Article};

fn hub_config(text: String) -> String {
    text.replace("allow_networks = []", "allow_networks = [\"127.0.0.0/8\"]")
}

const TOPICS: [&str; 3] = ["/fr/atom.xml", "/fr/rss.xml", "/fr/technology/feed.json"];
const PER_TOPIC: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_deliver_each_change_once() {
    let db = pg::scratch().await;
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let site = Site::edited(hub_config);
    let store = app::open_postgres(&site.config(), &url, Seed::IfCreated)
        .await
        .unwrap();
    let one = site.serve_store(Arc::new(store)).await;
    let (other, _) = PgStore::open(&db.url).await.unwrap();
    let two = Site::edited(hub_config).serve_store(Arc::new(other)).await;

    let cb = Callback::start().await;
    for (t, path) in TOPICS.iter().enumerate() {
        let topic = format!("http://127.0.0.1:8080{path}");
        for i in 0..PER_TOPIC {
            let callback = cb.url(&format!("{t}-{i}"));
            let form = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("hub.mode", "subscribe"),
                    ("hub.topic", topic.as_str()),
                    ("hub.callback", callback.as_str()),
                ])
                .finish();
            // Alternate replicas: subscriptions are shared through the store.
            let at = if i % 2 == 0 { one.addr } else { two.addr };
            let content_type = ("content-type", "application/x-www-form-urlencoded");
            let res = send(at, "POST", "/websub", &[content_type], form).await;
            assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
        }
    }
    let total = TOPICS.len() * PER_TOPIC;
    let verified =
        |s: &common::TestServer<PgStore>| s.app.hub.stats().verifications(Verification::Subscribed);
    eventually("every subscription verified", DEADLINE, async || {
        verified(&one) + verified(&two) == total as u64
    })
    .await;

    // A new French technology article: all three topics change.
    let article: Article = kabar::article::parse_json(
        &serde_json::json!({
            "id": "replicas-once",
            "section": "technology",
            "published": "2026-11-28T09:00:00+07:00",
            "versions": {
                "id": {"translation": "original", "title": "Sekali", "body": "Teks."},
                "fr": {"translation": "machine", "title": "Une fois", "body": "Texte."}
            }
        })
        .to_string(),
    )
    .unwrap();
    kabar::write::put_article(&one.app, "replicas-once", article, None)
        .await
        .unwrap();
    let delivered = |s: &common::TestServer<PgStore>| s.app.hub.stats().deliveries(Delivered::Ok);
    eventually("every delivery made and recorded", DEADLINE, async || {
        let pending = one
            .app
            .store
            .subscription_counts(i64::MAX / 2)
            .await
            .unwrap();
        pending.pending_deliveries == 0 && delivered(&one) + delivered(&two) == total as u64
    })
    .await;
    // No row is left, so nothing is in flight: what arrived is all there is.
    let posts = cb.seen.lock().unwrap().posts.len();
    assert_eq!(posts, total, "each subscriber once");
    for t in 0..TOPICS.len() {
        for i in 0..PER_TOPIC {
            assert_eq!(cb.posts_to(&format!("{t}-{i}")).len(), 1);
        }
    }
    one.stop().await;
    two.stop().await;
}
