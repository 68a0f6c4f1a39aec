//! Hostile flakes (`corpus-hostile/`) in real podman with small limits: each is stopped by its
//! limit and classified, and the run goes on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::{podman_lock, repo_path, report_tests, Workspace};

const CONFIG: &str = r#"
[run]
executor = "podman"
implementations = ["nix-2.8"]
resolvers = ["native"]
jobs = 2

[limits]
timeout_secs = 20
memory = "512MiB"
pids = 256
"#;

#[test]
fn hostile_flakes_are_stopped_by_their_limits_and_classified() {
    let _podman = podman_lock();
    let ws = Workspace::new();
    std::fs::write(ws.join("gnfc.toml"), CONFIG).unwrap();
    let hostile = repo_path("corpus-hostile");
    ws.gnfc_ok(&["--quiet", "corpus", "add", hostile.to_str().unwrap()]);

    let started = Instant::now();
    ws.gnfc_ok(&["--quiet", "run", "--name", "hostile"]);
    // Three tests, two at a time, none may outlive its 20 s limit by much.
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "{:?}",
        started.elapsed()
    );

    let report = ws.json(&["--quiet", "report", "--run", "hostile", "--format", "json"]);
    let results: BTreeMap<String, (String, String)> = report_tests(&report)
        .iter()
        .map(|t| {
            let flake = t["flake"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            let outcome = t["outcome"].as_str().unwrap().to_owned();
            let class = t["class"].as_str().unwrap_or("").to_owned();
            (flake, (outcome, class))
        })
        .collect();

    // The fork bomb's container has the pids limit gnfc.toml gave: the flake reads pids.max
    // from inside it into a drvPath, evaluated before the bomb. The bomb itself then ends in
    // one of two ways, each checked on its own: its builder fails once forks fail (the limit
    // stopped it), or, when the bomb's processes keep replacing each other past the test's
    // time, the timeout ends it; anything else is a failure.
    let (outcome, class) = &results["fork-bomb"];
    match (outcome.as_str(), class.as_str()) {
        ("partial", "build-failed") => {}
        ("timeout", "timeout") => eprintln!("fork-bomb: ended by the timeout, not by its builder"),
        other => panic!("fork-bomb: {other:?}, neither stopped by its limits nor timed out"),
    }
    let fork_bomb = report_tests(&report)
        .iter()
        .find(|t| t["flake"].as_str().unwrap().ends_with("/fork-bomb"))
        .unwrap();
    let pids = fork_bomb["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["attr_path"].as_str().unwrap().ends_with(".pids-limit"))
        .unwrap();
    assert!(
        pids["drv_path"]
            .as_str()
            .is_some_and(|d| d.ends_with("-pids-max-256.drv")),
        "the container's pids.max is not the configured 256: {pids}"
    );
    let (outcome, class) = &results["memory-hog"];
    assert_eq!(outcome, "partial", "memory-hog: {class}");
    assert!(
        class == "oom" || class == "out-of-memory",
        "memory-hog: {class}"
    );
    assert_eq!(
        results["long-sleep"],
        ("timeout".to_owned(), "timeout".to_owned())
    );
    // The harmless outputs were still evaluated where the limit struck only one output.
    for test in report_tests(&report) {
        if test["outcome"] == "partial" {
            let outputs = test["outputs"].as_array().unwrap();
            assert!(
                outputs.iter().any(|o| o["status"] == "pass"),
                "{}",
                test["flake"]
            );
        }
    }
}
