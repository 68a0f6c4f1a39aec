//! One test: a flake, an implementation, a resolver — lock, enumerate, evaluate.
//!
//! The steps follow seed 001: take a private copy of the repo, let the resolver deal with the
//! committed flake.lock (delete it, keep it, or require it), lock, list the well-known
//! outputs, and evaluate each output's drvPath on its own so one broken output does not hide
//! the others. Everything a step prints to stderr is kept and classified; anything that goes
//! wrong on gnfc's side is `harness-error`, never the flake's failure.

use std::time::{Duration, Instant};

use gnfc_classifier::{Class, Input, RuleSet};
use gnfc_containers::{
    Command, ExecOutput, Executor, Exit, Limits, ProxyAccess, Sandbox, SandboxSpec,
};
use gnfc_data::{
    class, Category, Classification, FlakeRow, Outcome, OutputRecord, OutputStatus, Stage,
    StderrRecord, TestRecord,
};

use crate::config::{Config, Implementation, LockFilePolicy, Resolver};
use crate::outputs::EvalMode;
use crate::outputs::{enumerate_expr, parse_enumeration, Output};

/// Everything one test needs to know.
#[derive(Debug, Clone, Copy)]
pub struct TestSpec<'a> {
    pub flake: &'a FlakeRow,
    /// The implementation's name in the config (rules may apply to some implementations only).
    pub implementation_name: &'a str,
    pub implementation: &'a Implementation,
    pub resolver_name: &'a str,
    pub resolver: &'a Resolver,
    pub config: &'a Config,
    pub proxy: Option<&'a ProxyAccess>,
}

fn empty_record() -> TestRecord {
    TestRecord {
        outcome: Outcome::HarnessError,
        exit_code: None,
        class: None,
        lock_ms: None,
        enumerate_ms: None,
        eval_ms: None,
        total_ms: 0,
        lockfile: None,
        outputs: Vec::new(),
        stderr: Vec::new(),
    }
}

/// The record of a test gnfc could not even start, with `message` as its stderr.
pub fn harness_failure(message: String) -> TestRecord {
    let mut record = empty_record();
    record.class = Some(harness_class(&message));
    record.stderr.push(StderrRecord {
        stage: Stage::Prepare,
        attr_path: String::new(),
        total_bytes: message.len() as u64,
        kept: message.into_bytes(),
    });
    record
}

/// Runs one test in a fresh sandbox and returns what to record.
pub async fn run_test(executor: &dyn Executor, rules: &RuleSet, spec: TestSpec<'_>) -> TestRecord {
    let started = Instant::now();
    let mut test = Test {
        rules,
        spec,
        deadline: started + Duration::from_secs(spec.config.limits.timeout_secs),
        record: empty_record(),
    };
    let sandbox_spec = SandboxSpec {
        source: spec.flake.source_dir.clone().into(),
        image: spec.implementation.image.clone(),
        nix_config: spec
            .implementation
            .options
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect(),
        env: Vec::new(),
        proxy: spec.proxy.cloned(),
        registry: spec.config.run.registry.sandbox(),
        limits: Limits {
            stderr_bytes: spec.config.limits.stderr_bytes,
            stdout_bytes: spec.config.limits.stdout_bytes,
        },
    };
    match executor.sandbox(&sandbox_spec).await {
        Ok(sandbox) => {
            test.run(sandbox.as_ref()).await;
            if let Err(e) = sandbox.destroy().await {
                tracing::warn!("sandbox cleanup: {e}");
            }
        }
        Err(e) => test.harness_error(format!("gnfc: {e}")),
    }
    test.record.total_ms = millis(started.elapsed());
    test.record
}

struct Test<'a> {
    rules: &'a RuleSet,
    spec: TestSpec<'a>,
    deadline: Instant,
    record: TestRecord,
}

/// A step ended the test; the record already says how.
struct Stop;

