//! `gnfc scrape` and `gnfc fetch` as a user runs them, against loopback replays: a scrape
//! killed with SIGKILL after its second page, or in the middle of a grep.app query split past
//! the 1,000-hit cap, and restarted ends with exactly the rows of an uninterrupted one; 50 repos fetched from the loopback forge become flakes `gnfc run`
//! runs with the host's Nix.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gnfc_scrapers::fixtures::{
    forge_bases, FixtureServer, ForgeReplay, ForgeRepo, GrepAppReplay, IndexedRepo, Reply, Request,
    SourcegraphReplay,
};
use tokio::process::Command;

use crate::common::{report_tests, success, Proxy, Workspace};

/// A workspace whose calls are quiet and have no forge tokens from the environment.
fn workspace() -> Workspace {
    Workspace::new()
        .env_remove("SRC_ACCESS_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .quiet()
}

/// `gnfc ARGS` in `ws`, to be awaited, killed when dropped.
fn gnfc(ws: &Workspace, args: &[&str]) -> Command {
    let mut cmd = Command::from(ws.command(args));
    cmd.kill_on_drop(true);
    cmd
}

async fn gnfc_ok(ws: &Workspace, args: &[&str]) -> String {
    success(args, &gnfc(ws, args).output().await.unwrap())
}

/// Every row scrapes produce, in a stable order (times left out: they differ by design).
async fn rows(ws: &Workspace) -> Vec<String> {
    let db = ws.db().await;
    let repos = db.repos().await.unwrap();
    let found = db.discoveries().await.unwrap();
    db.close().await;
    repos
        .iter()
        .map(|r| format!("{:?}", (&r.forge, &r.owner, &r.name, &r.url, r.stars)))
        .chain(found.iter().map(|f| format!("{f:?}")))
        .collect()
}

/// Pages stored by the one scrape the test starts.
async fn scrape_pages(ws: &Workspace) -> i64 {
    let db = ws.db().await;
    let scrapes = db.scrapes().await.unwrap();
    db.close().await;
    assert_eq!(scrapes.len(), 1, "{scrapes:?}");
    scrapes[0].state.pages
}

/// Repos whose first split separates `codeberg.org/…` from `github.com/…`: three queries.
/// One holds its only flake in a subdirectory, beside files only named like a flake.
fn indexed() -> Vec<IndexedRepo> {
    let mut repos = Vec::new();
    for i in 0..5 {
        repos.push(IndexedRepo::new(
            &format!("codeberg.org/c{i}/f"),
            &["flake.nix"],
        ));
    }
    repos.push(IndexedRepo::new(
        "codeberg.org/nested/only",
        &["notflake.nix", "nix/flake.nix", "flake.nix.bak"],
    ));
    for i in 0..7 {
        repos.push(IndexedRepo::new(
            &format!("github.com/u{i}/r"),
            &["flake.nix", "sub/flake.nix"],
        ));
    }
    repos
}

/// Runs `gnfc scrape SOURCE --endpoint …` against `answer` twice: uninterrupted, and killed
/// (SIGKILL) while it waits for the answer to request `kill_at`, then run again. Checks the
/// killed scrape had stored the pages before, the second run resumed and fetched only the
/// pages left, and both end with the same rows. Returns the stdout of the uninterrupted run
/// and of the resumed one, and the rows.
async fn killed_and_resumed(
    source: &str,
    answer: impl Fn(&Request) -> Reply + Clone + Send + Sync + 'static,
    kill_at: usize,
) -> (String, String, Vec<String>) {
    let reference = workspace();
    let server = FixtureServer::start(answer.clone()).await.unwrap();
    let reference_out = gnfc_ok(&reference, &["scrape", source, "--endpoint", &server.url()]).await;
    let reference_requests = server.requests().len();
    let expected = rows(&reference).await;

    // Request `kill_at` never gets an answer: gnfc is killed while waiting for it.
    let hold = Arc::new(AtomicBool::new(true));
    let held = hold.clone();
    let server = FixtureServer::start(move |r| {
        if r.number == kill_at && held.load(Ordering::SeqCst) {
            Reply::hang()
        } else {
            answer(r)
        }
    })
    .await
    .unwrap();
    let ws = workspace();
    let mut child = gnfc(&ws, &["scrape", source, "--endpoint", &server.url()])
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.requests().len() < kill_at {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "gnfc never asked for page {kill_at}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().await.unwrap(); // SIGKILL
    assert_eq!(
        scrape_pages(&ws).await,
        i64::try_from(kill_at - 1).unwrap(),
        "killed after page {}",
        kill_at - 1
    );
    let partial = rows(&ws).await;
    assert!(partial.len() < expected.len());

    hold.store(false, Ordering::SeqCst);
    let out = gnfc_ok(&ws, &["scrape", source, "--endpoint", &server.url()]).await;
    assert!(out.contains("resumed an interrupted scrape"), "{out}");
    assert_eq!(rows(&ws).await, expected, "same rows, no duplicates");
    assert_eq!(
        server.requests().len(),
        reference_requests + 1,
        "only the pages left were fetched (the one killed, again)"
    );
    (reference_out, out, expected)
}

#[tokio::test(flavor = "multi_thread")]
async fn scrape_killed_after_page_two_resumes_to_the_same_rows() {
    let replay = SourcegraphReplay::new(indexed(), 14);
    let (reference, resumed, rows) =
        killed_and_resumed("sourcegraph", move |r| replay.answer(r), 3).await;
    assert!(reference.contains("sourcegraph: 3 pages"), "{reference}");
    assert!(reference.contains("13 new repos"), "{reference}");
    assert_eq!(rows.len(), 13 + 20);
    assert!(
        rows.iter()
            .any(|r| r.contains("https://codeberg.org/nested/only") && r.contains("nix/flake.nix")),
        "the subdirectory flake was found: {rows:#?}"
    );
    assert!(!rows.iter().any(|r| r.contains("flake.nix.bak")));
    assert!(
        resumed.contains("1 page,"),
        "only the missing page was fetched: {resumed}"
    );
}

/// grep.app past its 1,000-hit cap: the scrape splits, is killed inside the split, and
/// resumes there to every flake, each once.
#[tokio::test(flavor = "multi_thread")]
async fn grep_app_split_past_the_cap_killed_resumes_to_the_same_rows() {
    let repos = (0..1100)
        .map(|i| {
            let paths: &[&str] = if i % 10 == 0 {
                &["flake.nix", "nix/flake.nix", "notflake.nix"]
            } else {
                &["flake.nix", "notflake.nix"]
            };
            IndexedRepo::new(&format!("github.com/o{i}/r{i}"), paths)
        })
        .collect();
    let replay = GrepAppReplay {
        repos,
        per_page: 10,
        raw_shape: true,
    };
    let (reference, _, rows) = killed_and_resumed("grep-app", move |r| replay.answer(r), 60).await;
    assert!(
        reference.contains("1210 flake files found: 1100 new repos"),
        "{reference}"
    );
    assert_eq!(rows.len(), 1100 + 1210);
    assert!(!rows.iter().any(|r| r.contains("notflake.nix")));
}

const FLAKE: &str = r#"{
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "fetched"; system = "x86_64-linux"; builder = "/bin/sh";
    };
  };
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn fifty_fetched_repos_become_flakes_that_run() {
    let mut repos = Vec::new();
    let mut list = String::from("# repos served by the loopback forge\n");
    for i in 0..50 {
        let (forge, scheme, owner) = match i % 5 {
            0 => ("gitlab", "gitlab:", format!("g{i}")),
            1 => ("sourcehut", "sourcehut:~", format!("s{i}")),
            _ => ("github", "github:", format!("o{i}")),
        };
        let name = format!("repo {i}!");
        let files: Vec<(&str, &str)> = if i % 10 == 0 {
            vec![
                ("flake.nix", FLAKE),
                ("a/flake.nix", FLAKE),
                ("b/c/flake.nix", FLAKE),
            ]
        } else {
            vec![("flake.nix", FLAKE), ("README", "x")]
        };
        repos.push(ForgeRepo::new(forge, &owner, &name, &files));
        list.push_str(&format!("{scheme}{owner}/{}\n", name.replace(' ', "%20")));
    }
    let replay = ForgeReplay { repos };
    let server = FixtureServer::start(move |r| replay.answer(r))
        .await
        .unwrap();
    let ws = workspace();
    let (github, github_api, gitlab, sourcehut) = forge_bases(&server.url());
    std::fs::write(
        ws.join("gnfc.toml"),
        format!(
            "[run]\nexecutor = \"host\"\nimplementations = [\"nix-2.8\"]\n\n\
             [fetch]\njobs = 4\nper_host = 2\ngithub = \"{github}\"\ngithub_api = \
             \"{github_api}\"\ngitlab = \"{gitlab}\"\nsourcehut = \"{sourcehut}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(ws.join("repos.txt"), list).unwrap();
    let out = gnfc_ok(&ws, &["scrape", "list", "repos.txt"]).await;
    assert!(out.contains("50 new repos"), "{out}");
    let out = gnfc_ok(&ws, &["fetch"]).await;
    // 5 repos hold three flakes each, 45 hold one.
    assert!(
        out.contains("fetched 50 repos (60 flakes, 60 new); 0 failed"),
        "{out}"
    );
    let listing = gnfc_ok(&ws, &["corpus", "list"]).await;
    assert!(listing.contains("60 flakes"), "{listing}");
    assert!(listing.contains("g0/repo 0!/b/c"), "{listing}");
    let out = gnfc_ok(&ws, &["fetch"]).await;
    assert!(out.contains("nothing to fetch"), "{out}");

    run_all_pass(&ws, "fetched", 60).await;
}

/// The whole offline path: 50 repos made into a mirror with `gnfc forge init`, served by
/// `gnfc proxy serve --mirror --offline`, fetched through it with its CA, then run.
#[tokio::test(flavor = "multi_thread")]
async fn fifty_repos_fetched_through_the_proxy_from_the_mirror_forge() {
    let ws = workspace();
    let mut list = String::from("# repos of the mirror forge\n");
    for i in 0..50 {
        let repo = ws.join(format!("src/owner{i}/repo{i}"));
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join("flake.nix"), FLAKE).unwrap();
        if i % 10 == 0 {
            for sub in ["a", "b/c"] {
                std::fs::create_dir_all(repo.join(sub)).unwrap();
                std::fs::write(repo.join(sub).join("flake.nix"), FLAKE).unwrap();
            }
        }
        list.push_str(&format!("github:owner{i}/repo{i}\n"));
    }
    std::fs::write(
        ws.join("gnfc.toml"),
        "[run]\nexecutor = \"host\"\nimplementations = [\"nix-2.8\"]\n",
    )
    .unwrap();
    std::fs::write(ws.join("repos.txt"), list).unwrap();
    gnfc_ok(&ws, &["forge", "init", "--from", "src", "--to", "mirror"]).await;

    let proxy = Proxy::serve(&ws, "mirror");
    let (url, ca) = (&proxy.url, proxy.ca.to_str().unwrap());

    let out = gnfc_ok(&ws, &["scrape", "list", "repos.txt"]).await;
    assert!(out.contains("50 new repos"), "{out}");
    let out = gnfc_ok(&ws, &["fetch", "--proxy", url, "--ca-file", ca]).await;
    assert!(
        out.contains("fetched 50 repos (60 flakes, 60 new); 0 failed"),
        "{out}"
    );
    drop(proxy);

    run_all_pass(&ws, "mirrored", 60).await;
}

/// Runs every flake of the corpus with the native resolver and checks all `tests` pass.
async fn run_all_pass(ws: &Workspace, run: &str, tests: usize) {
    gnfc_ok(
        ws,
        &["run", "--name", run, "--resolver", "native", "--jobs", "2"],
    )
    .await;
    let report = gnfc_ok(ws, &["report", "--run", run, "--format", "json"]).await;
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let recorded = report_tests(&report);
    assert_eq!(recorded.len(), tests);
    assert!(
        recorded.iter().all(|t| t["outcome"] == "pass"),
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
}
