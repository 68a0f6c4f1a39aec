//! `gnfc.toml`: what to run and how.
//!
//! Every key has a default (the values of `default.toml`, which `gnfc init` writes with its
//! comments), so a config file only needs what it changes. Unknown keys and bad values are
//! errors naming the key, the file and the line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The commented default configuration, as `gnfc init` writes it.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: Database,
    pub storage: Storage,
    pub run: RunDefaults,
    pub limits: Limits,
    pub implementations: BTreeMap<String, Implementation>,
    pub resolvers: BTreeMap<String, Resolver>,
    pub outputs: Vec<OutputSpec>,
    pub podman: Podman,
    pub images: Images,
    pub proxy: ProxySettings,
    pub scrape: ScrapeSettings,
    pub fetch: FetchSettings,
    pub classifier: Classifier,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunDefaults {
    pub implementations: Vec<String>,
    pub resolvers: Vec<String>,
    pub systems: Vec<String>,
    pub jobs: usize,
    pub executor: ExecutorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// Podman when it can run here and has the images, else the host (with a notice).
    Auto,
    /// The host's own nix, in scratch directories.
    Host,
    /// One podman container per test, from each implementation's image.
    Podman,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub timeout_secs: u64,
    pub stderr_bytes: usize,
    pub stdout_bytes: usize,
    pub memory: ByteSize,
    pub pids: u64,
    pub cpus: f64,
}

/// A size written as `4GiB`, `512MiB`, `64KiB` or plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ByteSize(pub u64);

impl TryFrom<String> for ByteSize {
    type Error = String;

    fn try_from(s: String) -> Result<ByteSize, String> {
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let multiplier: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => {
                return Err(format!(
                    "'{s}' is not a size such as \"4GiB\" or \"512MiB\""
                ))
            }
        };
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(multiplier))
            .map(ByteSize)
            .ok_or_else(|| format!("'{s}' is not a size such as \"4GiB\" or \"512MiB\""))
    }
}

impl From<ByteSize> for String {
    fn from(size: ByteSize) -> String {
        let n = size.0;
        match n {
            0 => "0".to_owned(),
            n if n % (1 << 30) == 0 => format!("{}GiB", n >> 30),
            n if n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
            n if n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
            n => n.to_string(),
        }
    }
}

/// How gnfc talks to podman (the `podman` executor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Podman {
    /// The API socket; empty means `$CONTAINER_HOST`, then /run/podman/podman.sock, then a
    /// `podman system service` gnfc starts itself.
    pub socket: String,
    /// OCI runtime: "auto" picks the first of crun and runc that starts a container.
    pub runtime: String,
    /// `name=soft:hard`; hard limits above the host's are lowered to the host's.
    pub ulimits: Vec<String>,
}

impl Default for Podman {
    fn default() -> Podman {
        Podman {
            socket: String::new(),
            runtime: "auto".to_owned(),
            ulimits: vec!["nofile=1024:4096".to_owned(), "nproc=1024:4096".to_owned()],
        }
    }
}

/// How `gnfc images build` makes implementation images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Images {
    /// The Debian mirror `debian:SUITE` recipes bootstrap from.
    pub debian_mirror: String,
}

impl Default for Images {
    fn default() -> Images {
        Images {
            debian_mirror: "http://deb.debian.org/debian".to_owned(),
        }
    }
}

