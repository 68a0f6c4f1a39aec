//! gnfc's caching MITM HTTP(S) proxy.
//!
//! Every HTTP(S) request Nix makes during a gnfc run goes through this proxy, started
//! in-process by the harness. For `https://` it answers `CONNECT` itself, presents a
//! certificate for the host issued by its own CA ([`ProxyHandle::ca_cert_path`]; clients
//! must trust it) and sees the plain requests; `http://` requests arrive in absolute form.
//! Answers come from a cache when possible:
//!
//! - [`Mode::Record`]: hits from the cache, misses fetched upstream and stored; with a
//!   [`ProxyConfig::pin`], answers that can change upstream (branch heads, the flake
//!   registry) are fetched once per pin and served as pinned from then on, so one run sees
//!   one upstream state and the next run a fresh one;
//! - [`Mode::Replay`]: hits only, a miss is a 499 naming the URL — nothing reaches the
//!   network, so re-runs are deterministic;
//! - [`Mode::Passthrough`]: no cache.
//!
//! The cache is an SQLite index plus a content-addressed blob store (bodies named by their
//! SHA-256, verified on read). Its key includes `Accept-Encoding` always and whatever
//! `Vary` names, so a gzip body never reaches a client that did not ask for one. Bodies
//! stream to the client while being stored; bodies that do not arrive whole are never
//! stored; identical concurrent misses are fetched once.
//!
//! ```no_run
//! # async fn run() -> Result<(), gnfc_proxy::ProxyError> {
//! let registry = prometheus::Registry::new();
//! let config = gnfc_proxy::ProxyConfig::new("/var/lib/gnfc/ca", "/var/lib/gnfc/cache");
//! let proxy = gnfc_proxy::Proxy::start(config, &registry).await?;
//! println!("https_proxy=http://{} NIX_SSL_CERT_FILE={}", proxy.addr(), proxy.ca_cert_path().display());
//! proxy.shutdown().await;
//! # Ok(()) }
//! ```

mod archive;
mod body;
mod ca;
mod cache;
mod config;
mod error;
mod freshness;
mod handler;
mod metrics;
mod mirror;
mod request;
mod response;
mod server;
mod shutdown;
mod state;
mod stats;
mod transfer;
mod upstream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use archive::{export_cache, import_cache, ArchiveError, ArchiveSummary};
pub use config::{MirrorConfig, Mode, ParseModeError, ProxyConfig, RateLimitPolicy, UpstreamKind};
pub use error::{ProxyError, Result, OFFLINE_MISS_STATUS};
pub use mirror::{
    add_to_mirror, init_mirror, serve_forge, AddError, AddedRepo, ForgeServer, InitError,
    InitedRepo, RepoName,
};
pub use stats::{CacheStats, HostStats};

use shutdown::stopped;
use state::{Ctx, Shared};

/// How often hit/miss counters are written to the index.
const COUNTER_FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Starts proxies.
#[derive(Debug)]
pub struct Proxy;

impl Proxy {
    /// Loads or creates the CA, opens the cache, registers the metrics in `registry` and
    /// starts listening. Must be called inside a tokio runtime; the proxy runs on it
    /// until [`ProxyHandle::shutdown`] (or until the handle is dropped).
    pub async fn start(config: ProxyConfig, registry: &Registry) -> Result<ProxyHandle> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let metrics = metrics::Metrics::register(registry)?;
        let ca = ca::CertificateAuthority::load_or_create(&config.ca_dir, Arc::clone(&provider))?;
        let cache = cache::Cache::open(&config.cache_dir).await?;
        let upstream = upstream::Upstream::new(&config, provider)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ProxyError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ProxyError::Bind {
            addr: config.listen,
            source,
        })?;
        let ca_cert_path = ca.cert_path().to_owned();
        let shared = Arc::new(Shared {
            mode: config.mode,
            cache,
            upstream,
            metrics,
            ca,
            registry: registry.clone(),
            upstream_timeout: config.upstream_timeout,
            pin: config.pin.clone(),
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (alive_tx, alive_rx) = mpsc::channel(1);
        let ctx = Ctx {
            shared: Arc::clone(&shared),
            shutdown: shutdown_rx.clone(),
            alive: alive_tx,
        };
        let unix = match &config.unix_socket {
            Some(path) => Some((bind_unix(path)?, path.clone())),
            None => None,
        };
        let mut tasks = vec![tokio::spawn(server::accept_loop(listener, ctx.clone()))];
        let unix_socket = unix.map(|(listener, path)| {
            tasks.push(tokio::spawn(server::accept_loop(listener, ctx)));
            path
        });
        tasks.push(tokio::spawn(flush_counters(
            Arc::clone(&shared),
            shutdown_rx,
        )));
        tracing::info!(%addr, mode = %config.mode, pin = config.pin.as_deref(), cache = %config.cache_dir.display(), "proxy listening");
        Ok(ProxyHandle {
            addr,
            unix_socket,
            ca_cert_path,
            shared,
            shutdown: shutdown_tx,
            alive: alive_rx,
            tasks,
        })
    }
}

