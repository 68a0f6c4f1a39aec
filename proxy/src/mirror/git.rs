//! The git commands the mirror runs on its bare repositories. `git` is run as a program
//! (as forges do for archives): it is the reference implementation of `git archive`, and
//! its tarballs are byte-for-byte reproducible for a given commit.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::body::{BodyError, BodySender};

/// Read size when streaming `git archive` output.
const ARCHIVE_CHUNK: usize = 64 * 1024;

/// A commit as forges describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitInfo {
    pub(crate) sha: String,
    pub(crate) tree: String,
    pub(crate) parents: Vec<String>,
    pub(crate) author: Person,
    pub(crate) committer: Person,
    pub(crate) message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub(crate) name: String,
    pub(crate) email: String,
    /// ISO 8601 with offset, as `git log %aI` prints it.
    pub(crate) date: String,
}

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    #[error("cannot run git: {0}; install git (Debian: `apt-get install git`)")]
    Spawn(std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
}

/// A `git` command with a clean environment: no user or system configuration can change
/// what it prints (dates, archive formats, pagers).
pub(crate) fn git(git_dir: Option<&Path>) -> Command {
    let mut cmd = Command::new("git");
    if let Some(dir) = git_dir {
        cmd.arg("--git-dir").arg(dir);
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs a git command, with `args` added, to completion and returns its stdout.
pub(crate) async fn output(mut cmd: Command, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = cmd
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(GitError::Spawn)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        // Every argument, those set on `cmd` before too: which repository failed matters.
        let all: Vec<String> = cmd
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        Err(GitError::Failed {
            args: all.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// A bare repository of the mirror.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    pub(crate) path: PathBuf,
}

impl Repo {
    /// Whether `rev` may be handed to git: a ref name or a hash, never an option.
    fn acceptable(rev: &str) -> bool {
        !rev.is_empty()
            && !rev.starts_with('-')
            && rev.len() <= 255
            && rev
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./+@".contains(c))
    }

    /// The commit a ref, a tag or a (possibly abbreviated) hash names; `None` when it names
    /// none. `HEAD` is the default branch, as on the forges.
    pub(crate) async fn resolve(&self, rev: &str) -> Result<Option<String>, GitError> {
        if !Self::acceptable(rev) {
            return Ok(None);
        }
        let spec = format!("{rev}^{{commit}}");
        match output(
            git(Some(&self.path)),
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
        )
        .await
        {
            Ok(out) => Ok(Some(String::from_utf8_lossy(&out).trim().to_owned())),
            // `--verify --quiet` fails silently for names that resolve to nothing.
            Err(GitError::Failed { stderr, .. }) if stderr.is_empty() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What forges say about a commit (`sha` must be a full hash from [`Repo::resolve`]).
    pub(crate) async fn commit(&self, sha: &str) -> Result<CommitInfo, GitError> {
        let out = output(
            git(Some(&self.path)),
            &[
                "show",
                "--no-patch",
                "--format=%H%n%T%n%P%n%an%n%ae%n%aI%n%cn%n%ce%n%cI%n%B",
                sha,
            ],
        )
        .await?;
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.splitn(10, '\n');
        let mut next = || lines.next().unwrap_or_default().to_owned();
        let (sha, tree, parents) = (next(), next(), next());
        let author = Person {
            name: next(),
            email: next(),
            date: next(),
        };
        let committer = Person {
            name: next(),
            email: next(),
            date: next(),
        };
        Ok(CommitInfo {
            sha,
            tree,
            parents: parents.split_whitespace().map(str::to_owned).collect(),
            author,
            committer,
            message: next().trim_end().to_owned(),
        })
    }

    /// The branch `HEAD` points at, as `refs/heads/…`.
    pub(crate) async fn head_ref(&self) -> Result<String, GitError> {
        let out = output(git(Some(&self.path)), &["symbolic-ref", "HEAD"]).await?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// `info/refs` as git's dumb HTTP protocol serves it: `{sha}\t{ref}` per line, sorted,
    /// annotated tags followed by their peeled `^{}` line.
    pub(crate) async fn info_refs(&self) -> Result<String, GitError> {
        let out = output(
            git(Some(&self.path)),
            &[
                "for-each-ref",
                "--sort=refname",
                "--format=%(objectname)\t%(refname)%(if)%(*objectname)%(then)\n%(*objectname)\t%(refname)^{}%(end)",
                "refs/heads",
                "refs/tags",
            ],
        )
        .await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Streams `git archive --format=tar.gz --prefix={prefix}/ {sha}` into `tx`; a failure
    /// half-way is sent as an error so the client never takes a cut tarball for a whole one.
    pub(crate) async fn archive(&self, sha: &str, prefix: &str, tx: BodySender) {
        let mut cmd = git(Some(&self.path));
        cmd.args(["archive", "--format=tar.gz"])
            .arg(format!("--prefix={prefix}/"))
            .arg(sha)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                let _ = tx
                    .send(Err(BodyError(GitError::Spawn(e).to_string())))
                    .await;
                return;
            }
        };
        let Some(mut stdout) = child.stdout.take() else {
            return;
        };
        let mut buf = vec![0u8; ARCHIVE_CHUNK];
        loop {
            match stdout.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        // The client left; kill_on_drop stops git.
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(BodyError(format!("reading git archive: {e}"))))
                        .await;
                    return;
                }
            }
        }
        match child.wait_with_output().await {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                let _ = tx
                    .send(Err(BodyError(format!(
                        "git archive failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))))
                    .await;
            }
            Err(e) => {
                let _ = tx.send(Err(BodyError(format!("git archive: {e}")))).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_odd_names_are_never_passed_to_git() {
        assert!(Repo::acceptable("HEAD"));
        assert!(Repo::acceptable("refs/heads/release-1.0"));
        assert!(Repo::acceptable("0123abc"));
        assert!(!Repo::acceptable("--output=/etc/passwd"));
        assert!(!Repo::acceptable("a b"));
        assert!(!Repo::acceptable("x:y"));
        assert!(!Repo::acceptable(""));
    }
}