/// Where the user's classifier rules and reviewed overrides live.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Classifier {
    /// Rule files read after the built-in rules, in order.
    pub rules: Vec<PathBuf>,
    /// Reviewed overrides (a test pinned to a class); a missing file is no overrides.
    pub overrides: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Implementation {
    pub command: Vec<String>,
    /// What `nix --version` must report, e.g. "2.26" (a prefix of the version number).
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    /// How `gnfc images build` makes `image`: "debian:SUITE" or "pull".
    #[serde(default)]
    pub recipe: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockFilePolicy {
    /// Delete the repo's flake.lock: the resolver starts fresh (seed 001's method).
    Delete,
    /// Keep it when present.
    Keep,
    /// Keep it, and fail the lock stage when there is none.
    Require,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolver {
    pub lock_file: LockFilePolicy,
    pub lock: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvalMode {
    /// Evaluate the output's `drvPath`: comparable across implementations.
    #[default]
    DrvPath,
    /// List the attribute names only (for `legacyPackages`, which is all of nixpkgs).
    AttrNames,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub path: String,
    #[serde(default)]
    pub eval: EvalMode,
}

/// `[proxy]`: the caching proxy `gnfc run` sends every test's Nix through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    pub enabled: bool,
    pub mode: ProxyMode,
    /// Tried in order for what the cache cannot answer.
    pub upstreams: Vec<UpstreamName>,
    /// Bare git repositories (`owner/repo.git`) the mirror serves.
    pub mirror: PathBuf,
    /// Host → name of the environment variable holding its token (sent as
    /// `Authorization: Bearer …`). Names only: the config is stored with every run.
    pub tokens: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    /// Serve hits, fetch and store misses.
    Record,
    /// Serve hits only; a miss is an error naming the URL.
    Replay,
    /// No cache.
    Passthrough,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamName {
    /// The mirror forge over `proxy.mirror`.
    Mirror,
    /// The real origins.
    Internet,
}

impl Default for ProxySettings {
    fn default() -> ProxySettings {
        ProxySettings {
            enabled: true,
            mode: ProxyMode::Record,
            upstreams: vec![UpstreamName::Mirror, UpstreamName::Internet],
            mirror: PathBuf::from(".gnfc/mirror"),
            tokens: BTreeMap::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let lock = strings(&["{nix}", "flake", "lock", "{flake}"]);
        Config {
            database: Database::default(),
            storage: Storage::default(),
            run: RunDefaults::default(),
            limits: Limits::default(),
            implementations: [("2.8", "bookworm"), ("2.26", "trixie"), ("2.34", "sid")]
                .into_iter()
                .map(|(version, suite)| {
                    (
                        format!("nix-{version}"),
                        Implementation {
                            command: strings(&["nix"]),
                            version: Some(version.to_owned()),
                            image: Some(format!("gnfc/nix-{version}")),
                            recipe: Some(format!("debian:{suite}")),
                            options: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
            resolvers: BTreeMap::from([
                (
                    "native".to_owned(),
                    Resolver {
                        lock_file: LockFilePolicy::Delete,
                        lock: lock.clone(),
                    },
                ),
                (
                    "committed".to_owned(),
                    Resolver {
                        lock_file: LockFilePolicy::Require,
                        lock,
                    },
                ),
            ]),
            outputs: [
                ("devShells.<system>.<name>", EvalMode::DrvPath),
                ("devShell.<system>", EvalMode::DrvPath),
                ("packages.<system>.<name>", EvalMode::DrvPath),
                ("legacyPackages.<system>", EvalMode::AttrNames),
                ("defaultPackage.<system>", EvalMode::DrvPath),
                ("checks.<system>.<name>", EvalMode::DrvPath),
                (
                    "nixosConfigurations.<name>.config.system.build.toplevel",
                    EvalMode::DrvPath,
                ),
                (
                    "homeConfigurations.<name>.activationPackage",
                    EvalMode::DrvPath,
                ),
                ("darwinConfigurations.<name>.system", EvalMode::DrvPath),
            ]
            .into_iter()
            .map(|(path, eval)| OutputSpec {
                path: path.to_owned(),
                eval,
            })
            .collect(),
            podman: Podman::default(),
            images: Images::default(),
            proxy: ProxySettings::default(),
            scrape: ScrapeSettings::default(),
            fetch: FetchSettings::default(),
            classifier: Classifier::default(),
        }
    }
}

impl Default for Database {
    fn default() -> Database {
        Database {
            url: "sqlite://.gnfc/gnfc.db".to_owned(),
        }
    }
}

impl Default for Storage {
    fn default() -> Storage {
        Storage {
            dir: PathBuf::from(".gnfc"),
        }
    }
}

impl Default for RunDefaults {
    fn default() -> RunDefaults {
        RunDefaults {
            implementations: ["nix-2.8", "nix-2.26", "nix-2.34"]
                .map(str::to_owned)
                .to_vec(),
            resolvers: vec!["native".to_owned(), "committed".to_owned()],
            systems: vec!["x86_64-linux".to_owned()],
            jobs: 0,
            executor: ExecutorKind::Auto,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout_secs: 180,
            stderr_bytes: 256 * 1024,
            stdout_bytes: 4 * 1024 * 1024,
            memory: ByteSize(4 << 30),
            pids: 2048,
            cpus: 0.0,
        }
    }
}

/// A token from the config file: read, used, never shown (`Debug` and serialisation hide it).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// `[scrape.*]`: where the search APIs are and what to add to their queries.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScrapeSettings {
    pub sourcegraph: SourcegraphSettings,
    pub grep_app: GrepAppSettings,
    pub github: GithubSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourcegraphSettings {
    pub endpoint: String,
    /// Overridden by `SRC_ACCESS_TOKEN`.
    pub token: Option<Secret>,
    pub terms: String,
}

impl Default for SourcegraphSettings {
    fn default() -> SourcegraphSettings {
        SourcegraphSettings {
            endpoint: "https://sourcegraph.com".to_owned(),
            token: None,
            terms: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrepAppSettings {
    pub endpoint: String,
    pub terms: String,
    pub page_cap: u32,
}

impl Default for GrepAppSettings {
    fn default() -> GrepAppSettings {
        GrepAppSettings {
            endpoint: "https://grep.app".to_owned(),
            terms: "outputs".to_owned(),
            page_cap: 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubSettings {
    pub api: String,
    /// Overridden by `GITHUB_TOKEN`.
    pub token: Option<Secret>,
    pub terms: String,
    pub min_wait_secs: u64,
}

impl Default for GithubSettings {
    fn default() -> GithubSettings {
        GithubSettings {
            api: "https://api.github.com".to_owned(),
            token: None,
            terms: String::new(),
            min_wait_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FetchMethodSetting {
    /// Forge tarballs (GitHub, GitLab, sourcehut); other hosts are cloned.
    Tarball,
    /// Shallow git clones.
    Git,
}

/// `[fetch]`: how `gnfc fetch` reaches the forges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchSettings {
    pub jobs: usize,
    pub per_host: usize,
    pub method: FetchMethodSetting,
    pub proxy: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub github: String,
    pub github_api: String,
    pub gitlab: String,
    pub sourcehut: String,
}

impl Default for FetchSettings {
    fn default() -> FetchSettings {
        FetchSettings {
            jobs: 8,
            per_host: 4,
            method: FetchMethodSetting::Tarball,
            proxy: None,
            ca_file: None,
            github: "https://github.com".to_owned(),
            github_api: "https://api.github.com".to_owned(),
            gitlab: "https://gitlab.com".to_owned(),
            sourcehut: "https://git.sr.ht".to_owned(),
        }
    }
}

/// A configuration problem, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The text the config was read from (stored with each run).
    pub text: String,
    /// Directory relative paths are resolved against.
    pub base: PathBuf,
    pub file: Option<PathBuf>,
}

impl Loaded {
    /// Resolves a path from the config against the config file's directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    /// The database URL with a relative SQLite path resolved against the config's directory.
    pub fn database_url(&self) -> String {
        resolve_sqlite_url(&self.config.database.url, &self.base)
    }
}

/// `sqlite://rel/path` is relative to `base`; other URLs pass through.
pub fn resolve_sqlite_url(url: &str, base: &Path) -> String {
    match url.strip_prefix("sqlite://") {
        Some(rest) if !rest.starts_with('/') && !rest.starts_with(":memory:") => {
            format!("sqlite://{}", base.join(rest).display())
        }
        _ => url.to_owned(),
    }
}

/// Reads `file` if given, else `./gnfc.toml` if present, else the defaults.
pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let file = match file {
        Some(f) => Some(f.to_owned()),
        None => Some(cwd.join("gnfc.toml")).filter(|f| f.exists()),
    };
    let Some(file) = file else {
        return Ok(Loaded {
            config: Config::default(),
            text: DEFAULT_TOML.to_owned(),
            base: cwd,
            file: None,
        });
    };
    let name = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|e| ConfigError {
        file: name.clone(),
        line: None,
        message: format!("cannot read the config file: {e} (create one with `gnfc init`)"),
    })?;
    let config = parse(&text, &name)?;
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or(cwd.clone(), |p| cwd.join(p));
    Ok(Loaded {
        config,
        text,
        base,
        file: Some(file),
    })
}

/// Parses and validates a config text; `name` is used in messages.
pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
    let err = |line: Option<usize>, message: String| ConfigError {
        file: name.to_owned(),
        line,
        message,
    };
    let config: Config = toml::from_str(text).map_err(|e| {
        err(
            e.span().map(|s| line_of(text, s.start)),
            e.message().trim().to_owned(),
        )
    })?;
    // Semantic checks: name the key, and find its line by looking for it in the text.
    let at = |needle: &str| find_line(text, needle);
    for name in &config.run.implementations {
        if !config.implementations.contains_key(name) {
            return Err(err(
                at(&format!("\"{name}\"")),
                format!(
                    "run.implementations names '{name}', which no [implementations.{name}] \
                     section defines (defined: {})",
                    keys(&config.implementations)
                ),
            ));
        }
    }
    for name in &config.run.resolvers {
        if !config.resolvers.contains_key(name) {
            return Err(err(
                at(&format!("\"{name}\"")),
                format!(
                    "run.resolvers names '{name}', which no [resolvers.{name}] section defines \
                     (defined: {})",
                    keys(&config.resolvers)
                ),
            ));
        }
    }
    for (name, imp) in &config.implementations {
        if imp.command.is_empty() || imp.command[0].is_empty() {
            return Err(err(
                at(&format!("[implementations.{name}]")),
                format!(
                    "implementations.{name}.command is empty: give the nix binary, e.g. [\"nix\"]"
                ),
            ));
        }
    }
    for (name, res) in &config.resolvers {
        if !res.lock.iter().any(|a| a.contains("{flake}")) {
            return Err(err(
                at(&format!("[resolvers.{name}]")),
                format!("resolvers.{name}.lock never mentions {{flake}}: the command must be told which flake to lock"),
            ));
        }
    }
    for spec in &config.outputs {
        crate::outputs::Pattern::parse(&spec.path)
            .map_err(|m| err(at(&spec.path), format!("outputs: '{}': {m}", spec.path)))?;
    }
    if config.limits.timeout_secs == 0 {
        return Err(err(
            at("timeout_secs"),
            "limits.timeout_secs must be at least 1".to_owned(),
        ));
    }
    validate_containers(&config).map_err(|(needle, message)| err(at(&needle), message))?;
    if config.run.systems.is_empty() {
        return Err(err(
            at("systems"),
            "run.systems is empty: name at least one system, e.g. \"x86_64-linux\"".to_owned(),
        ));
    }
    Ok(config)
}

/// The container settings: (text to locate, message) on error.
fn validate_containers(config: &Config) -> Result<(), (String, String)> {
    for ulimit in &config.podman.ulimits {
        ulimit
            .parse::<gnfc_containers::Ulimit>()
            .map_err(|m| (ulimit.clone(), format!("podman.ulimits: {m}")))?;
    }
    if !(config.limits.cpus >= 0.0 && config.limits.cpus.is_finite()) {
        return Err((
            "cpus".to_owned(),
            "limits.cpus must be 0 (no limit) or more".to_owned(),
        ));
    }
    if config.limits.memory.0 < 64 << 20 || config.limits.pids < 16 {
        return Err((
            "memory".to_owned(),
            "limits.memory must be at least 64MiB and limits.pids at least 16: Nix needs them \
             to start"
                .to_owned(),
        ));
    }
    for (name, imp) in &config.implementations {
        if let Some(recipe) = &imp.recipe {
            recipe_of(imp, &config.images).map_err(|m| {
                (
                    format!("\"{recipe}\""),
                    format!("implementations.{name}.recipe: {m}"),
                )
            })?;
        }
    }
    Ok(())
}

/// The image recipe of an implementation, if it has one.
pub fn recipe_of(
    imp: &Implementation,
    images: &Images,
) -> Result<Option<gnfc_containers::images::Recipe>, String> {
    use gnfc_containers::images::Recipe;
    match imp.recipe.as_deref() {
        None => Ok(None),
        Some("pull") => Ok(Some(Recipe::Pull)),
        Some(other) => match other.strip_prefix("debian:") {
            Some(suite) if !suite.is_empty() && suite.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                Ok(Some(Recipe::Debian {
                    suite: suite.to_owned(),
                    mirror: images.debian_mirror.clone(),
                }))
            }
            _ => Err(format!(
                "'{other}' is not a recipe: use \"debian:SUITE\" (e.g. \"debian:trixie\") or \"pull\""
            )),
        },
    }
}

fn keys<V>(map: &BTreeMap<String, V>) -> String {
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn find_line(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
        .map(|i| i + 1)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn default_toml_is_the_default_config() {
        assert_eq!(
            parse(DEFAULT_TOML, "default.toml").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn partial_config_keeps_other_defaults() {
        let c = parse("[limits]\ntimeout_secs = 5\n", "t.toml").unwrap();
        assert_eq!(c.limits.timeout_secs, 5);
        assert_eq!(c.limits.stderr_bytes, Limits::default().stderr_bytes);
        assert_eq!(c.outputs, Config::default().outputs);
    }

    #[test]
    fn typo_names_key_and_line() {
        let e = parse("[limits]\ntimeout_secs = 5\ntimout = 3\n", "gnfc.toml").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(
            e.to_string()
                .starts_with("gnfc.toml:3: unknown field `timout`"),
            "{e}"
        );
    }

    #[test]
    fn bad_value_names_line() {
        let e = parse("[run]\njobs = -1\n", "gnfc.toml").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse(
            "[resolvers.x]\nlock_file = \"remove\"\nlock = [\"{flake}\"]\n",
            "g",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("unknown variant `remove`"), "{e}");
    }

    #[test]
    fn undefined_implementation_is_located() {
        let e = parse("[run]\nimplementations = [\"nix-9\"]\n", "gnfc.toml").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("no [implementations.nix-9]"), "{e}");
    }

    #[test]
    fn relative_sqlite_urls_follow_the_config() {
        let base = Path::new("/etc/gnfc");
        assert_eq!(
            resolve_sqlite_url("sqlite://x.db", base),
            "sqlite:///etc/gnfc/x.db"
        );
        assert_eq!(
            resolve_sqlite_url("sqlite:///abs.db", base),
            "sqlite:///abs.db"
        );
        assert_eq!(
            resolve_sqlite_url("postgres://h/db", base),
            "postgres://h/db"
        );
    }
}
