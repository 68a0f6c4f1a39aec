//! gnfc's results database.
//!
//! Everything gnfc learns lands here: the repos and flakes of the corpus, each run with the
//! configuration it used, every test with its outcome, stage timings, lockfile, per-output
//! results and the stderr of every stage. The rest of gnfc never writes SQL: it calls the
//! typed functions on [`Db`].
//!
//! The same queries run on SQLite (the default, one file, one machine) and PostgreSQL (many
//! workers sharing a run). They go through sqlx's `Any` driver, so they are written in the
//! SQL both understand: `$n` placeholders, `RETURNING`, `ON CONFLICT`, integers for times and
//! flags. What differs between the two (schema identity columns, connection pragmas) lives in
//! [`backend`].

mod backend;
mod blob;
mod error;
mod flakes;
mod lookup;
mod model;
mod recheck;
mod runs;
mod scan;
mod scrape;
mod stderr;
mod test_rows;

pub use backend::Backend;
pub use error::DataError;
pub use flakes::{FlakeRow, NewFlake, NewRepo, NewSnapshot};
pub use model::{class, verdict, Category, Comparison, Outcome, OutputStatus, Stage, UnknownName};
pub use runs::{NewRun, PlannedTest, RunRow};
pub use scan::LockfileRow;
pub use scrape::{DiscoveryRow, FoundFlake, PageCounts, RepoToFetch, ScrapeRow, ScrapeState};
pub use stderr::{StderrRow, StoredStderr};
pub use test_rows::{
    ClassUpdate, Classification, ComboCount, OutputRecord, OutputRow, PendingTest, StderrRecord,
    TestRecord, TestRow,
};

use sqlx::AnyPool;

/// A handle on the results database; cheap to clone, safe to share between tasks.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// Milliseconds since the Unix epoch: the one time format stored, portable across backends.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
