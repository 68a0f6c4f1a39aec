//! The harness's integration tests, in one test binary: each module was once a binary of its
//! own; `common` is what they share. Run one with a name filter:
//! `cargo test -p gnfc --test integration hostile` (a module) or `… --test integration
//! corpus_meets_expectations` (a test).

// Test helpers panic on anything unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

mod common;

mod bad_input;
mod classify;
mod corpus;
mod forge_add;
mod fresh_upstreams;
mod hostile;
mod podman_faults;
mod proxy_commands;
mod reports;
mod scrape_fetch;
mod source_commit;
mod triage_cli;
