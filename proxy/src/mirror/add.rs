//! `gnfc forge add`: real repositories — a clone, a bare repository or a git bundle — into
//! the mirror as bare repositories with their whole history (every branch and tag), so that
//! committed flake.locks pinning old revisions resolve against the mirror as they would
//! against the forge.
//!
//! A repository is fetched into a staging directory inside the mirror and renamed into
//! place, so a failed or interrupted add leaves the mirror as it was.

use std::path::{Path, PathBuf};

use super::git::{git, output, GitError};
use super::{held, layouts, RepoName};

/// Branches taken as the default, in this order, when the source's `HEAD` does not say.
const USUAL_DEFAULTS: [&str; 2] = ["main", "master"];

/// Why a repository could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("{}: not a git clone, a bare repository or a git bundle", .0.display())]
    NotARepo(PathBuf),
    #[error(
        "{}: {message}; name it with --as github:owner/name",
        path.display()
    )]
    Name { path: PathBuf, message: String },
    #[error("{name} is already in the mirror at {}; pass --replace to replace it", path.display())]
    Exists { name: RepoName, path: PathBuf },
    #[error(
        "{}: a shallow clone lacks the history locks pin; run `git fetch --unshallow` in it first",
        .0.display()
    )]
    Shallow(PathBuf),
    #[error("{}: holds no branch to serve", .0.display())]
    NoBranch(PathBuf),
    #[error(
        "{}: cannot tell the default branch (HEAD names none of its branches, and it has no \
         main or master); check one out",
        .0.display()
    )]
    NoDefaultBranch(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Git { path: PathBuf, message: String },
}

impl AddError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AddError {
        let path = path.to_owned();
        move |source| AddError::Io { path, source }
    }

    fn git(path: &Path) -> impl FnOnce(GitError) -> AddError {
        let path = path.to_owned();
        move |e| AddError::Git {
            path,
            message: e.to_string(),
        }
    }
}

/// A repository [`add_to_mirror`] put into the mirror.
#[derive(Debug, Clone)]
pub struct AddedRepo {
    pub name: RepoName,
    /// The bare repository in the mirror.
    pub path: PathBuf,
    /// The default branch (what `HEAD` names) and its commit.
    pub branch: String,
    pub head: String,
    pub branches: usize,
    pub tags: usize,
    /// Whether it replaced a repository of the same name.
    pub replaced: bool,
}

impl AddedRepo {
    /// Checks the default branch out into `into` (which must not exist).
    pub async fn check_out(&self, into: &Path) -> Result<(), AddError> {
        let mut clone = git(None);
        clone.args(["clone", "--quiet"]).arg(&self.path).arg(into);
        output(clone, &[])
            .await
            .map_err(AddError::git(&self.path))?;
        Ok(())
    }
}

/// What a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A clone (with a work tree) or a bare repository: git reads both alike.
    Repository,
    Bundle,
}

/// What [`fetch_into`] made.
#[derive(Debug)]
struct Fetched {
    branch: String,
    head: String,
    branches: usize,
    tags: usize,
}

/// A source's refs as `(refname, commit)`, and what its `HEAD` says.
#[derive(Debug, Default)]
struct Refs {
    refs: Vec<(String, String)>,
    /// The branch `HEAD` names (`refs/heads/…`), when it names one.
    head_branch: Option<String>,
    /// The commit `HEAD` is at (a bundle says only this).
    head_commit: Option<String>,
}

