//! The `tests` table: claiming pending tests, recording results atomically, reading them back.

use serde::Serialize;
use sqlx::Row;

use crate::blob::{compress, sha256_hex};
use crate::flakes::{flake_from_row, FLAKE_COLUMNS};
use crate::{now_ms, DataError, Db, FlakeRow, Outcome, OutputStatus, Stage, UnknownName};

/// An error class as the classifier assigned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// Id of the rule that matched (`unknown` when none did).
    pub class: String,
    pub category: String,
    /// What the rule captured, e.g. the missing attribute's name.
    pub detail: Option<String>,
}

/// A test waiting to be run.
#[derive(Debug, Clone)]
pub struct PendingTest {
    pub test_id: i64,
    pub flake: FlakeRow,
    pub implementation: String,
    pub resolver: String,
    pub attempt: i64,
}

/// The result of one output's evaluation.
#[derive(Debug, Clone)]
pub struct OutputRecord {
    pub attr_path: String,
    pub status: OutputStatus,
    pub drv_path: Option<String>,
    pub eval_ms: i64,
    pub class: Option<Classification>,
}

/// The stderr of one stage (for `eval`, of one output), capped by the executor.
#[derive(Debug, Clone)]
pub struct StderrRecord {
    pub stage: Stage,
    /// The output evaluated, `""` for the other stages.
    pub attr_path: String,
    /// What was kept (the executor keeps the head and the tail).
    pub kept: Vec<u8>,
    /// How many bytes the stage wrote in all.
    pub total_bytes: u64,
}

/// Everything one finished test produced, recorded in one transaction.
#[derive(Debug, Clone)]
pub struct TestRecord {
    pub outcome: Outcome,
    pub exit_code: Option<i64>,
    pub class: Option<Classification>,
    pub lock_ms: Option<i64>,
    pub enumerate_ms: Option<i64>,
    pub eval_ms: Option<i64>,
    pub total_ms: i64,
    /// The lockfile the resolver produced (or kept), stored once per distinct content.
    pub lockfile: Option<Vec<u8>>,
    pub outputs: Vec<OutputRecord>,
    pub stderr: Vec<StderrRecord>,
}

/// A recorded test as reports read it.
#[derive(Debug, Clone, Serialize)]
pub struct TestRow {
    pub id: i64,
    pub run_id: i64,
    pub flake_id: i64,
    pub flake: String,
    pub implementation: String,
    pub resolver: String,
    pub outcome: Option<Outcome>,
    pub class: Option<String>,
    pub category: Option<String>,
    pub detail: Option<String>,
    pub exit_code: Option<i64>,
    pub lock_ms: Option<i64>,
    pub enumerate_ms: Option<i64>,
    pub eval_ms: Option<i64>,
    pub total_ms: Option<i64>,
    pub lockfile_hash: Option<String>,
    pub attempt: i64,
    pub outputs_total: i64,
    pub outputs_failed: i64,
    /// The result flipped when re-run: what is recorded is the re-run's.
    pub flaky: bool,
    /// The first attempt's outcome when the test is flaky.
    pub flaky_first_outcome: Option<Outcome>,
    /// The first attempt's error class when the test is flaky and that attempt failed.
    pub flaky_first_class: Option<String>,
}

/// A recorded output as reports read it.
#[derive(Debug, Clone, Serialize)]
pub struct OutputRow {
    pub test_id: i64,
    pub attr_path: String,
    pub status: OutputStatus,
    pub drv_path: Option<String>,
    pub eval_ms: i64,
    pub class: Option<String>,
    pub category: Option<String>,
    pub detail: Option<String>,
}

/// Tests of one combo with one outcome (or class): the unit of summaries.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ComboCount {
    pub implementation: String,
    pub resolver: String,
    /// The outcome, or the error class, depending on the query.
    pub key: String,
    pub category: Option<String>,
    pub count: i64,
}

/// A new class for a stored test or output, from re-classification.
#[derive(Debug, Clone)]
pub struct ClassUpdate {
    pub test_id: i64,
    /// `None` for the test itself, else the output's attribute path.
    pub attr_path: Option<String>,
    pub class: Classification,
}

