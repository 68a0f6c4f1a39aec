//! The classifier's commands end to end with the host's real Nix: a run with failures no
//! built-in rule names, then `gnfc classify --unknown`, `--explain`, `--interactive` (driven
//! through stdin), reviewed overrides and user rule files from gnfc.toml, and the Prometheus
//! metrics (`gnfc metrics --textfile`, and `/metrics` curled during a live run), checked with
//! Prometheus's own parser (`promtool check metrics`, Debian package `prometheus`).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, report_tests, success, Workspace};

/// Outputs failing with messages no built-in rule knows: two JSON parse errors that differ
/// only in a column number (one group), an unknown hash algorithm (another), and one output
/// that evaluates.
const ODD_FLAKE: &str = r#"{
  outputs = { self }:
    let d = n: builtins.derivation { name = n; system = "x86_64-linux"; builder = "/bin/sh"; };
    in {
      packages.x86_64-linux = {
        hash = d (builtins.hashString "md7" "x");
        json-a = d (builtins.fromJSON "{");
        json-b = d (builtins.fromJSON "{ ");
        ok = d "ok";
      };
    };
}
"#;

/// Evaluation that never ends (2^40 calls), for a run that lasts until its time limit.
const SLOW_FLAKE: &str = r#"{
  outputs = { self }:
    let f = n: if n == 0 then 1 else f (n - 1) + f (n - 1);
    in {
      packages.x86_64-linux.default = builtins.derivation {
        name = "slow-${toString (f 40)}"; system = "x86_64-linux"; builder = "/bin/sh";
      };
    };
}
"#;