impl RepoName {
    /// The name a source gets when none is given: `owner+name` as its last component (a
    /// `.git` or `.bundle` suffix aside, the mirror's own flat layout), else its parent
    /// directory and last component.
    pub fn from_path(path: &Path) -> Result<RepoName, AddError> {
        let bad = |message: String| AddError::Name {
            path: path.to_owned(),
            message,
        };
        let absolute = std::path::absolute(path).map_err(AddError::io(path))?;
        let component = |p: Option<&Path>| {
            p.and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let last = component(Some(&absolute));
        let last = [".bundle", ".git"]
            .iter()
            .find_map(|suffix| last.strip_suffix(suffix))
            .unwrap_or(&last);
        let text = match last.split_once('+') {
            Some((owner, repo)) => format!("{owner}/{repo}"),
            None => format!("{}/{last}", component(absolute.parent())),
        };
        text.parse().map_err(bad)
    }
}

/// Adds the repository at `source` to `mirror` as `name`; an existing repository of that
/// name is an error unless `replace`.
pub async fn add_to_mirror(
    source: &Path,
    mirror: &Path,
    name: &RepoName,
    replace: bool,
) -> Result<AddedRepo, AddError> {
    let source = &std::path::absolute(source).map_err(AddError::io(source))?;
    let existing: Vec<PathBuf> = held(mirror, name).collect();
    if let (Some(path), false) = (existing.first(), replace) {
        return Err(AddError::Exists {
            name: name.clone(),
            path: path.clone(),
        });
    }
    let kind = kind_of(source)?;
    let refs = source_refs(source, kind).await?;
    std::fs::create_dir_all(mirror).map_err(AddError::io(mirror))?;
    let staging = tempfile::Builder::new()
        .prefix(".gnfc-add-")
        .tempdir_in(mirror)
        .map_err(AddError::io(mirror))?;
    let fetched = fetch_into(source, &refs, staging.path()).await?;
    let [target, _] = layouts(mirror, name);
    let owner_dir = target.parent().unwrap_or(mirror);
    std::fs::create_dir_all(owner_dir).map_err(AddError::io(owner_dir))?;
    swap_in(staging.path(), &target, &existing, mirror)?;
    // Moved: nothing is left for the guard to remove.
    let _ = staging.keep();
    Ok(AddedRepo {
        name: name.clone(),
        path: target,
        branch: fetched.branch,
        head: fetched.head,
        branches: fetched.branches,
        tags: fetched.tags,
        replaced: !existing.is_empty(),
    })
}

/// Renames `staging` to `target`, the `existing` repositories of the name (either layout)
/// moved aside first and removed once it is in place, or put back if it cannot be: the name
/// is never served from a half-made repository, and a failure loses nothing.
fn swap_in(
    staging: &Path,
    target: &Path,
    existing: &[PathBuf],
    mirror: &Path,
) -> Result<(), AddError> {
    let aside = tempfile::Builder::new()
        .prefix(".gnfc-replaced-")
        .tempdir_in(mirror)
        .map_err(AddError::io(mirror))?;
    let parked = |i: usize| aside.path().join(i.to_string());
    let put_back = |moved: usize| {
        for (i, old) in existing.iter().enumerate().take(moved) {
            let _ = std::fs::rename(parked(i), old);
        }
    };
    for (i, old) in existing.iter().enumerate() {
        if let Err(e) = std::fs::rename(old, parked(i)) {
            put_back(i);
            return Err(AddError::io(old)(e));
        }
    }
    if let Err(e) = std::fs::rename(staging, target) {
        put_back(existing.len());
        return Err(AddError::io(target)(e));
    }
    // `aside` and what was moved into it are removed as it drops.
    Ok(())
}

fn kind_of(source: &Path) -> Result<Kind, AddError> {
    if source.is_file() {
        let mut header = [0u8; 16];
        std::fs::File::open(source)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
            .ok();
        if [b"# v2 git bundle\n", b"# v3 git bundle\n"].contains(&&header) {
            return Ok(Kind::Bundle);
        }
    } else if source.join(".git").exists()
        || source.join("HEAD").is_file() && source.join("objects").is_dir()
    {
        return Ok(Kind::Repository);
    }
    Err(AddError::NotARepo(source.to_owned()))
}

fn lines(out: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(sha, name)| (name.to_owned(), sha.to_owned()))
        .collect()
}

