//! grep.app's search API (`GET /api/search?q=…&f.path.pattern=…&page=N`), GitHub repos only.
//!
//! Pages run from 1 until one comes back empty or the page cap is reached. grep.app serves
//! 10 hits a page and no more than 1,000 hits of a query, so a query whose `hits.total` is
//! over that is split by repository-name prefix ([`NameSet`], as Sourcegraph's is) into
//! queries with an `f.repo.pattern` filter, and those again until each fits. The filters are
//! plain text, so every part is a plain prefix; and since grep.app's `f.*.pattern` filters
//! are not anchored (`flake.nix` finds paths at any depth, and `notflake.nix` too), the hits
//! are checked here: a part keeps only repos starting with its prefix, and only files named
//! `flake.nix`.

use serde::{Deserialize, Serialize};

use super::split::NameSet;
use crate::source::{read_cursor, write_cursor};
use crate::{Forge, Found, Http, Page, ScrapeError, Source};

#[derive(Debug, Clone)]
pub struct GrepAppOptions {
    /// e.g. `https://grep.app`.
    pub endpoint: String,
    /// The search text (grep.app needs one); every flake has `outputs`.
    pub terms: String,
    /// Last page asked for of each query.
    pub page_cap: u32,
}

/// grep.app serves no more of one query than this.
const RESULT_CAP: u64 = 1000;

#[derive(Debug)]
pub struct GrepApp {
    http: Http,
    options: GrepAppOptions,
}

/// The queries left: the first at `page`, the others from page 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    todo: Vec<Query>,
}

/// The repos of `repos`, at result page `page`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Query {
    repos: NameSet,
    page: u32,
}

/// Whether grep.app can search `set` in one query: with no repo filter, or one prefix.
fn fits(set: &NameSet) -> bool {
    set.is_all() || set.literal().is_some()
}

/// Whether `set` can hold an `owner/name` at all. A filter matching anywhere in the name
/// makes a prefix like `/` or `o` (exactly) match whatever holds it, so searching such sets
/// would page through other repos' hits for nothing.
fn can_hold_repos(set: &NameSet) -> bool {
    let Some(prefix) = set.literal() else {
        return true;
    };
    let slashes = prefix.matches('/').count();
    let well_formed = !prefix.starts_with('/') && slashes <= 1;
    if set.exact {
        well_formed && slashes == 1 && !prefix.ends_with('/')
    } else {
        well_formed
    }
}

/// A flake file: `flake.nix` (any case, as gnfc finds them on disk) in any directory.
fn is_flake_path(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case("flake.nix"))
}

#[derive(Debug, Deserialize)]
struct Response {
    hits: Hits,
}

#[derive(Debug, Deserialize)]
struct Hits {
    /// Every hit of the query, including those past the ones grep.app serves.
    total: Option<u64>,
    #[serde(default)]
    hits: Vec<Hit>,
}

#[derive(Debug, Deserialize)]
struct Hit {
    repo: Field,
    path: Field,
    branch: Option<Field>,
}

/// Both shapes seen in the wild: `{"raw": "owner/repo"}` and a plain string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Field {
    Plain(String),
    Raw { raw: String },
}

impl Field {
    fn into_string(self) -> String {
        match self {
            Field::Plain(s) | Field::Raw { raw: s } => s,
        }
    }
}

impl GrepApp {
    pub fn new(http: Http, options: GrepAppOptions) -> GrepApp {
        GrepApp { http, options }
    }
}

