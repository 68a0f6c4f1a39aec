//! The cache: SQLite index (with each run's pins) + content-addressed blob store +
//! single-flight + counters.

mod blobs;
mod flight;
mod index;
pub(crate) mod key;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub(crate) use blobs::{BlobFault, BlobStore, StreamEnd};
pub(crate) use flight::{wait, FlightGuard, Flights, Joined};
pub(crate) use index::{Entry, Index, NewEntry};

use crate::body::CHANNEL_CHUNKS;
use crate::error::Result;
use crate::stats::{CacheStats, HostStats};

/// The index file inside the cache directory.
pub(crate) const INDEX_FILE: &str = "index.sqlite";

#[derive(Debug)]
pub(crate) struct Cache {
    pub(crate) index: Index,
    pub(crate) blobs: Arc<BlobStore>,
    pub(crate) flights: Arc<Flights>,
    /// Hits and misses per host not yet written to the index. Writing on every hit would
    /// put a SQLite write on the hot path; they are flushed every second instead.
    pending: Mutex<HashMap<String, (u64, u64)>>,
}

impl Cache {
    pub(crate) async fn open(cache_dir: &Path) -> Result<Self> {
        let blobs = BlobStore::open(cache_dir)?;
        let index = Index::open(&cache_dir.join(INDEX_FILE), true).await?;
        Ok(Self {
            index,
            blobs: Arc::new(blobs),
            flights: Arc::new(Flights::default()),
            pending: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn count_hit(&self, host: &str) {
        self.count(host, 1, 0);
    }

    pub(crate) fn count_miss(&self, host: &str) {
        self.count(host, 0, 1);
    }

    fn count(&self, host: &str, hits: u64, misses: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let counts = pending.entry(host.to_owned()).or_default();
        counts.0 += hits;
        counts.1 += misses;
    }

    /// Writes pending counters to the index. On failure they are kept for the next try.
    pub(crate) async fn flush_counters(&self) {
        let taken: Vec<(String, u64, u64)> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending
                .drain()
                .map(|(h, (hits, misses))| (h, hits, misses))
                .collect()
        };
        if taken.is_empty() {
            return;
        }
        if let Err(e) = self.index.add_counts(&taken).await {
            tracing::warn!("cannot save cache hit counters (will retry): {e}");
            for (host, hits, misses) in taken {
                self.count(&host, hits, misses);
            }
        }
    }

    /// Index stats plus counts not flushed yet.
    pub(crate) async fn stats(&self) -> Result<CacheStats> {
        let mut stats = self.index.stats().await?;
        let pending: Vec<(String, (u64, u64))> = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(h, c)| (h.clone(), *c))
            .collect();
        for (host, (hits, misses)) in pending {
            match stats.hosts.iter_mut().find(|h| h.host == host) {
                Some(h) => {
                    h.hits += hits;
                    h.misses += misses;
                }
                None => stats.hosts.push(HostStats {
                    hits,
                    misses,
                    ..HostStats::new(host)
                }),
            }
        }
        stats.hosts.sort_by(|a, b| a.host.cmp(&b.host));
        Ok(stats)
    }

    /// Forgets a blob that failed verification and every entry using it, so the next
    /// request refetches.
    pub(crate) async fn drop_blob(&self, sha256: &str) {
        match self.index.drop_blob(sha256).await {
            Ok(n) => tracing::warn!(blob = sha256, entries = n, "dropped a corrupt cached body"),
            Err(e) => tracing::warn!(blob = sha256, "cannot drop a corrupt cached body: {e}"),
        }
        self.remove_blobs(vec![sha256.to_owned()]).await;
    }

    /// Forgets the answers pinned for `pin` and deletes the bodies only they used.
    pub(crate) async fn forget_pin(&self, pin: &str) -> Result<()> {
        let orphans = self.index.forget_pin(pin).await?;
        tracing::debug!(pin, bodies = orphans.len(), "forgot a pin");
        self.remove_blobs(orphans).await;
        Ok(())
    }

    /// Deletes blob files (on the blocking pool) that the index no longer names.
    pub(crate) async fn remove_blobs(&self, sha256s: Vec<String>) {
        if sha256s.is_empty() {
            return;
        }
        let blobs = Arc::clone(&self.blobs);
        let _ = tokio::task::spawn_blocking(move || {
            for sha256 in &sha256s {
                blobs.remove(sha256);
            }
        })
        .await;
    }

    /// Starts a blob writer on the blocking pool, fed through a channel.
    pub(crate) fn start_writer(&self) -> std::io::Result<WriterHandle> {
        let mut writer = self.blobs.writer()?;
        let blobs = Arc::clone(&self.blobs);
        let (tx, mut rx) = mpsc::channel::<WriteMsg>(CHANNEL_CHUNKS);
        let join = tokio::task::spawn_blocking(move || {
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    WriteMsg::Data(bytes) => writer.write(&bytes)?,
                    WriteMsg::Commit => return writer.commit(&blobs).map(Some),
                }
            }
            // The sender went away without committing: the body was incomplete. Dropping
            // the writer deletes its temporary file.
            Ok(None)
        });
        Ok(WriterHandle { tx, join })
    }
}

#[derive(Debug)]
enum WriteMsg {
    Data(Bytes),
    Commit,
}

/// A blob being written on the blocking pool.
#[derive(Debug)]
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<WriteMsg>,
    join: JoinHandle<std::io::Result<Option<(String, u64)>>>,
}

impl WriterHandle {
    /// Queues bytes; an error means the writer failed (its reason comes from `commit`).
    pub(crate) async fn write(&self, bytes: Bytes) -> std::result::Result<(), ()> {
        self.tx.send(WriteMsg::Data(bytes)).await.map_err(|_| ())
    }

    /// Finishes the blob: hash and length.
    pub(crate) async fn commit(self) -> std::io::Result<(String, u64)> {
        // A send error means the writer already stopped; `join` says why.
        let _ = self.tx.send(WriteMsg::Commit).await;
        match self.join.await {
            Ok(Ok(Some(done))) => Ok(done),
            Ok(Ok(None)) => Err(std::io::Error::other("blob writer stopped early")),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}
