//! The `kabar` command: serve feeds, import articles, check the configuration,
//! render one feed to stdout.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use kabar::app::{self, Seed, StoreLocation};
use kabar::auth::{self, ApiTokens};
use kabar::config::Config;
use kabar::urls::Format;
use kabar::urls::Resource;
use kabar::{App, ArticleStore, changes, http, import};

#[derive(Parser)]
#[command(
    name = "kabar",
    version,
    about = "Multilingual RSS, Atom and JSON Feed server"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the feeds (the default).
    Serve(ServeArgs),
    /// Import articles: a folder of JSON files or a JSON Lines file.
    Import {
        path: PathBuf,
        #[arg(long, default_value = "feeds.toml")]
        config: PathBuf,
        /// SQLite file or postgres:// URL to import into, instead of the configured one.
        #[arg(long, value_parser = StoreLocation::parse)]
        store: Option<StoreLocation>,
    },
    /// Write every article as JSON Lines (to re-import elsewhere, or as a backup).
    Export {
        /// Output file; stdout when missing.
        path: Option<PathBuf>,
        #[arg(long, default_value = "feeds.toml")]
        config: PathBuf,
        /// SQLite file or postgres:// URL, instead of the configured one.
        #[arg(long, value_parser = StoreLocation::parse)]
        store: Option<StoreLocation>,
    },
    /// Check a configuration file without serving.
    CheckConfig {
        #[arg(default_value = "feeds.toml")]
        path: PathBuf,
    },
    /// Print one feed to stdout: the same bytes the server sends.
    Render {
        lang: String,
        /// rss, atom or json.
        format: String,
        #[arg(long)]
        section: Option<String>,
        #[arg(long, default_value = "feeds.toml")]
        config: PathBuf,
        /// SQLite file or postgres:// URL, instead of the configured one.
        #[arg(long, value_parser = StoreLocation::parse)]
        store: Option<StoreLocation>,
    },
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    #[arg(long, default_value = "feeds.toml")]
    config: PathBuf,
    /// Address to listen on, instead of the configured one.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// SQLite file or postgres:// URL, instead of the configured one (and of
    /// KABAR_DATABASE_URL).
    #[arg(long, value_parser = StoreLocation::parse)]
    store: Option<StoreLocation>,
}

