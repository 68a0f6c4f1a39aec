//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::ExecutorKind;

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
    /// Re-classify a run's stored stderr with the current rules (no re-run), or triage it
    Classify(ClassifyArgs),
    /// Print a run's Prometheus metrics, or write them for node-exporter's textfile collector
    Metrics {
        /// Run name or id [default: the latest run]
        #[arg(long)]
        run: Option<String>,
        /// Write atomically to this *.prom file instead of stdout (for cron)
        #[arg(long, value_name = "PATH")]
        textfile: Option<PathBuf>,
    },
    /// Print a run's report
    Report {
        /// Run name or id [default: the latest run]
        #[arg(long)]
        run: Option<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
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
pub struct ClassifyArgs {
    /// Run name or id [default: the latest run]
    #[arg(long)]
    pub run: Option<String>,
    /// Show which rules match a test's stderr, which one wins, and the matching lines
    #[arg(long, value_name = "TEST_ID", conflicts_with_all = ["unknown", "interactive"])]
    pub explain: Option<i64>,
    /// List the failures no rule names, grouped by their first error line (paths, hashes,
    /// numbers masked), biggest group first
    #[arg(long, conflicts_with = "interactive")]
    pub unknown: bool,
    /// Walk the biggest unknown groups: try a regex, see what it would catch, append it as a
    /// rule, then re-classify
    #[arg(long)]
    pub interactive: bool,
    /// Rules file --interactive appends to [default: the first of classifier.rules]
    #[arg(long, value_name = "FILE", requires = "interactive")]
    pub rules_file: Option<PathBuf>,
    /// How many groups --unknown lists and --interactive walks
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
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
    /// Serve the run's Prometheus metrics at http://ADDR/metrics while it runs
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
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
