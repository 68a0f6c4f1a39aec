//! `gnfc fetch`: the sources of discovered repos, at their default branch head or a pinned
//! commit, as forge tarballs or shallow git clones, into the content-addressed store.
//!
//! Repos are fetched concurrently (`jobs`), but never more than `per_host` requests at once
//! to one host; rate-limit answers are waited out (see [`Http`]). A download is written to
//! a temporary file inside the store and unpacked into a temporary directory there, so a
//! cut or hostile archive leaves nothing behind; names of repos never become paths (the
//! store names snapshots by their content hash).

mod forge;
mod git;
mod unpack;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use gnfc_data::{Db, NewSnapshot, RepoToFetch};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use forge::ForgeUrls;
use forge::HeadLookup;

use crate::{
    head_commit_time, FlakeProblem, Http, HttpOptions, ScrapeError, SharedProgress, SourceStore,
};

/// Why a repo could not be fetched; [`FetchError::reason`] groups them for the summary.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0} (the repo is gone or private)")]
    NotFound(String),
    #[error("{0}")]
    RateLimited(String),
    #[error(
        "the download of {url} broke off after {got} of {expected} bytes; nothing was \
         stored — run `gnfc fetch` again"
    )]
    Truncated {
        url: String,
        got: u64,
        expected: String,
    },
    #[error("the archive is damaged or not a gzipped tar ({0}); nothing was stored")]
    BadArchive(String),
    #[error("the archive was refused: {0}; nothing was stored")]
    Unsafe(String),
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    Git(String),
    #[error("cannot tell the head commit: {0}")]
    Head(String),
    #[error("no flake.nix anywhere in the tree at {0}")]
    NoFlake(String),
    #[error("cannot store the sources: {0}")]
    Store(String),
}

impl FetchError {
    /// A short stable name for the summary's "failed by reason".
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::NotFound(_) => "not-found",
            FetchError::RateLimited(_) => "rate-limited",
            FetchError::Truncated { .. } => "truncated",
            FetchError::BadArchive(_) => "bad-archive",
            FetchError::Unsafe(_) => "unsafe-archive",
            FetchError::Network(_) => "network",
            FetchError::Git(_) => "git",
            FetchError::Head(_) => "no-head",
            FetchError::NoFlake(_) => "no-flake",
            FetchError::Store(_) => "store",
        }
    }
}

impl From<ScrapeError> for FetchError {
    fn from(e: ScrapeError) -> FetchError {
        match e {
            ScrapeError::Status {
                status: 404 | 410, ..
            } => FetchError::NotFound(e.to_string()),
            ScrapeError::RateLimited { .. } => FetchError::RateLimited(e.to_string()),
            other => FetchError::Network(other.to_string()),
        }
    }
}

/// How repos are fetched; the serde names (`tarball`, `git`) are the config's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FetchMethod {
    /// Forge tarballs (GitHub, GitLab, sourcehut); other hosts are cloned.
    Tarball,
    /// Shallow git clones everywhere.
    Git,
}

#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub jobs: usize,
    pub per_host: usize,
    pub method: FetchMethod,
    /// Fetch the commit a source reported, when one did, rather than the head.
    pub pinned: bool,
    pub forges: ForgeUrls,
    pub http: HttpOptions,
}

/// A repo fetched and recorded.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub commit: String,
    pub revision: String,
    pub flakes: usize,
    pub new_flakes: usize,
    pub problems: Vec<FlakeProblem>,
}

/// One repo's result.
#[derive(Debug)]
pub struct FetchOutcome {
    pub repo: RepoToFetch,
    pub result: Result<Fetched, FetchError>,
}

