//! The HTTP client scrapers and fetches share: optional proxy and extra CA, and patience
//! with rate limits (`429`, or `403`/`503` carrying `retry-after` or an exhausted
//! `x-ratelimit-remaining`), each wait reported as such.

use std::path::PathBuf;
use std::time::Duration;

use crate::{ScrapeError, SharedProgress};

/// How to reach the outside.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// `http://host:port` of an HTTP(S) proxy every request goes through (e.g. gnfc's own).
    pub proxy: Option<String>,
    /// A PEM certificate to trust besides the usual roots (the proxy's CA).
    pub ca_file: Option<PathBuf>,
    /// Attempts per request when rate-limited, before giving up.
    pub max_attempts: u32,
    /// The longest single rate-limit wait honoured; longer ones are cut to this.
    pub max_wait: Duration,
    /// Wait when a rate-limit answer says nothing about how long.
    pub default_wait: Duration,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            proxy: None,
            ca_file: None,
            max_attempts: 6,
            max_wait: Duration::from_secs(15 * 60),
            default_wait: Duration::from_secs(60),
        }
    }
}

/// A client plus the rate-limit policy.
#[derive(Clone)]
pub struct Http {
    pub(crate) client: reqwest::Client,
    options: HttpOptions,
    progress: SharedProgress,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("options", &self.options)
            .finish()
    }
}

pub(crate) const USER_AGENT: &str = concat!("gnfc/", env!("CARGO_PKG_VERSION"));

impl Http {
    pub fn new(options: HttpOptions, progress: SharedProgress) -> Result<Http, ScrapeError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120));
        if let Some(proxy) = &options.proxy {
            let proxy = reqwest::Proxy::all(proxy).map_err(|e| {
                ScrapeError::Config(format!(
                    "the proxy '{proxy}' is not a usable proxy URL ({e}): give http://HOST:PORT"
                ))
            })?;
            builder = builder.proxy(proxy);
        }
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                ScrapeError::Config(format!(
                    "cannot read the CA certificate {}: {e}",
                    path.display()
                ))
            })?;
            let not_pem = |detail: String| {
                ScrapeError::Config(format!(
                    "{} is not a PEM certificate ({detail}): give the proxy's ca.pem",
                    path.display()
                ))
            };
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| not_pem(e.to_string()))?;
            if certs.is_empty() {
                return Err(not_pem("no certificate in it".to_owned()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| ScrapeError::Config(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Http {
            client,
            options,
            progress,
        })
    }

    pub fn progress(&self) -> &SharedProgress {
        &self.progress
    }

    /// GETs `url`, waiting out rate limits. Any other non-success status is an error
    /// carrying the start of the body.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<reqwest::Response, ScrapeError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client.get(url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.map_err(|e| transport(url, &e))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            match self.rate_limit_wait(&response) {
                Some(wait) if attempt < self.options.max_attempts => {
                    let host = response.url().host_str().unwrap_or("server").to_owned();
                    self.progress.waiting(
                        &format!("{host} rate limit ({})", status.as_u16()),
                        wait.as_secs(),
                    );
                    tokio::time::sleep(wait).await;
                }
                Some(_) => {
                    return Err(ScrapeError::RateLimited {
                        url: url.to_owned(),
                        attempts: attempt,
                    })
                }
                None => {
                    let body = response.text().await.unwrap_or_default();
                    return Err(ScrapeError::Status {
                        url: url.to_owned(),
                        status: status.as_u16(),
                        body: excerpt(&body),
                    });
                }
            }
        }
    }

    /// How long a rate-limit answer asks to wait, or `None` when it is no rate limit.
    fn rate_limit_wait(&self, response: &reqwest::Response) -> Option<Duration> {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let status = response.status().as_u16();
        let wait = if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
            Some(Duration::from_secs(secs))
        } else if header("x-ratelimit-remaining") == Some("0") {
            let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            Some(reset.map_or(self.options.default_wait, |r| {
                Duration::from_secs(r.saturating_sub(now).max(1))
            }))
        } else if status == 429 {
            Some(self.options.default_wait)
        } else {
            None
        };
        // A 403 is a rate limit only when it says so; a 503 only with retry-after.
        if matches!(status, 429 | 403 | 503) {
            wait.map(|w| w.min(self.options.max_wait))
        } else {
            None
        }
    }
}

pub(crate) fn transport(url: &str, e: &reqwest::Error) -> ScrapeError {
    use std::error::Error as _;
    // reqwest's top-level message is generic; the cause says what actually failed.
    let mut detail = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        detail = format!("{detail}: {c}");
        cause = c.source();
    }
    ScrapeError::Transport {
        url: url.to_owned(),
        detail,
    }
}

/// The first 300 characters of a body, on one line.
pub(crate) fn excerpt(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}
