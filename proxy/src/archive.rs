//! `gnfc proxy export` / `import`: a cache as one file, to move it between machines.
//!
//! The file is a zstd-compressed tar holding `index.sqlite` (a consistent snapshot, taken
//! while a proxy may be running) and `blobs/ab/<sha256>` for every body the index uses.
//! Import checks every blob against its name and every entry against the blobs before it
//! adds anything, then adds only entries the target cache does not have: a damaged or
//! foreign file is refused with a reason, and the target cache is left as it was.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::cache::{BlobStore, Index, INDEX_FILE};
use crate::error::ProxyError;

/// zstd level: fast, and cached bodies are mostly compressed already.
const ZSTD_LEVEL: i32 = 3;
const BLOB_DIR: &str = "blobs";

/// What an export wrote or an import added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Entries in the file (export) or added to the cache (import).
    pub entries: u64,
    /// Distinct bodies in the file.
    pub blobs: u64,
    /// Their bytes (uncompressed).
    pub bytes: u64,
}

/// Why an export or import failed. Nothing was changed in the target.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Cache(#[from] ProxyError),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the cached body {sha256} is damaged on disk; run the proxy in record mode and request \
         it again (a corrupt body is refetched), then export again"
    )]
    CorruptCacheBlob { sha256: String },
    #[error(
        "{file} is not a gnfc proxy export: {reason}; pass a file written by `gnfc proxy export`"
    )]
    NotAnExport { file: PathBuf, reason: String },
    #[error(
        "{file} is damaged: {reason}; nothing was imported — export the cache again and copy \
         the file anew"
    )]
    Damaged { file: PathBuf, reason: String },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.to_owned();
    move |source| ArchiveError::Io {
        action,
        path,
        source,
    }
}

/// Writes the cache in `cache_dir` to `file` (replaced only once complete).
pub async fn export_cache(cache_dir: &Path, file: &Path) -> Result<ArchiveSummary, ArchiveError> {
    let index_path = cache_dir.join(INDEX_FILE);
    if !index_path.exists() {
        return Err(ProxyError::NoCache {
            path: cache_dir.to_owned(),
        }
        .into());
    }
    let index = Index::open(&index_path, false).await?;
    let scratch =
        tempfile::tempdir_in(cache_dir).map_err(io("create a directory in", cache_dir))?;
    let snapshot = scratch.path().join(INDEX_FILE);
    let taken = index.snapshot_into(&snapshot).await;
    index.close().await;
    taken?;
    let copy = Index::open(&snapshot, false).await?;
    let blobs = copy.blobs().await;
    let entries = copy.stats().await.map(|s| s.entries);
    copy.close().await;
    let (blobs, entries) = (blobs?, entries?);
    let store = BlobStore::open_shared(cache_dir)?;
    let target = file.to_owned();
    tokio::task::spawn_blocking(move || {
        let summary = write_archive(&store, &snapshot, &blobs, &target)?;
        drop(scratch);
        Ok(ArchiveSummary { entries, ..summary })
    })
    .await
    .map_err(|e| io("write", file)(std::io::Error::other(e)))?
}

