//! `gnfc run`: plan a run (or pick up an interrupted one) and execute it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use globset::Glob;
use gnfc_classifier::RuleSet;
use gnfc_containers::{Executor, HostExecutor};
use gnfc_data::{Db, NewRun, PlannedTest, RunRow};

use super::Context;
use crate::cli::RunArgs;
use crate::config::{self, Config, ExecutorKind};
use crate::scheduler::{self, Ending, Job};

pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let (run, config) = match &args.resume {
        Some(name) => resume(&db, name, &args).await?,
        None => plan(ctx, &db, &args).await?,
    };
    let pending = db.pending_tests(run.id).await?;
    let jobs = match args.jobs.unwrap_or(config.run.jobs) {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let scratch = ctx.storage().join("scratch");
    remove_stale_scratch(&scratch);
    let executor: Arc<dyn Executor> = match config.run.executor {
        ExecutorKind::Host => Arc::new(HostExecutor::new(scratch)),
    };
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
    let job = Job {
        db: db.clone(),
        config: Arc::new(config),
        executor,
        rules: Arc::new(RuleSet::builtin()?),
    };
    let mut ending = scheduler::execute(job.clone(), pending, jobs, bar).await?;
    if ending == Ending::Complete && args.recheck_regressions {
        ending =
            crate::recheck::recheck(job, &run, args.baseline.as_deref(), jobs, ctx.quiet).await?;
    }
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
            Ok(ExitCode::from(130))
        }
    }
}

async fn resume(db: &Db, name: &str, args: &RunArgs) -> anyhow::Result<(RunRow, Config)> {
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
    let config = config::parse(
        &run.config,
        &format!("the stored config of run '{}'", run.name),
    )?;
    Ok((run, config))
}

async fn plan(ctx: &Context, db: &Db, args: &RunArgs) -> anyhow::Result<(RunRow, Config)> {
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
    // Re-validate the overridden config exactly as a file would be.
    let text = toml::to_string(&config).context("cannot serialise the run's config")?;
    let config = config::parse(&text, "the command line")?;

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
    let mut versions = serde_json::Map::new();
    for name in &config.run.implementations {
        versions.insert(name.clone(), nix_version(name, &config)?.into());
    }
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
    Ok((db.run(&name).await?, config))
}

fn default_run_name() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("run-{secs}")
}

/// Finds an implementation's nix and asks its version: a missing binary is an error before
/// any test runs, not a thousand harness errors.
fn nix_version(name: &str, config: &Config) -> anyhow::Result<String> {
    let imp = config
        .implementations
        .get(name)
        .with_context(|| format!("no implementation '{name}' in the config"))?;
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
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Removes scratch directories of gnfc processes that are gone (killed runs). Sandboxes are
/// named `<pid>.<random>`, so a live process's are left alone.
fn remove_stale_scratch(scratch: &Path) {
    let Ok(entries) = std::fs::read_dir(scratch) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_string_lossy().split('.').next().map(str::to_owned);
        let alive = pid.is_some_and(|pid| Path::new("/proc").join(pid).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
