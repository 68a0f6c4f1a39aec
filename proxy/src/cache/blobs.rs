//! Content-addressed blob store: every cached body is one file named by the SHA-256 of its
//! bytes (`blobs/ab/abcd…`), so a body returned by many URLs is stored once.
//!
//! Bodies are written to a temporary file in `tmp/` (same file system) and renamed into
//! place only once complete and checked, so a blob file is never seen half-written. Reads
//! verify the hash: a flipped bit on disk is caught, never served as valid.
//!
//! Everything here is blocking file I/O; callers run it on tokio's blocking pool.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::body::BodySender;
use crate::error::{ProxyError, Result};

/// Read size when streaming a blob to a client.
const READ_CHUNK: usize = 256 * 1024;
/// Write buffer in front of the temporary file: upstream chunks are often 16 KiB or less.
const WRITE_BUFFER: usize = 256 * 1024;

/// The blob directory and its scratch directory.
#[derive(Debug)]
pub(crate) struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

/// Why a stored body cannot be served.
#[derive(Debug)]
pub(crate) enum BlobFault {
    /// Missing, wrong length or wrong hash: the blob is bad and its entries must go.
    Corrupt(String),
    /// An I/O error that says nothing about the blob itself (out of file descriptors, EIO):
    /// the entry is kept — in replay mode it may be irreplaceable — and this request is
    /// answered some other way.
    Unreadable(String),
}

impl BlobFault {
    fn from_io(error: &std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::NotFound {
            BlobFault::Corrupt("the blob file is missing".into())
        } else {
            BlobFault::Unreadable(error.to_string())
        }
    }
}

/// How streaming a blob ended.
#[derive(Debug)]
pub(crate) enum StreamEnd {
    Complete,
    /// The client went away; nothing is known about the blob.
    ClientGone,
    Fault(BlobFault),
}

impl BlobStore {
    /// Opens (creating) `cache_dir/blobs` and `cache_dir/tmp`, removing temporary files a
    /// previous process left behind when it was stopped mid-download.
    pub(crate) fn open(cache_dir: &Path) -> Result<Self> {
        let store = Self::open_shared(cache_dir)?;
        if let Ok(entries) = std::fs::read_dir(&store.tmp) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(store)
    }

