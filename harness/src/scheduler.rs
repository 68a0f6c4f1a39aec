//! Runs a run's pending tests on an executor, `jobs` at a time, recording each as it ends.
//!
//! Each test is recorded in its own transaction the moment it finishes, so an interrupted
//! run (Ctrl-C, SIGTERM, SIGKILL, a crash) loses at most the tests in flight; they are still
//! pending in the database and `gnfc run --resume` runs exactly those.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnfc_classifier::RuleSet;
use gnfc_containers::Executor;
use gnfc_data::{Db, Outcome, PendingTest, TestRecord};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::procedure::{run_test, TestSpec};

/// How a call to [`execute`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every pending test was recorded.
    Complete,
    /// A signal stopped it; the tests in flight stay pending.
    Interrupted,
}

/// What the scheduler needs, shared by all workers.
#[derive(Debug, Clone)]
pub struct Job {
    pub db: Db,
    pub config: Arc<Config>,
    pub executor: Arc<dyn Executor>,
    pub rules: Arc<RuleSet>,
    /// How sandboxes reach the run's proxy; `None` runs without one.
    pub proxy: Option<gnfc_containers::ProxyAccess>,
}

#[derive(Debug, Default)]
struct Tally {
    pass: u64,
    partial: u64,
    failed: u64,
    harness: u64,
    skipped: u64,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Partial => self.partial += 1,
            Outcome::HarnessError => self.harness += 1,
            Outcome::LockFail | Outcome::EnumerateFail | Outcome::Timeout => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    fn message(&self) -> String {
        let mut msg = format!(
            "{} pass · {} partial · {} failed",
            self.pass, self.partial, self.failed
        );
        if self.skipped > 0 {
            msg.push_str(&format!(" · {} skipped", self.skipped));
        }
        if self.harness > 0 {
            msg.push_str(&format!(" · {} harness errors", self.harness));
        }
        msg
    }
}

/// A progress bar for `total` tests of which `done` are already recorded; hidden when quiet
/// or when stderr is not a terminal.
pub fn progress_bar(total: u64, done: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total).with_position(done);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tests · {msg} · ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Runs `pending` with `jobs` workers until all are recorded or a signal arrives.
pub async fn execute(
    job: Job,
    pending: Vec<PendingTest>,
    jobs: usize,
    bar: ProgressBar,
) -> anyhow::Result<Ending> {
    let queue = Arc::new(Mutex::new(VecDeque::from(pending)));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut workers = JoinSet::new();
    for _ in 0..jobs.max(1) {
        let (job, queue, tally, bar) = (job.clone(), queue.clone(), tally.clone(), bar.clone());
        workers.spawn(async move {
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(test) = next else { return Ok(()) };
                job.db.start_test(test.test_id).await?;
                let mut record = run_one(&job, &test).await;
                // A harness error is gnfc's or the executor's fault, never the flake's: wait
                // until the executor answers again (podman restarted, say) and try again.
                for _ in 1..ATTEMPTS {
                    if record.outcome != Outcome::HarnessError || !wait_healthy(&job, &bar).await {
                        break;
                    }
                    job.db.start_test(test.test_id).await?;
                    record = run_one(&job, &test).await;
                }
                job.db.record_test(test.test_id, &record).await?;
                if let Ok(mut tally) = tally.lock() {
                    tally.add(record.outcome);
                    bar.set_message(tally.message());
                }
                bar.inc(1);
            }
        });
    }
    let ending = tokio::select! {
        result = join_all(&mut workers) => { result?; Ending::Complete }
        () = shutdown_signal() => {
            // Dropping the workers' futures kills their commands (kill_on_drop) and removes
            // their sandboxes; their tests were never recorded, so they stay pending.
            workers.abort_all();
            while workers.join_next().await.is_some() {}
            Ending::Interrupted
        }
    };
    bar.finish_and_clear();
    Ok(ending)
}

/// How many times a test that ends in a harness error is tried in all.
const ATTEMPTS: usize = 3;
/// How long a worker waits for an unhealthy executor before recording the harness error.
const EXECUTOR_WAIT: Duration = Duration::from_secs(120);

/// Waits until the executor is healthy; false if it is still not after [`EXECUTOR_WAIT`].
async fn wait_healthy(job: &Job, bar: &ProgressBar) -> bool {
    let started = Instant::now();
    loop {
        match job.executor.healthy().await {
            Ok(()) => return true,
            Err(e) if started.elapsed() >= EXECUTOR_WAIT => {
                tracing::warn!("executor still unavailable, recording a harness error: {e}");
                return false;
            }
            Err(e) => {
                bar.set_message(format!("waiting for the executor: {e}"));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn join_all(workers: &mut JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    while let Some(result) = workers.join_next().await {
        match result {
            Ok(inner) => inner?,
            Err(e) if e.is_panic() => anyhow::bail!("a test worker panicked: {e}"),
            Err(_) => {}
        }
    }
    Ok(())
}

async fn run_one(job: &Job, test: &PendingTest) -> TestRecord {
    let config = &job.config;
    // The plan was made from this config, so the names resolve; a hand-edited database is
    // the only way they would not, and that is gnfc's problem, not the flake's.
    let (Some(implementation), Some(resolver)) = (
        config.implementations.get(&test.implementation),
        config.resolvers.get(&test.resolver),
    ) else {
        return crate::procedure::harness_failure(format!(
            "gnfc: the run's config defines no implementation '{}' or resolver '{}'",
            test.implementation, test.resolver
        ));
    };
    let spec = TestSpec {
        flake: &test.flake,
        implementation_name: &test.implementation,
        implementation,
        resolver_name: &test.resolver,
        resolver,
        config,
        proxy: job.proxy.as_ref(),
    };
    run_test(job.executor.as_ref(), &job.rules, spec).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
