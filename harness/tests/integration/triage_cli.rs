//! The triage commands (`show`, `history`, `lock-diff`) on real runs with the host's Nix 2.8,
//! and gnfc's exit statuses, each from a real cause.
//!
//! The recorded workspace: a flake with one `git+file:` input and a committed flake.lock
//! pinning the input's first commit, while the input has a second; run `r1` with the
//! `native` and `committed` resolvers (both pass, locked to different commits), then the
//! flake is broken (it selects an attribute the input lacks) and run `r2` fails in both.

use std::path::Path;
use std::process::Command;

use crate::common::{text, Workspace};

/// The flake's label: `owner/repo` from its last two path components.
const FLAKE: &str = "flakes/demo";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

fn flake_nix(dep: &Path, attr: &str) -> String {
    format!(
        r#"{{
  inputs.dep.url = "git+file://{}";
  outputs = {{ self, dep }}: {{
    packages.x86_64-linux.hello = derivation {{
      name = "hello";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo ${{toString dep.{attr}}} > $out" ];
    }};
  }};
}}
"#,
        dep.display()
    )
}

/// A workspace holding runs `r1` (passing) and `r2` (broken), as the module says.
fn recorded() -> Workspace {
    let ws = Workspace::new();
    let dep = ws.join("dep");
    std::fs::create_dir(&dep).unwrap();
    std::fs::write(
        dep.join("flake.nix"),
        "{ outputs = { self }: { value = 1; }; }\n",
    )
    .unwrap();
    git(&dep, &["init", "-q"]);
    git(&dep, &["add", "."]);
    git(&dep, &["commit", "-qm", "one"]);

    let repo = ws.join(FLAKE);
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("flake.nix"), flake_nix(&dep, "value")).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    let lock = Command::new("nix")
        .current_dir(&repo)
        .args([
            "--extra-experimental-features",
            "nix-command flakes",
            "flake",
            "lock",
        ])
        .output()
        .unwrap();
    assert!(lock.status.success(), "nix flake lock: {}", text(&lock));
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "locked"]);

    std::fs::write(
        dep.join("flake.nix"),
        "{ outputs = { self }: { value = 2; }; }\n",
    )
    .unwrap();
    git(&dep, &["commit", "-qam", "two"]);

    let run = |name: &str| {
        ws.gnfc_ok(&["--quiet", "corpus", "add", FLAKE]);
        ws.gnfc_ok(&[
            "--quiet",
            "run",
            "--name",
            name,
            "--executor",
            "host",
            "--impl",
            "nix-2.8",
            "--resolver",
            "native,committed",
            "--timeout",
            "60",
        ]);
    };
    run("r1");
    std::fs::write(repo.join("flake.nix"), flake_nix(&dep, "nosuch")).unwrap();
    git(&repo, &["commit", "-qam", "broken"]);
    run("r2");
    ws
}

/// The test ids of the flake per run and combo, from `gnfc history --format json`.
fn test_id(ws: &Workspace, run: &str, combo: &str) -> i64 {
    let history = ws.json(&["history", FLAKE, "--format", "json"]);
    let column = history["combos"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == combo)
        .unwrap();
    let row = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == run)
        .unwrap();
    row["results"][column]["test_id"].as_i64().unwrap()
}

fn code(ws: &Workspace, args: &[&str]) -> (Option<i32>, String) {
    let out = ws.gnfc(args);
    (out.status.code(), text(&out))
}

/// Runs gnfc, requiring exit status `status` and `message` in what it printed.
fn fails_with(ws: &Workspace, args: &[&str], status: i32, message: &str) {
    let (got, out) = code(ws, args);
    assert_eq!(got, Some(status), "gnfc {args:?}: {out}");
    assert!(
        out.contains(message),
        "gnfc {args:?} does not say {message:?}: {out}"
    );
}

