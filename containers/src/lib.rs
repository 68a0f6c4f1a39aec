//! Where gnfc runs untrusted flakes.
//!
//! An [`Executor`] makes a [`Sandbox`] per test: a private, writable copy of the flake's repo
//! plus an isolated home, cache and Nix configuration. The harness then runs its stages as
//! commands in that sandbox and reads back files (the lockfile). Executors know nothing of
//! the database or of what a stage means: they run commands, enforce limits and report what
//! happened.
//!
//! - [`HostExecutor`] runs the host's own `nix` in a scratch directory. It isolates Nix's
//!   configuration and state but not the machine: use it for trusted corpora and development.
//! - [`PodmanExecutor`] runs each test in its own podman container from the implementation's
//!   image, with no network but gnfc's proxy, a read-only root, and memory, pids and CPU
//!   limits: the executor for untrusted flakes and for comparing implementations.

mod capture;
mod host;
mod podman;
mod process;
mod sandbox;
mod scratch;

pub use capture::Captured;
pub use host::HostExecutor;
pub use podman::images;
pub use podman::{
    connect as connect_podman, Connection as PodmanConnection, PodmanError, PodmanExecutor,
    PodmanSettings, Ulimit, DEFAULT_SOCKET as DEFAULT_PODMAN_SOCKET,
};
pub use sandbox::{
    Command, ExecError, ExecOutput, Executor, Exit, FlakeRegistry, Limits, ProxyAccess, Sandbox,
    SandboxSpec,
};
pub use scratch::remove_stale_scratch;
