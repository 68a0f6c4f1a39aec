//! `gnfc forge serve|init`: the mirror forge on its own, and making its repositories.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_proxy::MirrorConfig;

use super::Context;

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
