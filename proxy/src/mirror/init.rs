//! `gnfc forge init`: turns plain source directories (`FROM/owner/repo/…`) into the
//! mirror's bare repositories (`TO/owner/repo.git`), one commit each on `main`, with a fixed
//! author, committer, date and message. The same files therefore always give the same
//! revision, so flakes and locks can name it. A file `FROM/owner/repo.branches` beside a
//! source names more branches (one per line) at the same commit, for upstreams that are
//! followed by another branch name (the global registry's `nixpkgs` is `nixpkgs-unstable`).

use std::path::{Path, PathBuf};

use super::git::{git, output, GitError};

/// Author, committer and date of every mirror commit.
const IDENTITY: &str = "gnfc mirror";
const EMAIL: &str = "mirror@gnfc.invalid";
const DATE: &str = "2024-01-01T00:00:00+00:00";
const BRANCH: &str = "main";

/// Why a mirror could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot read {path}: {source}; pass a directory laid out as owner/repo/files")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create {path}: {source}; check that the target directory is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no owner/repo directories; lay sources out as owner/repo/files")]
    Empty { path: PathBuf },
    #[error("{repo}: {message}")]
    Git { repo: String, message: String },
}

/// A repository written by [`init_mirror`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitedRepo {
    /// `owner/repo`.
    pub name: String,
    /// Its only commit (on `main`, which `HEAD` names).
    pub rev: String,
    /// The bare repository.
    pub path: PathBuf,
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let read = |source| InitError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type().map_err(read)?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Makes (or brings up to date) a bare repository in `to` for every `from/owner/repo`.
/// Running it again on unchanged sources changes nothing.
pub async fn init_mirror(from: &Path, to: &Path) -> Result<Vec<InitedRepo>, InitError> {
    // git runs with the source as its work tree: relative paths would then mean something else.
    let absolute = |path: &Path| {
        std::path::absolute(path).map_err(|source| InitError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let (from, to) = (absolute(from)?, absolute(to)?);
    let (from, to) = (from.as_path(), to.as_path());
    let mut done = Vec::new();
    for owner in subdirs(from)? {
        for source in subdirs(&owner)? {
            let owner_name = file_name(&owner);
            let repo_name = file_name(&source);
            let name = format!("{owner_name}/{repo_name}");
            let target = to.join(&owner_name).join(format!("{repo_name}.git"));
            std::fs::create_dir_all(&target).map_err(|source| InitError::Write {
                path: target.clone(),
                source,
            })?;
            let git_error = |e: GitError| InitError::Git {
                repo: name.clone(),
                message: e.to_string(),
            };
            let rev = commit_tree(&source, &target).await.map_err(git_error)?;
            for branch in extra_branches(&source)? {
                let reference = format!("refs/heads/{branch}");
                output(git(Some(&target)), &["update-ref", &reference, &rev])
                    .await
                    .map_err(git_error)?;
            }
            done.push(InitedRepo {
                name,
                rev,
                path: target,
            });
        }
    }
    if done.is_empty() {
        return Err(InitError::Empty {
            path: from.to_owned(),
        });
    }
    Ok(done)
}

/// The branch names in `source.branches`, if that file exists.
fn extra_branches(source: &Path) -> Result<Vec<String>, InitError> {
    let path = source.with_extension("branches");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(InitError::Read { path, source }),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One deterministic commit of `source`'s files in the bare repository `target`.
async fn commit_tree(source: &Path, target: &Path) -> Result<String, GitError> {
    let bare = Some(target);
    output(
        git(bare),
        &["init", "--quiet", "--bare", "--initial-branch", BRANCH],
    )
    .await?;
    // A private index: nothing of the source directory is touched.
    let index = target.join("gnfc-import.index");
    let _ = std::fs::remove_file(&index);
    let mut add = git(bare);
    add.env("GIT_INDEX_FILE", &index)
        .arg("--work-tree")
        .arg(source);
    let added = output(add, &["add", "--all", "--force", "."]).await;
    let mut write = git(bare);
    write.env("GIT_INDEX_FILE", &index);
    let tree = match added {
        Ok(_) => output(write, &["write-tree"]).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&index);
    let tree = String::from_utf8_lossy(&tree?).trim().to_owned();
    let mut commit = git(bare);
    for (key, value) in [
        ("GIT_AUTHOR_NAME", IDENTITY),
        ("GIT_AUTHOR_EMAIL", EMAIL),
        ("GIT_AUTHOR_DATE", DATE),
        ("GIT_COMMITTER_NAME", IDENTITY),
        ("GIT_COMMITTER_EMAIL", EMAIL),
        ("GIT_COMMITTER_DATE", DATE),
    ] {
        commit.env(key, value);
    }
    let rev = output(
        commit,
        &["commit-tree", &tree, "-m", "gnfc mirror snapshot"],
    )
    .await?;
    let rev = String::from_utf8_lossy(&rev).trim().to_owned();
    let branch = format!("refs/heads/{BRANCH}");
    output(git(bare), &["update-ref", &branch, &rev]).await?;
    output(git(bare), &["symbolic-ref", "HEAD", &branch]).await?;
    Ok(rev)
}
