//! Every source against loopback replays of its API, stored in a real SQLite database.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnfc_data::{DiscoveryRow, NewRepo, ScrapeRow};
use gnfc_scrapers::fixtures::{
    FixtureServer, GithubReplay, GrepAppReplay, IndexedRepo, LimitSignal, Reply, SourcegraphReplay,
};
use gnfc_scrapers::sources::github::{Github, GithubOptions};
use gnfc_scrapers::sources::grep_app::{GrepApp, GrepAppOptions};
use gnfc_scrapers::sources::list::List;
use gnfc_scrapers::sources::sourcegraph::{Sourcegraph, SourcegraphOptions};
use gnfc_scrapers::{
    scrape, Http, HttpOptions, Progress, ScrapeError, ScrapeReport, SharedProgress, Source,
};

/// What the Sourcegraph source asks before any split.
const QUERY: &str = r"file:(^|/)flake\.nix$ select:file count:all";

/// Records what a scrape reported, so tests can see rate-limit waits and warnings.
#[derive(Debug, Default)]
struct Recorder {
    waits: Mutex<Vec<(String, u64)>>,
    warnings: Mutex<Vec<String>>,
}

impl Progress for Recorder {
    fn status(&self, _: &str) {}
    fn waiting(&self, why: &str, secs: u64) {
        self.waits.lock().unwrap().push((why.to_owned(), secs));
    }
    fn warn(&self, text: &str) {
        self.warnings.lock().unwrap().push(text.to_owned());
    }
}

struct Env {
    t: common::TestDb,
    db: gnfc_data::Db,
    progress: Arc<Recorder>,
}

impl Env {
    async fn new() -> Env {
        let t = common::TestDb::new().await;
        Env {
            db: t.db.clone(),
            t,
            progress: Arc::new(Recorder::default()),
        }
    }

    fn shared(&self) -> SharedProgress {
        self.progress.clone()
    }

    fn http(&self) -> Http {
        let options = HttpOptions {
            default_wait: Duration::from_secs(1),
            ..HttpOptions::default()
        };
        Http::new(options, self.shared()).unwrap()
    }

    async fn run(&self, source: &dyn Source) -> (ScrapeReport, Option<ScrapeError>) {
        scrape(source, &self.db, self.progress.as_ref(), false, &|_| {})
            .await
            .unwrap()
    }

    /// How many stored repos pass `keep`.
    async fn repos(&self, keep: impl Fn(&NewRepo) -> bool) -> usize {
        let repos = self.t.db.repos().await.unwrap();
        repos.iter().filter(|r| keep(r)).count()
    }

    /// How many stored discoveries pass `keep`.
    async fn discoveries(&self, keep: impl Fn(&DiscoveryRow) -> bool) -> usize {
        let found = self.t.db.discoveries().await.unwrap();
        found.iter().filter(|d| keep(d)).count()
    }

    /// How many stored scrapes pass `keep`.
    async fn scrapes(&self, keep: impl Fn(&ScrapeRow) -> bool) -> usize {
        let scrapes = self.t.db.scrapes().await.unwrap();
        scrapes.iter().filter(|s| keep(s)).count()
    }

    fn sourcegraph(&self, server: &FixtureServer) -> Sourcegraph {
        Sourcegraph::new(
            self.http(),
            SourcegraphOptions {
                endpoint: server.url(),
                token: Some("sgp_secret".to_owned()),
                terms: String::new(),
            },
        )
    }

    fn grep_app(&self, server: &FixtureServer, page_cap: u32) -> GrepApp {
        GrepApp::new(
            self.http(),
            GrepAppOptions {
                endpoint: server.url(),
                terms: "outputs".to_owned(),
                page_cap,
            },
        )
    }
}

/// Repos on two forges, named so that the first split of the repository-name space
/// separates them (`codeberg.org/…` vs `github.com/…`).
fn two_forges() -> Vec<IndexedRepo> {
    let mut repos = Vec::new();
    for i in 0..6 {
        repos.push(IndexedRepo::new(
            &format!("codeberg.org/c{i}/flake"),
            &["flake.nix"],
        ));
    }
    for i in 0..8 {
        repos.push(IndexedRepo::new(
            &format!("github.com/u{i}/r{i}"),
            &["flake.nix", "nested/dir/flake.nix"],
        ));
    }
    repos
}

