//! What scrapers found and where they stopped; what fetching did with each repo.

use std::collections::{BTreeMap, HashSet};

use sqlx::Row;

use crate::flakes::insert_snapshot;
use crate::{now_ms, DataError, Db, NewRepo, NewSnapshot};

/// One flake file a source reported.
#[derive(Debug, Clone)]
pub struct FoundFlake {
    pub repo: NewRepo,
    /// Path of the flake file in the repo, as the source gave it.
    pub path: String,
    /// Commit the source saw it at, when it said.
    pub commit: Option<String>,
}

/// Where a scrape of (source, query) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeState {
    /// The source's JSON state to resume from; `None` once finished.
    pub cursor: Option<String>,
    pub pages: i64,
}

/// What one stored page added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    /// Distinct repos in the page no source had found before.
    pub new_repos: usize,
    /// Distinct repos in the page already known (from this source or another).
    pub known_repos: usize,
}

/// One (repo, flake file) a source reported, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryRow {
    pub url: String,
    pub source: String,
    pub path: String,
    pub commit: Option<String>,
}

/// One scrape of (source, query), as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeRow {
    pub source: String,
    pub query: String,
    pub state: ScrapeState,
}

/// A repo `gnfc fetch` should fetch.
#[derive(Debug, Clone)]
pub struct RepoToFetch {
    pub id: i64,
    pub repo: NewRepo,
    /// The newest commit a source reported for it, for fetching pinned.
    pub found_commit: Option<String>,
}

/// Rows per multi-row statement: few round trips, far below every backend's parameter limit.
const CHUNK: usize = 100;

