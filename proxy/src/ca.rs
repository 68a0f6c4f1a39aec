//! The proxy's own certificate authority: generated on first use, kept in `ca_dir`, and
//! used to issue a leaf certificate for every host a client CONNECTs to.
//!
//! Clients trust `ca.pem` (Nix via `NIX_SSL_CERT_FILE`); `ca.key` never leaves the host and
//! is created with mode 0600. Leaves live only in memory: issuing one costs well under a
//! millisecond and they are cached per host, so a restart simply issues them again.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

use crate::error::{ProxyError, Result};

const CERT_FILE: &str = "ca.pem";
const KEY_FILE: &str = "ca.key";
/// Bounds the leaf cache: a client CONNECTing to endless made-up names must not grow
/// memory without limit. Far above the ~100 hosts a flake run talks to.
const MAX_CACHED_LEAVES: usize = 4096;
/// How long to wait for another process that is creating the same CA right now.
const CONCURRENT_CREATE_WAIT: Duration = Duration::from_secs(2);

/// The CA and the leaf certificates it issued so far.
pub(crate) struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    /// One key for every leaf: generating a key per host would only cost time, the leaves
    /// are never seen outside this proxy's clients (mitmproxy does the same).
    leaf_key: KeyPair,
    cert_path: PathBuf,
    provider: Arc<CryptoProvider>,
    leaves: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads the CA from `dir`, or creates it there when neither file exists.
    pub(crate) fn load_or_create(dir: &Path, provider: Arc<CryptoProvider>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| ProxyError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        if !key_path.exists() && !cert_path.exists() {
            create(dir, &cert_path, &key_path)?;
        }
        let (key_pem, cert_pem) = read_pair(dir, &cert_path, &key_path)?;
        let invalid = |reason: String| ProxyError::CaInvalid {
            dir: dir.to_owned(),
            reason,
        };
        let ca_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| invalid(format!("{CERT_FILE} holds no PEM certificate ({e})")))?;
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| invalid(format!("{KEY_FILE} holds no usable private key ({e})")))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)
            .map_err(|e| invalid(format!("{CERT_FILE} cannot be parsed ({e})")))?;
        Ok(Self {
            issuer,
            ca_der,
            leaf_key: KeyPair::generate()?,
            cert_path,
            provider,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate (PEM) clients must trust.
    pub(crate) fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// A TLS server configuration presenting a certificate for `host` (a DNS name or an IP
    /// address), issued now or taken from the cache.
    pub(crate) fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>> {
        if let Some(config) = self.leaves_lock().get(host) {
            return Ok(Arc::clone(config));
        }
        // Issued outside the lock: two racing CONNECTs to a new host both sign, one wins,
        // which is cheaper than serialising every handshake on a mutex held while signing.
        let config = Arc::new(self.issue(host)?);
        let mut leaves = self.leaves_lock();
        if leaves.len() >= MAX_CACHED_LEAVES {
            leaves.clear();
        }
        leaves.insert(host.to_owned(), Arc::clone(&config));
        Ok(config)
    }

    fn leaves_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ServerConfig>>> {
        // A panic while holding this lock cannot leave the map half-updated (insert and
        // clear are single calls), so a poisoned lock is still safe to use.
        self.leaves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn issue(&self, host: &str) -> Result<ServerConfig> {
        let mut params = CertificateParams::new(vec![host.to_owned()])?;
        params.distinguished_name.push(DnType::CommonName, host);
        let now = time::OffsetDateTime::now_utc();
        // A day of slack for clients whose clocks lag; a year is the most any leaf needs
        // since leaves are reissued on every start.
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        params.serial_number = Some(serial(host));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let leaf = params.signed_by(&self.leaf_key, &self.issuer)?;
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), self.ca_der.clone()], key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Reads both files; if the key exists without the certificate, another process is in the
/// middle of creating the CA, so wait for it a bounded time.
fn read_pair(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(String, String)> {
    let deadline = std::time::Instant::now() + CONCURRENT_CREATE_WAIT;
    while key_path.exists() && !cert_path.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for (present, missing) in [(key_path, cert_path), (cert_path, key_path)] {
        if present.exists() && !missing.exists() {
            return Err(ProxyError::CaInvalid {
                dir: dir.to_owned(),
                reason: format!(
                    "{} exists but {} does not",
                    present.display(),
                    missing.display()
                ),
            });
        }
    }
    let meta = std::fs::metadata(key_path).map_err(|source| ProxyError::Io {
        action: "inspect",
        path: key_path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ProxyError::CaKeyMode {
            path: key_path.to_owned(),
            mode,
        });
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| ProxyError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })
    };
    Ok((read(key_path)?, read(cert_path)?))
}

/// Generates a CA and writes it. The key is published with `hard_link`, which fails if
/// another process got there first: then that process's CA is used and ours is dropped.
fn create(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<()> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "gnfc proxy CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "gnfc");
    // Path length 0: this CA signs leaves only, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    params.serial_number = Some(serial("gnfc proxy CA"));
    let cert = params.self_signed(&key)?;

    let tmp_key = write_new(dir, "ca.key", key.serialize_pem().as_bytes(), 0o600)?;
    let tmp_cert = write_new(dir, "ca.pem", cert.pem().as_bytes(), 0o644)?;
    let io = |action, path: &Path, source| ProxyError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    match std::fs::hard_link(&tmp_key, key_path) {
        Ok(()) => {
            std::fs::rename(&tmp_cert, cert_path).map_err(|e| io("write", cert_path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            tracing::debug!(dir = %dir.display(), "another process created the CA first");
            let _ = std::fs::remove_file(&tmp_cert);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp_cert);
            let _ = std::fs::remove_file(&tmp_key);
            return Err(io("write", key_path, e));
        }
    }
    let _ = std::fs::remove_file(&tmp_key);
    tracing::info!(cert = %cert_path.display(), "generated a new proxy CA");
    Ok(())
}

/// Writes `bytes` to a fresh file next to the final one, created with `mode` from the start
/// (never world-readable for a moment), flushed to disk.
fn write_new(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<PathBuf> {
    let path = dir.join(format!(".{name}.{}.{}", std::process::id(), unique()));
    let io = |source| ProxyError::Io {
        action: "write",
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(path)
}

fn unique() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// 16 bytes that differ for every certificate this CA signs (RFC 5280 asks for unique
/// serials per issuer; some clients reject repeats). Derived by hashing the time, the
/// process, a counter and the name, so no random-number crate is needed.
fn serial(name: &str) -> SerialNumber {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(unique().to_le_bytes());
    hasher.update(name.as_bytes());
    let mut bytes = hasher.finalize()[..16].to_vec();
    // Positive and without a leading zero byte, so the DER integer is exactly 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    #[test]
    fn creates_once_then_reuses_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = CertificateAuthority::load_or_create(dir.path(), provider()).unwrap();
        let pem = std::fs::read(first.cert_path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = CertificateAuthority::load_or_create(dir.path(), provider()).unwrap();
        assert_eq!(std::fs::read(second.cert_path()).unwrap(), pem);
        assert!(second.server_config("example.org").is_ok());
        assert!(second.server_config("127.0.0.1").is_ok());
    }

    #[test]
    fn refuses_a_key_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        CertificateAuthority::load_or_create(dir.path(), provider()).unwrap();
        let key = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = CertificateAuthority::load_or_create(dir.path(), provider()).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_lone_certificate_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        CertificateAuthority::load_or_create(dir.path(), provider()).unwrap();
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let err = CertificateAuthority::load_or_create(dir.path(), provider()).unwrap_err();
        assert!(
            err.to_string().contains("delete ca.pem and ca.key"),
            "{err}"
        );
    }

    #[test]
    fn leaves_are_cached_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::load_or_create(dir.path(), provider()).unwrap();
        let a = ca.server_config("a.example").unwrap();
        let again = ca.server_config("a.example").unwrap();
        let b = ca.server_config("b.example").unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
    }
}
