//! The mirror forge: answers GitHub, GitLab and SourceHut requests the way those forges do,
//! from a directory of bare git repositories, so that flakes with forge inputs lock and
//! evaluate with no network at all.
//!
//! Repositories live at `DIR/owner/repo.git` or `DIR/owner+repo` (SourceHut owners keep
//! their `~`); `gnfc forge init` makes them from plain trees, `gnfc forge add` from real
//! repositories with their history. One directory serves every forge: `github:o/r`,
//! `gitlab:o/r` and `sourcehut:~o/r` all look for `o/r`. Requests for other hosts, or for repositories the
//! directory does not hold, are not the mirror's: the proxy passes them to its next upstream.

mod add;
mod git;
mod init;
mod registry;
mod routes;
mod serve;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::body::ProxyBody;
use crate::config::MirrorConfig;
use crate::error::error_chain;

pub use add::{add_to_mirror, AddError, AddedRepo};
pub use init::{init_mirror, InitError, InitedRepo};
pub use routes::RepoName;
pub use serve::{serve_forge, ForgeServer};

use git::{GitError, Repo};
use routes::{Prefix, Route};

/// Buffer of the in-memory connection between the proxy and the mirror.
const PIPE_BYTES: usize = 256 * 1024;

/// The forge emulator.
#[derive(Debug, Clone)]
pub(crate) struct Mirror {
    dir: PathBuf,
    registry: PathBuf,
}

impl Mirror {
    pub(crate) fn new(config: &MirrorConfig) -> Self {
        Self {
            dir: config.dir.clone(),
            registry: config
                .registry
                .clone()
                .unwrap_or_else(|| config.dir.join("flake-registry.json")),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether `host` is one the mirror holds repositories for.
    pub(crate) fn is_forge_host(host: &str) -> bool {
        routes::FORGE_HOSTS.contains(&host)
    }

    fn find(&self, name: &RepoName) -> Option<Repo> {
        held(&self.dir, name).next().map(|path| Repo { path })
    }

    /// The mirror's answer to a request, or `None` when it is not the mirror's (unknown
    /// host or path, a repository it does not hold).
    pub(crate) async fn answer(
        &self,
        method: &Method,
        https: bool,
        host: &str,
        path_and_query: &str,
    ) -> Option<Response<ProxyBody>> {
        let scheme = if https { "https" } else { "http" };
        let route = routes::route(scheme, host, path_and_query)?;
        let repo = match route.repo() {
            Some(name) => Some(self.find(name)?),
            None => None,
        };
        if *method != Method::GET && *method != Method::HEAD {
            return Some(plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "gnfc mirror: only GET and HEAD are served\n".into(),
            ));
        }
        let response = match (route, repo) {
            (Route::Registry, _) => Ok(self.registry().await),
            (Route::Redirect { location }, _) => Ok(redirect(&location)),
            (route, Some(repo)) => repo_answer(route, &repo).await,
            (_, None) => return None,
        };
        Some(response.unwrap_or_else(|e| {
            tracing::warn!(%host, path_and_query, "mirror failed: {e}");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("gnfc mirror: {e}\n"),
            )
        }))
    }

    /// The answer for a forge host whose repository the mirror does not hold, when no other
    /// upstream follows. Not the forge's 404: the repository may well exist upstream, so the
    /// answer is the offline miss, in the forge's JSON shape.
    pub(crate) fn not_held(&self, host: &str, path: &str) -> Response<ProxyBody> {
        json_response(
            crate::error::offline_miss(),
            &json!({
                "message": "Not Found",
                "gnfc": format!(
                    "the mirror in {} holds no repository for https://{host}{path}; \
                     add it with `gnfc forge add` or `gnfc forge init`",
                    self.dir.display()
                ),
            }),
        )
    }

    /// The registry file when there is one, else the registry generated from the global
    /// registry's entries and the repositories held here.
    async fn registry(&self) -> Response<ProxyBody> {
        let bytes = match tokio::fs::read(&self.registry).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = self.dir.clone();
                let held = tokio::task::spawn_blocking(move || all_held(&dir))
                    .await
                    .unwrap_or_default();
                Ok(registry::registry(&held).to_string().into_bytes())
            }
            read => read,
        };
        match bytes {
            Ok(bytes) => {
                let mut response = Response::new(ProxyBody::full(bytes));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(e) => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "gnfc mirror: cannot read the flake registry {}: {e}\n",
                    self.registry.display()
                ),
            ),
        }
    }
}

/// Where `dir` may hold `name`, in the order looked at: `owner/repo.git`, then `owner+repo`.
fn layouts(dir: &Path, name: &RepoName) -> [PathBuf; 2] {
    [
        dir.join(&name.owner).join(format!("{}.git", name.repo)),
        dir.join(format!("{}+{}", name.owner, name.repo)),
    ]
}

/// The `owner/repo` names of every repository `dir` holds, sorted: the inverse of
/// [`layouts`] (`owner/repo.git`, and SourceHut's `owner+repo`), each with a `HEAD`.
fn all_held(dir: &Path) -> Vec<(String, String)> {
    let mut held = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return held;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if let Some((owner, repo)) = name.split_once('+') {
            if path.join("HEAD").is_file() {
                held.push((owner.to_owned(), repo.to_owned()));
            }
            continue;
        }
        let Ok(repos) = std::fs::read_dir(&path) else {
            continue;
        };
        for repo in repos.flatten() {
            let file = repo.file_name().to_string_lossy().into_owned();
            if let Some(repo_name) = file.strip_suffix(".git") {
                if repo.path().join("HEAD").is_file() {
                    held.push((name.clone(), repo_name.to_owned()));
                }
            }
        }
    }
    held.sort();
    held
}

