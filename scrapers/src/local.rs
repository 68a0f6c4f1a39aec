//! Repos on the local disk: `gnfc corpus add PATH`.

use std::path::{Path, PathBuf};

use crate::ImportError;

/// A directory to be added as one repo.
#[derive(Debug, Clone)]
pub struct LocalRepo {
    pub path: PathBuf,
    /// The parent directory's name: `corpus` for `corpus/follows-empty`.
    pub owner: String,
    pub name: String,
    /// When the checkout's `HEAD` was committed (ms since the epoch); `None` for a plain
    /// directory, or a checkout without commits.
    pub committed_at: Option<i64>,
}

/// Whether `dir` is itself a repo: a git checkout, or a directory with a flake at its root.
fn is_repo(dir: &Path) -> bool {
    dir.join(".git").exists() || flake_file_in(dir).is_some()
}

/// The flake file directly in `dir`, matched case-insensitively: a repo whose only flake file
/// is `FLAKE.nix` is a real case (seed 001), and must reach the test to fail there, visibly.
pub(crate) fn flake_file_in(dir: &Path) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.eq_ignore_ascii_case("flake.nix"))
        .collect();
    // Prefer the exact name when a case-sensitive filesystem holds both.
    names.sort_by_key(|n| n != "flake.nix");
    names.into_iter().next()
}

/// What `gnfc corpus add PATH` means by PATH: a repo (a git checkout or a directory with a
/// flake at its root, flakes in subdirectories included), or else a directory of repos, each
/// subdirectory one repo. `as_repo` forces the first reading.
pub fn discover_local(path: &Path, as_repo: bool) -> Result<Vec<LocalRepo>, ImportError> {
    let path = path.canonicalize().map_err(|source| ImportError::Io {
        path: path.to_owned(),
        what: "cannot open",
        source,
    })?;
    if !path.is_dir() {
        return Err(ImportError::NotADirectory(path));
    }
    if as_repo || is_repo(&path) {
        return Ok(vec![local_repo(path)]);
    }
    let mut repos = Vec::new();
    let entries = std::fs::read_dir(&path).map_err(|source| ImportError::Io {
        path: path.clone(),
        what: "cannot list",
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| ImportError::Io {
            path: path.clone(),
            what: "cannot list",
            source,
        })?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && entry.file_name() != ".git" {
            repos.push(local_repo(entry.path()));
        }
    }
    repos.sort_by(|a, b| a.path.cmp(&b.path));
    if repos.is_empty() {
        return Err(ImportError::NoFlakes(path));
    }
    Ok(repos)
}

fn local_repo(path: PathBuf) -> LocalRepo {
    let name_of = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map_or_else(|| "root".to_owned(), |n| n.to_string_lossy().into_owned())
    };
    // Only a checkout's own root has a commit time: a directory inside some other checkout
    // (as corpus/ is inside gnfc's) must not take that repo's latest commit as its own.
    let committed_at = path
        .join(".git")
        .exists()
        .then(|| head_commit_time(&path))
        .flatten();
    LocalRepo {
        owner: name_of(path.parent()),
        name: name_of(Some(&path)),
        committed_at,
        path,
    }
}

/// When `HEAD` of the git repository at `dir` (a checkout or a bare repository) was
/// committed, in ms since the epoch; `None` when git cannot tell (no commits, not a repo).
pub fn head_commit_time(dir: &Path) -> Option<i64> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["log", "-1", "--format=%ct", "HEAD", "--"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let secs: i64 = std::str::from_utf8(&out.stdout).ok()?.trim().parse().ok()?;
    out.status.success().then(|| secs.saturating_mul(1000))
}

#[cfg(test)]
mod unit {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_checkout_has_its_head_commit_time_and_a_directory_inside_one_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let checkout = dir.path().join("owner/repo");
        std::fs::create_dir_all(checkout.join("sub")).unwrap();
        std::fs::write(checkout.join("sub/flake.nix"), "{ outputs = _: { }; }\n").unwrap();
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(&checkout)
                .env("GIT_COMMITTER_DATE", "@1600000000 +0200")
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        };
        git(&["init", "-q"]);
        let repos = discover_local(&checkout, false).unwrap();
        assert_eq!(repos[0].committed_at, None, "no commit yet");
        git(&["add", "."]);
        git(&["commit", "-q", "-m", "one"]);
        let repos = discover_local(&checkout, false).unwrap();
        assert_eq!(
            (repos[0].owner.as_str(), repos[0].name.as_str()),
            ("owner", "repo")
        );
        assert_eq!(repos[0].committed_at, Some(1_600_000_000_000));
        let inside = discover_local(&checkout.join("sub"), false).unwrap();
        assert_eq!(inside[0].committed_at, None);
    }
}
