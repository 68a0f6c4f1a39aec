//! The mirror forge through the proxy: the endpoints Nix uses, deterministic revisions and
//! tarballs, hosts and repositories the mirror does not have, the unix socket listener,
//! and moving a cache with export/import.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use common::forge::{fetch, forge, json, mirror_config, write_sources};
use common::{dirs, start};
use gnfc_proxy::{init_mirror, MirrorConfig, Mode, OFFLINE_MISS_STATUS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Names of the entries of a .tar.gz, as GNU tar lists them.
fn tar_names(tarball: &[u8]) -> Vec<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("tar")
        .args(["-tzf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(tarball).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not a tar.gz");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forge_endpoints_nix_uses_answer_from_the_mirror() {
    let forge = forge().await;
    // The same sources give the same revision, run after run.
    let again = tempfile::tempdir().unwrap();
    write_sources(again.path(), "octo", "hello", "hello from the mirror\n");
    let other = init_mirror(again.path(), &again.path().join("m"))
        .await
        .unwrap();
    assert_eq!(other[0].rev, forge.rev);

    let dir = dirs();
    let proxy = start(mirror_config(dir.path(), Some(&forge.mirror), Mode::Record)).await;
    let rev = &forge.rev;

    // GitHub: the commit JSON with sha and commit.tree.sha, then both tarball URLs.
    let (status, body) = fetch(
        &proxy,
        "https://api.github.com/repos/octo/hello/commits/HEAD",
    )
    .await;
    assert_eq!(status, 200);
    let commit = json(&body);
    assert_eq!(commit["sha"], rev.as_str());
    assert_eq!(commit["commit"]["tree"]["sha"].as_str().unwrap().len(), 40);
    assert_eq!(
        commit["commit"]["committer"]["date"],
        "2024-01-01T00:00:00Z"
    );
    let (status, api_tarball) = fetch(
        &proxy,
        &format!("https://api.github.com/repos/octo/hello/tarball/{rev}"),
    )
    .await;
    assert_eq!(status, 200);
    let names = tar_names(&api_tarball);
    let top = format!("octo-hello-{}/", &rev[..7]);
    assert!(names.contains(&format!("{top}sub/data.txt")), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with(&top)), "{names:?}");
    let (status, archive) = fetch(
        &proxy,
        &format!("https://github.com/octo/hello/archive/{rev}.tar.gz"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(tar_names(&archive).contains(&format!("hello-{rev}/flake.nix")));
    // By branch name too (tarball+https: inputs use such URLs).
    let (_, by_branch) = fetch(&proxy, "https://github.com/octo/hello/archive/main.tar.gz").await;
    assert!(tar_names(&by_branch).contains(&format!("hello-{rev}/flake.nix")));
    let (status, unknown) = fetch(
        &proxy,
        "https://api.github.com/repos/octo/hello/commits/no-such-branch",
    )
    .await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&unknown));

    // GitLab.
    let (status, body) = fetch(
        &proxy,
        "https://gitlab.com/api/v4/projects/octo%2Fhello/repository/commits?ref_name=main",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)[0]["id"], rev.as_str());
    let (status, gitlab_tarball) = fetch(
        &proxy,
        &format!(
            "https://gitlab.com/api/v4/projects/octo%2Fhello/repository/archive.tar.gz?sha={rev}"
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(tar_names(&gitlab_tarball).contains(&format!("hello-{rev}-{rev}/sub/data.txt")));

    // SourceHut.
    let (status, head) = fetch(&proxy, "https://git.sr.ht/~hut/tool/HEAD").await;
    assert_eq!(
        (status, head.as_slice()),
        (200, &b"ref: refs/heads/main\n"[..])
    );
    let (status, refs) = fetch(&proxy, "https://git.sr.ht/~hut/tool/info/refs").await;
    assert_eq!(status, 200);
    let refs = String::from_utf8(refs).unwrap();
    let (hut_rev, name) = refs.trim_end().split_once('\t').unwrap();
    assert_eq!(name, "refs/heads/main");
    let (status, hut_tarball) = fetch(
        &proxy,
        &format!("https://git.sr.ht/~hut/tool/archive/{hut_rev}.tar.gz"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(tar_names(&hut_tarball).contains(&format!("tool-{hut_rev}/sub/data.txt")));

    // The flake registry.
    let (status, registry) = fetch(&proxy, "https://channels.nixos.org/flake-registry.json").await;
    assert_eq!(
        (status, json(&registry)["version"].as_u64()),
        (200, Some(2))
    );

    // Tarballs are reproducible: a fresh proxy (empty cache) serves the same bytes.
    let dir2 = dirs();
    let fresh = start(mirror_config(
        dir2.path(),
        Some(&forge.mirror),
        Mode::Passthrough,
    ))
    .await;
    let (_, again) = fetch(
        &fresh,
        &format!("https://api.github.com/repos/octo/hello/tarball/{rev}"),
    )
    .await;
    assert!(
        again == api_tarball,
        "tarball bytes differ between two generations"
    );

    // What the mirror does not have, a repository or a host, is the offline miss: not the
    // forge's 404, which would say the repository does not exist.
    let (status, _) = fetch(
        &proxy,
        "https://api.github.com/repos/octo/missing/commits/HEAD",
    )
    .await;
    assert_eq!(status, OFFLINE_MISS_STATUS);
    let (status, body) = fetch(&proxy, "https://example.org/file.tar.gz").await;
    assert_eq!(status, OFFLINE_MISS_STATUS);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("example.org") && body.contains("mirror"),
        "{body}"
    );
    proxy.handle.shutdown().await;
    fresh.handle.shutdown().await;
}

/// Sends one plain-HTTP proxy request over the unix socket and returns the status line.
async fn status_over_unix(socket: &Path, url: &str) -> String {
    let mut stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let host = url.split('/').nth(2).unwrap();
    stream
        .write_all(
            format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_can_use_the_unix_socket_and_a_stale_socket_is_replaced() {
    let forge = forge().await;
    let dir = dirs();
    let socket = dir.path().join("run/proxy.sock");
    let mut config = mirror_config(dir.path(), Some(&forge.mirror), Mode::Record);
    config.unix_socket = Some(socket.clone());
    let proxy = start(config.clone()).await;
    assert_eq!(proxy.handle.unix_socket(), Some(socket.as_path()));
    let line = status_over_unix(&socket, "http://github.com/octo/hello/archive/main.tar.gz").await;
    assert!(line.starts_with("HTTP/1.1 302"), "{line}");
    // A proxy killed without shutdown leaves its socket file; the next one takes over.
    drop(proxy);
    assert!(socket.exists());
    let proxy = start(config.clone()).await;
    let line = status_over_unix(&socket, "http://github.com/octo/hello/archive/main.tar.gz").await;
    assert!(line.starts_with("HTTP/1.1 302"), "{line}");
    proxy.handle.shutdown().await;
    assert!(!socket.exists(), "shutdown removes the socket");
    // A regular file in the way is never deleted.
    std::fs::write(&socket, "precious").unwrap();
    let registry = prometheus::Registry::new();
    let err = gnfc_proxy::Proxy::start(config, &registry)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "precious");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_cache_replays_elsewhere_and_damaged_exports_are_refused() {
    let forge = forge().await;
    let dir = dirs();
    let proxy = start(mirror_config(dir.path(), Some(&forge.mirror), Mode::Record)).await;
    let commits = "https://api.github.com/repos/octo/hello/commits/HEAD";
    let tarball = format!(
        "https://api.github.com/repos/octo/hello/tarball/{}",
        forge.rev
    );
    let (_, recorded) = fetch(&proxy, &tarball).await;
    fetch(&proxy, commits).await;
    let cache_dir = proxy.cache_dir.clone();
    proxy.handle.shutdown().await;

    let export = dir.path().join("cache.tar.zst");
    let summary = gnfc_proxy::export_cache(&cache_dir, &export).await.unwrap();
    assert_eq!(
        summary.entries, 3,
        "commit JSON, the redirect, the codeload tarball"
    );

    // Imported into an empty cache, a replay proxy with no upstream at all answers.
    let target = tempfile::tempdir().unwrap();
    let imported = gnfc_proxy::import_cache(&target.path().join("cache"), &export)
        .await
        .unwrap();
    assert_eq!(imported.entries, 3);
    let again = gnfc_proxy::import_cache(&target.path().join("cache"), &export)
        .await
        .unwrap();
    assert_eq!(
        again.entries, 0,
        "entries already present are not added twice"
    );
    let replay = start(mirror_config(target.path(), None, Mode::Replay)).await;
    let (status, body) = fetch(&replay, &tarball).await;
    assert_eq!(status, 200);
    assert!(body == recorded);
    replay.handle.shutdown().await;

    // A flipped byte inside a blob: refused, and the target cache is as it was.
    let bytes = std::fs::read(&export).unwrap();
    let mut tar = Vec::new();
    zstd::stream::read::Decoder::new(&bytes[..])
        .unwrap()
        .read_to_end(&mut tar)
        .unwrap();
    // Only the commit JSON body holds this text (the index stores headers, not bodies).
    let marker = tar.windows(7).position(|w| w == b"\"sha\":\"").unwrap();
    tar[marker + 1] ^= 0x20;
    let damaged = dir.path().join("damaged.tar.zst");
    std::fs::write(&damaged, zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let err = gnfc_proxy::import_cache(fresh.path(), &damaged)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nothing was imported"), "{err}");
    assert!(common::files(&fresh.path().join("blobs")).is_empty());
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "not an export").unwrap();
    let err = gnfc_proxy::import_cache(fresh.path(), &garbage)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a gnfc proxy export"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forge_serves_alone_over_http_and_https() {
    let forge = forge().await;
    let dir = dirs();
    let any = "127.0.0.1:0".parse().unwrap();
    let server = gnfc_proxy::serve_forge(
        &MirrorConfig::new(&forge.mirror),
        any,
        Some((any, &dir.path().join("ca"))),
    )
    .await
    .unwrap();
    // Plain HTTP: the Host header picks the forge.
    let plain = reqwest::Client::builder()
        .resolve("api.github.com", server.http_addr())
        .no_proxy()
        .build()
        .unwrap();
    let url = format!(
        "http://api.github.com:{}/repos/octo/hello/commits/main",
        server.http_addr().port()
    );
    let body = plain.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(json(&body)["sha"], forge.rev.as_str());
    let url = format!("http://example.org:{}/", server.http_addr().port());
    let plain = reqwest::Client::builder()
        .resolve("example.org", server.http_addr())
        .no_proxy()
        .build()
        .unwrap();
    assert_eq!(
        plain.get(&url).send().await.unwrap().status(),
        OFFLINE_MISS_STATUS
    );
    // HTTPS with a certificate for the name asked for, from the proxy CA.
    let https = server.https_addr().unwrap();
    let pem = std::fs::read(server.ca_cert_path().unwrap()).unwrap();
    let tls = reqwest::Client::builder()
        .resolve("gitlab.com", https)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .tls_built_in_root_certs(false)
        .no_proxy()
        .build()
        .unwrap();
    let url = format!(
        "https://gitlab.com:{}/api/v4/projects/octo%2Fhello/repository/commits?ref_name=HEAD",
        https.port()
    );
    let body = tls.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(json(&body)[0]["id"], forge.rev.as_str());
    server.shutdown().await;
}

/// Without a registry file the mirror answers the global registry's entries plus its own
/// repositories, and a `.branches` file beside a source adds branches at its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_is_generated_from_the_global_entries_and_held_repos() {
    let work = tempfile::tempdir().unwrap();
    let sources = work.path().join("sources");
    write_sources(&sources, "NixOS", "nixpkgs", "a nixpkgs stand-in\n");
    std::fs::write(
        sources.join("NixOS/nixpkgs.branches"),
        "# followed by the global registry\nnixpkgs-unstable\n",
    )
    .unwrap();
    write_sources(&sources, "octo", "hello", "hello\n");
    let mirror = work.path().join("mirror");
    let repos = init_mirror(&sources, &mirror).await.unwrap();
    let nixpkgs_rev = &repos
        .iter()
        .find(|r| r.name == "NixOS/nixpkgs")
        .unwrap()
        .rev;

    let dir = dirs();
    let proxy = start(mirror_config(dir.path(), Some(&mirror), Mode::Record)).await;
    let (status, body) = fetch(&proxy, "https://channels.nixos.org/flake-registry.json").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let registry = json(&body);
    let target = |id: &str| {
        registry["flakes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"] == serde_json::json!({"type": "indirect", "id": id}))
            .map(|e| e["to"].clone())
            .unwrap_or_else(|| panic!("no {id} in {registry}"))
    };
    assert_eq!(
        target("nixpkgs"),
        serde_json::json!({"type": "github", "owner": "NixOS", "repo": "nixpkgs", "ref": "nixpkgs-unstable"})
    );
    assert_eq!(target("flake-utils")["owner"], "numtide");
    assert_eq!(
        target("hello"),
        serde_json::json!({"type": "github", "owner": "octo", "repo": "hello"})
    );

    let (status, body) = fetch(
        &proxy,
        "https://api.github.com/repos/NixOS/nixpkgs/commits/nixpkgs-unstable",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["sha"], nixpkgs_rev.as_str());
}
