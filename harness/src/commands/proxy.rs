//! `gnfc proxy serve|stats|export|import`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_containers::ProxyAccess;
use gnfc_proxy::Proxy;

use super::Context;
use crate::cli::ProxyServeArgs;
use crate::config::UpstreamName;
use crate::ui::spinner;
use crate::wiring::{proxy_config, proxy_dir};

fn cache_dir(ctx: &Context, cache: Option<PathBuf>) -> PathBuf {
    cache.unwrap_or_else(|| proxy_dir(ctx).join("cache"))
}

pub async fn serve(ctx: &Context, args: ProxyServeArgs) -> anyhow::Result<ExitCode> {
    let mut settings = ctx.config.config.proxy.clone();
    if let Some(m) = args.mode {
        settings.mode = m;
    }
    if let Some(mirror) = &args.mirror {
        settings.mirror.clone_from(mirror);
        if !settings.upstreams.contains(&UpstreamName::Mirror) {
            settings.upstreams.insert(0, UpstreamName::Mirror);
        }
    }
    if args.offline {
        settings.upstreams.retain(|u| *u != UpstreamName::Internet);
    }
    let mut config = proxy_config(ctx, &settings);
    // A served proxy is one run: branch heads are fetched once per start.
    config.pin = Some(format!("serve@{}", unix_ms()));
    config.listen = args.listen;
    config.unix_socket.clone_from(&args.unix);
    if let Some(cache) = args.cache {
        config.cache_dir = cache;
    }
    let registry = prometheus::Registry::new();
    let proxy = Proxy::start(config, &registry)
        .await
        .context("cannot start the proxy")?;
    let url = format!("http://{}", proxy.addr());
    println!("gnfc proxy ({} mode) listening on {url}", proxy.mode());
    if let Some(socket) = proxy.unix_socket() {
        println!("  and on the unix socket {}", socket.display());
    }
    println!("use it with:");
    for (k, v) in ProxyAccess::env(&url, &proxy.ca_cert_path().to_string_lossy()) {
        println!("  export {k}={v}");
    }
    println!("metrics: {url}/metrics; stop with Ctrl-C");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    let stats = proxy.stats().await;
    // Its pin is never used again.
    if let Err(e) = proxy.release_pin().await {
        tracing::warn!("cannot forget the pinned upstream answers: {e}");
    }
    proxy.shutdown().await;
    if let Ok(stats) = stats {
        println!(
            "stopped: {} hits, {} misses this cache's lifetime",
            stats.hits(),
            stats.misses()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn stats(ctx: &Context, cache: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let stats = gnfc_proxy::read_stats(&cache_dir(ctx, cache)).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{:.1}%", r * 100.0));
    println!(
        "{:<40} {:>8} {:>14} {:>8} {:>8} {:>8}",
        "host", "entries", "bytes", "hits", "misses", "hit rate"
    );
    for host in &stats.hosts {
        println!(
            "{:<40} {:>8} {:>14} {:>8} {:>8} {:>8}",
            host.host,
            host.entries,
            host.bytes,
            host.hits,
            host.misses,
            rate(host.hit_rate())
        );
    }
    println!(
        "total: {} entries, {} distinct bodies ({} bytes on disk), hit rate {}",
        stats.entries,
        stats.blobs,
        stats.blob_bytes,
        rate(stats.hit_rate())
    );
    Ok(ExitCode::SUCCESS)
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Awaits `work` with a spinner saying `message` (none with `--quiet`).
async fn with_spinner<T>(ctx: &Context, message: String, work: impl Future<Output = T>) -> T {
    let bar = spinner(ctx.quiet, message, Some("{spinner} {msg} ({elapsed})"));
    let out = work.await;
    bar.finish_and_clear();
    out
}

pub async fn export(
    ctx: &Context,
    file: &Path,
    cache: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let cache = cache_dir(ctx, cache);
    let message = format!("exporting {}", cache.display());
    let summary = with_spinner(ctx, message, gnfc_proxy::export_cache(&cache, file)).await?;
    println!(
        "wrote {}: {} entries, {} bodies ({} bytes before compression)",
        file.display(),
        summary.entries,
        summary.blobs,
        summary.bytes
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn import(
    ctx: &Context,
    file: &Path,
    cache: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let cache = cache_dir(ctx, cache);
    let message = format!("importing {}", file.display());
    let summary = with_spinner(ctx, message, gnfc_proxy::import_cache(&cache, file)).await?;
    println!(
        "imported into {}: {} new entries ({} bodies verified)",
        cache.display(),
        summary.entries,
        summary.blobs
    );
    Ok(ExitCode::SUCCESS)
}
