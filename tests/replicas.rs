//! Two real `kabar serve` processes on one PostgreSQL database, as they run
//! behind a load balancer: a write through one is served by the other within a
//! second with the same bytes and ETag; the other survives losing its
//! listening connection, and keeps serving what it rendered while the database
//! is away, saying on /readyz that it is not ready.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{AUTH, Response, Site, TOKEN, eventually, pg, request, send};
use hyper::StatusCode;

/// A starting `kabar serve`; killed if the test ends without it.
struct Spawned(Child);

/// A `kabar serve` that is listening.
struct Replica {
    child: Spawned,
    addr: SocketAddr,
    /// Everything it logged, for failure messages.
    log: Arc<Mutex<String>>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(config: &Path, database_url: &str) -> Spawned {
    Spawned(
        Command::new(env!("CARGO_BIN_EXE_kabar"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("KABAR_DATABASE_URL", database_url)
            .env("KABAR_API_TOKEN", TOKEN)
            .env("KABAR_LOG", "info")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kabar starts"),
    )
}

impl Spawned {
    /// Waits for the log line naming the address, then keeps draining the log
    /// on a thread so the process never blocks on a full pipe.
    fn listening(mut self) -> Replica {
        let mut stderr = BufReader::new(self.0.stderr.take().expect("stderr"));
        let mut log = String::new();
        let addr = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "kabar exited before listening:\n{log}"
            );
            log.push_str(&line);
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().trim_end_matches('/').parse().expect("address");
            }
        };
        let log = Arc::new(Mutex::new(log));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Replica {
            child: self,
            addr,
            log,
        }
    }
}

impl Drop for Replica {
    /// A failing test shows what each replica logged.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
            eprintln!("kabar serve on {} logged:\n{log}", self.addr);
        }
    }
}

impl Replica {
    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    async fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[]).await
    }

    async fn get_encoded(&self, path: &str, coding: &str) -> Response {
        request(self.addr, "GET", path, &[("accept-encoding", coding)]).await
    }

    async fn put(&self, article: &serde_json::Value) {
        let id = article["id"].as_str().expect("id");
        let res = send(
            self.addr,
            "PUT",
            &format!("/api/v1/articles/{id}"),
            &[AUTH, ("content-type", "application/json")],
            article.to_string(),
        )
        .await;
        assert!(
            res.status.is_success(),
            "PUT {id}: {} {}",
            res.status,
            res.text()
        );
    }
}

fn news(id: &str, published: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "section": "world",
        "published": published,
        "authors": [{"name": "Tim Redaksi Kabar"}],
        "versions": {
            "id": {"translation": "original", "title": format!("Berita {id}"),
                   "body": format!("Isi berita {id}.")},
            "fr": {"translation": "machine", "body": format!("Texte de la nouvelle {id}.")},
        },
    })
}

/// The same representations from both, identity and compressed: same status,
/// bytes and ETag.
async fn same_on_both(a: &Replica, b: &Replica, path: &str) -> bool {
    for coding in ["identity", "gzip", "br"] {
        let (x, y) = (
            a.get_encoded(path, coding).await,
            b.get_encoded(path, coding).await,
        );
        let same = x.status == StatusCode::OK
            && x.status == y.status
            && x.body == y.body
            && x.header("etag").is_some()
            && x.header("etag") == y.header("etag");
        if !same {
            return false;
        }
    }
    true
}

