//! Kabar: per-language RSS 2.0, Atom 1.0 and JSON Feed feeds for a multilingual
//! news site, where every translated item points back to its original.
//!
//! A read flows one way: HTTP ([`http`]) → render cache ([`cache`]) → on a miss
//! the store ([`store`]) → the builder ([`feed`]) → the renderers ([`render`]) →
//! compressed [`representation`]s, kept in the cache (large bodies in the
//! [`pages`] file, sent with `sendfile`) and served.

pub mod app;
pub mod archive;
pub mod article;
pub mod auth;
pub mod cache;
pub mod changes;
pub mod config;
pub mod feed;
pub mod http;
pub mod import;
pub mod metrics;
pub mod pages;
pub mod render;
pub mod representation;
pub mod store;
pub mod text;
pub mod websub;
pub mod write;

pub use app::App;
pub use config::Config;
pub use store::{ArticleStore, PgStore, SqliteStore};
