//! The host executor: the host's own `nix`, in a scratch directory.
//!
//! Every sandbox gets its own copy of the repo, `HOME`, XDG dirs, `TMPDIR` and `NIX_CONF_DIR`
//! with a `nix.conf` that enables flakes, sets the flake registry the spec asks for and
//! turns substituters off, so no test reads the user's configuration or another test's
//! state. Builds run as in the container: no build users, no Nix build sandbox. The Nix
//! store is the host's. Commands start in their own process group, so a
//! timeout kills everything a command started, and die with gnfc if gnfc is killed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::scratch::{io, Scratch};
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

#[async_trait]
impl Executor for HostExecutor {
    fn name(&self) -> &'static str {
        "host"
    }

    async fn sandbox(&self, spec: &SandboxSpec) -> Result<Box<dyn Sandbox>, ExecError> {
        let scratch = Scratch::create(
            &self.scratch_root,
            None,
            spec,
            crate::scratch::BUILD_AS_INVOKER,
        )
        .await?;
        let mut extra = spec.env.clone();
        if let Some(proxy) = &spec.proxy {
            let url = format!("http://{}", proxy.addr);
            extra.extend(ProxyAccess::env(&url, &proxy.ca_cert.to_string_lossy()));
        }
        // PATH is the one thing taken from the host: it is how the host's nix and git are found.
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        Ok(Box::new(HostSandbox {
            src: scratch.seen("src"),
            env: scratch.env(path, &extra),
            limits: spec.limits,
            scratch,
        }))
    }
}

#[derive(Debug)]
struct HostSandbox {
    src: String,
    env: Vec<(String, String)>,
    limits: crate::Limits,
    scratch: Scratch,
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
        crate::process::die_with_parent(&mut cmd);
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
        self.scratch.exists(path).await
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, ExecError> {
        self.scratch.read(path).await
    }

    async fn remove(&self, path: &str) -> Result<(), ExecError> {
        self.scratch.remove(path).await
    }

    async fn destroy(mut self: Box<Self>) -> Result<(), ExecError> {
        self.scratch.close().await
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
