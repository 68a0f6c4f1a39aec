//! The host executor: the host's own `nix`, in a scratch directory.
//!
//! Every sandbox gets its own copy of the repo, `HOME`, XDG dirs, `TMPDIR` and `NIX_CONF_DIR`
//! with a `nix.conf` that enables flakes, points the flake registry at an empty local file
//! and turns substituters off, so no test reads the user's configuration or another test's
//! state. The Nix store is the host's. Commands start in their own process group, so a
//! timeout kills everything a command started, and die with gnfc if gnfc is killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::{
    Captured, Command, ExecError, ExecOutput, Executor, Exit, ProxyAccess, Sandbox, SandboxSpec,
};

/// Runs commands on the host, each test in a scratch dir under `scratch_root`.
#[derive(Debug, Clone)]
pub struct HostExecutor {
    scratch_root: PathBuf,
}

impl HostExecutor {
    /// Sandboxes are made under `scratch_root`, which is created if missing.
    pub fn new(scratch_root: impl Into<PathBuf>) -> HostExecutor {
        HostExecutor {
            scratch_root: scratch_root.into(),
        }
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ExecError {
    let what = what.into();
    move |source| ExecError::Io { what, source }
}

/// The `nix.conf` every sandbox starts from.
fn base_nix_conf(registry: &Path) -> String {
    format!(
        "experimental-features = nix-command flakes\n\
         flake-registry = {}\n\
         substituters =\n\
         # the source copy is a fresh git tree; its dirtiness is gnfc's doing, not the flake's\n\
         warn-dirty = false\n",
        registry.display()
    )
}

#[async_trait]
impl Executor for HostExecutor {
    fn name(&self) -> &'static str {
        "host"
    }

    async fn sandbox(&self, spec: &SandboxSpec) -> Result<Box<dyn Sandbox>, ExecError> {
        tokio::fs::create_dir_all(&self.scratch_root)
            .await
            .map_err(io(format!(
                "cannot create the scratch directory {}",
                self.scratch_root.display()
            )))?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}.", std::process::id()))
            .tempdir_in(&self.scratch_root)
            .map_err(io(format!(
                "cannot create a sandbox in {}",
                self.scratch_root.display()
            )))?;
        let root = dir.path().to_owned();
        for sub in ["home", "cache", "config", "data", "state", "tmp", "etc/nix"] {
            tokio::fs::create_dir_all(root.join(sub))
                .await
                .map_err(io(format!("cannot create {}", root.join(sub).display())))?;
        }
        let registry = root.join("registry.json");
        tokio::fs::write(&registry, "{\"flakes\":[],\"version\":2}\n")
            .await
            .map_err(io(format!("cannot write {}", registry.display())))?;
        let mut conf = base_nix_conf(&registry);
        for line in &spec.nix_config {
            conf.push_str(line);
            conf.push('\n');
        }
        let conf_path = root.join("etc/nix/nix.conf");
        tokio::fs::write(&conf_path, conf)
            .await
            .map_err(io(format!("cannot write {}", conf_path.display())))?;

        let src = root.join("src");
        copy_tree(&spec.source, &src).await?;

        let mut env = sandbox_env(&root, &spec.env);
        if let Some(proxy) = &spec.proxy {
            let url = format!("http://{}", proxy.addr);
            env.extend(ProxyAccess::env(&url, &proxy.ca_cert.to_string_lossy()));
        }
        Ok(Box::new(HostSandbox {
            src: src.to_string_lossy().into_owned(),
            env,
            limits: spec.limits,
            dir: Some(dir),
        }))
    }
}

