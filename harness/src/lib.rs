//! gnfc: the Great Nix Flake Check.
//!
//! The harness ties the crates together: it reads the configuration, plans runs (flakes ×
//! implementations × resolvers), schedules tests onto an executor, records results in the
//! database and prints reports. See `docs/ARCHITECTURE.md` for the whole picture.

pub mod cli;
pub mod commands;
pub mod config;
pub mod conformance;
pub mod corpus_intake;
pub mod executor;
pub mod exit;
pub mod flake_list;
pub mod metrics;
pub mod outputs;
pub mod procedure;
pub mod recheck;
pub mod reclassify;
pub mod scheduler;
pub mod ui;
pub mod wiring;
