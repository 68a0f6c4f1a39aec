//! The podman executor: one container per test, driven through podman's Docker-compatible
//! API with bollard.
//!
//! A test's container sees exactly two host directories, both the test's own: its scratch
//! directory at `/gnfc` (the writable source copy, `HOME`, `nix.conf`) and the scratch
//! directory's `nix/` at `/nix`, so every test starts from an empty store and drvPaths are
//! those of the real `/nix/store`. The root filesystem is the implementation's image,
//! read-only. The network is `none`: the container's only way out is gnfc's proxy, whose unix
//! socket is mounted in and relayed to the container's own loopback by `socat`.
//!
//! Each stage is an exec in the running container, so a test pays for one container start,
//! not one per stage. A timeout kills the whole container, which ends everything the test
//! started; the test is over anyway. Containers carry the owning gnfc's pid as a label, so a
//! later start removes those of runs that were killed.

mod connect;
pub mod images;
mod listing;
mod sandbox;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, HostConfig, ResourcesUlimits};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use bollard::Docker;

pub use connect::{connect, Connection, DEFAULT_SOCKET};
use sandbox::PodmanSandbox;

use crate::scratch::Scratch;
use crate::{ExecError, Executor, Sandbox, SandboxSpec};

/// Label carrying the pid of the gnfc process that owns a container.
const OWNER_LABEL: &str = "io.gnfc.owner";
/// Where the scratch directory appears in a container.
const MOUNT: &str = "/gnfc";
/// Where the proxy's unix socket appears in a container.
const PROXY_SOCKET: &str = "/run/gnfc-proxy.sock";
/// The container-loopback port the relay to the proxy listens on.
const PROXY_PORT: u16 = 3128;
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What went wrong talking to podman, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PodmanError {
    #[error(
        "no podman API socket answers ({tried}) and gnfc could not start one: {start}. \
         Install podman (apt-get install podman runc), or point --podman-socket at a running \
         `podman system service`"
    )]
    NoSocket { tried: String, start: String },
    #[error("image '{image}' does not exist; build it with `gnfc images build{hint}`")]
    ImageMissing { image: String, hint: String },
    #[error("{0}")]
    Config(String),
    #[error("podman: {0}")]
    Api(#[from] bollard::errors::Error),
    #[error("cannot list containers: {0}")]
    Listing(String),
    #[error("no container runtime works here (tried {tried}): {last}")]
    NoRuntime { tried: String, last: String },
}

/// One ulimit, `name=soft:hard` as podman writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

impl FromStr for Ulimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Ulimit, String> {
        let err =
            || format!("ulimit '{s}' is not of the form name=soft:hard (e.g. nofile=1024:4096)");
        let (name, limits) = s.split_once('=').ok_or_else(err)?;
        let (soft, hard) = limits.split_once(':').ok_or_else(err)?;
        let soft: u64 = soft.parse().map_err(|_| err())?;
        let hard: u64 = hard.parse().map_err(|_| err())?;
        if name.is_empty() || soft > hard {
            return Err(err());
        }
        Ok(Ulimit {
            name: name.to_owned(),
            soft,
            hard,
        })
    }
}

impl std::fmt::Display for Ulimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}:{}", self.name, self.soft, self.hard)
    }
}

/// How containers are made and bounded.
#[derive(Debug, Clone)]
pub struct PodmanSettings {
    /// The OCI runtime, or `auto` to use the first of crun and runc that starts a container.
    pub runtime: String,
    /// Podman refuses ulimits above the host's hard limits; hard limits above the host's are
    /// lowered to it.
    pub ulimits: Vec<Ulimit>,
    pub memory_bytes: u64,
    pub pids: u64,
    /// CPUs per container; 0 means no limit.
    pub cpus: f64,
    pub scratch_root: PathBuf,
}

/// Runs each test in a fresh podman container.
#[derive(Debug)]
pub struct PodmanExecutor {
    connection: Connection,
    settings: PodmanSettings,
    runtime: String,
    ulimits: Vec<ResourcesUlimits>,
}

