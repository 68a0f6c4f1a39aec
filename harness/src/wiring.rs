//! What a command needs set up from the configuration before it works: the classifier's
//! rules and overrides, and the proxy of a run. Shared by the commands, so none of them
//! reaches into another.

use std::path::PathBuf;

use anyhow::Context as _;
use gnfc_classifier::{Overrides, RuleSet};
use gnfc_containers::ProxyAccess;
use gnfc_proxy::{MirrorConfig, Proxy, ProxyConfig, ProxyHandle, UpstreamKind};

use crate::commands::Context;
use crate::config::{ProxySettings, UpstreamName};

/// The built-in rules followed by the user's files from `classifier.rules`.
pub(crate) fn load_rules(ctx: &Context) -> anyhow::Result<RuleSet> {
    RuleSet::builtin_and(&user_rule_files(ctx))
        .context("cannot load the classifier rules (classifier.rules in gnfc.toml)")
}

/// The user's rule files (`classifier.rules`), resolved against the config's directory.
pub(crate) fn user_rule_files(ctx: &Context) -> Vec<PathBuf> {
    let files = &ctx.config.config.classifier.rules;
    files.iter().map(|f| ctx.config.path(f)).collect()
}

/// The reviewed overrides named by `classifier.overrides`, if any.
pub(crate) fn load_overrides(ctx: &Context, rules: &RuleSet) -> anyhow::Result<Overrides> {
    match &ctx.config.config.classifier.overrides {
        Some(file) => Overrides::load(&ctx.config.path(file), rules)
            .context("cannot load the reviewed overrides (classifier.overrides in gnfc.toml)"),
        None => Ok(Overrides::default()),
    }
}

/// Where the proxy keeps its CA and cache, under the storage directory.
pub(crate) fn proxy_dir(ctx: &Context) -> PathBuf {
    ctx.storage().join("proxy")
}

/// The proxy configuration `[proxy]` describes. Tokens are read from the environment
/// variables it names; one that is unset is skipped with a warning (requests go out
/// unauthenticated, which works until a rate limit is hit).
pub(crate) fn proxy_config(ctx: &Context, settings: &ProxySettings) -> ProxyConfig {
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
    let mut config = proxy_config(ctx, settings);
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
