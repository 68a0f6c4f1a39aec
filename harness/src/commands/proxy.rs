//! `gnfc proxy serve|stats|export|import`, and the proxy `gnfc run` starts in-process.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use gnfc_containers::ProxyAccess;
use gnfc_proxy::{MirrorConfig, Proxy, ProxyConfig, ProxyHandle, UpstreamKind};
use indicatif::{ProgressBar, ProgressStyle};

use super::Context;
use crate::cli::ProxyServeArgs;
use crate::config::{ProxySettings, UpstreamName};

/// Where the proxy keeps its CA and cache, under the storage directory.
fn proxy_dir(ctx: &Context) -> PathBuf {
    ctx.storage().join("proxy")
}

fn cache_dir(ctx: &Context, cache: Option<PathBuf>) -> PathBuf {
    cache.unwrap_or_else(|| proxy_dir(ctx).join("cache"))
}

/// The proxy configuration `[proxy]` describes. Tokens are read from the environment
/// variables it names; one that is unset is skipped with a warning (requests go out
/// unauthenticated, which works until a rate limit is hit).
pub(crate) fn config_from(ctx: &Context, settings: &ProxySettings) -> ProxyConfig {
    let dir = proxy_dir(ctx);
    let mut config = ProxyConfig::new(dir.join("ca"), dir.join("cache"));
    config.mode = settings.mode;
    config.upstreams = settings
        .upstreams
        .iter()
        .map(|name| match name {
            UpstreamName::Mirror => {
                UpstreamKind::Mirror(MirrorConfig::new(ctx.config.path(&settings.mirror)))
            }
            UpstreamName::Internet => UpstreamKind::Internet,
        })
        .collect();
    for (host, var) in &settings.tokens {
        match std::env::var(var) {
            Ok(token) if !token.trim().is_empty() => {
                config
                    .tokens
                    .insert(host.clone(), format!("Bearer {}", token.trim()));
            }
            _ => tracing::warn!(
                "proxy.tokens: {var} (the token for {host}) is not set; requests to {host} go \
                 out without one"
            ),
        }
    }
    config
}

/// The proxy of one `gnfc run`, and how sandboxes reach it.
#[derive(Debug)]
pub(crate) struct RunProxy {
    pub(crate) handle: ProxyHandle,
    pub(crate) access: ProxyAccess,
}

/// Starts the run's proxy when `[proxy]` enables it: a free loopback port, plus a unix
/// socket (per process, so concurrent runs on one storage directory do not collide) for
/// executors whose sandboxes have no network. `pin` names the run (see
/// [`ProxyConfig::pin`]): the same for a resumed run, new for a new one.
pub(crate) async fn start_for_run(
    ctx: &Context,
    settings: &ProxySettings,
    pin: String,
    registry: &prometheus::Registry,
) -> anyhow::Result<Option<RunProxy>> {
    if !settings.enabled {
        return Ok(None);
    }
    let mut config = config_from(ctx, settings);
    config.pin = Some(pin);
    let socket = proxy_dir(ctx).join(format!("proxy-{}.sock", std::process::id()));
    config.unix_socket = Some(socket.clone());
    let handle = Proxy::start(config, registry)
        .await
        .context("cannot start the proxy (set `enabled = false` under [proxy] to run without)")?;
    let access = ProxyAccess {
        addr: handle.addr(),
        unix_socket: socket,
        ca_cert: handle.ca_cert_path().to_owned(),
    };
    Ok(Some(RunProxy { handle, access }))
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
    let mut config = config_from(ctx, &settings);
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
    let bar = if ctx.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new_spinner().with_message(message);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    };
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
