//! What `gnfc proxy stats` prints: entries, bytes and hit rate per host.

use serde::Serialize;

/// The state of a cache directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Stored responses.
    pub entries: u64,
    /// Distinct bodies in the blob store (responses with the same body share one).
    pub blobs: u64,
    /// Bytes those distinct bodies take.
    pub blob_bytes: u64,
    /// Per host, sorted by host name.
    pub hosts: Vec<HostStats>,
}

/// One host's share of the cache. Hits and misses are counted since the cache was created
/// (across proxy restarts); a miss is a response fetched from upstream in record mode or
/// refused in replay mode, a hit one served from the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostStats {
    pub host: String,
    pub entries: u64,
    /// Sum of the body sizes of this host's entries.
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
}

impl HostStats {
    pub(crate) fn new(host: String) -> Self {
        Self {
            host,
            ..Self::default()
        }
    }

    /// Hits over hits + misses, `None` before the first request.
    pub fn hit_rate(&self) -> Option<f64> {
        rate(self.hits, self.misses)
    }
}

impl CacheStats {
    /// The stats of one host, if it was ever seen.
    pub fn host(&self, host: &str) -> Option<&HostStats> {
        self.hosts.iter().find(|h| h.host == host)
    }

    pub fn hits(&self) -> u64 {
        self.hosts.iter().map(|h| h.hits).sum()
    }

    pub fn misses(&self) -> u64 {
        self.hosts.iter().map(|h| h.misses).sum()
    }

    /// Hits over hits + misses across all hosts.
    pub fn hit_rate(&self) -> Option<f64> {
        rate(self.hits(), self.misses())
    }
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52: exact enough for a ratio
fn rate(hits: u64, misses: u64) -> Option<f64> {
    let total = hits + misses;
    (total > 0).then(|| hits as f64 / total as f64)
}
