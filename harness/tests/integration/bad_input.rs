//! Bad input, through the real `gnfc` binary: each case gives one clear `error:` line that
//! names the thing and the fix, exits non-zero, and loses nothing already recorded. One case
//! (odd characters in paths) is not bad at all and must simply work, with the host's Nix.
//!
//! Every gnfc invocation runs with `--db` and `--config` inside its own temp dir, from a temp
//! dir as the current directory, and under a time limit.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{report_tests, Workspace};

/// A trivial flake whose one output is a `builtins.derivation` (no nixpkgs needed).
const GOOD_FLAKE: &str = r#"{
  description = "trivial";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "trivial";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo ok > $out" ];
    };
  };
}
"#;

/// What one gnfc invocation did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The lines of stderr that report an error.
    fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.to_ascii_lowercase().contains("error"))
            .collect()
    }

    /// Asserts the failure contract: non-zero exit, exactly one `error:` line, which
    /// contains every one of `needles`, and no panic.
    fn assert_one_error(&self, needles: &[&str]) -> String {
        assert!(
            !self.ok() && self.code.is_some(),
            "expected a failure exit code, got {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let errors = self.error_lines();
        assert_eq!(
            errors.len(),
            1,
            "expected exactly one error line, got:\n{}",
            self.stderr
        );
        let line = errors[0];
        assert!(line.starts_with("error: "), "{line}");
        for needle in needles {
            assert!(
                line.contains(needle),
                "the error line lacks {needle:?}:\n{line}"
            );
        }
        line.to_owned()
    }
}

/// A workspace holding gnfc's config, database and storage, which every call is given as
/// `--db` and `--config`.
struct Setup {
    ws: Workspace,
    db: PathBuf,
    config: PathBuf,
}

const CONFIG: &str = "[run]\nexecutor = \"host\"\nimplementations = [\"nix-2.8\"]\nresolvers = [\"native\"]\njobs = 2\n\n[limits]\ntimeout_secs = 60\n";

impl Setup {
    fn new() -> Setup {
        Setup::in_subdir("ws")
    }

