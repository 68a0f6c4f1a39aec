//! Taking a repo tree into the corpus, for `gnfc corpus add` and `gnfc forge add --corpus`:
//! snapshot it into the source store, then record its flakes.

use std::path::Path;

use gnfc_data::{Db, NewRepo, NewSnapshot};
use gnfc_scrapers::{ImportError, Snapshot, SourceStore};

use crate::ui::plural;

/// What recording one repo tree in the corpus did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorded {
    pub flakes: usize,
    /// Flakes not known before.
    pub new: usize,
    /// Flake files refused (each printed).
    pub problems: usize,
}

/// Copies `tree` into the source store; the outer error is gnfc's, the inner the tree's.
pub(crate) async fn snapshot(
    store: &SourceStore,
    tree: &Path,
) -> anyhow::Result<Result<Snapshot, ImportError>> {
    // Snapshotting reads the whole tree: keep it off the async workers.
    let (store, tree) = (store.clone(), tree.to_owned());
    Ok(tokio::task::spawn_blocking(move || store.import(&tree)).await?)
}

/// Records the flakes of `snapshot` (none: nothing is recorded) as `repo`'s current
/// snapshot, committed at `committed_at` (ms) when the repo says; prints each refused flake
/// file, and unless `quiet` a line for the repo.
pub(crate) async fn record(
    db: &Db,
    repo: &NewRepo,
    snapshot: &Snapshot,
    committed_at: Option<i64>,
    quiet: bool,
) -> anyhow::Result<Recorded> {
    for problem in &snapshot.problems {
        eprintln!("error: {}: {}", problem.path.display(), problem.message);
    }
    let flakes = snapshot.new_flakes();
    let mut recorded = Recorded {
        flakes: flakes.len(),
        new: 0,
        problems: snapshot.problems.len(),
    };
    if flakes.is_empty() {
        return Ok(recorded);
    }
    let new_snapshot = NewSnapshot {
        revision: &snapshot.revision,
        source_dir: &snapshot.dir.to_string_lossy(),
        committed_at,
        flakes: &flakes,
    };
    recorded.new = db.add_snapshot(repo, &new_snapshot).await?;
    if !quiet {
        println!(
            "{}/{}: {} flake{} ({} new)",
            repo.owner,
            repo.name,
            flakes.len(),
            plural(flakes.len() as u64),
            recorded.new
        );
    }
    Ok(recorded)
}
