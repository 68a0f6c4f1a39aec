//! Finding flakes and keeping their sources.
//!
//! Repos are found by [`Source`]s — Sourcegraph, grep.app, GitHub code search, a list file
//! — each scrape stored page by page with a resumable cursor ([`scrape()`]), or added from
//! the local disk ([`discover_local`]). Fetching snapshots a repo into the
//! content-addressed [`SourceStore`] (so a run always tests exactly the bytes that were
//! added, however the original changes), and every flake file inside it becomes a flake of
//! the corpus.

mod error;
pub mod fetch;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod found;
mod http;
mod local;
mod scrape;
mod source;
mod source_store;
pub mod sources;
mod sse;

pub use error::ScrapeError;
pub use found::{from_list_line, from_repository_name, Forge, Found};
pub use http::{Http, HttpOptions};
pub use local::{discover_local, head_commit_time, LocalRepo};
pub use scrape::{scrape, ScrapeReport};
pub use source::{Page, Progress, SharedProgress, Silent, Source};
pub use source_store::{FlakeProblem, ImportError, Snapshot, SourceStore};
pub use sse::{Event, SseParser};
