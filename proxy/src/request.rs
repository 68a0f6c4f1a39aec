//! A client's request as the proxy handles it: the connection's target, and the request
//! read whole (its body is part of the cache key) under the URL spelling cache keys use.

use bytes::Bytes;
use http::header::HeaderMap;
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::body::ProxyBody;
use crate::metrics::RequestMetrics;
use crate::response::text;
use crate::upstream::Outgoing;

/// Request bodies are hashed into the key before anything is sent, so they are read whole;
/// Nix sends none larger than a GraphQL query.
const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

/// Where requests on a connection go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) https: bool,
    /// Lowercase, IPv6 without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Target {
    pub(crate) fn new(https: bool, host: &str, port: Option<u16>) -> Self {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Self {
            https,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(if https { 443 } else { 80 }),
        }
    }

    /// The URL of `path` on this target, in the one spelling used for cache keys: default
    /// ports left out, host lowercase.
    fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.https { 443 } else { 80 };
        if self.port == default_port {
            format!("{scheme}://{host}{path}")
        } else {
            format!("{scheme}://{host}:{}{path}", self.port)
        }
    }
}

/// One request, read and labelled.
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) https: bool,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) metrics: RequestMetrics,
}

impl Req {
    /// Reads a request on a connection to `target` whole, or answers why it is not proxied.
    pub(crate) async fn read(
        target: &Target,
        request: Request<Incoming>,
        metrics: RequestMetrics,
    ) -> Result<Self, Response<ProxyBody>> {
        let (parts, body) = request.into_parts();
        if parts.method == Method::CONNECT {
            return Err(text(
                StatusCode::METHOD_NOT_ALLOWED,
                "gnfc proxy: CONNECT inside a CONNECT tunnel is not supported\n".into(),
            ));
        }
        let path = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let url = target.url(path);
        let Ok(uri) = url.parse::<Uri>() else {
            return Err(text(
                StatusCode::BAD_REQUEST,
                format!("gnfc proxy: cannot form a valid URL from {url:?}\n"),
            ));
        };
        let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                return Err(text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "gnfc proxy: request bodies over {MAX_REQUEST_BODY} bytes are not proxied\n"
                    ),
                ))
            }
            Err(e) => {
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    format!("gnfc proxy: could not read the request body: {e}\n"),
                ))
            }
        };
        Ok(Self {
            method: parts.method,
            uri,
            url,
            host: target.host.clone(),
            https: target.https,
            headers: parts.headers,
            body,
            metrics,
        })
    }

    /// The request as it goes upstream; `unconditional` drops the client's conditional
    /// headers.
    pub(crate) fn outgoing(&self, unconditional: bool) -> Outgoing<'_> {
        Outgoing {
            method: &self.method,
            uri: &self.uri,
            host: &self.host,
            https: self.https,
            headers: &self.headers,
            body: &self.body,
            unconditional,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_spelled_one_way() {
        assert_eq!(
            Target::new(true, "GitHub.com", Some(443)).url("/a?b"),
            "https://github.com/a?b"
        );
        assert_eq!(
            Target::new(true, "h", Some(8443)).url("/"),
            "https://h:8443/"
        );
        assert_eq!(Target::new(false, "h", None).url("/x"), "http://h/x");
        assert_eq!(
            Target::new(true, "[::1]", Some(9)).url("/"),
            "https://[::1]:9/"
        );
    }
}
