//! `gnfc fetch`'s engine against a loopback forge: tarballs from each forge, a git clone,
//! rate limits, cut downloads, hostile names and archives, and a proxy.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gnfc_data::Db;
use gnfc_scrapers::fetch::{FetchMethod, FetchOptions, FetchOutcome, Fetcher, ForgeUrls};
use gnfc_scrapers::fixtures::{forge_bases, FixtureServer, ForgeReplay, ForgeRepo, Reply};
use gnfc_scrapers::{Forge, Found, HttpOptions, Silent, SourceStore};

struct Env {
    /// Keeps the database (and `dir`) alive for the test's life.
    _t: common::TestDb,
    db: Db,
    dir: std::path::PathBuf,
}

impl Env {
    async fn new() -> Env {
        let t = common::TestDb::new().await;
        Env {
            db: t.db.clone(),
            dir: t.dir.path().to_path_buf(),
            _t: t,
        }
    }

    fn store(&self) -> SourceStore {
        SourceStore::new(self.dir.join("sources"))
    }

    /// Records `repos` as found, as a scrape would.
    async fn found(&self, repos: &[Found]) {
        let found: Vec<_> = repos.iter().cloned().map(Found::into_found_flake).collect();
        self.db.start_scrape("list", "t", "0").await.unwrap();
        self.db
            .record_scrape_page("list", "t", &found, None)
            .await
            .unwrap();
    }

    async fn fetch(&self, options: FetchOptions) -> Vec<FetchOutcome> {
        let fetcher = Fetcher::new(options, self.store(), Arc::new(Silent)).unwrap();
        let repos = self.db.repos_to_fetch(false).await.unwrap();
        fetcher.fetch_all(&self.db, repos, &|_| {}).await
    }