/// The statistics of a cache directory, read without starting a proxy (for
/// `gnfc proxy stats`; works while a proxy is using the directory).
pub async fn read_stats(cache_dir: &Path) -> Result<CacheStats> {
    let path = cache_dir.join(cache::INDEX_FILE);
    if !path.exists() {
        return Err(ProxyError::NoCache {
            path: cache_dir.to_owned(),
        });
    }
    let index = cache::Index::open(&path, false).await?;
    let stats = index.stats().await;
    index.close().await;
    stats
}

/// A running proxy.
#[derive(Debug)]
pub struct ProxyHandle {
    addr: SocketAddr,
    unix_socket: Option<PathBuf>,
    ca_cert_path: PathBuf,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    alive: mpsc::Receiver<()>,
    tasks: Vec<JoinHandle<()>>,
}

impl ProxyHandle {
    /// The address it listens on (the real port when the config said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The unix socket it also listens on, when configured.
    pub fn unix_socket(&self) -> Option<&Path> {
        self.unix_socket.as_deref()
    }

    /// The CA certificate clients must trust (`NIX_SSL_CERT_FILE`).
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert_path
    }

    /// The mode it runs in.
    pub fn mode(&self) -> Mode {
        self.shared.mode
    }

    /// Entries, bytes, hits and misses per host, up to this moment.
    pub async fn stats(&self) -> Result<CacheStats> {
        self.shared.cache.stats().await
    }

    /// Forgets the answers pinned for this proxy's pin, and the bodies only they used: for
    /// when the run it serves is finished and will not be resumed. Answers fetched from now
    /// on are pinned again.
    pub async fn release_pin(&self) -> Result<()> {
        match &self.shared.pin {
            Some(pin) => self.shared.cache.forget_pin(pin).await,
            None => Ok(()),
        }
    }

    /// Stops accepting, lets open requests finish (a few seconds at most), saves the
    /// counters and closes the cache.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        // Every connection and body task holds a clone of the `alive` sender; once all
        // are gone, `recv` returns None.
        let grace = shutdown::SHUTDOWN_GRACE + Duration::from_secs(1);
        if tokio::time::timeout(grace, self.alive.recv())
            .await
            .is_err()
        {
            tracing::warn!("proxy shut down with transfers still running");
        }
        self.shared.cache.flush_counters().await;
        self.shared.cache.index.close().await;
        if let Some(path) = &self.unix_socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for ProxyHandle {
    /// A handle dropped without `shutdown` still stops the proxy (without waiting).
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Binds the unix socket, replacing a socket file a previous proxy left behind (but never
/// any other kind of file).
fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    let error = |source| ProxyError::BindUnix {
        path: path.to_owned(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(error(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            )));
        }
        std::fs::remove_file(path).map_err(error)?;
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ProxyError::CreateDir {
            path: parent.to_owned(),
            source,
        })?;
    }
    tokio::net::UnixListener::bind(path).map_err(error)
}

async fn flush_counters(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => return,
            () = tokio::time::sleep(COUNTER_FLUSH_EVERY) => shared.cache.flush_counters().await,
        }
    }
}
