//! One module per subcommand; [`dispatch`] picks it.

mod classify;
mod compare;
mod corpus;
mod diff;
mod fetch;
mod forge;
mod history;
mod images;
mod lock_diff;
mod metrics;
mod proxy;
mod report;
mod run;
mod scrape;
mod show;
mod triage;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_data::{Db, RunRow};

use crate::cli::{Cli, Command, CorpusCommand, ForgeCommand, ProxyCommand};
use crate::config::{self, Loaded};

/// What every command starts from: the configuration and where results live.
#[derive(Debug)]
pub struct Context {
    pub config: Loaded,
    pub db_url: String,
    pub quiet: bool,
    /// `--podman-socket`, which also overrides a resumed run's stored setting.
    pub podman_socket: Option<String>,
}

impl Context {
    fn new(cli: &Cli) -> anyhow::Result<Context> {
        let mut config = config::load(cli.config.as_deref())?;
        if let Some(socket) = &cli.podman_socket {
            config.config.podman.socket.clone_from(socket);
        }
        let db_url = match &cli.db {
            Some(db) if db.contains("://") || db.starts_with("sqlite:") => db.clone(),
            Some(path) => format!("sqlite://{path}"),
            None => config.database_url(),
        };
        Ok(Context {
            db_url: config::resolve_sqlite_url(&db_url, &std::env::current_dir()?),
            config,
            quiet: cli.quiet,
            podman_socket: cli.podman_socket.clone(),
        })
    }

    pub async fn db(&self) -> anyhow::Result<Db> {
        Ok(Db::open(&self.db_url).await?)
    }

    /// The storage directory (source snapshots, scratch).
    pub fn storage(&self) -> PathBuf {
        self.config.path(&self.config.config.storage.dir)
    }
}

/// The named run, or the latest one.
pub(crate) async fn pick_run(db: &Db, run: Option<&str>) -> anyhow::Result<RunRow> {
    match run {
        Some(run) => Ok(db.run(run).await?),
        None => db
            .latest_run()
            .await?
            .context("no runs recorded yet: start one with `gnfc run`"),
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Init { path, force } = &cli.command {
        return init(path, *force);
    }
    let ctx = Context::new(&cli)?;
    match cli.command {
        Command::Init { .. } => unreachable!("handled above"),
        Command::Corpus(CorpusCommand::Add { paths, list, repo }) => {
            corpus::add(&ctx, paths, list, repo).await
        }
        Command::Corpus(CorpusCommand::List) => corpus::list(&ctx).await,
        Command::Corpus(CorpusCommand::Check { run, strict }) => {
            corpus::check(&ctx, run.as_deref(), strict).await
        }
        Command::Run(args) => run::run(&ctx, args).await,
        Command::Status { run } => report::status(&ctx, run.as_deref()).await,
        Command::Classify(args) => {
            let run = args.run.as_deref();
            match (args.explain, args.unknown, args.interactive) {
                (Some(test), _, _) => triage::explain(&ctx, run, test).await,
                (None, true, _) => triage::unknown(&ctx, run, args.top).await,
                (None, false, true) => {
                    triage::interactive(&ctx, run, args.top, args.rules_file).await
                }
                (None, false, false) => classify::classify(&ctx, run).await,
            }
        }
        Command::Metrics { run, textfile } => {
            metrics::metrics(&ctx, run.as_deref(), textfile.as_deref()).await
        }
        Command::Images(command) => images::images(&ctx, command).await,
        Command::Report(args) => report::report(&ctx, args).await,
        Command::Compare(args) => compare::compare(&ctx, args).await,
        Command::Diff(args) => diff::diff(&ctx, args).await,
        Command::Show { test } => show::show(&ctx, test).await,
        Command::History { flake, format } => history::history(&ctx, &flake, format).await,
        Command::LockDiff { a, b, format } => lock_diff::lock_diff(&ctx, a, b, format).await,
        Command::Proxy(ProxyCommand::Serve(args)) => proxy::serve(&ctx, args).await,
        Command::Proxy(ProxyCommand::Stats { cache, json }) => {
            proxy::stats(&ctx, cache, json).await
        }
        Command::Proxy(ProxyCommand::Export { file, cache }) => {
            proxy::export(&ctx, &file, cache).await
        }
        Command::Proxy(ProxyCommand::Import { file, cache }) => {
            proxy::import(&ctx, &file, cache).await
        }
        Command::Forge(ForgeCommand::Serve {
            mirror,
            listen,
            tls_listen,
        }) => forge::serve(&ctx, &mirror, listen, tls_listen).await,
        Command::Forge(ForgeCommand::Init { from, to }) => forge::init(&ctx, &from, &to).await,
        Command::Forge(ForgeCommand::Add {
            paths,
            as_name,
            corpus,
            replace,
            mirror,
        }) => {
            let options = forge::AddOptions {
                as_name,
                corpus,
                replace,
                mirror,
            };
            forge::add(&ctx, &paths, options).await
        }
        Command::Scrape(command) => scrape::scrape(&ctx, command).await,
        Command::Fetch(args) => fetch::fetch(&ctx, args).await,
    }
}

fn init(path: &std::path::Path, force: bool) -> anyhow::Result<ExitCode> {
    if path.exists() && !force {
        anyhow::bail!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        );
    }
    std::fs::write(path, config::DEFAULT_TOML)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}
