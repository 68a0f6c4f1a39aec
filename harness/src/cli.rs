//! The command line.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use gnfc_proxy::Mode;
use gnfc_scrapers::fetch::FetchMethod;
use serde::de::{DeserializeOwned, IntoDeserializer};

use crate::config::ExecutorKind;

/// Test Nix flakes against Nix implementations and lock resolvers, and tell exactly what
/// broke and why.
#[derive(Debug, Parser)]
#[command(
    name = "gnfc",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = crate::exit::HELP
)]
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
    /// Podman API socket, e.g. unix:///run/podman/podman.sock [default: podman.socket, then
    /// $CONTAINER_HOST, then /run/podman/podman.sock, then one gnfc starts]
    #[arg(long, global = true, value_name = "URL")]
    pub podman_socket: Option<String>,
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
    /// Build or list the implementations' container images
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Print a run's report
    Report(ReportArgs),
    /// Compare two combos of one run, grouped by error class
    Compare(CompareArgs),
    /// Compare a run with an earlier one, combo by combo (for nightly CI)
    Diff(DiffArgs),
    /// One test: flake, combo, outcome and class, timings, each stage's stderr with the line
    /// the winning rule matched marked, the lockfile, the outputs
    Show {
        /// Test id (as in `gnfc report --format json`, `gnfc history`)
        test: i64,
    },
    /// One flake's result per run and combo, runs in the order they started, and where a
    /// combo's result changed
    History {
        /// The flake: `owner/repo[/subdir]`, or the id of one of its snapshots
        flake: String,
        #[arg(long, value_enum, default_value_t = ViewFormat::Text)]
        format: ViewFormat,
    },
    /// Two tests' lockfiles compared node by node: nodes only in one, nodes locked
    /// differently, input edges (inputs, follows) that differ
    #[command(name = "lock-diff")]
    LockDiff {
        /// Test id of the first lockfile
        a: i64,
        /// Test id of the second lockfile
        b: i64,
        #[arg(long, value_enum, default_value_t = ViewFormat::Text)]
        format: ViewFormat,
    },
    /// The caching HTTPS proxy on its own, and its cache
    #[command(subcommand)]
    Proxy(ProxyCommand),
    /// The mirror forge: bare git repositories served as GitHub, GitLab and SourceHut
    #[command(subcommand)]
    Forge(ForgeCommand),
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
        /// Last page to ask for of each query (one over 1,000 hits is split) [default:
        /// scrape.grep_app.page_cap]
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
    #[arg(long, value_parser = config_words::<FetchMethod>(&[
        ("tarball", "Forge tarballs (GitHub, GitLab, sourcehut); other hosts are cloned"),
        ("git", "Shallow git clones"),
    ]))]
    pub method: Option<FetchMethod>,
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