impl Db {
    /// The saved state of the scrape of `query` on `source`, if it was ever started.
    pub async fn scrape_state(
        &self,
        source: &str,
        query: &str,
    ) -> Result<Option<ScrapeState>, DataError> {
        let row = sqlx::query("SELECT cursor, pages FROM scrapes WHERE source = $1 AND query = $2")
            .bind(source)
            .bind(query)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(ScrapeState {
                cursor: row.try_get("cursor")?,
                pages: row.try_get("pages")?,
            }),
            None => None,
        })
    }

    /// Every scrape ever started, by source and query.
    pub async fn scrapes(&self) -> Result<Vec<ScrapeRow>, DataError> {
        let rows =
            sqlx::query("SELECT source, query, cursor, pages FROM scrapes ORDER BY source, query")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(ScrapeRow {
                    source: row.try_get("source")?,
                    query: row.try_get("query")?,
                    state: ScrapeState {
                        cursor: row.try_get("cursor")?,
                        pages: row.try_get("pages")?,
                    },
                })
            })
            .collect()
    }

    /// Every known repo, whoever found it, by URL.
    pub async fn repos(&self) -> Result<Vec<NewRepo>, DataError> {
        let rows = sqlx::query(
            "SELECT forge, owner, name, url, stars, default_branch FROM repos ORDER BY url",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(NewRepo {
                    forge: row.try_get("forge")?,
                    owner: row.try_get("owner")?,
                    name: row.try_get("name")?,
                    url: row.try_get("url")?,
                    stars: row.try_get("stars")?,
                    default_branch: row.try_get("default_branch")?,
                })
            })
            .collect()
    }

    /// Every flake file sources reported, by repo URL and path.
    pub async fn discoveries(&self) -> Result<Vec<DiscoveryRow>, DataError> {
        let rows = sqlx::query(
            "SELECT r.url, d.source, d.path, d.commit_id FROM discoveries d
             JOIN repos r ON r.id = d.repo_id ORDER BY r.url, d.path, d.source",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DiscoveryRow {
                    url: row.try_get("url")?,
                    source: row.try_get("source")?,
                    path: row.try_get("path")?,
                    commit: row.try_get("commit_id")?,
                })
            })
            .collect()
    }

    /// Starts (or restarts from the beginning) the scrape of `query` on `source`.
    pub async fn start_scrape(
        &self,
        source: &str,
        query: &str,
        cursor: &str,
    ) -> Result<(), DataError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO scrapes (source, query, cursor, pages, started_at, updated_at)
             VALUES ($1, $2, $3, 0, $4, $4)
             ON CONFLICT (source, query) DO UPDATE SET
                 cursor = excluded.cursor, pages = 0, started_at = excluded.started_at,
                 updated_at = excluded.updated_at, finished_at = NULL",
        )
        .bind(source)
        .bind(query)
        .bind(cursor)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores one page of a scrape and the cursor after it, in one transaction: a scrape
    /// killed at any moment resumes at a page boundary, and re-storing a page changes nothing
    /// but the `last_found_at` times. `next` is `None` when the scrape is finished.
    pub async fn record_scrape_page(
        &self,
        source: &str,
        query: &str,
        found: &[FoundFlake],
        next: Option<&str>,
    ) -> Result<PageCounts, DataError> {
        let now = now_ms();
        // One row per repo (the last report wins) and per (repo, path): a statement may not
        // touch the same row twice.
        let mut repos: BTreeMap<&str, &NewRepo> = BTreeMap::new();
        let mut files: BTreeMap<(&str, &str), Option<&str>> = BTreeMap::new();
        for f in found {
            let entry = repos.entry(&f.repo.url).or_insert(&f.repo);
            if f.repo.stars.is_some() || f.repo.default_branch.is_some() {
                *entry = &f.repo;
            }
            let commit = files.entry((&f.repo.url, &f.path)).or_insert(None);
            if f.commit.is_some() {
                *commit = f.commit.as_deref();
            }
        }
        let mut tx = self.pool.begin().await?;
        let repos: Vec<&NewRepo> = repos.into_values().collect();
        let mut known = HashSet::new();
        let mut ids = BTreeMap::new();
        for chunk in repos.chunks(CHUNK) {
            let marks = placeholders(chunk.len(), 1, 1);
            let sql = format!("SELECT url FROM repos WHERE url IN ({marks})");
            let mut query = sqlx::query(&sql);
            for repo in chunk {
                query = query.bind(&repo.url);
            }
            for row in query.fetch_all(&mut *tx).await? {
                known.insert(row.try_get::<String, _>("url")?);
            }
            let sql = format!(
                "INSERT INTO repos (forge, owner, name, url, stars, default_branch, added_at)
                 VALUES {}
                 ON CONFLICT (url) DO UPDATE SET
                     stars = COALESCE(excluded.stars, repos.stars),
                     default_branch = COALESCE(excluded.default_branch, repos.default_branch)
                 RETURNING id, url",
                placeholders(chunk.len(), 7, 1)
            );
            let mut query = sqlx::query(&sql);
            for repo in chunk {
                query = query
                    .bind(&repo.forge)
                    .bind(&repo.owner)
                    .bind(&repo.name)
                    .bind(&repo.url)
                    .bind(repo.stars)
                    .bind(&repo.default_branch)
                    .bind(now);
            }
            for row in query.fetch_all(&mut *tx).await? {
                ids.insert(
                    row.try_get::<String, _>("url")?,
                    row.try_get::<i64, _>("id")?,
                );
            }
        }
        let files: Vec<_> = files.into_iter().collect();
        for chunk in files.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO discoveries
                     (repo_id, source, path, commit_id, first_found_at, last_found_at)
                 VALUES {}
                 ON CONFLICT (repo_id, source, path) DO UPDATE SET
                     commit_id = COALESCE(excluded.commit_id, discoveries.commit_id),
                     last_found_at = excluded.last_found_at",
                placeholders(chunk.len(), 6, 1)
            );
            let mut query = sqlx::query(&sql);
            for ((url, path), commit) in chunk {
                let id = ids.get(*url).copied().ok_or_else(|| {
                    DataError::Corrupt(format!("repo {url} was stored but not returned"))
                })?;
                query = query
                    .bind(id)
                    .bind(source)
                    .bind(*path)
                    .bind(*commit)
                    .bind(now)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE scrapes SET cursor = $1, pages = pages + 1, updated_at = $2,
                 finished_at = CASE WHEN $1 IS NULL THEN $2 ELSE NULL END
             WHERE source = $3 AND query = $4",
        )
        .bind(next)
        .bind(now)
        .bind(source)
        .bind(query)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PageCounts {
            new_repos: repos.len() - known.len(),
            known_repos: known.len(),
        })
    }

    /// Repos found by scrapers (not `local` ones), oldest first; with `refetch` also those
    /// fetched before, else only those never fetched successfully.
    pub async fn repos_to_fetch(&self, refetch: bool) -> Result<Vec<RepoToFetch>, DataError> {
        let sql = format!(
            "SELECT r.id, r.forge, r.owner, r.name, r.url, r.stars, r.default_branch,
                 (SELECT d.commit_id FROM discoveries d
                  WHERE d.repo_id = r.id AND d.commit_id IS NOT NULL
                  ORDER BY d.last_found_at DESC LIMIT 1) AS found_commit
             FROM repos r
             WHERE r.forge <> 'local' {}
             ORDER BY r.id",
            if refetch {
                ""
            } else {
                "AND r.head_commit IS NULL"
            }
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(RepoToFetch {
                    id: row.try_get("id")?,
                    repo: NewRepo {
                        forge: row.try_get("forge")?,
                        owner: row.try_get("owner")?,
                        name: row.try_get("name")?,
                        url: row.try_get("url")?,
                        stars: row.try_get("stars")?,
                        default_branch: row.try_get("default_branch")?,
                    },
                    found_commit: row.try_get("found_commit")?,
                })
            })
            .collect()
    }

    /// Records a successful fetch: the snapshot (as [`Db::add_snapshot`]) and the commit it
    /// was taken at, in one transaction. Returns how many flakes were new.
    pub async fn record_fetch(
        &self,
        repo: &NewRepo,
        commit: &str,
        snapshot: &NewSnapshot<'_>,
    ) -> Result<usize, DataError> {
        let mut tx = self.pool.begin().await?;
        let (repo_id, added) = insert_snapshot(&mut tx, repo, snapshot, now_ms()).await?;
        sqlx::query(
            "UPDATE repos SET head_commit = $1, fetched_at = $2, fetch_error = NULL WHERE id = $3",
        )
        .bind(commit)
        .bind(now_ms())
        .bind(repo_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(added)
    }

    /// The commit `gnfc fetch` last fetched of the repo at `url`, if it ever did.
    pub async fn fetched_commit(&self, url: &str) -> Result<Option<String>, DataError> {
        let commit: Option<Option<String>> =
            sqlx::query_scalar("SELECT head_commit FROM repos WHERE url = $1")
                .bind(url)
                .fetch_optional(&self.pool)
                .await?;
        Ok(commit.flatten())
    }

    /// Records why a repo could not be fetched (kept until a fetch succeeds).
    pub async fn record_fetch_failure(&self, repo_id: i64, error: &str) -> Result<(), DataError> {
        sqlx::query("UPDATE repos SET fetch_error = $1, fetched_at = $2 WHERE id = $3")
            .bind(error)
            .bind(now_ms())
            .bind(repo_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// `($1, $2), ($3, $4)` for `rows` rows of `width` columns, numbered from `first`.
fn placeholders(rows: usize, width: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (0..width)
                .map(|c| format!("${}", first + r * width + c))
                .collect();
            if width == 1 {
                cols.join("")
            } else {
                format!("({})", cols.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod unit {
    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(super::placeholders(2, 2, 1), "($1, $2), ($3, $4)");
        assert_eq!(super::placeholders(3, 1, 1), "$1, $2, $3");
    }
}