#[derive(Debug)]
pub struct Fetcher {
    http: Http,
    options: FetchOptions,
    store: SourceStore,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Fetcher {
    pub fn new(
        options: FetchOptions,
        store: SourceStore,
        progress: SharedProgress,
    ) -> Result<Fetcher, ScrapeError> {
        Ok(Fetcher {
            http: Http::new(options.http.clone(), progress)?,
            options,
            store,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// Fetches every repo, recording each result in `db` as it ends; `on_done` sees each.
    pub async fn fetch_all(
        &self,
        db: &Db,
        repos: Vec<RepoToFetch>,
        on_done: &(dyn Fn(&FetchOutcome) + Sync),
    ) -> Vec<FetchOutcome> {
        futures_util::stream::iter(repos)
            .map(|repo| async move {
                let result = self.fetch_one(db, &repo).await;
                if let Err(e) = &result {
                    // The failure is also reported to the caller; failing to note it in
                    // the database only loses the note.
                    let _ = db.record_fetch_failure(repo.id, &e.to_string()).await;
                }
                let outcome = FetchOutcome { repo, result };
                on_done(&outcome);
                outcome
            })
            .buffer_unordered(self.options.jobs.max(1))
            .collect()
            .await
    }

    async fn fetch_one(&self, db: &Db, repo: &RepoToFetch) -> Result<Fetched, FetchError> {
        let r = &repo.repo;
        self.http
            .progress()
            .status(&format!("fetch: {}/{}", r.owner, r.name));
        // `.` and `..` would be resolved away by every URL parser, escaped or not.
        if r.owner
            .split('/')
            .chain([r.name.as_str()])
            .any(|p| matches!(p, "" | "." | ".."))
        {
            return Err(FetchError::Unsafe(format!(
                "'{}/{}' is not a repo name a forge URL can carry",
                r.owner, r.name
            )));
        }
        let pinned = repo.found_commit.clone().filter(|_| self.options.pinned);
        let staging = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempdir_in(self.store_root()?)
            .map_err(|e| FetchError::Store(e.to_string()))?;
        let tree = staging.path().join("tree");
        // Hosts without tarballs are cloned whatever the method.
        let lookup = match self.options.method {
            FetchMethod::Tarball => self.options.forges.head(r, "HEAD"),
            FetchMethod::Git => None,
        };
        let (commit, committed_at) = match lookup {
            Some(lookup) => {
                // A pinned commit's date is not asked for: its time is left unknown.
                let (commit, committed_at) = match pinned {
                    Some(c) => (c, None),
                    None => self.head(&lookup).await?,
                };
                let url = self
                    .options
                    .forges
                    .tarball(r, &commit)
                    .ok_or_else(|| FetchError::Head(format!("no tarball URL for {}", r.url)))?;
                let archive = staging.path().join("archive.tar.gz");
                self.download(&url, &archive).await?;
                let tree_dir = tree.clone();
                tokio::task::spawn_blocking(move || {
                    std::fs::create_dir(&tree_dir).map_err(|e| FetchError::Store(e.to_string()))?;
                    unpack::unpack_tarball(&archive, &tree_dir)
                })
                .await
                .map_err(|e| FetchError::Store(e.to_string()))??;
                (commit, committed_at)
            }
            None => {
                let url = self.options.forges.clone_url(r);
                let network = git::GitNetwork {
                    proxy: self.options.http.proxy.as_deref(),
                    ca_file: self.options.http.ca_file.as_deref(),
                };
                let _permit = self.host_permit(&url).await;
                let commit = git::shallow_clone(&url, pinned.as_deref(), &tree, &network).await?;
                let checkout = tree.clone();
                let committed_at = tokio::task::spawn_blocking(move || head_commit_time(&checkout))
                    .await
                    .map_err(|e| FetchError::Store(e.to_string()))?;
                (commit, committed_at)
            }
        };
        let store = self.store.clone();
        let snapshot = tokio::task::spawn_blocking(move || store.import(&tree))
            .await
            .map_err(|e| FetchError::Store(e.to_string()))?
            .map_err(|e| FetchError::Store(e.to_string()))?;
        if snapshot.flakes.is_empty() {
            return Err(FetchError::NoFlake(commit));
        }
        let flakes = snapshot.new_flakes();
        let new_flakes = db
            .record_fetch(
                r,
                &commit,
                &NewSnapshot {
                    revision: &snapshot.revision,
                    source_dir: &snapshot.dir.to_string_lossy(),
                    committed_at,
                    flakes: &flakes,
                },
            )
            .await
            .map_err(|e| FetchError::Store(e.to_string()))?;
        Ok(Fetched {
            commit,
            revision: snapshot.revision,
            flakes: flakes.len(),
            new_flakes,
            problems: snapshot.problems,
        })
    }

    fn store_root(&self) -> Result<PathBuf, FetchError> {
        let root = self.store.root().to_path_buf();
        std::fs::create_dir_all(&root)
            .map_err(|e| FetchError::Store(format!("{}: {e}", root.display())))?;
        Ok(root)
    }

    /// A slot for one request to `url`'s host (held as long as the permit lives).
    async fn host_permit(&self, url: &str) -> Option<OwnedSemaphorePermit> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let semaphore = {
            let mut hosts = self.hosts.lock().ok()?;
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.options.per_host.max(1))))
                .clone()
        };
        semaphore.acquire_owned().await.ok()
    }