fn write_archive(
    store: &BlobStore,
    snapshot: &Path,
    blobs: &[(String, u64)],
    file: &Path,
) -> Result<ArchiveSummary, ArchiveError> {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let out = tempfile::NamedTempFile::new_in(dir).map_err(io("create a file in", dir))?;
    let encoder = zstd::Encoder::new(out, ZSTD_LEVEL).map_err(io("compress into", file))?;
    let mut tar = tar::Builder::new(encoder);
    tar.append_path_with_name(snapshot, INDEX_FILE)
        .map_err(io("write", file))?;
    let mut bytes = 0;
    for (sha256, len) in blobs {
        let path = store
            .path(sha256)
            .ok_or_else(|| ArchiveError::CorruptCacheBlob {
                sha256: sha256.clone(),
            })?;
        let blob = File::open(&path).map_err(io("read", &path))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(*len);
        header.set_mode(0o644);
        header.set_mtime(0);
        let mut reader = Hashing::new(blob.take(*len));
        tar.append_data(
            &mut header,
            format!("{BLOB_DIR}/{}/{sha256}", &sha256[..2]),
            &mut reader,
        )
        .map_err(|e| match e.kind() {
            // A blob shorter than its entry says: tar pads nothing, it fails.
            std::io::ErrorKind::UnexpectedEof => ArchiveError::CorruptCacheBlob {
                sha256: sha256.clone(),
            },
            _ => io("write", file)(e),
        })?;
        if reader.finish() != *sha256 {
            return Err(ArchiveError::CorruptCacheBlob {
                sha256: sha256.clone(),
            });
        }
        bytes += len;
    }
    let encoder = tar.into_inner().map_err(io("write", file))?;
    let mut out = encoder.finish().map_err(io("write", file))?;
    out.flush().map_err(io("write", file))?;
    out.persist(file).map_err(|e| io("write", file)(e.error))?;
    Ok(ArchiveSummary {
        entries: 0,
        blobs: blobs.len() as u64,
        bytes,
    })
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Adds the entries of an export `file` to the cache in `cache_dir` (created if needed).
pub async fn import_cache(cache_dir: &Path, file: &Path) -> Result<ArchiveSummary, ArchiveError> {
    std::fs::create_dir_all(cache_dir).map_err(|source| ProxyError::CreateDir {
        path: cache_dir.to_owned(),
        source,
    })?;
    let store = Arc::new(BlobStore::open_shared(cache_dir)?);
    let index = Index::open(&cache_dir.join(INDEX_FILE), true).await?;
    let scratch =
        tempfile::tempdir_in(cache_dir).map_err(io("create a directory in", cache_dir))?;
    let imported_index = scratch.path().join(INDEX_FILE);
    let (reader_store, file_owned, index_copy) =
        (Arc::clone(&store), file.to_owned(), imported_index.clone());
    let (read, unpacked) = tokio::task::spawn_blocking(move || {
        let mut unpacked = Unpacked::default();
        let read = read_members(&reader_store, &file_owned, &index_copy, &mut unpacked);
        (read, unpacked)
    })
    .await
    .map_err(|e| io("read", file)(std::io::Error::other(e)))?;
    let result = match read {
        Ok(()) => merge(&index, &store, file, &imported_index, &unpacked).await,
        Err(e) => Err(e),
    };
    index.close().await;
    if result.is_err() {
        // Blobs this import brought in and no entry uses: leave the store as it was.
        for sha256 in &unpacked.new {
            store.remove(sha256);
        }
    }
    result
}

/// The blobs an archive held, and which of them were not in the store before.
#[derive(Debug, Default)]
struct Unpacked {
    all: HashMap<String, u64>,
    new: Vec<String>,
}

fn read_members(
    store: &BlobStore,
    file: &Path,
    index_path: &Path,
    unpacked: &mut Unpacked,
) -> Result<(), ArchiveError> {
    let not_export = |reason: String| ArchiveError::NotAnExport {
        file: file.to_owned(),
        reason,
    };
    let damaged = |reason: String| ArchiveError::Damaged {
        file: file.to_owned(),
        reason,
    };
    let input = File::open(file).map_err(io("open", file))?;
    let decoder = zstd::Decoder::new(input).map_err(|e| not_export(format!("not zstd ({e})")))?;
    let mut tar = tar::Archive::new(decoder);
    let members = tar
        .entries()
        .map_err(|e| not_export(format!("not a tar archive ({e})")))?;
    let mut saw_index = false;
    for (n, member) in members.enumerate() {
        // A file that fails before its first member was never an export.
        let mut member = member.map_err(|e| {
            if n == 0 {
                not_export(e.to_string())
            } else {
                damaged(e.to_string())
            }
        })?;
        let name = member
            .path()
            .map_err(|e| damaged(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if name == INDEX_FILE {
            let mut out = File::create(index_path).map_err(io("write", index_path))?;
            std::io::copy(&mut member, &mut out).map_err(|e| damaged(e.to_string()))?;
            saw_index = true;
            continue;
        }
        let sha256 = blob_name(&name)
            .ok_or_else(|| not_export(format!("unexpected member {name:?}")))?
            .to_owned();
        let existed = store.path(&sha256).is_some_and(|p| p.exists());
        let mut writer = store.writer().map_err(io("write into", Path::new("tmp")))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = member.read(&mut buf).map_err(|e| damaged(e.to_string()))?;
            if n == 0 {
                break;
            }
            writer
                .write(&buf[..n])
                .map_err(io("write into", Path::new("tmp")))?;
        }
        let stored = writer
            .commit_if(store, Some(&sha256))
            .map_err(io("write into", Path::new("blobs")))?
            .ok_or_else(|| damaged(format!("blob {sha256} does not match its hash")))?;
        if !existed {
            unpacked.new.push(sha256.clone());
        }
        unpacked.all.insert(sha256, stored.1);
    }
    if !saw_index {
        return Err(not_export(format!("it holds no {INDEX_FILE}")));
    }
    Ok(())
}

/// `blobs/ab/ab…` (64 hex digits) → the hash.
fn blob_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(BLOB_DIR)?.strip_prefix('/')?;
    let (dir, sha) = rest.split_once('/')?;
    let valid = sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    (valid && sha.starts_with(dir) && dir.len() == 2).then_some(sha)
}

async fn merge(
    index: &Index,
    store: &BlobStore,
    file: &Path,
    imported_index: &Path,
    unpacked: &Unpacked,
) -> Result<ArchiveSummary, ArchiveError> {
    let damaged = |reason: String| ArchiveError::Damaged {
        file: file.to_owned(),
        reason,
    };
    let imported = Index::open(imported_index, false)
        .await
        .map_err(|e| damaged(format!("its index cannot be read ({e})")))?;
    let needed = imported.blobs().await;
    imported.close().await;
    let needed = needed.map_err(|e| damaged(format!("its index cannot be read ({e})")))?;
    let mut bytes = 0;
    for (sha256, len) in &needed {
        let present = match unpacked.all.get(sha256) {
            Some(got) => got == len,
            None => store.check_len(sha256, *len).is_ok(),
        };
        if !present {
            return Err(damaged(format!(
                "an entry needs body {sha256} ({len} bytes), which it does not hold"
            )));
        }
        bytes += len;
    }
    let entries = index.merge_from(imported_index).await?;
    Ok(ArchiveSummary {
        entries,
        blobs: needed.len() as u64,
        bytes,
    })
}
