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
    /// Re-classify a run's stored stderr with the current rules (no re-run)
    Classify {
        /// Run name or id [default: the latest run]
        #[arg(long)]
        run: Option<String>,
    },
    /// Print a run's report
    Report(ReportArgs),
    /// Compare two combos of one run, grouped by error class
    Compare(CompareArgs),
    /// Compare a run with an earlier one, combo by combo (for nightly CI)
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run name or id [default: the latest run]
    #[arg(long)]
    pub run: Option<String>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// Write the report to FILE instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the flakes worth re-running (regressed between combos, or failed for the
    /// network, gnfc or a limit), one per line, for `gnfc run --flakes-from FILE`
    #[arg(long, conflicts_with = "format")]
    pub retry_list: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run name or id
    pub run: String,
    /// The reference combo, `implementation/resolver`
    #[arg(long, value_name = "COMBO")]
    pub a: String,
    /// The combo compared with it
    #[arg(long, value_name = "COMBO")]
    pub b: String,
    #[arg(long, value_enum, default_value_t = DiffFormat::Md)]
    pub format: DiffFormat,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run (name or id)
    pub old: String,
    /// The later run (name or id)
    pub new: String,
    /// Exit with status 1 when a flake regressed for a reason other than the network, gnfc
    /// or a limit
    #[arg(long)]
    pub fail_on_regression: bool,
    #[arg(long, value_enum, default_value_t = DiffFormat::Md)]
    pub format: DiffFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Md,
    Json,
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
    /// Only the flakes listed in FILE, one `owner/repo[/subdir]` per line (# comments), as
    /// `gnfc report --retry-list` writes
    #[arg(long, value_name = "FILE")]
    pub flakes_from: Option<PathBuf>,
    /// When the run ends, run each test that regressed against the baseline once more and
    /// mark those whose result flips as flaky
    #[arg(long)]
    pub recheck_regressions: bool,
    /// The run regressions are judged against [default: the latest finished run before it]
    #[arg(long, value_name = "RUN", requires = "recheck_regressions")]
    pub baseline: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    /// One self-contained page with plots and filterable tables
    Html,
    /// One row per test
    Csv,
    /// One row per output
    CsvOutputs,
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
