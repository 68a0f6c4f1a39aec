use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use crate::Captured;

/// What a test's sandbox is made from.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// The repo snapshot on the host; it is copied, never written.
    pub source: PathBuf,
    /// The implementation's container image (container executors only).
    pub image: Option<String>,
    /// Extra `nix.conf` lines (an implementation's options), after gnfc's own.
    pub nix_config: Vec<String>,
    /// Extra environment variables for every command (e.g. the proxy's).
    pub env: Vec<(String, String)>,
    /// gnfc's proxy: the sandbox's only way out. `None` means no network at all.
    pub proxy: Option<ProxyAccess>,
    /// The flake registry Nix resolves indirect references (`nixpkgs`, `flake:x`) with.
    pub registry: FlakeRegistry,
    pub limits: Limits,
}

/// Where a sandbox's Nix looks up indirect flake references. Only the sandbox's own `nix.conf`
/// decides it (no user or system registry is ever visible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlakeRegistry {
    /// No entries: every indirect reference fails to resolve.
    Empty,
    /// Fetched by Nix from this URL, through the proxy like any download (Nix's default is
    /// `https://channels.nixos.org/flake-registry.json`).
    Url(String),
    /// This file on the host, copied into the sandbox (which sees no host paths).
    File(PathBuf),
}

/// Where a sandbox finds gnfc's proxy. Each executor exposes it its own way: the host
/// executor points commands at the TCP address; a container, which has no network, reaches
/// the unix socket through a relay on its own loopback.
#[derive(Debug, Clone)]
pub struct ProxyAccess {
    /// The proxy's loopback TCP listener.
    pub addr: SocketAddr,
    /// The proxy's unix socket listener.
    pub unix_socket: PathBuf,
    /// The CA certificate (PEM) the proxy signs its leaf certificates with.
    pub ca_cert: PathBuf,
}

impl ProxyAccess {
    /// The variables that send Nix (and git, and curl) through a proxy at `url`, trusting
    /// `ca_cert`. Lowercase names: curl ignores an uppercase `HTTP_PROXY`.
    pub fn env(url: &str, ca_cert: &str) -> Vec<(String, String)> {
        [
            ("http_proxy", url),
            ("https_proxy", url),
            ("NIX_SSL_CERT_FILE", ca_cert),
            ("SSL_CERT_FILE", ca_cert),
            ("GIT_SSL_CAINFO", ca_cert),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

/// Bounds on what one command may produce.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of stderr kept per command; the rest is counted, not kept.
    pub stderr_bytes: usize,
    /// Bytes of stdout kept per command (stdout carries JSON and drvPaths, so it is larger).
    pub stdout_bytes: usize,
}

/// One command to run in a sandbox.
#[derive(Debug, Clone)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
}

impl Command {
    pub fn new(program: impl Into<String>) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Command {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Command {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Killed by a signal it did not arrange (e.g. SIGABRT from an assertion in Nix).
    Signal(i32),
    /// The time limit ran out and gnfc killed the whole process group.
    TimedOut,
    /// The kernel's OOM killer ended it at the sandbox's memory limit.
    OutOfMemory,
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The shell convention: the code, 128 + signal, and 124 for a timeout (as `timeout(1)`);
    /// an OOM kill is the SIGKILL it was.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
            Exit::TimedOut => 124,
            Exit::OutOfMemory => 128 + 9,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit: Exit,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
}

/// A failure of the executor itself, never of the flake under test.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot set up the sandbox: {0}")]
    Setup(String),
    #[error("cannot start '{program}': {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// The container engine failed or went away (e.g. podman's socket closed).
    #[error("{0}")]
    Runtime(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// Makes sandboxes.
#[async_trait]
pub trait Executor: Send + Sync + std::fmt::Debug {
    /// `host`, `podman`, …: recorded with each run.
    fn name(&self) -> &'static str;

    /// Makes a fresh sandbox holding a writable copy of `spec.source`.
    async fn sandbox(&self, spec: &SandboxSpec) -> Result<Box<dyn Sandbox>, ExecError>;

    /// Whether the executor can make sandboxes now. A test that failed for the executor's
    /// sake is retried once this says yes again.
    async fn healthy(&self) -> Result<(), ExecError> {
        Ok(())
    }
}

/// One test's private world. Paths given to its methods are relative to the source copy.
#[async_trait]
pub trait Sandbox: Send + Sync + std::fmt::Debug {
    /// Absolute path of the source copy as commands in the sandbox see it.
    fn source_dir(&self) -> &str;

    /// Runs a command in the source copy, killing it and all it started after `timeout`.
    async fn run(&self, command: &Command, timeout: Duration) -> Result<ExecOutput, ExecError>;

    /// Whether a file (or symlink, even dangling) exists.
    async fn exists(&self, path: &str) -> Result<bool, ExecError>;

    /// Reads a file, following symlinks; `None` when it does not exist.
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, ExecError>;

    /// Removes a file or symlink if present.
    async fn remove(&self, path: &str) -> Result<(), ExecError>;

    /// Releases everything the sandbox holds. Dropping without calling this leaks nothing
    /// either, but reports no errors.
    async fn destroy(self: Box<Self>) -> Result<(), ExecError>;
}
