//! `gnfc forge serve`: the mirror on its own, as a web server. Plain HTTP picks the forge
//! by the `Host` header; HTTPS (optional) presents certificates from the proxy CA for
//! whatever name the client asks for (SNI), so a client trusting that CA and resolving
//! `api.github.com` to this server sees the forge.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::LazyConfigAcceptor;

use super::{plain, Mirror};
use crate::body::ProxyBody;
use crate::ca::CertificateAuthority;
use crate::config::MirrorConfig;
use crate::error::{ProxyError, Result};
use crate::shutdown::stopped;

/// A running forge server.
#[derive(Debug)]
pub struct ForgeServer {
    http: SocketAddr,
    https: Option<SocketAddr>,
    ca_cert: Option<std::path::PathBuf>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ForgeServer {
    /// The plain HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The HTTPS address, when started with one.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https
    }

    /// The CA certificate HTTPS clients must trust, when serving HTTPS.
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.ca_cert.as_deref()
    }

    /// Stops accepting connections.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

/// Starts the mirror on `http` (and on `https` with certificates from the CA in `ca_dir`).
pub async fn serve_forge(
    mirror: &MirrorConfig,
    http: SocketAddr,
    https: Option<(SocketAddr, &Path)>,
) -> Result<ForgeServer> {
    let mirror = Arc::new(Mirror::new(mirror));
    let (shutdown, stop) = watch::channel(false);
    let (listener, http) = bind(http).await?;
    let mut tasks = vec![tokio::spawn(accept(
        listener,
        Arc::clone(&mirror),
        None,
        stop.clone(),
    ))];
    let (mut https_addr, mut ca_cert) = (None, None);
    if let Some((addr, ca_dir)) = https {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let ca = Arc::new(CertificateAuthority::load_or_create(ca_dir, provider)?);
        ca_cert = Some(ca.cert_path().to_owned());
        let (listener, addr) = bind(addr).await?;
        https_addr = Some(addr);
        tasks.push(tokio::spawn(accept(listener, mirror, Some(ca), stop)));
    }
    Ok(ForgeServer {
        http,
        https: https_addr,
        ca_cert,
        shutdown,
        tasks,
    })
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    let error = |source| ProxyError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}

async fn accept(
    listener: TcpListener,
    mirror: Arc<Mirror>,
    tls: Option<Arc<CertificateAuthority>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("forge accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let mirror = Arc::clone(&mirror);
        let tls = tls.clone();
        tokio::spawn(async move {
            let https = tls.is_some();
            let service = service_fn(move |request| {
                let mirror = Arc::clone(&mirror);
                async move { Ok::<_, Infallible>(answer(&mirror, https, request).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let served = match tls {
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
                Some(ca) => {
                    let acceptor =
                        LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
                    let Ok(start) = acceptor.await else { return };
                    let host = start
                        .client_hello()
                        .server_name()
                        .unwrap_or("localhost")
                        .to_owned();
                    let Ok(config) = ca.server_config(&host) else {
                        return;
                    };
                    let Ok(stream) = start.into_stream(config).await else {
                        return;
                    };
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(e) = served {
                tracing::debug!("forge connection ended: {e}");
            }
        });
    }
}

async fn answer(mirror: &Mirror, https: bool, request: Request<Incoming>) -> Response<ProxyBody> {
    let host = request
        .uri()
        .host()
        .map(str::to_owned)
        .or_else(|| {
            let value = request.headers().get(http::header::HOST)?.to_str().ok()?;
            Some(value.rsplit_once(':').map_or(value, |(h, _)| h).to_owned())
        })
        .unwrap_or_default()
        .to_ascii_lowercase();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    match mirror.answer(request.method(), https, &host, path).await {
        Some(response) => response,
        None if Mirror::is_forge_host(&host) => mirror.not_held(&host, path),
        None => plain(
            crate::error::offline_miss(),
            format!(
                "gnfc forge: the mirror does not serve host {host:?}; it answers {} and \
                 channels.nixos.org/flake-registry.json\n",
                super::routes::FORGE_HOSTS.join(", ")
            ),
        ),
    }
}
