//! Sourcegraph's streaming search API (`GET /.api/search/stream`, server-sent events).
//!
//! One page is one query's whole stream. When Sourcegraph says it stopped early (a
//! `progress` event listing a limit among its `skipped` reasons, or an `alert`), the query
//! is split by repository-name prefix ([`NameSet`]) and each half searched in turn: the
//! prefixes grow one character class at a time until every part fits.
//!
//! `file:` is a regex over the file's whole path, so `(^|/)flake\.nix$` finds the flakes in
//! subdirectories too (and not `notflake.nix` or `flake.nix.bak`).

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::split::NameSet;
use crate::found::from_repository_name;
use crate::source::{read_cursor, write_cursor};
use crate::sse::SseParser;
use crate::{Found, Http, Page, ScrapeError, Source};

/// Skipped reasons that mean results are missing from this query (rather than e.g. forks
/// excluded by choice).
const LIMITS: &[&str] = &[
    "shard-match-limit",
    "repository-limit",
    "shard-timedout",
    "shard-timeout",
    "display",
    "backend-missing",
];

#[derive(Debug, Clone)]
pub struct SourcegraphOptions {
    /// e.g. `https://sourcegraph.com`.
    pub endpoint: String,
    /// Sent as `Authorization: token …`; never logged.
    pub token: Option<String>,
    /// Extra query terms, e.g. `fork:no`.
    pub terms: String,
}

#[derive(Debug)]
pub struct Sourcegraph {
    http: Http,
    options: SourcegraphOptions,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    todo: Vec<NameSet>,
}

/// The `repo:` filter selecting `set` (none for everything).
fn filter(set: &NameSet) -> Option<String> {
    let prefix: String = set
        .prefix
        .chars()
        .map(|c| match c {
            '.' => "\\.".to_owned(),
            c => c.to_string(),
        })
        .collect();
    if set.exact {
        return Some(format!("repo:^{prefix}$"));
    }
    if set.is_all() {
        return None;
    }
    let class: String = set
        .next_chars()
        .iter()
        .map(|&b| match b {
            b'-' => "\\-".to_owned(),
            b => (b as char).to_string(),
        })
        .collect();
    Some(format!("repo:^{prefix}[{class}]"))
}

/// A match in either generation of field names: `path`/`commit` now, `name`/`version` in
/// older Sourcegraph releases.
#[derive(Debug, Deserialize)]
struct Match {
    #[serde(rename = "type")]
    kind: Option<String>,
    repository: Option<String>,
    path: Option<String>,
    name: Option<String>,
    commit: Option<String>,
    version: Option<String>,
    #[serde(rename = "repoStars")]
    repo_stars: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Progress {
    #[serde(default)]
    skipped: Vec<Skipped>,
}

#[derive(Debug, Deserialize)]
struct Skipped {
    reason: String,
    #[serde(default)]
    title: String,
}

#[derive(Debug, Deserialize)]
struct Alert {
    #[serde(default)]
    title: String,
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorEvent {
    message: String,
}

impl Sourcegraph {
    pub fn new(http: Http, options: SourcegraphOptions) -> Sourcegraph {
        Sourcegraph { http, options }
    }

    fn base_query(&self) -> String {
        let mut q = r"file:(^|/)flake\.nix$ select:file count:all".to_owned();
        if !self.options.terms.trim().is_empty() {
            q.push(' ');
            q.push_str(self.options.terms.trim());
        }
        q
    }
}

/// What one query's stream said.
#[derive(Debug, Default)]
struct Stream {
    found: Vec<Found>,
    limited: Vec<String>,
    done: bool,
}

impl Stream {
    /// Handles one event; an `Err` ends the stream.
    fn event(
        &mut self,
        name: &str,
        data: &str,
        what: &str,
        http: &Http,
    ) -> Result<(), ScrapeError> {
        let malformed = |e: serde_json::Error| ScrapeError::Malformed {
            what: format!("the `{name}` event of {what}"),
            detail: e.to_string(),
        };
        match name {
            "matches" => {
                let matches: Vec<Match> = serde_json::from_str(data).map_err(malformed)?;
                for m in matches {
                    if !matches!(
                        m.kind.as_deref(),
                        None | Some("path" | "content" | "file" | "symbol")
                    ) {
                        continue;
                    }
                    let (Some(repository), Some(path)) = (m.repository, m.path.or(m.name)) else {
                        continue;
                    };
                    match from_repository_name(&repository) {
                        Ok(mut found) => {
                            found.path = path;
                            found.commit = m.commit.or(m.version);
                            found.stars = m.repo_stars;
                            self.found.push(found);
                        }
                        Err(e) => http.progress().warn(&format!("sourcegraph: skipped {e}")),
                    }
                }
            }
            "progress" => {
                let progress: Progress = serde_json::from_str(data).map_err(malformed)?;
                self.limited = progress
                    .skipped
                    .into_iter()
                    .filter(|s| LIMITS.contains(&s.reason.as_str()))
                    .map(|s| format!("{} ({})", s.reason, s.title))
                    .collect();
            }
            "alert" => {
                let alert: Alert = serde_json::from_str(data).map_err(malformed)?;
                if !alert
                    .kind
                    .as_deref()
                    .is_some_and(|k| k.starts_with("smart-search"))
                {
                    self.limited.push(format!("alert: {}", alert.title));
                }
            }
            "error" => {
                let message = serde_json::from_str::<ErrorEvent>(data)
                    .map(|e| e.message)
                    .unwrap_or_else(|_| data.to_owned());
                return Err(ScrapeError::Remote {
                    what: what.to_owned(),
                    message,
                });
            }
            "done" => self.done = true,
            // `filters` (and whatever comes later) do not change what was found.
            _ => {}
        }
        Ok(())
    }
}

/// Parses a whole recorded stream as [`Source::page`] parses a live one, without storing
/// anything: the baseline the ingest benchmark measures storage against.
pub fn parse_recorded(body: &[u8], http: &Http) -> Result<Vec<Found>, ScrapeError> {
    let mut stream = Stream::default();
    for event in SseParser::default().push(body) {
        stream.event(&event.name, &event.data, "the recorded stream", http)?;
    }
    Ok(stream.found)
}

#[async_trait::async_trait]
impl Source for Sourcegraph {
    fn name(&self) -> &'static str {
        "sourcegraph"
    }

