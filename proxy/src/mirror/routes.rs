//! Which forge request a URL is: the endpoints Nix's `github:`, `gitlab:` and `sourcehut:`
//! fetchers (CppNix 2.8 to 2.34, `src/libfetchers/github.cc`) and `tarball+https:` archive
//! URLs use, plus the flake registry.
//!
//! - GitHub: `api.github.com/repos/{o}/{r}/commits/{ref}` (Nix reads `sha`, and since 2.20
//!   `commit.tree.sha`); tarballs at `api.github.com/repos/{o}/{r}/tarball/{rev}` (Nix up to
//!   2.2x, and later with a token) and `github.com/{o}/{r}/archive/{rev}.tar.gz` (later Nix
//!   without a token), both redirecting to `codeload.github.com` as GitHub does.
//! - GitLab: `gitlab.com/api/v4/projects/{o}%2F{r}/repository/commits?ref_name={ref}` (Nix
//!   reads `[0].id`) and `.../repository/archive.tar.gz?sha={rev}`.
//! - SourceHut: `git.sr.ht/{~o}/{r}/HEAD` (`ref: refs/heads/…`), `.../info/refs`
//!   (`{sha}\t{ref}` lines) and `.../archive/{rev}.tar.gz`.
//! - `channels.nixos.org/flake-registry.json`, Nix's default `flake-registry`.

/// Hosts the mirror answers for.
pub(crate) const GITHUB: &str = "github.com";
pub(crate) const GITHUB_API: &str = "api.github.com";
pub(crate) const CODELOAD: &str = "codeload.github.com";
pub(crate) const GITLAB: &str = "gitlab.com";
pub(crate) const SOURCEHUT: &str = "git.sr.ht";
pub(crate) const CHANNELS: &str = "channels.nixos.org";

/// The hosts whose repositories the mirror holds (the registry host is not one: it has no
/// repositories).
pub(crate) const FORGE_HOSTS: [&str; 5] = [GITHUB, GITHUB_API, CODELOAD, GITLAB, SOURCEHUT];

/// Top-level directory names inside a tarball, the way each forge names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    /// `{owner}-{repo}-{rev:7}` (GitHub's tarball API).
    OwnerRepoShort,
    /// `{repo}-{rev}` (GitHub archive links, SourceHut).
    RepoRev,
    /// `{repo}-{rev}-{rev}` (GitLab).
    RepoRevRev,
}

/// A request the mirror understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// GitHub's commit JSON for a ref or revision.
    GithubCommit { repo: RepoName, rev: String },
    /// GitLab's commit list for a ref.
    GitlabCommits { repo: RepoName, rev: String },
    /// A redirect to codeload (GitHub answers tarball and archive URLs this way).
    Redirect { location: String },
    /// A gzipped tarball of a revision.
    Tarball {
        repo: RepoName,
        rev: String,
        prefix: Prefix,
    },
    /// SourceHut's `HEAD` file.
    Head { repo: RepoName },
    /// SourceHut's `info/refs`.
    InfoRefs { repo: RepoName },
    /// The flake registry JSON.
    Registry,
}

impl Route {
    pub(crate) fn repo(&self) -> Option<&RepoName> {
        match self {
            Route::GithubCommit { repo, .. }
            | Route::GitlabCommits { repo, .. }
            | Route::Tarball { repo, .. }
            | Route::Head { repo }
            | Route::InfoRefs { repo } => Some(repo),
            Route::Redirect { .. } | Route::Registry => None,
        }
    }
}

/// A repository's name in the mirror, `owner/repo`, each part checked to be a single path
/// segment (letters, digits and `-_.~+`; never `.` or `..`), so it is safe as a directory
/// name and in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub(crate) owner: String,
    pub(crate) repo: String,
}

impl RepoName {
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// `None` when either part is not one safe path segment.
    pub fn new(owner: &str, repo: &str) -> Option<Self> {
        let ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~+".contains(c))
        };
        (ok(owner) && ok(repo)).then(|| Self {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        })
    }
}

impl std::str::FromStr for RepoName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.split_once('/')
            .and_then(|(owner, repo)| RepoName::new(owner, repo))
            .ok_or_else(|| {
                format!(
                    "'{text}' is not a mirror repository name: give owner/name, two parts \
                     of letters, digits and -_.~+ (not . or ..) and no other slash"
                )
            })
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)
    }
}

/// The route of `path` (with its query) on `host`, if the mirror knows it. `scheme` is
/// used for redirect targets.
pub(crate) fn route(scheme: &str, host: &str, path_and_query: &str) -> Option<Route> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match host {
        GITHUB_API => github_api(scheme, &segments),
        GITHUB => match segments.as_slice() {
            [owner, repo, "archive", file] => {
                let repo = RepoName::new(owner, repo)?;
                let rev = file.strip_suffix(".tar.gz")?;
                Some(Route::Redirect {
                    location: format!("{scheme}://{CODELOAD}/{repo}/tar.gz/{rev}"),
                })
            }
            _ => None,
        },
        CODELOAD => match segments.as_slice() {
            [owner, repo, kind @ ("tar.gz" | "legacy.tar.gz"), rev @ ..] if nonempty(rev) => {
                Some(Route::Tarball {
                    repo: RepoName::new(owner, repo)?,
                    rev: rev.join("/"),
                    prefix: if *kind == "tar.gz" {
                        Prefix::RepoRev
                    } else {
                        Prefix::OwnerRepoShort
                    },
                })
            }
            _ => None,
        },
        GITLAB => gitlab(&segments, query),
        SOURCEHUT => match segments.as_slice() {
            [owner, repo, "HEAD"] => Some(Route::Head {
                repo: RepoName::new(owner, repo)?,
            }),
            [owner, repo, "info", "refs"] => Some(Route::InfoRefs {
                repo: RepoName::new(owner, repo)?,
            }),
            [owner, repo, "archive", file] => Some(Route::Tarball {
                repo: RepoName::new(owner, repo)?,
                rev: file.strip_suffix(".tar.gz")?.to_owned(),
                prefix: Prefix::RepoRev,
            }),
            _ => None,
        },
        CHANNELS if path == "/flake-registry.json" => Some(Route::Registry),
        _ => None,
    }
}

