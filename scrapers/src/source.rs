//! The [`Source`] trait every scraper implements, and what it reports while it works.

use std::sync::Arc;

use crate::{Found, ScrapeError};

/// Where a running scrape or fetch tells its user what it is doing. Implementations draw
/// progress bars; the scrapers only report.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// What is being fetched now (a page, a query split, a repo).
    fn status(&self, text: &str);
    /// A wait imposed by a rate limit, before it starts: `secs` seconds, `why` says who.
    fn waiting(&self, why: &str, secs: u64);
    /// Something the user should know that does not stop the work.
    fn warn(&self, text: &str);
}

/// Progress that goes nowhere (`--quiet`, tests, benchmarks).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn status(&self, _: &str) {}
    fn waiting(&self, _: &str, _: u64) {}
    fn warn(&self, _: &str) {}
}

pub type SharedProgress = Arc<dyn Progress>;

/// One unit of a source's work.
#[derive(Debug, Default)]
pub struct Page {
    /// What it found (stored even when `interrupted`: nothing received is lost).
    pub found: Vec<Found>,
    /// The cursor after this page; `None` when the source has nothing left.
    pub next: Option<serde_json::Value>,
    /// The page broke off: store `found`, keep the cursor where it was, and stop with this.
    pub interrupted: Option<ScrapeError>,
}

/// A place flakes are found. A scrape is a sequence of pages; the cursor between them is
/// the source's own JSON, saved with each page so an interrupted scrape resumes there.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// `sourcegraph`, `grep-app`, `github`, `list`: stored with what it finds.
    fn name(&self) -> &'static str;
    /// The search as the user asked it: a scrape resumes only the same query.
    fn query(&self) -> String;
    /// The cursor of a fresh scrape.
    fn start(&self) -> serde_json::Value;
    /// Fetches the page at `cursor`.
    async fn page(&self, cursor: &serde_json::Value) -> Result<Page, ScrapeError>;
}

/// Reads a source's cursor back from its JSON.
pub(crate) fn read_cursor<T: serde::de::DeserializeOwned>(
    source: &str,
    cursor: &serde_json::Value,
) -> Result<T, ScrapeError> {
    serde_json::from_value(cursor.clone()).map_err(|e| ScrapeError::Cursor {
        source_name: source.to_owned(),
        detail: e.to_string(),
    })
}

pub(crate) fn write_cursor<T: serde::Serialize>(cursor: &T) -> serde_json::Value {
    serde_json::to_value(cursor).unwrap_or(serde_json::Value::Null)
}
