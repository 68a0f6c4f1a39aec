//! What happens to one request once its target is known (after CONNECT, or from an
//! absolute-form `http://` request): cache lookup, single-flight, upstream fetch, storing.

use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::{BodyError, ProxyBody};
use crate::cache::{key, wait, BlobFault, Entry, FlightGuard, Joined, StreamEnd};
use crate::config::Mode;
use crate::request::{Req, Target};
use crate::response::{build, has_body, text};
use crate::state::{Ctx, Shared};
use crate::transfer::{stream, StorePlan};
use crate::upstream::UpstreamError;

/// Cached bodies up to this size are read and verified before the response starts, so a
/// corrupt one is refetched without the client noticing. Larger ones stream while being
/// verified (see `BlobStore::stream_verified`).
const VERIFY_FIRST_MAX: u64 = 1024 * 1024;
/// How often a request may find an identical one in flight that then did not store its
/// answer (an upstream error) before it stops waiting for others and fetches itself.
const FLIGHT_ROUNDS: usize = 3;

/// Answers one request.
pub(crate) async fn handle(
    ctx: &Ctx,
    target: &Target,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let shared = &ctx.shared;
    let metrics = shared.metrics.request(&target.host, shared.mode);
    let latency = metrics.latency.clone();
    let req = match Req::read(target, request, metrics).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let response = match shared.mode {
        Mode::Passthrough => forward(ctx, &req, false).await,
        Mode::Record | Mode::Replay => cached(ctx, &req).await,
    };
    latency.observe(started.elapsed().as_secs_f64());
    response
}

/// Record and replay modes.
async fn cached(ctx: &Ctx, req: &Req) -> Response<ProxyBody> {
    let shared = &ctx.shared;
    let cache = &shared.cache;
    // GET, HEAD and POST (GraphQL queries) are what fetchers send; replaying a PUT or DELETE
    // would pretend a change happened.
    if !matches!(req.method, Method::GET | Method::HEAD | Method::POST) {
        return match shared.mode {
            Mode::Replay => replay_miss(shared, req),
            _ => forward(ctx, req, false).await,
        };
    }
    let primary = key::primary(req.method.as_str(), &req.url, &key::sha256_hex(&req.body));
    let pin = shared.pin_for(&req.url);
    for _ in 0..FLIGHT_ROUNDS {
        let found = match cache.index.vary(&primary, pin).await {
            Ok(vary) => {
                let full = key::full(&primary, &vary, &req.headers);
                cache
                    .index
                    .lookup(&full, pin)
                    .await
                    .map(|entry| (full, entry))
            }
            Err(e) => Err(e),
        };
        let key = match found {
            Ok((_, Some(entry))) => {
                let sha256 = entry.body_sha256.clone();
                match serve_entry(ctx, req, entry).await {
                    Ok(response) => {
                        req.metrics.hits.inc();
                        cache.count_hit(&req.host);
                        return response;
                    }
                    Err(BlobFault::Corrupt(reason)) => {
                        tracing::warn!(url = %req.url, "cached body failed verification ({reason}); refetching");
                        cache.drop_blob(&sha256).await;
                        continue;
                    }
                    Err(BlobFault::Unreadable(reason)) => {
                        return index_failure(
                            ctx,
                            req,
                            &format!("cannot read the cached body: {reason}"),
                        )
                        .await;
                    }
                }
            }
            Ok((full, None)) => full,
            Err(e) => return index_failure(ctx, req, &e.to_string()).await,
        };
        if shared.mode == Mode::Replay {
            return replay_miss(shared, req);
        }
        match cache.flights.join(&key) {
            Joined::Leader(guard) => {
                // A leader that finished between the lookup above and this join has stored
                // the answer: serve it (next round) instead of fetching again, which with a
                // pin could give one run two upstream states.
                if let Ok(Some(_)) = cache.index.lookup(&key, pin).await {
                    continue;
                }
                return fetch_and_store(ctx, req, &primary, pin, guard).await;
            }
            // Stored or not, look again: a hit now, or another round (maybe as leader).
            Joined::Follower(rx) => {
                wait(rx).await;
            }
        }
    }
    // Identical requests in flight kept failing to store an answer; stop coordinating.
    forward(ctx, req, true).await
}

