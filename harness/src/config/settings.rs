//! The settings of `gnfc.toml`, section by section, with their defaults.
//!
//! The defaults are the values of `default.toml` (a unit test holds them equal). Enums of the
//! libraries (the proxy's mode, the fetcher's method) are used as they are: their serde names
//! are the words the config file uses.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use gnfc_containers::FlakeRegistry;
use gnfc_proxy::Mode;
use gnfc_scrapers::fetch::FetchMethod;
use serde::{Deserialize, Serialize};

use super::units::ByteSize;
use crate::outputs::{EvalMode, OutputSpec};

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
    pub registry: RegistrySetting,
}

/// Nix's own default `flake-registry`: what a user's Nix resolves `nixpkgs` with.
pub const GLOBAL_REGISTRY_URL: &str = "https://channels.nixos.org/flake-registry.json";

/// The flake registry every sandbox resolves indirect references (`inputs.nixpkgs = {}`,
/// `url = "nixpkgs"`, `flake:x`) with. Written as one string: `"global"`, `"empty"`, a URL,
/// or the path of a registry file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrySetting {
    /// Nix's default registry URL, fetched through the proxy like any download (cached,
    /// replayable, and answered offline by the mirror forge), as real Nix does.
    Global,
    /// No entries: every indirect reference fails, as with a pinned-down Nix.
    Empty,
    /// Another registry URL, fetched through the proxy.
    Url(String),
    /// A registry file on the host, copied into each sandbox.
    File(PathBuf),
}

impl RegistrySetting {
    /// The sandbox's registry.
    pub fn sandbox(&self) -> FlakeRegistry {
        match self {
            RegistrySetting::Global => FlakeRegistry::Url(GLOBAL_REGISTRY_URL.to_owned()),
            RegistrySetting::Empty => FlakeRegistry::Empty,
            RegistrySetting::Url(url) => FlakeRegistry::Url(url.clone()),
            RegistrySetting::File(path) => FlakeRegistry::File(path.clone()),
        }
    }
}

impl From<&str> for RegistrySetting {
    fn from(text: &str) -> RegistrySetting {
        match text {
            "global" => RegistrySetting::Global,
            "empty" => RegistrySetting::Empty,
            url if url.starts_with("https://") || url.starts_with("http://") => {
                RegistrySetting::Url(url.to_owned())
            }
            path => RegistrySetting::File(PathBuf::from(path)),
        }
    }
}

impl fmt::Display for RegistrySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrySetting::Global => f.write_str("global"),
            RegistrySetting::Empty => f.write_str("empty"),
            RegistrySetting::Url(url) => f.write_str(url),
            RegistrySetting::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl Serialize for RegistrySetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RegistrySetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(RegistrySetting::from(text.as_str()))
    }
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

/// `[proxy]`: the caching proxy `gnfc run` sends every test's Nix through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    pub enabled: bool,
    pub mode: Mode,
    /// Tried in order for what the cache cannot answer.
    pub upstreams: Vec<UpstreamName>,
    /// Bare git repositories (`owner/repo.git`) the mirror serves.
    pub mirror: PathBuf,
    /// Host → name of the environment variable holding its token (sent as
    /// `Authorization: Bearer …`). Names only: the config is stored with every run.
    pub tokens: BTreeMap<String, String>,
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
            mode: Mode::Record,
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
            registry: RegistrySetting::Global,
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

/// `[fetch]`: how `gnfc fetch` reaches the forges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchSettings {
    pub jobs: usize,
    pub per_host: usize,
    pub method: FetchMethod,
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
            method: FetchMethod::Tarball,
            proxy: None,
            ca_file: None,
            github: "https://github.com".to_owned(),
            github_api: "https://api.github.com".to_owned(),
            gitlab: "https://gitlab.com".to_owned(),
            sourcehut: "https://git.sr.ht".to_owned(),
        }
    }
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
