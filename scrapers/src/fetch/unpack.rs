//! Unpacking a forge tarball without trusting it: entries may not leave the tree (`..`,
//! absolute paths, writing through a symlink unpacked earlier), and only files,
//! directories and symlinks are made.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::FetchError;

/// Unpacks the gzipped tar at `archive` into `into`, dropping the single top-level
/// directory forges put everything under (`repo-<commit>/`).
pub(crate) fn unpack_tarball(archive: &Path, into: &Path) -> Result<(), FetchError> {
    let file = std::fs::File::open(archive).map_err(|e| FetchError::Store(e.to_string()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let bad = |e: std::io::Error| FetchError::BadArchive(e.to_string());
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = entry.path().map_err(bad)?.into_owned();
        let Some(rel) = inside(&raw)? else {
            continue;
        };
        let dest = into.join(&rel);
        refuse_symlinked_parents(into, &rel)?;
        let io = |e: std::io::Error| FetchError::Store(format!("{}: {e}", dest.display()));
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).map_err(io)?;
        } else if kind.is_file() {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            let mode = entry.header().mode().unwrap_or(0o644);
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(bad)?;
            std::fs::write(&dest, &bytes).map_err(io)?;
            let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).map_err(io)?;
        } else if kind.is_symlink() {
            // A link is data here: it is stored as a link and never followed.
            let target = entry.link_name().map_err(bad)?.ok_or_else(|| {
                FetchError::BadArchive(format!("symlink {} has no target", raw.display()))
            })?;
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::os::unix::fs::symlink(&*target, &dest).map_err(io)?;
        } else {
            return Err(FetchError::Unsafe(format!(
                "entry {} is a {kind:?}, which a source tree does not hold",
                raw.display()
            )));
        }
    }
    Ok(())
}

/// The entry's path below the top-level directory; `None` for the top directory itself.
fn inside(raw: &Path) -> Result<Option<PathBuf>, FetchError> {
    let mut parts = Vec::new();
    for component in raw.components() {
        match component {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            _ => {
                return Err(FetchError::Unsafe(format!(
                    "entry '{}' points outside the tree",
                    raw.display()
                )))
            }
        }
    }
    Ok((parts.len() > 1).then(|| parts[1..].iter().collect()))
}

/// Refuses `rel` when it or any directory on its way already exists as a symlink: writing
/// there would land wherever the link points.
fn refuse_symlinked_parents(root: &Path, rel: &Path) -> Result<(), FetchError> {
    let mut at = root.to_path_buf();
    for c in rel.components() {
        at.push(c);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(FetchError::Unsafe(format!(
                "entry '{}' would be written through the symlink '{}'",
                rel.display(),
                at.strip_prefix(root).unwrap_or(&at).display()
            )));
        }
    }
    Ok(())
}
