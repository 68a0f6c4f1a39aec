//! Reports end to end on a real conformance run with the host's Nix: `gnfc compare` finds
//! exactly the behaviours whose expect.toml differs between combos, `gnfc diff` of identical
//! runs finds nothing and of a run with a deliberately broken flake fails naming it, and the
//! HTML report works in a real headless Chromium.

use std::collections::BTreeSet;
use std::path::Path;

use gnfc::conformance::ExpectFile;
use gnfc_data::Outcome;

use crate::common::{combo, corpus_dir, podman_lock, repo_path, report_tests, Workspace};

/// Every corpus flake but the one that never finishes evaluates in about a second here; the
/// two runs compared below must agree exactly, so the limit leaves a wide margin for a loaded
/// machine (a flake that timed out in one run only would be a false change).
const TIMEOUT: &str = "30";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The expect.toml of a corpus flake (`corpus/<dir>[/<subdir>]`).
fn expectation(corpus: &Path, flake: &str) -> ExpectFile {
    let rel = flake.strip_prefix("corpus/").unwrap();
    let text = std::fs::read_to_string(corpus.join(rel).join("expect.toml")).unwrap();
    ExpectFile::parse(&text).unwrap()
}

fn split(combo: &str) -> (&str, &str) {
    combo.rsplit_once('/').unwrap()
}

