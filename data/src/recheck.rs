//! Re-running chosen tests of a finished run and marking those whose result flipped.

use crate::flakes::{flake_from_row, FLAKE_COLUMNS};
use crate::{DataError, Db, Outcome, PendingTest};
use sqlx::Row;

impl Db {
    /// Recorded tests of a run, by id, as tests to run once more (ids not in the run are
    /// skipped).
    pub async fn tests_to_rerun(
        &self,
        run_id: i64,
        test_ids: &[i64],
    ) -> Result<Vec<PendingTest>, DataError> {
        let sql = format!(
            "SELECT t.id AS test_id, t.implementation, t.resolver, t.attempt, {FLAKE_COLUMNS}
             FROM tests t JOIN flakes f ON f.id = t.flake_id JOIN repos r ON r.id = f.repo_id
             WHERE t.run_id = $1 AND t.id = $2"
        );
        let mut tests = Vec::with_capacity(test_ids.len());
        for id in test_ids {
            let row = sqlx::query(&sql)
                .bind(run_id)
                .bind(*id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                tests.push(PendingTest {
                    test_id: row.try_get("test_id")?,
                    implementation: row.try_get("implementation")?,
                    resolver: row.try_get("resolver")?,
                    attempt: row.try_get("attempt")?,
                    flake: flake_from_row(&row)?,
                });
            }
        }
        Ok(tests)
    }

    /// Marks a test flaky: its re-run (now recorded) disagreed with its first attempt, which
    /// ended with `outcome` and `class`.
    pub async fn mark_flaky(
        &self,
        test_id: i64,
        outcome: Outcome,
        class: Option<&str>,
    ) -> Result<(), DataError> {
        sqlx::query(
            "UPDATE tests SET flaky = 1, flaky_first_outcome = $1, flaky_first_class = $2
             WHERE id = $3",
        )
        .bind(outcome.as_str())
        .bind(class)
        .bind(test_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
