//! The `internet` upstream: real origins over HTTP(S), with normal certificate checks.
//!
//! Responsible for what goes on the wire beyond the client's request: hop-by-hop headers
//! removed, per-host tokens added (HTTPS only, so they never cross the network in clear),
//! rate-limit answers waited out and retried, and a time limit on getting an answer.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::crypto::CryptoProvider;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::config::{ProxyConfig, RateLimitPolicy, UpstreamKind};
use crate::error::{error_chain, ProxyError, Result};
use crate::mirror::{over_pipe, Mirror};

/// Headers that describe one connection, not the message: never forwarded either way
/// (RFC 9110 §7.6.1), plus the proxy-specific ones clients send to us.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Conditional request headers. In the caching modes they are not forwarded: the cache
/// needs the full answer, not a 304 that only makes sense to the one client that asked.
/// A hit answers a conditional request with the full 200, which HTTP allows.
const CONDITIONAL: [&str; 3] = ["if-none-match", "if-modified-since", "if-range"];

/// Shortest pause before retrying a rate-limit answer, doubled on each retry: an origin
/// saying "retry after 0 s" still gets a moment.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Pause when a 429 gives no hint how long to wait, doubled on each retry.
const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);

/// Why no response came from upstream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("no response within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("{0}")]
    Failed(String),
    #[error("no upstream takes host {host}: {why}")]
    NoUpstream { host: String, why: String },
    /// No connection to the origin could be made (no route, no DNS, refused): as offline
    /// as having no internet upstream at all.
    #[error("cannot reach {host} (no network?): {why}")]
    Unreachable { host: String, why: String },
}

/// A request as it is to be sent upstream.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) host: &'a str,
    pub(crate) https: bool,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a Bytes,
    /// Drop conditional headers (the caching modes).
    pub(crate) unconditional: bool,
}

/// One link of the upstream chain.
#[derive(Debug)]
enum Hop {
    Mirror(Mirror),
    Internet,
}

