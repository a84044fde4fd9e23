//! A PostgreSQL server for tests, with no hand set-up: the one named by
//! `KABAR_TEST_DATABASE_URL` when it is set (CI's, checked by `.ci/run`), or
//! else a throwaway cluster started with the system's `initdb` and `pg_ctl` in a
//! temporary folder, shared by the tests of one test binary and stopped when
//! that binary exits. Each test gets a scratch database of its own.
//!
//! When neither works the tests fail, never skip: a green run must mean the
//! PostgreSQL store was tested.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

/// The environment variable naming a server to use instead of a throwaway one.
pub const URL_ENV: &str = "KABAR_TEST_DATABASE_URL";

/// Where the test server is.
pub enum Server {
    /// The server `KABAR_TEST_DATABASE_URL` names; its database is the one
    /// scratch databases are created from.
    Url(url::Url),
    /// A throwaway cluster listening only on a Unix socket in `socket_dir`.
    Cluster { socket_dir: PathBuf, port: u16 },
}

impl Server {
    /// The URL of database `db` on this server.
    pub fn url_for(&self, db: &str) -> String {
        match self {
            Server::Url(url) => {
                let mut url = url.clone();
                url.set_path(&format!("/{db}"));
                url.to_string()
            }
            Server::Cluster { socket_dir, port } => {
                let dir = socket_dir.display().to_string().replace('/', "%2F");
                format!("postgresql://postgres@{dir}:{port}/{db}")
            }
        }
    }

    /// The database to connect to for creating and dropping others.
    fn admin_url(&self) -> String {
        match self {
            Server::Url(url) => url.to_string(),
            Server::Cluster { .. } => self.url_for("postgres"),
        }
    }
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The test server, found or started on first use.
pub fn server() -> &'static Server {
    match SERVER.get_or_init(find_or_start) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

fn find_or_start() -> Result<Server, String> {
    if let Some(url) = std::env::var(URL_ENV).ok().filter(|u| !u.is_empty()) {
        return url::Url::parse(&url)
            .map(Server::Url)
            .map_err(|e| format!("{URL_ENV}={url:?} is not a URL: {e}"));
    }
    start_cluster().map_err(|reason| {
        let how = "set KABAR_TEST_DATABASE_URL to a server the tests may create databases on \
                   (e.g. postgres://postgres@127.0.0.1:5432/postgres), or install PostgreSQL \
                   so the tests can start their own (Debian: apt-get install postgresql)";
        if std::env::var_os("CI").is_some() {
            format!("CI: the PostgreSQL tests cannot run and must not be skipped: {reason}; {how}")
        } else {
            format!("the PostgreSQL tests need a server: {reason}; {how}")
        }
    })
}

/// A database for one test, dropped (best effort) when the test ends.
pub struct ScratchDb {
    /// The database's URL, for `PgStore::open` or `KABAR_DATABASE_URL`.
    pub url: String,
    pub name: String,
    admin_url: String,
}

/// Creates a fresh, empty database on the test server.
pub async fn scratch() -> ScratchDb {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let server = server();
    let admin_url = server.admin_url();
    let client = admin(&admin_url).await;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "kabar_test_{}_{}_{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("cannot create the scratch database {name}: {e}"));
    ScratchDb {
        url: server.url_for(&name),
        name,
        admin_url,
    }
}

/// A connection to the server's admin database; panics with what to do when
/// the server does not answer.
pub async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the test PostgreSQL server does not answer ({e}); if {URL_ENV} is set, is \
                 that server running?"
            )
        });
    tokio::spawn(connection);
    client
}

impl ScratchDb {
    /// A connection to the server's admin database (not this one), for
    /// tests that act on this database's sessions from outside.
    pub async fn admin(&self) -> tokio_postgres::Client {
        admin(&self.admin_url).await
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop cannot await and may run inside a runtime: use a thread and a
        // runtime of its own. Best effort: a leftover database is harmless.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok((client, connection)) = tokio_postgres::connect(&admin_url, NoTls).await {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Starts a cluster in a new temporary folder, listening on a Unix socket
/// there only, with a watchdog that stops it and removes the folder when this
/// test process exits (statics are never dropped).
fn start_cluster() -> Result<Server, String> {
    let bin = postgres_bin().ok_or("no initdb found on PATH or in /usr/lib/postgresql/*/bin")?;
    let dir = tempfile::Builder::new()
        .prefix("kabar-pg-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary folder: {e}"))?
        .keep();
    // initdb refuses to run as root; run the cluster as `postgres` then.
    let as_user = if is_root() {
        run(Command::new("chown").args(["-R", "postgres:"]).arg(&dir))?;
        Some("postgres")
    } else {
        None
    };
    let tool = |name: &str| -> Command {
        let path = bin.join(name);
        match as_user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        }
    };
    let data = dir.join("data");
    run(tool("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"])
        .arg("--no-sync"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot pick a port: {e}"))?;
    let options = format!(
        "-c listen_addresses='' -k {} -p {port} -c fsync=off -c synchronous_commit=off \
         -c max_connections=200",
        dir.display()
    );
    run(tool("pg_ctl")
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-o", &options, "start"]))?;
    let stop = format!(
        "{} {} -D {} -m immediate stop",
        as_user.map_or(String::new(), |u| format!("runuser -u {u} --")),
        bin.join("pg_ctl").display(),
        data.display()
    );
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))?;
    Ok(Server::Cluster {
        socket_dir: dir,
        port,
    })
}

/// The folder of `initdb` and `pg_ctl`: on PATH, or Debian's newest version.
fn postgres_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
