//! Fresh upstreams for nightly runs, through the real proxy and the mirror forge: in record
//! mode with a pin, branch heads, git refs and the flake registry are fetched once per pin —
//! a new run sees a branch that moved, one run (resumed after a kill included) keeps what
//! it saw first — while answers a commit hash pins are fetched once for every run, and
//! replay mode fetches nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::forge::{answer, answer_with, forge, json, mirror_config, Answer, Forge};
use common::{dirs, start, TestProxy};
use gnfc_proxy::{Mode, OFFLINE_MISS_STATUS};
use sha2::{Digest, Sha256};

const GITHUB_HEAD: &str = "https://api.github.com/repos/octo/hello/commits/HEAD";
const GITLAB_HEAD: &str =
    "https://gitlab.com/api/v4/projects/octo%2Fhello/repository/commits?ref_name=main";
const GIT_REFS: &str = "https://git.sr.ht/octo/hello/info/refs";
const REGISTRY: &str = "https://channels.nixos.org/flake-registry.json";
const BRANCH_ARCHIVE: &str = "https://github.com/octo/hello/archive/main.tar.gz";

/// What one run's requests see of `octo/hello`'s head and of the registry.
#[derive(Debug)]
struct Seen {
    /// The head as GitHub's and GitLab's commit APIs and git's `info/refs` give it.
    revs: Vec<String>,
    registry: String,
    /// What the cache did for each of the four requests.
    cache: Vec<String>,
}

impl Seen {
    async fn of(proxy: &TestProxy) -> Seen {
        let answers = [
            answer(proxy, GITHUB_HEAD).await,
            answer(proxy, GITLAB_HEAD).await,
            answer(proxy, GIT_REFS).await,
            answer(proxy, REGISTRY).await,
        ];
        assert!(
            answers.iter().all(|a| a.status == 200),
            "{:?}",
            labels(&answers)
        );
        let refs = String::from_utf8(answers[2].body.clone()).unwrap();
        Seen {
            revs: vec![
                json(&answers[0].body)["sha"].as_str().unwrap().to_owned(),
                json(&answers[1].body)[0]["id"].as_str().unwrap().to_owned(),
                refs.split('\t').next().unwrap().to_owned(),
            ],
            registry: String::from_utf8(answers[3].body.clone()).unwrap(),
            cache: labels(&answers),
        }
    }

    /// Every source names `rev`, the registry is `registry`, every answer was a `cache`.
    fn check(&self, rev: &str, registry: &str, cache: &str) {
        assert!(self.revs.iter().all(|r| r == rev), "want {rev}: {self:?}");
        assert_eq!(self.registry, registry, "{self:?}");
        assert!(
            self.cache.iter().all(|c| c == cache),
            "want {cache}: {self:?}"
        );
    }
}

fn labels(answers: &[Answer]) -> Vec<String> {
    answers.iter().map(|a| a.cache.clone()).collect()
}

fn registry(forge: &Forge, text: &str) {
    std::fs::write(forge.mirror.join("flake-registry.json"), text).unwrap();
}

const REGISTRY_1: &str = r#"{"flakes":[],"version":2}"#;
const REGISTRY_2: &str = r#"{"flakes":[{"from":{"id":"hello","type":"indirect"},"to":{"owner":"octo","repo":"hello","type":"github"}}],"version":2}"#;

