//! Serving what was rendered: a [`Resource`](crate::urls::Resource) becomes a
//! [`Representation`] (`build`), compressed once and kept in the [`cache`];
//! large bodies live in the [`pages`] file, so sockets take them by `sendfile`.

pub mod build;
pub mod cache;
mod headers;
pub mod pages;
pub mod representation;
pub mod shmem;

pub use build::{BuildError, render_feed};
pub use cache::{FeedCache, touched_feeds};
pub use representation::Representation;