impl Test<'_> {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn subdir_path(&self, file: &str) -> String {
        match self.spec.flake.subdir.as_str() {
            "" => file.to_owned(),
            dir => format!("{dir}/{file}"),
        }
    }

    fn nix(&self) -> Command {
        let cmd = &self.spec.implementation.command;
        Command::new(&cmd[0]).args(cmd[1..].iter().cloned())
    }

    fn harness_error(&mut self, message: String) {
        self.record.outcome = Outcome::HarnessError;
        self.record.class = Some(harness_class(&message));
        self.keep_stderr(Stage::Prepare, "", message.into_bytes(), None);
    }

    fn keep_stderr(&mut self, stage: Stage, attr_path: &str, kept: Vec<u8>, total: Option<u64>) {
        if kept.is_empty() {
            return;
        }
        self.record.stderr.push(StderrRecord {
            stage,
            attr_path: attr_path.to_owned(),
            total_bytes: total.unwrap_or(kept.len() as u64),
            kept,
        });
    }

    fn classify(&self, stage: Stage, stderr: &[u8]) -> Classification {
        to_record(self.rules.classify_input(Input {
            stage,
            implementation: Some(self.spec.implementation_name),
            stderr,
        }))
    }

    /// Ends the test as failed at `stage` with the command's output.
    fn fail(&mut self, stage: Stage, outcome: Outcome, out: &ExecOutput) -> Stop {
        let stderr = out.stderr.bytes();
        self.record.outcome = outcome;
        self.record.exit_code = Some(i64::from(out.exit.code()));
        self.record.class =
            Some(limit_class(out.exit).unwrap_or_else(|| self.classify(stage, &stderr)));
        Stop
    }

    /// Runs a command within the test's remaining time, keeping its stderr.
    async fn exec(
        &mut self,
        sandbox: &dyn Sandbox,
        stage: Stage,
        attr_path: &str,
        command: &Command,
    ) -> Result<ExecOutput, Stop> {
        match sandbox.run(command, self.remaining()).await {
            Ok(out) => {
                self.keep_stderr(
                    stage,
                    attr_path,
                    out.stderr.bytes(),
                    Some(out.stderr.total()),
                );
                Ok(out)
            }
            Err(e) => {
                self.harness_error(format!("gnfc: {e}"));
                Err(Stop)
            }
        }
    }

    async fn run(&mut self, sandbox: &dyn Sandbox) {
        // Every step either continues or has already filled in the record.
        let _ = self.steps(sandbox).await;
    }

    async fn steps(&mut self, sandbox: &dyn Sandbox) -> Result<(), Stop> {
        let flake_ref = self.prepare(sandbox).await?;
        self.lock(sandbox, &flake_ref).await?;
        let outputs = self.enumerate(sandbox, &flake_ref).await?;
        self.evaluate(sandbox, &flake_ref, &outputs).await;
        Ok(())
    }

    /// Applies the resolver's lockfile policy and commits the copy into a fresh git tree, so
    /// that Nix sees the repo as a user's checkout: relative `path:` inputs between flakes of
    /// one repo resolve, and untracked junk does not leak in. The commit is the same for the
    /// same tree in every test and run (see [`commit_script`]).
    async fn prepare(&mut self, sandbox: &dyn Sandbox) -> Result<String, Stop> {
        let lock_path = self.subdir_path("flake.lock");
        let io_error = |this: &mut Self, e: gnfc_containers::ExecError| {
            this.harness_error(format!("gnfc: {e}"));
            Stop
        };
        match self.spec.resolver.lock_file {
            LockFilePolicy::Delete => sandbox
                .remove(&lock_path)
                .await
                .map_err(|e| io_error(self, e))?,
            LockFilePolicy::Keep => {}
            LockFilePolicy::Require => {
                if !sandbox
                    .exists(&lock_path)
                    .await
                    .map_err(|e| io_error(self, e))?
                {
                    // The test does not apply to this flake: nothing ran, so there is no
                    // class; the reason is kept where gnfc's own messages go.
                    let message = format!(
                        "gnfc: skipped: resolver '{}' needs the repo's own flake.lock, but \
                         {lock_path} does not exist\n",
                        self.spec.resolver_name
                    );
                    self.record.outcome = Outcome::Skipped;
                    self.keep_stderr(Stage::Prepare, "", message.into_bytes(), None);
                    return Err(Stop);
                }
            }
        }
        // One command, not three: in a container every command is an exec, which costs a
        // round trip to podman.
        let script = commit_script(self.spec.flake.committed_at);
        let command = Command::new("sh").args(["-c", script.as_str()]);
        let out = self.exec(sandbox, Stage::Prepare, "", &command).await?;
        if !out.exit.success() {
            let message = format!(
                "gnfc: preparing the source failed: git init/add/commit exited with {}: {}",
                out.exit.code(),
                out.stderr.text().lines().last().unwrap_or_default()
            );
            self.harness_error(message);
            return Err(Stop);
        }
        Ok(flake_ref(sandbox.source_dir(), &self.spec.flake.subdir))
    }

    async fn lock(&mut self, sandbox: &dyn Sandbox, flake_ref: &str) -> Result<(), Stop> {
        let nix = &self.spec.implementation.command;
        let mut argv: Vec<String> = Vec::new();
        for arg in &self.spec.resolver.lock {
            match arg.as_str() {
                "{nix}" => argv.extend(nix.iter().cloned()),
                other => argv.push(other.replace("{flake}", flake_ref)),
            }
        }
        let command = Command::new(&argv[0]).args(argv[1..].iter().cloned());
        let started = Instant::now();
        let out = self.exec(sandbox, Stage::Lock, "", &command).await?;
        self.record.lock_ms = Some(millis(started.elapsed()));
        if !out.exit.success() {
            let outcome = timeout_or(out.exit, Outcome::LockFail);
            return Err(self.fail(Stage::Lock, outcome, &out));
        }
        match sandbox.read(&self.subdir_path("flake.lock")).await {
            Ok(lock) => self.record.lockfile = lock,
            Err(e) => {
                self.harness_error(format!("gnfc: {e}"));
                return Err(Stop);
            }
        }
        Ok(())
    }

    async fn enumerate(
        &mut self,
        sandbox: &dyn Sandbox,
        flake_ref: &str,
    ) -> Result<Vec<Output>, Stop> {
        let config = self.spec.config;
        let expr = enumerate_expr(flake_ref, &config.outputs, &config.run.systems);
        let command = self
            .nix()
            .args(["eval", "--json", "--impure", "--expr"])
            .arg(expr);
        let started = Instant::now();
        let out = self.exec(sandbox, Stage::Enumerate, "", &command).await?;
        self.record.enumerate_ms = Some(millis(started.elapsed()));
        if !out.exit.success() {
            let outcome = timeout_or(out.exit, Outcome::EnumerateFail);
            return Err(self.fail(Stage::Enumerate, outcome, &out));
        }
        parse_enumeration(&out.stdout.bytes(), &config.outputs).map_err(|message| {
            self.harness_error(message);
            Stop
        })
    }

    async fn evaluate(&mut self, sandbox: &dyn Sandbox, flake_ref: &str, outputs: &[Output]) {
        let mut eval_ms = 0;
        let mut timed_out = false;
        for output in outputs {
            let attr = output.display();
            if timed_out {
                self.record.outputs.push(OutputRecord {
                    attr_path: attr,
                    status: OutputStatus::Skipped,
                    drv_path: None,
                    eval_ms: 0,
                    class: None,
                });
                continue;
            }
            let Ok(record) = self.evaluate_one(sandbox, flake_ref, output, &attr).await else {
                // The executor failed: the test is a harness error, whatever passed so far.
                return;
            };
            eval_ms += record.eval_ms;
            timed_out = record.status == OutputStatus::Timeout;
            self.record.outputs.push(record);
        }
        self.record.eval_ms = Some(eval_ms);
        let first_failed = self
            .record
            .outputs
            .iter()
            .find(|o| matches!(o.status, OutputStatus::Fail | OutputStatus::Timeout));
        (
            self.record.outcome,
            self.record.exit_code,
            self.record.class,
        ) = match first_failed {
            _ if timed_out => (Outcome::Timeout, Some(124), Some(timeout_class())),
            Some(o) => (Outcome::Partial, Some(0), o.class.clone()),
            None => (Outcome::Pass, Some(0), None),
        };
    }

    async fn evaluate_one(
        &mut self,
        sandbox: &dyn Sandbox,
        flake_ref: &str,
        output: &Output,
        attr: &str,
    ) -> Result<OutputRecord, Stop> {
        let mut record = OutputRecord {
            attr_path: attr.to_owned(),
            status: OutputStatus::Fail,
            drv_path: None,
            eval_ms: 0,
            class: None,
        };
        let path = match output.installable_path() {
            Ok(path) => path,
            Err(message) => {
                record.class = Some(self.classify(Stage::Eval, message.as_bytes()));
                self.keep_stderr(Stage::Eval, attr, message.into_bytes(), None);
                return Ok(record);
            }
        };
        let command = match output.eval {
            EvalMode::DrvPath => self
                .nix()
                .args(["eval", "--raw"])
                .arg(format!("{flake_ref}#{path}.drvPath")),
            EvalMode::AttrNames => self
                .nix()
                .args(["eval", "--json"])
                .arg(format!("{flake_ref}#{path}"))
                .args(["--apply", "builtins.attrNames"]),
        };
        let started = Instant::now();
        let out = self.exec(sandbox, Stage::Eval, attr, &command).await?;
        record.eval_ms = millis(started.elapsed());
        match out.exit {
            Exit::TimedOut => {
                record.status = OutputStatus::Timeout;
                record.class = Some(timeout_class());
            }
            Exit::OutOfMemory => record.class = Some(oom_class()),
            exit if exit.success() => {
                record.status = OutputStatus::Pass;
                if output.eval == EvalMode::DrvPath {
                    record.drv_path = Some(out.stdout.text().trim().to_owned());
                }
            }
            _ => record.class = Some(self.classify(Stage::Eval, &out.stderr.bytes())),
        }
        Ok(record)
    }
}

