//! GitHub code search (`filename:flake.nix`) through octocrab.
//!
//! A search returns at most 1,000 results (10 pages of 100). A query with more is split on
//! the file's `size:` range, halving until each part fits. Rate limits are octocrab's
//! `HandleRateLimits` retry policy, which waits as `retry-after` or `x-ratelimit-reset` say
//! (primary and secondary limits alike); each wait is reported as such.

use std::sync::Arc;

use octocrab::service::middleware::retry::{RateLimitMetrics, RetryConfig};
use octocrab::Octocrab;
use serde::{Deserialize, Serialize};

use crate::source::{read_cursor, write_cursor};
use crate::{Forge, Found, Page, ScrapeError, SharedProgress, Source};

/// GitHub serves no more of one search than this.
const RESULT_CAP: u64 = 1000;
const PER_PAGE: u8 = 100;

#[derive(Clone)]
pub struct GithubOptions {
    /// e.g. `https://api.github.com`.
    pub api: String,
    /// A token (code search requires one); never logged.
    pub token: Option<String>,
    /// Extra qualifiers, e.g. `language:Nix`.
    pub terms: String,
    /// Wait on a `429` that says nothing about how long.
    pub min_wait_secs: u64,
    /// Largest file size searched; code search indexes files below 384 KiB.
    pub max_size: u64,
}

impl std::fmt::Debug for GithubOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubOptions")
            .field("api", &self.api)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("terms", &self.terms)
            .finish()
    }
}

pub struct Github {
    octocrab: Octocrab,
    options: GithubOptions,
    progress: SharedProgress,
}

impl std::fmt::Debug for Github {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Github")
            .field("options", &self.options)
            .finish()
    }
}

/// Reports octocrab's rate-limit waits to the progress display.
struct WaitReporter(SharedProgress);

impl RateLimitMetrics for WaitReporter {
    fn retry_after_error(
        &self,
        _: &http::Request<octocrab::OctoBody>,
        status: http::StatusCode,
        retries_remaining: usize,
    ) {
        self.0.warn(&format!(
            "github: answered {status}; retrying ({retries_remaining} retries left)"
        ));
    }

    fn rate_limited(
        &self,
        _: &http::Request<octocrab::OctoBody>,
        status: http::StatusCode,
        _: usize,
        waiting_seconds: u64,
    ) {
        self.0.waiting(
            &format!("GitHub rate limit ({})", status.as_u16()),
            waiting_seconds,
        );
    }
}

/// Files of `lo..=hi` bytes, at result page `page`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Range {
    lo: u64,
    hi: u64,
    page: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    todo: Vec<Range>,
}

impl Github {
    pub fn new(options: GithubOptions, progress: SharedProgress) -> Result<Github, ScrapeError> {
        let retry = RetryConfig::HandleRateLimits {
            metrics: Arc::new(WaitReporter(progress.clone())),
            max_retries: 6,
            min_wait_seconds: options.min_wait_secs,
            // A 403 with neither `retry-after` nor an exhausted quota is a real refusal
            // (bad token, no access), not something waiting cures.
            retry_on_forbidden: false,
        };
        let mut builder = Octocrab::builder()
            .base_uri(options.api.as_str())
            .map_err(|e| {
                ScrapeError::Config(format!(
                    "the GitHub API URL '{}' is not usable ({e}): give e.g. https://api.github.com",
                    options.api
                ))
            })?
            .add_retry_config(retry);
        if let Some(token) = &options.token {
            builder = builder.personal_token(token.clone());
        }
        let octocrab = builder
            .build()
            .map_err(|e| ScrapeError::Config(format!("cannot set up the GitHub client: {e}")))?;
        Ok(Github {
            octocrab,
            options,
            progress,
        })
    }

    fn search(&self, range: &Range) -> String {
        let mut q = "filename:flake.nix".to_owned();
        if !self.options.terms.trim().is_empty() {
            q = format!("{q} {}", self.options.terms.trim());
        }
        format!("{q} size:{}..{}", range.lo, range.hi)
    }
}