pub(crate) struct Upstream {
    chain: Vec<Hop>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    tokens: HashMap<String, HeaderValue>,
    timeout: Duration,
    rate_limit: RateLimitPolicy,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("chain", &self.chain)
            .field("token_hosts", &self.tokens.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    pub(crate) fn new(config: &ProxyConfig, provider: Arc<CryptoProvider>) -> Result<Self> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // System roots too: a site's private CA installed on the host should work as it does
        // for curl. Unreadable system stores are not fatal, webpki's roots remain.
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::debug!("skipping a system CA store: {error}");
        }
        roots.add_parsable_certificates(native.certs);
        for path in &config.extra_ca_files {
            add_pem_roots(&mut roots, path)?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        // The connector is shared by http:// and https:// URLs.
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.upstream_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        let mut tokens = HashMap::new();
        for (host, value) in &config.tokens {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| ProxyError::Token { host: host.clone() })?;
            // Marks it for hyper's HPACK (never indexed) and for any Debug output.
            value.set_sensitive(true);
            tokens.insert(host.to_ascii_lowercase(), value);
        }
        let chain = config
            .upstreams
            .iter()
            .map(|kind| match kind {
                UpstreamKind::Mirror(mirror) => Hop::Mirror(Mirror::new(mirror)),
                UpstreamKind::Internet => Hop::Internet,
            })
            .collect();
        Ok(Self {
            chain,
            client,
            tokens,
            timeout: config.upstream_timeout,
            rate_limit: config.rate_limit,
        })
    }

    /// Sends the request along the chain: the first mirror that holds it answers, else the
    /// internet if configured; a request nothing takes is an error naming its host.
    pub(crate) async fn send(
        &self,
        request: &Outgoing<'_>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let path = request
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let mut last_mirror = None;
        for hop in &self.chain {
            match hop {
                Hop::Internet => return self.send_internet(request).await,
                Hop::Mirror(mirror) => {
                    let answer = mirror
                        .answer(request.method, request.https, request.host, path)
                        .await;
                    if let Some(response) = answer {
                        return self.piped(request, response).await;
                    }
                    last_mirror = Some(mirror);
                }
            }
        }
        match last_mirror {
            // A forge's own "no such repository", as the real forge would answer.
            Some(mirror) if Mirror::is_forge_host(request.host) => {
                self.piped(request, mirror.not_held(request.host, path))
                    .await
            }
            Some(mirror) => Err(UpstreamError::NoUpstream {
                host: request.host.to_owned(),
                why: format!(
                    "the mirror ({}) does not serve it and no internet upstream is configured",
                    mirror.dir().display()
                ),
            }),
            None => Err(UpstreamError::NoUpstream {
                host: request.host.to_owned(),
                why: "no upstream is configured".to_owned(),
            }),
        }
    }

    async fn piped(
        &self,
        request: &Outgoing<'_>,
        response: Response<crate::body::ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let piped = tokio::time::timeout(self.timeout, over_pipe(self.build(request), response))
            .await
            .map_err(|_| UpstreamError::Timeout(self.timeout))?
            .map_err(UpstreamError::Failed)?;
        Ok(self.scrub(piped))
    }

    /// Sends the request to its origin; rate-limit answers are retried per the policy, and
    /// the last one is returned if waiting does not help (the caller never caches them).
    async fn send_internet(
        &self,
        request: &Outgoing<'_>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut attempt = 0;
        loop {
            let response =
                tokio::time::timeout(self.timeout, self.client.request(self.build(request)))
                    .await
                    .map_err(|_| UpstreamError::Timeout(self.timeout))?
                    .map_err(|e| {
                        let why = error_chain(&e);
                        if e.is_connect() {
                            UpstreamError::Unreachable {
                                host: request.host.to_owned(),
                                why,
                            }
                        } else {
                            UpstreamError::Failed(why)
                        }
                    })?;
            let Some(hint) = rate_limited(&response) else {
                return Ok(self.scrub(response));
            };
            let backoff = hint.unwrap_or(DEFAULT_BACKOFF * 2u32.saturating_pow(attempt));
            let wait = backoff.max(MIN_BACKOFF * 2u32.saturating_pow(attempt));
            if attempt >= self.rate_limit.max_retries || wait > self.rate_limit.max_wait {
                tracing::warn!(
                    host = request.host,
                    status = response.status().as_u16(),
                    "rate-limited upstream; passing the answer on (wait asked: {wait:?})"
                );
                return Ok(self.scrub(response));
            }
            tracing::info!(host = request.host, "rate-limited; retrying in {wait:?}");
            drop(response);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn build(&self, request: &Outgoing<'_>) -> Request<Full<Bytes>> {
        let mut headers = without_hop_by_hop(request.headers);
        // The connection's host is the URI's; a stale or different Host header must not
        // disagree with it (hyper derives Host, or :authority on HTTP/2, from the URI).
        headers.remove(header::HOST);
        if request.unconditional {
            for name in CONDITIONAL {
                headers.remove(name);
            }
        }
        if request.https && !headers.contains_key(header::AUTHORIZATION) {
            if let Some(token) = self.tokens.get(request.host) {
                headers.insert(header::AUTHORIZATION, token.clone());
            }
        }
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(request.uri.clone());
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        // The parts come from an already parsed request, so building cannot fail; should it
        // ever, an empty GET to the same URI is the safe fallback.
        builder
            .body(Full::new(request.body.clone()))
            .unwrap_or_else(|_| {
                let mut fallback = Request::new(Full::new(Bytes::new()));
                *fallback.uri_mut() = request.uri.clone();
                fallback
            })
    }

    /// Removes hop-by-hop headers, and any header repeating a configured token: an origin
    /// echoing credentials back must not hand them to clients (or to the cache).
    fn scrub(&self, mut response: Response<Incoming>) -> Response<Incoming> {
        let mut headers = without_hop_by_hop(response.headers());
        let secrets: Vec<&[u8]> = self.tokens.values().flat_map(secret_parts).collect();
        if !secrets.is_empty() {
            let leaking: Vec<HeaderName> = headers
                .iter()
                .filter(|(_, value)| secrets.iter().any(|s| contains(value.as_bytes(), s)))
                .map(|(name, _)| name.clone())
                .collect();
            for name in leaking {
                headers.remove(name);
            }
        }
        *response.headers_mut() = headers;
        response
    }
}

/// The parts of a token header that must never be shown: the whole value and the
/// credential after the scheme (`token`, `Bearer`), when there is one.
fn secret_parts(value: &HeaderValue) -> Vec<&[u8]> {
    let bytes = value.as_bytes();
    let mut parts = vec![bytes];
    if let Some(space) = bytes.iter().position(|b| *b == b' ') {
        let credential = &bytes[space + 1..];
        // A very short credential would match innocent header values.
        if credential.len() >= 8 {
            parts.push(credential);
        }
    }
    parts
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A copy without hop-by-hop headers, including those the `Connection` header names.
pub(crate) fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let mut named: Vec<String> = HOP_BY_HOP.iter().map(|s| (*s).to_owned()).collect();
    for value in headers.get_all(header::CONNECTION) {
        if let Ok(text) = value.to_str() {
            named.extend(text.split(',').map(|n| n.trim().to_ascii_lowercase()));
        }
    }
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !named.iter().any(|n| n == name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// `None` when the response is not a rate-limit answer; otherwise how long it asks us to
/// wait, if it says. GitHub signals with 403 or 429 plus `retry-after` (secondary limits)
/// or `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (primary limits); a 403 without
/// those is a real "forbidden" and is passed on at once.
fn rate_limited<B>(response: &Response<B>) -> Option<Option<Duration>> {
    let status = response.status();
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::FORBIDDEN {
        return None;
    }
    let headers = response.headers();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let retry_after = text("retry-after").and_then(|v| v.parse::<u64>().ok());
    let exhausted = text("x-ratelimit-remaining") == Some("0");
    let reset = text("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
    if let Some(seconds) = retry_after {
        return Some(Some(Duration::from_secs(seconds)));
    }
    if exhausted {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        return Some(reset.map(|reset| Duration::from_secs(reset.saturating_sub(now))));
    }
    // A 429 is a rate limit even without hints (or with an HTTP-date retry-after, which
    // is not parsed: the default backoff applies).
    (status == StatusCode::TOO_MANY_REQUESTS || text("retry-after").is_some()).then_some(None)
}

fn add_pem_roots(roots: &mut RootCertStore, path: &Path) -> Result<()> {
    let error = |reason: String| ProxyError::ExtraCa {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error("no certificate in it".into()));
    }
    for cert in certs {
        roots.add(cert).map_err(|e| error(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&'static str, &'static str)]) -> Response<()> {
        let mut builder = Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn rate_limit_detection() {
        assert_eq!(rate_limited(&response(200, &[("retry-after", "5")])), None);
        assert_eq!(
            rate_limited(&response(403, &[("x-ratelimit-reset", "1")])),
            None
        );
        assert_eq!(
            rate_limited(&response(403, &[("retry-after", "7")])),
            Some(Some(Duration::from_secs(7)))
        );
        assert_eq!(
            rate_limited(&response(
                403,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1")]
            )),
            Some(Some(Duration::ZERO))
        );
        assert_eq!(rate_limited(&response(429, &[])), Some(None));
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close, x-private"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("accept-encoding", HeaderValue::from_static("gzip"));
        let kept = without_hop_by_hop(&headers);
        assert_eq!(kept.len(), 1);
        assert!(kept.contains_key("accept-encoding"));
    }

    #[test]
    fn token_parts() {
        let value = HeaderValue::from_static("token ghp_0123456789");
        let parts = secret_parts(&value);
        assert!(parts.contains(&&b"ghp_0123456789"[..]));
        assert!(contains(b"x ghp_0123456789 y", b"ghp_0123456789"));
    }
}