/// Every pair of the run's combos that differ in one dimension must list as regressed/fixed
/// exactly the flakes whose expectations go from pass to fail / fail to pass, as
/// changed-failure exactly those failing on both sides with another class, and nothing else.
fn check_compare_against_expectations(ws: &Workspace, run: &str) -> usize {
    let report = ws.json(&["report", "--run", run, "--format", "json"]);
    let flakes: BTreeSet<String> = report_tests(&report)
        .iter()
        .map(|t| t["flake"].as_str().unwrap().to_owned())
        .collect();
    let combos: BTreeSet<String> = report_tests(&report).iter().map(combo).collect();
    let combos: Vec<String> = combos.into_iter().collect();
    let mut pairs = 0;
    for (i, a) in combos.iter().enumerate() {
        for b in &combos[i + 1..] {
            let ((ia, ra), (ib, rb)) = (split(a), split(b));
            if ia != ib && ra != rb {
                continue;
            }
            pairs += 1;
            let out = ws.json(&["compare", run, "--a", a, "--b", b, "--format", "json"]);
            let got: BTreeSet<(String, String)> = out["comparison"]["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["flake"].as_str().unwrap().to_owned(),
                        c["comparison"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let mut want = BTreeSet::new();
            for flake in &flakes {
                let e = expectation(&ws.join("corpus"), flake);
                let (ea, eb) = (e.expected(ia, ra), e.expected(ib, rb));
                // A test that does not apply is compared as `skipped`, which is no change.
                if ea.0 == Outcome::Skipped || eb.0 == Outcome::Skipped {
                    continue;
                }
                let kind = match (ea.0 == Outcome::Pass, eb.0 == Outcome::Pass) {
                    (true, false) => "regressed",
                    (false, true) => "fixed",
                    (false, false) if ea.1 != eb.1 => "changed-failure",
                    _ => continue,
                };
                want.insert((flake.clone(), kind.to_owned()));
            }
            assert!(
                want.iter().any(|(_, k)| k == "regressed" || k == "fixed"),
                "{a} vs {b}: the corpus should hold behaviours that differ"
            );
            assert_eq!(got, want, "{a} vs {b}");
            // The Markdown form groups the same flakes by class.
            let md = ws.gnfc_ok(&["compare", run, "--a", a, "--b", b]);
            assert!(
                md.contains("| comparison | class | flakes | which |"),
                "{md}"
            );
        }
    }
    pairs
}

#[test]
fn reports_compare_diff_and_browser() {
    let _podman = podman_lock();
    let ws = Workspace::new().quiet();
    copy_dir(&corpus_dir(), &ws.join("corpus"));
    // The host's Nix 2.8 with both resolvers: the comparisons between resolvers are what
    // this test checks against the expectations (the podman corpus test covers versions).
    std::fs::write(
        ws.join("gnfc.toml"),
        "[run]\nexecutor = \"host\"\nimplementations = [\"nix-2.8\"]\n",
    )
    .unwrap();
    ws.gnfc_ok(&["corpus", "add", "corpus"]);
    let forge = repo_path("forge");
    ws.gnfc_ok(&[
        "forge",
        "init",
        "--from",
        forge.to_str().unwrap(),
        "--to",
        ".gnfc/mirror",
    ]);
    for name in ["base", "again"] {
        ws.gnfc_ok(&["run", "--name", name, "--timeout", TIMEOUT, "--jobs", "2"]);
    }

    // Bad input is refused with what to do, and changes nothing.
    let out = ws.gnfc(&[
        "compare",
        "base",
        "--a",
        "nix-9/native",
        "--b",
        "nix-2.8/native",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no combo 'nix-9/native'") && err.contains("nix-2.8/committed"),
        "{err}"
    );
    let bad_list = ws.join("bad.txt");
    std::fs::write(&bad_list, "corpus/syntax-error\ncorpus/no-such-flake\n").unwrap();
    let out = ws.gnfc(&[
        "run",
        "--name",
        "bad",
        "--flakes-from",
        bad_list.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("corpus/no-such-flake") && err.contains("gnfc corpus list"),
        "{err}"
    );
    assert!(
        !ws.gnfc(&["status", "bad"]).status.success(),
        "a run was created"
    );

    // compare: exactly the behaviours expect.toml says differ.
    assert!(check_compare_against_expectations(&ws, "base") >= 1);

    // diff of two identical runs: no regression, exit 0 even with --fail-on-regression.
    let out = ws.gnfc(&[
        "diff",
        "base",
        "again",
        "--fail-on-regression",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(diff["regressions"].as_array().unwrap().len(), 0, "{diff}");
    for combo in diff["combos"].as_array().unwrap() {
        assert_eq!(combo["changes"].as_array().unwrap().len(), 0, "{combo}");
        assert!(
            combo["counts"]["same-pass"].as_u64().unwrap() > 0,
            "{combo}"
        );
        // A committed test of a flake without a lock did not apply in either run: no change.
        if combo["a"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/committed")
        {
            assert!(combo["counts"]["skipped"].as_u64().unwrap() > 0, "{combo}");
        }
    }

    // One flake deliberately broken, re-added, re-run (with --flakes-from, as a retry list
    // is used) and re-checked: the diff fails naming it.
    let victim = "corpus/self-outpath";
    let flake_nix = ws.join("corpus/self-outpath/flake.nix");
    let text = std::fs::read_to_string(&flake_nix).unwrap();
    std::fs::write(&flake_nix, format!("{text}\n{{ broken")).unwrap();
    ws.gnfc_ok(&["corpus", "add", "corpus"]);
    let list = ws.join("retry.txt");
    std::fs::write(&list, format!("# retry\n{victim}\ncorpus/syntax-error\n")).unwrap();
    ws.gnfc_ok(&[
        "run",
        "--name",
        "broken",
        "--timeout",
        TIMEOUT,
        "--flakes-from",
        list.to_str().unwrap(),
        "--recheck-regressions",
        "--baseline",
        "base",
    ]);
    let out = ws.gnfc(&["diff", "base", "broken", "--fail-on-regression"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{md}");
    assert!(
        md.contains(&format!("| {victim} | nix-2.8/native |")),
        "{md}"
    );
    assert!(md.contains("syntax-error"), "{md}");
    let broken = ws.json(&["diff", "base", "broken", "--format", "json"]);
    let regressions = broken["regressions"].as_array().unwrap();
    assert_eq!(regressions.len(), 1, "{broken}");
    assert!(
        regressions[0]["first_error_line"]
            .as_str()
            .unwrap()
            .contains("error"),
        "{broken}"
    );
    // The regression happened twice: re-run once, not flaky.
    let report = ws.json(&["report", "--run", "broken", "--format", "json"]);
    let rechecked = report_tests(&report)
        .iter()
        .find(|t| t["flake"] == victim && t["resolver"] == "native")
        .unwrap();
    assert_eq!(rechecked["attempt"], 2, "{rechecked}");
    assert_eq!(rechecked["flaky"], false, "{rechecked}");
    // Without --fail-on-regression the diff only informs.
    assert!(ws.gnfc(&["diff", "base", "broken"]).status.success());

    // The retry list of the base run is a valid --flakes-from file.
    let retry = ws.gnfc_ok(&["report", "--run", "base", "--retry-list"]);
    // A flake whose result depends on the combo is in it; one whose committed test only
    // did not apply (no flake.lock) is not.
    assert!(
        retry
            .lines()
            .any(|l| l == "corpus/committed-lock-stale-narhash"),
        "{retry}"
    );
    assert!(
        !retry.lines().any(|l| l == "corpus/self-outpath"),
        "{retry}"
    );
    assert!(
        retry.lines().any(|l| l == "corpus/never-finishes"),
        "{retry}"
    );

    // CSV: one row per test and one per output.
    let tests_csv = ws.gnfc_ok(&["report", "--run", "base", "--format", "csv"]);
    assert_eq!(tests_csv.lines().count(), 1 + test_count(&ws, "base"));
    let outputs_csv = ws.gnfc_ok(&["report", "--run", "base", "--format", "csv-outputs"]);
    assert!(
        outputs_csv.lines().nth(1).unwrap().starts_with("base,"),
        "{outputs_csv}"
    );

    browser::check_html_report(&ws);
}

fn test_count(ws: &Workspace, run: &str) -> usize {
    report_tests(&ws.json(&["report", "--run", run, "--format", "json"])).len()
}

mod browser {
    //! Headless Chromium driven over the DevTools protocol.

    use std::net::TcpStream;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use serde_json::{json, Value};
    use tungstenite::{Message, WebSocket};

    use crate::common::Workspace;

    struct Browser {
        child: Child,
        socket: WebSocket<TcpStream>,
        session: String,
        next_id: u64,
    }

    impl Drop for Browser {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Browser {
        fn launch(profile: &std::path::Path) -> Browser {
            let child = Command::new("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--remote-debugging-port=0",
                    "--window-size=1400,1000",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg("about:blank")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromium is installed (scripts/test.sh installs it)");
            let started = Instant::now();
            let port_file = profile.join("DevToolsActivePort");
            let (port, path) = loop {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "chromium never listened"
                );
                if let Ok(text) = std::fs::read_to_string(&port_file) {
                    let mut lines = text.lines();
                    if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                        break (port.to_owned(), path.to_owned());
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let (socket, _) =
                tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream).unwrap();
            let mut browser = Browser {
                child,
                socket,
                session: String::new(),
                next_id: 0,
            };
            let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
            let attached = browser.call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            );
            browser.session = attached["sessionId"].as_str().unwrap().to_owned();
            browser
        }

        /// Sends a command and waits for its answer (events in between are skipped).
        fn call(&mut self, method: &str, params: Value) -> Value {
            self.next_id += 1;
            let mut msg = json!({"id": self.next_id, "method": method, "params": params});
            if !self.session.is_empty() {
                msg["sessionId"] = json!(self.session);
            }
            self.socket.send(Message::text(msg.to_string())).unwrap();
            for _ in 0..10_000 {
                let Message::Text(text) = self.socket.read().unwrap() else {
                    continue;
                };
                let reply: Value = serde_json::from_str(&text).unwrap();
                if reply["id"] == self.next_id {
                    assert!(reply.get("error").is_none(), "{method}: {reply}");
                    return reply["result"].clone();
                }
            }
            panic!("no answer to {method}");
        }

        fn eval(&mut self, expression: &str) -> Value {
            let r = self.call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            );
            assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
            r["result"]["value"].clone()
        }

        fn click(&mut self, selector: &str) {
            let rect = self.eval(&format!(
                "(() => {{ const e = document.querySelector('{selector}'); e.scrollIntoView({{block: 'center'}}); \
                 const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
            ));
            for kind in ["mousePressed", "mouseReleased"] {
                self.call(
                    "Input.dispatchMouseEvent",
                    json!({"type": kind, "x": rect[0], "y": rect[1], "button": "left", "clickCount": 1}),
                );
            }
        }
    }

    pub(super) fn check_html_report(ws: &Workspace) {
        let html = ws.join("report.html");
        ws.gnfc_ok(&[
            "report",
            "--run",
            "base",
            "--format",
            "html",
            "--output",
            html.to_str().unwrap(),
        ]);
        let page = std::fs::read_to_string(&html).unwrap();
        // Self-contained: nothing is fetched from anywhere.
        for needle in ["src=\"http", "href=\"http", "<link", "@import", "url("] {
            assert!(!page.contains(needle), "the report references {needle}");
        }
        assert!(page.matches("<svg").count() >= 5, "plots missing");

        let mut b = Browser::launch(&ws.join("chromium-profile"));
        b.call("Page.enable", json!({}));
        b.call(
            "Page.navigate",
            json!({"url": format!("file://{}", html.display())}),
        );
        let started = Instant::now();
        while b.eval("document.readyState") != "complete" {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the report never loaded"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let count = "[...document.querySelectorAll('#flake-table tbody tr')]";
        let rows = b.eval(&format!("{count}.length")).as_u64().unwrap();
        let equal = b.eval(&format!(
            "{count}.filter(r => r.dataset.differ === '0').length"
        ));
        let visible = |b: &mut Browser| {
            b.eval(&format!(
                "{count}.filter(r => r.offsetParent !== null).length"
            ))
            .as_u64()
            .unwrap()
        };
        assert!(rows >= 40, "{rows} rows");
        assert!(
            equal.as_u64().unwrap() > 0,
            "the corpus has flakes equal across combos"
        );
        assert_eq!(visible(&mut b), rows);

        b.click("#f-differ");
        assert_eq!(b.eval("document.getElementById('f-differ').checked"), true);
        let shown = visible(&mut b);
        assert_eq!(shown, rows - equal.as_u64().unwrap());
        let hidden_equal = b.eval(&format!(
            "{count}.every(r => (r.dataset.differ === '0') === (r.offsetParent === null))"
        ));
        assert_eq!(hidden_equal, true, "only equal rows are hidden");
        assert!(b
            .eval("document.getElementById('f-count').textContent")
            .as_str()
            .unwrap()
            .starts_with(&format!("{shown} of {rows}")));

        // Following a result opens its detail, with stderr (every row shown again first: the
        // first lock failure may be one that is equal across combos).
        b.click("#f-differ");
        assert_eq!(visible(&mut b), rows);
        b.click("#flake-table td.o-lock-fail a");
        let started = Instant::now();
        let open = loop {
            let open = b.eval(
                "[...document.querySelectorAll('details[open]')].map(d => d.innerText).join('')",
            );
            if open.as_str().is_some_and(|t| t.contains("stderr")) {
                break open;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no detail opened: {open}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(open.as_str().unwrap().contains("stderr: lock"), "{open}");

        let shot = b.call("Page.captureScreenshot", json!({"format": "png"}));
        assert!(
            shot["data"].as_str().unwrap().starts_with("iVBORw0KGgo"),
            "not a PNG"
        );
    }
}