/// The pid of the backend holding the LISTEN of the replica with process id
/// `pid`, if it has one now.
async fn listen_backend(admin: &tokio_postgres::Client, db: &str, pid: u32) -> Option<i32> {
    let name = format!("{}/{pid}", kabar::store::LISTEN_APPLICATION_NAME);
    admin
        .query_opt(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = $1 AND application_name = $2 AND query LIKE 'LISTEN%'",
            &[&db, &name],
        )
        .await
        .expect("pg_stat_activity")
        .map(|row| row.get(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_share_one_database() {
    let db = pg::scratch().await;
    let admin = db.admin().await;
    let site = Site::new();
    let config = site.config_file();

    // Both start at once on an empty database: one migrates and seeds, the
    // other waits for the migration lock and finds the schema in place.
    let (a, b) = (spawn(&config, &db.url), spawn(&config, &db.url));
    let (a, b) = (a.listening(), b.listening());
    let seeded = |r: &Replica| r.log().contains("loaded the demo articles");
    let paths = [
        "/fr/rss.xml",
        "/ar/business/feed.json",
        "/zh/atom.xml",
        "/id/world/rss.xml",
    ];
    for path in paths {
        eventually(
            &format!("{path} to be the same on both replicas"),
            Duration::from_secs(5),
            || same_on_both(&a, &b, path),
        )
        .await;
    }
    assert_ne!(seeded(&a), seeded(&b), "exactly one replica seeds");

    // A write through A is served by B within a second, byte for byte.
    let before = b.get("/fr/rss.xml").await;
    a.put(&news("replica-news", "2027-01-01T08:00:00+07:00"))
        .await;
    let written = Instant::now();
    eventually("B to show A's write", Duration::from_secs(1), async || {
        let res = b.get("/fr/rss.xml").await;
        res.body != before.body && res.text().contains("replica-news")
    })
    .await;
    let seen_after = written.elapsed();
    assert!(seen_after < Duration::from_secs(1), "{seen_after:?}");
    assert!(same_on_both(&a, &b, "/fr/rss.xml").await);
    assert!(same_on_both(&a, &b, "/fr/world/atom.xml").await);

    // B loses its listening connection; a write lands meanwhile; B listens
    // again on a new connection and serves the write.
    let old = listen_backend(&admin, &db.name, b.pid())
        .await
        .expect("B listens");
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&old])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    a.put(&news("after-reconnect", "2027-01-02T08:00:00+07:00"))
        .await;
    eventually("B to listen again", Duration::from_secs(10), async || {
        listen_backend(&admin, &db.name, b.pid())
            .await
            .is_some_and(|pid| pid != old)
    })
    .await;
    eventually(
        "B to catch up after reconnecting",
        Duration::from_secs(2),
        async || {
            b.get("/fr/rss.xml")
                .await
                .text()
                .contains("after-reconnect")
                && same_on_both(&a, &b, "/fr/rss.xml").await
        },
    )
    .await;
    assert!(
        b.log()
            .contains("listening for other replicas' writes again")
    );

    // A last write before the outage: B retires its French feeds (seen on
    // the Atom feed) but has not rendered the RSS one again.
    let rss_before = b.get("/fr/rss.xml").await;
    a.put(&news("before-outage", "2027-01-03T08:00:00+07:00"))
        .await;
    eventually(
        "B to show the last write on the Atom feed",
        Duration::from_secs(2),
        async || b.get("/fr/atom.xml").await.text().contains("before-outage"),
    )
    .await;
    let atom_before = b.get("/fr/atom.xml").await;

    // The database goes away for B (and A): no new connections, and the
    // existing ones are cut.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            db.name
        ))
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&db.name],
        )
        .await
        .unwrap();
    eventually(
        "/readyz to say not ready without a database",
        Duration::from_secs(10),
        async || b.get("/readyz").await.status == StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    // A cached render is served as it was.
    let atom = b.get("/fr/atom.xml").await;
    assert_eq!(atom.status, StatusCode::OK);
    assert_eq!(atom.body, atom_before.body);
    assert_eq!(atom.header("etag"), atom_before.header("etag"));
    // A retired one cannot be rebuilt: its last good render is served.
    let rss = b.get("/fr/rss.xml").await;
    assert_eq!(rss.status, StatusCode::OK);
    assert_eq!(rss.body, rss_before.body);
    let metrics = b.get("/metrics").await.text();
    let stale: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("kabar_stale_served_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the stale-served counter");
    assert!(stale >= 1, "{metrics}");

    // The database is back: B is ready again and serves the current feed.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            db.name
        ))
        .await
        .unwrap();
    eventually("B to be ready again", Duration::from_secs(10), async || {
        b.get("/readyz").await.status == StatusCode::OK
    })
    .await;
    eventually(
        "B to serve the current feed after the outage",
        Duration::from_secs(10),
        async || {
            b.get("/fr/rss.xml").await.text().contains("before-outage")
                && same_on_both(&a, &b, "/fr/rss.xml").await
        },
    )
    .await;
    drop((a, b));
    drop(db);
}