    /// Opens the store without cleaning `tmp/`: for a cache a running proxy may be using.
    pub(crate) fn open_shared(cache_dir: &Path) -> Result<Self> {
        let root = cache_dir.join("blobs");
        let tmp = cache_dir.join("tmp");
        for dir in [&root, &tmp] {
            std::fs::create_dir_all(dir).map_err(|source| ProxyError::CreateDir {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(Self { root, tmp })
    }

    /// Where the blob with this hash lives. Hashes come from our own index, but are checked
    /// anyway so that a damaged index row can never name a path outside the store.
    pub(crate) fn path(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Starts writing a new blob.
    pub(crate) fn writer(&self) -> std::io::Result<BlobWriter> {
        let file = NamedTempFile::new_in(&self.tmp)?;
        Ok(BlobWriter {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Deletes a blob; a blob already gone is fine.
    pub(crate) fn remove(&self, sha256: &str) {
        if let Some(path) = self.path(sha256) {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(path = %path.display(), "cannot delete blob: {e}"),
            }
        }
    }

    /// Reads a whole (small) blob and verifies it before anything is sent, so a corrupt
    /// one can be refetched without the client noticing.
    pub(crate) fn read_verified(&self, sha256: &str, len: u64) -> Result<Bytes, BlobFault> {
        let path = self
            .path(sha256)
            .ok_or_else(|| BlobFault::Corrupt("bad blob name".into()))?;
        let bytes = std::fs::read(&path).map_err(|e| BlobFault::from_io(&e))?;
        if bytes.len() as u64 != len {
            return Err(BlobFault::Corrupt(format!(
                "{} bytes, expected {len}",
                bytes.len()
            )));
        }
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(BlobFault::Corrupt("content does not match its hash".into()));
        }
        Ok(Bytes::from(bytes))
    }

    /// Checks that the blob exists with the right length: cheap, and catches truncation
    /// and deletion before a response is started.
    pub(crate) fn check_len(&self, sha256: &str, len: u64) -> Result<PathBuf, BlobFault> {
        let path = self
            .path(sha256)
            .ok_or_else(|| BlobFault::Corrupt("bad blob name".into()))?;
        let meta = std::fs::metadata(&path).map_err(|e| BlobFault::from_io(&e))?;
        if meta.len() != len {
            return Err(BlobFault::Corrupt(format!(
                "{} bytes, expected {len}",
                meta.len()
            )));
        }
        Ok(path)
    }

    /// Streams a (large) blob to `tx` while hashing it. The last chunk is held back until
    /// the hash is known; on a fault nothing more is sent and the caller fails the transfer
    /// (after dropping a corrupt blob, so a client retrying at once cannot meet it again),
    /// so the client never gets corrupt bytes as a complete body.
    pub(crate) fn stream_verified(
        &self,
        path: &Path,
        sha256: &str,
        len: u64,
        tx: &BodySender,
    ) -> StreamEnd {
        let fail = StreamEnd::Fault;
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) => return fail(BlobFault::from_io(&e)),
        };
        let mut hasher = Sha256::new();
        let mut held: Option<Bytes> = None;
        let mut total = 0u64;
        loop {
            let mut buf = vec![0; READ_CHUNK];
            let n = match read_full(&mut file, &mut buf) {
                Ok(n) => n,
                Err(e) => return fail(BlobFault::Unreadable(e.to_string())),
            };
            if n == 0 {
                break;
            }
            buf.truncate(n);
            hasher.update(&buf);
            total += n as u64;
            if let Some(previous) = held.replace(Bytes::from(buf)) {
                if tx.blocking_send(Ok(previous)).is_err() {
                    return StreamEnd::ClientGone;
                }
            }
        }
        if total != len {
            return fail(BlobFault::Corrupt(format!("{total} bytes, expected {len}")));
        }
        if hex::encode(hasher.finalize()) != sha256 {
            return fail(BlobFault::Corrupt("content does not match its hash".into()));
        }
        if let Some(last) = held {
            if tx.blocking_send(Ok(last)).is_err() {
                return StreamEnd::ClientGone;
            }
        }
        StreamEnd::Complete
    }
}

/// Fills `buf` unless the file ends first; returns the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A blob being written. Dropping it without [`BlobWriter::commit`] deletes the temporary
/// file: that is how incomplete bodies are discarded.
#[derive(Debug)]
pub(crate) struct BlobWriter {
    file: BufWriter<NamedTempFile>,
    hasher: Sha256,
    len: u64,
}

impl BlobWriter {
    pub(crate) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        self.file.write_all(bytes)
    }

    /// Moves the finished body into the store; returns its hash and length. When a blob
    /// with that hash already exists the rename replaces it with identical bytes, which is
    /// atomic and harmless.
    pub(crate) fn commit(self, store: &BlobStore) -> std::io::Result<(String, u64)> {
        self.commit_if(store, None)?
            .ok_or_else(|| std::io::Error::other("unreachable: no expected hash"))
    }

    /// Like [`BlobWriter::commit`], but when `expected` is given and the body's hash differs,
    /// nothing is stored and `None` is returned.
    pub(crate) fn commit_if(
        self,
        store: &BlobStore,
        expected: Option<&str>,
    ) -> std::io::Result<Option<(String, u64)>> {
        let sha256 = hex::encode(self.hasher.finalize());
        if expected.is_some_and(|e| e != sha256) {
            return Ok(None);
        }
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        let path = store
            .path(&sha256)
            .ok_or_else(|| std::io::Error::other("hash is not hex"))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // No fsync: a blob lost or damaged by a crash is caught by verification on read
        // and fetched again; syncing every body would slow every miss.
        file.persist(&path).map_err(|e| e.error)?;
        Ok(Some((sha256, self.len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_body_is_stored_once_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut hashes = Vec::new();
        for _ in 0..2 {
            let mut w = store.writer().unwrap();
            w.write(b"hello ").unwrap();
            w.write(b"world").unwrap();
            hashes.push(w.commit(&store).unwrap());
        }
        assert_eq!(hashes[0], hashes[1]);
        let (hash, len) = &hashes[0];
        assert_eq!(len, &11);
        assert_eq!(&store.read_verified(hash, 11).unwrap()[..], b"hello world");
        let files: Vec<_> = walk(&dir.path().join("blobs"));
        assert_eq!(files.len(), 1);
        assert!(walk(&dir.path().join("tmp")).is_empty());
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut w = store.writer().unwrap();
        w.write(b"partial").unwrap();
        drop(w);
        assert!(walk(&dir.path().join("tmp")).is_empty());
        assert!(walk(&dir.path().join("blobs")).is_empty());
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut w = store.writer().unwrap();
        w.write(b"precious").unwrap();
        let (hash, len) = w.commit(&store).unwrap();
        std::fs::write(store.path(&hash).unwrap(), b"Precious").unwrap();
        assert!(store.read_verified(&hash, len).is_err());
        assert!(store.check_len(&hash, len).is_ok());
        assert!(store.check_len(&hash, len + 1).is_err());
        assert!(store.path("../../etc/passwd").is_none());
        std::fs::remove_file(store.path(&hash).unwrap()).unwrap();
        // A missing blob is as bad as a corrupt one; other I/O errors are not its fault.
        assert!(matches!(
            store.read_verified(&hash, len),
            Err(BlobFault::Corrupt(_))
        ));
        let busy = std::io::Error::other("too many open files");
        assert!(matches!(
            BlobFault::from_io(&busy),
            BlobFault::Unreadable(_)
        ));
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                out.extend(walk(&entry.path()));
            } else {
                out.push(entry.path());
            }
        }
        out
    }
}