impl PodmanExecutor {
    /// Connects (see [`connect`]), removes containers left by killed runs, and picks the
    /// runtime by starting a container from `probe_image`.
    pub async fn new(
        connection: Connection,
        settings: PodmanSettings,
        probe_image: &str,
    ) -> Result<PodmanExecutor, PodmanError> {
        let removed = remove_leftovers(&connection).await?;
        if removed > 0 {
            tracing::info!("removed {removed} containers left by killed runs");
        }
        let ulimits = settings.ulimits.iter().map(clamp_to_host).collect();
        let mut executor = PodmanExecutor {
            connection,
            runtime: settings.runtime.clone(),
            settings,
            ulimits,
        };
        executor.check_image(probe_image, "").await?;
        executor.runtime = executor.pick_runtime(probe_image).await?;
        Ok(executor)
    }

    pub fn docker(&self) -> &Docker {
        &self.connection.docker
    }

    /// The runtime containers are started with.
    pub fn runtime(&self) -> &str {
        &self.runtime
    }

    /// Fails with a message naming `gnfc images build` when `image` is not there.
    pub async fn check_image(&self, image: &str, build_hint: &str) -> Result<(), PodmanError> {
        match self.docker().inspect_image(image).await {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(PodmanError::ImageMissing {
                image: image.to_owned(),
                hint: build_hint.to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn pick_runtime(&self, image: &str) -> Result<String, PodmanError> {
        let candidates: Vec<&str> = match self.settings.runtime.as_str() {
            "auto" => vec!["crun", "runc"],
            named => vec![named],
        };
        let mut last = String::new();
        for runtime in &candidates {
            match self.probe(image, runtime).await {
                Ok(()) => return Ok((*runtime).to_owned()),
                Err(e) => {
                    tracing::debug!("runtime {runtime} does not work here: {e}");
                    last = format!("{runtime}: {e}");
                }
            }
        }
        Err(PodmanError::NoRuntime {
            tried: candidates.join(", "),
            last,
        })
    }

    /// Starts and removes a container that runs `true`.
    async fn probe(&self, image: &str, runtime: &str) -> Result<(), PodmanError> {
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: Some(vec!["true".to_owned()]),
            labels: Some(owner_labels()),
            host_config: Some(HostConfig {
                runtime: Some(runtime.to_owned()),
                network_mode: Some("none".to_owned()),
                ulimits: Some(self.ulimits.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = self
            .docker()
            .create_container(None::<CreateContainerOptions>, body)
            .await?
            .id;
        let started = self.docker().start_container(&id, None).await;
        remove_container(self.docker(), &id).await;
        started.map_err(PodmanError::from)
    }

    fn container_body(
        &self,
        image: &str,
        scratch: &Scratch,
        proxy_socket: Option<&Path>,
    ) -> ContainerCreateBody {
        let mut binds = vec![
            format!("{}:{MOUNT}:rw", scratch.host_path("").display()),
            format!("{}:/nix:rw", scratch.host_path("nix").display()),
        ];
        let cmd = if let Some(socket) = proxy_socket {
            binds.push(format!("{}:{PROXY_SOCKET}:rw", socket.display()));
            vec![
                "socat".to_owned(),
                format!("TCP-LISTEN:{PROXY_PORT},bind=127.0.0.1,fork,reuseaddr"),
                format!("UNIX-CONNECT:{PROXY_SOCKET}"),
            ]
        } else {
            vec!["sleep".to_owned(), "infinity".to_owned()]
        };
        let limits = &self.settings;
        let memory = i64::try_from(limits.memory_bytes).unwrap_or(i64::MAX);
        ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: Some(cmd),
            labels: Some(owner_labels()),
            working_dir: Some(MOUNT.to_owned()),
            host_config: Some(HostConfig {
                binds: Some(binds),
                network_mode: Some("none".to_owned()),
                readonly_rootfs: Some(true),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_owned(),
                    "rw,nosuid,nodev,size=64m".to_owned(),
                )])),
                memory: Some(memory),
                // No swap: a memory hog is killed at the limit, not slowed down.
                memory_swap: Some(memory),
                pids_limit: Some(i64::try_from(limits.pids).unwrap_or(i64::MAX)),
                nano_cpus: (limits.cpus > 0.0).then_some((limits.cpus * 1e9) as i64),
                ulimits: Some(self.ulimits.clone()),
                runtime: Some(self.runtime.clone()),
                init: Some(true),
                cap_drop: Some(vec!["ALL".to_owned()]),
                security_opt: Some(vec!["no-new-privileges".to_owned()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

#[async_trait]
impl Executor for PodmanExecutor {
    fn name(&self) -> &'static str {
        "podman"
    }

    async fn sandbox(&self, spec: &SandboxSpec) -> Result<Box<dyn Sandbox>, ExecError> {
        let image = spec.image.as_deref().ok_or_else(|| {
            ExecError::Setup("the podman executor needs an image for every implementation".into())
        })?;
        // In a container nix runs as root with neither build users nor a build sandbox
        // (the container is the sandbox).
        let scratch = Scratch::create(
            &self.settings.scratch_root,
            Some(Path::new(MOUNT)),
            spec,
            crate::scratch::BUILD_AS_INVOKER,
        )
        .await?;
        let nix = scratch.host_path("nix");
        tokio::fs::create_dir_all(&nix)
            .await
            .map_err(crate::scratch::io(format!(
                "cannot create {}",
                nix.display()
            )))?;
        let mut extra = spec.env.clone();
        if let Some(proxy) = &spec.proxy {
            let ca = scratch.host_path("proxy-ca.pem");
            tokio::fs::copy(&proxy.ca_cert, &ca)
                .await
                .map_err(crate::scratch::io(format!(
                    "cannot copy the proxy CA {}",
                    proxy.ca_cert.display()
                )))?;
            let url = format!("http://127.0.0.1:{PROXY_PORT}");
            extra.extend(crate::ProxyAccess::env(&url, &scratch.seen("proxy-ca.pem")));
        }
        let env = scratch.env(PATH.to_owned(), &extra);
        let socket = spec.proxy.as_ref().map(|p| p.unix_socket.as_path());
        let body = self.container_body(image, &scratch, socket);
        PodmanSandbox::start(self.docker().clone(), body, scratch, env, spec.limits).await
    }

    async fn healthy(&self) -> Result<(), ExecError> {
        self.docker()
            .ping()
            .await
            .map(|_| ())
            .map_err(|e| ExecError::Runtime(format!("podman does not answer: {e}")))
    }
}

fn owner_labels() -> HashMap<String, String> {
    HashMap::from([(OWNER_LABEL.to_owned(), std::process::id().to_string())])
}

/// Lowers a hard limit above the host's to the host's: podman cannot raise it.
fn clamp_to_host(limit: &Ulimit) -> ResourcesUlimits {
    let host = match limit.name.as_str() {
        "nofile" => rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum,
        "nproc" => rustix::process::getrlimit(rustix::process::Resource::Nproc).maximum,
        _ => None,
    };
    let hard = host.map_or(limit.hard, |h| limit.hard.min(h));
    ResourcesUlimits {
        name: Some(limit.name.clone()),
        soft: Some(i64::try_from(limit.soft.min(hard)).unwrap_or(i64::MAX)),
        hard: Some(i64::try_from(hard).unwrap_or(i64::MAX)),
    }
}

/// Removes containers whose owning gnfc process is gone; returns how many.
async fn remove_leftovers(connection: &Connection) -> Result<usize, PodmanError> {
    let mut removed = 0;
    for container in listing::labelled(connection.socket(), OWNER_LABEL).await? {
        let owner = container
            .labels
            .get(OWNER_LABEL)
            .and_then(|pid| pid.parse::<u32>().ok());
        let alive = owner.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            remove_container(&connection.docker, &container.id).await;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Force-removes a container (killing what runs in it); failures are only logged, since
/// the next start removes leftovers anyway.
async fn remove_container(docker: &Docker, id: &str) {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    if let Err(e) = docker.remove_container(id, Some(options)).await {
        tracing::warn!("cannot remove container {id}: {e}");
    }
}
