//! End to end with real Nix: the conformance corpus meets its expectations with the host's
//! Nix 2.8 and, in podman, with Nix 2.8, 2.26 and 2.34; and a run killed with SIGKILL and
//! resumed ends exactly like an uninterrupted one.

// Test helpers panic on anything unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const GNFC: &str = env!("CARGO_BIN_EXE_gnfc");

/// Per-test limit for the corpus: its never-finishing flake must hit it, everything else
/// finishes in a second or two.
const TIMEOUT: &str = "20";

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(GNFC);
        cmd.current_dir(self.dir.path())
            .env_remove("GNFC_DB")
            .arg("--quiet")
            .args(args);
        cmd
    }

    fn gnfc(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "gnfc {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn storage(&self) -> PathBuf {
        self.dir.path().join(".gnfc")
    }

    /// (flake, combo) → "outcome class" for every test of a run.
    fn results(&self, run: &str) -> BTreeMap<(String, String), String> {
        let out = self.gnfc(&["report", "--run", run, "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let key = (
                    t["flake"].as_str().unwrap().to_owned(),
                    format!(
                        "{}/{}",
                        t["implementation"].as_str().unwrap(),
                        t["resolver"].as_str().unwrap()
                    ),
                );
                (key, format!("{} {}", t["outcome"], t["class"]))
            })
            .collect()
    }

    /// How many flakes `gnfc corpus list` holds (its last line: "N flakes").
    fn flakes(&self) -> usize {
        let out = self.gnfc(&["corpus", "list"]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .last()
            .and_then(|l| l.strip_suffix(" flakes"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no flake count in:\n{text}"))
    }

    fn recorded(&self, run: &str) -> Option<(u64, u64)> {
        let out = self.command(&["status", run]).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find(|l| l.contains(" tests recorded"))?;
        let mut words = line.split_whitespace();
        let done = words.next()?.parse().ok()?;
        let planned = words.nth(1)?.parse().ok()?;
        Some((done, planned))
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus")
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

impl Workspace {
    /// A workspace holding the conformance corpus, with the mirror the default [proxy]
    /// serves the forge-* flakes' upstreams from.
    fn with_corpus() -> Workspace {
        let ws = Workspace::new();
        let corpus = corpus_dir();
        ws.gnfc(&["corpus", "add", corpus.to_str().unwrap()]);
        let forge = corpus.join("../forge");
        ws.gnfc(&[
            "forge",
            "init",
            "--from",
            forge.to_str().unwrap(),
            "--to",
            ".gnfc/mirror",
        ]);
        ws
    }

    /// Runs the corpus as `run` with `args` and asserts every expectation is met.
    fn run_and_check(&self, run: &str, args: &[&str]) -> BTreeMap<(String, String), String> {
        let mut command = vec!["run", "--name", run, "--timeout", TIMEOUT, "--jobs", "2"];
        command.extend_from_slice(args);
        self.gnfc(&command);
        let check = self
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
        let (done, planned) = self.recorded(run).unwrap();
        assert_eq!(done, planned, "{run}: {done} of {planned} tests recorded");
        let results = self.results(run);
        assert_eq!(results.len() as u64, planned);
        results
    }
}

/// The host's Nix 2.8 on the host executor, which is also what `auto` falls back to.
const HOST: [&str; 4] = ["--executor", "host", "--impl", "nix-2.8"];

#[test]
fn corpus_in_podman_meets_expectations_for_every_nix_version() {
    let ws = Workspace::with_corpus();
    let results = ws.run_and_check(
        "podman",
        &[
            "--executor",
            "podman",
            "--impl",
            "nix-2.8,nix-2.26,nix-2.34",
        ],
    );
    // Both resolvers for every flake, with every version.
    let per_version = 2 * ws.flakes();
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
    let ws = Workspace::with_corpus();

    // 1. An uninterrupted run meets every expectation.
    let full = ws.run_and_check("full", &HOST);
    assert_eq!(full.len(), 2 * ws.flakes(), "tests run");
    // Every failure of the corpus is named: no stderr is left to the `unknown` class.
    let unknown = ws.gnfc(&["classify", "--unknown", "--run", "full"]);
    let unknown = String::from_utf8_lossy(&unknown.stdout);
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
        if let Some((done, planned)) = ws.recorded("killed") {
            assert!(done < planned, "the run finished before it could be killed");
            if done >= planned / 3 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (done_at_kill, planned) = ws.recorded("killed").unwrap();
    assert!(done_at_kill < planned);
    // Its evaluations died with it (parent-death signal), not left running as orphans.
    std::thread::sleep(Duration::from_millis(500));
    let orphans = processes_mentioning(&ws.storage().join("scratch"));
    assert!(orphans.is_empty(), "orphaned processes: {orphans:?}");

    // 3. Resuming runs only what is missing and ends exactly like the uninterrupted run.
    ws.gnfc(&["run", "--resume", "killed", "--jobs", "2"]);
    assert_eq!(ws.recorded("killed"), Some((planned, planned)));
    let resumed = ws.results("killed");
    assert_eq!(resumed, full);
    let status = ws.gnfc(&["status"]);
    let listing = String::from_utf8_lossy(&status.stdout);
    assert!(
        listing.lines().filter(|l| l.contains("finished")).count() == 2,
        "{listing}"
    );
}
