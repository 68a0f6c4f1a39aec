//! Finding flakes and keeping their sources.
//!
//! A repo is found (today: a local directory; later: Sourcegraph, grep.app, GitHub, lists),
//! snapshotted into the content-addressed [`SourceStore`] (so a run always tests exactly the
//! bytes that were added, however the original changes), and every flake file inside it
//! becomes a flake of the corpus.

mod local;
mod source_store;

pub use local::{discover_local, LocalRepo};
pub use source_store::{FlakeProblem, ImportError, Snapshot, SourceStore};
