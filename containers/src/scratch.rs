//! A test's scratch directory on the host: its private copy of the repo, `HOME`, XDG dirs,
//! `TMPDIR` and `NIX_CONF_DIR`. Both executors build the same layout; they differ only in
//! where commands see it (the host executor at its real path, a container at a mount point).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::{ExecError, FlakeRegistry, SandboxSpec};

const DIRS: [&str; 7] = ["home", "cache", "config", "data", "state", "tmp", "etc/nix"];

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ExecError {
    let what = what.into();
    move |source| ExecError::Io { what, source }
}

/// One test's scratch directory, removed on drop so even a panicking test leaves nothing.
#[derive(Debug)]
pub(crate) struct Scratch {
    dir: Option<tempfile::TempDir>,
    /// `dir` as the sandbox's commands see it.
    seen_at: PathBuf,
}

impl Scratch {
    /// Makes a fresh scratch directory under `root` holding a copy of `spec.source` in `src/`.
    /// `seen_at` is where commands will see it (`None`: where it is); `nix_config` comes after
    /// gnfc's base settings and before the implementation's.
    pub(crate) async fn create(
        root: &Path,
        seen_at: Option<&Path>,
        spec: &SandboxSpec,
        nix_config: &[&str],
    ) -> Result<Scratch, ExecError> {
        tokio::fs::create_dir_all(root).await.map_err(io(format!(
            "cannot create the scratch directory {}",
            root.display()
        )))?;
        // The pid prefix lets a later run tell a dead run's leftovers from a live one's.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}.", std::process::id()))
            .tempdir_in(root)
            .map_err(io(format!("cannot create a sandbox in {}", root.display())))?;
        let scratch = Scratch {
            seen_at: seen_at.map_or_else(|| dir.path().to_owned(), Path::to_owned),
            dir: Some(dir),
        };
        for sub in DIRS {
            let path = scratch.host_path(sub);
            tokio::fs::create_dir_all(&path)
                .await
                .map_err(io(format!("cannot create {}", path.display())))?;
        }
        let registry = scratch.registry(&spec.registry).await?;
        let mut conf = base_nix_conf(&registry);
        for line in nix_config
            .iter()
            .copied()
            .chain(spec.nix_config.iter().map(String::as_str))
        {
            conf.push_str(line);
            conf.push('\n');
        }
        scratch.write("etc/nix/nix.conf", &conf).await?;
        copy_tree(&spec.source, &scratch.host_path("src")).await?;
        Ok(scratch)
    }

