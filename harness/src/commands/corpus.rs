//! `gnfc corpus add | list`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_data::{Db, NewRepo, NewSnapshot};
use gnfc_scrapers::{discover_local, ImportError, Snapshot, SourceStore};

use super::{pick_run, Context};
use crate::conformance;

pub async fn add(
    ctx: &Context,
    mut paths: Vec<PathBuf>,
    list: Option<PathBuf>,
    as_repo: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(list) = list {
        paths.extend(read_list(&list)?);
    }
    let db = ctx.db().await?;
    let store = SourceStore::new(ctx.storage().join("sources"));
    let mut failures = 0;
    let (mut flakes_total, mut flakes_new) = (0, 0);
    for path in &paths {
        let repos = match discover_local(path, as_repo) {
            Ok(repos) => repos,
            Err(e) => {
                eprintln!("error: {e}");
                failures += 1;
                continue;
            }
        };
        // A PATH that yields no flake at all is an error, not a warning: nothing was added.
        let (failures_before, mut flakes_found, mut skipped) = (failures, 0, Vec::new());
        for repo in repos {
            let snapshot = match snapshot(&store, &repo.path).await? {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {}: {e}", repo.path.display());
                    failures += 1;
                    continue;
                }
            };
            let new_repo = NewRepo {
                forge: "local".to_owned(),
                owner: repo.owner.clone(),
                name: repo.name.clone(),
                url: format!("file://{}", repo.path.display()),
                stars: None,
                default_branch: None,
            };
            let added = record(ctx, &db, &new_repo, &snapshot, repo.committed_at).await?;
            failures += added.problems;
            if added.flakes == 0 {
                if added.problems == 0 {
                    skipped.push(repo.path.clone());
                }
                continue;
            }
            flakes_found += added.flakes;
            flakes_total += added.flakes;
            flakes_new += added.new;
        }
        if flakes_found == 0 && failures == failures_before {
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            eprintln!(
                "error: {} holds no flake.nix, nor does any directory below it: give a \
                 directory with a flake.nix (at its root or in subdirectories), or a directory \
                 of such repos",
                path.display()
            );
            failures += 1;
        } else {
            for dir in skipped {
                eprintln!("warning: {} holds no flake.nix; skipped", dir.display());
            }
        }
    }
    if !ctx.quiet {
        println!("{flakes_total} flakes added ({flakes_new} new); `gnfc corpus list` shows them");
    }
    Ok(if failures > 0 {
        eprintln!("{failures} problem(s) above; everything else was added");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What recording one repo tree in the corpus did.
#[derive(Debug, Clone, Copy)]
pub(super) struct Recorded {
    pub flakes: usize,
    /// Flakes not known before.
    pub new: usize,
    /// Flake files refused (each printed).
    pub problems: usize,
}

/// Copies `tree` into the source store; the outer error is gnfc's, the inner the tree's.
pub(super) async fn snapshot(
    store: &SourceStore,
    tree: &Path,
) -> anyhow::Result<Result<Snapshot, ImportError>> {
    // Snapshotting reads the whole tree: keep it off the async workers.
    let (store, tree) = (store.clone(), tree.to_owned());
    Ok(tokio::task::spawn_blocking(move || store.import(&tree)).await?)
}

/// Records the flakes of `snapshot` (none: nothing is recorded) as `repo`'s current
/// snapshot, committed at `committed_at` (ms) when the repo says; prints each refused flake
/// file, and unless quiet a line for the repo.
pub(super) async fn record(
    ctx: &Context,
    db: &Db,
    repo: &NewRepo,
    snapshot: &Snapshot,
    committed_at: Option<i64>,
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
    if !ctx.quiet {
        println!(
            "{}/{}: {} flake{} ({} new)",
            repo.owner,
            repo.name,
            flakes.len(),
            if flakes.len() == 1 { "" } else { "s" },
            recorded.new
        );
    }
    Ok(recorded)
}

/// Reads a list file: one directory per line, relative to the list's own directory.
fn read_list(list: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(list)
        .with_context(|| format!("cannot read the list {}", list.display()))?;
    let base = list.parent().unwrap_or(Path::new("."));
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| base.join(l))
        .collect())
}

pub async fn list(ctx: &Context) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let corpus = db.corpus().await?;
    if corpus.is_empty() {
        println!("the corpus is empty: add flakes with `gnfc corpus add PATH`");
        return Ok(ExitCode::SUCCESS);
    }
    for flake in &corpus {
        let short = flake.revision.get(..19).unwrap_or(&flake.revision);
        let odd_file = if flake.flake_file == "flake.nix" {
            String::new()
        } else {
            format!("  ({})", flake.flake_file)
        };
        println!("{:<50} {short}{odd_file}", flake.label());
    }
    println!("{} flakes", corpus.len());
    Ok(ExitCode::SUCCESS)
}

pub async fn check(ctx: &Context, run: Option<&str>, strict: bool) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let check = conformance::check_run(&db, run.id).await?;
    for m in &check.mismatches {
        println!(
            "MISMATCH {} {}: expected {}, got {}",
            m.flake, m.combo, m.expected, m.got
        );
    }
    if strict {
        for flake in &check.flakes_without_expectation {
            println!(
                "NO EXPECTATION {flake}: add an {}",
                conformance::EXPECT_FILE
            );
        }
    }
    println!(
        "run '{}': {} tests checked against expectations, {} mismatches{}",
        run.name,
        check.checked,
        check.mismatches.len(),
        if check.without_expectation > 0 {
            format!(" ({} tests have no expect.toml)", check.without_expectation)
        } else {
            String::new()
        }
    );
    let uncovered = strict && !check.flakes_without_expectation.is_empty();
    Ok(if check.mismatches.is_empty() && !uncovered {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
