//! What the harness's integration tests share: running the real `gnfc` binary in a directory
//! of its own, as a user would (no `GNFC_DB` from the environment).

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub const GNFC: &str = env!("CARGO_BIN_EXE_gnfc");

/// `gnfc ARGS` in `dir`, not yet run.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(GNFC);
    cmd.current_dir(dir).env_remove("GNFC_DB").args(args);
    cmd
}

/// Runs `gnfc ARGS` in `dir`, whatever its exit.
pub fn gnfc(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().unwrap()
}

/// Runs `gnfc ARGS` in `dir` and returns its stdout, failing the test on a non-zero exit.
pub fn gnfc_ok(dir: &Path, args: &[&str]) -> String {
    let out = gnfc(dir, args);
    assert!(
        out.status.success(),
        "gnfc {args:?} failed:\n{}",
        text(&out)
    );
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
