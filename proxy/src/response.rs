//! Building the proxy's responses to its clients: the header saying what the cache did,
//! the proxy's own plain-text answers, and which responses carry a body at all.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::body::ProxyBody;

/// Response header telling what the cache did: hit, miss, pass (not cacheable / no
/// cache), error (the proxy's own answer).
const CACHE_HEADER: &str = "x-gnfc-cache";

/// Whether a response to `method` with `status` carries a body.
pub(crate) fn has_body(method: &Method, status: StatusCode) -> bool {
    *method != Method::HEAD
        && !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
}

/// A response with the cache's `label` (hit, miss, pass, error) in [`CACHE_HEADER`].
pub(crate) fn build(
    status: StatusCode,
    headers: HeaderMap,
    body: ProxyBody,
    label: &'static str,
) -> Response<ProxyBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
        .headers_mut()
        .insert(CACHE_HEADER, HeaderValue::from_static(label));
    response
}

/// The proxy's own answers (errors, replay misses): plain text saying what happened.
pub(crate) fn text(status: StatusCode, message: String) -> Response<ProxyBody> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(message.len()));
    build(status, headers, ProxyBody::full(message), "error")
}
