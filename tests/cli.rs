//! The `kabar` binary as an operator runs it: serve, stop on a signal, check the
//! configuration, import, render.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{repo, request, write_config};
use hyper::StatusCode;

fn kabar() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kabar"))
}

/// A `kabar serve` process, killed if a test ends without stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `kabar serve` and returns it with the address its first log line names.
fn serve(
    config: &Path,
) -> (
    Running,
    std::net::SocketAddr,
    BufReader<std::process::ChildStderr>,
) {
    let mut child = Running(
        kabar()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stderr(Stdio::piped())
            .spawn()
            .expect("kabar starts"),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "kabar exited before listening"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.trim().trim_end_matches('/').parse().expect("address");
            return (child, addr, stderr);
        }
        assert!(
            line.contains("INFO"),
            "unexpected log line before listening: {line}"
        );
    }
}

fn terminate(child: &Running) {
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_on_one_store_serve_identical_bytes_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |t| t);
    let paths = [
        "/fr/rss.xml",
        "/zh/atom.xml",
        "/ar/business/feed.json",
        "/feeds.opml",
    ];

    let mut runs = Vec::new();
    for _ in 0..2 {
        let (mut child, addr, mut stderr) = serve(&config);
        let mut bodies = Vec::new();
        for path in paths {
            let res = request(addr, "GET", path, &[("accept-encoding", "br")]).await;
            assert_eq!(res.status, StatusCode::OK);
            let etag = res.header("etag").map(str::to_owned);
            bodies.push((res.body, etag));
        }
        terminate(&child);
        let status = child.0.wait().unwrap();
        assert!(status.success(), "exits cleanly on SIGTERM: {status}");
        let mut rest = String::new();
        std::io::Read::read_to_string(stderr.get_mut(), &mut rest).unwrap();
        assert!(rest.contains("stopped"), "{rest}");
        runs.push(bodies);
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn render_prints_the_bytes_the_server_sends() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |t| t);
    let (child, addr, _stderr) = serve(&config);
    let served = request(addr, "GET", "/ja/technology/atom.xml", &[]).await;
    terminate(&child);
    let output = kabar()
        .args([
            "render",
            "ja",
            "atom",
            "--section",
            "technology",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, served.body.to_vec());

    let output = kabar()
        .args(["render", "xx", "atom", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown language \"xx\""));
}

#[test]
fn check_config_names_file_line_and_key() {
    let output = kabar()
        .arg("check-config")
        .arg(repo().join("feeds.toml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (6 languages, 5 sections)"));

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |t| {
        t.replace("ttl_minutes = 5", "ttl_minutes = 5\ntll = 3")
    });
    let output = kabar().arg("check-config").arg(&config).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .position(|l| l == "tll = 3")
        .unwrap()
        + 1;
    assert!(stderr.contains(&format!("feeds.toml:{line}:")), "{stderr}");
    assert!(stderr.contains("unknown field `tll`"), "{stderr}");
}

#[test]
fn import_loads_good_records_and_names_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |t| t);
    let folder = dir.path().join("incoming");
    std::fs::create_dir(&folder).unwrap();
    let good =
        std::fs::read_to_string(repo().join("demo/articles/biden-putin-phone-call.json")).unwrap();
    std::fs::write(folder.join("a-good.json"), &good).unwrap();
    std::fs::write(folder.join("b-broken.json"), "{\"id\": \"x\",\n  oops}").unwrap();
    let unknown_lang = good.replacen("\"fr\"", "\"de\"", 1);
    std::fs::write(folder.join("c-german.json"), unknown_lang).unwrap();

    let store = dir.path().join("import.sqlite");
    let output = kabar()
        .arg("import")
        .arg(&folder)
        .arg("--store")
        .arg(&store)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "a refused record makes the import fail"
    );
    assert!(
        stdout.contains("imported 1 articles, 2 refused"),
        "{stdout}"
    );
    assert!(
        stderr.contains("b-broken.json: body: invalid JSON at line 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c-german.json: versions.de: unknown language \"de\""),
        "{stderr}"
    );

    // Importing again changes nothing and still succeeds for the good file.
    std::fs::remove_file(folder.join("b-broken.json")).unwrap();
    std::fs::remove_file(folder.join("c-german.json")).unwrap();
    let output = kabar()
        .arg("import")
        .arg(&folder)
        .arg("--store")
        .arg(&store)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(output.status.success());
    let output = kabar()
        .args(["render", "fr", "rss", "--store"])
        .arg(&store)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let rss = String::from_utf8_lossy(&output.stdout);
    assert_eq!(rss.matches("<item>").count(), 1, "{rss}");
}