    /// A workspace at `<tmp>/<name>`, so the name can hold spaces and the like.
    fn in_subdir(name: &str) -> Setup {
        let ws = Workspace::in_subdir(name);
        let config = ws.join("gnfc.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let db = ws.join("results.db");
        let ws = ws
            .env_remove("GNFC_LOG")
            .env("NO_COLOR", "1")
            .arg("--db")
            .arg(&db)
            .arg("--config")
            .arg(&config);
        Setup { ws, db, config }
    }

    /// The current directory of every gnfc call; config and storage live here.
    fn dir(&self) -> &Path {
        self.ws.path()
    }

    /// Runs gnfc with this workspace's --db and --config, killing it after `limit`.
    fn gnfc_within(&self, args: &[&str], limit: Duration) -> Run {
        let mut cmd = self.ws.command(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("gnfc {args:?} did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        }
    }

    fn gnfc(&self, args: &[&str]) -> Run {
        self.gnfc_within(args, Duration::from_secs(60))
    }

    /// Runs gnfc and requires success.
    fn gnfc_ok(&self, args: &[&str]) -> Run {
        let run = self.gnfc(args);
        assert!(
            run.ok(),
            "gnfc {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        run
    }

    /// Makes `<dir>/<rel>/flake.nix` with `content`; returns the flake's directory.
    fn flake(&self, rel: &str, content: &[u8]) -> PathBuf {
        let dir = self.dir().join(rel);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("flake.nix"), content).unwrap();
        dir
    }

    /// `gnfc corpus list`'s flake labels (each line is the label, padded, then the start of
    /// the snapshot's `sha256-` revision; labels may hold spaces).
    fn corpus(&self) -> Vec<String> {
        let run = self.gnfc_ok(&["corpus", "list"]);
        run.stdout
            .lines()
            .filter_map(|l| l.rfind(" sha256-").map(|i| l[..i].trim_end().to_owned()))
            .collect()
    }

    /// (flake, outcome, class) of every test of a run, from `gnfc report --format json`.
    fn report(&self, run: &str) -> Vec<(String, String, String)> {
        let out = self.gnfc_ok(&["report", "--run", run, "--format", "json"]);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        report_tests(&report)
            .iter()
            .map(|t| {
                (
                    t["flake"].as_str().unwrap().to_owned(),
                    t["outcome"].as_str().unwrap_or("pending").to_owned(),
                    t["class"].as_str().unwrap_or("-").to_owned(),
                )
            })
            .collect()
    }

    /// Adds the trivial flake as `repos/good` and records a passing run `before`.
    fn recorded_run(&self) {
        self.flake("repos/good", GOOD_FLAKE.as_bytes());
        self.gnfc_ok(&["corpus", "add", "repos/good"]);
        self.gnfc_ok(&[
            "--quiet",
            "run",
            "--name",
            "before",
            "--timeout",
            "30",
            "--jobs",
            "1",
        ]);
        assert_eq!(self.report("before"), [pass("repos/good")]);
    }
}

fn pass(flake: &str) -> (String, String, String) {
    (flake.to_owned(), "pass".to_owned(), "-".to_owned())
}

#[test]
fn directory_without_flake_nix() {
    let ws = Setup::new();
    ws.flake("repos/good", GOOD_FLAKE.as_bytes());
    ws.gnfc_ok(&["corpus", "add", "repos/good"]);

    // Files only; files and a subdirectory (any ordinary project); a git checkout.
    let files_only = ws.dir().join("files-only");
    std::fs::create_dir_all(&files_only).unwrap();
    std::fs::write(files_only.join("README.md"), "no flake here\n").unwrap();
    let project = ws.dir().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/main.c"), "int main() { return 0; }\n").unwrap();
    let checkout = ws.dir().join("checkout");
    std::fs::create_dir_all(checkout.join(".git")).unwrap();
    std::fs::write(checkout.join("default.nix"), "{ }\n").unwrap();
    for name in ["files-only", "project", "checkout"] {
        let run = ws.gnfc(&["corpus", "add", name]);
        let line = run.assert_one_error(&[&format!("/{name} holds no flake.nix"), "give a"]);
        assert!(!run.stderr.contains("warning"), "{}", run.stderr);
        assert!(line.contains("directory with a flake.nix"), "{line}");
    }
    assert_eq!(
        ws.corpus(),
        ["repos/good"],
        "the earlier flake is still there"
    );
}

#[test]
fn flake_nix_that_is_not_utf8() {
    let ws = Setup::new();
    ws.flake("first/one", GOOD_FLAKE.as_bytes());
    ws.gnfc_ok(&["corpus", "add", "first/one"]);

    // One `corpus add` of a directory of repos: a Latin-1 flake among good ones.
    ws.flake("batch/alpha", GOOD_FLAKE.as_bytes());
    let latin1 = b"{ description = \"caf\xe9\"; outputs = { self }: { }; }\n";
    ws.flake("batch/latin1", latin1);
    ws.flake("batch/omega", GOOD_FLAKE.as_bytes());
    let run = ws.gnfc(&["corpus", "add", "batch"]);
    let line = run.assert_one_error(&["batch/latin1/flake.nix", "UTF-8", "iconv"]);
    let offset = latin1.iter().position(|&b| b == 0xe9).unwrap();
    assert!(line.contains(&format!("offset {offset}")), "{line}");

    assert_eq!(
        ws.corpus(),
        ["batch/alpha", "batch/omega", "first/one"],
        "the other flakes of the add are added, the earlier one kept"
    );
    // The refused file is untouched.
    assert_eq!(
        std::fs::read(ws.dir().join("batch/latin1/flake.nix")).unwrap(),
        latin1
    );
}

#[test]
fn paths_with_spaces_bang_and_unicode_just_work() {
    // The workspace itself (config, database, source store, scratch dirs) and the repo and
    // a flake's subdirectory all have spaces, `!` and non-ASCII in their names: they reach
    // `git`, the flake reference given to Nix and the database.
    let ws = Setup::in_subdir("wörk dir ! ✓");
    let repo = "répo with space!";
    ws.flake(repo, GOOD_FLAKE.as_bytes());
    ws.flake(&format!("{repo}/sub dir ! ñ"), GOOD_FLAKE.as_bytes());
    let added = ws.gnfc_ok(&["corpus", "add", repo]);
    assert!(added.stderr.trim().is_empty(), "{}", added.stderr);
    let owner = "wörk dir ! ✓";
    let root = format!("{owner}/{repo}");
    let sub = format!("{owner}/{repo}/sub dir ! ñ");
    assert_eq!(ws.corpus(), [root.clone(), sub.clone()]);

    ws.gnfc_ok(&[
        "--quiet",
        "run",
        "--name",
        "odd paths",
        "--timeout",
        "30",
        "--jobs",
        "2",
    ]);
    let report = ws.report("odd paths");
    assert_eq!(report, [pass(&root), pass(&sub)], "{report:?}");
    // Really evaluated: each test has its output's drvPath.
    let json = ws.gnfc_ok(&["report", "--run", "odd paths", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    for test in report_tests(&json) {
        let outputs = test["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 1, "{test}");
        assert_eq!(outputs[0]["attr_path"], "packages.x86_64-linux.default");
        let drv = outputs[0]["drv_path"].as_str().unwrap();
        assert!(
            drv.starts_with("/nix/store/") && drv.ends_with("-trivial.drv"),
            "{drv}"
        );
    }
}

#[test]
fn unreadable_file_in_the_repo() {
    // gnfc runs as root here, and root reads any file whatever its mode (CAP_DAC_OVERRIDE),
    // so a `chmod 000` file would test nothing. A FIFO is a file whose content cannot be
    // read (a read blocks until some writer appears, which never happens): the source store
    // must refuse it by type, clearly and without hanging, and the run's time limit catches
    // a hang.
    let ws = Setup::new();
    ws.flake("first/one", GOOD_FLAKE.as_bytes());
    ws.gnfc_ok(&["corpus", "add", "first/one"]);

    let bad = ws.flake("batch/with-fifo", GOOD_FLAKE.as_bytes());
    let fifo = bad.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    ws.flake("batch/fine", GOOD_FLAKE.as_bytes());
    let run = ws.gnfc_within(&["corpus", "add", "batch"], Duration::from_secs(30));
    let line = run.assert_one_error(&["batch/with-fifo/pipe", "FIFO", "remove it"]);
    assert!(!line.contains("panicked"));

    assert_eq!(ws.corpus(), ["batch/fine", "first/one"]);
}

#[test]
fn missing_nix_binary() {
    let ws = Setup::new();
    ws.recorded_run();

    std::fs::write(
        &ws.config,
        format!("{CONFIG}\n[implementations.\"nix-2.8\"]\ncommand = [\"/nonexistent/nix\"]\n"),
    )
    .unwrap();
    let run = ws.gnfc(&["run", "--name", "after", "--timeout", "30"]);
    run.assert_one_error(&[
        "nix-2.8",
        "/nonexistent/nix",
        "apt-get install nix-bin",
        "implementations.nix-2.8.command",
    ]);

    // The error came before any test: no run was created, and the earlier one still reports.
    let status = ws.gnfc_ok(&["status"]);
    assert!(status.stdout.contains("before"), "{}", status.stdout);
    assert!(!status.stdout.contains("after"), "{}", status.stdout);
    assert_eq!(ws.report("before"), [pass("repos/good")]);
}

#[test]
fn corrupt_database_file() {
    let ws = Setup::new();
    // Deterministic garbage the size of a few pages.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let garbage: Vec<u8> = (0..16 * 1024)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 32) as u8
        })
        .collect();
    std::fs::write(&ws.db, &garbage).unwrap();
    ws.flake("repos/good", GOOD_FLAKE.as_bytes());
    let db_name = ws.db.display().to_string();

    for args in [
        &["corpus", "list"][..],
        &["corpus", "add", "repos/good"],
        &["run", "--timeout", "30"],
        &["status"],
    ] {
        let started = Instant::now();
        let run = ws.gnfc_within(args, Duration::from_secs(30));
        run.assert_one_error(&[&db_name, "not a gnfc database", "--db"]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "gnfc {args:?} took {:?} to say the database is corrupt",
            started.elapsed()
        );
        assert_eq!(
            std::fs::read(&ws.db).unwrap(),
            garbage,
            "gnfc {args:?} changed the file"
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(ws.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("results.db"))
        .collect();
    names.sort();
    assert_eq!(names, ["results.db"], "no journal or WAL files beside it");
}

#[test]
fn config_with_a_typo() {
    let ws = Setup::new();
    ws.flake("repos/good", GOOD_FLAKE.as_bytes());
    ws.gnfc_ok(&["corpus", "add", "repos/good"]);
    let good_config = std::fs::read_to_string(&ws.config).unwrap();

    std::fs::write(
        &ws.config,
        "[run]\nresolvers = [\"native\"]\n\n[limits]\ntimout_secs = 60\n",
    )
    .unwrap();
    let config_name = ws.config.display().to_string();
    for args in [&["corpus", "list"][..], &["run", "--timeout", "30"]] {
        let run = ws.gnfc(args);
        let line = run.assert_one_error(&[&format!("{config_name}:5:"), "timout_secs"]);
        assert!(
            line.contains("timeout_secs"),
            "the fix (the right key) is named: {line}"
        );
    }

    // Fixing the config brings everything back.
    std::fs::write(&ws.config, good_config).unwrap();
    assert_eq!(ws.corpus(), ["repos/good"]);
    let status = ws.gnfc_ok(&["status"]);
    assert!(
        status.stdout.contains("no runs recorded"),
        "{}",
        status.stdout
    );
}
