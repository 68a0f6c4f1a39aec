//! End to end with real Nix: the conformance corpus meets its expectations with the host's
//! Nix 2.8 and, in podman, with Nix 2.8, 2.26 and 2.34; and a run killed with SIGKILL and
//! resumed ends exactly like an uninterrupted one.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{combo, corpus_dir, podman_lock, repo_path, report_tests, Workspace};

/// Per-test limit for the corpus: its never-finishing flake must hit it, everything else
/// finishes in a second or two.
const TIMEOUT: &str = "20";

/// (flake, combo) → "outcome class" for every test of a run.
fn results(ws: &Workspace, run: &str) -> BTreeMap<(String, String), String> {
    let report = ws.json(&["report", "--run", run, "--format", "json"]);
    report_tests(&report)
        .iter()
        .map(|t| {
            let key = (t["flake"].as_str().unwrap().to_owned(), combo(t));
            (key, format!("{} {}", t["outcome"], t["class"]))
        })
        .collect()
}

/// How many flakes `gnfc corpus list` holds (its last line: "N flakes").
fn flakes(ws: &Workspace) -> usize {
    let text = ws.gnfc_ok(&["corpus", "list"]);
    text.lines()
        .last()
        .and_then(|l| l.strip_suffix(" flakes"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no flake count in:\n{text}"))
}

fn recorded(ws: &Workspace, run: &str) -> Option<(u64, u64)> {
    let out = ws.command(&["status", run]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(" tests recorded"))?;
    let mut words = line.split_whitespace();
    let done = words.next()?.parse().ok()?;
    let planned = words.nth(1)?.parse().ok()?;
    Some((done, planned))
}

/// Processes whose command line mentions `needle` (sandboxes live under the storage dir).
fn processes_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect()
}

/// A workspace holding the conformance corpus, with the mirror the default [proxy] serves
/// the forge-* flakes' upstreams from.
fn with_corpus() -> Workspace {
    let ws = Workspace::new().quiet();
    ws.gnfc_ok(&["corpus", "add", corpus_dir().to_str().unwrap()]);
    ws.gnfc_ok(&[
        "forge",
        "init",
        "--from",
        repo_path("forge").to_str().unwrap(),
        "--to",
        ".gnfc/mirror",
    ]);
    ws
}

/// Runs the corpus as `run` with `args` and asserts every expectation is met.
fn run_and_check(ws: &Workspace, run: &str, args: &[&str]) -> BTreeMap<(String, String), String> {
    let mut command = vec!["run", "--name", run, "--timeout", TIMEOUT, "--jobs", "2"];
    command.extend_from_slice(args);
    ws.gnfc_ok(&command);
    let check = ws
        .command(&["corpus", "check", "--strict", "--run", run])
        .output()
        .unwrap();
    let check_text = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "corpus expectations not met:\n{check_text}"
    );
    assert!(check_text.contains(", 0 mismatches"), "{check_text}");
    assert!(!check_text.contains("no expect.toml"), "{check_text}");
    // Every planned test ran: a pending one would be a mismatch above, and the plan
    // itself holds every corpus flake with every combo.
    let (done, planned) = recorded(ws, run).unwrap();
    assert_eq!(done, planned, "{run}: {done} of {planned} tests recorded");
    let results = results(ws, run);
    assert_eq!(results.len() as u64, planned);
    results
}

/// The host's Nix 2.8 on the host executor, which is also what `auto` falls back to.
const HOST: [&str; 4] = ["--executor", "host", "--impl", "nix-2.8"];

#[test]
fn corpus_in_podman_meets_expectations_for_every_nix_version() {
    let _podman = podman_lock();
    let ws = with_corpus();
    let results = run_and_check(
        &ws,
        "podman",
        &[
            "--executor",
            "podman",
            "--impl",
            "nix-2.8,nix-2.26,nix-2.34",
        ],
    );
    // Both resolvers for every flake, with every version.
    let per_version = 2 * flakes(&ws);
    for version in ["nix-2.8", "nix-2.26", "nix-2.34"] {
        let ran = results
            .keys()
            .filter(|(_, combo)| combo.starts_with(&format!("{version}/")))
            .count();
        assert_eq!(ran, per_version, "tests run with {version}");
    }
    // The versions really differ: the corpus documents behaviours that changed.
    let outcome = |flake: &str, combo: &str| results[&(flake.to_owned(), combo.to_owned())].clone();
    assert_ne!(
        outcome("corpus/url-and-follows", "nix-2.8/native"),
        outcome("corpus/url-and-follows", "nix-2.34/native")
    );
}

#[test]
fn corpus_meets_expectations_and_survives_sigkill() {
    let ws = with_corpus();

    // 1. An uninterrupted run meets every expectation.
    let full = run_and_check(&ws, "full", &HOST);
    assert_eq!(full.len(), 2 * flakes(&ws), "tests run");
    // Every failure of the corpus is named: no stderr is left to the `unknown` class.
    let unknown = ws.gnfc_ok(&["classify", "--unknown", "--run", "full"]);
    assert!(
        unknown.contains(": 0 of ") && unknown.contains(" are unknown with the current rules"),
        "{unknown}"
    );

    // 2. The same plan, killed with SIGKILL part-way.
    let mut child = ws
        .command(&[
            "run",
            "--name",
            "killed",
            "--timeout",
            TIMEOUT,
            "--jobs",
            "2",
            HOST[0],
            HOST[1],
            HOST[2],
            HOST[3],
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never got going"
        );
        if let Some((done, planned)) = recorded(&ws, "killed") {
            assert!(done < planned, "the run finished before it could be killed");
            if done >= planned / 3 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (done_at_kill, planned) = recorded(&ws, "killed").unwrap();
    assert!(done_at_kill < planned);
    // Its evaluations died with it (parent-death signal), not left running as orphans.
    std::thread::sleep(Duration::from_millis(500));
    let orphans = processes_mentioning(&ws.join(".gnfc/scratch"));
    assert!(orphans.is_empty(), "orphaned processes: {orphans:?}");

    // 3. Resuming runs only what is missing and ends exactly like the uninterrupted run.
    ws.gnfc_ok(&["run", "--resume", "killed", "--jobs", "2"]);
    assert_eq!(recorded(&ws, "killed"), Some((planned, planned)));
    let resumed = results(&ws, "killed");
    assert_eq!(resumed, full);
    let listing = ws.gnfc_ok(&["status"]);
    assert!(
        listing.lines().filter(|l| l.contains("finished")).count() == 2,
        "{listing}"
    );
}