#[tokio::test]
async fn sourcegraph_splits_a_limited_query_until_everything_fits() {
    let env = Env::new().await;
    let replay = SourcegraphReplay::new(two_forges(), 16);
    let server = FixtureServer::start(move |r| replay.answer(r))
        .await
        .unwrap();
    let (report, error) = env.run(&env.sourcegraph(&server)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(env.repos(|_| true).await, 14);
    assert_eq!(env.discoveries(|_| true).await, 22);
    let queries: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.param("q").unwrap())
        .collect();
    assert_eq!(queries.len(), 3, "{queries:#?}");
    assert_eq!(queries[0], QUERY);
    assert!(
        queries[1].ends_with(r"repo:^[\-./0123456789_abcdef]"),
        "{queries:?}"
    );
    assert!(
        queries[2].ends_with("repo:^[ghijklmnopqrstuvwxyz]"),
        "{queries:?}"
    );
    assert_eq!(report.pages, 3);
    // The limited first page stored 16 results, found again after the split.
    assert_eq!(report.found, 16 + 6 + 16);
    assert_eq!(report.new_repos, 14);
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("token sgp_secret")
    );
    // Commits came along; a finished scrape leaves no cursor.
    assert_eq!(env.discoveries(|d| d.commit.is_none()).await, 0);
    assert_eq!(env.scrapes(|s| s.state.cursor.is_none()).await, 1);
}

