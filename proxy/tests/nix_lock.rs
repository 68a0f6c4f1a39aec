//! With the host's real Nix: a flake with a `github:` input locks and evaluates through the
//! proxy and the mirror forge, and locks again to the same lock in replay mode with the
//! mirror switched off (everything it needs comes from the recorded cache).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gnfc_proxy::{init_mirror, MirrorConfig, Mode, ProxyConfig, UpstreamKind};

const NIX: &str = "/usr/bin/nix";

fn config(dir: &Path, mode: Mode, upstreams: Vec<UpstreamKind>) -> ProxyConfig {
    let mut config = ProxyConfig::new(dir.join("ca"), dir.join("cache"));
    config.mode = mode;
    config.upstreams = upstreams;
    config.upstream_timeout = Duration::from_secs(20);
    config
}

/// Runs nix with a private home, cache and configuration, through the proxy.
fn nix(proxy: &common::TestProxy, home: &Path, args: &[&str]) -> (bool, String, String) {
    let conf = home.join("etc");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(home.join("registry.json"), r#"{"flakes":[],"version":2}"#).unwrap();
    std::fs::write(
        conf.join("nix.conf"),
        format!(
            "experimental-features = nix-command flakes\nflake-registry = {}\nsubstituters =\n",
            home.join("registry.json").display()
        ),
    )
    .unwrap();
    let url = format!("http://{}", proxy.addr());
    let out = Command::new(NIX)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("NIX_CONF_DIR", &conf)
        .env("http_proxy", &url)
        .env("https_proxy", &url)
        .env("NIX_SSL_CERT_FILE", proxy.handle.ca_cert_path())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_input_locks_through_the_mirror_and_again_from_replay() {
    let work = tempfile::tempdir().unwrap();
    let sources = work.path().join("sources/octo/hello");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::write(
        sources.join("flake.nix"),
        "{ outputs = { self }: { text = \"hello from the mirror\"; }; }\n",
    )
    .unwrap();
    let mirror = work.path().join("mirror");
    let rev = init_mirror(&work.path().join("sources"), &mirror)
        .await
        .unwrap()[0]
        .rev
        .clone();
    let flake = work.path().join("consumer");
    std::fs::create_dir_all(&flake).unwrap();
    std::fs::write(
        flake.join("flake.nix"),
        "{ inputs.hello.url = \"github:octo/hello\";\n  outputs = { self, hello }: { text = hello.text; }; }\n",
    )
    .unwrap();
    let flake_ref = flake.to_str().unwrap();
    let proxy_dir = work.path().join("proxy");

    // 1. Record: the mirror answers, the cache keeps what Nix fetched.
    let record = common::start(config(
        &proxy_dir,
        Mode::Record,
        vec![UpstreamKind::Mirror(MirrorConfig::new(&mirror))],
    ))
    .await;
    let home = work.path().join("home-record");
    let (ok, _, stderr) =
        tokio::task::block_in_place(|| nix(&record, &home, &["flake", "lock", flake_ref]));
    assert!(ok, "nix flake lock through the mirror failed:\n{stderr}");
    let first = std::fs::read_to_string(flake.join("flake.lock")).unwrap();
    let lock: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(lock["nodes"]["hello"]["locked"]["rev"], rev.as_str());
    assert_eq!(lock["nodes"]["hello"]["locked"]["type"], "github");
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| {
        nix(
            &record,
            &home,
            &["eval", "--raw", &format!("{flake_ref}#text")],
        )
    });
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "hello from the mirror");
    let stats = record.handle.stats().await.unwrap();
    assert!(
        stats.host("api.github.com").is_some_and(|h| h.entries >= 2),
        "{stats:?}"
    );
    record.handle.shutdown().await;

    // 2. Replay with no upstream at all: a fresh Nix cache must fetch everything again,
    // and only the proxy's recorded answers can give it.
    std::fs::remove_file(flake.join("flake.lock")).unwrap();
    let replay = common::start(config(&proxy_dir, Mode::Replay, Vec::new())).await;
    let home = work.path().join("home-replay");
    let (ok, _, stderr) =
        tokio::task::block_in_place(|| nix(&replay, &home, &["flake", "lock", flake_ref]));
    assert!(ok, "nix flake lock in replay mode failed:\n{stderr}");
    let second = std::fs::read_to_string(flake.join("flake.lock")).unwrap();
    assert_eq!(first, second, "replay produced a different lock");
    let stats = replay.handle.stats().await.unwrap();
    let github = stats.host("api.github.com").unwrap();
    assert!(github.hits >= 2, "{stats:?}");
    replay.handle.shutdown().await;

    // 3. Replay of something never recorded: Nix fails, naming the URL the proxy refused.
    std::fs::write(
        flake.join("flake.nix"),
        "{ inputs.other.url = \"github:octo/other\";\n  outputs = { self, other }: { }; }\n",
    )
    .unwrap();
    std::fs::remove_file(flake.join("flake.lock")).unwrap();
    let replay = common::start(config(&proxy_dir, Mode::Replay, Vec::new())).await;
    let home = work.path().join("home-miss");
    let (ok, _, stderr) =
        tokio::task::block_in_place(|| nix(&replay, &home, &["flake", "lock", flake_ref]));
    assert!(!ok);
    assert!(
        stderr.contains("api.github.com/repos/octo/other"),
        "{stderr}"
    );
    replay.handle.shutdown().await;
}