/// The columns of [`TestRow`] and the joins they need, before a `WHERE`.
macro_rules! test_columns {
    () => {
        "SELECT t.id, t.flake_id, r.owner, r.name, f.subdir, t.implementation, t.resolver,
             t.outcome, t.error_class, t.error_category, t.error_detail, t.exit_code,
             t.lock_ms, t.enumerate_ms, t.eval_ms, t.total_ms, t.lockfile_hash, t.attempt,
             (SELECT COUNT(*) FROM outputs o WHERE o.test_id = t.id) AS outputs_total,
             (SELECT COUNT(*) FROM outputs o WHERE o.test_id = t.id AND o.status <> 'pass')
                 AS outputs_failed,
             t.flaky, t.flaky_first_outcome, t.flaky_first_class, t.run_id
         FROM tests t JOIN flakes f ON f.id = t.flake_id JOIN repos r ON r.id = f.repo_id"
    };
}

/// The columns of [`TestRow`], for one run (`$1`), in plan order.
pub(crate) const TEST_SELECT: &str = concat!(test_columns!(), " WHERE t.run_id = $1 ORDER BY t.id");

/// The columns of [`TestRow`] and their joins, for other modules' own `WHERE`.
pub(crate) const TEST_COLUMNS: &str = test_columns!();

pub(crate) fn test_from_row(row: &sqlx::any::AnyRow) -> Result<TestRow, DataError> {
    let (owner, name, subdir): (String, String, String) = (
        row.try_get("owner")?,
        row.try_get("name")?,
        row.try_get("subdir")?,
    );
    Ok(TestRow {
        id: row.try_get("id")?,
        flake_id: row.try_get("flake_id")?,
        flake: if subdir.is_empty() {
            format!("{owner}/{name}")
        } else {
            format!("{owner}/{name}/{subdir}")
        },
        implementation: row.try_get("implementation")?,
        resolver: row.try_get("resolver")?,
        outcome: opt_parse(row.try_get("outcome")?)?,
        class: row.try_get("error_class")?,
        category: row.try_get("error_category")?,
        detail: row.try_get("error_detail")?,
        exit_code: row.try_get("exit_code")?,
        lock_ms: row.try_get("lock_ms")?,
        enumerate_ms: row.try_get("enumerate_ms")?,
        eval_ms: row.try_get("eval_ms")?,
        total_ms: row.try_get("total_ms")?,
        lockfile_hash: row.try_get("lockfile_hash")?,
        attempt: row.try_get("attempt")?,
        outputs_total: row.try_get("outputs_total")?,
        outputs_failed: row.try_get("outputs_failed")?,
        flaky: row.try_get::<i64, _>("flaky")? != 0,
        flaky_first_outcome: opt_parse(row.try_get("flaky_first_outcome")?)?,
        flaky_first_class: row.try_get("flaky_first_class")?,
        run_id: row.try_get("run_id")?,
    })
}

/// The columns of [`OutputRow`] and their join, before a `WHERE`.
macro_rules! output_columns {
    () => {
        "SELECT o.test_id, o.attr_path, o.status, o.drv_path, o.eval_ms, o.error_class,
             o.error_category, o.error_detail
         FROM outputs o JOIN tests t ON t.id = o.test_id"
    };
}

/// The columns of [`OutputRow`], for one run (`$1`), by test.
pub(crate) const OUTPUT_SELECT: &str = concat!(
    output_columns!(),
    " WHERE t.run_id = $1 ORDER BY o.test_id, o.id"
);

/// The columns of [`OutputRow`], for one test (`$1`), in recording order.
pub(crate) const TEST_OUTPUT_SELECT: &str =
    concat!(output_columns!(), " WHERE o.test_id = $1 ORDER BY o.id");

pub(crate) fn output_from_row(row: &sqlx::any::AnyRow) -> Result<OutputRow, DataError> {
    Ok(OutputRow {
        test_id: row.try_get("test_id")?,
        attr_path: row.try_get("attr_path")?,
        status: row.try_get::<String, _>("status")?.parse()?,
        drv_path: row.try_get("drv_path")?,
        eval_ms: row.try_get("eval_ms")?,
        class: row.try_get("error_class")?,
        category: row.try_get("error_category")?,
        detail: row.try_get("error_detail")?,
    })
}