    async fn get_text(&self, url: &str, accept: &str) -> Result<String, FetchError> {
        let _permit = self.host_permit(url).await;
        let response = self.http.get(url, &[("accept", accept)]).await?;
        response
            .text()
            .await
            .map_err(|e| FetchError::Network(crate::http::transport(url, &e).to_string()))
    }

    /// The commit at the head of the default branch, with its commit time (ms since the
    /// epoch) when the forge's API reports it (GitHub and GitLab do, dumb HTTP does not).
    async fn head(&self, lookup: &HeadLookup) -> Result<(String, Option<i64>), FetchError> {
        let (commit, committed_at) = match lookup {
            HeadLookup::GithubJson(url) => {
                let text = self.get_text(url, "application/vnd.github+json").await?;
                let json = serde_json::from_str::<serde_json::Value>(&text).ok();
                let commit = json
                    .as_ref()
                    .and_then(|v| v.get("sha")?.as_str().map(str::to_owned))
                    .ok_or_else(|| FetchError::Head(format!("{url} gave no `sha`")))?;
                let date = json
                    .as_ref()
                    .and_then(|v| v.pointer("/commit/committer/date"));
                (commit, date.and_then(json_time))
            }
            HeadLookup::GitlabJson(url) => {
                let text = self.get_text(url, "application/json").await?;
                let json = serde_json::from_str::<serde_json::Value>(&text).ok();
                let first = json.as_ref().and_then(|v| v.get(0));
                let commit = first
                    .and_then(|c| c.get("id")?.as_str().map(str::to_owned))
                    .ok_or_else(|| FetchError::Head(format!("{url} gave no commit `id`")))?;
                (
                    commit,
                    first.and_then(|c| json_time(c.get("committed_date")?)),
                )
            }
            HeadLookup::DumbHttp { head, refs } => {
                let head_text = self.get_text(head, "text/plain").await?;
                let reference = head_text
                    .trim()
                    .strip_prefix("ref: ")
                    .ok_or_else(|| FetchError::Head(format!("{head} names no ref")))?
                    .to_owned();
                let refs_text = self.get_text(refs, "text/plain").await?;
                let commit = refs_text
                    .lines()
                    .filter_map(|l| l.split_once('\t'))
                    .find(|(_, r)| *r == reference)
                    .map(|(c, _)| c.to_owned())
                    .ok_or_else(|| FetchError::Head(format!("{refs} lacks {reference}")))?;
                (commit, None)
            }
        };
        // The commit goes into a URL: only a hash is accepted.
        if matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok((commit, committed_at))
        } else {
            Err(FetchError::Head(format!("'{commit}' is not a commit hash")))
        }
    }

    /// Streams `url` into `dest`; a body shorter than announced is an error.
    async fn download(&self, url: &str, dest: &Path) -> Result<(), FetchError> {
        let _permit = self.host_permit(url).await;
        let response = self
            .http
            .get(url, &[("accept", "application/gzip")])
            .await?;
        let expected = response.content_length();
        let io = |e: std::io::Error| FetchError::Store(format!("{}: {e}", dest.display()));
        let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut body = response.bytes_stream();
        let mut got = 0u64;
        let truncated = |got| FetchError::Truncated {
            url: url.to_owned(),
            got,
            expected: expected.map_or_else(|| "an unknown number of".to_owned(), |e| e.to_string()),
        };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| truncated(got))?;
            file.write_all(&chunk).await.map_err(io)?;
            got += chunk.len() as u64;
        }
        if expected.is_some_and(|e| e != got) {
            return Err(truncated(got));
        }
        file.flush().await.map_err(io)
    }
}

/// An RFC 3339 date from a forge's JSON (`2024-01-01T00:00:00Z`, `…+01:00`) in ms since the
/// epoch; a missing or odd date is an unknown time, never a failed fetch.
fn json_time(value: &serde_json::Value) -> Option<i64> {
    let date = time::OffsetDateTime::parse(
        value.as_str()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    i64::try_from(date.unix_timestamp_nanos() / 1_000_000).ok()
}