fn github_error(e: octocrab::Error, what: &str) -> ScrapeError {
    match e {
        octocrab::Error::GitHub { source, .. } => ScrapeError::Github(format!(
            "{what}: GitHub answered {}: {}{}",
            source.status_code,
            source.message,
            if source.status_code.as_u16() == 401 {
                " (check the token: GITHUB_TOKEN or scrape.github.token)"
            } else {
                ""
            }
        )),
        octocrab::Error::Serde { source, .. } => ScrapeError::Malformed {
            what: what.to_owned(),
            detail: source.to_string(),
        },
        octocrab::Error::Json { source, .. } => ScrapeError::Malformed {
            what: what.to_owned(),
            detail: source.to_string(),
        },
        other => ScrapeError::Github(format!("{what}: {other}")),
    }
}

#[async_trait::async_trait]
impl Source for Github {
    fn name(&self) -> &'static str {
        "github"
    }

    fn query(&self) -> String {
        format!(
            "{} filename:flake.nix {}",
            self.options.api.trim_end_matches('/'),
            self.options.terms.trim()
        )
    }

    fn start(&self) -> serde_json::Value {
        write_cursor(&Cursor {
            todo: vec![Range {
                lo: 0,
                hi: self.options.max_size,
                page: 1,
            }],
        })
    }

    async fn page(&self, cursor: &serde_json::Value) -> Result<Page, ScrapeError> {
        let mut cursor: Cursor = read_cursor(self.name(), cursor)?;
        let Some(range) = cursor.todo.first().cloned() else {
            return Ok(Page::default());
        };
        let q = self.search(&range);
        self.progress
            .status(&format!("github: `{q}` page {}", range.page));
        let what = format!("GitHub code search `{q}` page {}", range.page);
        let result = self
            .octocrab
            .search()
            .code(&q)
            .per_page(PER_PAGE)
            .page(range.page)
            .send()
            .await
            .map_err(|e| github_error(e, &what))?;
        let total = result.total_count.unwrap_or(0);
        cursor.todo.remove(0);
        if range.page == 1 && total > RESULT_CAP && range.lo < range.hi {
            // Everything here comes again in the halves; storing it now would only count
            // it twice.
            let mid = range.lo + (range.hi - range.lo) / 2;
            self.progress.status(&format!(
                "github: `{q}` has {total} results, over the {RESULT_CAP} GitHub serves; \
                 splitting at size {mid}"
            ));
            cursor.todo.insert(
                0,
                Range {
                    lo: mid + 1,
                    page: 1,
                    ..range.clone()
                },
            );
            cursor.todo.insert(
                0,
                Range {
                    hi: mid,
                    page: 1,
                    ..range
                },
            );
            return Ok(Page {
                found: Vec::new(),
                next: Some(write_cursor(&cursor)),
                interrupted: None,
            });
        }
        if range.page == 1 && total > RESULT_CAP {
            self.progress.warn(&format!(
                "github: `{q}` has {total} results and cannot be split further; only the first \
                 {RESULT_CAP} are reachable"
            ));
        }
        if result.incomplete_results == Some(true) {
            self.progress.warn(&format!(
                "github: {what}: GitHub says the results are incomplete"
            ));
        }
        let got = result.items.len() as u64;
        let mut found = Vec::new();
        for code in result.items {
            let repo = code.repository;
            let full = repo.full_name.clone().unwrap_or_default();
            let owner = repo
                .owner
                .as_ref()
                .map(|o| o.login.clone())
                .or_else(|| full.split_once('/').map(|(o, _)| o.to_owned()));
            let Some(owner) = owner else {
                self.progress.warn(&format!(
                    "github: {what}: skipped a result without an owner"
                ));
                continue;
            };
            let mut f = Found::new(Forge::Github, &owner, &repo.name);
            f.path = code.path;
            f.stars = repo.stargazers_count.map(i64::from);
            f.branch = repo.default_branch;
            found.push(f);
        }
        let seen = u64::from(range.page) * u64::from(PER_PAGE);
        if got == u64::from(PER_PAGE) && seen < total.min(RESULT_CAP) {
            cursor.todo.insert(
                0,
                Range {
                    page: range.page + 1,
                    ..range
                },
            );
        }
        Ok(Page {
            found,
            next: (!cursor.todo.is_empty()).then(|| write_cursor(&cursor)),
            interrupted: None,
        })
    }
}
