//! A mirror forge on a temporary directory, made from source trees with `init_mirror` (so
//! revisions are deterministic), which tests can advance as a pushed branch would, and
//! proxies whose only upstream it is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gnfc_proxy::{init_mirror, MirrorConfig, Mode, ProxyConfig, UpstreamKind};

use super::TestProxy;

/// Writes `owner/repo` sources: a flake and a data file.
pub fn write_sources(root: &Path, owner: &str, repo: &str, text: &str) {
    let dir = root.join(owner).join(repo);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("flake.nix"),
        "{ outputs = { self }: { text = builtins.readFile ./sub/data.txt; }; }\n",
    )
    .unwrap();
    std::fs::write(dir.join("sub/data.txt"), text).unwrap();
}

/// `octo/hello` and `~hut/tool`, and a flake registry.
pub struct Forge {
    dir: tempfile::TempDir,
    pub mirror: PathBuf,
    /// The head of `octo/hello`'s `main`.
    pub rev: String,
}

pub async fn forge() -> Forge {
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources");
    write_sources(&sources, "octo", "hello", "hello from the mirror\n");
    write_sources(&sources, "~hut", "tool", "sourcehut\n");
    let mirror = dir.path().join("mirror");
    let repos = init_mirror(&sources, &mirror).await.unwrap();
    assert_eq!(repos.len(), 2);
    std::fs::write(
        mirror.join("flake-registry.json"),
        r#"{"flakes":[],"version":2}"#,
    )
    .unwrap();
    let rev = repos
        .iter()
        .find(|r| r.name == "octo/hello")
        .unwrap()
        .rev
        .clone();
    Forge { dir, mirror, rev }
}

impl Forge {
    /// Moves `octo/hello`'s `main` to a new commit holding `text` (the old commit stays
    /// fetchable by its hash, as on a forge) and returns it.
    pub async fn advance(&mut self, text: &str) -> String {
        let sources = self.dir.path().join("sources");
        write_sources(&sources, "octo", "hello", text);
        let repos = init_mirror(&sources, &self.mirror).await.unwrap();
        let rev = repos
            .iter()
            .find(|r| r.name == "octo/hello")
            .unwrap()
            .rev
            .clone();
        assert_ne!(rev, self.rev, "the sources changed, so must the revision");
        self.rev.clone_from(&rev);
        rev
    }
}

/// A proxy with its CA and cache under `cache` and the mirror as its only upstream (none
/// when `mirror` is `None`).
pub fn mirror_config(cache: &Path, mirror: Option<&Path>, mode: Mode) -> ProxyConfig {
    let mut config = ProxyConfig::new(cache.join("ca"), cache.join("cache"));
    config.mode = mode;
    config.upstreams = mirror
        .map(|m| vec![UpstreamKind::Mirror(MirrorConfig::new(m))])
        .unwrap_or_default();
    config.upstream_timeout = Duration::from_secs(10);
    config
}

/// A response through a proxy: status, what the cache did (`x-gnfc-cache`) and body.
pub struct Answer {
    pub status: u16,
    pub cache: String,
    pub body: Vec<u8>,
}

pub async fn answer(proxy: &TestProxy, url: &str) -> Answer {
    answer_with(&proxy.client(), url).await
}

/// [`answer`] with a given client (one per task, for concurrent requests).
pub async fn answer_with(client: &reqwest::Client, url: &str) -> Answer {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("x-gnfc-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap().to_vec();
    Answer {
        status,
        cache,
        body,
    }
}

pub async fn fetch(proxy: &TestProxy, url: &str) -> (u16, Vec<u8>) {
    let got = answer(proxy, url).await;
    (got.status, got.body)
}

pub fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}