fn sandbox_env(root: &Path, extra: &[(String, String)]) -> Vec<(String, String)> {
    let at = |sub: &str| root.join(sub).to_string_lossy().into_owned();
    let mut env = vec![
        // PATH is the one thing taken from the host: it is how the host's nix and git are found.
        (
            "PATH".to_owned(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        ),
        ("HOME".to_owned(), at("home")),
        ("XDG_CACHE_HOME".to_owned(), at("cache")),
        ("XDG_CONFIG_HOME".to_owned(), at("config")),
        ("XDG_DATA_HOME".to_owned(), at("data")),
        ("XDG_STATE_HOME".to_owned(), at("state")),
        ("TMPDIR".to_owned(), at("tmp")),
        ("NIX_CONF_DIR".to_owned(), at("etc/nix")),
        ("GIT_CONFIG_NOSYSTEM".to_owned(), "1".to_owned()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ("TERM".to_owned(), "dumb".to_owned()),
        ("NO_COLOR".to_owned(), "1".to_owned()),
    ];
    env.extend(extra.iter().cloned());
    env
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

#[derive(Debug)]
struct HostSandbox {
    src: String,
    env: Vec<(String, String)>,
    limits: crate::Limits,
    /// Removed on drop, so even a panicking test leaves no scratch behind.
    dir: Option<tempfile::TempDir>,
}

impl HostSandbox {
    fn path(&self, rel: &str) -> PathBuf {
        Path::new(&self.src).join(rel)
    }
}

#[async_trait]
impl Sandbox for HostSandbox {
    fn source_dir(&self) -> &str {
        &self.src
    }

    async fn run(&self, command: &Command, timeout: Duration) -> Result<ExecOutput, ExecError> {
        let started = Instant::now();
        let mut cmd = tokio::process::Command::new(&command.program);
        cmd.args(&command.args)
            .current_dir(&self.src)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|source| ExecError::Spawn {
            program: command.program.clone(),
            source,
        })?;
        let pgid = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32));
        let stdout = drain(child.stdout.take(), self.limits.stdout_bytes);
        let stderr = drain(child.stderr.take(), self.limits.stderr_bytes);

        let status = tokio::time::timeout(timeout, child.wait()).await;
        // Whatever happened, nothing the command started may outlive it.
        if let Some(pgid) = pgid {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        let exit = match status {
            Ok(status) => {
                let status = status.map_err(io(format!("waiting for {}", command.program)))?;
                match (
                    status.code(),
                    std::os::unix::process::ExitStatusExt::signal(&status),
                ) {
                    (Some(code), _) => Exit::Code(code),
                    (None, Some(signal)) => Exit::Signal(signal),
                    (None, None) => Exit::Code(-1),
                }
            }
            Err(_) => {
                let _ = child.wait().await;
                Exit::TimedOut
            }
        };
        let (stdout, stderr) = tokio::join!(stdout, stderr);
        Ok(ExecOutput {
            exit,
            stdout: stdout.unwrap_or_default(),
            stderr: stderr.unwrap_or_default(),
            duration: started.elapsed(),
        })
    }

    async fn exists(&self, path: &str) -> Result<bool, ExecError> {
        match tokio::fs::symlink_metadata(self.path(path)).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(format!("cannot inspect {path}"))(e)),
        }
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, ExecError> {
        match tokio::fs::read(self.path(path)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(format!("cannot read {path}"))(e)),
        }
    }

    async fn remove(&self, path: &str) -> Result<(), ExecError> {
        match tokio::fs::remove_file(self.path(path)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io(format!("cannot remove {path}"))(e))
            }
            _ => Ok(()),
        }
    }

    async fn destroy(mut self: Box<Self>) -> Result<(), ExecError> {
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

/// Reads a stream to its end into a bounded capture, on its own task so a command that fills
/// one pipe while gnfc waits on the other cannot deadlock.
fn drain<R: AsyncRead + Unpin + Send + 'static>(
    stream: Option<R>,
    cap: usize,
) -> tokio::task::JoinHandle<Captured> {
    tokio::spawn(async move {
        let mut captured = Captured::with_cap(cap);
        if let Some(mut stream) = stream {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                captured.push(&buf[..n]);
            }
        }
        captured
    })
}

/// Asks the kernel to SIGKILL the command when gnfc dies, so a killed run leaves no
/// orphaned evaluations behind (its process group is its own, out of reach of the shell's
/// Ctrl-C).
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the forked child before exec and only makes one prctl(2)
    // call, which is async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}