async fn source_refs(source: &Path, kind: Kind) -> Result<Refs, AddError> {
    let failed = || AddError::git(source);
    let in_repo = || {
        let mut cmd = git(None);
        cmd.arg("-C").arg(source);
        cmd
    };
    if kind == Kind::Bundle {
        let mut list = git(None);
        list.args(["bundle", "list-heads"]).arg(source);
        let mut refs = lines(&output(list, &[]).await.map_err(failed())?);
        let head = refs.iter().position(|(name, _)| name == "HEAD");
        let head_commit = head.map(|i| refs.remove(i).1);
        return Ok(Refs {
            refs,
            head_branch: None,
            head_commit,
        });
    }
    let shallow = output(in_repo(), &["rev-parse", "--is-shallow-repository"])
        .await
        .map_err(failed())?;
    if String::from_utf8_lossy(&shallow).trim() == "true" {
        return Err(AddError::Shallow(source.to_owned()));
    }
    let listed = output(
        in_repo(),
        &[
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            "refs/heads",
            "refs/tags",
            "refs/remotes",
        ],
    )
    .await
    .map_err(failed())?;
    // Both fail on a detached or unborn HEAD: the refs decide then.
    let head_branch = output(in_repo(), &["symbolic-ref", "--quiet", "HEAD"])
        .await
        .ok()
        .map(|out| String::from_utf8_lossy(&out).trim().to_owned());
    let head_commit = output(in_repo(), &["rev-parse", "--verify", "--quiet", "HEAD"])
        .await
        .ok()
        .map(|out| String::from_utf8_lossy(&out).trim().to_owned());
    Ok(Refs {
        refs: lines(&listed),
        head_branch,
        head_commit,
    })
}

/// The mirror's branches and tags, as `(source ref, mirror ref)`: branches and tags as they
/// are, and a clone's remote-tracking branches as branches too (a fresh clone has only its
/// default branch locally; the forge had them all), unless a local branch has the name.
fn mirror_refs(refs: &[(String, String)]) -> Vec<(String, String)> {
    let mut mapped: Vec<(String, String)> = refs
        .iter()
        .filter(|(name, _)| name.starts_with("refs/heads/") || name.starts_with("refs/tags/"))
        .map(|(name, _)| (name.clone(), name.clone()))
        .collect();
    // `origin` first: its branch wins over another remote's of the same name.
    let mut remote: Vec<(&str, &str)> = refs
        .iter()
        .filter_map(|(name, _)| {
            let (remote, branch) = name.strip_prefix("refs/remotes/")?.split_once('/')?;
            (branch != "HEAD").then_some((remote, branch))
        })
        .collect();
    remote.sort_by_key(|(r, _)| *r != "origin");
    for (remote, branch) in remote {
        let target = format!("refs/heads/{branch}");
        if !mapped.iter().any(|(_, t)| *t == target) {
            mapped.push((format!("refs/remotes/{remote}/{branch}"), target));
        }
    }
    mapped
}

/// The branch (short name) the mirror's `HEAD` names: the one the source's `HEAD` names,
/// else one at `HEAD`'s commit, else the usual defaults, else the only branch.
fn default_branch(refs: &Refs, branches: &[(String, String)]) -> Option<String> {
    let names: Vec<&str> = branches
        .iter()
        .filter_map(|(name, _)| name.strip_prefix("refs/heads/"))
        .collect();
    let named = refs
        .head_branch
        .as_deref()
        .and_then(|b| b.strip_prefix("refs/heads/"))
        .filter(|b| names.contains(b));
    let at_head: Vec<&str> = branches
        .iter()
        .filter(|(_, sha)| Some(sha) == refs.head_commit.as_ref())
        .filter_map(|(name, _)| name.strip_prefix("refs/heads/"))
        .collect();
    named
        .or_else(|| usual_or_first(&at_head))
        .or_else(|| USUAL_DEFAULTS.iter().find(|d| names.contains(d)).copied())
        .or_else(|| (names.len() == 1).then(|| names[0]))
        .map(str::to_owned)
}

/// The first of [`USUAL_DEFAULTS`] among `candidates`, else the first candidate.
fn usual_or_first<'a>(candidates: &[&'a str]) -> Option<&'a str> {
    USUAL_DEFAULTS
        .iter()
        .find(|d| candidates.contains(d))
        .copied()
        .or_else(|| candidates.first().copied())
}