    /// A path inside the scratch directory, on the host.
    pub(crate) fn host_path(&self, rel: &str) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.path().join(rel),
            None => PathBuf::from(rel),
        }
    }

    /// A path inside the scratch directory, as the sandbox's commands see it.
    pub(crate) fn seen(&self, rel: &str) -> String {
        self.seen_at.join(rel).to_string_lossy().into_owned()
    }

    /// The `flake-registry` setting for `registry`, with the file it names when it is local.
    async fn registry(&self, registry: &FlakeRegistry) -> Result<String, ExecError> {
        // Not in NIX_CONF_DIR: Nix reads a `registry.json` there as the system registry.
        const FILE: &str = "registry.json";
        match registry {
            FlakeRegistry::Empty => self.write(FILE, "{\"flakes\":[],\"version\":2}\n").await?,
            FlakeRegistry::Url(url) => return Ok(url.clone()),
            FlakeRegistry::File(path) => {
                tokio::fs::copy(path, self.host_path(FILE))
                    .await
                    .map_err(io(format!(
                        "cannot copy the flake registry {} into the sandbox",
                        path.display()
                    )))?;
            }
        }
        Ok(self.seen(FILE))
    }

    async fn write(&self, rel: &str, contents: &str) -> Result<(), ExecError> {
        let path = self.host_path(rel);
        tokio::fs::write(&path, contents)
            .await
            .map_err(io(format!("cannot write {}", path.display())))
    }

    /// The environment of every command: the isolated dirs, then `extra`.
    pub(crate) fn env(&self, path: String, extra: &[(String, String)]) -> Vec<(String, String)> {
        let mut env = vec![("PATH".to_owned(), path)];
        for (var, sub) in [
            ("HOME", "home"),
            ("XDG_CACHE_HOME", "cache"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
            ("TMPDIR", "tmp"),
            ("NIX_CONF_DIR", "etc/nix"),
        ] {
            env.push((var.to_owned(), self.seen(sub)));
        }
        for (var, value) in [
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("LANG", "C.UTF-8"),
            ("TERM", "dumb"),
            ("NO_COLOR", "1"),
        ] {
            env.push((var.to_owned(), value.to_owned()));
        }
        env.extend(extra.iter().cloned());
        env
    }

    /// Whether a file (or symlink, even dangling) exists in the source copy.
    pub(crate) async fn exists(&self, path: &str) -> Result<bool, ExecError> {
        match tokio::fs::symlink_metadata(self.src_path(path)).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(format!("cannot inspect {path}"))(e)),
        }
    }

    /// Reads a file of the source copy, following symlinks; `None` when it does not exist.
    pub(crate) async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, ExecError> {
        match tokio::fs::read(self.src_path(path)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(format!("cannot read {path}"))(e)),
        }
    }

    /// Removes a file or symlink of the source copy if present.
    pub(crate) async fn remove(&self, path: &str) -> Result<(), ExecError> {
        match tokio::fs::remove_file(self.src_path(path)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io(format!("cannot remove {path}"))(e))
            }
            _ => Ok(()),
        }
    }

    fn src_path(&self, rel: &str) -> PathBuf {
        self.host_path("src").join(rel)
    }

    /// Removes the directory, reporting what could not be removed.
    pub(crate) async fn close(&mut self) -> Result<(), ExecError> {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_owned();
            tokio::task::spawn_blocking(move || dir.close())
                .await
                .map_err(|e| ExecError::Setup(format!("cleanup task failed: {e}")))?
                .map_err(io(format!("cannot remove {}", path.display())))?;
        }
        Ok(())
    }
}

/// How both executors' Nix builds (import from derivation): as the user running it, without
/// build users or Nix's build sandbox. In a container the container is the sandbox; on the
/// host (trusted corpora only) the same settings keep outcomes identical to the container's,
/// and Debian's nix-bin has neither `nixbld` users nor a `/bin/sh` inside its sandbox, so
/// with Nix's defaults no build could succeed there at all.
pub(crate) const BUILD_AS_INVOKER: &[&str] = &["sandbox = false", "build-users-group ="];

/// The `nix.conf` every sandbox starts from: flakes on, the chosen registry, no substituters.
fn base_nix_conf(registry: &str) -> String {
    format!(
        "experimental-features = nix-command flakes\n\
         flake-registry = {registry}\n\
         substituters =\n\
         # the source copy is a fresh git tree; its dirtiness is gnfc's doing, not the flake's\n\
         warn-dirty = false\n"
    )
}

/// Copies the repo snapshot with `cp -a`: it keeps symlinks as symlinks (a symlinked
/// flake.lock is a case under test) and modes, and says exactly which file it could not read.
async fn copy_tree(from: &Path, to: &Path) -> Result<(), ExecError> {
    let output = tokio::process::Command::new("cp")
        .arg("-a")
        .arg("--no-preserve=ownership")
        .arg("--")
        .arg(from)
        .arg(to)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| ExecError::Spawn {
            program: "cp".to_owned(),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ExecError::Setup(format!(
            "cannot copy {} into the sandbox: {}",
            from.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Removes scratch directories left by runs whose process is gone (killed, crashed).
/// Directories of live processes, this one's included, are left alone.
pub fn remove_stale_scratch(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('.').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(
                    "cannot remove stale scratch {}: {e}",
                    entry.path().display()
                );
            }
        }
    }
}
