//! What the proxy's tasks share: the state every connection reads (mode, cache, upstream,
//! metrics, CA) and the context each connection task carries.

use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use tokio::sync::{mpsc, watch};

use crate::ca::CertificateAuthority;
use crate::cache::Cache;
use crate::config::Mode;
use crate::freshness::is_mutable;
use crate::metrics::Metrics;
use crate::upstream::Upstream;

/// State shared by every connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) mode: Mode,
    pub(crate) cache: Cache,
    pub(crate) upstream: Upstream,
    pub(crate) metrics: Metrics,
    pub(crate) ca: CertificateAuthority,
    pub(crate) registry: Registry,
    pub(crate) upstream_timeout: Duration,
    /// The run whose upstream state record mode keeps (`ProxyConfig::pin`).
    pub(crate) pin: Option<String>,
}

impl Shared {
    /// The pin a request's answer is looked up and stored under: the run's, in record mode,
    /// for answers that can change upstream. Replay mode never fetches, so it has nothing
    /// to pin and serves the latest recorded answers.
    pub(crate) fn pin_for(&self, url: &str) -> Option<&str> {
        let pin = self.pin.as_deref().filter(|_| self.mode == Mode::Record)?;
        is_mutable(url).then_some(pin)
    }
}

/// What every connection task carries: the shared state, the shutdown signal, and a
/// liveness token (shutdown waits until every clone of `alive` is gone).
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) alive: mpsc::Sender<()>,
}
