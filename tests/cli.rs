//! The `kabar` binary as an operator runs it: serve, stop on a signal, check the
//! configuration, import, render.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{AUTH, DEADLINE, Site, TOKEN, eventually, repo, request};
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
    // The first log line names the address, even on a first run that creates
    // and seeds the store.
    let mut line = String::new();
    assert!(
        stderr.read_line(&mut line).unwrap() > 0,
        "kabar exited before listening"
    );
    let Some(rest) = line.split("listening on http://").nth(1) else {
        panic!("the first log line does not name the address: {line}");
    };
    let addr = rest.trim().trim_end_matches('/').parse().expect("address");
    (child, addr, stderr)
}

/// Runs `kabar import PATH --store STORE --config CONFIG`.
fn import(path: &Path, store: &Path, config: &Path) -> std::process::Output {
    kabar()
        .arg("import")
        .arg(path)
        .arg("--store")
        .arg(store)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

/// Starts `kabar serve` with the write API on, logging to the file `log` (the
/// server must not depend on a reader of its stderr), and returns it with the
/// address it logs.
async fn serve_logging_to(config: &Path, log: &Path) -> (Running, SocketAddr) {
    serve_logging_to_with(config, log, &[]).await
}

/// [`serve_logging_to`] with more variables in kabar's environment.
async fn serve_logging_to_with(
    config: &Path,
    log: &Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> (Running, SocketAddr) {
    let mut child = Running(
        kabar()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("KABAR_API_TOKEN", TOKEN)
            .envs(env.iter().copied())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    );
    let addr = eventually(
        "kabar to log its address",
        Duration::from_secs(20),
        async || {
            let text = std::fs::read_to_string(log).unwrap();
            if let Some(status) = child.0.try_wait().unwrap() {
                panic!("kabar exited ({status}) before listening:\n{text}");
            }
            // Only a whole line: the rest of the address may still be on its way.
            let (line, _) = text
                .split("listening on http://")
                .nth(1)?
                .split_once('\n')?;
            Some(line.trim().trim_end_matches('/').parse().expect("address"))
        },
    )
    .await;
    (child, addr)
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
    let site = Site::new();
    let config = site.config_file();
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
    let site = Site::new();
    let config = site.config_file();
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

    let site = Site::edited(|t| t.replace("ttl_minutes = 5", "ttl_minutes = 5\ntll = 3"));
    let config = site.config_file();
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
    let site = Site::new();
    let config = site.config_file();
    let folder = site.dir().join("incoming");
    std::fs::create_dir(&folder).unwrap();
    let good =
        std::fs::read_to_string(repo().join("demo/articles/biden-putin-phone-call.json")).unwrap();
    std::fs::write(folder.join("a-good.json"), &good).unwrap();
    std::fs::write(folder.join("b-broken.json"), "{\"id\": \"x\",\n  oops}").unwrap();
    let unknown_lang = good.replacen("\"fr\"", "\"de\"", 1);
    std::fs::write(folder.join("c-german.json"), unknown_lang).unwrap();

    let store = site.dir().join("import.sqlite");
    let output = import(&folder, &store, &config);
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
    let output = import(&folder, &store, &config);
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

#[test]
fn export_then_import_into_a_new_store_renders_identical_bytes() {
    let site = Site::new();
    let config = site.config_file();
    let dump = site.dir().join("backup.jsonl");
    // The configured store is seeded from the demo articles on first open.
    let output = kabar()
        .args(["render", "fr", "rss", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(output.status.success());
    let output = kabar()
        .arg("export")
        .arg(&dump)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("exported 40 articles"));
    assert_eq!(std::fs::read_to_string(&dump).unwrap().lines().count(), 40);

    let copy = site.dir().join("copy.sqlite");
    let output = import(&dump, &copy, &config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (lang, format, section) in [
        ("fr", "rss", None),
        ("ja", "atom", Some("world")),
        ("ar", "json", None),
        ("id", "atom", Some("sports")),
    ] {
        let render = |store: Option<&Path>| {
            let mut cmd = kabar();
            cmd.args(["render", lang, format, "--config"]).arg(&config);
            if let Some(section) = section {
                cmd.args(["--section", section]);
            }
            if let Some(store) = store {
                cmd.arg("--store").arg(store);
            }
            let output = cmd.output().unwrap();
            assert!(output.status.success());
            output.stdout
        };
        assert_eq!(
            render(None),
            render(Some(&copy)),
            "{lang} {format} {section:?}"
        );
    }
}

#[test]
fn json_lines_imports_name_the_bad_line() {
    let site = Site::new();
    let config = site.config_file();
    let good: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("demo/articles/biden-putin-phone-call.json")).unwrap(),
    )
    .unwrap();
    let mut other = good.clone();
    other["id"] = "salinan-kedua".into();
    let mut bad = good.clone();
    bad["versions"]["fr"]["url"] = "not a url".into();
    let lines = [
        good.to_string(),
        bad.to_string(),
        String::new(),
        other.to_string(),
    ]
    .join("\n");
    let file = site.dir().join("batch.jsonl");
    std::fs::write(&file, lines).unwrap();
    let store = site.dir().join("lines.sqlite");
    let output = import(&file, &store, &config);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("batch.jsonl:2: versions.fr.url: relative URL without a base"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported 2 articles, 1 refused"));
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_a_kill() {
    let site = Site::new();
    let config = site.config_file();
    let (mut server, addr) = serve_logging_to(&config, &site.dir().join("first.log")).await;
    let template: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("demo/articles/biden-putin-phone-call.json")).unwrap(),
    )
    .unwrap();

    // Four writers stream PUTs; the server is killed while they are at it.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let acknowledged = std::sync::Arc::clone(&acknowledged);
        let template = template.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("tahan-banting-{w}-{i:04}");
                let mut article = template.clone();
                article["id"] = id.clone().into();
                let put = common::try_send(
                    addr,
                    "PUT",
                    &format!("/api/v1/articles/{id}"),
                    &[AUTH, ("content-type", "application/json")],
                    article.to_string(),
                )
                .await;
                match put {
                    Some(status) if status.is_success() => acknowledged.lock().unwrap().push(id),
                    Some(status) => panic!("PUT answered {status}"),
                    None => break,
                }
            }
        }));
    }
    eventually("60 acknowledged writes", DEADLINE, async || {
        acknowledged.lock().unwrap().len() >= 60
    })
    .await;
    let status = Command::new("kill")
        .args(["-KILL", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.0.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    drop(server);

    let log = site.dir().join("second.log");
    let (_server, addr) = serve_logging_to(&config, &log).await;
    let log = std::fs::read_to_string(log).unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 60);
    for id in &acknowledged {
        let res = request(addr, "GET", &format!("/api/v1/articles/{id}"), &[AUTH]).await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "acknowledged {id} is gone after the kill\n{log}"
        );
    }
    assert_eq!(
        request(addr, "GET", "/readyz", &[]).await.status,
        StatusCode::OK
    );
    let conn = rusqlite::Connection::open(site.dir().join("kabar.sqlite")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// Where the kernel backs shared memory with huge pages, a punched hole in the
/// page file would not give fresh pages to the next body: the server must
/// write bodies from memory instead, say so, and serve the same bytes.
#[tokio::test(flavor = "multi_thread")]
async fn huge_pages_for_shared_memory_turn_the_page_file_off() {
    let site = Site::new();
    let sysfs = tempfile::tempdir().unwrap();
    let mut bodies = Vec::new();
    for (setting, enabled) in [
        ("always within_size advise [never] deny force\n", "1"),
        ("[always] within_size advise never deny force\n", "0"),
    ] {
        let shmem_enabled = sysfs.path().join("shmem_enabled");
        std::fs::write(&shmem_enabled, setting).unwrap();
        let log = site.dir().join("kabar.log");
        let (child, addr) = serve_logging_to_with(
            &site.config_file(),
            &log,
            &[("KABAR_SHMEM_ENABLED_PATH", shmem_enabled.as_os_str())],
        )
        .await;
        // The French feed is past the page file's threshold, so it would go by sendfile.
        let feed = request(addr, "GET", "/fr/rss.xml", &[]).await;
        assert_eq!(feed.status, StatusCode::OK);
        let metrics = request(addr, "GET", "/metrics", &[]).await.text();
        assert!(
            metrics.contains(&format!("\nkabar_page_file_enabled {enabled}\n")),
            "{setting}: {metrics}"
        );
        terminate(&child);
        let text = std::fs::read_to_string(&log).unwrap();
        let said: &[&str] = match enabled {
            "1" => &["page file on"],
            _ => &[
                "no page file",
                "transparent huge pages are on for shared memory",
            ],
        };
        assert!(said.iter().all(|s| text.contains(s)), "{setting}: {text}");
        bodies.push(feed.body);
    }
    assert!(bodies[0].len() >= 64 * 1024, "the feed is a page-file body");
    assert_eq!(
        bodies[0], bodies[1],
        "the same bytes from memory as by sendfile"
    );
}
