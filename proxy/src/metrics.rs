//! Prometheus metrics, registered in the registry the caller passes in (gnfc exposes one
//! registry for everything). All are labelled by `host` and `mode`. Hosts come from clients,
//! so the label set is bounded: after [`MAX_HOST_LABELS`] distinct hosts, further ones are
//! counted as `other` (a run touches a few dozen forges and caches, not thousands).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};

use crate::config::Mode;
use crate::error::Result;

const LABELS: [&str; 2] = ["host", "mode"];

/// Distinct `host` label values before new hosts are labelled [`OTHER_HOST`].
pub(crate) const MAX_HOST_LABELS: usize = 256;
const OTHER_HOST: &str = "other";

/// Time from receiving a request to sending response headers, in seconds: 0.5 ms (a hit on
/// loopback) up to a minute (a slow origin).
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    requests: IntCounterVec,
    hits: IntCounterVec,
    misses: IntCounterVec,
    bytes_served: IntCounterVec,
    bytes_fetched: IntCounterVec,
    upstream_errors: IntCounterVec,
    latency: HistogramVec,
    hosts: Arc<Mutex<HashSet<String>>>,
}

/// The metrics of one request, with labels resolved once.
#[derive(Debug, Clone)]
pub(crate) struct RequestMetrics {
    pub(crate) hits: IntCounter,
    pub(crate) misses: IntCounter,
    pub(crate) bytes_served: IntCounter,
    pub(crate) bytes_fetched: IntCounter,
    pub(crate) upstream_errors: IntCounter,
    pub(crate) latency: Histogram,
}

impl Metrics {
    pub(crate) fn register(registry: &Registry) -> Result<Self> {
        let counter = |name: &str, help: &str| -> Result<IntCounterVec> {
            let vec = IntCounterVec::new(Opts::new(name, help), &LABELS)?;
            registry.register(Box::new(vec.clone()))?;
            Ok(vec)
        };
        let metrics = Self {
            requests: counter(
                "gnfc_proxy_requests_total",
                "Requests received by the proxy",
            )?,
            hits: counter(
                "gnfc_proxy_cache_hits_total",
                "Responses served from the cache",
            )?,
            misses: counter(
                "gnfc_proxy_cache_misses_total",
                "Requests the cache could not answer (fetched upstream, or refused in replay mode)",
            )?,
            bytes_served: counter(
                "gnfc_proxy_bytes_served_total",
                "Response body bytes sent to clients",
            )?,
            bytes_fetched: counter(
                "gnfc_proxy_bytes_fetched_total",
                "Response body bytes received from upstream",
            )?,
            upstream_errors: counter(
                "gnfc_proxy_upstream_errors_total",
                "Upstream failures: connect/TLS errors, timeouts, bodies cut short",
            )?,
            latency: {
                let opts = HistogramOpts::new(
                    "gnfc_proxy_request_duration_seconds",
                    "Time from request to response headers",
                )
                .buckets(LATENCY_BUCKETS.to_vec());
                let vec = HistogramVec::new(opts, &LABELS)?;
                registry.register(Box::new(vec.clone()))?;
                vec
            },
            hosts: Arc::new(Mutex::new(HashSet::new())),
        };
        Ok(metrics)
    }

    /// Counts the request and returns its labelled metrics.
    pub(crate) fn request(&self, host: &str, mode: Mode) -> RequestMetrics {
        let host = {
            let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
            if hosts.contains(host)
                || (hosts.len() < MAX_HOST_LABELS && hosts.insert(host.to_owned()))
            {
                host
            } else {
                OTHER_HOST
            }
        };
        let labels = [host, mode.as_str()];
        self.requests.with_label_values(&labels).inc();
        RequestMetrics {
            hits: self.hits.with_label_values(&labels),
            misses: self.misses.with_label_values(&labels),
            bytes_served: self.bytes_served.with_label_values(&labels),
            bytes_fetched: self.bytes_fetched.with_label_values(&labels),
            upstream_errors: self.upstream_errors.with_label_values(&labels),
            latency: self.latency.with_label_values(&labels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_once_per_registry() {
        let registry = Registry::new();
        let metrics = Metrics::register(&registry).unwrap();
        metrics.request("h", Mode::Record).hits.inc();
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        assert!(text.contains(r#"gnfc_proxy_cache_hits_total{host="h",mode="record"} 1"#));
        for i in 0..MAX_HOST_LABELS + 10 {
            metrics.request(&format!("h{i}"), Mode::Replay).hits.inc();
        }
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        assert!(text.contains(r#"gnfc_proxy_cache_hits_total{host="other",mode="replay"} 11"#));
        let err = Metrics::register(&registry).unwrap_err();
        assert!(err.to_string().contains("own prometheus Registry"), "{err}");
    }
}