/// A record-mode proxy on `dir` whose only upstream is the mirror.
async fn recording(dir: &Path, forge: &Forge, pin: Option<&str>) -> TestProxy {
    let mut config = mirror_config(dir, Some(&forge.mirror), Mode::Record);
    config.pin = pin.map(str::to_owned);
    start(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_sees_the_branch_and_registry_as_they_are_now() {
    let mut forge = forge().await;
    registry(&forge, REGISTRY_1);
    let dir = dirs();
    let rev1 = forge.rev.clone();
    let night1 = recording(dir.path(), &forge, Some("nightly@1")).await;
    Seen::of(&night1).await.check(&rev1, REGISTRY_1, "miss");
    let archive1 = answer(&night1, BRANCH_ARCHIVE).await;
    night1.handle.shutdown().await;

    let rev2 = forge.advance("pushed overnight\n").await;
    registry(&forge, REGISTRY_2);
    // Without a pin, what was recorded is served forever: yesterday's head.
    let unpinned = recording(dir.path(), &forge, None).await;
    Seen::of(&unpinned).await.check(&rev1, REGISTRY_1, "hit");
    unpinned.handle.shutdown().await;
    // The next night's run fetches every mutable answer afresh, the branch archive too.
    let night2 = recording(dir.path(), &forge, Some("nightly@2")).await;
    Seen::of(&night2).await.check(&rev2, REGISTRY_2, "miss");
    let archive2 = answer(&night2, BRANCH_ARCHIVE).await;
    let by_hash = answer(
        &night2,
        &format!("https://github.com/octo/hello/archive/{rev2}.tar.gz"),
    )
    .await;
    assert_eq!(archive2.status, 200);
    assert!(
        archive2.body != archive1.body,
        "the branch archive is yesterday's"
    );
    assert!(
        archive2.body == by_hash.body,
        "the branch archive is not the new head's"
    );
    night2.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_sees_one_upstream_state_even_when_killed_and_resumed() {
    let mut forge = forge().await;
    registry(&forge, REGISTRY_1);
    let dir = dirs();
    let rev1 = forge.rev.clone();
    let run = recording(dir.path(), &forge, Some("nightly@1")).await;
    Seen::of(&run).await.check(&rev1, REGISTRY_1, "miss");
    // Pushed in the middle of the run: its later requests (a retry, another combo) still
    // see the state it started with.
    forge.advance("pushed during the run\n").await;
    registry(&forge, REGISTRY_2);
    Seen::of(&run).await.check(&rev1, REGISTRY_1, "hit");
    // Killed (no shutdown) and resumed by a new process with the same pin.
    drop(run);
    let resumed = recording(dir.path(), &forge, Some("nightly@1")).await;
    Seen::of(&resumed).await.check(&rev1, REGISTRY_1, "hit");

    // Concurrent first requests of a mutable URL: one upstream fetch, one answer for all.
    let url = "https://api.github.com/repos/octo/hello/commits/main";
    let answers = at_once(&resumed, url, 8).await;
    let misses = answers.iter().filter(|a| a.cache == "miss").count();
    assert_eq!(misses, 1, "{:?}", labels(&answers));
    assert!(answers.iter().all(|a| a.body == answers[0].body));
    // A pin is per URL: one first asked for after the push gets the new head.
    assert_eq!(json(&answers[0].body)["sha"], forge.rev.as_str());
    resumed.handle.shutdown().await;
}

/// `n` requests for `url` at once.
async fn at_once(proxy: &TestProxy, url: &str, n: usize) -> Vec<Answer> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, url) = (proxy.client(), url.to_owned());
            tokio::spawn(async move { answer_with(&client, &url).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_commit_hash_pins_is_fetched_once_for_every_run() {
    let mut forge = forge().await;
    let dir = dirs();
    let rev1 = forge.rev.clone();
    let pinned = [
        format!("https://api.github.com/repos/octo/hello/commits/{rev1}"),
        format!("https://api.github.com/repos/octo/hello/tarball/{rev1}"),
        format!("https://github.com/octo/hello/archive/{rev1}.tar.gz"),
    ];
    let night1 = recording(dir.path(), &forge, Some("nightly@1")).await;
    let mut first = Vec::new();
    for url in &pinned {
        let got = answer(&night1, url).await;
        assert_eq!((got.status, got.cache.as_str()), (200, "miss"), "{url}");
        first.push(got.body);
    }
    night1.handle.shutdown().await;
    forge
        .advance(
            "pushed overnight
",
        )
        .await;
    let night2 = recording(dir.path(), &forge, Some("nightly@2")).await;
    for (url, body) in pinned.iter().zip(&first) {
        let got = answer(&night2, url).await;
        assert_eq!(got.cache, "hit", "{url} was fetched again");
        assert!(&got.body == body, "{url} changed");
    }
    // The same run refetches what can move.
    assert_eq!(answer(&night2, GITHUB_HEAD).await.cache, "miss");
    night2.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_serves_the_recording_and_fetches_nothing_whatever_the_pin() {
    let mut forge = forge().await;
    registry(&forge, REGISTRY_1);
    let dir = dirs();
    let rev1 = forge.rev.clone();
    let record = recording(dir.path(), &forge, Some("nightly@1")).await;
    Seen::of(&record).await.check(&rev1, REGISTRY_1, "miss");
    record.handle.shutdown().await;
    forge
        .advance(
            "pushed after the recording
",
        )
        .await;
    registry(&forge, REGISTRY_2);
    // The mirror stays configured: were replay to fetch, it would see the new head.
    let mut config = mirror_config(dir.path(), Some(&forge.mirror), Mode::Replay);
    config.pin = Some("replay@2".into());
    let replay = start(config).await;
    Seen::of(&replay).await.check(&rev1, REGISTRY_1, "hit");
    let never_recorded = answer(
        &replay,
        "https://api.github.com/repos/octo/hello/commits/main",
    )
    .await;
    assert_eq!(never_recorded.status, OFFLINE_MISS_STATUS);
    assert!(String::from_utf8_lossy(&never_recorded.body).contains("replay mode"));
    replay.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_pin_leaves_no_bodies_behind() {
    let mut forge = forge().await;
    let dir = dirs();
    let night1 = recording(dir.path(), &forge, Some("nightly@1")).await;
    let yesterday = answer(&night1, GITHUB_HEAD).await.body;
    night1.handle.shutdown().await;
    forge
        .advance(
            "pushed overnight
",
        )
        .await;
    let night2 = recording(dir.path(), &forge, Some("nightly@2")).await;
    let today = answer(&night2, GITHUB_HEAD).await.body;
    night2.handle.shutdown().await;
    assert!(today != yesterday);
    // Night 1 was killed, not finished: its answer stays, for its resume.
    let blob = |body: &[u8]| {
        let sha = hex::encode(Sha256::digest(body));
        dir.path().join("cache/blobs").join(&sha[..2]).join(sha)
    };
    assert!(blob(&yesterday).exists() && blob(&today).exists());
    let resumed = recording(dir.path(), &forge, Some("nightly@1")).await;
    assert!(answer(&resumed, GITHUB_HEAD).await.body == yesterday);
    // Finished: its pins and the bodies only they used go; the latest answer stays.
    resumed.handle.release_pin().await.unwrap();
    assert!(!blob(&yesterday).exists(), "a released pin's body was kept");
    assert!(blob(&today).exists());
    assert!(answer(&resumed, GITHUB_HEAD).await.body == today);
    resumed.handle.shutdown().await;
}