#[tokio::test]
async fn sourcegraph_old_field_names_and_alerts_are_understood() {
    let env = Env::new().await;
    let mut replay = SourcegraphReplay::new(two_forges(), 20);
    replay.old_fields = true;
    replay.signal = LimitSignal::Alert;
    let server = FixtureServer::start(move |r| replay.answer(r))
        .await
        .unwrap();
    let (_, error) = env.run(&env.sourcegraph(&server)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(server.requests().len(), 3, "the alert made it split");
    assert_eq!(env.discoveries(|_| true).await, 22);
    assert_eq!(
        env.discoveries(|d| d.path == "nested/dir/flake.nix" && d.commit.is_some())
            .await,
        8
    );
}

#[tokio::test]
async fn sourcegraph_truncated_stream_keeps_what_arrived_and_resumes() {
    let env = Env::new().await;
    let replay = SourcegraphReplay::new(two_forges(), 1000);
    let full = replay.stream(QUERY);
    // The connection drops after the matches, before `progress` and `done`.
    let cut = full.find("event: progress").unwrap();
    let server = FixtureServer::start(move |r| {
        if r.number == 1 {
            Reply::new(200, "text/event-stream", full.clone()).cut_at(cut)
        } else {
            replay.answer(r)
        }
    })
    .await
    .unwrap();
    let source = env.sourcegraph(&server);
    let (_, error) = env.run(&source).await;
    let error = error.expect("a stream without `done` is an error");
    assert!(matches!(error, ScrapeError::Truncated { .. }), "{error}");
    assert!(
        error.to_string().contains("run the same command again"),
        "{error}"
    );
    assert_eq!(env.discoveries(|_| true).await, 22, "nothing lost");
    let (report, error) = env.run(&source).await;
    assert!(error.is_none(), "{error:?}");
    assert!(report.resumed);
    assert_eq!(report.new_repos, 0);
    assert_eq!(report.duplicates, 14);
    assert_eq!(env.discoveries(|_| true).await, 22);
}

#[tokio::test]
async fn sourcegraph_error_event_and_empty_result() {
    let env = Env::new().await;
    let server = FixtureServer::start(|r| {
        if r.number == 1 {
            Reply::new(
                200,
                "text/event-stream",
                "event: error\ndata: {\"message\":\"invalid query: unknown field\"}\n\n",
            )
        } else {
            SourcegraphReplay::new(Vec::new(), 10).answer(r)
        }
    })
    .await
    .unwrap();
    let source = env.sourcegraph(&server);
    let (_, error) = env.run(&source).await;
    assert!(
        error
            .unwrap()
            .to_string()
            .contains("invalid query: unknown field"),
        "the server's message reaches the user"
    );
    let (report, error) = env.run(&source).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!((report.found, report.pages), (0, 1));
    assert_eq!(env.repos(|_| true).await, 0);
}

/// Repos whose flakes are all in subdirectories, beside files only named like a flake.
fn nested_only() -> Vec<IndexedRepo> {
    let mut repos = Vec::new();
    for i in 0..4 {
        repos.push(IndexedRepo::new(
            &format!("github.com/n{i}/deep"),
            &["README.md", "nix/flake.nix", "templates/basic/flake.nix"],
        ));
        repos.push(IndexedRepo::new(
            &format!("codeberg.org/m{i}/sub"),
            &["pkgs/Flake.nix", "notflake.nix"],
        ));
        repos.push(IndexedRepo::new(
            &format!("github.com/x{i}/no-flake"),
            &[
                "notflake.nix",
                "flake.nix.bak",
                "flake.nix/default.nix",
                "old/flake.nix.orig",
                "myflake.nix",
            ],
        ));
    }
    repos
}

#[tokio::test]
async fn sourcegraph_finds_flakes_only_in_subdirectories_and_nothing_named_like_one() {
    let replay = SourcegraphReplay::new(nested_only(), 1000);
    // The fixture applies `file:` to the whole path: the query anchored at the path's start
    // finds none of these repos, so this test fails with it.
    assert!(
        !replay
            .stream(r"file:^flake\.nix$ select:file count:all")
            .contains("flake.nix"),
        "the root-only query finds no subdirectory flake"
    );
    for limit in [1000, 5] {
        let env = Env::new().await;
        let replay = SourcegraphReplay::new(nested_only(), limit);
        let server = FixtureServer::start(move |r| replay.answer(r))
            .await
            .unwrap();
        let (report, error) = env.run(&env.sourcegraph(&server)).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(env.repos(|_| true).await, 8, "limit {limit}");
        assert_eq!(env.discoveries(|_| true).await, 12, "limit {limit}");
        assert_eq!(
            env.discoveries(|d| {
                [
                    "nix/flake.nix",
                    "templates/basic/flake.nix",
                    "pkgs/Flake.nix",
                ]
                .contains(&d.path.as_str())
            })
            .await,
            12
        );
        assert_eq!(env.repos(|r| r.name == "no-flake").await, 0);
        if limit == 5 {
            // Split by repository while keeping the file filter: every query carries both.
            let queries: Vec<String> = server
                .requests()
                .iter()
                .map(|r| r.param("q").unwrap())
                .collect();
            assert!(queries.len() > 3, "{queries:?}");
            assert!(queries.iter().all(|q| q.starts_with(QUERY)), "{queries:?}");
            assert!(report.found > 12, "limited pages were found again");
        } else {
            assert_eq!(report.found, 12);
        }
    }
}

fn many(n: usize, forge: &str) -> Vec<IndexedRepo> {
    (0..n)
        .map(|i| IndexedRepo::new(&format!("{forge}/o{i}/r{i}"), &["flake.nix"]))
        .collect()
}

fn grep_replay(n: usize, raw_shape: bool) -> GrepAppReplay {
    GrepAppReplay {
        repos: many(n, "github.com"),
        per_page: 10,
        raw_shape,
    }
}

#[tokio::test]
async fn grep_app_pages_in_both_shapes_until_empty_or_the_cap() {
    for raw_shape in [true, false] {
        let env = Env::new().await;
        let replay = grep_replay(25, raw_shape);
        let server = FixtureServer::start(move |r| replay.answer(r))
            .await
            .unwrap();
        let (report, error) = env.run(&env.grep_app(&server, 100)).await;
        assert!(error.is_none(), "{error:?}");
        // 10 + 10 + 5, then an empty page ends it.
        assert_eq!((report.pages, report.found), (4, 25));
        assert_eq!(env.repos(|_| true).await, 25);
        let first = &server.requests()[0];
        assert_eq!(first.param("f.path.pattern").as_deref(), Some("flake.nix"));
        assert_eq!(first.param("q").as_deref(), Some("outputs"));
    }
    let env = Env::new().await;
    let replay = grep_replay(25, true);
    let server = FixtureServer::start(move |r| replay.answer(r))
        .await
        .unwrap();
    let (report, _) = env.run(&env.grep_app(&server, 2)).await;
    assert_eq!((report.pages, report.found), (2, 20), "the cap stops it");
}

/// 1,200 repos with a flake each; a tenth with a second one in a subdirectory, and files
/// only named like a flake that a `flake.nix` path filter also matches.
fn over_the_cap() -> GrepAppReplay {
    let repos = (0..1200)
        .map(|i| {
            let mut paths = vec!["flake.nix"];
            if i % 10 == 0 {
                paths.extend(["nix/flake.nix", "notflake.nix", "nix/flake.nix.bak"]);
            }
            IndexedRepo::new(&format!("github.com/o{i}/r{i}"), &paths)
        })
        .collect();
    GrepAppReplay {
        repos,
        per_page: 10,
        raw_shape: true,
    }
}

#[tokio::test]
async fn grep_app_splits_past_the_1000_hit_cap_and_finds_each_flake_once() {
    let replay = over_the_cap();
    // The fixture serves no hit past the 1,000th of a query, as grep.app does.
    let ask = |page: usize| {
        let reply = replay.answer(&gnfc_scrapers::fixtures::Request {
            number: 1,
            target: format!("/api/search?q=outputs&f.path.pattern=flake.nix&page={page}"),
            host: "grep.app".to_owned(),
            via_proxy: false,
            headers: Vec::new(),
        });
        serde_json::from_slice::<serde_json::Value>(&reply.body).unwrap()
    };
    assert_eq!(ask(100)["hits"]["hits"].as_array().unwrap().len(), 10);
    assert_eq!(ask(101)["hits"]["hits"].as_array().unwrap().len(), 0);
    assert_eq!(ask(101)["hits"]["total"], 1560);

    let env = Env::new().await;
    let server = FixtureServer::start(move |r| replay.answer(r))
        .await
        .unwrap();
    let (report, error) = env.run(&env.grep_app(&server, 100)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(env.repos(|_| true).await, 1200);
    assert_eq!(env.discoveries(|_| true).await, 1320);
    assert_eq!(report.found, 1320, "each flake reported once");
    assert_eq!(env.discoveries(|d| d.path == "nix/flake.nix").await, 120);
    let requests = server.requests();
    assert!(requests
        .iter()
        .all(|r| r.param("page").unwrap().parse::<u32>().unwrap() <= 100));
    assert!(requests
        .iter()
        .any(|r| r.param("f.repo.pattern").as_deref() == Some("o1")));
    assert!(
        env.progress.warnings.lock().unwrap().is_empty(),
        "{:?}",
        env.progress.warnings.lock().unwrap()
    );
}

#[tokio::test]
async fn grep_app_split_scrape_interrupted_resumes_to_each_flake_once() {
    let replay = over_the_cap();
    let env = Env::new().await;
    // A malformed answer deep in the split: the scrape stops there and resumes at that page.
    let server = FixtureServer::start(move |r| {
        if r.number == 120 {
            Reply::new(200, "application/json", r#"{"hits": "#)
        } else {
            replay.answer(r)
        }
    })
    .await
    .unwrap();
    let source = env.grep_app(&server, 100);
    let first = Arc::new(Mutex::new(ScrapeReport::default()));
    let seen = first.clone();
    let error = scrape(&source, &env.db, env.progress.as_ref(), false, &move |r| {
        *seen.lock().unwrap() = r.clone();
    })
    .await
    .unwrap_err();
    assert!(matches!(error, ScrapeError::Malformed { .. }), "{error}");
    let stopped = server.requests()[119].target.clone();
    assert!(stopped.contains("f.repo.pattern="), "{stopped}");
    let (report, error) = env.run(&source).await;
    assert!(error.is_none(), "{error:?}");
    assert!(report.resumed);
    assert_eq!(
        server.requests()[120].target,
        stopped,
        "resumed at that page"
    );
    assert_eq!(
        first.lock().unwrap().found + report.found,
        1320,
        "each flake reported once over both runs"
    );
    assert_eq!(env.discoveries(|_| true).await, 1320);
}

#[tokio::test]
async fn grep_app_429_waits_retry_after_then_continues() {
    let env = Env::new().await;
    let replay = grep_replay(15, false);
    let server = FixtureServer::start(move |r| {
        if r.number == 2 {
            Reply::new(429, "application/json", r#"{"error":"rate limited"}"#)
                .header("retry-after", "1")
        } else {
            replay.answer(r)
        }
    })
    .await
    .unwrap();
    let started = Instant::now();
    let (report, error) = env.run(&env.grep_app(&server, 100)).await;
    assert!(error.is_none(), "{error:?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited");
    assert_eq!(report.found, 15);
    let waits = env.progress.waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0].0.contains("rate limit (429)"), "{waits:?}");
    assert_eq!(waits[0].1, 1);
}

#[tokio::test]
async fn grep_app_malformed_json_stores_nothing_of_that_page_and_resumes_there() {
    let env = Env::new().await;
    let replay = grep_replay(25, true);
    let server = FixtureServer::start(move |r| {
        if r.number == 2 {
            Reply::new(200, "application/json", r#"{"hits": {"hits": [{"repo": "#)
        } else {
            replay.answer(r)
        }
    })
    .await
    .unwrap();
    let source = env.grep_app(&server, 100);
    let error = scrape(&source, &env.db, env.progress.as_ref(), false, &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(error, ScrapeError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("grep.app page 2"), "{error}");
    assert_eq!(env.repos(|_| true).await, 10);
    let (report, error) = env.run(&source).await;
    assert!(error.is_none(), "{error:?}");
    assert!(report.resumed);
    assert_eq!(
        server.requests()[2].param("page").as_deref(),
        Some("2"),
        "resumed at the page that failed"
    );
    assert_eq!(env.repos(|_| true).await, 25);
}

fn github(env: &Env, server: &FixtureServer) -> Github {
    Github::new(
        GithubOptions {
            api: server.url(),
            token: Some("ghp_secret".to_owned()),
            terms: String::new(),
            min_wait_secs: 1,
            max_size: 8000,
        },
        env.shared(),
    )
    .unwrap()
}

#[tokio::test]
async fn github_splits_on_size_past_the_1000_result_cap() {
    let env = Env::new().await;
    let replay = GithubReplay {
        repos: many(1500, "github.com"),
    };
    let server = FixtureServer::start(move |r| replay.answer(r))
        .await
        .unwrap();
    let (report, error) = env.run(&github(&env, &server)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(env.repos(|_| true).await, 1500);
    assert_eq!(report.found, 1500, "split pages are not counted twice");
    let requests = server.requests();
    assert!(requests
        .iter()
        .all(|r| r.param("per_page").as_deref() == Some("100")));
    assert!(requests
        .iter()
        .any(|r| r.param("q").unwrap().contains("size:0..4000")));
    assert!(requests.iter().all(|r| r
        .header("authorization")
        .is_some_and(|a| a.contains("ghp_secret"))));
    assert_eq!(env.repos(|r| r.stars.is_none()).await, 0);
}

#[tokio::test]
async fn github_secondary_rate_limit_403_is_waited_out() {
    let env = Env::new().await;
    let replay = GithubReplay {
        repos: many(30, "github.com"),
    };
    let server = FixtureServer::start(move |r| {
        if r.number == 1 {
            Reply::new(
                403,
                "application/json",
                r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}"#,
            )
            .header("retry-after", "1")
        } else if r.number == 2 {
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            Reply::new(
                403,
                "application/json",
                r#"{"message":"API rate limit exceeded"}"#,
            )
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", &reset.to_string())
        } else {
            replay.answer(r)
        }
    })
    .await
    .unwrap();
    let (report, error) = env.run(&github(&env, &server)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(report.found, 30);
    let waits = env.progress.waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(waits
        .iter()
        .all(|(why, _)| why.contains("GitHub rate limit (403)")));
    assert_eq!(waits[0].1, 1, "retry-after honoured");
}

#[tokio::test]
async fn github_bad_token_is_an_error_naming_the_token_setting() {
    let env = Env::new().await;
    let server = FixtureServer::start(|_| {
        Reply::new(
            401,
            "application/json",
            r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#,
        )
    })
    .await
    .unwrap();
    let source = github(&env, &server);
    let error = scrape(&source, &env.db, env.progress.as_ref(), false, &|_| {})
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("Bad credentials") && text.contains("GITHUB_TOKEN"),
        "{text}"
    );
    assert!(!text.contains("ghp_secret"), "the token is never shown");
    assert!(!format!("{source:?}").contains("ghp_secret"));
}

#[tokio::test]
async fn the_same_repo_from_two_sources_is_one_repo_found_twice() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("repos.txt");
    std::fs::write(
        &list,
        "# seed list\nhttps://github.com/O1/R1\nnot a repo line\ngithub:o7/r7?dir=sub\n",
    )
    .unwrap();
    let list = List::open(list, env.shared()).unwrap();
    let (report, error) = env.run(&list).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!((report.found, report.new_repos), (2, 2));
    let warnings = env.progress.warnings.lock().unwrap().clone();
    assert!(
        warnings.iter().any(|w| w.contains("repos.txt:3")),
        "{warnings:?}"
    );

    let replay = grep_replay(10, true);
    let server = FixtureServer::start(move |r| replay.answer(r))
        .await
        .unwrap();
    let (report, _) = env.run(&env.grep_app(&server, 100)).await;
    assert_eq!(
        (report.found, report.new_repos, report.duplicates),
        (10, 8, 2)
    );
    assert_eq!(env.repos(|_| true).await, 10);
    assert_eq!(
        env.discoveries(|d| d.url == "https://github.com/o1/r1")
            .await,
        2,
        "one repo, found by both sources"
    );
}
