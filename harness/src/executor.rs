//! Choosing a run's executor and checking, before any test runs, that every implementation
//! it names is there and is the version it claims: a missing image or binary is one clear
//! error, not a thousand harness errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use gnfc_containers::{
    connect_podman, images, Executor, HostExecutor, PodmanExecutor, PodmanSettings, Ulimit,
};

use crate::config::{Config, ExecutorKind, Implementation};

/// The executor a run uses and what it found.
#[derive(Debug)]
pub struct Chosen {
    pub executor: Arc<dyn Executor>,
    pub kind: ExecutorKind,
    /// `nix --version` of each implementation the executor can run.
    pub versions: BTreeMap<String, String>,
}

/// Makes the executor `config.run.executor` names for `config.run.implementations`. `auto`
/// falls back from podman to the host, keeping the implementations the host's nix can be,
/// and says so on stderr.
pub async fn choose(config: &Config, storage: &Path, quiet: bool) -> anyhow::Result<Chosen> {
    let scratch = storage.join("scratch");
    gnfc_containers::remove_stale_scratch(&scratch);
    match config.run.executor {
        ExecutorKind::Host => host(config, scratch, &config.run.implementations),
        ExecutorKind::Podman => podman(config, scratch).await,
        ExecutorKind::Auto => match podman(config, scratch.clone()).await {
            Ok(chosen) => Ok(chosen),
            Err(why) => {
                let runnable: Vec<String> = config
                    .run
                    .implementations
                    .iter()
                    .filter(|name| host_version(name, config).is_ok())
                    .cloned()
                    .collect();
                if runnable.is_empty() {
                    return Err(why.context(
                        "podman cannot run here and the host's nix is none of the run's \
                         implementations",
                    ));
                }
                if !quiet {
                    eprintln!(
                        "notice: podman unavailable ({}); running on the host executor with {}",
                        first_line(&why),
                        runnable.join(", ")
                    );
                }
                host(config, scratch, &runnable)
            }
        },
    }
}

fn first_line(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    text.lines().next().unwrap_or_default().to_owned()
}

fn host(config: &Config, scratch: PathBuf, names: &[String]) -> anyhow::Result<Chosen> {
    let mut versions = BTreeMap::new();
    for name in names {
        versions.insert(name.clone(), host_version(name, config)?);
    }
    Ok(Chosen {
        executor: Arc::new(HostExecutor::new(scratch)),
        kind: ExecutorKind::Host,
        versions,
    })
}

fn implementation<'a>(name: &str, config: &'a Config) -> anyhow::Result<&'a Implementation> {
    config
        .implementations
        .get(name)
        .with_context(|| format!("no implementation '{name}' in the config"))
}

