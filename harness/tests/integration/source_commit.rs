//! With the host's Nix 2.8: the git commit each test makes of its source copy is the same in
//! every test and run, so a flake that puts `self.rev` and `self.lastModifiedDate` in a
//! derivation gets one drvPath in every combo and every run — dated by the repo's own commit
//! when it is a git checkout, else by the fixed 2024-01-01.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{combo, corpus_dir, report_tests, Workspace};

/// The default resolvers (a `[resolvers]` table replaces them all) and `kept`, which locks
/// with whatever lock the repo has (none here): a flake without a committed lock then gets a
/// drvPath from two combos of one run, not only from `native`.
const CONFIG: &str = r#"
[run]
implementations = ["nix-2.8"]
resolvers = ["native", "committed", "kept"]
executor = "host"

[proxy]
enabled = false

[resolvers.native]
lock_file = "delete"
lock = ["{nix}", "flake", "lock", "{flake}"]

[resolvers.committed]
lock_file = "require"
lock = ["{nix}", "flake", "lock", "{flake}"]

[resolvers.kept]
lock_file = "keep"
lock = ["{nix}", "flake", "lock", "{flake}"]
"#;

fn corpus_flake() -> PathBuf {
    corpus_dir().join("self-rev-last-modified")
}

/// A git checkout of the corpus flake, committed at 2021-06-01T12:00:00Z.
fn checkout_of_the_flake(dir: &Path) -> PathBuf {
    let checkout = dir.join("checkouts/self-rev-git");
    std::fs::create_dir_all(&checkout).unwrap();
    std::fs::copy(corpus_flake().join("flake.nix"), checkout.join("flake.nix")).unwrap();
    for args in [
        &["init", "--quiet"][..],
        &["add", "flake.nix"],
        &["commit", "--quiet", "-m", "flake"],
    ] {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=someone",
                "-c",
                "user.email=someone@example.org",
            ])
            .args(args)
            .current_dir(&checkout)
            .env("GIT_AUTHOR_DATE", "2021-06-01T12:00:00Z")
            .env("GIT_COMMITTER_DATE", "2021-06-01T12:00:00Z")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
    checkout
}

/// (flake, combo) → the drvPath of its one output, or its "outcome class" when it has none.
fn results(ws: &Workspace, run: &str) -> BTreeMap<(String, String), String> {
    let report = ws.json(&["--quiet", "report", "--run", run, "--format", "json"]);
    report_tests(&report)
        .iter()
        .map(|t| {
            let key = (t["flake"].as_str().unwrap().to_owned(), combo(t));
            let drv = t["outputs"][0]["drv_path"].as_str().map(str::to_owned);
            (
                key,
                drv.unwrap_or_else(|| format!("{} {}", t["outcome"], t["class"])),
            )
        })
        .collect()
}

#[test]
fn self_rev_and_last_modified_give_one_drv_path_in_every_combo_and_run() {
    let ws = Workspace::new();
    std::fs::write(ws.join("gnfc.toml"), CONFIG).unwrap();
    ws.gnfc_ok(&["--quiet", "corpus", "add", corpus_flake().to_str().unwrap()]);
    let checkout = checkout_of_the_flake(ws.path());
    ws.gnfc_ok(&["--quiet", "corpus", "add", checkout.to_str().unwrap()]);
    let run = ["--quiet", "run", "--timeout", "60", "--jobs", "2", "--name"];
    ws.gnfc_ok(&[&run[..], &["first"]].concat());
    // Another second on the clock: a commit made with the wall clock's time would differ.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ws.gnfc_ok(&[&run[..], &["second"]].concat());
    let check = ws.gnfc_ok(&["corpus", "check", "--run", "first"]);
    assert!(check.contains(", 0 mismatches"), "{check}");

    let (first, second) = (results(&ws, "first"), results(&ws, "second"));
    assert_eq!(first, second, "the second run differs from the first");
    for (flake, date) in [
        ("corpus/self-rev-last-modified", "20240101000000"),
        ("checkouts/self-rev-git", "20210601120000"),
    ] {
        let of = |combo: &str| first[&(flake.to_owned(), combo.to_owned())].clone();
        let drv = of("nix-2.8/native");
        assert!(
            drv.starts_with("/nix/store/") && drv.contains(&format!("-self-rev-{date}-")),
            "{flake}: {drv}"
        );
        assert_eq!(of("nix-2.8/kept"), drv, "{flake}: the combos differ");
        // Without a committed lock the committed resolver does not apply.
        assert_eq!(of("nix-2.8/committed"), "\"skipped\" null", "{flake}");
    }
}
