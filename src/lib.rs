//! Kabar: per-language RSS 2.0, Atom 1.0 and JSON Feed feeds for a multilingual
//! news site, where every translated item points back to its original.
//!
//! A read flows one way: HTTP ([`http`]) → the render cache ([`serve`]) → on a
//! miss the store ([`store`]) → the builder ([`feed`]) → the renderers
//! ([`render`]) → a compressed representation, kept in the cache and served.
//! The URL scheme ([`urls`]) and the configuration ([`config`]) sit under
//! everything; ARCHITECTURE.md draws the layers.

pub mod app;
pub mod article;
pub mod auth;
pub mod changes;
pub mod config;
pub mod fedi;
pub mod feed;
pub mod http;
pub mod hub;
pub mod import;
pub mod metrics;
pub mod outbound;
pub mod render;
pub mod serve;
pub mod store;
pub mod text;
pub mod urls;
pub mod websub;
pub mod write;

pub use app::App;
pub use config::Config;
pub use store::{ArticleStore, PgStore, SqliteStore};
