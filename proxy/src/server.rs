//! Connections: the accept loop, the outer HTTP/1.1 proxy protocol (CONNECT or
//! absolute-form requests), and TLS interception inside CONNECT tunnels.

use std::convert::Infallible;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;

use crate::body::ProxyBody;
use crate::handler::handle;
use crate::request::Target;
use crate::response::text;
use crate::shutdown::{stopped, SHUTDOWN_GRACE};
use crate::state::Ctx;

/// A client must send its request headers within this time: a connection that sends
/// nothing (or garbage slowly) does not hold a task forever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit for a client's TLS handshake inside a tunnel.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where clients connect: the TCP port, or the unix socket containers reach through a relay.
pub(crate) trait Listener: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept_one(&self)
        -> impl std::future::Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl Listener for TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept_one(&self) -> std::io::Result<Self::Stream> {
        let (stream, _) = self.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

impl Listener for UnixListener {
    type Stream = tokio::net::UnixStream;

    async fn accept_one(&self) -> std::io::Result<Self::Stream> {
        Ok(self.accept().await?.0)
    }
}

/// Accepts connections until shutdown.
pub(crate) async fn accept_loop<L: Listener>(listener: L, ctx: Ctx) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept_one() => match accepted {
                Ok(stream) => {
                    let ctx = ctx.clone();
                    tokio::spawn(serve_client(stream, ctx));
                }
                Err(e) => {
                    // Usually out of file descriptors: pause instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// The client's own connection: HTTP/1.1, where proxies are spoken to.
async fn serve_client<S>(stream: S, ctx: Ctx)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_ctx = ctx.clone();
    let service = service_fn(move |request| {
        let ctx = service_ctx.clone();
        async move { Ok::<_, Infallible>(outer(ctx, request).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // hyper answers a request it cannot parse with 400 and closes the connection.
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let mut shutdown = ctx.shutdown.clone();
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("client connection ended: {e}");
            }
        }
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
}

/// A request on the client's connection.
async fn outer(ctx: Ctx, request: Request<Incoming>) -> Response<ProxyBody> {
    if request.method() == Method::CONNECT {
        return connect(ctx, request);
    }
    let uri = request.uri();
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme @ ("http" | "https")), Some(authority)) => {
            let target = Target::new(scheme == "https", authority.host(), authority.port_u16());
            handle(&ctx, &target, request).await
        }
        _ if uri.path() == "/metrics" && uri.authority().is_none() => metrics(&ctx),
        _ => text(
            StatusCode::BAD_REQUEST,
            "gnfc proxy: this is a forward proxy; send CONNECT host:port or an absolute \
             http:// URL (set https_proxy/http_proxy to this address)\n"
                .into(),
        ),
    }
}

/// `GET /metrics` on the proxy itself: the registry the proxy was started with.
fn metrics(ctx: &Ctx) -> Response<ProxyBody> {
    let encoder = prometheus::TextEncoder::new();
    match encoder.encode_to_string(&ctx.shared.registry.gather()) {
        Ok(body) => {
            let mut response = Response::new(ProxyBody::full(body));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("gnfc proxy: cannot encode metrics: {e}\n"),
        ),
    }
}

/// CONNECT: issue (or reuse) a certificate for the host, answer 200, then speak TLS with
/// the client on the upgraded connection.
fn connect(ctx: Ctx, request: Request<Incoming>) -> Response<ProxyBody> {
    let Some(authority) = request.uri().authority() else {
        return text(
            StatusCode::BAD_REQUEST,
            "gnfc proxy: CONNECT needs host:port\n".into(),
        );
    };
    let target = Target::new(true, authority.host(), authority.port_u16());
    // Issued before answering, so a name no certificate can hold gets a clear 400 instead
    // of a failed handshake.
    let tls = match ctx.shared.ca.server_config(&target.host) {
        Ok(tls) => tls,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("gnfc proxy: cannot intercept {}: {e}\n", target.host),
            )
        }
    };
    tokio::spawn(async move {
        let upgraded = match hyper::upgrade::on(request).await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(host = %target.host, "CONNECT upgrade failed: {e}");
                return;
            }
        };
        let accept = TlsAcceptor::from(tls).accept(TokioIo::new(upgraded));
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                // Typically a client that does not trust our CA: say so where it is seen.
                tracing::info!(host = %target.host, "TLS handshake with the client failed: {e} (does it trust the proxy CA?)");
                return;
            }
            Err(_) => {
                tracing::debug!(host = %target.host, "TLS handshake with the client timed out");
                return;
            }
        };
        serve_tunnel(stream, target, ctx).await;
    });
    Response::new(ProxyBody::empty())
}

/// Requests inside an intercepted tunnel: HTTP/1.1 or HTTP/2, as ALPN decided.
async fn serve_tunnel<S>(stream: S, target: Target, ctx: Ctx)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_ctx = ctx.clone();
    let service = service_fn(move |request| {
        let ctx = service_ctx.clone();
        let target = target.clone();
        async move { Ok::<_, Infallible>(handle(&ctx, &target, request).await) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut shutdown = ctx.shutdown.clone();
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("tunnel connection ended: {e}");
            }
        }
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
}