#[test]
fn show_marks_the_line_the_winning_rule_matched() {
    let ws = recorded();
    let broken = test_id(&ws, "r2", "nix-2.8/native");
    let out = ws.gnfc_ok(&["show", &broken.to_string()]);
    assert!(out.contains(&format!("test {broken} of run 'r2'")), "{out}");
    assert!(
        out.contains(&format!("flake     {FLAKE} (snapshot ")),
        "{out}"
    );
    assert!(out.contains("combo     nix-2.8/native"), "{out}");
    assert!(
        out.contains("outcome   partial (missing-attribute)"),
        "{out}"
    );
    assert!(out.contains("detail    nosuch"), "{out}");
    assert!(out.contains("timings   lock "), "{out}");
    assert!(out.contains("== lock stderr"), "{out}");
    assert!(
        out.contains("== eval of packages.x86_64-linux.hello stderr"),
        "{out}"
    );
    assert!(
        out.contains("the rule that wins: missing-attribute [flake]"),
        "{out}"
    );
    // The matched line is marked and underlined where the rule matched.
    let lines: Vec<&str> = out.lines().collect();
    let marked = lines
        .iter()
        .position(|l| l.starts_with('>'))
        .unwrap_or_else(|| panic!("no marked line:\n{out}"));
    assert!(
        lines[marked].ends_with("| error: attribute 'nosuch' missing"),
        "{out}"
    );
    let caret = lines[marked + 1];
    let column = caret.find('^').unwrap();
    assert!(
        lines[marked][column..].starts_with("attribute 'nosuch' missing"),
        "{out}"
    );
    // The lockfile, pretty, and the output with its status.
    assert!(out.contains("== lockfile (1 inputs, sha256 "), "{out}");
    assert!(out.contains("\n  \"nodes\": {\n"), "{out}");
    assert!(
        out.contains("fail     packages.x86_64-linux.hello  class missing-attribute [flake]"),
        "{out}"
    );

    let passed = test_id(&ws, "r1", "nix-2.8/native");
    let out = ws.gnfc_ok(&["show", &passed.to_string()]);
    assert!(out.contains("outcome   pass"), "{out}");
    assert!(
        !out.lines().any(|l| l.starts_with('>')),
        "a pass has no rule: {out}"
    );
    let output = out
        .lines()
        .find(|l| l.starts_with("pass     packages.x86_64-linux.hello  /nix/store/"))
        .unwrap_or_else(|| panic!("no drvPath:\n{out}"));
    assert!(output.contains("-hello.drv  ("), "{output}");

    fails_with(
        &ws,
        &["show", "999"],
        2,
        "error: no test 999 (the database holds tests 1–4)",
    );
}

