//! Interop with an independent WebSub subscriber: flask-websub 0.4.1, run by
//! tests/interop/websub_subscriber.py under the Python that
//! `KABAR_TEST_PYTHON` names (CI makes a virtual environment with the pinned
//! packages of tests/interop/requirements.txt). It discovers Kabar's hub from
//! a feed, subscribes with a secret, passes the verification of intent, and
//! reports each delivery whose signature its own code accepted.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{AUTH, DEADLINE, Site, eventually, send};
use kabar::hub::Verification;
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread")]
async fn flask_websub_discovers_subscribes_and_verifies_signed_deliveries() {
    let Some(python) = common::interop_python() else {
        return;
    };
    let server = Site::serve_api_public(|text| {
        text.replace("allow_networks = []", "allow_networks = [\"127.0.0.0/8\"]")
    })
    .await;
    let feed = format!("http://{}/fr/atom.xml", server.addr);
    let work = tempfile::tempdir().unwrap();
    let mut child = Command::new(python)
        .arg(common::repo().join("tests/interop/websub_subscriber.py"))
        .arg(&feed)
        .arg(work.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the subscriber script");
    let stdout = child.stdout.take().unwrap();
    let (lines, mut events) = mpsc::unbounded_channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let event = serde_json::from_str(&line).unwrap_or_else(|_| json!({"raw": line}));
            if lines.send(event).is_err() {
                break;
            }
        }
    });
    let mut next = async |what: &str| -> Value {
        // Python and Flask start slowly on a busy machine.
        match tokio::time::timeout(DEADLINE * 3, events.recv()).await {
            Ok(Some(event)) => event,
            other => panic!("waiting for {what}, the subscriber said {other:?}"),
        }
    };
    assert_eq!(next("ready").await["event"], "ready");
    let discovered = next("discovery").await;
    assert_eq!(discovered["hub"], format!("http://{}/websub", server.addr));
    assert_eq!(discovered["topic"], feed);
    let subscribed = next("the verification").await;
    assert_eq!(subscribed, json!({"event": "subscribe", "topic": feed}));
    let stats = server.app.hub.stats();
    eventually("the subscription stored", DEADLINE, async || {
        stats.verifications(Verification::Subscribed) == 1
    })
    .await;

    let version = json!({"translation": "machine", "title": "Interop", "body": "Texte."});
    let res = send(
        server.addr,
        "PUT",
        "/api/v1/articles/aplikasi-penerjemah-bahasa-daerah-12-bahasa/versions/fr",
        &[AUTH, ("content-type", "application/json")],
        version.to_string(),
    )
    .await;
    assert!(res.status.is_success(), "{}", res.text());
    let delivery = next("a delivery").await;
    let body = server.get("/fr/atom.xml").await.body;
    let digest = ring::digest::digest(&ring::digest::SHA256, &body);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        delivery,
        json!({"event": "delivery", "topic": feed, "sha256": hex, "length": body.len()})
    );
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    server.stop().await;
}