fn github_api(scheme: &str, segments: &[&str]) -> Option<Route> {
    match segments {
        ["repos", owner, repo, "commits", rev @ ..] if nonempty(rev) => Some(Route::GithubCommit {
            repo: RepoName::new(owner, repo)?,
            rev: percent_decode(&rev.join("/"))?,
        }),
        ["repos", owner, repo, "tarball", rev @ ..] if nonempty(rev) => {
            let repo = RepoName::new(owner, repo)?;
            Some(Route::Redirect {
                location: format!(
                    "{scheme}://{CODELOAD}/{repo}/legacy.tar.gz/{}",
                    rev.join("/")
                ),
            })
        }
        _ => None,
    }
}

fn gitlab(segments: &[&str], query: &str) -> Option<Route> {
    let ["api", "v4", "projects", project, "repository", what] = segments else {
        return None;
    };
    let project = percent_decode(project)?;
    let (owner, repo) = project.split_once('/')?;
    let repo = RepoName::new(owner, repo)?;
    match *what {
        "commits" => Some(Route::GitlabCommits {
            repo,
            rev: query_param(query, "ref_name")?,
        }),
        "archive.tar.gz" => Some(Route::Tarball {
            repo,
            rev: query_param(query, "sha")?,
            prefix: Prefix::RepoRevRev,
        }),
        _ => None,
    }
}

/// A ref as path segments: at least one, none empty.
fn nonempty(segments: &[&str]) -> bool {
    !segments.is_empty() && segments.iter().all(|s| !s.is_empty())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| percent_decode(v))
}

/// `%XX` decoding; `None` for malformed escapes or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(o: &str, r: &str) -> RepoName {
        RepoName::new(o, r).unwrap()
    }

    #[test]
    fn the_urls_nix_sends_are_routed() {
        let rev = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            route("https", GITHUB_API, "/repos/o/r/commits/HEAD"),
            Some(Route::GithubCommit {
                repo: repo("o", "r"),
                rev: "HEAD".into()
            })
        );
        assert_eq!(
            route("https", GITHUB_API, &format!("/repos/o/r/tarball/{rev}")),
            Some(Route::Redirect {
                location: format!("https://codeload.github.com/o/r/legacy.tar.gz/{rev}")
            })
        );
        assert_eq!(
            route("https", GITHUB, &format!("/o/r/archive/{rev}.tar.gz")),
            Some(Route::Redirect {
                location: format!("https://codeload.github.com/o/r/tar.gz/{rev}")
            })
        );
        assert_eq!(
            route("https", CODELOAD, "/o/r/tar.gz/refs/heads/main"),
            Some(Route::Tarball {
                repo: repo("o", "r"),
                rev: "refs/heads/main".into(),
                prefix: Prefix::RepoRev
            })
        );
        assert_eq!(
            route(
                "https",
                GITLAB,
                "/api/v4/projects/o%2Fr/repository/commits?ref_name=release%2F1"
            ),
            Some(Route::GitlabCommits {
                repo: repo("o", "r"),
                rev: "release/1".into()
            })
        );
        assert_eq!(
            route(
                "https",
                GITLAB,
                &format!("/api/v4/projects/o%2Fr/repository/archive.tar.gz?sha={rev}")
            ),
            Some(Route::Tarball {
                repo: repo("o", "r"),
                rev: rev.into(),
                prefix: Prefix::RepoRevRev
            })
        );
        assert_eq!(
            route("https", SOURCEHUT, "/~u/r/info/refs"),
            Some(Route::InfoRefs {
                repo: repo("~u", "r")
            })
        );
        assert_eq!(
            route("https", CHANNELS, "/flake-registry.json"),
            Some(Route::Registry)
        );
    }

    #[test]
    fn other_urls_and_path_tricks_are_not_routed() {
        assert_eq!(route("https", "example.org", "/repos/o/r/commits/x"), None);
        assert_eq!(route("https", GITHUB_API, "/repos/../r/commits/x"), None);
        assert_eq!(route("https", GITHUB_API, "/repos/o/r/commits/"), None);
        assert_eq!(route("https", GITHUB, "/o/r/archive/x.zip"), None);
        assert_eq!(
            route(
                "https",
                GITLAB,
                "/api/v4/projects/o%2F..%2Fx/repository/commits?ref_name=a"
            ),
            None
        );
        assert_eq!(route("https", CHANNELS, "/other.json"), None);
    }
}
