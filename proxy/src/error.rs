//! The errors a caller of this crate can see. Each message says what went wrong and what to
//! do about it; faults while serving a request are answered to that client instead (502/504,
//! or [`OFFLINE_MISS_STATUS`]) and never reach here. Those answers and logs write an
//! error's causes on one line with [`error_chain`].

use std::path::PathBuf;

/// The status of every answer that means "not available offline": the mirror does not hold
/// the repository or host and no internet upstream is configured or reachable, or replay has
/// no recording.
/// No real server sends it, so a client's error naming it (Nix's `HTTP error 499`, git's
/// `The requested URL returned error: 499`) is the proxy's own miss, never an upstream's
/// answer, and is classified as such (`offline-miss`) instead of as a 404 or a 5xx. A 4xx
/// because Nix retries 5xx answers with backoff (seconds per miss) but fails at once on a 4xx;
/// nginx uses 499 only in its own logs, never on the wire.
pub const OFFLINE_MISS_STATUS: u16 = 499;

/// [`OFFLINE_MISS_STATUS`] as a status code.
pub(crate) fn offline_miss() -> http::StatusCode {
    http::StatusCode::from_u16(OFFLINE_MISS_STATUS).unwrap_or(http::StatusCode::BAD_GATEWAY)
}

/// An error and its causes on one line: hyper's top-level messages ("client error
/// (Connect)") say little on their own.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Why the proxy could not start, or a stats query failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "cannot create directory {path}: {source}; check that its parent exists and is writable"
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot {action} {path}: {source}; check the path and its permissions")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the proxy CA in {dir} is unusable: {reason}; delete ca.pem and ca.key there to have a \
         new CA generated (clients must then be given the new ca.pem)"
    )]
    CaInvalid { dir: PathBuf, reason: String },

    #[error(
        "the CA key {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    CaKeyMode { path: PathBuf, mode: u32 },

    #[error("cannot issue a certificate: {0}; this is a bug in gnfc, please report it")]
    Certificate(#[from] rcgen::Error),

    #[error("extra CA file {path}: {reason}; pass PEM files holding CERTIFICATE blocks")]
    ExtraCa { path: PathBuf, reason: String },

    #[error(
        "the token configured for {host} is not a valid HTTP header value; give the whole \
         Authorization value on one line, e.g. `token ghp_…` or `Bearer …`"
    )]
    Token { host: String },

    #[error("TLS set-up failed: {0}; this is a bug in gnfc, please report it")]
    Tls(#[from] rustls::Error),

    #[error(
        "cannot open the cache index {path}: {source}; check that the cache directory is \
         writable, or move the file away to start an empty cache"
    )]
    CacheOpen { path: PathBuf, source: sqlx::Error },

    #[error(
        "there is no proxy cache in {path}: pass the cache directory a proxy ran with, or \
         run the proxy in record mode first"
    )]
    NoCache { path: PathBuf },

    #[error(
        "cannot prepare the cache index {path}: {source}; it may come from a newer gnfc — use \
         another cache directory or that gnfc version"
    )]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },

    #[error("cache index query failed: {0}; check the disk, or move the cache directory away")]
    Db(#[from] sqlx::Error),

    #[error("cannot listen on {addr}: {source}; choose another address or port (port 0 picks a free one)")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },

    #[error("cannot listen on the unix socket {path}: {source}; choose another path (at most 107 bytes long) or remove what is there")]
    BindUnix {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "cannot register the proxy's metrics: {0}; give each proxy its own prometheus Registry"
    )]
    Metrics(#[from] prometheus::Error),
}

/// Result with [`ProxyError`].
pub type Result<T, E = ProxyError> = std::result::Result<T, E>;
