//! Test fixtures: a scripted loopback origin (HTTPS with its own test CA, and plain HTTP),
//! proxies started on temporary directories, and clients that trust the proxy's CA.
//!
//! The origin writes its answers byte by byte (it is a test double, not an HTTP server) so
//! that it can misbehave exactly: fewer bytes than Content-Length, a reset mid-body, a
//! stall. TLS is tokio-rustls; certificates come from rcgen.

#![allow(dead_code)] // each test uses a different part of the fixtures

pub mod forge;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gnfc_proxy::{Mode, Proxy, ProxyConfig, ProxyHandle};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Body of `/big`: large enough to be streamed (not verified before serving).
pub const BIG_LEN: usize = 3 * 1024 * 1024;

pub fn big_body() -> Vec<u8> {
    (0..BIG_LEN).map(|i| (i % 251) as u8).collect()
}

#[derive(Default)]
struct OriginState {
    counts: Mutex<HashMap<String, usize>>,
    authorization: Mutex<Vec<String>>,
}

/// The scripted origin. Paths (query strings are ignored for routing but counted apart):
/// `/hello`, `/encoded` (gzip or identity by Accept-Encoding, without Vary), `/vary-agent`, `/short`, `/reset`,
/// `/error500`, `/stall-headers`, `/stall-body`, `/redirect` → `/target`, `/token` (echoes
/// Authorization in a header), `/big`, `/gated` (held until released), `/stream-gated` (half, then held), `/ratelimit` (429
/// first), `/forbidden-limit` (403 with a far reset), anything else: 200 with the path.
/// How long the stalling paths stall: far beyond any timeout a test sets, so a bound well
/// below it proves the proxy's timeout cut the request, with room for a loaded machine.
pub const STALL: Duration = Duration::from_secs(30);

pub struct Origin {
    pub https_port: u16,
    pub http_port: u16,
    pub ca_file: PathBuf,
    state: Arc<OriginState>,
    gate: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Origin {
    pub async fn start() -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "test origin CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca_file = dir.path().join("origin-ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let state = Arc::new(OriginState::default());
        let (gate, gate_rx) = watch::channel(false);
        let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https_port = https.local_addr().unwrap().port();
        let http_port = http.local_addr().unwrap().port();
        {
            let state = Arc::clone(&state);
            let gate = gate_rx.clone();
            tokio::spawn(async move {
                while let Ok((tcp, _)) = https.accept().await {
                    let (acceptor, state, gate) = (acceptor.clone(), state.clone(), gate.clone());
                    tokio::spawn(async move {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            serve(tls, state, gate, https_port).await;
                        }
                    });
                }
            });
        }
        {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                while let Ok((tcp, _)) = http.accept().await {
                    let (state, gate) = (state.clone(), gate_rx.clone());
                    tokio::spawn(serve(TlsOrPlain::Plain(tcp), state, gate, https_port));
                }
            });
        }
        Origin {
            https_port,
            http_port,
            ca_file,
            state,
            gate,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https_port)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.http_port)
    }

    /// Requests that reached the origin for this path (with query).
    pub fn count(&self, path: &str) -> usize {
        *self.state.counts.lock().unwrap().get(path).unwrap_or(&0)
    }

    pub fn authorization_seen(&self) -> Vec<String> {
        self.state.authorization.lock().unwrap().clone()
    }

    /// Lets `/gated` answer.
    pub fn open_gate(&self) {
        self.gate.send_replace(true);
    }
}

/// The plain listener shares the handler with the TLS one.
enum TlsOrPlain {
    Plain(TcpStream),
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {
    /// Sets SO_LINGER 0 so that closing sends a TCP reset.
    fn tcp(&self) -> &TcpStream;
}

impl Stream for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

impl Stream for TlsOrPlain {
    fn tcp(&self) -> &TcpStream {
        match self {
            TlsOrPlain::Plain(tcp) => tcp,
        }
    }
}

impl AsyncRead for TlsOrPlain {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            TlsOrPlain::Plain(tcp) => std::pin::Pin::new(tcp).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for TlsOrPlain {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            TlsOrPlain::Plain(tcp) => std::pin::Pin::new(tcp).poll_write(cx, buf),
        }
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            TlsOrPlain::Plain(tcp) => std::pin::Pin::new(tcp).poll_flush(cx),
        }
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            TlsOrPlain::Plain(tcp) => std::pin::Pin::new(tcp).poll_shutdown(cx),
        }
    }
}

