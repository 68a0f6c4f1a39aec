//! One test's container: created and started once, each command an exec in it.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, KillContainerOptions};
use bollard::Docker;
use futures_util::StreamExt;

use super::{remove_container, MOUNT};
use crate::scratch::Scratch;
use crate::{Captured, Command, ExecError, ExecOutput, Exit, Limits, Sandbox};

/// Exit code of a process killed by SIGKILL, which is what the OOM killer sends.
const SIGKILLED: i64 = 128 + 9;

#[derive(Debug)]
pub(super) struct PodmanSandbox {
    docker: Docker,
    /// `None` once removed.
    id: Option<String>,
    scratch: Scratch,
    src: String,
    env: Vec<String>,
    limits: Limits,
}

fn api(what: &str) -> impl FnOnce(bollard::errors::Error) -> ExecError + '_ {
    move |e| ExecError::Runtime(format!("{what}: {e}"))
}

impl PodmanSandbox {
    pub(super) async fn start(
        docker: Docker,
        body: ContainerCreateBody,
        scratch: Scratch,
        env: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<Box<dyn Sandbox>, ExecError> {
        let id = docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(api("cannot create the test's container"))?
            .id;
        // From here on the sandbox owns the container, so an error below still removes it.
        let sandbox = PodmanSandbox {
            docker,
            id: Some(id.clone()),
            src: format!("{MOUNT}/src"),
            scratch,
            env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            limits,
        };
        if let Err(e) = sandbox.docker.start_container(&id, None).await {
            let error = api("cannot start the test's container")(e);
            Box::new(sandbox).destroy().await?;
            return Err(error);
        }
        Ok(Box::new(sandbox))
    }

    fn id(&self) -> Result<&str, ExecError> {
        self.id
            .as_deref()
            .ok_or_else(|| ExecError::Setup("the container was already removed".into()))
    }

    /// Runs an exec to its end, keeping bounded stdout and stderr, and returns its exit code.
    async fn exec(
        &self,
        command: &Command,
        stdout: &mut Captured,
        stderr: &mut Captured,
    ) -> Result<i64, ExecError> {
        let id = self.id()?;
        let argv: Vec<String> = std::iter::once(command.program.clone())
            .chain(command.args.iter().cloned())
            .collect();
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(argv),
                    env: Some(self.env.clone()),
                    working_dir: Some(self.src.clone()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(api("cannot create an exec"))?;
        match self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(api("cannot start an exec"))?
        {
            StartExecResults::Attached { mut output, .. } => {
                while let Some(chunk) = output.next().await {
                    match chunk.map_err(api("lost the exec's output"))? {
                        LogOutput::StdOut { message } => stdout.push(&message),
                        LogOutput::StdErr { message } => stderr.push(&message),
                        LogOutput::StdIn { .. } | LogOutput::Console { .. } => {}
                    }
                }
            }
            StartExecResults::Detached => {
                return Err(ExecError::Runtime(
                    "podman detached an attached exec".into(),
                ))
            }
        }
        self.exit_code(&exec.id).await
    }

    /// The exec's exit code. Its output can end a moment before podman records the exit.
    async fn exit_code(&self, exec_id: &str) -> Result<i64, ExecError> {
        for _ in 0..100 {
            let inspect = self
                .docker
                .inspect_exec(exec_id)
                .await
                .map_err(api("cannot inspect an exec"))?;
            if inspect.running != Some(true) {
                if let Some(code) = inspect.exit_code {
                    return Ok(code);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ExecError::Runtime(
            "podman did not report the exit code of a finished exec within 2 s".into(),
        ))
    }

    /// Whether the kernel's OOM killer struck in this container: podman's record, else the
    /// container's own memory cgroup (v1 `memory.oom_control`, v2 `memory.events`).
    async fn oom_killed(&self) -> bool {
        let Ok(id) = self.id() else { return false };
        if let Ok(inspect) = self.docker.inspect_container(id, None).await {
            if inspect.state.and_then(|s| s.oom_killed) == Some(true) {
                return true;
            }
        }
        let probe = Command::new("cat").args([
            "/sys/fs/cgroup/memory/memory.oom_control",
            "/sys/fs/cgroup/memory.events",
        ]);
        let mut out = Captured::with_cap(4096);
        if self
            .exec(&probe, &mut out, &mut Captured::with_cap(4096))
            .await
            .is_err()
        {
            return false;
        }
        String::from_utf8_lossy(&out.bytes()).lines().any(|line| {
            line.strip_prefix("oom_kill ")
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
    }
}

#[async_trait]
impl Sandbox for PodmanSandbox {
    fn source_dir(&self) -> &str {
        &self.src
    }

    async fn run(&self, command: &Command, timeout: Duration) -> Result<ExecOutput, ExecError> {
        let started = Instant::now();
        let mut stdout = Captured::with_cap(self.limits.stdout_bytes);
        let mut stderr = Captured::with_cap(self.limits.stderr_bytes);
        let ended = tokio::time::timeout(timeout, self.exec(command, &mut stdout, &mut stderr));
        let exit = match ended.await {
            Ok(code) => {
                let code = code?;
                if code == SIGKILLED && self.oom_killed().await {
                    Exit::OutOfMemory
                } else {
                    Exit::Code(i32::try_from(code).unwrap_or(-1))
                }
            }
            Err(_) => {
                // Killing the container ends everything the command started; the test
                // is over, so nothing else needs it.
                let id = self.id()?;
                let kill = KillContainerOptions {
                    signal: "KILL".to_owned(),
                };
                if let Err(e) = self.docker.kill_container(id, Some(kill)).await {
                    tracing::warn!("cannot kill timed-out container {id}: {e}");
                }
                Exit::TimedOut
            }
        };
        Ok(ExecOutput {
            exit,
            stdout,
            stderr,
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
        if let Some(id) = self.id.take() {
            remove_container(&self.docker, &id).await;
        }
        self.scratch.close().await
    }
}

impl Drop for PodmanSandbox {
    /// A sandbox dropped without `destroy` (a panic, a cancelled task) still removes its
    /// container, in the background.
    fn drop(&mut self) {
        if let (Some(id), Ok(runtime)) = (self.id.take(), tokio::runtime::Handle::try_current()) {
            let docker = self.docker.clone();
            runtime.spawn(async move { remove_container(&docker, &id).await });
        }
    }
}