/// Finds an implementation's nix on the host and asks its version.
fn host_version(name: &str, config: &Config) -> anyhow::Result<String> {
    let imp = implementation(name, config)?;
    let program = &imp.command[0];
    let found = if program.contains('/') {
        Path::new(program).is_file().then(|| PathBuf::from(program))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
    };
    let Some(binary) = found else {
        anyhow::bail!(
            "implementation '{name}': '{program}' is not installed or not on PATH; install Nix \
             (Debian: `apt-get install nix-bin`) or set implementations.{name}.command in gnfc.toml"
        );
    };
    let out = std::process::Command::new(&binary)
        .args(&imp.command[1..])
        .arg("--version")
        .output()
        .with_context(|| format!("implementation '{name}': cannot run {}", binary.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "implementation '{name}': `{} --version` failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    check_version(name, imp, &version, "on the host")?;
    Ok(version)
}

/// `nix (Nix) 2.26.3` must be version `2.26`: a run labelled nix-2.26 really is.
fn check_version(name: &str, imp: &Implementation, reported: &str, at: &str) -> anyhow::Result<()> {
    let Some(wanted) = &imp.version else {
        return Ok(());
    };
    let number = reported.rsplit(' ').next().unwrap_or_default();
    let matches = number == wanted
        || number
            .strip_prefix(wanted.as_str())
            .is_some_and(|rest| rest.starts_with(['.', '-', 'p', 'r']));
    if matches {
        Ok(())
    } else {
        anyhow::bail!(
            "implementation '{name}' must be Nix {wanted}, but `nix --version` {at} says \
             '{reported}'"
        )
    }
}

pub fn podman_settings(config: &Config, scratch: PathBuf) -> anyhow::Result<PodmanSettings> {
    Ok(PodmanSettings {
        runtime: config.podman.runtime.clone(),
        ulimits: config
            .podman
            .ulimits
            .iter()
            .map(|u| u.parse::<Ulimit>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?,
        memory_bytes: config.limits.memory.0,
        pids: config.limits.pids,
        cpus: config.limits.cpus,
        scratch_root: scratch,
    })
}

/// Connects to podman (starting its service if need be) without checking any image.
pub async fn podman_connection(
    config: &Config,
) -> anyhow::Result<gnfc_containers::PodmanConnection> {
    let explicit = Some(config.podman.socket.as_str()).filter(|s| !s.is_empty());
    let own = Path::new("/run/gnfc").join(format!("podman-{}.sock", std::process::id()));
    Ok(connect_podman(explicit, &own).await?)
}

async fn podman(config: &Config, scratch: PathBuf) -> anyhow::Result<Chosen> {
    let names = &config.run.implementations;
    let mut images = Vec::new();
    for name in names {
        let imp = implementation(name, config)?;
        let image = imp.image.clone().with_context(|| {
            format!("implementation '{name}' has no image: set implementations.{name}.image")
        })?;
        images.push((name, imp, image));
    }
    let Some((_, _, probe)) = images.first() else {
        anyhow::bail!("run.implementations is empty");
    };
    let connection = podman_connection(config).await?;
    let settings = podman_settings(config, scratch)?;
    let executor = PodmanExecutor::new(connection, settings, probe)
        .await
        .map_err(|e| hint_build(e, names))?;
    let mut versions = BTreeMap::new();
    for (name, imp, image) in &images {
        executor
            .check_image(image, &format!(" --impl {name}"))
            .await?;
        let (code, text) = image_version(&executor, imp, image).await?;
        let version = text.trim().to_owned();
        if code != 0 {
            anyhow::bail!(
                "implementation '{name}': `nix --version` in image {image} failed: {version}"
            );
        }
        check_version(name, imp, &version, &format!("in image {image}"))?;
        versions.insert((*name).clone(), version);
    }
    Ok(Chosen {
        executor: Arc::new(executor),
        kind: ExecutorKind::Podman,
        versions,
    })
}

/// Runs `{command} --version` in a fresh container from `image`: (exit code, output).
pub async fn image_version(
    executor: &PodmanExecutor,
    imp: &Implementation,
    image: &str,
) -> Result<(i64, String), gnfc_containers::PodmanError> {
    let argv: Vec<String> = imp
        .command
        .iter()
        .cloned()
        .chain(["--version".to_owned()])
        .collect();
    images::run_once(executor, image, &argv).await
}

/// The probe image is the first implementation's: name it in the hint.
fn hint_build(error: gnfc_containers::PodmanError, names: &[String]) -> anyhow::Error {
    match error {
        gnfc_containers::PodmanError::ImageMissing { image, .. } => {
            gnfc_containers::PodmanError::ImageMissing {
                image,
                hint: names
                    .first()
                    .map(|n| format!(" --impl {n}"))
                    .unwrap_or_default(),
            }
            .into()
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn versions_match_by_component() {
        let imp = |v: &str| Implementation {
            command: vec!["nix".into()],
            version: Some(v.into()),
            image: None,
            recipe: None,
            options: BTreeMap::new(),
        };
        assert!(check_version("n", &imp("2.26"), "nix (Nix) 2.26.3", "").is_ok());
        assert!(check_version("n", &imp("2.8"), "nix (Nix) 2.8.0", "").is_ok());
        assert!(check_version("n", &imp("2.8"), "nix (Nix) 2.8", "").is_ok());
        assert!(check_version("n", &imp("2.2"), "nix (Nix) 2.26.3", "").is_err());
        assert!(check_version("n", &imp("2.34"), "nix (Nix) 2.8.0", "").is_err());
    }
}
