//! Nightly runs lock today's branch heads: with the host's Nix 2.8 and the record-mode proxy
//! `gnfc run` starts, a `github:` input whose branch moved between two runs locks to the new
//! head in the second, though the first one's answers are still in the proxy's cache.

use crate::common::Workspace;

/// Writes the upstream's one file and makes (or moves) its mirror repository; returns the
/// revision `main` now points at.
fn push(ws: &Workspace, text: &str) -> String {
    let repo = ws.join("upstream/gnfc-test/moving");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("data.txt"), text).unwrap();
    let out = ws.gnfc_ok(&[
        "forge",
        "init",
        "--from",
        "upstream",
        "--to",
        ".gnfc/mirror",
    ]);
    let line = out
        .lines()
        .find(|l| l.ends_with(" gnfc-test/moving"))
        .unwrap();
    line[..40].to_owned()
}

/// The drvPath the run's one output evaluated to (its name holds the locked revision).
fn drv_path(ws: &Workspace, run: &str) -> String {
    let report = ws.json(&["report", "--run", run, "--format", "json"]);
    let test = &report["tests"][0];
    assert_eq!(test["outcome"], "pass", "{test}");
    test["outputs"][0]["drv_path"].as_str().unwrap().to_owned()
}

#[test]
fn a_new_run_locks_the_branch_head_of_today() {
    let ws = Workspace::new();
    std::fs::write(
        ws.join("gnfc.toml"),
        "[run]\nexecutor = \"host\"\nimplementations = [\"nix-2.8\"]\nresolvers = [\"native\"]\n",
    )
    .unwrap();
    let consumer = ws.join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    std::fs::write(
        consumer.join("flake.nix"),
        r#"{
  inputs.moving = { url = "github:gnfc-test/moving"; flake = false; };
  outputs = { self, moving }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "locked-${moving.rev}";
      system = "x86_64-linux";
      builder = "/bin/sh";
    };
  };
}
"#,
    )
    .unwrap();
    ws.gnfc_ok(&["--quiet", "corpus", "add", "consumer"]);

    let yesterday = push(&ws, "yesterday\n");
    ws.gnfc_ok(&["--quiet", "run", "--name", "night-1"]);
    let first = drv_path(&ws, "night-1");
    assert!(
        first.ends_with(&format!("-locked-{yesterday}.drv")),
        "{first}"
    );

    let today = push(&ws, "today\n");
    assert_ne!(today, yesterday);
    ws.gnfc_ok(&["--quiet", "run", "--name", "night-2"]);
    let second = drv_path(&ws, "night-2");
    assert!(
        second.ends_with(&format!("-locked-{today}.drv")),
        "night 2 locked {second}, not today's head {today}"
    );
}
