//! `gnfc run --recheck-regressions`: each test that regressed against the baseline run is run
//! once more in a fresh sandbox; a test whose result flips is marked flaky, so a regression a
//! report shows is one that happened twice.

use std::collections::{HashMap, HashSet};

use gnfc_data::{Db, Outcome, RunRow};
use gnfc_reports::RunData;

use crate::scheduler::{self, Ending, Job};

/// The run regressions are judged against: the one named, else the latest finished run that
/// started before `run`.
async fn baseline(db: &Db, run: &RunRow, named: Option<&str>) -> anyhow::Result<Option<RunRow>> {
    if let Some(name) = named {
        return Ok(Some(db.run(name).await?));
    }
    Ok(db
        .runs()
        .await?
        .into_iter()
        .rfind(|r| r.id < run.id && r.finished_at.is_some()))
}

/// What a test's first attempt ended with: its outcome and error class.
type FirstAttempt = (Outcome, Option<String>);

/// Test id → how it ended, for every test of `new` that regressed against `old`.
async fn regressions(
    db: &Db,
    old: &RunData,
    new: &RunData,
) -> anyhow::Result<HashMap<i64, FirstAttempt>> {
    let diff = gnfc_reports::diff_runs(db, old, new).await?;
    let regressed: HashSet<i64> = diff.regressions.iter().filter_map(|r| r.test_id).collect();
    Ok(new
        .tests
        .iter()
        .filter(|t| regressed.contains(&t.id))
        .filter_map(|t| Some((t.id, (t.outcome?, new.str(t.class).map(str::to_owned)))))
        .collect())
}

/// Re-runs the regressions of `run` and marks the flips. Returns how the re-runs ended.
pub async fn recheck(
    job: Job,
    run: &RunRow,
    named_baseline: Option<&str>,
    jobs: usize,
    quiet: bool,
) -> anyhow::Result<Ending> {
    let db = job.db.clone();
    let Some(base) = baseline(&db, run, named_baseline).await? else {
        if !quiet {
            eprintln!("recheck: no earlier finished run to judge regressions against; skipped");
        }
        return Ok(Ending::Complete);
    };
    let old = RunData::load(&db, base).await?;
    let new = RunData::load(&db, db.run(&run.id.to_string()).await?).await?;
    let first = regressions(&db, &old, &new).await?;
    drop(new);
    if first.is_empty() {
        return Ok(Ending::Complete);
    }
    let mut ids: Vec<i64> = first.keys().copied().collect();
    ids.sort_unstable();
    let pending = db.tests_to_rerun(run.id, &ids).await?;
    if !quiet {
        eprintln!(
            "recheck: {} tests regressed against run '{}'; running each once more",
            pending.len(),
            old.run.name
        );
    }
    let bar = scheduler::progress_bar(pending.len() as u64, 0, quiet);
    let ending = scheduler::execute(job, pending, jobs, bar).await?;
    let rerun = RunData::load(&db, db.run(&run.id.to_string()).await?).await?;
    let mut flaky = 0;
    for t in rerun.tests.iter().filter(|t| first.contains_key(&t.id)) {
        let (outcome, class) = &first[&t.id];
        // Not re-run (interrupted) keeps its attempt count and is left alone.
        let Some(now) = t.outcome else { continue };
        if (now, rerun.str(t.class)) != (*outcome, class.as_deref()) {
            db.mark_flaky(t.id, *outcome, class.as_deref()).await?;
            flaky += 1;
        }
    }
    if !quiet {
        eprintln!(
            "recheck: {flaky} of {} regressions flipped and are marked flaky",
            first.len()
        );
    }
    Ok(ending)
}
