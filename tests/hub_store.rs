//! The hub's store methods, the same checks on SQLite and on PostgreSQL:
//! limits, renewal, one pending delivery per subscription that later changes
//! fold into, claims that others skip until they run out, outcomes, leases.

mod common;

use common::pg;
use kabar::store::{
    DeliveryEnd, HubStore, NewSubscription, Room, Subscribed, SubscriptionCounts,
    SubscriptionLimits,
};
use kabar::{PgStore, SqliteStore};

const FR: &str = "http://127.0.0.1:8080/fr/atom.xml";
const EN: &str = "http://127.0.0.1:8080/en/atom.xml";
const LIMITS: SubscriptionLimits = SubscriptionLimits {
    total: 3,
    per_host: 2,
};

fn sub(topic: &str, callback: &str, expires_ms: i64) -> NewSubscription {
    NewSubscription {
        topic: topic.to_owned(),
        callback: callback.to_owned(),
        host: url::Url::parse(callback)
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned(),
        secret: Some("s".to_owned()),
        expires_ms,
    }
}

/// The behaviour every store must have; times are made-up milliseconds.
async fn behaves<S: HubStore>(store: &S) {
    let t = 1_000_000;
    let far = t + 1_000_000;
    // Limits: two per host, three in all; a renewal takes no room.
    assert_eq!(
        store
            .subscribe(sub(FR, "http://a.example/1", far), LIMITS, t)
            .await
            .unwrap(),
        Subscribed::Created
    );
    assert_eq!(
        store
            .subscribe(sub(EN, "http://a.example/1", far), LIMITS, t)
            .await
            .unwrap(),
        Subscribed::Created
    );
    assert!(matches!(
        store.subscribe(sub(FR, "http://a.example/2", far), LIMITS, t).await.unwrap(),
        Subscribed::OverLimit(why) if why.contains("host")
    ));
    let mut renewed = sub(FR, "http://a.example/1", far + 5);
    renewed.secret = Some("new".to_owned());
    assert_eq!(
        store.subscribe(renewed, LIMITS, t).await.unwrap(),
        Subscribed::Renewed
    );
    assert_eq!(
        store
            .subscribe(sub(FR, "http://b.example/1", t + 10), LIMITS, t)
            .await
            .unwrap(),
        Subscribed::Created
    );
    assert!(matches!(
        store.subscribe(sub(FR, "http://c.example/1", far), LIMITS, t).await.unwrap(),
        Subscribed::OverLimit(why) if why.contains("as many")
    ));
    let room = |topic: &str, callback: &str| {
        let host = url::Url::parse(callback)
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned();
        store.subscription_room(topic.to_owned(), callback.to_owned(), host, t)
    };
    let full = Room {
        renewal: false,
        total: 3,
        on_host: 2,
    };
    assert_eq!(room(FR, "http://a.example/2").await.unwrap(), full);
    let renewal = Room {
        renewal: true,
        ..full
    };
    assert_eq!(room(EN, "http://a.example/1").await.unwrap(), renewal);

    // Three changes to FR before anything is sent: one row per subscription.
    for _ in 0..3 {
        assert_eq!(
            store
                .enqueue_deliveries(vec![FR.to_owned()], t - 50, t)
                .await
                .unwrap(),
            2
        );
    }
    let claimed = store.claim_deliveries(t, t + 100, 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    let a = claimed
        .iter()
        .find(|d| d.callback == "http://a.example/1")
        .unwrap()
        .clone();
    assert_eq!(
        (a.topic.as_str(), a.secret.as_deref(), a.version),
        (FR, Some("new"), 3)
    );
    assert_eq!(
        (a.committed_ms, a.attempts, a.first_failure_ms),
        (t - 50, 0, None)
    );
    // Claimed rows are not handed out again until the claim runs out (and
    // b.example's lease has run out by then).
    assert!(
        store
            .claim_deliveries(t + 1, t + 100, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_deliveries(t + 100, t + 200, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A change while sending: the success leaves the row, due at once.
    store
        .enqueue_deliveries(vec![FR.to_owned()], t + 150, t + 150)
        .await
        .unwrap();
    assert!(
        !store
            .finish_delivery(a.subscription, a.version, DeliveryEnd::Delivered, t + 160)
            .await
            .unwrap()
    );
    let again = store.claim_deliveries(t + 160, t + 300, 1).await.unwrap();
    assert_eq!(
        (again[0].subscription, again[0].version),
        (a.subscription, 4)
    );
    store
        .finish_delivery(a.subscription, 4, DeliveryEnd::Delivered, t + 170)
        .await
        .unwrap();
    // The other subscription's lease ended at t + 10: never claimed, then removed.
    assert!(
        store
            .claim_deliveries(t + 1000, t + 2000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.expire_subscriptions(t + 1000).await.unwrap(), 1);

    // Failures: retried later, then dropped (failing), then ended.
    store
        .enqueue_deliveries(vec![EN.to_owned()], t, t + 1000)
        .await
        .unwrap();
    let en = store
        .claim_deliveries(t + 1000, t + 2000, 10)
        .await
        .unwrap()
        .remove(0);
    store
        .finish_delivery(
            en.subscription,
            en.version,
            DeliveryEnd::Retry { due_ms: t + 1500 },
            t + 1000,
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_deliveries(t + 1400, t + 2000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let en = store
        .claim_deliveries(t + 1500, t + 2500, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((en.attempts, en.first_failure_ms), (1, Some(t + 1000)));
    let keep = DeliveryEnd::Dropped {
        end_if_failing_since_ms: t,
    };
    assert!(
        !store
            .finish_delivery(en.subscription, en.version, keep, t + 1500)
            .await
            .unwrap()
    );
    let counts = store.subscription_counts(t + 1500).await.unwrap();
    assert_eq!(
        counts,
        SubscriptionCounts {
            active: 1,
            failing: 1,
            pending_deliveries: 0
        }
    );
    store
        .enqueue_deliveries(vec![EN.to_owned()], t, t + 1600)
        .await
        .unwrap();
    let en = store
        .claim_deliveries(t + 1600, t + 2600, 10)
        .await
        .unwrap()
        .remove(0);
    let end = DeliveryEnd::Dropped {
        end_if_failing_since_ms: t + 1000,
    };
    assert!(
        store
            .finish_delivery(en.subscription, en.version, end, t + 1600)
            .await
            .unwrap(),
        "failing since t + 1000"
    );

    // 410 Gone ends it; unsubscribing removes it.
    store
        .enqueue_deliveries(vec![FR.to_owned()], t, t + 1700)
        .await
        .unwrap();
    let fr = store
        .claim_deliveries(t + 1700, t + 2700, 10)
        .await
        .unwrap()
        .remove(0);
    assert!(
        store
            .finish_delivery(fr.subscription, fr.version, DeliveryEnd::Gone, t + 1700)
            .await
            .unwrap()
    );
    store
        .subscribe(sub(FR, "http://a.example/1", far), LIMITS, t + 1800)
        .await
        .unwrap();
    assert!(
        store
            .unsubscribe(FR.to_owned(), "http://a.example/1".to_owned())
            .await
            .unwrap()
    );
    assert!(
        !store
            .unsubscribe(FR.to_owned(), "http://a.example/1".to_owned())
            .await
            .unwrap()
    );
    assert_eq!(
        store.subscription_counts(t + 1800).await.unwrap(),
        SubscriptionCounts::default()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_keeps_subscribers_and_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = SqliteStore::open(&dir.path().join("hub.sqlite")).unwrap();
    behaves(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_keeps_subscribers_and_deliveries() {
    let db = pg::scratch().await;
    let (store, _) = PgStore::open(&db.url).await.unwrap();
    behaves(&store).await;
}

/// Two replicas claiming at once never get the same row.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_replicas_claim_disjoint_rows() {
    let db = pg::scratch().await;
    let (one, _) = PgStore::open(&db.url).await.unwrap();
    let (two, _) = PgStore::open(&db.url).await.unwrap();
    let limits = SubscriptionLimits {
        total: 1000,
        per_host: 1000,
    };
    for i in 0..200 {
        one.subscribe(
            sub(FR, &format!("http://a.example/{i}"), i64::MAX),
            limits,
            0,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        one.enqueue_deliveries(vec![FR.to_owned()], 0, 0)
            .await
            .unwrap(),
        200
    );
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            one.claim_deliveries(1, 10_000, 30),
            two.claim_deliveries(1, 10_000, 30)
        );
        ids.extend(
            a.unwrap()
                .into_iter()
                .chain(b.unwrap())
                .map(|d| d.subscription),
        );
    }
    let claimed = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "a row was claimed twice");
    assert_eq!(claimed, 200);
}
