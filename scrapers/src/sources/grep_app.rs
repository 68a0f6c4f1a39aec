//! grep.app's search API (`GET /api/search?q=…&f.path.pattern=…&page=N`), GitHub repos only.
//!
//! Pages run from 1 until one comes back empty or the page cap (grep.app serves 10 hits a
//! page and no more than 100 pages) is reached.

use serde::{Deserialize, Serialize};

use crate::source::{read_cursor, write_cursor};
use crate::{Forge, Found, Http, Page, ScrapeError, Source};

#[derive(Debug, Clone)]
pub struct GrepAppOptions {
    /// e.g. `https://grep.app`.
    pub endpoint: String,
    /// The search text (grep.app needs one); every flake has `outputs`.
    pub terms: String,
    /// Last page asked for.
    pub page_cap: u32,
}

#[derive(Debug)]
pub struct GrepApp {
    http: Http,
    options: GrepAppOptions,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    page: u32,
}

#[derive(Debug, Deserialize)]
struct Response {
    hits: Hits,
}

#[derive(Debug, Deserialize)]
struct Hits {
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
            "{} {} path:flake.nix",
            self.options.endpoint.trim_end_matches('/'),
            self.options.terms
        )
    }

    fn start(&self) -> serde_json::Value {
        write_cursor(&Cursor { page: 1 })
    }

    async fn page(&self, cursor: &serde_json::Value) -> Result<Page, ScrapeError> {
        let Cursor { page } = read_cursor(self.name(), cursor)?;
        self.http.progress().status(&format!(
            "grep-app: page {page} of at most {}",
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
            .append_pair("f.path.pattern", "flake.nix")
            .append_pair("page", &page.to_string());
        let response = self
            .http
            .get(url.as_str(), &[("accept", "application/json")])
            .await?;
        let what = format!("grep.app page {page}");
        let body = response
            .bytes()
            .await
            .map_err(|e| crate::http::transport(url.as_str(), &e))?;
        let parsed: Response =
            serde_json::from_slice(&body).map_err(|e| ScrapeError::Malformed {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        let mut found = Vec::new();
        let empty = parsed.hits.hits.is_empty();
        for hit in parsed.hits.hits {
            let repo = hit.repo.into_string();
            let Some((owner, name)) = repo.split_once('/') else {
                self.http.progress().warn(&format!(
                    "grep-app: {what}: skipped '{repo}', not OWNER/REPO"
                ));
                continue;
            };
            let mut f = Found::new(Forge::Github, owner, name);
            f.path = hit.path.into_string();
            f.branch = hit.branch.map(Field::into_string);
            found.push(f);
        }
        let next = (!empty && page < self.options.page_cap)
            .then(|| write_cursor(&Cursor { page: page + 1 }));
        Ok(Page {
            found,
            next,
            interrupted: None,
        })
    }
}
