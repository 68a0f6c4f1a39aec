//! Implementation images: built from recipes (Debian's packaged Nix, by debootstrap and
//! `podman import`) or pulled from a registry, and tagged with the recipe's hash so an
//! unchanged recipe is never rebuilt.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, CreateImageOptions, LogsOptions};
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncBufReadExt;

use super::{owner_labels, remove_container, PodmanError, PodmanExecutor};

/// Label holding the hash of the recipe an image was built from.
pub const RECIPE_LABEL: &str = "io.gnfc.recipe";

const DEBIAN_RECIPE: &str = include_str!("../../images/debian.sh");

/// How an implementation's image is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipe {
    /// A Debian suite's `nix-bin`, by `containers/images/debian.sh`.
    Debian { suite: String, mirror: String },
    /// Pulled from a registry as named (e.g. `docker.io/nixos/nix:2.24.9`).
    Pull,
}

impl Recipe {
    /// Identifies the recipe: the script and its arguments.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        match self {
            Recipe::Debian { suite, mirror } => {
                hasher.update(DEBIAN_RECIPE.as_bytes());
                hasher.update(format!("\0{suite}\0{mirror}").as_bytes());
            }
            Recipe::Pull => hasher.update(b"pull"),
        }
        hex::encode(&hasher.finalize()[..6])
    }
}

/// An image as `gnfc images list` shows it.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub size: u64,
    pub recipe_hash: Option<String>,
}

/// What `build` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// The image already came from this recipe.
    Reused,
    Fresh,
}

/// The image named `name`, if it exists.
pub async fn inspect(docker: &Docker, name: &str) -> Result<Option<ImageInfo>, PodmanError> {
    match docker.inspect_image(name).await {
        Ok(image) => Ok(Some(ImageInfo {
            size: image.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            recipe_hash: image
                .config
                .and_then(|c| c.labels)
                .and_then(|labels| labels.get(RECIPE_LABEL).cloned()),
        })),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Builds `name` from `recipe` unless it already carries the recipe's hash (or `force`).
/// `work` is a directory for the root filesystem while it is built; `progress` gets each
/// line the build prints.
pub async fn build(
    docker: &Docker,
    name: &str,
    recipe: &Recipe,
    force: bool,
    work: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Built, PodmanError> {
    let hash = recipe.hash();
    if let Some(existing) = inspect(docker, name).await? {
        if !force && existing.recipe_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Built::Reused);
        }
    }
    match recipe {
        Recipe::Pull => pull(docker, name, progress).await?,
        Recipe::Debian { suite, mirror } => {
            debian(name, suite, mirror, &hash, work, progress).await?;
        }
    }
    Ok(Built::Fresh)
}

async fn pull(
    docker: &Docker,
    name: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), PodmanError> {
    let options = CreateImageOptions {
        from_image: Some(name.to_owned()),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(info) = stream.next().await {
        if let Some(status) = info?.status {
            progress(&status);
        }
    }
    Ok(())
}

async fn debian(
    name: &str,
    suite: &str,
    mirror: &str,
    hash: &str,
    work: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), PodmanError> {
    let fail = |what: String| PodmanError::Config(what);
    tokio::fs::create_dir_all(work)
        .await
        .map_err(|e| fail(format!("cannot create {}: {e}", work.display())))?;
    let dir = tempfile::Builder::new()
        .prefix("image.")
        .tempdir_in(work)
        .map_err(|e| {
            fail(format!(
                "cannot create a build directory in {}: {e}",
                work.display()
            ))
        })?;
    let script = dir.path().join("recipe.sh");
    let rootfs = dir.path().join("rootfs");
    tokio::fs::write(&script, DEBIAN_RECIPE)
        .await
        .map_err(|e| fail(format!("cannot write {}: {e}", script.display())))?;
    let mut log = Vec::new();
    let mut recipe = tokio::process::Command::new("bash");
    recipe
        .arg(&script)
        .args([suite, mirror])
        .arg(&rootfs)
        .stdin(Stdio::null());
    run_logged(recipe, "the image recipe", &mut log, progress).await?;

    progress("podman import");
    let mut import = tokio::process::Command::new("sh");
    import
        .arg("-c")
        .arg(r#"tar -C "$1" -c . | podman import --change "LABEL $2=$3" --change 'CMD ["/bin/sh"]' - "$4""#)
        .args(["sh"])
        .arg(&rootfs)
        .args([RECIPE_LABEL, hash, name])
        .stdin(Stdio::null());
    run_logged(import, "podman import", &mut log, progress).await?;
    // The root filesystem holds root-owned files of a whole system; removing it needs no
    // more than the build did.
    let path = dir.path().to_owned();
    tokio::task::spawn_blocking(move || dir.close())
        .await
        .map_err(|e| fail(format!("cleanup task failed: {e}")))?
        .map_err(|e| fail(format!("cannot remove {}: {e}", path.display())))?;
    Ok(())
}

/// Runs a build step, showing each output line and keeping the last ones for the error.
async fn run_logged(
    mut command: tokio::process::Command,
    what: &str,
    log: &mut Vec<String>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), PodmanError> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| PodmanError::Config(format!("cannot run {what}: {e}")))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    forward_lines(child.stdout.take(), tx.clone());
    forward_lines(child.stderr.take(), tx.clone());
    drop(tx);
    while let Some(line) = rx.recv().await {
        progress(&line);
        log.push(line);
        if log.len() > 20 {
            log.remove(0);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| PodmanError::Config(format!("{what}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(PodmanError::Config(format!(
            "{what} failed ({status}); its last output:\n  {}",
            log.join("\n  ")
        )))
    }
}

fn forward_lines<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    stream: Option<R>,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
) {
    if let Some(stream) = stream {
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
}

/// Runs `argv` once in a fresh container from `image` and returns its exit code and output:
/// how gnfc asks an image for its Nix version (Nix 2.26+ needs /proc, so not in a chroot).
pub async fn run_once(
    executor: &PodmanExecutor,
    image: &str,
    argv: &[String],
) -> Result<(i64, String), PodmanError> {
    let docker = executor.docker();
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(argv.to_vec()),
        labels: Some(owner_labels()),
        host_config: Some(HostConfig {
            runtime: Some(executor.runtime().to_owned()),
            network_mode: Some("none".to_owned()),
            ulimits: Some(executor.ulimits.clone()),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([("/tmp".to_owned(), String::new())])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await?
        .id;
    let result = async {
        docker.start_container(&id, None).await?;
        let mut code = 0;
        let mut wait = docker.wait_container(&id, None);
        while let Some(response) = wait.next().await {
            match response {
                Ok(r) => code = r.status_code,
                // bollard reports a non-zero exit as an error carrying the code.
                Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
                Err(e) => return Err(e.into()),
            }
        }
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let mut text = String::new();
        let mut logs = docker.logs(&id, Some(options));
        while let Some(chunk) = logs.next().await {
            text.push_str(&chunk?.to_string());
        }
        Ok::<_, PodmanError>((code, text))
    }
    .await;
    remove_container(docker, &id).await;
    result
}
