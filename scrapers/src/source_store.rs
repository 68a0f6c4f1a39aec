//! A content-addressed store of repo snapshots.
//!
//! A snapshot is a copy of a repo's tree (without `.git`) in a directory named by the hash of
//! that tree. The same tree is stored once; a changed tree is a new revision beside the old
//! one, so a run recorded against a revision can always be re-run on the same bytes. A copy
//! is made in a temporary directory and renamed into place, so a crash never leaves a
//! half-written snapshot under a valid name.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::local::flake_file_in;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{} is not a directory: give a repo directory or a directory of repos", .0.display())]
    NotADirectory(PathBuf),
    #[error(
        "{} holds no flake.nix, nor any subdirectory to look in: give a directory with a \
         flake.nix, or a directory of such repos",
        .0.display()
    )]
    NoFlakes(PathBuf),
    #[error("{} is a {kind}, which a repo cannot hold: remove it from the tree", path.display())]
    SpecialFile { path: PathBuf, kind: &'static str },
}

/// A flake file gnfc refuses to add, and why.
#[derive(Debug, Clone)]
pub struct FlakeProblem {
    pub path: PathBuf,
    pub message: String,
}

/// A repo's tree, stored.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `sha256-<hex>` of the tree.
    pub revision: String,
    pub dir: PathBuf,
    /// (subdir, flake file name) of each flake found, root first.
    pub flakes: Vec<(String, String)>,
    /// Flake files found but not added.
    pub problems: Vec<FlakeProblem>,
}

impl Snapshot {
    /// The flakes found, as the database records them.
    pub fn new_flakes(&self) -> Vec<gnfc_data::NewFlake> {
        self.flakes
            .iter()
            .map(|(subdir, file)| gnfc_data::NewFlake {
                subdir: subdir.clone(),
                flake_file: file.clone(),
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct SourceStore {
    root: PathBuf,
}

enum Entry {
    Dir,
    File { executable: bool },
    Symlink(PathBuf),
}

impl SourceStore {
    pub fn new(root: impl Into<PathBuf>) -> SourceStore {
        SourceStore { root: root.into() }
    }

    /// The directory snapshots live in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Snapshots `repo`: copies its tree into the store, hashes it and lists its flakes.
    pub fn import(&self, repo: &Path) -> Result<Snapshot, ImportError> {
        std::fs::create_dir_all(&self.root).map_err(|source| ImportError::Io {
            path: self.root.clone(),
            what: "cannot create the source store",
            source,
        })?;
        let staging = tempfile::Builder::new()
            .prefix(".import-")
            .tempdir_in(&self.root)
            .map_err(|source| ImportError::Io {
                path: self.root.clone(),
                what: "cannot create a staging directory in",
                source,
            })?;
        let mut hasher = Sha256::new();
        let mut flakes = Vec::new();
        let mut problems = Vec::new();
        copy_dir(
            repo,
            staging.path(),
            "",
            &mut hasher,
            &mut flakes,
            &mut problems,
        )?;
        let revision = format!("sha256-{}", hex::encode(hasher.finalize()));
        let dir = self.root.join(&revision);
        if !dir.exists() {
            match std::fs::rename(staging.path(), &dir) {
                Ok(()) => {
                    // Moved: nothing is left for the guard to remove.
                    let _ = staging.keep();
                }
                // Two imports of the same content raced and the other won; its copy is
                // byte for byte this one, which the guard now removes.
                Err(_) if dir.exists() => {}
                Err(source) => {
                    return Err(ImportError::Io {
                        path: dir.clone(),
                        what: "cannot move the snapshot into place at",
                        source,
                    })
                }
            }
        }
        flakes.sort();
        Ok(Snapshot {
            revision,
            dir,
            flakes,
            problems,
        })
    }
}

/// Copies `from` to `to` (relative path `rel` in the repo), feeding every entry into the tree
/// hash in a fixed order, and collects the flakes it passes.
fn copy_dir(
    from: &Path,
    to: &Path,
    rel: &str,
    hasher: &mut Sha256,
    flakes: &mut Vec<(String, String)>,
    problems: &mut Vec<FlakeProblem>,
) -> Result<(), ImportError> {
    let io = |path: &Path, what: &'static str| {
        let path = path.to_owned();
        move |source| ImportError::Io { path, what, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .map_err(io(from, "cannot list"))?
        .collect::<Result<_, _>>()
        .map_err(io(from, "cannot list"))?;
    entries.sort_by_key(|e| e.file_name());
    if let Some(file) = flake_file_in(from) {
        match check_flake_file(&from.join(&file)) {
            Ok(()) => flakes.push((rel.to_owned(), file)),
            Err(message) => problems.push(FlakeProblem {
                path: from.join(&file),
                message,
            }),
        }
    }
    for entry in entries {
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let src = entry.path();
        let dst = to.join(&name);
        let child_rel = if rel.is_empty() {
            name.to_string_lossy().into_owned()
        } else {
            format!("{rel}/{}", name.to_string_lossy())
        };
        let meta = std::fs::symlink_metadata(&src).map_err(io(&src, "cannot inspect"))?;
        let kind = meta.file_type();
        let entry = if kind.is_symlink() {
            Entry::Symlink(std::fs::read_link(&src).map_err(io(&src, "cannot read the link"))?)
        } else if kind.is_dir() {
            Entry::Dir
        } else if kind.is_file() {
            Entry::File {
                executable: meta.permissions().mode() & 0o111 != 0,
            }
        } else {
            return Err(ImportError::SpecialFile {
                path: src,
                kind: "device, socket or FIFO",
            });
        };
        hasher.update(child_rel.as_bytes());
        hasher.update([0]);
        match entry {
            Entry::Dir => {
                hasher.update(b"d");
                std::fs::create_dir(&dst).map_err(io(&dst, "cannot create"))?;
                copy_dir(&src, &dst, &child_rel, hasher, flakes, problems)?;
            }
            Entry::Symlink(target) => {
                hasher.update(b"l");
                hasher.update(target.as_os_str().as_encoded_bytes());
                hasher.update([0]);
                std::os::unix::fs::symlink(&target, &dst).map_err(io(&dst, "cannot create"))?;
            }
            Entry::File { executable } => {
                hasher.update(if executable { b"x" } else { b"f" });
                copy_file(&src, &dst, hasher)?;
                if executable {
                    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755))
                        .map_err(io(&dst, "cannot chmod"))?;
                }
            }
        }
    }
    Ok(())
}

fn copy_file(src: &Path, dst: &Path, hasher: &mut Sha256) -> Result<(), ImportError> {
    let mut input = std::fs::File::open(src).map_err(|source| ImportError::Io {
        path: src.to_owned(),
        what: "cannot read",
        source,
    })?;
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|source| ImportError::Io {
            path: src.to_owned(),
            what: "cannot read",
            source,
        })?;
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(&bytes);
    std::fs::write(dst, &bytes).map_err(|source| ImportError::Io {
        path: dst.to_owned(),
        what: "cannot write",
        source,
    })
}

/// Refuses flake files Nix cannot take as text. The file itself stays in the snapshot (other
/// flakes of the repo may import it); only its flake is not added.
fn check_flake_file(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    match std::str::from_utf8(&bytes) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "is not valid UTF-8 (first bad byte at offset {}): re-encode it as UTF-8, e.g. \
             `iconv -f LATIN1 -t UTF-8`",
            e.valid_up_to()
        )),
    }
}