/// Fetches the mirror's refs from `source` into a new bare repository at `target`.
async fn fetch_into(source: &Path, refs: &Refs, target: &Path) -> Result<Fetched, AddError> {
    let mapped = mirror_refs(&refs.refs);
    let branches: Vec<(String, String)> = mapped
        .iter()
        .filter(|(_, to)| to.starts_with("refs/heads/"))
        .filter_map(|(from, to)| {
            let sha = refs.refs.iter().find(|(name, _)| name == from)?.1.clone();
            Some((to.clone(), sha))
        })
        .collect();
    if branches.is_empty() {
        return Err(AddError::NoBranch(source.to_owned()));
    }
    let branch =
        default_branch(refs, &branches).ok_or_else(|| AddError::NoDefaultBranch(source.into()))?;
    let bare = Some(target);
    output(git(bare), &["init", "--quiet", "--bare"])
        .await
        .map_err(AddError::git(target))?;
    let refspecs: Vec<String> = mapped.iter().map(|(f, t)| format!("+{f}:{t}")).collect();
    let mut fetch = git(bare);
    fetch
        .args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--",
        ])
        .arg(source)
        .args(&refspecs);
    output(fetch, &[]).await.map_err(AddError::git(source))?;
    let head_ref = format!("refs/heads/{branch}");
    output(git(bare), &["symbolic-ref", "HEAD", &head_ref])
        .await
        .map_err(AddError::git(target))?;
    let head = branches
        .iter()
        .find(|(name, _)| *name == head_ref)
        .map(|(_, sha)| sha.clone())
        .unwrap_or_default();
    Ok(Fetched {
        branch,
        head,
        branches: branches.len(),
        tags: mapped.len() - branches.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(names: &[(&str, &str)]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect()
    }

    #[test]
    fn names_come_from_the_last_two_components_or_an_owner_plus_repo_name() {
        let name = |p: &str| RepoName::from_path(Path::new(p)).map(|n| n.to_string());
        assert_eq!(name("/x/NixOS/nixpkgs").unwrap(), "NixOS/nixpkgs");
        assert_eq!(name("/x/NixOS/nixpkgs.git").unwrap(), "NixOS/nixpkgs");
        assert_eq!(
            name("/x/LnL7+nix-darwin.bundle").unwrap(),
            "LnL7/nix-darwin"
        );
        assert!(name("/x/has space/repo").is_err());
        let message = name("/x/o/na:me").unwrap_err().to_string();
        assert!(message.contains("--as github:owner/name"), "{message}");
    }

    #[test]
    fn remote_branches_become_branches_unless_a_local_one_has_the_name() {
        let mapped = mirror_refs(&refs(&[
            ("refs/heads/main", "1"),
            ("refs/remotes/fork/feature", "4"),
            ("refs/remotes/origin/HEAD", "2"),
            ("refs/remotes/origin/main", "2"),
            ("refs/remotes/origin/feature", "3"),
            ("refs/tags/v1", "5"),
            ("refs/stash", "6"),
        ]));
        let pairs: Vec<(&str, &str)> = mapped
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("refs/heads/main", "refs/heads/main"),
                ("refs/tags/v1", "refs/tags/v1"),
                ("refs/remotes/origin/feature", "refs/heads/feature"),
            ]
        );
    }

    #[test]
    fn the_default_branch_is_what_head_says_else_a_usual_name() {
        let branches = refs(&[
            ("refs/heads/dev", "1"),
            ("refs/heads/main", "2"),
            ("refs/heads/stable", "2"),
        ]);
        let pick = |branch: Option<&str>, commit: Option<&str>| {
            let r = Refs {
                refs: Vec::new(),
                head_branch: branch.map(str::to_owned),
                head_commit: commit.map(str::to_owned),
            };
            default_branch(&r, &branches)
        };
        assert_eq!(
            pick(Some("refs/heads/dev"), Some("1")).as_deref(),
            Some("dev")
        );
        // A bundle only says HEAD's commit: of the branches there, main.
        assert_eq!(pick(None, Some("2")).as_deref(), Some("main"));
        assert_eq!(pick(None, Some("1")).as_deref(), Some("dev"));
        // Detached elsewhere.
        assert_eq!(pick(None, Some("9")).as_deref(), Some("main"));
        let only_feature = refs(&[("refs/heads/a", "1"), ("refs/heads/b", "2")]);
        let r = Refs::default();
        assert_eq!(default_branch(&r, &only_feature), None);
    }
}
