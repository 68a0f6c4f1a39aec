//! Moving a response body from upstream to the client, and into the cache when it is to
//! be stored: the body is copied chunk by chunk (never held whole in memory), stored only
//! if it arrived complete, and the client sees an error, not a short body, when it did not.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::body::{BodyError, BodySender, ProxyBody};
use crate::cache::{FlightGuard, NewEntry, WriterHandle};
use crate::error::error_chain;
use crate::metrics::RequestMetrics;
use crate::request::Req;
use crate::response::{build, has_body};
use crate::state::{Ctx, Shared};

/// What to do with a body once it has arrived whole.
pub(crate) struct StorePlan {
    pub(crate) key: String,
    pub(crate) primary: String,
    pub(crate) vary: Vec<String>,
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    /// The run's pin, when the answer can change upstream.
    pub(crate) pin: Option<String>,
    pub(crate) writer: WriterHandle,
    pub(crate) guard: FlightGuard,
}

impl StorePlan {
    async fn commit(self, shared: &Shared) {
        let (sha256, len) = match self.writer.commit().await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(url = %self.url, "cannot store the body ({e}); not cached");
                return;
            }
        };
        let entry = NewEntry {
            key: &self.key,
            primary: &self.primary,
            vary: &self.vary,
            method: &self.method,
            url: &self.url,
            host: &self.host,
            status: self.status,
            headers: &self.headers,
            body_sha256: &sha256,
            body_len: len,
            pin: self.pin.as_deref(),
        };
        match shared.cache.index.insert(&entry).await {
            Ok(orphan) => {
                shared
                    .cache
                    .remove_blobs(orphan.into_iter().collect())
                    .await;
                tracing::debug!(url = %self.url, bytes = len, pin = self.pin.as_deref(), "stored");
                self.guard.finish(true);
            }
            Err(e) => tracing::warn!(url = %self.url, "cannot index the body ({e}); not cached"),
        }
    }
}

/// Starts streaming an upstream body to the client (and into the store, with a plan) and
/// returns the response to send. The copying runs in its own task so that, when storing,
/// it goes on after the client hangs up: the waiting followers still get their entry.
pub(crate) fn stream(
    ctx: &Ctx,
    req: &Req,
    parts: http::response::Parts,
    body: Incoming,
    plan: Option<StorePlan>,
    label: &'static str,
) -> Response<ProxyBody> {
    let with_body = has_body(&req.method, parts.status);
    let expected = if with_body {
        content_length(&parts.headers)
    } else {
        None
    };
    let (tx, client_body) = if with_body {
        let (tx, body) = ProxyBody::channel(expected);
        (Some(tx), body)
    } else {
        (None, ProxyBody::empty())
    };
    let shared = Arc::clone(&ctx.shared);
    let alive = ctx.alive.clone();
    let metrics = req.metrics.clone();
    let url = req.url.clone();
    let idle = shared.upstream_timeout;
    tokio::spawn(async move {
        let _alive = alive;
        let writer = plan.as_ref().map(|p| &p.writer);
        match pump(body, tx, writer, expected, idle, &metrics).await {
            PumpEnd::Complete { client, held } => {
                if let Some(plan) = plan {
                    plan.commit(&shared).await;
                }
                // Only now does the client get its last bytes: once a client has a whole
                // response, the entry is in the cache (a repeat is a hit, stats count it).
                if let (Some(tx), Some(last)) = (client, held) {
                    let len = last.len() as u64;
                    if tx.send(Ok(last)).await.is_ok() {
                        metrics.bytes_served.inc_by(len);
                    }
                }
            }
            PumpEnd::ClientGone => {}
            PumpEnd::Failed(reason) => {
                // The plan is dropped unused: the temporary file is deleted and followers
                // learn nothing was stored.
                metrics.upstream_errors.inc();
                tracing::warn!(%url, "{reason}; the client got an error, nothing was cached");
            }
        }
    });
    build(parts.status, parts.headers, client_body, label)
}

enum PumpEnd {
    /// The whole body arrived. When storing, the last chunk is `held` back for the caller
    /// to send after the entry is committed.
    Complete {
        client: Option<BodySender>,
        held: Option<Bytes>,
    },
    ClientGone,
    Failed(String),
}

/// Copies an upstream body to the client and the writer, chunk by chunk, with a time limit
/// on each gap. Memory stays bounded: both channels are short and awaited.
async fn pump(
    mut body: Incoming,
    mut client: Option<BodySender>,
    writer: Option<&WriterHandle>,
    expected: Option<u64>,
    idle: Duration,
    metrics: &RequestMetrics,
) -> PumpEnd {
    let mut writer_ok = writer.is_some();
    let hold_back = writer.is_some();
    let mut held: Option<Bytes> = None;
    let mut received = 0u64;
    let failure = loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => {
                break format!(
                    "upstream sent nothing for {} s in the middle of the body",
                    idle.as_secs_f64()
                )
            }
            Ok(None) => match expected {
                Some(expected) if expected != received => {
                    break format!("upstream sent {received} of {expected} bytes")
                }
                _ => return PumpEnd::Complete { client, held },
            },
            Ok(Some(Err(e))) => break format!("upstream body broke off: {}", error_chain(&e)),
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers are dropped: nothing Nix fetches uses them.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let len = data.len() as u64;
        received += len;
        metrics.bytes_fetched.inc_by(len);
        if writer_ok {
            if let Some(writer) = writer {
                // On failure the reason surfaces at commit; keep serving the client.
                writer_ok = writer.write(data.clone()).await.is_ok();
            }
        }
        let ready = if hold_back {
            held.replace(data)
        } else {
            Some(data)
        };
        if let (Some(tx), Some(chunk)) = (&client, ready) {
            let len = chunk.len() as u64;
            if tx.send(Ok(chunk)).await.is_ok() {
                metrics.bytes_served.inc_by(len);
            } else {
                client = None;
            }
        }
        if client.is_none() && !writer_ok {
            return PumpEnd::ClientGone;
        }
    };
    if let Some(tx) = client {
        let _ = tx.send(Err(BodyError(failure.clone()))).await;
    }
    PumpEnd::Failed(failure)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
