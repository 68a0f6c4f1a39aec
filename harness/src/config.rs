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
    /// The host's own nix, in scratch directories.
    Host,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub timeout_secs: u64,
    pub stderr_bytes: usize,
    pub stdout_bytes: usize,
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
    #[serde(default)]
    pub image: Option<String>,
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

impl Default for Config {
    fn default() -> Config {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let lock = strings(&["{nix}", "flake", "lock", "{flake}"]);
        Config {
            database: Database::default(),
            storage: Storage::default(),
            run: RunDefaults::default(),
            limits: Limits::default(),
            implementations: BTreeMap::from([(
                "nix-2.8".to_owned(),
                Implementation {
                    command: strings(&["nix"]),
                    image: Some("gnfc/nix-2.8".to_owned()),
                    options: BTreeMap::new(),
                },
            )]),
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
            implementations: vec!["nix-2.8".to_owned()],
            resolvers: vec!["native".to_owned(), "committed".to_owned()],
            systems: vec!["x86_64-linux".to_owned()],
            jobs: 0,
            executor: ExecutorKind::Host,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout_secs: 180,
            stderr_bytes: 256 * 1024,
            stdout_bytes: 4 * 1024 * 1024,
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
    if config.run.systems.is_empty() {
        return Err(err(
            at("systems"),
            "run.systems is empty: name at least one system, e.g. \"x86_64-linux\"".to_owned(),
        ));
    }
    Ok(config)
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
