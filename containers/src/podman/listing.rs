//! Listing gnfc's containers with a plain request to the API socket.
//!
//! bollard reads a container's `State` into a closed enum of Docker's names, and podman 4's
//! compatible API also answers `stopped` (a container whose process ended and was cleaned
//! up): one such container anywhere, a probe of a gnfc starting beside this one say, and the
//! whole listing fails to parse. Only the id and the labels are needed here, so this reads
//! those and nothing else.

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;

use super::PodmanError;

/// One container as the listing gives it.
#[derive(Debug, Deserialize)]
pub(super) struct Listed {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Labels", default)]
    pub labels: HashMap<String, String>,
}

/// Every container, running or not, that carries `label`.
pub(super) async fn labelled(socket: &Path, label: &str) -> Result<Vec<Listed>, PodmanError> {
    let filters = serde_json::json!({ "label": [label] }).to_string();
    // 1.41 is the Docker API version podman 4 implements; later podman answers it too.
    let uri = format!(
        "/v1.41/containers/json?all=true&filters={}",
        percent_encode(&filters)
    );
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        PodmanError::Listing(format!("{what} {}: {e}", socket.display()))
    };
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| failed("cannot connect to", &e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed("no HTTP from", &e))?;
    tokio::spawn(connection);
    let request = hyper::Request::get(uri)
        .header(hyper::header::HOST, "podman")
        .body(Empty::<Bytes>::new())
        .map_err(|e| failed("cannot ask", &e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| failed("no answer from", &e))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| failed("truncated answer from", &e))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(failed(&format!("HTTP {status} from"), &text.trim()));
    }
    serde_json::from_slice(&body).map_err(|e| failed("unreadable container list from", &e))
}

/// Everything but RFC 3986's unreserved characters is encoded in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn filters_are_encoded_for_a_query() {
        assert_eq!(
            percent_encode(r#"{"label":["io.gnfc.owner"]}"#),
            "%7B%22label%22%3A%5B%22io.gnfc.owner%22%5D%7D"
        );
    }

    #[test]
    fn a_stopped_container_reads_like_any_other() {
        let listed: Vec<Listed> = serde_json::from_str(
            r#"[{"Id":"abc","State":"stopped","Labels":{"io.gnfc.owner":"12"}},
                {"Id":"def","State":"running"}]"#,
        )
        .unwrap();
        assert_eq!(listed[0].id, "abc");
        assert_eq!(listed[0].labels["io.gnfc.owner"], "12");
        assert!(listed[1].labels.is_empty());
    }
}
