//! Cache keys.
//!
//! A response is stored under method + full URL + SHA-256 of the request body + the values
//! of the request headers the response's `Vary` names, plus `Accept-Encoding` and `Range`
//! always. `Accept-Encoding` is always part of the key because origins often vary on it
//! without saying so: seed 001's proxy keyed on (method, url, body) only and served a gzip
//! body to a client that never asked for one. `Range` is always part of it because a 206
//! partial answer must never be served to a request for the whole body.
//!
//! Lookup happens before the response (and so its `Vary`) is known, so keys come in two
//! steps: the *primary* key (method, URL, body) finds the `Vary` names the last stored
//! response for it had, and those decide the *full* key.

use http::HeaderMap;
use sha2::{Digest, Sha256};

/// Request headers that are part of every key, whatever the response's `Vary` says.
const ALWAYS_KEYED: [&str; 2] = ["accept-encoding", "range"];

/// Hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The key of everything about a request except its headers.
pub(crate) fn primary(method: &str, url: &str, body_sha256: &str) -> String {
    let mut hasher = Sha256::new();
    // Fields are separated by a newline, which none of them can contain (methods and URLs
    // are validated by the HTTP parser), so distinct requests never hash the same input.
    for field in [method, url, body_sha256] {
        hasher.update(field.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// The full key: the primary key plus the values of the keyed request headers.
/// `vary` holds lowercase header names from the response's `Vary`.
pub(crate) fn full(primary: &str, vary: &[String], request: &HeaderMap) -> String {
    let mut names: Vec<&str> = ALWAYS_KEYED.to_vec();
    names.extend(vary.iter().map(String::as_str));
    names.sort_unstable();
    names.dedup();
    let mut hasher = Sha256::new();
    hasher.update(primary.as_bytes());
    hasher.update(b"\n");
    for name in names {
        hasher.update(name.as_bytes());
        hasher.update(b":");
        // A header sent several times counts as its values joined in order; an absent
        // header is distinct from an empty one (the 0/1 marker).
        let mut values = request.get_all(name).iter().peekable();
        hasher.update(if values.peek().is_some() { b"1" } else { b"0" });
        for value in values {
            hasher.update(value.as_bytes());
            hasher.update(b",");
        }
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// The lowercase, sorted header names a response's `Vary` lists, or `None` for
/// `Vary: *` (the response depends on things no key can capture: never cache it).
pub(crate) fn vary_names(response: &HeaderMap) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for value in response.get_all(http::header::VARY) {
        // A Vary that is not visible ASCII cannot name a header; treat it like `*`.
        let text = value.to_str().ok()?;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                return None;
            }
            names.push(name.to_ascii_lowercase());
        }
    }
    names.sort();
    names.dedup();
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn accept_encoding_always_separates_entries() {
        let p = primary("GET", "https://h/x", &sha256_hex(b""));
        let gzip = full(&p, &[], &headers(&[("accept-encoding", "gzip")]));
        let none = full(&p, &[], &headers(&[]));
        let empty = full(&p, &[], &headers(&[("accept-encoding", "")]));
        assert_ne!(gzip, none);
        assert_ne!(none, empty);
        // Headers nobody varies on do not matter.
        assert_eq!(none, full(&p, &[], &headers(&[("user-agent", "curl")])));
    }

    #[test]
    fn vary_names_select_more_headers() {
        let p = primary("GET", "https://h/x", &sha256_hex(b""));
        let vary = vec!["user-agent".to_owned()];
        let curl = full(&p, &vary, &headers(&[("user-agent", "curl")]));
        let nix = full(&p, &vary, &headers(&[("user-agent", "nix")]));
        assert_ne!(curl, nix);
    }

    #[test]
    fn method_url_and_body_are_all_in_the_primary_key() {
        let empty = sha256_hex(b"");
        let base = primary("GET", "https://h/x", &empty);
        assert_ne!(base, primary("HEAD", "https://h/x", &empty));
        assert_ne!(base, primary("GET", "https://h/y", &empty));
        assert_ne!(base, primary("GET", "https://h/x", &sha256_hex(b"q")));
    }

    #[test]
    fn vary_parsing() {
        let map = headers(&[("vary", "Accept-Encoding, User-Agent"), ("vary", "origin")]);
        assert_eq!(
            vary_names(&map),
            Some(vec![
                "accept-encoding".into(),
                "origin".into(),
                "user-agent".into()
            ])
        );
        assert_eq!(vary_names(&headers(&[("vary", "*")])), None);
        assert_eq!(vary_names(&headers(&[])), Some(vec![]));
    }
}