/// The format of the triage views (`history`, `lock-diff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViewFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Run the proxy until Ctrl-C (settings from [proxy] unless overridden)
    Serve(ProxyServeArgs),
    /// Entries, bytes and hit rate per host of a proxy cache
    Stats {
        /// Cache directory [default: <storage.dir>/proxy/cache]
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Write a proxy cache to one file (zstd-compressed tar of index and bodies)
    Export {
        /// The file to write
        file: PathBuf,
        /// Cache directory [default: <storage.dir>/proxy/cache]
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
    /// Add the entries of an exported file to a proxy cache (verified first)
    Import {
        /// A file written by `gnfc proxy export`
        file: PathBuf,
        /// Cache directory [default: <storage.dir>/proxy/cache]
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ProxyServeArgs {
    /// TCP address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3128")]
    pub listen: std::net::SocketAddr,
    /// Also listen on this unix socket
    #[arg(long, value_name = "PATH")]
    pub unix: Option<PathBuf>,
    /// Cache mode [default: proxy.mode]
    #[arg(long, value_parser = config_words::<Mode>(&[
        ("record", "Serve hits, fetch and store misses; branch heads and other moving answers once per start"),
        ("replay", "Serve hits only; a miss is an error naming the URL"),
        ("passthrough", "No cache"),
    ]))]
    pub mode: Option<Mode>,
    /// Serve forges from this mirror directory first [default: proxy.mirror, if in proxy.upstreams]
    #[arg(long, value_name = "DIR")]
    pub mirror: Option<PathBuf>,
    /// Never go to the internet: the mirror and the cache only
    #[arg(long)]
    pub offline: bool,
    /// Cache directory [default: <storage.dir>/proxy/cache]
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ForgeCommand {
    /// Serve a mirror directory over HTTP (and HTTPS with the proxy's CA) until Ctrl-C
    Serve {
        /// The mirror: bare repositories as owner/repo.git or owner+repo
        #[arg(long, value_name = "DIR")]
        mirror: PathBuf,
        /// Plain HTTP address (the Host header picks the forge)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Also serve HTTPS here, with certificates from the proxy CA
        #[arg(long, value_name = "ADDR")]
        tls_listen: Option<std::net::SocketAddr>,
    },
    /// Add real repositories (git clones, bare repositories, git bundles) to the mirror with
    /// their whole history: every branch (a clone's remote-tracking ones too) and tag
    Add {
        /// Clones, bare repositories or bundles; each is named owner/name after its last two
        /// path components, or after an `owner+name[.git|.bundle]` last component
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The name of the one PATH: [github:|gitlab:|sourcehut:]owner/name
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
        /// Also add the flakes of each repository's default branch to the corpus
        #[arg(long)]
        corpus: bool,
        /// Replace a repository the mirror already holds under the name
        #[arg(long)]
        replace: bool,
        /// The mirror directory [default: proxy.mirror]
        #[arg(long, value_name = "DIR")]
        mirror: Option<PathBuf>,
    },
    /// Turn source directories FROM/owner/repo/... into bare repositories TO/owner/repo.git
    /// with one deterministic commit each (fixed author, date and message)
    Init {
        /// Sources laid out as owner/repo/files
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The mirror directory to write
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
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
        /// Fail when a flake has no expect.toml (a conformance corpus must cover every flake)
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build the images of the configured implementations (unchanged recipes are reused)
    Build {
        /// Only these implementations, comma-separated [default: run.implementations]
        #[arg(long = "impl", value_delimiter = ',', value_name = "NAMES")]
        implementations: Vec<String>,
        /// Rebuild even when the image already comes from the same recipe
        #[arg(long)]
        force: bool,
    },
    /// Show each implementation's image: Nix version inside it, size, recipe hash
    List,
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

/// The parser of an option whose values are a library enum the config also sets: the same
/// words as in gnfc.toml (the enum's serde names), each listed in `--help` with its meaning.
fn config_words<T>(
    words: &'static [(&'static str, &'static str)],
) -> impl TypedValueParser<Value = T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(
        words
            .iter()
            .map(|(word, help)| PossibleValue::new(word).help(help)),
    )
    .try_map(|word| {
        T::deserialize(
            IntoDeserializer::<serde::de::value::Error>::into_deserializer(word.as_str()),
        )
    })
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

#[cfg(test)]
mod unit {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from([&["gnfc"], args].concat()).map(|cli| cli.command)
    }

    #[test]
    fn library_enums_take_the_config_words() {
        for (word, mode) in [
            ("record", Mode::Record),
            ("replay", Mode::Replay),
            ("passthrough", Mode::Passthrough),
        ] {
            let Ok(Command::Proxy(ProxyCommand::Serve(args))) =
                parse(&["proxy", "serve", "--mode", word])
            else {
                panic!("--mode {word} is refused");
            };
            assert_eq!(args.mode, Some(mode));
        }
        for (word, method) in [("tarball", FetchMethod::Tarball), ("git", FetchMethod::Git)] {
            let Ok(Command::Fetch(args)) = parse(&["fetch", "--method", word]) else {
                panic!("--method {word} is refused");
            };
            assert_eq!(args.method, Some(method));
        }
        let e = parse(&["proxy", "serve", "--mode", "live"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(e.to_string().contains("record, replay, passthrough"), "{e}");
    }
}