/// The index (or a blob) could not be read: in record mode the request still gets an
/// answer from upstream (uncached); in replay mode nothing may go upstream, so it is an
/// error.
async fn index_failure(ctx: &Ctx, req: &Req, error: &str) -> Response<ProxyBody> {
    tracing::warn!(url = %req.url, "cache failed: {error}");
    match ctx.shared.mode {
        Mode::Replay => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "gnfc proxy: the cache failed ({error}) for {} {}\n",
                req.method, req.url
            ),
        ),
        _ => forward(ctx, req, true).await,
    }
}

fn replay_miss(shared: &Shared, req: &Req) -> Response<ProxyBody> {
    req.metrics.misses.inc();
    shared.cache.count_miss(&req.host);
    let encoding = req
        .headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| format!(" (accept-encoding: {v})"))
        .unwrap_or_default();
    text(
        crate::error::offline_miss(),
        format!(
            "gnfc proxy (replay mode): no recorded response for {} {}{encoding}\n\
             Record it first: run once with the proxy in record mode.\n",
            req.method, req.url
        ),
    )
}

/// Answers from a stored entry, or says (before anything was sent) why it cannot.
async fn serve_entry(ctx: &Ctx, req: &Req, entry: Entry) -> Result<Response<ProxyBody>, BlobFault> {
    let status = StatusCode::from_u16(entry.status)
        .map_err(|_| BlobFault::Corrupt(format!("stored status {} is invalid", entry.status)))?;
    let mut headers = entry.headers;
    if !has_body(&req.method, status) {
        // HEAD keeps the stored Content-Length: it describes the GET body.
        return Ok(build(status, headers, ProxyBody::empty(), "hit"));
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.body_len));
    let blobs = Arc::clone(&ctx.shared.cache.blobs);
    let (sha256, len) = (entry.body_sha256, entry.body_len);
    if len <= VERIFY_FIRST_MAX {
        let bytes = tokio::task::spawn_blocking(move || blobs.read_verified(&sha256, len))
            .await
            .map_err(|e| BlobFault::Unreadable(format!("reader failed: {e}")))??;
        req.metrics.bytes_served.inc_by(len);
        return Ok(build(status, headers, ProxyBody::full(bytes), "hit"));
    }
    let checked = Arc::clone(&blobs);
    let sha = sha256.clone();
    let path = tokio::task::spawn_blocking(move || checked.check_len(&sha, len))
        .await
        .map_err(|e| BlobFault::Unreadable(format!("reader failed: {e}")))??;
    let (tx, body) = ProxyBody::channel(Some(len));
    let shared = Arc::clone(&ctx.shared);
    let alive = ctx.alive.clone();
    let served = req.metrics.bytes_served.clone();
    let url = req.url.clone();
    tokio::spawn(async move {
        let _alive = alive;
        let sha = sha256.clone();
        let end = tokio::task::spawn_blocking(move || {
            let end = blobs.stream_verified(&path, &sha, len, &tx);
            (end, tx)
        })
        .await;
        match end {
            Ok((StreamEnd::Complete, _)) => served.inc_by(len),
            Ok((StreamEnd::ClientGone, _)) => {}
            Ok((StreamEnd::Fault(fault), tx)) => {
                if let BlobFault::Corrupt(reason) = &fault {
                    // Too late to refetch for this client: its transfer fails instead of
                    // completing, and only once the blob is gone, so that its retry (Nix
                    // retries at once) fetches a fresh copy.
                    tracing::warn!(%url, "cached body failed verification while streaming: {reason}");
                    shared.cache.drop_blob(&sha256).await;
                } else {
                    tracing::warn!(%url, "cannot read a cached body (kept): {fault:?}");
                }
                let _ = tx
                    .send(Err(BodyError(format!("cached body: {fault:?}"))))
                    .await;
            }
            Err(e) => tracing::warn!(%url, "blob reader failed: {e}"),
        }
    });
    Ok(build(status, headers, body, "hit"))
}