/// How long queued WebSub pings may take to go out after the server stops.
const HUB_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    keep_large_buffers_out_of_the_heap();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kabar: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs {
        config: PathBuf::from("feeds.toml"),
        ..ServeArgs::default()
    }));
    match runtime.block_on(run(command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kabar: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Pins glibc's mmap threshold at its default (128 KiB). Left dynamic, it
/// climbs to the size of the largest buffer freed (a rendered body, a
/// compressor's window), after which every render's buffers come from the
/// heaps of whatever blocking threads ran it and stay there, so a full cache
/// would hold much free heap besides its bodies.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
        // SAFETY: mallopt only sets a malloc parameter, before any other
        // thread runs; a refused value returns 0 and changes nothing.
        let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KABAR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // With stderr gone (its reader exited), reporting the failed write would
        // itself panic in eprintln! and take the server down: drop the line instead.
        .log_internal_errors(false);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve(args).await.map(|()| ExitCode::SUCCESS),
        Command::Import {
            path,
            config,
            store,
        } => import(&path, &config, store).await,
        Command::Export {
            path,
            config,
            store,
        } => export(path.as_deref(), &config, store)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::CheckConfig { path } => {
            let config = load_config(&path)?;
            println!(
                "{}: ok ({} languages, {} sections)",
                path.display(),
                config.languages.len(),
                config.sections.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            lang,
            format,
            section,
            config,
            store,
        } => render(&lang, &format, section.as_deref(), &config, store)
            .await
            .map(|()| ExitCode::SUCCESS),
    }
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    Ok(Config::load(path)?)
}

/// Opens the store the command line, the environment or feeds.toml names and
/// runs `$body` with it bound to `$store`, whatever its type: each command is
/// written once, generic over [`ArticleStore`].
macro_rules! with_store {
    ($config:expr, $location:expr, $seed:expr, |$store:ident| $body:expr) => {
        match StoreLocation::choose($config, $location)? {
            StoreLocation::Sqlite(path) => {
                let $store = app::open_sqlite($config, Some(&path), $seed).await?;
                $body
            }
            StoreLocation::Postgres(url) => {
                tracing::info!(database = %url, "using PostgreSQL");
                let $store = app::open_postgres($config, &url, $seed).await?;
                $body
            }
        }
    };
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Arc::new(load_config(&args.config)?);
    let tokens = ApiTokens::load(config.api.token_file.as_deref())?;
    let addr = args.listen.unwrap_or(config.server.listen);
    let listeners = http::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = listeners
        .local_addr()
        .context("cannot read the listening address")?;
    // The first log line names the address. Connections made while the store
    // opens (and, on a first run, loads the demo) wait in the listen backlog.
    tracing::info!("listening on http://{local}/");
    with_store!(&config, args.store, Seed::IfCreated, |store| {
        serve_on(Arc::clone(&config), Arc::new(store), listeners, tokens).await
    })
}

async fn serve_on<S: ArticleStore>(
    config: Arc<Config>,
    store: Arc<S>,
    listeners: http::Listeners,
    tokens: Option<ApiTokens>,
) -> anyhow::Result<()> {
    match &tokens {
        Some(_) => tracing::info!("write API on at /api/v1/"),
        None => tracing::info!(
            "write API off: set {} or [api] token_file to turn it on",
            auth::TOKEN_ENV
        ),
    }
    let app = App::new(config, store, tokens);
    if app.fedi.enabled() {
        // Made (the first time) or read now, not on the first request that
        // needs them.
        let keys_of = Arc::clone(&app);
        tokio::spawn(async move {
            if let Err(error) = keys_of.fedi.keys(&*keys_of.store).await {
                tracing::error!(%error, "the fediverse accounts have no keys");
            }
        });
    }
    let follower = tokio::spawn(changes::follow(Arc::clone(&app)));
    let served = http::serve(listeners, Arc::clone(&app), shutdown_signal()).await;
    follower.abort();
    if !app.publisher.close(HUB_DRAIN_TIMEOUT).await {
        tracing::warn!("some WebSub pings were abandoned at shutdown");
    }
    served.context("cannot start the serving threads")?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn import(
    path: &Path,
    config: &Path,
    store: Option<StoreLocation>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config)?;
    with_store!(&config, store, Seed::Never, |store| {
        import_into(&store, &config, path).await
    })
}

async fn import_into<S: ArticleStore>(
    store: &S,
    config: &Config,
    path: &Path,
) -> anyhow::Result<ExitCode> {
    let report = import::import_path(store, config, path).await?;
    for failure in &report.failed {
        eprintln!("{}: {}", failure.record, failure.reason);
    }
    println!(
        "imported {} articles, {} refused",
        report.imported,
        report.failed.len()
    );
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn export(
    path: Option<&Path>,
    config: &Path,
    store: Option<StoreLocation>,
) -> anyhow::Result<()> {
    let config = load_config(config)?;
    with_store!(&config, store, Seed::Never, |store| {
        export_from(&store, path).await
    })
}

async fn export_from<S: ArticleStore>(store: &S, path: Option<&Path>) -> anyhow::Result<()> {
    let mut out: Box<dyn Write> = match path {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let count = import::export(store, &mut out).await?;
    out.flush()?;
    eprintln!("exported {count} articles");
    Ok(())
}

async fn render(
    lang: &str,
    format: &str,
    section: Option<&str>,
    config: &Path,
    store: Option<StoreLocation>,
) -> anyhow::Result<()> {
    let config = Arc::new(load_config(config)?);
    let Some(format) = Format::ALL.into_iter().find(|f| f.name() == format) else {
        bail!("unknown format {format:?}: rss, atom or json");
    };
    let Some(lang) = config.languages.iter().position(|l| l.code() == lang) else {
        bail!(
            "unknown language {lang:?}: {}",
            config.language_codes().join(", ")
        );
    };
    let section = match section {
        Some(slug) => match config.sections.iter().position(|s| s.slug() == slug) {
            Some(i) => Some(i),
            None => bail!(
                "unknown section {slug:?}: {}",
                config.section_slugs().join(", ")
            ),
        },
        None => None,
    };
    let resource = Resource::Feed {
        lang,
        section,
        format,
    };
    with_store!(&config, store, Seed::IfCreated, |store| {
        render_from(Arc::clone(&config), Arc::new(store), resource).await
    })
}

async fn render_from<S: ArticleStore>(
    config: Arc<Config>,
    store: Arc<S>,
    resource: Resource,
) -> anyhow::Result<()> {
    let app = App::new(config, store, None);
    let rep = app
        .cache
        .get(resource)
        .await
        .map_err(|e| anyhow::anyhow!("cannot build the feed: {e}"))?;
    std::io::stdout().write_all(&rep.identity.bytes)?;
    Ok(())
}
