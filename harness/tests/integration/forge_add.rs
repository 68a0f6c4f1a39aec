//! `gnfc forge add` with real git: a clone, a bare repository and a bundle each go into the
//! mirror with their whole history (every branch, a clone's remote-tracking ones too, and
//! tags) and are served through `gnfc proxy serve --mirror --offline`; `--as` names one,
//! `--corpus` adds its flakes with its head's commit time, an existing name is refused
//! without `--replace`, and names that are no owner/name are refused.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use gnfc_scrapers::{Http, HttpOptions, Silent};

use crate::common::{text, Proxy, Workspace};

/// The upstream head's commit time, 2022-02-02T00:00:00Z, in ms.
const HEAD_TIME_MS: i64 = 1_643_760_000_000;

/// Runs git in `dir`; what it commits is dated `date` when given.
fn git(dir: &Path, args: &[&str], date: Option<&str>) -> String {
    let mut cmd = Command::new("git");
    cmd.args(["-c", "user.name=up", "-c", "user.email=up@example.org"])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        // It would win over the proxy CA given as http.sslCAInfo.
        .env_remove("GIT_SSL_CAINFO");
    if let Some(date) = date {
        cmd.env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The commits of the upstream repository.
struct Upstream {
    /// `main`'s first commit, tagged `v1` (annotated): what an old lock pins.
    old: String,
    /// `main`'s head.
    head: String,
    /// The head of `feature`, which a clone has only as `origin/feature`.
    feature: String,
}

/// `dir/upstream` with history, and a clone, a bare repository and a bundle of it under
/// `dir/sources`.
fn sources(dir: &Path) -> Upstream {
    let up = dir.join("upstream");
    std::fs::create_dir_all(&up).unwrap();
    let day = |d: &str| format!("{d}T00:00:00Z");
    git(&up, &["init", "--quiet"], Some(&day("2020-01-01")));
    std::fs::write(up.join("flake.nix"), "{ outputs = _: { }; }\n").unwrap();
    git(&up, &["add", "."], Some(&day("2020-01-01")));
    git(
        &up,
        &["commit", "--quiet", "-m", "one"],
        Some(&day("2020-01-01")),
    );
    git(
        &up,
        &["tag", "-a", "v1", "-m", "v1"],
        Some(&day("2020-01-01")),
    );
    git(
        &up,
        &["checkout", "--quiet", "-b", "feature"],
        Some(&day("2021-01-01")),
    );
    git(
        &up,
        &["commit", "--quiet", "--allow-empty", "-m", "three"],
        Some(&day("2021-01-01")),
    );
    git(
        &up,
        &["checkout", "--quiet", "main"],
        Some(&day("2022-02-02")),
    );
    git(
        &up,
        &["commit", "--quiet", "--allow-empty", "-m", "two"],
        Some(&day("2022-02-02")),
    );
    let rev = |r: &str| git(&up, &["rev-parse", r], None);
    let src = dir.join("sources");
    std::fs::create_dir_all(src.join("acme")).unwrap();
    git(&src, &["clone", "--quiet", "../upstream", "clone"], None);
    git(
        &src,
        &["clone", "--quiet", "--bare", "../upstream", "acme/bare.git"],
        None,
    );
    git(
        &up,
        &[
            "bundle",
            "create",
            "--quiet",
            "../sources/acme+bundled.bundle",
            "--all",
        ],
        None,
    );
    Upstream {
        old: rev("main~1"),
        head: rev("main"),
        feature: rev("feature"),
    }
}

/// `git ls-remote` of a mirror repository through the proxy (SourceHut's dumb HTTP).
fn ls_remote(proxy: &Proxy, dir: &Path, name: &str) -> String {
    let via = format!("http.proxy={}", proxy.url);
    let ca = format!("http.sslCAInfo={}", proxy.ca.display());
    let url = format!("https://git.sr.ht/{name}");
    git(dir, &["-c", &via, "-c", &ca, "ls-remote", &url], None)
}

/// The commit GitHub's API names for `rev` of `name`, through the proxy.
async fn github_commit(proxy: &Proxy, name: &str, rev: &str) -> String {
    let options = HttpOptions {
        proxy: Some(proxy.url.clone()),
        ca_file: Some(proxy.ca.clone()),
        ..HttpOptions::default()
    };
    let http = Http::new(options, Arc::new(Silent)).unwrap();
    let url = format!("https://api.github.com/repos/{name}/commits/{rev}");
    let body = http.get(&url, &[]).await.unwrap().text().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["sha"].as_str().unwrap().to_owned()
}

/// The flakes of the corpus with their repo's forge and their commit time.
async fn corpus_rows(ws: &Workspace) -> Vec<(String, String, Option<i64>)> {
    let db = ws.db().await;
    let mut rows: Vec<_> = db
        .corpus()
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.url, f.subdir, f.committed_at))
        .collect();
    db.close().await;
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn clones_bare_repos_and_bundles_are_served_with_their_history() {
    let ws = Workspace::new();
    let dir = ws.path();
    let up = sources(dir);

    let out = ws.gnfc_ok(&[
        "forge",
        "add",
        "sources/clone",
        "--as",
        "github:acme/from-clone",
    ]);
    assert!(
        out.contains("acme/from-clone: 2 branches, 1 tag, HEAD main"),
        "{out}"
    );
    let out = ws.gnfc_ok(&[
        "forge",
        "add",
        "sources/acme/bare.git",
        "sources/acme+bundled.bundle",
    ]);
    assert!(
        out.contains("acme/bare: 2 branches, 1 tag, HEAD main"),
        "{out}"
    );
    assert!(
        out.contains("acme/bundled: 2 branches, 1 tag, HEAD main"),
        "{out}"
    );
    // The default mirror is proxy.mirror's, where `gnfc run` looks.
    assert!(dir.join(".gnfc/mirror/acme/bare.git/HEAD").is_file());

    let proxy = Proxy::serve(&ws, ".gnfc/mirror");
    for name in ["acme/from-clone", "acme/bare", "acme/bundled"] {
        let refs = ls_remote(&proxy, dir, name);
        for line in [
            format!("{}\trefs/heads/main", up.head),
            format!("{}\trefs/heads/feature", up.feature),
            format!("{}\trefs/tags/v1^{{}}", up.old),
        ] {
            assert!(refs.contains(&line), "{name} lacks {line}:\n{refs}");
        }
        // An old commit, as a committed lock pins it, still resolves.
        assert_eq!(github_commit(&proxy, name, &up.old).await, up.old, "{name}");
        assert_eq!(github_commit(&proxy, name, "HEAD").await, up.head, "{name}");
    }
}

#[test]
fn existing_names_need_replace_and_odd_names_are_refused() {
    let ws = Workspace::new();
    let dir = ws.path();
    sources(dir);
    let add = |args: &[&str]| ws.gnfc(&[&["forge", "add", "--mirror", "m"][..], args].concat());

    assert!(add(&["sources/acme/bare.git"]).status.success());
    let head = dir.join("m/acme/bare.git/HEAD");
    let again = add(&["sources/clone", "--as", "acme/bare"]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("acme/bare is already in the mirror")
            && text(&again).contains("--replace"),
        "{}",
        text(&again)
    );
    assert!(head.is_file(), "the refused add changed the mirror");
    let replaced = add(&["sources/clone", "--as", "acme/bare", "--replace"]);
    assert!(
        text(&replaced).contains("(replaced)"),
        "{}",
        text(&replaced)
    );
    assert!(head.is_file());

    for bad in [
        "github:../x",
        "acme/a/b",
        "acme",
        "codeberg:acme/x",
        "acme/a b",
    ] {
        let out = add(&["sources/clone", "--as", bad]);
        assert!(!out.status.success(), "--as {bad} was taken");
        assert!(
            text(&out).contains(&format!("--as {bad}")),
            "{}",
            text(&out)
        );
    }
    // A path whose last components are no owner/name asks for --as.
    std::fs::create_dir_all(dir.join("odd dir")).unwrap();
    git(
        dir,
        &["clone", "--quiet", "sources/acme/bare.git", "odd dir/x y"],
        None,
    );
    let out = add(&["odd dir/x y"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("--as github:owner/name"),
        "{}",
        text(&out)
    );
    let out = add(&["sources", "--as", "acme/nothing"]);
    assert!(
        text(&out).contains("not a git clone, a bare repository or a git bundle"),
        "{}",
        text(&out)
    );
    let out = add(&["sources/clone", "sources/acme/bare.git", "--as", "acme/two"]);
    assert!(
        text(&out).contains("--as names one repository"),
        "{}",
        text(&out)
    );
    // Nothing of the refused adds is left behind, not even staging directories.
    let mut left: Vec<String> = std::fs::read_dir(dir.join("m"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["acme"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn corpus_takes_the_flakes_of_the_default_branch_with_its_commit_time() {
    let ws = Workspace::new();
    let dir = ws.path();
    sources(dir);
    let out = ws.gnfc_ok(&["forge", "add", "--corpus", "sources/acme+bundled.bundle"]);
    assert!(out.contains("acme/bundled: 1 flake (1 new)"), "{out}");
    let out = ws.gnfc_ok(&[
        "forge",
        "add",
        "--corpus",
        "sources/clone",
        "--as",
        "gitlab:acme/lab",
    ]);
    assert!(out.contains("acme/lab: 1 flake (1 new)"), "{out}");
    assert_eq!(
        corpus_rows(&ws).await,
        [
            (
                "https://github.com/acme/bundled".to_owned(),
                String::new(),
                Some(HEAD_TIME_MS)
            ),
            (
                "https://gitlab.com/acme/lab".to_owned(),
                String::new(),
                Some(HEAD_TIME_MS)
            ),
        ]
    );
    let listing = ws.gnfc_ok(&["corpus", "list"]);
    assert!(
        listing.contains("acme/bundled") && listing.contains("2 flakes"),
        "{listing}"
    );
    // The checkouts made for the corpus are gone.
    let storage: Vec<String> = std::fs::read_dir(dir.join(".gnfc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(storage.is_empty(), "{storage:?}");
}
