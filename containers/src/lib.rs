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

mod capture;
mod host;
mod sandbox;

pub use capture::Captured;
pub use host::HostExecutor;
pub use sandbox::{
    Command, ExecError, ExecOutput, Executor, Exit, Limits, ProxyAccess, Sandbox, SandboxSpec,
};
