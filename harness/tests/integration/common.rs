//! What the integration tests share: running the real `gnfc` binary in a directory of its own,
//! as a user would (no `GNFC_DB` from the environment), the repository's test inputs, reading
//! JSON reports, serving a mirror with `gnfc proxy serve`, and the guard that keeps the podman
//! and timing-sensitive tests from overlapping.

use std::ffi::{OsStr, OsString};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};

const GNFC: &str = env!("CARGO_BIN_EXE_gnfc");

/// Serialises the tests that run real podman runs or check tight timings (the hostile flakes,
/// the podman corpus run, podman's faults, the reports' 8 s corpus runs). Each test file was
/// once a test binary of its own, and cargo ran the binaries one after another; in this one
/// binary the tests of different modules run at the same time, and two of these at once would
/// share podman and the machine's cores, so that limits and timings the tests assert on would
/// fail by chance. Each of them holds the guard for its whole body; tests that only use the
/// host executor run alongside as before. A tokio mutex, so that a `#[tokio::test]` holds it
/// across its awaits; a test that panics releases it as it unwinds (nothing is poisoned).
static PODMAN: Mutex<()> = Mutex::const_new(());

/// Waits for, and holds, the guard of the podman and timing-sensitive tests (plain `#[test]`s).
pub fn podman_lock() -> MutexGuard<'static, ()> {
    PODMAN.blocking_lock()
}

/// [`podman_lock`] for a `#[tokio::test]`.
pub async fn podman_lock_async() -> MutexGuard<'static, ()> {
    PODMAN.lock().await
}

/// A directory of the repository (`corpus`, `forge`, …): the tests' inputs.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The conformance corpus.
pub fn corpus_dir() -> PathBuf {
    repo_path("corpus")
}

/// A temp dir of its own in which the real `gnfc` runs as a user runs it: the current
/// directory of every call (so gnfc's storage, `.gnfc`, and a `gnfc.toml` written there are
/// the test's own), with `GNFC_DB` removed from the environment. The builder methods add what
/// a module gives every call besides: leading arguments (`--quiet`), environment variables.
#[derive(Debug)]
pub struct Workspace {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// Given before each call's own arguments.
    leading: Vec<OsString>,
    /// Set (`Some`) or removed (`None`) in each call's environment.
    env: Vec<(&'static str, Option<&'static str>)>,
}

impl Workspace {
    pub fn new() -> Workspace {
        let tmp = tempfile::tempdir().unwrap();
        Workspace {
            dir: tmp.path().to_owned(),
            _tmp: tmp,
            leading: Vec::new(),
            env: Vec::new(),
        }
    }

    /// A workspace at `<tmp>/<name>`, so that its path can hold spaces and the like.
    pub fn in_subdir(name: &str) -> Workspace {
        let mut ws = Workspace::new();
        ws.dir = ws.dir.join(name);
        std::fs::create_dir_all(&ws.dir).unwrap();
        ws
    }

    /// Every call starts with `--quiet`.
    pub fn quiet(self) -> Workspace {
        self.arg("--quiet")
    }

    /// Every call starts with `arg` (after the ones given before).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Workspace {
        self.leading.push(arg.as_ref().to_owned());
        self
    }

    /// Every call has `key=value` in its environment.
    pub fn env(mut self, key: &'static str, value: &'static str) -> Workspace {
        self.env.push((key, Some(value)));
        self
    }

    /// No call has `key` in its environment.
    pub fn env_remove(mut self, key: &'static str) -> Workspace {
        self.env.push((key, None));
        self
    }

    /// The directory gnfc runs in.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.join(rel)
    }

    /// `gnfc ARGS` here, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(GNFC);
        cmd.current_dir(&self.dir).env_remove("GNFC_DB");
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd.args(&self.leading).args(args);
        cmd
    }

    /// Runs `gnfc ARGS` here, whatever its exit.
    pub fn gnfc(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `gnfc ARGS` here and returns its stdout, failing the test on a non-zero exit.
    pub fn gnfc_ok(&self, args: &[&str]) -> String {
        success(args, &self.gnfc(args))
    }

    /// Runs `gnfc ARGS` here, requiring success, and parses its stdout as JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.gnfc_ok(args)).unwrap()
    }

    /// The database of the default storage, `.gnfc/gnfc.db`.
    pub async fn db(&self) -> gnfc_data::Db {
        let url = format!("sqlite://{}", self.join(".gnfc/gnfc.db").display());
        gnfc_data::Db::open(&url).await.unwrap()
    }
}

/// The stdout of `gnfc ARGS`'s `out`, failing the test unless it exited zero.
pub fn success(args: &[&str], out: &Output) -> String {
    assert!(out.status.success(), "gnfc {args:?} failed:\n{}", text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stdout then stderr, for messages and assertions on what a user reads.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The tests of a `gnfc report --format json`.
pub fn report_tests(report: &serde_json::Value) -> &Vec<serde_json::Value> {
    report["tests"].as_array().unwrap()
}

/// A report test's combo, `implementation/resolver`.
pub fn combo(test: &serde_json::Value) -> String {
    format!(
        "{}/{}",
        test["implementation"].as_str().unwrap(),
        test["resolver"].as_str().unwrap()
    )
}

/// `gnfc proxy serve --listen 127.0.0.1:0 --mirror MIRROR --offline` in a workspace, until
/// dropped; the URL and CA file it prints for its clients.
#[derive(Debug)]
pub struct Proxy {
    child: Child,
    /// Kept open: the proxy fails writing to a closed stdout.
    _stdout: std::io::Lines<std::io::BufReader<ChildStdout>>,
    pub url: String,
    pub ca: PathBuf,
}

impl Proxy {
    pub fn serve(ws: &Workspace, mirror: &str) -> Proxy {
        let mut child = ws
            .command(&["proxy", "serve", "--listen", "127.0.0.1:0"])
            .args(["--mirror", mirror, "--offline"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut ca) = (None, None);
        let started = Instant::now();
        while url.is_none() || ca.is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the proxy did not start"
            );
            let line = lines.next().expect("the proxy exited").unwrap();
            let line = line.trim();
            if let Some(u) = line.strip_prefix("export https_proxy=") {
                url = Some(u.to_owned());
            }
            if let Some(c) = line.strip_prefix("export NIX_SSL_CERT_FILE=") {
                ca = Some(PathBuf::from(c));
            }
        }
        Proxy {
            child,
            _stdout: lines,
            url: url.unwrap(),
            ca: ca.unwrap(),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