/// The repositories `dir` holds under `name` (those [`layouts`] with a `HEAD`).
fn held(dir: &Path, name: &RepoName) -> impl Iterator<Item = PathBuf> {
    layouts(dir, name)
        .into_iter()
        .filter(|p| p.join("HEAD").is_file())
}

async fn repo_answer(route: Route, repo: &Repo) -> Result<Response<ProxyBody>, GitError> {
    Ok(match route {
        Route::GithubCommit { repo: name, rev } => match repo.resolve(&rev).await? {
            Some(sha) => json_response(
                StatusCode::OK,
                &github_commit(&name, &repo.commit(&sha).await?),
            ),
            // GitHub's answer for a ref that names no commit.
            None => json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"message": format!("No commit found for SHA: {rev}")}),
            ),
        },
        Route::GitlabCommits { rev, .. } => match repo.resolve(&rev).await? {
            Some(sha) => json_response(
                StatusCode::OK,
                &json!([gitlab_commit(&repo.commit(&sha).await?)]),
            ),
            // GitLab lists no commits for an unknown ref.
            None => json_response(StatusCode::OK, &json!([])),
        },
        Route::Tarball {
            repo: name,
            rev,
            prefix,
        } => match repo.resolve(&rev).await? {
            Some(sha) => tarball(repo, &name, &sha, prefix),
            None => plain(StatusCode::NOT_FOUND, "Not Found\n".into()),
        },
        Route::Head { .. } => plain(StatusCode::OK, format!("ref: {}\n", repo.head_ref().await?)),
        Route::InfoRefs { .. } => plain(StatusCode::OK, repo.info_refs().await?),
        Route::Redirect { .. } | Route::Registry => {
            plain(StatusCode::NOT_FOUND, "Not Found\n".into())
        }
    })
}

fn tarball(repo: &Repo, name: &RepoName, sha: &str, prefix: Prefix) -> Response<ProxyBody> {
    let dir = match prefix {
        Prefix::OwnerRepoShort => format!("{}-{}-{}", name.owner, name.repo, &sha[..7]),
        Prefix::RepoRev => format!("{}-{sha}", name.repo),
        Prefix::RepoRevRev => format!("{}-{sha}-{sha}", name.repo),
    };
    let (tx, body) = ProxyBody::channel(None);
    let repo = repo.clone();
    let sha_owned = sha.to_owned();
    let prefix_dir = dir.clone();
    tokio::spawn(async move { repo.archive(&sha_owned, &prefix_dir, tx).await });
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-gzip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={dir}.tar.gz")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{sha}\"")) {
        headers.insert(header::ETAG, v);
    }
    response
}

fn github_commit(name: &RepoName, c: &git::CommitInfo) -> serde_json::Value {
    let api = format!("https://api.github.com/repos/{name}");
    let person = |p: &git::Person| json!({"name": p.name, "email": p.email, "date": p.date});
    json!({
        "sha": c.sha,
        "url": format!("{api}/commits/{}", c.sha),
        "html_url": format!("https://github.com/{name}/commit/{}", c.sha),
        "commit": {
            "author": person(&c.author),
            "committer": person(&c.committer),
            "message": c.message,
            "tree": {"sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree)},
        },
        "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{api}/commits/{p}")})).collect::<Vec<_>>(),
    })
}

fn gitlab_commit(c: &git::CommitInfo) -> serde_json::Value {
    json!({
        "id": c.sha,
        "short_id": &c.sha[..c.sha.len().min(8)],
        "title": c.message.lines().next().unwrap_or_default(),
        "message": c.message,
        "author_name": c.author.name,
        "author_email": c.author.email,
        "authored_date": c.author.date,
        "committer_name": c.committer.name,
        "committer_email": c.committer.email,
        "committed_date": c.committer.date,
        "created_at": c.committer.date,
        "parent_ids": c.parents,
    })
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn plain(status: StatusCode, text: String) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn redirect(location: &str) -> Response<ProxyBody> {
    let mut response = plain(StatusCode::FOUND, String::new());
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Hands a mirror answer to the proxy as if it had come over the network: the response
/// goes through an in-memory HTTP/1.1 connection, so caching, streaming and the checks on
/// body length treat it exactly like an origin's.
pub(crate) async fn over_pipe(
    request: Request<Full<Bytes>>,
    response: Response<ProxyBody>,
) -> Result<Response<Incoming>, String> {
    let (client_end, server_end) = tokio::io::duplex(PIPE_BYTES);
    let answer = Mutex::new(Some(response));
    let service = service_fn(move |_request: Request<Incoming>| {
        let taken = answer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        async move {
            Ok::<_, std::convert::Infallible>(taken.unwrap_or_else(|| {
                plain(StatusCode::INTERNAL_SERVER_ERROR, "answered once\n".into())
            }))
        }
    });
    tokio::spawn(async move {
        let served = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_end), service)
            .await;
        if let Err(e) = served {
            tracing::debug!("mirror pipe ended: {e}");
        }
    });
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(client_end))
        .await
        .map_err(|e| error_chain(&e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| error_chain(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_held_reads_both_layouts() {
        let dir = tempfile::tempdir().unwrap();
        for repo in ["NixOS/nixpkgs.git", "~gnfc+hut-lib", "owner/not-a-repo.git"] {
            std::fs::create_dir_all(dir.path().join(repo)).unwrap();
        }
        for repo in ["NixOS/nixpkgs.git", "~gnfc+hut-lib"] {
            std::fs::write(dir.path().join(repo).join("HEAD"), "ref: refs/heads/main\n").unwrap();
        }
        assert_eq!(
            all_held(dir.path()),
            [
                ("NixOS".to_owned(), "nixpkgs".to_owned()),
                ("~gnfc".to_owned(), "hut-lib".to_owned())
            ]
        );
    }
}
