//! `gnfc images build|list`: the implementations' container images.

use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_containers::images::{self, Built};
use gnfc_containers::PodmanExecutor;

use super::Context;
use crate::cli::ImagesCommand;
use crate::config::{recipe_of, Config, Implementation};
use crate::executor::{image_version, podman_connection, podman_settings};
use crate::ui::spinner;

pub async fn images(ctx: &Context, command: ImagesCommand) -> anyhow::Result<ExitCode> {
    match command {
        ImagesCommand::Build {
            implementations,
            force,
        } => build(ctx, implementations, force).await,
        ImagesCommand::List => list(ctx).await,
    }
}

/// The named implementations (default: the run's), with their images.
fn selected<'a>(
    config: &'a Config,
    names: &[String],
) -> anyhow::Result<Vec<(String, &'a Implementation, String)>> {
    let names = if names.is_empty() {
        &config.run.implementations
    } else {
        names
    };
    names
        .iter()
        .map(|name| {
            let imp = config.implementations.get(name).with_context(|| {
                format!(
                    "no implementation '{name}' in the config (defined: {})",
                    config
                        .implementations
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let image = imp.image.clone().with_context(|| {
                format!("implementation '{name}' has no image: set implementations.{name}.image")
            })?;
            Ok((name.clone(), imp, image))
        })
        .collect()
}

async fn build(ctx: &Context, names: Vec<String>, force: bool) -> anyhow::Result<ExitCode> {
    let config = &ctx.config.config;
    let selected = selected(config, &names)?;
    let connection = podman_connection(config).await?;
    let work = ctx.storage().join("image-build");
    for (name, imp, image) in &selected {
        let recipe = recipe_of(imp, &config.images)
            .map_err(anyhow::Error::msg)?
            .with_context(|| {
                format!(
                    "implementation '{name}' has no recipe: set implementations.{name}.recipe \
                     (\"debian:SUITE\" or \"pull\")"
                )
            })?;
        if matches!(recipe, images::Recipe::Debian { .. }) {
            need_debootstrap()?;
        }
        let bar = spinner(
            ctx.quiet,
            format!("{name}: {image}"),
            Some("{spinner} [{elapsed}] {wide_msg}"),
        );
        let show = |line: &str| bar.set_message(format!("{name}: {}", line.trim()));
        let built = images::build(&connection.docker, image, &recipe, force, &work, &show)
            .await
            .with_context(|| format!("cannot build the image of '{name}'"))?;
        bar.finish_and_clear();
        let what = match built {
            Built::Reused => "up to date",
            Built::Fresh => "built",
        };
        println!("{name}: {image} {what} (recipe {})", recipe.hash());
    }
    Ok(ExitCode::SUCCESS)
}

fn need_debootstrap() -> anyhow::Result<()> {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join("debootstrap").is_file())
    });
    if found {
        Ok(())
    } else {
        anyhow::bail!(
            "debootstrap is not installed; Debian recipes need it (apt-get install debootstrap)"
        )
    }
}

async fn list(ctx: &Context) -> anyhow::Result<ExitCode> {
    let config = &ctx.config.config;
    let all: Vec<String> = config.implementations.keys().cloned().collect();
    let selected = selected(config, &all)?;
    let connection = podman_connection(config).await?;
    let mut rows = Vec::new();
    let mut probe = None;
    for (name, imp, image) in &selected {
        let info = images::inspect(&connection.docker, image).await?;
        let wanted = recipe_of(imp, &config.images)
            .map_err(anyhow::Error::msg)?
            .map(|r| r.hash());
        if info.is_some() && probe.is_none() {
            probe = Some(image.clone());
        }
        rows.push((name, imp, image, info, wanted));
    }
    let executor = match probe {
        Some(image) => {
            let settings = podman_settings(config, ctx.storage().join("scratch"))?;
            Some(PodmanExecutor::new(connection, settings, &image).await?)
        }
        None => None,
    };
    println!(
        "{:<12} {:<22} {:<22} {:>8}  {:<12} state",
        "IMPL", "IMAGE", "NIX", "SIZE", "RECIPE"
    );
    for (name, imp, image, info, wanted) in rows {
        let Some(info) = info else {
            println!(
                "{name:<12} {image:<22} {:<22} {:>8}  {:<12} missing: gnfc images build --impl {name}",
                "-", "-", "-"
            );
            continue;
        };
        let version = match &executor {
            Some(executor) => match image_version(executor, imp, image).await {
                Ok((0, text)) => text.trim().trim_start_matches("nix (Nix) ").to_owned(),
                Ok((code, _)) => format!("exit {code}"),
                Err(e) => format!("error: {e}"),
            },
            None => "-".to_owned(),
        };
        let recipe = info.recipe_hash.clone().unwrap_or_else(|| "-".to_owned());
        let state = match (&info.recipe_hash, &wanted) {
            (Some(have), Some(want)) if have == want => "up to date",
            (_, Some(_)) => "stale: gnfc images build",
            (_, None) => "external",
        };
        println!(
            "{name:<12} {image:<22} {version:<22} {:>7}M  {recipe:<12} {state}",
            info.size >> 20
        );
    }
    Ok(ExitCode::SUCCESS)
}