/// The source commit's time when the repo's own is not known: 2024-01-01T00:00:00Z, the date
/// `gnfc forge init` commits with too.
const FALLBACK_COMMIT_SECS: i64 = 1_704_067_200;

/// The shell commands that make the source copy one git commit, the same commit for the same
/// tree whenever and wherever they run: fixed identity and message, no parent, no system git
/// configuration, and the repo's own commit time (else [`FALLBACK_COMMIT_SECS`]). Otherwise
/// `self.rev`, `self.lastModified` and `self.lastModifiedDate` would follow the wall clock,
/// and a flake that puts them in a derivation would diverge between tests for gnfc's sake.
fn commit_script(committed_at_ms: Option<i64>) -> String {
    let secs = committed_at_ms.map_or(FALLBACK_COMMIT_SECS, |ms| ms.div_euclid(1000));
    format!(
        "set -e; export GIT_CONFIG_NOSYSTEM=1 \
         GIT_AUTHOR_NAME=gnfc GIT_AUTHOR_EMAIL=gnfc@localhost \
         GIT_COMMITTER_NAME=gnfc GIT_COMMITTER_EMAIL=gnfc@localhost \
         GIT_AUTHOR_DATE='@{secs} +0000' GIT_COMMITTER_DATE='@{secs} +0000'; \
         git init --quiet; git add --all --force; \
         git commit --quiet --no-gpg-sign --allow-empty -m source"
    )
}