/// A workspace with the host's Nix (`HOST_RUN`) holding `flakes` as `repos/<name>`.
fn workspace(flakes: &[(&str, &str)]) -> Workspace {
    let ws = Workspace::new().env("NO_COLOR", "1");
    std::fs::write(ws.join("gnfc.toml"), HOST_RUN).unwrap();
    for (name, text) in flakes {
        let dir = ws.join(format!("repos/{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("flake.nix"), text).unwrap();
    }
    ws.gnfc_ok(&["corpus", "add", "repos"]);
    ws
}

/// Runs gnfc with `stdin`, requires success, returns stdout.
fn gnfc_ok_with_stdin(ws: &Workspace, args: &[&str], stdin: &str) -> String {
    let mut child = ws
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    success(args, &child.wait_with_output().unwrap())
}

/// (id, outcome, class) of every test of the latest run.
fn latest_tests(ws: &Workspace) -> Vec<(i64, String, String)> {
    let report = ws.json(&["report", "--format", "json"]);
    report_tests(&report)
        .iter()
        .map(|t| {
            (
                t["id"].as_i64().unwrap(),
                t["outcome"].as_str().unwrap_or("pending").to_owned(),
                t["class"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

/// `promtool check metrics`: Prometheus's own text-format parser (the one node-exporter's
/// textfile collector uses) plus its naming lints. Returns what it printed.
fn promtool_check(text: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package `prometheus`, installed by scripts/setup.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = common::text(&out);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool rejects the metrics: {said}\n{text}"
    );
    said
}

/// These tests are about classification: the host's Nix 2.8 is enough.
const HOST_RUN: &str = "[run]\nexecutor = \"host\"\nimplementations = [\"nix-2.8\"]\n";

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn unknown_failures_are_grouped_explained_and_turned_into_rules() {
    let ws = workspace(&[("odd", ODD_FLAKE)]);
    std::fs::write(
        ws.join("gnfc.toml"),
        format!(
            "{HOST_RUN}\n[classifier]\nrules = [\"my-rules.toml\"]\noverrides = \"reviewed.toml\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        ws.join("my-rules.toml"),
        "# written by gnfc classify --interactive\n",
    )
    .unwrap();
    ws.gnfc_ok(&["--quiet", "run", "--resolver", "native", "--timeout", "60"]);
    let tests = latest_tests(&ws);
    assert_eq!(tests.len(), 1);
    let (test_id, outcome, class) = tests[0].clone();
    assert_eq!((outcome.as_str(), class.as_str()), ("partial", "unknown"));

    // Grouped by first error line, numbers masked: the two JSON errors are one group.
    let unknown = ws.gnfc_ok(&["classify", "--unknown"]);
    assert!(
        unknown
            .contains("3 of 3 classified stderr are unknown with the current rules, in 2 groups"),
        "{unknown}"
    );
    let json_group = unknown
        .lines()
        .find(|l| l.contains("json.exception"))
        .unwrap_or_else(|| panic!("{unknown}"));
    assert!(
        json_group.trim_start().starts_with(
            "2  error: [json.exception.parse_error.<n>] parse error at line <n>, column <n>:"
        ),
        "{json_group}"
    );

    // Interactive: a regex for the biggest group, its effect, the rule appended; the next
    // group skipped; end of input ends the session, and the run is re-classified.
    let session = gnfc_ok_with_stdin(
        &ws,
        &["classify", "--interactive"],
        "(unclosed\njson\\.exception\\.parse_error\nJSON Parse\njson-parse-error\nflakey\nflake\na builtins.fromJSON argument is not JSON\ny\n\n",
    );
    for expected in [
        "[1/20] 2 failures (3 unknown in all): error: [json.exception",
        "not a usable rule",
        "catches 2 of 3 unknown failures; steals 0 from existing rules",
        "must be lowercase kebab-case",
        "unknown category 'flakey'",
        "appended to",
        "[2/20] 1 failures (1 unknown in all): error: unknown hash algorithm 'md<n>'",
        "unknown → json-parse-error: 2",
    ] {
        assert!(
            session.contains(expected),
            "missing {expected:?} in:\n{session}"
        );
    }
    let written = std::fs::read_to_string(ws.join("my-rules.toml")).unwrap();
    assert!(written.contains("id = \"json-parse-error\""), "{written}");
    let unknown = ws.gnfc_ok(&["classify", "--unknown"]);
    assert!(
        unknown.contains("1 of 3 classified stderr are unknown"),
        "{unknown}"
    );

    // Explain: every matching rule, the winner, the matching line underlined.
    let explained = ws.gnfc_ok(&["classify", "--explain", &test_id.to_string()]);
    assert!(
        explained.contains("eval stderr of packages.x86_64-linux.json-a"),
        "{explained}"
    );
    assert!(
        explained
            .contains("json-parse-error [flake] WINS: a builtins.fromJSON argument is not JSON (")
            && explained.contains("my-rules.toml, rule #1)"),
        "{explained}"
    );
    let line = explained
        .lines()
        // Line 1 unless the host's Nix warned first (no `nixbld` group, say).
        .position(|l| {
            l.trim_start().starts_with("line ")
                && l.contains(": error: [json.exception.parse_error.101]")
        })
        .unwrap_or_else(|| panic!("{explained}"));
    let lines: Vec<&str> = explained.lines().collect();
    let (text, carets) = (lines[line], lines[line + 1]);
    let at = carets.find('^').unwrap();
    assert_eq!(
        &text[at..at + carets.trim().len()],
        "json.exception.parse_error",
        "{text}\n{carets}"
    );

    // A reviewed override wins over the rules, and the note is the detail.
    std::fs::write(
        ws.join("reviewed.toml"),
        format!("[[override]]\ntest = {test_id}\nclass = \"nix-hash-algorithm\"\ncategory = \"implementation\"\nnote = \"md7 exists nowhere\"\n"),
    )
    .unwrap();
    let moved = ws.gnfc_ok(&["classify"]);
    assert!(moved.contains("1 overrides; 1 classes changed"), "{moved}");
    assert!(moved.contains("unknown → nix-hash-algorithm: 1"), "{moved}");
    assert_eq!(latest_tests(&ws)[0].2, "nix-hash-algorithm");
    let explained = ws.gnfc_ok(&["classify", "--explain", &test_id.to_string()]);
    assert!(
        explained.contains("override: pinned to nix-hash-algorithm (implementation)"),
        "{explained}"
    );

    // The textfile for node-exporter: valid, the classes as labels, no flake or test labels.
    ws.gnfc_ok(&["metrics", "--textfile", "gnfc.prom"]);
    let text = std::fs::read_to_string(ws.join("gnfc.prom")).unwrap();
    promtool_check(&text);
    let run = r#"implementation="nix-2.8",resolver="native",run="#;
    assert!(text.contains(run), "{text}");
    let failed = text
        .lines()
        .find(|l| l.starts_with("gnfc_test_failures_total{"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        failed.contains(r#"category="implementation",class="nix-hash-algorithm""#)
            && failed.contains(r#"stage="eval""#)
            && failed.ends_with(" 1"),
        "{failed}"
    );
    for status in [("fail", 3.0), ("pass", 1.0)] {
        let series = text
            .lines()
            .find(|l| {
                l.starts_with("gnfc_outputs_total{")
                    && l.contains(&format!("status=\"{}\"", status.0))
            })
            .unwrap_or_else(|| panic!("{text}"));
        assert!(series.ends_with(&format!(" {}", status.1)), "{series}");
    }
    let labels = ["flake=", "test=", "repo=", "repos/odd"];
    assert!(
        !labels.iter().any(|l| text.contains(l)),
        "unbounded label in:\n{text}"
    );
    let out = ws.gnfc(&["metrics", "--textfile", "missing-dir/gnfc.prom"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot create a temporary file in missing-dir"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A broken user rules file stops classification with its name and the rule's position.
    std::fs::write(
        ws.join("my-rules.toml"),
        format!("{written}\n[[rule]]\nid = \"json-parse-error\"\npattern = \"x\"\ncategory = \"flake\"\ndescription = \"again\"\n"),
    )
    .unwrap();
    let out = ws.gnfc(&["classify"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("my-rules.toml: rule #2: id 'json-parse-error' is already used by rule #1 of")
            && err.contains("classifier.rules in gnfc.toml"),
        "{err}"
    );
    assert_eq!(
        latest_tests(&ws)[0].2,
        "nix-hash-algorithm",
        "a failed load changes nothing"
    );
}

/// `/metrics` is served while the run runs: curled mid-run, it parses with Prometheus's
/// parser and shows the plan and the progress so far.
#[test]
fn live_metrics_during_a_run() {
    let ws = workspace(&[
        ("good", "{ outputs = { self }: { }; }\n"),
        ("slow", SLOW_FLAKE),
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut run = ws
        .command(&[
            "--quiet",
            "run",
            "--name",
            "live",
            "--resolver",
            "native",
            "--timeout",
            "8",
            "--jobs",
            "1",
            "--metrics-listen",
            &addr,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://{addr}/metrics");
    let started = Instant::now();
    let mut scraped = None;
    while started.elapsed() < Duration::from_secs(30) {
        let out = Command::new("curl")
            .args(["-sf", "--max-time", "5", &url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Scrape until the first test is recorded and the slow one is still running.
        if out.status.success() && sample(&text, r#"gnfc_run_tests_done{run="live"}"#) == Some(1.0)
        {
            scraped = Some(text);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let still_running = run.try_wait().unwrap().is_none();
    let text = scraped.unwrap_or_else(|| panic!("no scrape showed one test done within 30 s"));
    assert!(still_running, "the scrape must happen during the run");
    promtool_check(&text);
    assert_eq!(
        sample(&text, r#"gnfc_run_tests_planned{run="live"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"gnfc_tests_total{implementation="nix-2.8",outcome="pass",resolver="native",run="live"}"#
        ),
        Some(1.0),
        "{text}"
    );
    let wrong = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{addr}/other"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&wrong.stdout), "404");

    let status = run.wait().unwrap();
    assert!(status.success(), "{status}");
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "2", &url])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the endpoint closes with the run");
    let text = ws.gnfc_ok(&["metrics", "--run", "live"]);
    promtool_check(&text);
    assert_eq!(
        sample(&text, r#"gnfc_run_tests_done{run="live"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"gnfc_test_failures_total{category="limits",class="timeout",implementation="nix-2.8",resolver="native",run="live",stage="eval"}"#
        ),
        Some(1.0),
        "{text}"
    );
}

/// A port already in use is a clear error before any test runs.
#[test]
fn metrics_listen_on_a_busy_port_fails_clearly() {
    let ws = workspace(&[("good", "{ outputs = { self }: { }; }\n")]);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = ws.gnfc(&[
        "--quiet",
        "run",
        "--resolver",
        "native",
        "--metrics-listen",
        &addr,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("cannot listen on {addr} for --metrics-listen")),
        "{err}"
    );
}
