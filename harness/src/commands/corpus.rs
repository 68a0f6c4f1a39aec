//! `gnfc corpus add | list`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_data::NewRepo;
use gnfc_scrapers::{discover_local, SourceStore};

use super::{pick_run, Context};
use crate::conformance;
use crate::corpus_intake::{record, snapshot};
use crate::exit::Status;

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
            let added = record(&db, &new_repo, &snapshot, repo.committed_at, ctx.quiet).await?;
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
        Status::Partial.into()
    } else {
        ExitCode::SUCCESS
    })
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
        Status::CheckFailed.into()
    })
}