fn opt_parse<T: std::str::FromStr<Err = UnknownName>>(
    s: Option<String>,
) -> Result<Option<T>, DataError> {
    Ok(s.map(|s| s.parse()).transpose()?)
}

impl Db {
    /// The tests of a run that have no result yet: a fresh run's whole plan, or what a killed
    /// run left undone.
    pub async fn pending_tests(&self, run_id: i64) -> Result<Vec<PendingTest>, DataError> {
        let sql = format!(
            "SELECT t.id AS test_id, t.implementation, t.resolver, t.attempt, {FLAKE_COLUMNS}
             FROM tests t JOIN flakes f ON f.id = t.flake_id JOIN repos r ON r.id = f.repo_id
             WHERE t.run_id = $1 AND t.outcome IS NULL ORDER BY t.id"
        );
        let rows = sqlx::query(&sql).bind(run_id).fetch_all(&self.pool).await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let flake = flake_from_row(row)?;
            pending.push(PendingTest {
                test_id: row.try_get("test_id")?,
                implementation: row.try_get("implementation")?,
                resolver: row.try_get("resolver")?,
                attempt: row.try_get("attempt")?,
                flake,
            });
        }
        Ok(pending)
    }

    /// Notes that a test is starting once more; returns its attempt number (1 for the first).
    pub async fn start_test(&self, test_id: i64) -> Result<i64, DataError> {
        let attempt: i64 = sqlx::query_scalar(
            "UPDATE tests SET attempt = attempt + 1 WHERE id = $1 RETURNING attempt",
        )
        .bind(test_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(attempt)
    }

    /// Records a finished test with its outputs, stderr and lockfile, all or nothing: a test
    /// interrupted before this returns stays pending and is run again on resume.
    pub async fn record_test(&self, test_id: i64, record: &TestRecord) -> Result<(), DataError> {
        // Compress outside the transaction: it is the slow part and needs no lock.
        let lockfile = match &record.lockfile {
            Some(content) => Some((sha256_hex(content), compress(content)?, lock_nodes(content))),
            None => None,
        };
        let stderr = record
            .stderr
            .iter()
            .map(|s| Ok((s, compress(&s.kept)?)))
            .collect::<Result<Vec<_>, DataError>>()?;

        let mut tx = self.pool.begin().await?;
        if let Some((hash, content, nodes)) = &lockfile {
            sqlx::query(
                "INSERT INTO lockfiles (hash, content, size, nodes) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (hash) DO NOTHING",
            )
            .bind(hash)
            .bind(content.as_slice())
            .bind(record.lockfile.as_ref().map_or(0, |l| l.len() as i64))
            .bind(*nodes)
            .execute(&mut *tx)
            .await?;
        }
        // A test re-run after a crash may have left nothing, but be safe against half state.
        sqlx::query("DELETE FROM outputs WHERE test_id = $1")
            .bind(test_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM stderr WHERE test_id = $1")
            .bind(test_id)
            .execute(&mut *tx)
            .await?;
        let class = record.class.as_ref();
        sqlx::query(
            "UPDATE tests SET outcome = $1, error_class = $2, error_category = $3,
                 error_detail = $4, exit_code = $5, lock_ms = $6, enumerate_ms = $7,
                 eval_ms = $8, total_ms = $9, lockfile_hash = $10, finished_at = $11
             WHERE id = $12",
        )
        .bind(record.outcome.as_str())
        .bind(class.map(|c| c.class.as_str()))
        .bind(class.map(|c| c.category.as_str()))
        .bind(class.and_then(|c| c.detail.as_deref()))
        .bind(record.exit_code)
        .bind(record.lock_ms)
        .bind(record.enumerate_ms)
        .bind(record.eval_ms)
        .bind(record.total_ms)
        .bind(lockfile.as_ref().map(|(hash, _, _)| hash.as_str()))
        .bind(now_ms())
        .bind(test_id)
        .execute(&mut *tx)
        .await?;
        for output in &record.outputs {
            let class = output.class.as_ref();
            sqlx::query(
                "INSERT INTO outputs (test_id, attr_path, status, drv_path, eval_ms,
                     error_class, error_category, error_detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(test_id)
            .bind(&output.attr_path)
            .bind(output.status.as_str())
            .bind(output.drv_path.as_deref())
            .bind(output.eval_ms)
            .bind(class.map(|c| c.class.as_str()))
            .bind(class.map(|c| c.category.as_str()))
            .bind(class.and_then(|c| c.detail.as_deref()))
            .execute(&mut *tx)
            .await?;
        }
        for (s, content) in &stderr {
            sqlx::query(
                "INSERT INTO stderr (test_id, stage, attr_path, content, total_bytes, kept_bytes)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(test_id)
            .bind(s.stage.as_str())
            .bind(&s.attr_path)
            .bind(content.as_slice())
            .bind(i64::try_from(s.total_bytes).unwrap_or(i64::MAX))
            .bind(s.kept.len() as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every test of a run, recorded or not, in plan order.
    pub async fn tests(&self, run_id: i64) -> Result<Vec<TestRow>, DataError> {
        let rows = sqlx::query(TEST_SELECT)
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(test_from_row).collect()
    }

    /// One test by id, whichever run it belongs to.
    pub async fn test(&self, test_id: i64) -> Result<Option<TestRow>, DataError> {
        let row = sqlx::query(concat!(test_columns!(), " WHERE t.id = $1"))
            .bind(test_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(test_from_row).transpose()
    }

    /// Every recorded output of a run.
    pub async fn outputs(&self, run_id: i64) -> Result<Vec<OutputRow>, DataError> {
        let rows = sqlx::query(OUTPUT_SELECT)
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(output_from_row).collect()
    }

    /// Recorded tests per combo and outcome.
    pub async fn outcome_counts(&self, run_id: i64) -> Result<Vec<ComboCount>, DataError> {
        self.combo_counts(
            "SELECT implementation, resolver, outcome AS key, NULL AS category, COUNT(*) AS count
             FROM tests
             WHERE run_id = $1 AND outcome IS NOT NULL
             GROUP BY implementation, resolver, outcome
             ORDER BY implementation, resolver, outcome",
            run_id,
        )
        .await
    }

    /// Failed tests per combo and error class, most frequent first.
    pub async fn class_counts(&self, run_id: i64) -> Result<Vec<ComboCount>, DataError> {
        self.combo_counts(
            "SELECT implementation, resolver, error_class AS key, MAX(error_category) AS category,
                 COUNT(*) AS count
             FROM tests
             WHERE run_id = $1 AND error_class IS NOT NULL
             GROUP BY implementation, resolver, error_class
             ORDER BY COUNT(*) DESC, implementation, resolver, error_class",
            run_id,
        )
        .await
    }

    async fn combo_counts(&self, sql: &str, run_id: i64) -> Result<Vec<ComboCount>, DataError> {
        let rows = sqlx::query(sql).bind(run_id).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(ComboCount {
                    implementation: row.try_get("implementation")?,
                    resolver: row.try_get("resolver")?,
                    key: row.try_get("key")?,
                    category: row.try_get("category")?,
                    count: row.try_get("count")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Stores new classes for tests and outputs in one transaction.
    pub async fn update_classes(&self, updates: &[ClassUpdate]) -> Result<(), DataError> {
        let mut tx = self.pool.begin().await?;
        for u in updates {
            let query = match &u.attr_path {
                None => sqlx::query(
                    "UPDATE tests SET error_class = $1, error_category = $2, error_detail = $3
                     WHERE id = $4",
                ),
                Some(_) => sqlx::query(
                    "UPDATE outputs SET error_class = $1, error_category = $2, error_detail = $3
                     WHERE test_id = $4 AND attr_path = $5",
                ),
            };
            let query = query
                .bind(&u.class.class)
                .bind(&u.class.category)
                .bind(u.class.detail.as_deref())
                .bind(u.test_id);
            let query = match &u.attr_path {
                None => query,
                Some(attr) => query.bind(attr),
            };
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Number of locked inputs in a lockfile (its nodes less the root); 0 when it is not JSON.
fn lock_nodes(content: &[u8]) -> i64 {
    serde_json::from_slice::<serde_json::Value>(content)
        .ok()
        .and_then(|v| v.get("nodes")?.as_object().map(|n| n.len()))
        .map_or(0, |n| i64::try_from(n.saturating_sub(1)).unwrap_or(0))
}
