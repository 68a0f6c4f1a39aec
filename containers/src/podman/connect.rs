//! Finding podman's Docker-compatible API socket, or starting one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::Docker;

use super::PodmanError;

/// The socket rootful podman's system service listens on by default.
pub const DEFAULT_SOCKET: &str = "/run/podman/podman.sock";

/// How long a podman service gnfc started may take to answer.
const SERVICE_START: Duration = Duration::from_secs(20);

/// A connection to podman, and the service gnfc started for it, if any (stopped on drop).
#[derive(Debug)]
pub struct Connection {
    pub docker: Docker,
    socket: PathBuf,
    service: Option<Service>,
}

impl Connection {
    /// The API socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether gnfc started the podman service itself (and will stop it).
    pub fn started_service(&self) -> bool {
        self.service.is_some()
    }
}

/// Connects to the first socket that answers: `explicit` if given, else `$CONTAINER_HOST`,
/// else [`DEFAULT_SOCKET`]. When none answers and the `podman` command exists, starts
/// `podman system service --time=0` on `explicit` (or `own_socket`) and uses that.
pub async fn connect(explicit: Option<&str>, own_socket: &Path) -> Result<Connection, PodmanError> {
    let candidates: Vec<String> = match explicit {
        Some(socket) => vec![socket.to_owned()],
        None => std::env::var("CONTAINER_HOST")
            .ok()
            .filter(|s| !s.is_empty())
            .into_iter()
            .chain([DEFAULT_SOCKET.to_owned()])
            .collect(),
    };
    let mut tried = Vec::new();
    for candidate in &candidates {
        let path = socket_path(candidate)?;
        match ping(&path).await {
            Ok(docker) => {
                return Ok(Connection {
                    docker,
                    socket: path,
                    service: None,
                })
            }
            Err(e) => tried.push(format!("{}: {e}", path.display())),
        }
    }
    let path = match explicit {
        Some(socket) => socket_path(socket)?,
        None => own_socket.to_owned(),
    };
    let service = Service::start(&path)
        .await
        .map_err(|e| PodmanError::NoSocket {
            tried: tried.join("; "),
            start: e,
        })?;
    let docker = wait_for(&path).await.map_err(|e| PodmanError::NoSocket {
        tried: tried.join("; "),
        start: e,
    })?;
    Ok(Connection {
        docker,
        socket: path,
        service: Some(service),
    })
}

/// `unix:///x`, `unix:/x` or a plain path; podman's other transports (ssh, tcp) are not for
/// a tool that mounts local directories into containers.
fn socket_path(socket: &str) -> Result<PathBuf, PodmanError> {
    let path = socket
        .strip_prefix("unix://")
        .or_else(|| socket.strip_prefix("unix:"))
        .unwrap_or(socket);
    if path.starts_with('/') {
        Ok(PathBuf::from(path))
    } else {
        Err(PodmanError::Config(format!(
            "podman socket '{socket}' is not a local unix socket; give a path such as \
             unix://{DEFAULT_SOCKET} (gnfc mounts local directories into containers, so podman \
             must run on this machine)"
        )))
    }
}

async fn ping(path: &Path) -> Result<Docker, String> {
    if !path.exists() {
        return Err("no such socket".to_owned());
    }
    let docker =
        Docker::connect_with_unix(&path.to_string_lossy(), 120, bollard::API_DEFAULT_VERSION)
            .map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(5), docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 5 s".to_owned()),
    }
}

async fn wait_for(path: &Path) -> Result<Docker, String> {
    let started = Instant::now();
    loop {
        match ping(path).await {
            Ok(docker) => return Ok(docker),
            Err(e) if started.elapsed() > SERVICE_START => {
                return Err(format!(
                    "started `podman system service` but {} did not answer within {} s: {e}",
                    path.display(),
                    SERVICE_START.as_secs()
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A `podman system service` gnfc started; stopped (and its socket removed) on drop.
#[derive(Debug)]
struct Service {
    child: tokio::process::Child,
    socket: PathBuf,
}

impl Service {
    async fn start(socket: &Path) -> Result<Service, String> {
        if let Some(dir) = socket.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let _ = tokio::fs::remove_file(socket).await;
        let mut command = tokio::process::Command::new("podman");
        command
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            // The service outlives many containers and conmon starts each in the service's
            // working directory: if that directory is removed (a temp dir, a deleted
            // checkout), every later container fails with "write child: broken pipe".
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        crate::process::die_with_parent(&mut command);
        let child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "podman is not installed (apt-get install podman runc)".to_owned()
            } else {
                format!("cannot start `podman system service`: {e}")
            }
        })?;
        tracing::info!("started podman system service on {}", socket.display());
        Ok(Service {
            child,
            socket: socket.to_owned(),
        })
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SIGTERM lets podman close its socket cleanly; kill_on_drop is the fallback.
        if let Some(pid) = self
            .child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}
