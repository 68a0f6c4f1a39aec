//! `gnfc run`: plan a run (or pick up an interrupted one) and execute it.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use globset::Glob;
use gnfc_data::{Db, NewRun, PlannedTest, RunRow};

use super::Context;
use crate::cli::RunArgs;
use crate::config::{self, Config};
use crate::executor::{self, Chosen};
use crate::exit::Status;
use crate::scheduler::{self, Ending, Job};

pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let (run, config, chosen) = match &args.resume {
        Some(name) => resume(ctx, &db, name, &args).await?,
        None => plan(ctx, &db, &args).await?,
    };
    let pending = db.pending_tests(run.id).await?;
    let jobs = match args.jobs.unwrap_or(config.run.jobs) {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let executor = chosen.executor;
    if !ctx.quiet {
        eprintln!(
            "run '{}': {} tests pending of {}, {} at a time on the {} executor",
            run.name,
            pending.len(),
            run.planned,
            jobs,
            executor.name()
        );
    }
    let planned = u64::try_from(run.planned).unwrap_or(0);
    let bar = scheduler::progress_bar(
        planned,
        planned.saturating_sub(pending.len() as u64),
        ctx.quiet,
    );
    let registry = prometheus::Registry::new();
    // The run's identity for the proxy: a resumed run keeps the upstream state (branch heads,
    // the registry) it started with; a new run, or one re-created under the same name, sees
    // today's.
    let pin = format!("{}@{}", run.name, run.started_at);
    let proxy = crate::wiring::start_for_run(ctx, &config.proxy, pin, &registry).await?;
    let job = Job {
        db: db.clone(),
        config: Arc::new(config),
        executor,
        rules: Arc::new(crate::wiring::load_rules(ctx)?),
        proxy: proxy.as_ref().map(|p| p.access.clone()),
    };
    let server = match args.metrics_listen {
        Some(addr) => {
            let server =
                crate::metrics::serve(addr, db.clone(), run.id, vec![registry.clone()]).await?;
            if !ctx.quiet {
                eprintln!("metrics: http://{addr}/metrics");
            }
            Some(server)
        }
        None => None,
    };
    let ending = match scheduler::execute(job.clone(), pending, jobs, bar).await {
        Ok(Ending::Complete) if args.recheck_regressions => {
            crate::recheck::recheck(job, &run, args.baseline.as_deref(), jobs, ctx.quiet).await
        }
        other => other,
    };
    if let Some(server) = server {
        server.abort();
    }
    if let Some(proxy) = proxy {
        // A complete run is never resumed: what it pinned can go.
        if matches!(ending, Ok(Ending::Complete)) {
            if let Err(e) = proxy.handle.release_pin().await {
                tracing::warn!("cannot forget the run's pinned upstream answers: {e}");
            }
        }
        proxy.handle.shutdown().await;
    }
    let ending = ending?;
    let run = db.run(&run.id.to_string()).await?;
    match ending {
        Ending::Complete => {
            db.finish_run(run.id).await?;
            let run = db.run(&run.id.to_string()).await?;
            println!("{}", gnfc_reports::summary_markdown(&db, &run).await?);
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Ending::Interrupted => {
            db.close().await;
            eprintln!(
                "interrupted: {} of {} tests recorded; finish with `gnfc run --resume {}`",
                run.done, run.planned, run.name
            );
            Ok(Status::Interrupted.into())
        }
    }
}

async fn resume(
    ctx: &Context,
    db: &Db,
    name: &str,
    args: &RunArgs,
) -> anyhow::Result<(RunRow, Config, Chosen)> {
    if !args.implementations.is_empty()
        || !args.resolvers.is_empty()
        || args.filter.is_some()
        || args.timeout.is_some()
        || args.executor.is_some()
        || args.flakes_from.is_some()
    {
        anyhow::bail!(
            "--impl, --resolver, --filter, --flakes-from, --timeout and --executor shape a new run; a resumed \
             run keeps the plan and settings it started with (only --jobs may change)"
        );
    }
    let run = db.run(name).await?;
    let mut config = config::parse(
        &run.config,
        &format!("the stored config of run '{}'", run.name),
    )?;
    if let Some(socket) = &ctx.podman_socket {
        config.podman.socket.clone_from(socket);
    }
    let chosen = executor::choose(&config, &ctx.storage(), ctx.quiet).await?;
    Ok((run, config, chosen))
}

async fn plan(ctx: &Context, db: &Db, args: &RunArgs) -> anyhow::Result<(RunRow, Config, Chosen)> {
    let mut config = ctx.config.config.clone();
    if !args.implementations.is_empty() {
        config.run.implementations = args.implementations.clone();
    }
    if !args.resolvers.is_empty() {
        config.run.resolvers = args.resolvers.clone();
    }
    if let Some(executor) = args.executor {
        config.run.executor = executor;
    }
    if let Some(timeout) = args.timeout {
        config.limits.timeout_secs = timeout;
    }
    // The file was checked when it was read; the overrides are checked on the value, by the
    // same checks.
    config::check(&config, "the command line")?;
    // The stored config says what really ran: the executor `auto` chose, and only the
    // implementations it can run.
    let chosen = executor::choose(&config, &ctx.storage(), ctx.quiet).await?;
    config.run.executor = chosen.kind;
    config
        .run
        .implementations
        .retain(|name| chosen.versions.contains_key(name));
    let text = toml::to_string(&config).context("cannot serialise the run's config")?;

    let mut corpus = db.corpus().await?;
    if let Some(glob) = &args.filter {
        let matcher = Glob::new(glob)
            .with_context(|| format!("--filter '{glob}' is not a valid glob"))?
            .compile_matcher();
        corpus.retain(|f| matcher.is_match(f.label()));
    }
    if let Some(file) = &args.flakes_from {
        corpus = crate::flake_list::keep_listed(corpus, file)?;
    }
    if corpus.is_empty() {
        anyhow::bail!(match &args.filter {
            Some(glob) =>
                format!("no flake of the corpus matches --filter '{glob}' (see `gnfc corpus list`)"),
            None => "the corpus is empty: add flakes with `gnfc corpus add PATH`".to_owned(),
        });
    }
    let versions: serde_json::Map<String, serde_json::Value> = chosen
        .versions
        .iter()
        .map(|(name, version)| (name.clone(), version.clone().into()))
        .collect();
    let host = serde_json::json!({
        "gnfc": env!("CARGO_PKG_VERSION"),
        "executor": format!("{:?}", config.run.executor).to_lowercase(),
        "hostname": std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim(),
        "cpus": std::thread::available_parallelism().map_or(1, usize::from),
        "implementations": versions,
    });
    let mut tests = Vec::new();
    for flake in &corpus {
        for implementation in &config.run.implementations {
            for resolver in &config.run.resolvers {
                tests.push(PlannedTest {
                    flake_id: flake.id,
                    implementation: implementation.clone(),
                    resolver: resolver.clone(),
                });
            }
        }
    }
    let name = args.name.clone().unwrap_or_else(default_run_name);
    let new = NewRun {
        name: name.clone(),
        config: text,
        host: host.to_string(),
    };
    db.create_run(&new, &tests).await?;
    Ok((db.run(&name).await?, config, chosen))
}

fn default_run_name() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("run-{secs}")
}