/// One request per connection (`connection: close` on every answer).
async fn serve<S: Stream>(
    mut stream: S,
    state: Arc<OriginState>,
    mut gate: watch::Receiver<bool>,
    https_port: u16,
) {
    let Some((target, headers, _body)) = read_request(&mut stream).await else {
        return;
    };
    *state
        .counts
        .lock()
        .unwrap()
        .entry(target.clone())
        .or_default() += 1;
    let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
    if let Some(auth) = headers.get("authorization") {
        state.authorization.lock().unwrap().push(auth.clone());
    }
    let path = target.split('?').next().unwrap_or("/").to_owned();
    let out = match path.as_str() {
        "/hello" => ok("hello world", ""),
        "/encoded" => {
            // No Vary header, like the origin that bit seed 001's proxy.
            if header("accept-encoding").contains("gzip") {
                ok("GZIPPED<bytes>", "content-encoding: gzip\r\n")
            } else {
                ok("plain text body", "")
            }
        }
        "/short" => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\n")
                .await;
            let _ = stream.write_all(&[b'x'; 50]).await;
            let _ = stream.flush().await;
            return; // closed with 50 of 100 bytes sent
        }
        "/reset" => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n")
                .await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = stream.tcp().set_zero_linger();
            return; // dropped with SO_LINGER 0: a TCP reset mid-body
        }
        "/vary-agent" => ok(&header("user-agent"), "vary: User-Agent\r\n"),
        "/error500" => response("500 Internal Server Error", "boom", ""),
        "/stall-headers" => {
            tokio::time::sleep(STALL).await;
            ok("too late", "")
        }
        "/stall-body" => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\n0123456789")
                .await;
            let _ = stream.flush().await;
            tokio::time::sleep(STALL).await;
            return;
        }
        "/redirect" => response(
            "302 Found",
            "",
            &format!("location: https://localhost:{https_port}/target\r\n"),
        ),
        "/target" => ok("redirect target", ""),
        "/token" => ok(
            "token checked",
            &format!("x-echo-authorization: {}\r\n", header("authorization")),
        ),
        "/big" => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {BIG_LEN}\r\nconnection: close\r\n\r\n"
            )
            .into_bytes();
            out.extend(big_body());
            out
        }
        "/stream-gated" => {
            // Half the body, then nothing until the gate opens: a client that already has
            // the first half proves the proxy streams instead of buffering.
            let body = big_body();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {BIG_LEN}\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body[..BIG_LEN / 2]).await;
            let _ = stream.flush().await;
            let _ = gate.wait_for(|open| *open).await;
            let _ = stream.write_all(&body[BIG_LEN / 2..]).await;
            let _ = stream.flush().await;
            let _ = stream.shutdown().await;
            return;
        }
        "/gated" => {
            let _ = gate.wait_for(|open| *open).await;
            ok(&"gated body ".repeat(1000), "")
        }
        "/ratelimit" => {
            if state.counts.lock().unwrap()[&target] == 1 {
                response("429 Too Many Requests", "slow down", "retry-after: 0\r\n")
            } else {
                ok("finally", "")
            }
        }
        "/forbidden-limit" => response(
            "403 Forbidden",
            "rate limit exceeded",
            "x-ratelimit-remaining: 0\r\nx-ratelimit-reset: 99999999999\r\n",
        ),
        _ => ok(&format!("path {target}"), ""),
    };
    let _ = stream.write_all(&out).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

fn ok(body: &str, extra: &str) -> Vec<u8> {
    response("200 OK", body, extra)
}

fn response(status: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one request: target, lowercase headers, body (by Content-Length).
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Option<(String, HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while body.len() < len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((target, headers, body))
}

/// A proxy on temporary directories, trusting the origin's CA.
pub struct TestProxy {
    pub handle: ProxyHandle,
    pub registry: prometheus::Registry,
    pub ca_dir: PathBuf,
    pub cache_dir: PathBuf,
}

/// Directories that outlive one proxy (for record-then-replay).
pub fn dirs() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn config(origin: &Origin, dir: &Path, mode: Mode) -> ProxyConfig {
    let mut config = ProxyConfig::new(dir.join("ca"), dir.join("cache"));
    config.mode = mode;
    config.extra_ca_files = vec![origin.ca_file.clone()];
    config.upstream_timeout = Duration::from_secs(10);
    config
}

pub async fn start(config: ProxyConfig) -> TestProxy {
    let registry = prometheus::Registry::new();
    let (ca_dir, cache_dir) = (config.ca_dir.clone(), config.cache_dir.clone());
    let handle = Proxy::start(config, &registry).await.unwrap();
    TestProxy {
        handle,
        registry,
        ca_dir,
        cache_dir,
    }
}

impl TestProxy {
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// A client that goes through this proxy and trusts only its CA.
    pub fn client(&self) -> reqwest::Client {
        self.client_builder().build().unwrap()
    }

    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let pem = std::fs::read(self.handle.ca_cert_path()).unwrap();
        reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(format!("http://{}", self.addr())).unwrap())
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .timeout(Duration::from_secs(20))
    }

    /// Files in the blob store.
    pub fn blobs(&self) -> Vec<PathBuf> {
        files(&self.cache_dir.join("blobs"))
    }

    pub fn tmp_files(&self) -> Vec<PathBuf> {
        files(&self.cache_dir.join("tmp"))
    }

    /// The value of a metric with `host="localhost"` and this proxy's mode.
    pub fn metric(&self, name: &str) -> f64 {
        let mode = self.handle.mode().as_str();
        for family in self.registry.gather() {
            if family.name() != name {
                continue;
            }
            for m in family.get_metric() {
                let labels: HashMap<&str, &str> = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name(), l.value()))
                    .collect();
                if labels.get("host") == Some(&"localhost") && labels.get("mode") == Some(&mode) {
                    return m.get_counter().get_value();
                }
            }
        }
        0.0
    }
}

pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        if entry.path().is_dir() {
            out.extend(files(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

/// Polls `check` every 20 ms for at most `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