    fn query(&self) -> String {
        format!(
            "{} {}",
            self.options.endpoint.trim_end_matches('/'),
            self.base_query()
        )
    }

    fn start(&self) -> serde_json::Value {
        write_cursor(&Cursor {
            todo: vec![NameSet::all()],
        })
    }

    async fn page(&self, cursor: &serde_json::Value) -> Result<Page, ScrapeError> {
        let mut cursor: Cursor = read_cursor(self.name(), cursor)?;
        let Some(split) = cursor.todo.first().cloned() else {
            return Ok(Page::default());
        };
        let mut query = self.base_query();
        if let Some(filter) = filter(&split) {
            query = format!("{query} {filter}");
        }
        let progress = self.http.progress();
        progress.status(&format!("sourcegraph: {query}"));
        let mut url = url::Url::parse(&format!(
            "{}/.api/search/stream",
            self.options.endpoint.trim_end_matches('/')
        ))
        .map_err(|e| {
            ScrapeError::Config(format!(
                "the Sourcegraph endpoint '{}' is not a URL ({e}): give e.g. https://sourcegraph.com",
                self.options.endpoint
            ))
        })?;
        url.query_pairs_mut()
            .append_pair("q", &query)
            .append_pair("v", "V3");
        let auth = self.options.token.as_ref().map(|t| format!("token {t}"));
        let mut headers = vec![("accept", "text/event-stream")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        let response = self.http.get(url.as_str(), &headers).await?;
        let what = format!("the Sourcegraph stream for `{query}`");
        let mut stream = Stream::default();
        let mut parser = SseParser::default();
        let mut body = response.bytes_stream();
        let mut interrupted = None;
        'read: while let Some(chunk) = body.next().await {
            // A connection that breaks mid-stream is the same loss as one that closes
            // early: the query is not done.
            let Ok(chunk) = chunk else {
                break;
            };
            for event in parser.push(&chunk) {
                if let Err(e) = stream.event(&event.name, &event.data, &what, &self.http) {
                    interrupted = Some(e);
                    break 'read;
                }
                if stream.done {
                    break 'read;
                }
            }
        }
        if interrupted.is_none() && !stream.done {
            interrupted = Some(ScrapeError::Truncated { what });
        }
        if interrupted.is_some() {
            return Ok(Page {
                found: stream.found,
                next: Some(write_cursor(&cursor)),
                interrupted,
            });
        }
        cursor.todo.remove(0);
        if !stream.limited.is_empty() {
            let parts = split.split();
            if parts.is_empty() {
                progress.warn(&format!(
                    "sourcegraph: `{query}` is still limited ({}) and cannot be split further; \
                     its results are kept, some may be missing",
                    stream.limited.join(", ")
                ));
            } else {
                progress.status(&format!(
                    "sourcegraph: `{query}` was limited ({}); splitting it in {}",
                    stream.limited.join(", "),
                    parts.len()
                ));
            }
            for (i, part) in parts.into_iter().enumerate() {
                cursor.todo.insert(i, part);
            }
        }
        Ok(Page {
            found: stream.found,
            next: (!cursor.todo.is_empty()).then(|| write_cursor(&cursor)),
            interrupted: None,
        })
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn filters_are_repo_regexes() {
        let root = NameSet::all();
        assert_eq!(filter(&root), None);
        let halves = root.split();
        assert_eq!(
            filter(&halves[0]).unwrap(),
            r"repo:^[\-./0123456789_abcdef]"
        );
        assert_eq!(filter(&halves[1]).unwrap(), "repo:^[ghijklmnopqrstuvwxyz]");
        // Narrowed to one character: the name ending there, and the names going on.
        let one = NameSet {
            lo: 2,
            hi: 2,
            ..NameSet::all()
        };
        let deeper = one.split();
        assert_eq!(filter(&deeper[0]).unwrap(), "repo:^/$");
        assert_eq!(deeper[1].prefix, "/");
        let dot = NameSet {
            prefix: "github.com/".into(),
            ..NameSet::all()
        };
        assert!(filter(&dot.split()[0])
            .unwrap()
            .starts_with(r"repo:^github\.com/["));
    }
}
