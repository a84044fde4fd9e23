//! The hub's store methods, the same checks on SQLite and on PostgreSQL:
//! limits, renewal, one pending delivery per subscription that later changes
//! fold into, claims that others skip until they run out, outcomes, leases.

mod common;

use common::pg;
use kabar::store::{
    DeliveryEnd, Finished, HubStore, LoggedChanges, NewSubscription, Room, Subscribed,
    SubscriptionCounts, SubscriptionLimits, Topics,
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

/// Queues `topics` as the next record of the change log; returns the rows.
async fn queue<S: HubStore>(store: &S, topics: Topics, committed_ms: i64, now_ms: i64) -> u64 {
    let from = store.hub_log_position().await.unwrap();
    let changes = LoggedChanges {
        from,
        to: from + 1,
        topics,
        committed_ms,
    };
    let rows = store.enqueue_deliveries(changes, now_ms).await.unwrap();
    assert_eq!(store.hub_log_position().await.unwrap(), from + 1);
    rows.expect("the position was where it was read")
}

fn these(topic: &str) -> Topics {
    Topics::These(vec![topic.to_owned()])
}

/// Records one outcome; true if it ended the subscription.
async fn finish<S: HubStore>(
    store: &S,
    subscription: i64,
    version: i64,
    end: DeliveryEnd,
    now_ms: i64,
) -> bool {
    let finished = Finished {
        subscription,
        version,
        end,
    };
    match store
        .finish_deliveries(vec![finished], now_ms)
        .await
        .unwrap()
    {
        0 => false,
        1 => true,
        n => panic!("one outcome ended {n} subscriptions"),
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
        assert_eq!(queue(store, these(FR), t - 50, t).await, 2);
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
    queue(store, these(FR), t + 150, t + 150).await;
    assert!(
        !finish(
            store,
            a.subscription,
            a.version,
            DeliveryEnd::Delivered,
            t + 160
        )
        .await
    );
    let again = store.claim_deliveries(t + 160, t + 300, 1).await.unwrap();
    assert_eq!(
        (again[0].subscription, again[0].version),
        (a.subscription, 4)
    );
    finish(store, a.subscription, 4, DeliveryEnd::Delivered, t + 170).await;
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
    queue(store, these(EN), t, t + 1000).await;
    let en = store
        .claim_deliveries(t + 1000, t + 2000, 10)
        .await
        .unwrap()
        .remove(0);
    finish(
        store,
        en.subscription,
        en.version,
        DeliveryEnd::Retry { due_ms: t + 1500 },
        t + 1000,
    )
    .await;
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
    assert!(!finish(store, en.subscription, en.version, keep, t + 1500).await);
    let counts = store.subscription_counts(t + 1500).await.unwrap();
    assert_eq!(
        counts,
        SubscriptionCounts {
            active: 1,
            failing: 1,
            pending_deliveries: 0
        }
    );
    queue(store, these(EN), t, t + 1600).await;
    let en = store
        .claim_deliveries(t + 1600, t + 2600, 10)
        .await
        .unwrap()
        .remove(0);
    let end = DeliveryEnd::Dropped {
        end_if_failing_since_ms: t + 1000,
    };
    assert!(
        finish(store, en.subscription, en.version, end, t + 1600).await,
        "failing since t + 1000"
    );

    // 410 Gone ends it; unsubscribing removes it.
    queue(store, these(FR), t, t + 1700).await;
    let fr = store
        .claim_deliveries(t + 1700, t + 2700, 10)
        .await
        .unwrap()
        .remove(0);
    assert!(
        finish(
            store,
            fr.subscription,
            fr.version,
            DeliveryEnd::Gone,
            t + 1700
        )
        .await
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

/// Deliveries come from the change log: queued only from where the log
/// position is, each row waiting for the newest record folded into it; a
/// pruned log queues every subscription; outcomes are recorded in batches.
async fn follows_the_log<S: HubStore>(store: &S) {
    let (t, far) = (1_000_000, i64::MAX);
    let limits = SubscriptionLimits {
        total: 100,
        per_host: 100,
    };
    for (topic, callback) in [
        (FR, "http://a.example/1"),
        (FR, "http://b.example/1"),
        (EN, "http://a.example/1"),
    ] {
        store
            .subscribe(sub(topic, callback, far), limits, t)
            .await
            .unwrap();
    }
    let start = store.hub_log_position().await.unwrap();
    assert_eq!(queue(store, these(FR), t, t).await, 2);
    // A stretch read from a position someone else has moved on is not queued.
    let stale = LoggedChanges {
        from: start,
        to: start + 5,
        topics: these(EN),
        committed_ms: t,
    };
    assert_eq!(store.enqueue_deliveries(stale, t).await.unwrap(), None);
    assert_eq!(store.hub_log_position().await.unwrap(), start + 1);
    // The log skipped ahead: everyone is queued; FR's rows fold and wait for the newest record.
    assert_eq!(queue(store, Topics::All, t, t).await, 3);
    let claimed = store.claim_deliveries(t, t + 100, 10).await.unwrap();
    assert_eq!(claimed.len(), 3, "{claimed:?}");
    for delivery in &claimed {
        assert_eq!(delivery.log_seq, start + 2, "{delivery:?}");
        let fr = delivery.topic == FR;
        assert_eq!(delivery.version, if fr { 2 } else { 1 }, "{delivery:?}");
        assert_eq!(delivery.host, delivery.callback[7..16], "{delivery:?}");
    }
    // All three outcomes in one batch: two successes, one retry.
    let batch = claimed
        .iter()
        .map(|d| Finished {
            subscription: d.subscription,
            version: d.version,
            end: if d.topic == EN {
                DeliveryEnd::Retry { due_ms: t + 50 }
            } else {
                DeliveryEnd::Delivered
            },
        })
        .collect();
    assert_eq!(store.finish_deliveries(batch, t + 10).await.unwrap(), 0);
    let again = store.claim_deliveries(t + 50, t + 100, 10).await.unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!((again[0].topic.as_str(), again[0].attempts), (EN, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_keeps_subscribers_and_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = SqliteStore::open(&dir.path().join("hub.sqlite")).unwrap();
    behaves(&store).await;
    let (store, _) = SqliteStore::open(&dir.path().join("log.sqlite")).unwrap();
    follows_the_log(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_keeps_subscribers_and_deliveries() {
    let db = pg::scratch().await;
    let (store, _) = PgStore::open(&db.url).await.unwrap();
    behaves(&store).await;
    let db = pg::scratch().await;
    let (store, _) = PgStore::open(&db.url).await.unwrap();
    follows_the_log(&store).await;
}

/// Two replicas queueing the same stretch of the log at once: one does.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_replicas_queue_a_change_once() {
    let db = pg::scratch().await;
    let (one, _) = PgStore::open(&db.url).await.unwrap();
    let (two, _) = PgStore::open(&db.url).await.unwrap();
    one.subscribe(sub(FR, "http://a.example/1", i64::MAX), LIMITS, 0)
        .await
        .unwrap();
    for round in 0..20 {
        let stretch = LoggedChanges {
            from: round,
            to: round + 1,
            topics: these(FR),
            committed_ms: 0,
        };
        let (a, b) = tokio::join!(
            one.enqueue_deliveries(stretch.clone(), 0),
            two.enqueue_deliveries(stretch, 0)
        );
        let queued: Vec<u64> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(queued, [1], "round {round}");
    }
    let claimed = one.claim_deliveries(0, 10, 10).await.unwrap();
    assert_eq!(
        (claimed.len(), claimed[0].version, claimed[0].log_seq),
        (1, 20, 20)
    );
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
    assert_eq!(queue(&one, these(FR), 0, 0).await, 200);
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