/// The leader of a miss: fetch, stream to the client, store.
async fn fetch_and_store(
    ctx: &Ctx,
    req: &Req,
    primary: &str,
    pin: Option<&str>,
    guard: FlightGuard,
) -> Response<ProxyBody> {
    let shared = &ctx.shared;
    let response = match shared.upstream.send(&req.outgoing(true)).await {
        Ok(response) => response,
        // Dropping the guard tells followers nothing was stored.
        Err(e) => return upstream_failure(req, &e),
    };
    req.metrics.misses.inc();
    shared.cache.count_miss(&req.host);
    let (parts, body) = response.into_parts();
    let Some(vary) = storable(parts.status, &parts.headers) else {
        drop(guard);
        return stream(ctx, req, parts, body, None, "pass");
    };
    let writer = match shared.cache.start_writer() {
        Ok(writer) => writer,
        Err(e) => {
            tracing::warn!(url = %req.url, "cannot write to the blob store ({e}); not caching");
            drop(guard);
            return stream(ctx, req, parts, body, None, "pass");
        }
    };
    let mut stored_headers = parts.headers.clone();
    if req.method != Method::HEAD {
        // Recomputed from the blob when served.
        stored_headers.remove(header::CONTENT_LENGTH);
    }
    let plan = StorePlan {
        key: key::full(primary, &vary, &req.headers),
        primary: primary.to_owned(),
        vary,
        method: req.method.to_string(),
        url: req.url.clone(),
        host: req.host.clone(),
        status: parts.status.as_u16(),
        headers: stored_headers,
        pin: pin.map(str::to_owned),
        writer,
        guard,
    };
    stream(ctx, req, parts, body, Some(plan), "miss")
}

/// Which answers are stored, and under which `Vary` names. 2xx; redirects that say where
/// to (GitHub archive downloads redirect to codeload); 404 and 410, so a replayed run sees
/// the same "not found" the recorded one did. Never 5xx, never 403/429 (rate limits, or
/// answers that depend on credentials), never `Vary: *`.
fn storable(status: StatusCode, headers: &HeaderMap) -> Option<Vec<String>> {
    let ok = status.is_success()
        || status == StatusCode::NOT_FOUND
        || status == StatusCode::GONE
        || (status.is_redirection() && headers.contains_key(header::LOCATION));
    if ok {
        key::vary_names(headers)
    } else {
        None
    }
}

/// Passthrough, and answers that are not cached.
async fn forward(ctx: &Ctx, req: &Req, unconditional: bool) -> Response<ProxyBody> {
    match ctx.shared.upstream.send(&req.outgoing(unconditional)).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            stream(ctx, req, parts, body, None, "pass")
        }
        Err(e) => upstream_failure(req, &e),
    }
}

fn upstream_failure(req: &Req, error: &UpstreamError) -> Response<ProxyBody> {
    req.metrics.upstream_errors.inc();
    tracing::warn!(url = %req.url, "upstream failed: {error}");
    let status = match error {
        UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        UpstreamError::Failed(_) => StatusCode::BAD_GATEWAY,
        UpstreamError::NoUpstream { .. } | UpstreamError::Unreachable { .. } => {
            crate::error::offline_miss()
        }
    };
    text(
        status,
        format!(
            "gnfc proxy: {} {} failed upstream: {error}\n",
            req.method, req.url
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_stored() {
        let plain = HeaderMap::new();
        let mut redirect = HeaderMap::new();
        redirect.insert(
            header::LOCATION,
            HeaderValue::from_static("https://codeload/x"),
        );
        assert!(storable(StatusCode::OK, &plain).is_some());
        assert!(storable(StatusCode::FOUND, &redirect).is_some());
        assert!(storable(StatusCode::FOUND, &plain).is_none());
        assert!(storable(StatusCode::NOT_FOUND, &plain).is_some());
        for status in [403, 429, 500, 502, 503, 304, 401] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(storable(status, &plain).is_none(), "{status}");
        }
        let mut star = HeaderMap::new();
        star.insert(header::VARY, HeaderValue::from_static("*"));
        assert!(storable(StatusCode::OK, &star).is_none());
    }
}
