//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ExecutorKind, FetchMethodSetting};

/// Test Nix flakes against Nix implementations and lock resolvers, and tell exactly what
/// broke and why.
#[derive(Debug, Parser)]
#[command(name = "gnfc", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Configuration file [default: ./gnfc.toml if present, else built-in defaults]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Results database: a SQLite file path, or a sqlite:// or postgres:// URL
    /// [default: database.url from the config]
    #[arg(long, global = true, value_name = "URL|PATH", env = "GNFC_DB")]
    pub db: Option<String>,
    /// Print only errors and the final report (no progress bars)
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented default gnfc.toml
    Init {
        /// Where to write it
        #[arg(default_value = "gnfc.toml")]
        path: PathBuf,
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
    },
    /// Manage the set of flakes under test
    #[command(subcommand)]
    Corpus(CorpusCommand),
    /// Run every flake with every implementation and resolver
    Run(RunArgs),
    /// Show runs, or one run's progress and summary
    Status {
        /// Run name or id
        run: Option<String>,
    },
    /// Re-classify a run's stored stderr with the current rules (no re-run)
    Classify {
        /// Run name or id [default: the latest run]
        #[arg(long)]
        run: Option<String>,
    },
    /// Print a run's report
    Report {
        /// Run name or id [default: the latest run]
        #[arg(long)]
        run: Option<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
    /// Find repos with flakes (Sourcegraph, grep.app, GitHub, a list) and record them
    #[command(subcommand)]
    Scrape(ScrapeCommand),
    /// Fetch the found repos into the source store and add their flakes to the corpus
    Fetch(FetchArgs),
}

#[derive(Debug, Subcommand)]
pub enum ScrapeCommand {
    /// Sourcegraph's streaming search (token: SRC_ACCESS_TOKEN or scrape.sourcegraph.token)
    Sourcegraph {
        /// Sourcegraph URL [default: scrape.sourcegraph.endpoint]
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        #[command(flatten)]
        common: ScrapeArgs,
    },
    /// grep.app's search
    #[command(name = "grep-app")]
    GrepApp {
        /// grep.app URL [default: scrape.grep_app.endpoint]
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Last page to ask for [default: scrape.grep_app.page_cap]
        #[arg(long, value_name = "N")]
        page_cap: Option<u32>,
        #[command(flatten)]
        common: ScrapeArgs,
    },
    /// GitHub code search (token: GITHUB_TOKEN or scrape.github.token)
    Github {
        /// GitHub API URL [default: scrape.github.api]
        #[arg(long, value_name = "URL")]
        api: Option<String>,
        #[command(flatten)]
        common: ScrapeArgs,
    },
    /// A file of repos, one a line: URLs, OWNER/REPO, or flakerefs (github:o/r, git+https:…)
    List {
        file: PathBuf,
        /// Start over instead of resuming an interrupted scrape of the same file
        #[arg(long)]
        restart: bool,
    },
}

#[derive(Debug, Args)]
pub struct ScrapeArgs {
    /// Extra search terms added to the query [default: the source's `terms` setting]
    pub terms: Vec<String>,
    /// Start over instead of resuming an interrupted scrape of the same query
    #[arg(long)]
    pub restart: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Repos fetched at once [default: fetch.jobs]
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Requests at once to one host [default: fetch.per_host]
    #[arg(long, value_name = "N")]
    pub per_host: Option<usize>,
    /// Tarballs or shallow git clones [default: fetch.method]
    #[arg(long, value_enum)]
    pub method: Option<FetchMethodSetting>,
    /// Fetch the commit a source reported (when one did) instead of the default branch head
    #[arg(long)]
    pub pinned: bool,
    /// Fetch repos fetched before too (a new head becomes a new revision)
    #[arg(long)]
    pub refetch: bool,
    /// HTTP(S) proxy for every fetch, e.g. gnfc's own [default: fetch.proxy]
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Extra CA certificate (PEM) to trust, e.g. the proxy's [default: fetch.ca_file]
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CorpusCommand {
    /// Add repos: a directory with a flake, a git checkout, or a directory of such repos
    Add {
        /// Directories to add
        #[arg(required_unless_present = "list")]
        paths: Vec<PathBuf>,
        /// A file listing directories, one per line (# starts a comment)
        #[arg(long, value_name = "FILE")]
        list: Option<PathBuf>,
        /// Treat each PATH as one repo even without a root flake or .git
        #[arg(long)]
        repo: bool,
    },
    /// List the flakes of the corpus
    List,
    /// Compare a run with the expect.toml files shipped beside conformance flakes
    Check {
        /// Run name or id [default: the latest run]
        #[arg(long)]
        run: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Name of the new run [default: run-<timestamp>]
    #[arg(long, conflicts_with = "resume")]
    pub name: Option<String>,
    /// Finish an interrupted run: only tests not yet recorded are run
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
    /// Tests at once [default: run.jobs, 0 = one per core]
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Implementations to test, comma-separated [default: run.implementations]
    #[arg(long = "impl", value_delimiter = ',', value_name = "NAMES")]
    pub implementations: Vec<String>,
    /// Resolvers to test, comma-separated [default: run.resolvers]
    #[arg(long = "resolver", value_delimiter = ',', value_name = "NAMES")]
    pub resolvers: Vec<String>,
    /// Where tests run [default: run.executor]
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorKind>,
    /// Only flakes whose name (owner/repo[/subdir]) matches this glob
    #[arg(long, value_name = "GLOB")]
    pub filter: Option<String>,
    /// Per-test wall-clock limit in seconds [default: limits.timeout_secs]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
}

/// Logs go to stderr; `GNFC_LOG` (e.g. `debug`) overrides the level.
pub fn init_logging(cli: &Cli) {
    let default = if cli.quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GNFC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .with_target(false)
        .try_init();
}
