//! `gnfc forge serve|init|add`: the mirror forge on its own, and making its repositories.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_data::{Db, NewRepo};
use gnfc_proxy::{AddedRepo, MirrorConfig, RepoName};
use gnfc_scrapers::{head_commit_time, Forge, Found, SourceStore};

use super::Context;
use crate::corpus_intake;
use crate::exit::Status;

pub async fn serve(
    ctx: &Context,
    mirror: &Path,
    listen: SocketAddr,
    tls_listen: Option<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    if !mirror.is_dir() {
        anyhow::bail!(
            "the mirror {} is not a directory; make one with `gnfc forge init --from SOURCES --to {}`",
            mirror.display(),
            mirror.display()
        );
    }
    let ca_dir = ctx.storage().join("proxy").join("ca");
    let https = tls_listen.map(|addr| (addr, ca_dir.as_path()));
    let server = gnfc_proxy::serve_forge(&MirrorConfig::new(mirror), listen, https)
        .await
        .context("cannot start the forge")?;
    println!(
        "gnfc forge serving {} on http://{}",
        mirror.display(),
        server.http_addr()
    );
    if let (Some(addr), Some(ca)) = (server.https_addr(), server.ca_cert_path()) {
        println!(
            "  and on https://{addr} (clients must trust {})",
            ca.display()
        );
    }
    println!("the Host header picks the forge (api.github.com, gitlab.com, git.sr.ht, …); stop with Ctrl-C");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    server.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn init(ctx: &Context, from: &Path, to: &Path) -> anyhow::Result<ExitCode> {
    let repos = gnfc_proxy::init_mirror(from, to).await?;
    if !ctx.quiet {
        for repo in &repos {
            println!("{} {}", repo.rev, repo.name);
        }
    }
    println!("{} repositories in {}", repos.len(), to.display());
    Ok(ExitCode::SUCCESS)
}

/// `gnfc forge add`'s options beside the paths.
#[derive(Debug)]
pub struct AddOptions {
    pub as_name: Option<String>,
    pub corpus: bool,
    pub replace: bool,
    pub mirror: Option<PathBuf>,
}

pub async fn add(
    ctx: &Context,
    paths: &[PathBuf],
    options: AddOptions,
) -> anyhow::Result<ExitCode> {
    let named = options.as_name.as_deref().map(parse_as).transpose()?;
    if named.is_some() && paths.len() > 1 {
        anyhow::bail!(
            "--as names one repository, but {} paths were given; add them one at a time",
            paths.len()
        );
    }
    let mirror = options
        .mirror
        .clone()
        .unwrap_or_else(|| ctx.config.path(&ctx.config.config.proxy.mirror));
    let db = if options.corpus {
        Some(ctx.db().await?)
    } else {
        None
    };
    let (mut failed, mut problems) = (0, 0);
    for path in paths {
        let name = match &named {
            Some(named) => Ok(named.clone()),
            None => RepoName::from_path(path).map(|n| (Forge::Github, n)),
        };
        let added = match name {
            Ok((forge, name)) => gnfc_proxy::add_to_mirror(path, &mirror, &name, options.replace)
                .await
                .map(|added| (forge, added)),
            Err(e) => Err(e),
        };
        let (forge, added) = match added {
            Ok(added) => added,
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
        };
        if !ctx.quiet {
            println!(
                "{}: {} branch{}, {} tag{}, HEAD {} at {}{}",
                added.name,
                added.branches,
                if added.branches == 1 { "" } else { "es" },
                added.tags,
                if added.tags == 1 { "" } else { "s" },
                added.branch,
                added.head.get(..12).unwrap_or(&added.head),
                if added.replaced { " (replaced)" } else { "" }
            );
        }
        if let Some(db) = &db {
            problems += add_to_corpus(ctx, db, forge, &added).await?;
        }
    }
    println!(
        "{} of {} repositories added to the mirror in {}",
        paths.len() - failed,
        paths.len(),
        mirror.display()
    );
    Ok(if failed + problems > 0 {
        Status::Partial.into()
    } else {
        ExitCode::SUCCESS
    })
}

/// `--as`: `[github:|gitlab:|sourcehut:]owner/name`. The forge is what the corpus records;
/// the mirror serves the repository to every forge, SourceHut's under its `~owner`.
fn parse_as(text: &str) -> anyhow::Result<(Forge, RepoName)> {
    let (forge, name) = match text.split_once(':') {
        Some(("github", name)) => (Forge::Github, name.to_owned()),
        Some(("gitlab", name)) => (Forge::Gitlab, name.to_owned()),
        Some(("sourcehut", name)) if name.starts_with('~') => (Forge::Sourcehut, name.to_owned()),
        Some(("sourcehut", name)) => (Forge::Sourcehut, format!("~{name}")),
        Some((other, _)) => anyhow::bail!(
            "--as {text}: '{other}' is not a forge the mirror serves; use github:, gitlab: or \
             sourcehut:"
        ),
        None => (Forge::Github, text.to_owned()),
    };
    let name = name
        .parse::<RepoName>()
        .map_err(|e| anyhow::anyhow!("--as {text}: {e}"))?;
    Ok((forge, name))
}

/// Adds the flakes of `added`'s default branch to the corpus, as the forge repo it now
/// serves, with its head's commit time; returns the number of problems printed.
async fn add_to_corpus(
    ctx: &Context,
    db: &Db,
    forge: Forge,
    added: &AddedRepo,
) -> anyhow::Result<usize> {
    let storage = ctx.storage();
    std::fs::create_dir_all(&storage)
        .with_context(|| format!("cannot create {}", storage.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix(".forge-add-")
        .tempdir_in(&storage)
        .with_context(|| format!("cannot create a directory in {}", storage.display()))?;
    let tree = scratch.path().join("tree");
    if let Err(e) = added.check_out(&tree).await {
        eprintln!("error: {e}");
        return Ok(1);
    }
    let store = SourceStore::new(storage.join("sources"));
    let snapshot = match corpus_intake::snapshot(&store, &tree).await? {
        Ok(snapshot) => snapshot,
        Err(e) => {
            eprintln!("error: {}: {e}", added.name);
            return Ok(1);
        }
    };
    let owner = added.name.owner();
    let found = Found::new(
        forge,
        owner.strip_prefix('~').unwrap_or(owner),
        added.name.repo(),
    );
    let repo = NewRepo {
        default_branch: Some(added.branch.clone()),
        ..found.into_found_flake().repo
    };
    let committed_at = head_commit_time(&added.path);
    let recorded = corpus_intake::record(db, &repo, &snapshot, committed_at, ctx.quiet).await?;
    if recorded.flakes == 0 && recorded.problems == 0 {
        eprintln!(
            "warning: {} holds no flake.nix on {}; it is in the mirror only",
            added.name, added.branch
        );
    }
    Ok(recorded.problems)
}