#[test]
fn history_marks_where_each_combo_started_failing() {
    let ws = recorded();
    let out = ws.gnfc_ok(&["history", FLAKE]);
    assert!(
        out.starts_with(&format!("{FLAKE}: 2 runs, 2 combos\n")),
        "{out}"
    );
    let r1 = out.lines().find(|l| l.starts_with("r1 ")).unwrap();
    let r2 = out.lines().find(|l| l.starts_with("r2 ")).unwrap();
    assert_eq!(r1.matches("pass").count(), 2, "{out}");
    assert_eq!(
        r2.matches("partial (missing-attribute) *").count(),
        2,
        "{out}"
    );
    // The two runs tested two snapshots of the flake.
    let revision = |line: &str| line.split_whitespace().nth(3).unwrap().to_owned();
    assert_ne!(revision(r1), revision(r2), "{out}");
    for combo in ["nix-2.8/committed", "nix-2.8/native"] {
        let test = test_id(&ws, "r2", combo);
        assert!(
            out.contains(&format!(
                "* {combo}: started failing in run 'r2' (test {test}): pass → partial (missing-attribute)"
            )),
            "{out}"
        );
    }
    // By a snapshot's id, the same history.
    let json = ws.json(&["history", "1", "--format", "json"]);
    assert_eq!(json["flake"], FLAKE);
    assert_eq!(json["changes"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(json["changes"][0]["kind"], "started-failing", "{json}");

    fails_with(
        &ws,
        &["history", "nobody/nothing"],
        2,
        &format!("error: no flake 'nobody/nothing' (the corpus holds {FLAKE})"),
    );
}

#[test]
fn lock_diff_names_the_input_the_resolvers_locked_apart() {
    let ws = recorded();
    let native = test_id(&ws, "r1", "nix-2.8/native").to_string();
    let committed = test_id(&ws, "r1", "nix-2.8/committed").to_string();
    let out = ws.gnfc_ok(&["lock-diff", &native, &committed]);
    assert!(
        out.contains(&format!(
            "a: test {native} ({FLAKE}, nix-2.8/native, run 1): pass"
        )),
        "{out}"
    );
    assert!(
        out.contains("nodes locked differently (a → b):\n  dep\n    rev: "),
        "{out}"
    );
    assert!(out.contains("    narHash: sha256-"), "{out}");
    assert!(!out.contains("only in"), "the same nodes: {out}");
    assert!(!out.contains("inputs that differ"), "the same edges: {out}");

    let json = ws.json(&["lock-diff", &native, &committed, "--format", "json"]);
    assert_eq!(json["a"]["resolver"], "native");
    assert_eq!(json["b"]["resolver"], "committed");
    let diff = &json["diff"];
    assert_eq!(diff["only_in_a"], serde_json::json!([]), "{json}");
    assert_eq!(diff["edges"], serde_json::json!([]), "{json}");
    assert_eq!(diff["changed"][0]["node"], "dep", "{json}");
    let fields: Vec<&str> = diff["changed"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["rev", "narHash"], "{json}");
    let (a, b) = (
        &diff["changed"][0]["fields"][0]["a"],
        &diff["changed"][0]["fields"][0]["b"],
    );
    assert_ne!(a, b);

    let same = ws.gnfc_ok(&["lock-diff", &native, &native]);
    assert!(same.contains("lock the same nodes alike"), "{same}");
    fails_with(
        &ws,
        &["lock-diff", &native, "4000"],
        2,
        "no test 4000 (the database holds tests 1–4)",
    );
}

#[test]
fn one_means_a_failed_check_and_nothing_else() {
    let ws = recorded();
    let (status, out) = code(&ws, &["diff", "r1", "r2", "--fail-on-regression"]);
    assert_eq!(status, Some(1), "a regression: {out}");
    assert!(out.contains(FLAKE), "{out}");
    for (args, why) in [
        (&["diff", "r1", "r2"][..], "without --fail-on-regression"),
        (
            &["diff", "r1", "r1", "--fail-on-regression"],
            "nothing changed",
        ),
        (
            &["diff", "r2", "r1", "--fail-on-regression"],
            "a fix is no regression",
        ),
        (
            &["corpus", "check", "--run", "r1"],
            "no expectation is no mismatch",
        ),
    ] {
        let (status, out) = code(&ws, args);
        assert_eq!(status, Some(0), "{why}: {out}");
    }
    // --strict fails on a flake without expect.toml; a run that does not exist is no
    // regression but a wrong command line.
    let strict = ["corpus", "check", "--run", "r1", "--strict"];
    fails_with(&ws, &strict, 1, &format!("NO EXPECTATION {FLAKE}"));
    let missing = ["diff", "r1", "nightly", "--fail-on-regression"];
    fails_with(&ws, &missing, 2, "no run named 'nightly'");
}

#[test]
fn usage_errors_exit_2_and_help_lists_every_status() {
    let ws = Workspace::new();
    for args in [
        &["frobnicate"][..],
        &["show", "twelve"],
        &["lock-diff", "1"],
        &["history"],
    ] {
        let (status, out) = code(&ws, args);
        assert_eq!(status, Some(2), "{args:?}: {out}");
    }
    let (status, help) = code(&ws, &["--help"]);
    assert_eq!(status, Some(0), "{help}");
    for line in [
        "Exit status:",
        "  1    a check failed",
        "  2    usage",
        "  101  any other error",
    ] {
        assert!(help.contains(line), "{line:?} missing from --help:\n{help}");
    }
    fails_with(
        &ws,
        &["show", "1"],
        2,
        "no test 1 (the database holds no tests yet",
    );
}

#[test]
fn a_config_typo_exits_3() {
    let ws = Workspace::new();
    std::fs::write(ws.join("gnfc.toml"), "[limits]\ntimeout_sec = 5\n").unwrap();
    fails_with(
        &ws,
        &["status"],
        3,
        "gnfc.toml:2:1: unknown field `timeout_sec`",
    );
}

#[test]
fn a_database_gnfc_cannot_read_exits_4() {
    let ws = Workspace::new();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(ws.join("results.db"), &garbage).unwrap();
    for args in [
        &["--db", "results.db", "status"][..],
        &["--db", "results.db", "show", "1"],
    ] {
        fails_with(&ws, args, 4, "results.db is not a gnfc database");
    }
    assert_eq!(std::fs::read(ws.join("results.db")).unwrap(), garbage);
}

#[test]
fn partly_done_work_exits_6() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.join("empty")).unwrap();
    fails_with(&ws, &["corpus", "add", "empty"], 6, "holds no flake.nix");
}