#[async_trait::async_trait]
impl Source for GrepApp {
    fn name(&self) -> &'static str {
        "grep-app"
    }

    fn query(&self) -> String {
        format!(
            "{} q={} f.path.pattern=flake.nix",
            self.options.endpoint.trim_end_matches('/'),
            self.options.terms
        )
    }

    fn start(&self) -> serde_json::Value {
        write_cursor(&Cursor {
            todo: vec![Query {
                repos: NameSet::all(),
                page: 1,
            }],
        })
    }

    async fn page(&self, cursor: &serde_json::Value) -> Result<Page, ScrapeError> {
        let mut cursor: Cursor = read_cursor(self.name(), cursor)?;
        let Some(query) = cursor.todo.first().cloned() else {
            return Ok(Page::default());
        };
        let page = query.page;
        // The root query has no repo filter and keeps every repo.
        let prefix = query.repos.literal();
        let of = prefix
            .as_ref()
            .map(|p| format!(" of repos starting '{p}'"))
            .unwrap_or_default();
        let progress = self.http.progress();
        progress.status(&format!(
            "grep-app: page {page}{of} (of at most {})",
            self.options.page_cap
        ));
        let mut url = url::Url::parse(&format!(
            "{}/api/search",
            self.options.endpoint.trim_end_matches('/')
        ))
        .map_err(|e| {
            ScrapeError::Config(format!(
                "the grep.app endpoint '{}' is not a URL ({e}): give e.g. https://grep.app",
                self.options.endpoint
            ))
        })?;
        url.query_pairs_mut()
            .append_pair("q", &self.options.terms)
            .append_pair("f.path.pattern", "flake.nix");
        if let Some(prefix) = &prefix {
            url.query_pairs_mut().append_pair("f.repo.pattern", prefix);
        }
        url.query_pairs_mut().append_pair("page", &page.to_string());
        let response = self
            .http
            .get(url.as_str(), &[("accept", "application/json")])
            .await?;
        let what = format!("grep.app page {page}{of}");
        let body = response
            .bytes()
            .await
            .map_err(|e| crate::http::transport(url.as_str(), &e))?;
        let parsed: Response =
            serde_json::from_slice(&body).map_err(|e| ScrapeError::Malformed {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        cursor.todo.remove(0);
        let total = parsed.hits.total.unwrap_or(0);
        if page == 1 && total > RESULT_CAP {
            let mut parts = query.repos.split_until(&fits);
            let splits = !parts.is_empty();
            parts.retain(can_hold_repos);
            if !splits {
                progress.warn(&format!(
                    "grep-app: {what} has {total} hits and cannot be split further; only the \
                     first {RESULT_CAP} are reachable"
                ));
            } else {
                // Everything here comes again in the parts; storing it now would only count
                // it twice.
                progress.status(&format!(
                    "grep-app: {what} has {total} hits, over the {RESULT_CAP} grep.app serves; \
                     splitting it in {}",
                    parts.len()
                ));
                for (i, repos) in parts.into_iter().enumerate() {
                    cursor.todo.insert(i, Query { repos, page: 1 });
                }
                return Ok(Page {
                    found: Vec::new(),
                    next: (!cursor.todo.is_empty()).then(|| write_cursor(&cursor)),
                    interrupted: None,
                });
            }
        }
        let mut found = Vec::new();
        let empty = parsed.hits.hits.is_empty();
        for hit in parsed.hits.hits {
            let repo = hit.repo.into_string();
            let path = hit.path.into_string();
            if !is_flake_path(&path) || (prefix.is_some() && !query.repos.contains(&repo)) {
                continue;
            }
            let Some((owner, name)) = repo.split_once('/') else {
                progress.warn(&format!(
                    "grep-app: {what}: skipped '{repo}', not OWNER/REPO"
                ));
                continue;
            };
            let mut f = Found::new(Forge::Github, owner, name);
            f.path = path;
            f.branch = hit.branch.map(Field::into_string);
            found.push(f);
        }
        if !empty && page < self.options.page_cap {
            cursor.todo.insert(
                0,
                Query {
                    page: page + 1,
                    ..query
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

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn split_parts_are_prefixes_an_owner_name_can_start_with() {
        let fits_and_holds = |parts: &[NameSet]| {
            parts
                .iter()
                .filter(|p| fits(p) && can_hold_repos(p))
                .filter_map(NameSet::literal)
                .collect::<Vec<_>>()
        };
        let root = NameSet::all().split_until(&fits);
        let first = fits_and_holds(&root);
        assert!(!first.contains(&"/".to_owned()));
        assert!(first.contains(&"n".to_owned()) && first.contains(&"0".to_owned()));
        let o = root
            .iter()
            .find(|p| p.literal().as_deref() == Some("o"))
            .unwrap();
        let second = fits_and_holds(&o.split_until(&fits));
        assert!(!second.contains(&"o".to_owned()), "no repo is named `o`");
        assert!(second.contains(&"o/".to_owned()));
        let slash = NameSet {
            prefix: "o/".to_owned(),
            lo: 0,
            hi: 0,
            exact: true,
        };
        assert!(!can_hold_repos(&slash), "a name is not empty");
        let exact = NameSet {
            prefix: "o/r".to_owned(),
            ..slash.clone()
        };
        assert!(can_hold_repos(&exact));
        let second_slash = NameSet {
            prefix: "o/r".to_owned(),
            lo: 2,
            hi: 2,
            exact: false,
        };
        assert_eq!(second_slash.literal().as_deref(), Some("o/r/"));
        assert!(!can_hold_repos(&second_slash));
    }

    #[test]
    fn only_files_named_flake_nix_are_flakes() {
        for path in ["flake.nix", "nix/flake.nix", "a/b/FLAKE.nix"] {
            assert!(is_flake_path(path), "{path}");
        }
        for path in [
            "notflake.nix",
            "flake.nix.bak",
            "flake.nix/default.nix",
            "x/flake-nix",
        ] {
            assert!(!is_flake_path(path), "{path}");
        }
    }
}
