//! What a proxy is started with.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// How the cache is used. Its serde names are those of [`Mode::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Serve hits from the cache; fetch misses upstream and store them. With a pin
    /// ([`ProxyConfig::pin`]), answers that can change upstream (branch heads, the flake
    /// registry) are fetched once per pin and then served as pinned.
    Record,
    /// Serve hits only; a miss is answered with the offline-miss status (499) naming the URL. Makes re-runs
    /// deterministic: nothing reaches the network.
    Replay,
    /// No cache at all: every request goes upstream (tokens are still added).
    Passthrough,
}

impl Mode {
    /// The name used in configuration, on the command line and as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Record => "record",
            Mode::Replay => "replay",
            Mode::Passthrough => "passthrough",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mode name that is none of `record`, `replay`, `passthrough`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown proxy mode `{0}`: use record, replay or passthrough")]
pub struct ParseModeError(pub String);

impl FromStr for Mode {
    type Err = ParseModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "record" => Ok(Mode::Record),
            "replay" => Ok(Mode::Replay),
            "passthrough" => Ok(Mode::Passthrough),
            _ => Err(ParseModeError(s.to_owned())),
        }
    }
}

/// How answers that say "slow down" (403/429 with `retry-after` or an exhausted
/// `x-ratelimit-remaining`) are retried before the proxy gives up and passes them on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// Retries after the first attempt; 0 passes every rate-limit answer straight through.
    pub max_retries: u32,
    /// Longest single wait. An origin asking for longer is not waited for: its answer goes
    /// to the client (uncached), because a client blocked for minutes times out anyway.
    pub max_wait: Duration,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Where misses are answered from, tried in the order configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamKind {
    /// The forge emulator: answers the hosts it knows from a directory of bare git
    /// repositories, passes everything else to the next upstream.
    Mirror(MirrorConfig),
    /// The real origin, with normal certificate checks.
    Internet,
}

/// The forge emulator's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorConfig {
    /// Bare git repositories as `DIR/owner/repo.git` or `DIR/owner+repo`.
    pub dir: PathBuf,
    /// The flake registry served at `https://channels.nixos.org/flake-registry.json`;
    /// `None` serves `DIR/flake-registry.json` when that file exists, else a registry made of
    /// the global registry's entries and one entry per repository the mirror holds.
    pub registry: Option<PathBuf>,
}

impl MirrorConfig {
    /// A mirror of `dir` with its registry at the default place.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            registry: None,
        }
    }
}

/// Everything [`crate::Proxy::start`] needs.
#[derive(Clone)]
pub struct ProxyConfig {
    /// Where to listen; port 0 picks a free port ([`crate::ProxyHandle::addr`] tells which).
    pub listen: SocketAddr,
    /// Also accept clients on this unix socket (containers without a network reach the
    /// proxy through a relay to it). A stale socket file there is replaced.
    pub unix_socket: Option<PathBuf>,
    /// Holds `ca.pem` (give it to clients, e.g. `NIX_SSL_CERT_FILE`) and `ca.key` (mode
    /// 0600). Both are generated on first use and reused afterwards.
    pub ca_dir: PathBuf,
    /// Holds the cache index (`index.sqlite`) and the blob store (`blobs/`, `tmp/`).
    pub cache_dir: PathBuf,
    /// How the cache is used.
    pub mode: Mode,
    /// PEM files with CA certificates trusted for upstream connections in addition to the
    /// webpki and system roots (tests use this for their loopback origins).
    pub extra_ca_files: Vec<PathBuf>,
    /// Host (no port, lowercase) → complete `Authorization` header value (e.g.
    /// `api.github.com` → `token ghp_…`), added to HTTPS upstream requests for that host
    /// when the client sent none. Never logged, never stored, never sent to clients.
    pub tokens: HashMap<String, String>,
    /// Limit for connecting and receiving response headers, and for each gap between two
    /// pieces of a response body (not for the whole body: large downloads take long).
    pub upstream_timeout: Duration,
    /// Retries of rate-limit answers.
    pub rate_limit: RateLimitPolicy,
    /// Where misses go, in order; a request no upstream takes gets the offline-miss status
    /// (499) naming its host.
    pub upstreams: Vec<UpstreamKind>,
    /// The run this proxy serves, e.g. `nightly@1733212800000`. In record mode, answers
    /// that can change upstream (a branch's head commit, a branch archive, `info/refs`, the
    /// flake registry) are fetched once for each pin and kept under it in the cache index:
    /// every request with the same pin — in this process or one started later to resume the
    /// run — gets the same answer, and a new pin fetches afresh. Answers pinned by a commit
    /// hash or a `narHash` are shared by all pins. `None` serves every recorded answer
    /// forever. Replay mode ignores it.
    pub pin: Option<String>,
}

impl ProxyConfig {
    /// A record-mode proxy on a free loopback port with the given directories and defaults
    /// for everything else (no tokens, no extra CAs, 60 s upstream timeout).
    pub fn new(ca_dir: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            unix_socket: None,
            ca_dir: ca_dir.into(),
            cache_dir: cache_dir.into(),
            mode: Mode::Record,
            extra_ca_files: Vec::new(),
            tokens: HashMap::new(),
            upstream_timeout: Duration::from_secs(60),
            rate_limit: RateLimitPolicy::default(),
            upstreams: vec![UpstreamKind::Internet],
            pin: None,
        }
    }
}

/// Hand-written so that a config printed in a log or an error never shows a token.
impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut token_hosts: Vec<&String> = self.tokens.keys().collect();
        token_hosts.sort();
        f.debug_struct("ProxyConfig")
            .field("listen", &self.listen)
            .field("unix_socket", &self.unix_socket)
            .field("ca_dir", &self.ca_dir)
            .field("cache_dir", &self.cache_dir)
            .field("mode", &self.mode)
            .field("extra_ca_files", &self.extra_ca_files)
            .field("token_hosts", &token_hosts)
            .field("upstream_timeout", &self.upstream_timeout)
            .field("rate_limit", &self.rate_limit)
            .field("upstreams", &self.upstreams)
            .field("pin", &self.pin)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_and_bad_names_say_what_is_allowed() {
        for mode in [Mode::Record, Mode::Replay, Mode::Passthrough] {
            assert_eq!(mode.as_str().parse::<Mode>(), Ok(mode));
        }
        let err = "offline".parse::<Mode>().unwrap_err();
        assert!(err.to_string().contains("record, replay or passthrough"));
    }

    #[test]
    fn debug_never_shows_tokens() {
        let mut config = ProxyConfig::new("/ca", "/cache");
        config
            .tokens
            .insert("api.github.com".into(), "token s3cr3t".into());
        let shown = format!("{config:?}");
        assert!(shown.contains("api.github.com"));
        assert!(!shown.contains("s3cr3t"));
    }
}
