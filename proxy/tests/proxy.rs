//! The proxy end to end: real TLS through the real proxy to a loopback origin with its own
//! CA, a real SQLite index and blob store. Every test starts its own origin and proxy.

// Test code: a failed unwrap is a failed test with its message, which is what we want.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{big_body, config, dirs, eventually, start, Origin, BIG_LEN, STALL};
use gnfc_proxy::{Mode, OFFLINE_MISS_STATUS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<(u16, String, Vec<u8>)> {
    let response = client.get(url).send().await?;
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("x-gnfc-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.bytes().await?.to_vec();
    Ok((status, cache, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_fetch_is_a_hit_and_counted() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    // HTTP/2 (chosen by ALPN) and HTTP/1.1 towards the proxy must both work.
    let h2 = proxy.client();
    let h1 = proxy.client_builder().http1_only().build().unwrap();
    let first = h2.get(origin.url("/hello")).send().await.unwrap();
    assert_eq!(
        first.version(),
        reqwest::Version::HTTP_2,
        "ALPN should pick h2"
    );
    assert_eq!(first.headers()["x-gnfc-cache"], "miss");
    assert_eq!(first.bytes().await.unwrap(), &b"hello world"[..]);
    let second = get(&h1, &origin.url("/hello")).await.unwrap();
    assert_eq!(second, (200, "hit".into(), b"hello world".to_vec()));
    assert_eq!(
        origin.count("/hello"),
        1,
        "the hit must not reach the origin"
    );

    // Loopback hit latency (debug build: indicative only, never asserted).
    let mut times = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let (status, cache, _) = get(&h1, &origin.url("/hello")).await.unwrap();
        times.push(t.elapsed());
        assert_eq!((status, cache.as_str()), (200, "hit"));
    }
    times.sort();
    eprintln!(
        "hit latency over 100 keep-alive HTTP/1.1 requests: p50 {:?}, p99 {:?}",
        times[50], times[98]
    );

    let stats = proxy.handle.stats().await.unwrap();
    let host = stats.host("localhost").unwrap();
    assert_eq!((stats.entries, host.entries, host.bytes), (1, 1, 11));
    assert_eq!((host.hits, host.misses), (101, 1));
    assert_eq!(proxy.metric("gnfc_proxy_cache_hits_total"), 101.0);
    assert_eq!(proxy.metric("gnfc_proxy_cache_misses_total"), 1.0);
    assert_eq!(proxy.metric("gnfc_proxy_requests_total"), 102.0);
    assert_eq!(proxy.metric("gnfc_proxy_bytes_fetched_total"), 11.0);

    // The proxy's own /metrics endpoint serves the same registry.
    let text = reqwest::get(format!("http://{}/metrics", proxy.addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("gnfc_proxy_request_duration_seconds_bucket"),
        "{text}"
    );

    // Counters survive a restart: read from the directory without a proxy.
    let cache_dir = proxy.cache_dir.clone();
    proxy.handle.shutdown().await;
    let stored = gnfc_proxy::read_stats(&cache_dir).await.unwrap();
    let host = stored.host("localhost").unwrap();
    assert_eq!((stored.entries, host.hits, host.misses), (1, 101, 1));
    assert_eq!(stored.blobs, 1);
    let missing = gnfc_proxy::read_stats(&dir.path().join("nowhere")).await;
    assert!(missing
        .unwrap_err()
        .to_string()
        .contains("record mode first"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_identity_are_distinct_entries() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    let client = proxy.client();
    let fetch = |encoding: Option<&'static str>| {
        let mut request = client.get(origin.url("/encoded"));
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        async move {
            let response = request.send().await.unwrap();
            let encoded = response.headers().get("content-encoding").is_some();
            (encoded, response.bytes().await.unwrap().to_vec())
        }
    };
    // Gzip first, as in seed 001's bug: the plain client must still get plain bytes.
    assert_eq!(
        fetch(Some("gzip")).await,
        (true, b"GZIPPED<bytes>".to_vec())
    );
    assert_eq!(fetch(None).await, (false, b"plain text body".to_vec()));
    assert_eq!(
        fetch(Some("identity")).await,
        (false, b"plain text body".to_vec())
    );
    assert_eq!(origin.count("/encoded"), 3);
    // And each variant is now a hit of its own.
    assert_eq!(
        fetch(Some("gzip")).await,
        (true, b"GZIPPED<bytes>".to_vec())
    );
    assert_eq!(fetch(None).await, (false, b"plain text body".to_vec()));
    assert_eq!(origin.count("/encoded"), 3);
    assert_eq!(proxy.handle.stats().await.unwrap().entries, 3);

    // Headers the response's Vary names are part of the key as well.
    for round in 0..2 {
        for agent in ["nix/2.8", "nix/2.34"] {
            let response = client
                .get(origin.url("/vary-agent"))
                .header("user-agent", agent)
                .send()
                .await
                .unwrap();
            let expected = if round == 0 { "miss" } else { "hit" };
            assert_eq!(response.headers()["x-gnfc-cache"], expected);
            assert_eq!(response.text().await.unwrap(), agent);
        }
    }
    assert_eq!(origin.count("/vary-agent"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_serves_recorded_answers_and_offline_misses_the_rest() {
    let origin = Origin::start().await;
    let dir = dirs();
    let record = start(config(&origin, dir.path(), Mode::Record)).await;
    get(&record.client(), &origin.url("/hello")).await.unwrap();
    record.handle.shutdown().await;

    let replay = start(config(&origin, dir.path(), Mode::Replay)).await;
    let client = replay.client();
    let hit = get(&client, &origin.url("/hello")).await.unwrap();
    assert_eq!(hit, (200, "hit".into(), b"hello world".to_vec()));
    let url = origin.url("/never-recorded?x=1");
    let (status, _, body) = get(&client, &url).await.unwrap();
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, OFFLINE_MISS_STATUS);
    assert!(body.contains(&format!("GET {url}")), "{body}");
    assert!(body.contains("record mode"), "{body}");
    assert_eq!(origin.count("/hello"), 1);
    assert_eq!(
        origin.count("/never-recorded?x=1"),
        0,
        "replay never goes upstream"
    );
    assert_eq!(replay.metric("gnfc_proxy_cache_misses_total"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_upstream_bodies_are_errors_and_never_cached() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    for client in [
        proxy.client(),
        proxy.client_builder().http1_only().build().unwrap(),
    ] {
        for path in ["/short", "/reset"] {
            let result = get(&client, &origin.url(path)).await;
            assert!(
                result.is_err(),
                "{path}: a cut body must fail, got {result:?}"
            );
        }
    }
    assert_eq!(origin.count("/short"), 2, "not cached: fetched again");
    assert_eq!(origin.count("/reset"), 2, "not cached: fetched again");
    assert!(eventually(Duration::from_secs(3), || proxy.tmp_files().is_empty()).await);
    assert!(proxy.blobs().is_empty());
    assert_eq!(proxy.handle.stats().await.unwrap().entries, 0);
    assert!(proxy.metric("gnfc_proxy_upstream_errors_total") >= 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_plain_forbidden_answers_are_passed_on_uncached() {
    let origin = Origin::start().await;
    let dir = dirs();
    let mut cfg = config(&origin, dir.path(), Mode::Record);
    // Waiting would take at least this long; the far reset is over it, so nothing waits.
    cfg.rate_limit.max_wait = STALL;
    let proxy = start(cfg).await;
    let client = proxy.client();
    for _ in 0..2 {
        let (status, cache, body) = get(&client, &origin.url("/error500")).await.unwrap();
        assert_eq!(
            (status, cache.as_str(), body.as_slice()),
            (500, "pass", &b"boom"[..])
        );
        // A rate limit whose reset is far away is not waited for: passed on at once.
        let t = Instant::now();
        let (status, _, _) = get(&client, &origin.url("/forbidden-limit")).await.unwrap();
        assert_eq!(status, 403);
        assert!(t.elapsed() < STALL / 2, "{:?}", t.elapsed());
    }
    assert_eq!(origin.count("/error500"), 2);
    assert_eq!(origin.count("/forbidden-limit"), 2);
    assert_eq!(proxy.handle.stats().await.unwrap().entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_are_retried_and_not_cached() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    let client = proxy.client();
    let first = get(&client, &origin.url("/ratelimit")).await.unwrap();
    assert_eq!(first, (200, "miss".into(), b"finally".to_vec()));
    assert_eq!(origin.count("/ratelimit"), 2, "429, then the retry");
    let second = get(&client, &origin.url("/ratelimit")).await.unwrap();
    assert_eq!(second.1, "hit");
    assert_eq!(origin.count("/ratelimit"), 2);
}

/// An origin no connection reaches is as offline as no upstream at all: the offline-miss
/// status naming the URL, not a 502 the classifier would take for the origin's own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_origins_are_offline_misses() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    // A port nothing listens on: bind one, then free it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://localhost:{port}/gone.tar.gz");
    let (status, _, body) = get(&proxy.client(), &url).await.unwrap();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, OFFLINE_MISS_STATUS, "{body}");
    assert!(
        body.contains(&url) && body.contains("cannot reach"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_upstreams_time_out() {
    let origin = Origin::start().await;
    let dir = dirs();
    let mut cfg = config(&origin, dir.path(), Mode::Record);
    cfg.upstream_timeout = Duration::from_secs(1);
    let proxy = start(cfg).await;
    let client = proxy.client();
    let t = Instant::now();
    let (status, _, body) = get(&client, &origin.url("/stall-headers")).await.unwrap();
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("no response within 1 s"));
    assert!(t.elapsed() < STALL / 2, "{:?}", t.elapsed());
    let t = Instant::now();
    assert!(get(&client, &origin.url("/stall-body")).await.is_err());
    assert!(t.elapsed() < STALL / 2, "{:?}", t.elapsed());
    assert!(eventually(Duration::from_secs(3), || proxy.tmp_files().is_empty()).await);
    assert!(proxy.blobs().is_empty());
    assert_eq!(proxy.handle.stats().await.unwrap().entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_blobs_are_detected_dropped_and_refetched() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    let client = proxy.client();

    // Small body: verified before sending, so the same request transparently refetches.
    get(&client, &origin.url("/hello")).await.unwrap();
    let blob = proxy.blobs().pop().unwrap();
    std::fs::write(&blob, b"HELLO WORLD").unwrap();
    let again = get(&client, &origin.url("/hello")).await.unwrap();
    assert_eq!(again, (200, "miss".into(), b"hello world".to_vec()));
    assert_eq!(origin.count("/hello"), 2);
    assert_eq!(std::fs::read(&blob).unwrap(), b"hello world", "stored anew");

    // Large body: streamed while verified; the corrupt copy fails the transfer (the client
    // never gets wrong bytes as a complete body), then the next request refetches.
    let first = get(&client, &origin.url("/big")).await.unwrap();
    assert_eq!(first.2.len(), BIG_LEN);
    let blob = proxy
        .blobs()
        .into_iter()
        .find(|p| std::fs::metadata(p).unwrap().len() == BIG_LEN as u64)
        .unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[BIG_LEN / 2] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    assert!(get(&client, &origin.url("/big")).await.is_err());
    assert_eq!(origin.count("/big"), 1);
    let refetched = get(&client, &origin.url("/big")).await.unwrap();
    assert_eq!((refetched.0, refetched.1.as_str()), (200, "miss"));
    assert!(refetched.2 == big_body());
    assert_eq!(origin.count("/big"), 2);

    // A truncated blob is caught before the response starts: transparent refetch.
    std::fs::write(&blob, &bytes[..1000]).unwrap();
    let third = get(&client, &origin.url("/big")).await.unwrap();
    assert_eq!(third.1, "miss");
    assert!(third.2 == big_body());
    assert_eq!(origin.count("/big"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_misses_stream_while_being_stored() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    let client = proxy.client();
    let mut response = client
        .get(origin.url("/stream-gated"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.content_length(), Some(BIG_LEN as u64));
    let mut received = Vec::new();
    // The origin holds back its second half; the client must get most of the first.
    while received.len() < BIG_LEN / 4 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .expect("the first half must arrive while the origin still holds the rest")
            .unwrap()
            .unwrap();
        received.extend_from_slice(&chunk);
    }
    assert!(
        proxy.tmp_files().len() == 1,
        "being written to a temporary file"
    );
    origin.open_gate();
    while let Some(chunk) = response.chunk().await.unwrap() {
        received.extend_from_slice(&chunk);
    }
    assert!(received == big_body());
    assert!(proxy.tmp_files().is_empty());

    // Hits of a body too large to verify before sending are streamed from the blob.
    let t = Instant::now();
    for _ in 0..10 {
        let (status, cache, body) = get(&client, &origin.url("/stream-gated")).await.unwrap();
        assert_eq!((status, cache.as_str(), body.len()), (200, "hit", BIG_LEN));
    }
    let per_second = 10.0 * BIG_LEN as f64 / t.elapsed().as_secs_f64() / (1024.0 * 1024.0);
    eprintln!("3 MiB hits through TLS on loopback: {per_second:.0} MiB/s");
    assert_eq!(origin.count("/stream-gated"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_misses_are_fetched_once() {
    const CLIENTS: usize = 1000;
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    let url = origin.url("/gated");
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        // A client each: separate connections, as separate Nix processes would have.
        let client = proxy.client();
        let url = url.clone();
        tasks.push(tokio::spawn(async move { get(&client, &url).await }));
    }
    // The origin answers only once all requests are inside the proxy, so they all overlap.
    // 1,000 TLS handshakes take seconds on a loaded 2-core machine: a wide bound.
    let all_in = eventually(Duration::from_secs(120), || {
        proxy.metric("gnfc_proxy_requests_total") >= CLIENTS as f64
    })
    .await;
    origin.open_gate();
    assert!(
        all_in,
        "only {} requests arrived",
        proxy.metric("gnfc_proxy_requests_total")
    );
    let expected = "gated body ".repeat(1000).into_bytes();
    for task in tasks {
        let (status, _, body) = task.await.unwrap().unwrap();
        assert_eq!(status, 200);
        assert!(body == expected);
    }
    assert_eq!(
        origin.count("/gated"),
        1,
        "one upstream fetch for {CLIENTS} clients"
    );
    let stats = proxy.handle.stats().await.unwrap();
    let host = stats.host("localhost").unwrap();
    assert_eq!((host.hits, host.misses), (CLIENTS as u64 - 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_request_gets_400_and_the_proxy_lives_on() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;

    let mut tcp = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    tcp.write_all(b"\x16\x03\x01\x00garbage \x00\xff\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("connection closed")
        .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Plain text inside a CONNECT tunnel where TLS was expected: closed, nothing else.
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    tcp.write_all(b"CONNECT localhost:443 HTTP/1.1\r\nhost: localhost:443\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "tunnel with garbage must be closed");

    // An origin-form request is not proxied, and says why.
    let text = reqwest::get(format!("http://{}/", proxy.addr()))
        .await
        .unwrap();
    assert_eq!(text.status(), 400);
    assert!(text.text().await.unwrap().contains("forward proxy"));

    let ok = get(&proxy.client(), &origin.url("/hello")).await.unwrap();
    assert_eq!(ok.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_cached() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    let manual = proxy
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for expected in ["miss", "hit"] {
        let response = manual.get(origin.url("/redirect")).send().await.unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(response.headers()["x-gnfc-cache"], expected);
        assert_eq!(
            response.headers()["location"],
            origin.url("/target").as_str()
        );
    }
    // Followed by the client, both hops come from the cache the second time.
    let following = proxy.client();
    for _ in 0..2 {
        let (status, _, body) = get(&following, &origin.url("/redirect")).await.unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"redirect target"[..]));
    }
    assert_eq!((origin.count("/redirect"), origin.count("/target")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_reach_the_origin_but_never_the_client() {
    const TOKEN: &str = "token s3cr3t-t0ken-value";
    let origin = Origin::start().await;
    let dir = dirs();
    let mut cfg = config(&origin, dir.path(), Mode::Record);
    cfg.tokens.insert("localhost".into(), TOKEN.into());
    let proxy = start(cfg).await;
    let client = proxy.client();
    for expected in ["miss", "hit"] {
        let response = client.get(origin.url("/token")).send().await.unwrap();
        assert_eq!(response.headers()["x-gnfc-cache"], expected);
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(!value.contains("s3cr3t"), "{name} leaks the token");
        }
        assert_eq!(response.text().await.unwrap(), "token checked");
    }
    assert_eq!(origin.authorization_seen(), vec![TOKEN.to_owned()]);
    // Nothing on disk holds it either.
    for file in common::files(&proxy.cache_dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"s3cr3t"),
            "{}",
            file.display()
        );
    }
    // Plain http:// never carries it (it would cross the network in clear).
    get(&client, &origin.http_url("/plain-token-check"))
        .await
        .unwrap();
    assert_eq!(origin.authorization_seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_head_and_passthrough() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    let client = proxy.client();
    for expected in ["miss", "hit"] {
        let (status, cache, body) = get(&client, &origin.http_url("/plain")).await.unwrap();
        assert_eq!(
            (status, cache.as_str(), body.as_slice()),
            (200, expected, &b"path /plain"[..])
        );
        let head = client.head(origin.url("/hello")).send().await.unwrap();
        assert_eq!(head.headers()["x-gnfc-cache"], expected);
        assert_eq!(head.headers()["content-length"], "11");
    }
    assert_eq!(origin.count("/plain"), 1);
    assert_eq!(origin.count("/hello"), 1);
    proxy.handle.shutdown().await;

    let pass = start(config(&origin, dir.path(), Mode::Passthrough)).await;
    for _ in 0..2 {
        let (status, cache, _) = get(&pass.client(), &origin.url("/passed")).await.unwrap();
        assert_eq!((status, cache.as_str()), (200, "pass"));
    }
    assert_eq!(origin.count("/passed"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_key_is_private_and_the_ca_is_reused() {
    let origin = Origin::start().await;
    let dir = dirs();
    let proxy = start(config(&origin, dir.path(), Mode::Record)).await;
    let key = proxy.ca_dir.join("ca.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pem = std::fs::read(proxy.handle.ca_cert_path()).unwrap();
    proxy.handle.shutdown().await;
    let again = start(config(&origin, dir.path(), Mode::Record)).await;
    assert_eq!(std::fs::read(again.handle.ca_cert_path()).unwrap(), pem);
    // Clients holding the old ca.pem still trust the restarted proxy.
    assert_eq!(
        get(&again.client(), &origin.url("/hello")).await.unwrap().0,
        200
    );
}
