//! `gnfc.toml`: what to run and how.
//!
//! Every key has a default (the values of `default.toml`, which `gnfc init` writes with its
//! comments), so a config file only needs what it changes. Reading one is two passes: serde
//! turns the text into [`Config`] (stopping at the first unknown key or ill-typed value, which
//! the parser locates), then [`validation`] checks what types cannot say and collects every
//! problem, each placed by the parser's spans ([`locate`]). A config changed in code (the
//! command line's overrides) is checked on the value, by the same checks.

mod errors;
mod locate;
mod settings;
mod units;
mod validation;

use std::path::{Path, PathBuf};

pub use errors::{ConfigError, Location, Problem};
pub use settings::{
    recipe_of, Classifier, Config, Database, ExecutorKind, FetchSettings, GithubSettings,
    GrepAppSettings, Images, Implementation, Limits, LockFilePolicy, Podman, ProxySettings,
    RegistrySetting, Resolver, RunDefaults, ScrapeSettings, Secret, SourcegraphSettings, Storage,
    UpstreamName,
};
pub use units::ByteSize;

/// The commented default configuration, as `gnfc init` writes it.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
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
            base: cwd,
            file: None,
        });
    };
    let name = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|e| {
        ConfigError::one(
            &name,
            None,
            format!("cannot read the config file: {e} (create one with `gnfc init`)"),
        )
    })?;
    let config = parse(&text, &name)?;
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or(cwd.clone(), |p| cwd.join(p));
    Ok(Loaded {
        config,
        base,
        file: Some(file),
    })
}

/// Parses and validates a config text; `name` is used in messages.
pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| Location::of_offset(text, s.start));
        ConfigError::one(name, at, e.message().trim().to_owned())
    })?;
    let invalid = validation::check(&config);
    // Only a config with problems needs its spans: parse the text again, keeping them.
    let spans = if invalid.is_empty() {
        None
    } else {
        locate::Spans::parse(text)
    };
    reject(name, invalid, |key| {
        spans.as_ref().and_then(|s| s.locate(key))
    })?;
    Ok(config)
}

/// Validates a config that was changed in code (the file's, with command-line overrides),
/// without turning it back into text: the problems name their keys, and `origin` says where
/// the values came from.
pub fn check(config: &Config, origin: &str) -> Result<(), ConfigError> {
    reject(origin, validation::check(config), |_| None)
}

/// Every problem found, each placed by `at`; `Ok` when there is none.
fn reject(
    origin: &str,
    invalid: Vec<validation::Invalid>,
    at: impl Fn(&locate::KeyPath) -> Option<Location>,
) -> Result<(), ConfigError> {
    if invalid.is_empty() {
        return Ok(());
    }
    Err(ConfigError {
        file: origin.to_owned(),
        problems: invalid
            .into_iter()
            .map(|i| Problem {
                at: at(&i.key),
                message: i.message,
            })
            .collect(),
    })
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

    /// The one problem of `e`.
    fn only(e: &ConfigError) -> &Problem {
        assert_eq!(e.problems.len(), 1, "{e}");
        &e.problems[0]
    }

    fn line(e: &ConfigError) -> Option<usize> {
        only(e).at.map(|at| at.line)
    }

    #[test]
    fn typo_names_key_and_line() {
        let e = parse("[limits]\ntimeout_secs = 5\ntimout = 3\n", "gnfc.toml").unwrap_err();
        assert_eq!(line(&e), Some(3));
        assert!(
            e.to_string()
                .starts_with("gnfc.toml:3:1: unknown field `timout`"),
            "{e}"
        );
    }

    #[test]
    fn bad_value_names_line() {
        let e = parse("[run]\njobs = -1\n", "gnfc.toml").unwrap_err();
        assert_eq!(line(&e), Some(2), "{e}");
        let e = parse(
            "[resolvers.x]\nlock_file = \"remove\"\nlock = [\"{flake}\"]\n",
            "g",
        )
        .unwrap_err();
        assert_eq!(line(&e), Some(2), "{e}");
        assert!(only(&e).message.contains("unknown variant `remove`"), "{e}");
    }

    #[test]
    fn undefined_implementation_is_located() {
        let e = parse("[run]\nimplementations = [\"nix-9\"]\n", "gnfc.toml").unwrap_err();
        assert_eq!(
            only(&e).at,
            Some(Location {
                line: 2,
                column: 20
            })
        );
        assert!(
            only(&e).message.contains("no [implementations.nix-9]"),
            "{e}"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = "[run]\n\
                    implementations = [\"nix-2.8\", \"nix-9\"]\n\
                    systems = []\n\
                    [limits]\n\
                    timeout_secs = 0\n\
                    pids = 4\n\
                    [podman]\n\
                    ulimits = [\"nofile=1024:4096\", \"nofile\"]\n\
                    [implementations.\"nix-2.8\"]\n\
                    command = []\n\
                    recipe = \"debian\"\n";
        let e = parse(text, "gnfc.toml").unwrap_err();
        let found: Vec<(usize, usize, &str)> = e
            .problems
            .iter()
            .map(|p| {
                let at =
                    p.at.unwrap_or_else(|| panic!("{} is not located", p.message));
                (
                    at.line,
                    at.column,
                    p.message.split(' ').next().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (2, 31, "run.implementations"),
                (3, 11, "run.systems"),
                (5, 16, "limits.timeout_secs"),
                (6, 8, "limits.pids"),
                (10, 11, "implementations.nix-2.8.command"),
                (11, 10, "implementations.nix-2.8.recipe:"),
                (8, 32, "podman.ulimits:"),
            ],
            "{e}"
        );
        let shown = e.to_string();
        assert!(shown.starts_with("7 problems in gnfc.toml:\n"), "{shown}");
        assert!(shown.contains("\n  gnfc.toml:5:16: limits.timeout_secs must be at least 1"));
    }

    #[test]
    fn overrides_are_checked_on_the_value() {
        let mut config = Config::default();
        config.run.implementations = vec!["nix-9".to_owned()];
        config.limits.timeout_secs = 0;
        let e = check(&config, "the command line").unwrap_err();
        let messages: Vec<&str> = e.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{e}");
        assert!(
            messages[0].starts_with("run.implementations names 'nix-9'"),
            "{e}"
        );
        assert_eq!(messages[1], "limits.timeout_secs must be at least 1");
        assert!(e.problems.iter().all(|p| p.at.is_none()));
        assert!(
            e.to_string()
                .contains("the command line: run.implementations"),
            "{e}"
        );
        assert_eq!(check(&Config::default(), "the command line"), Ok(()));
    }

    #[test]
    fn library_enums_read_and_store_as_the_config_spells_them() {
        let text = "[proxy]\nmode = \"replay\"\n[fetch]\nmethod = \"git\"\n";
        let config = parse(text, "gnfc.toml").unwrap();
        assert_eq!(config.proxy.mode, gnfc_proxy::Mode::Replay);
        assert_eq!(config.fetch.method, gnfc_scrapers::fetch::FetchMethod::Git);
        // A run stores its config as text and a resume reads it back.
        let stored = toml::to_string(&config).unwrap();
        assert!(stored.contains("mode = \"replay\""), "{stored}");
        assert!(stored.contains("method = \"git\""), "{stored}");
        assert_eq!(parse(&stored, "stored").unwrap(), config);
        let e = parse("[proxy]\nmode = \"live\"\n", "gnfc.toml").unwrap_err();
        assert_eq!(line(&e), Some(2), "{e}");
        assert!(only(&e).message.contains("unknown variant `live`"), "{e}");
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