/// `git+file:///path?dir=sub`, percent-encoding both so spaces, `!` and unicode in a repo's
/// directory names reach Nix intact.
fn flake_ref(source_dir: &str, subdir: &str) -> String {
    let mut out = format!("git+file://{}", percent_encode(source_dir, b"/"));
    if !subdir.is_empty() {
        out.push_str("?dir=");
        out.push_str(&percent_encode(subdir, b"/"));
    }
    out
}

fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn timeout_or(exit: Exit, outcome: Outcome) -> Outcome {
    if exit == Exit::TimedOut {
        Outcome::Timeout
    } else {
        outcome
    }
}

/// The class of a command the sandbox's limits ended, if they did.
fn limit_class(exit: Exit) -> Option<Classification> {
    match exit {
        Exit::TimedOut => Some(timeout_class()),
        Exit::OutOfMemory => Some(oom_class()),
        _ => None,
    }
}

/// Killed by the kernel at the container's memory limit (Nix's own "out of memory" message
/// is the classifier's `out-of-memory` rule).
fn oom_class() -> Classification {
    Classification {
        class: class::OOM.to_owned(),
        category: Category::Limits.to_string(),
        detail: None,
    }
}

pub(crate) fn timeout_class() -> Classification {
    Classification {
        class: class::TIMEOUT.to_owned(),
        category: Category::Limits.to_string(),
        detail: None,
    }
}

fn harness_class(message: &str) -> Classification {
    Classification {
        class: class::HARNESS_ERROR.to_owned(),
        category: Category::Harness.to_string(),
        detail: message.lines().next().map(str::to_owned),
    }
}

pub fn to_record(class: Class) -> Classification {
    Classification {
        class: class.id,
        category: class.category.as_str().to_owned(),
        detail: class.detail,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod unit {
    use super::*;

    /// Runs the commit script in a fresh copy of one small tree; returns `rev commit-time`.
    fn commit_in_fresh_tree(committed_at_ms: Option<i64>) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("flake.nix"), "{ outputs = _: { }; }\n").unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new(args[0])
                .args(&args[1..])
                .current_dir(dir.path())
                .env("HOME", dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        run(&["sh", "-c", &commit_script(committed_at_ms)]);
        run(&["git", "log", "-1", "--format=%H %ct"])
            .trim()
            .to_owned()
    }

    #[test]
    fn the_source_commit_depends_on_the_tree_and_commit_time_only() {
        let fallback = commit_in_fresh_tree(None);
        assert!(fallback.ends_with(" 1704067200"), "{fallback}");
        // A second later on the clock, another directory: the same commit.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(commit_in_fresh_tree(None), fallback);
        let own = commit_in_fresh_tree(Some(1_600_000_000_999));
        assert!(own.ends_with(" 1600000000"), "{own}");
        assert_ne!(own[..40], fallback[..40]);
    }

    #[test]
    fn flake_refs_encode_odd_directories() {
        assert_eq!(flake_ref("/s/src", ""), "git+file:///s/src");
        assert_eq!(
            flake_ref("/s/src", "dir with space/ä!"),
            "git+file:///s/src?dir=dir%20with%20space/%C3%A4%21"
        );
    }
}