    /// Entries of the store directory: only `sha256-…` snapshots may be there.
    fn store_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join("sources"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn options(forges: ForgeUrls) -> FetchOptions {
    FetchOptions {
        jobs: 4,
        per_host: 2,
        method: FetchMethod::Tarball,
        pinned: false,
        forges,
        http: HttpOptions {
            default_wait: Duration::from_secs(1),
            ..HttpOptions::default()
        },
    }
}

fn direct(server: &FixtureServer) -> ForgeUrls {
    let (github, github_api, gitlab, sourcehut) = forge_bases(&server.url());
    ForgeUrls {
        github,
        github_api,
        gitlab,
        sourcehut,
    }
}

const FLAKE: &str = "{ outputs = { self }: { }; }\n";

fn found(forge: Forge, owner: &str, name: &str) -> Found {
    Found::new(forge, owner, name)
}

fn forge_repos() -> Vec<ForgeRepo> {
    vec![
        ForgeRepo::new(
            "github",
            "NixOS",
            "multi",
            &[
                ("flake.nix", FLAKE),
                ("sub/flake.nix", FLAKE),
                ("dir with space/!x/flake.nix", FLAKE),
                ("README.md", "hi"),
            ],
        ),
        ForgeRepo::new("github", "we ird", "na me!ü", &[("flake.nix", FLAKE)]),
        ForgeRepo::new("gitlab", "group/sub", "proj", &[("flake.nix", FLAKE)]),
        ForgeRepo::new("sourcehut", "user", "hut", &[("nix/flake.nix", FLAKE)]),
        ForgeRepo::new("github", "o", "noflake", &[("README.md", "no flake")]),
    ]
}

async fn forge_server() -> FixtureServer {
    let replay = ForgeReplay {
        repos: forge_repos(),
    };
    FixtureServer::start(move |r| replay.answer(r))
        .await
        .unwrap()
}

#[tokio::test]
async fn tarballs_from_each_forge_give_every_flake_and_nothing_escapes() {
    let env = Env::new().await;
    let server = forge_server().await;
    env.found(&[
        found(Forge::Github, "NixOS", "multi"),
        found(Forge::Github, "we ird", "na me!ü"),
        found(Forge::Gitlab, "group/sub", "proj"),
        found(Forge::Sourcehut, "user", "hut"),
        found(Forge::Github, "o", "noflake"),
        found(Forge::Github, "o", "gone"),
    ])
    .await;
    // A repo named `..` cannot come from a scrape; put one in as if by hand.
    let mut dots = found(Forge::Github, "o", "..");
    dots.name = "..".to_owned();
    env.found(&[dots]).await;

    let outcomes = env.fetch(options(direct(&server))).await;
    let mut by_name: Vec<(String, Result<usize, &'static str>)> = outcomes
        .iter()
        .map(|o| {
            (
                o.repo.repo.name.clone(),
                o.result.as_ref().map(|f| f.flakes).map_err(|e| e.reason()),
            )
        })
        .collect();
    by_name.sort();
    assert_eq!(
        by_name,
        [
            ("..".to_owned(), Err("unsafe-archive")),
            ("gone".to_owned(), Err("not-found")),
            ("hut".to_owned(), Ok(1)),
            ("multi".to_owned(), Ok(3)),
            ("na me!ü".to_owned(), Ok(1)),
            ("noflake".to_owned(), Err("no-flake")),
            ("proj".to_owned(), Ok(1)),
        ]
    );
    let corpus = env.db.corpus().await.unwrap();
    let labels: Vec<String> = corpus.iter().map(|f| f.label()).collect();
    assert!(
        labels.contains(&"NixOS/multi/dir with space/!x".to_owned()),
        "{labels:?}"
    );
    assert!(labels.contains(&"user/hut/nix".to_owned()), "{labels:?}");
    assert_eq!(corpus.len(), 6);
    // GitHub's and GitLab's APIs say when the head was committed; dumb HTTP does not.
    for f in &corpus {
        let expected = (f.forge != "sourcehut").then_some(1_680_667_628_000);
        assert_eq!(f.committed_at, expected, "{}", f.label());
    }
    // Snapshots hold the tree itself, not the forge's top directory.
    let multi = corpus.iter().find(|f| f.name == "multi").unwrap();
    assert!(Path::new(&multi.source_dir).join("README.md").is_file());
    for entry in env.store_entries() {
        assert!(entry.starts_with("sha256-"), "stray store entry {entry}");
    }
    assert!(
        !env.dir.join("o").exists() && !env.dir.join("we ird").exists(),
        "names never became paths"
    );
    // The fetched commit is recorded; a second fetch has nothing left but the failures.
    let commit = forge_repos()[0].commit.clone();
    assert_eq!(
        env.db.fetched_commit(&multi.url).await.unwrap(),
        Some(commit)
    );
    let again = env.db.repos_to_fetch(false).await.unwrap();
    assert_eq!(again.len(), 3, "only the failed ones are left");
}

#[tokio::test]
async fn a_cut_download_stores_nothing_and_a_retry_succeeds() {
    let env = Env::new().await;
    let replay = ForgeReplay {
        repos: forge_repos(),
    };
    let server = FixtureServer::start(move |r| {
        let reply = replay.answer(r);
        let is_archive = r.path().contains("/archive/");
        // The first archive request breaks off half-way; the next 429s once.
        match (is_archive, r.number) {
            (true, 2) => {
                let half = reply.body.len() / 2;
                reply.cut_at(half)
            }
            (true, 4) => Reply::new(429, "text/plain", "slow down").header("retry-after", "1"),
            _ => reply,
        }
    })
    .await
    .unwrap();
    env.found(&[found(Forge::Github, "NixOS", "multi")]).await;
    let outcomes = env.fetch(options(direct(&server))).await;
    let error = outcomes[0].result.as_ref().unwrap_err();
    assert_eq!(error.reason(), "truncated", "{error}");
    assert!(
        error.to_string().contains("run `gnfc fetch` again"),
        "{error}"
    );
    assert!(env.store_entries().is_empty(), "{:?}", env.store_entries());
    assert!(env.db.corpus().await.unwrap().is_empty());

    let outcomes = env.fetch(options(direct(&server))).await;
    assert_eq!(outcomes[0].result.as_ref().unwrap().flakes, 3);
    assert_eq!(env.store_entries().len(), 1);
}

#[tokio::test]
async fn a_hostile_archive_is_refused_whole() {
    let env = Env::new().await;
    let repo = ForgeRepo::new("github", "evil", "tar", &[("flake.nix", FLAKE)]);
    let commit = repo.commit.clone();
    let evil = hostile_tarball(&format!("tar-{commit}"));
    let replay = ForgeReplay { repos: vec![repo] };
    let server = FixtureServer::start(move |r| {
        if r.path().contains("/archive/") {
            Reply::new(200, "application/x-gzip", evil.clone())
        } else {
            replay.answer(r)
        }
    })
    .await
    .unwrap();
    env.found(&[found(Forge::Github, "evil", "tar")]).await;
    let outcomes = env.fetch(options(direct(&server))).await;
    let error = outcomes[0].result.as_ref().unwrap_err();
    assert_eq!(error.reason(), "unsafe-archive", "{error}");
    assert!(!env.dir.join("escaped").exists());
    assert!(env.store_entries().is_empty(), "{:?}", env.store_entries());
}

/// A tarball whose second entry climbs out with `..`.
fn hostile_tarball(top: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut ok = tar::Header::new_gnu();
    ok.set_size(FLAKE.len() as u64);
    ok.set_mode(0o644);
    tar.append_data(&mut ok, format!("{top}/flake.nix"), FLAKE.as_bytes())
        .unwrap();
    let mut bad = tar::Header::new_gnu();
    let name = format!("{top}/../../../escaped");
    bad.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    bad.set_size(4);
    bad.set_mode(0o644);
    bad.set_cksum();
    tar.append(&bad, &b"evil"[..]).unwrap();
    let mut bytes = tar.into_inner().unwrap().finish().unwrap();
    bytes.flush().unwrap();
    bytes
}

#[tokio::test]
async fn fetches_go_through_the_configured_proxy() {
    let env = Env::new().await;
    let server = forge_server().await;
    env.found(&[
        found(Forge::Github, "NixOS", "multi"),
        found(Forge::Gitlab, "group/sub", "proj"),
    ])
    .await;
    let mut options = options(ForgeUrls {
        github: "http://github.com".to_owned(),
        github_api: "http://api.github.com".to_owned(),
        gitlab: "http://gitlab.com".to_owned(),
        sourcehut: "http://git.sr.ht".to_owned(),
    });
    options.http.proxy = Some(server.url());
    let outcomes = env.fetch(options).await;
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.via_proxy), "{requests:?}");
    let hosts: std::collections::BTreeSet<_> = requests.iter().map(|r| r.host.clone()).collect();
    assert_eq!(
        hosts.into_iter().collect::<Vec<_>>(),
        ["api.github.com", "github.com", "gitlab.com"]
    );
}

#[tokio::test]
async fn a_bad_proxy_ca_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let mut options = options(ForgeUrls::default());
    options.http.ca_file = Some(ca);
    let error = Fetcher::new(options, SourceStore::new(dir.path()), Arc::new(Silent)).unwrap_err();
    assert!(
        error.to_string().contains("is not a PEM certificate"),
        "{error}"
    );
}

#[tokio::test]
async fn git_method_clones_shallow_and_records_the_commit() {
    let env = Env::new().await;
    let origin = env.dir.join("origin");
    std::fs::create_dir_all(origin.join("a/b")).unwrap();
    std::fs::write(origin.join("flake.nix"), FLAKE).unwrap();
    std::fs::write(origin.join("a/b/flake.nix"), FLAKE).unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&origin)
            .env("GIT_COMMITTER_DATE", "@1600000000 +0000")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "one"]);
    let head = String::from_utf8(
        std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&origin)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let url = format!("file://{}", origin.display());
    env.found(&[found(Forge::Git { url }, "localhost", "origin")])
        .await;
    let mut options = options(ForgeUrls::default());
    options.method = FetchMethod::Git;
    let outcomes = env.fetch(options).await;
    let fetched = outcomes[0].result.as_ref().unwrap();
    assert_eq!(fetched.commit, head.trim());
    assert_eq!(fetched.flakes, 2);
    let corpus = env.db.corpus().await.unwrap();
    assert!(!Path::new(&corpus[0].source_dir).join(".git").exists());
    // The clone says when its head was committed.
    assert_eq!(corpus[0].committed_at, Some(1_600_000_000_000));
}
