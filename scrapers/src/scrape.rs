//! Running a source to the end: each page stored with the cursor after it, in one
//! transaction, so a scrape stopped anywhere resumes at the page it was on.

use gnfc_data::Db;

use crate::{Progress, ScrapeError, Source};

/// What a scrape did, for the final summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrapeReport {
    pub source: String,
    /// Whether it continued a scrape interrupted before.
    pub resumed: bool,
    pub pages: u64,
    /// Flake files reported.
    pub found: u64,
    /// Repos no source had found before.
    pub new_repos: u64,
    /// Repos already known (found earlier by this source or another).
    pub duplicates: u64,
}

/// Runs `source` from its saved cursor (or from the start: no saved cursor, a finished
/// scrape, or `restart`). Returns the report and, when it stopped early, why; everything
/// stored up to then stays stored.
pub async fn scrape(
    source: &dyn Source,
    db: &Db,
    progress: &dyn Progress,
    restart: bool,
    on_page: &(dyn Fn(&ScrapeReport) + Sync),
) -> Result<(ScrapeReport, Option<ScrapeError>), ScrapeError> {
    let (name, query) = (source.name(), source.query());
    let mut report = ScrapeReport {
        source: name.to_owned(),
        ..ScrapeReport::default()
    };
    let saved = db.scrape_state(name, &query).await?;
    let mut cursor = match saved.and_then(|s| s.cursor).filter(|_| !restart) {
        Some(text) => {
            report.resumed = true;
            progress.status(&format!("{name}: resuming the interrupted scrape"));
            serde_json::from_str(&text).map_err(|e| ScrapeError::Cursor {
                source_name: name.to_owned(),
                detail: e.to_string(),
            })?
        }
        None => {
            let start = source.start();
            db.start_scrape(name, &query, &start.to_string()).await?;
            start
        }
    };
    loop {
        let page = source.page(&cursor).await?;
        let next = match (&page.interrupted, page.next) {
            (Some(_), _) => Some(cursor.clone()),
            (None, next) => next,
        };
        let found: Vec<_> = page
            .found
            .into_iter()
            .map(crate::Found::into_found_flake)
            .collect();
        let next_text = next.as_ref().map(serde_json::Value::to_string);
        let counts = db
            .record_scrape_page(name, &query, &found, next_text.as_deref())
            .await?;
        report.pages += 1;
        report.found += found.len() as u64;
        report.new_repos += counts.new_repos as u64;
        report.duplicates += counts.known_repos as u64;
        on_page(&report);
        if let Some(e) = page.interrupted {
            return Ok((report, Some(e)));
        }
        match next {
            Some(n) => cursor = n,
            None => return Ok((report, None)),
        }
    }
}
