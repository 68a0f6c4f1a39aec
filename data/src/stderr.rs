//! Reading stored stderr back, for re-classification and triage.

use sqlx::Row;

use crate::blob::decompress;
use crate::{DataError, Db, Stage};

/// The stderr of one failed stage or output, with the class it has now.
#[derive(Debug, Clone)]
pub struct StderrRow {
    pub test_id: i64,
    pub implementation: String,
    pub stage: Stage,
    /// `""` unless `stage` is `eval`.
    pub attr_path: String,
    pub text: StoredStderr,
    pub class: Option<String>,
}

/// Stderr as stored: what the executor kept, and how much there was.
#[derive(Debug, Clone)]
pub struct StoredStderr {
    pub kept: Vec<u8>,
    pub total_bytes: i64,
}

/// The columns of [`StderrRow`].
const STDERR_COLUMNS: &str =
    "s.test_id, t.implementation, s.stage, s.attr_path, s.content, s.total_bytes,
         CASE WHEN s.stage = 'eval' THEN o.error_class ELSE t.error_class END AS class";

/// The joins [`STDERR_COLUMNS`] need, before a `WHERE`.
const STDERR_FROM: &str = "FROM stderr s
     JOIN tests t ON t.id = s.test_id
     LEFT JOIN outputs o ON o.test_id = s.test_id AND o.attr_path = s.attr_path";

/// Whether a stderr row of [`STDERR_FROM`] is the one a class was taken from.
const CLASSIFYING: &str = "((t.error_class IS NOT NULL
         AND ((t.outcome = 'lock-fail' AND s.stage = 'lock')
              OR (t.outcome = 'enumerate-fail' AND s.stage = 'enumerate')))
        OR (s.stage = 'eval' AND o.status = 'fail'))";

fn stderr_from_row(row: &sqlx::any::AnyRow) -> Result<StderrRow, DataError> {
    let content: Vec<u8> = row.try_get("content")?;
    Ok(StderrRow {
        test_id: row.try_get("test_id")?,
        implementation: row.try_get("implementation")?,
        stage: row.try_get::<String, _>("stage")?.parse()?,
        attr_path: row.try_get("attr_path")?,
        text: StoredStderr {
            kept: decompress(&content)?,
            total_bytes: row.try_get("total_bytes")?,
        },
        class: row.try_get("class")?,
    })
}

impl Db {
    /// The stderr behind every class of a run: that of the failing stage of each failed test,
    /// and that of each failed output.
    pub async fn classified_stderr(&self, run_id: i64) -> Result<Vec<StderrRow>, DataError> {
        // A test's class comes from the stage its outcome names (a lock-fail's lock stderr,
        // not the warnings its prepare stage printed; an enumerate-fail's enumerate stderr,
        // not its lock's "creating lock file" warning); an output's from its own eval.
        // Partial tests take their class from outputs, so their eval rows suffice; timeouts
        // and harness errors are named by gnfc, not by the rules, so they have none here.
        let sql = format!(
            "SELECT {STDERR_COLUMNS} {STDERR_FROM} WHERE t.run_id = $1 AND {CLASSIFYING}
             ORDER BY s.test_id, s.stage, s.attr_path"
        );
        let rows = sqlx::query(&sql).bind(run_id).fetch_all(&self.pool).await?;
        rows.iter().map(stderr_from_row).collect()
    }

    /// Every stored stderr of one test, in stage order, each with whether the test's (or
    /// its output's) class comes from it, as in [`Db::classified_stderr`].
    pub async fn test_stderr(&self, test_id: i64) -> Result<Vec<(StderrRow, bool)>, DataError> {
        let sql = format!(
            "SELECT {STDERR_COLUMNS},
                 CAST(CASE WHEN {CLASSIFYING} THEN 1 ELSE 0 END AS BIGINT) AS classifying
             {STDERR_FROM} WHERE s.test_id = $1"
        );
        let rows = sqlx::query(&sql)
            .bind(test_id)
            .fetch_all(&self.pool)
            .await?;
        let mut stderr = rows
            .iter()
            .map(|row| {
                Ok((
                    stderr_from_row(row)?,
                    row.try_get::<i64, _>("classifying")? != 0,
                ))
            })
            .collect::<Result<Vec<_>, DataError>>()?;
        // Stage names do not sort in stage order; `Stage` does.
        stderr.sort_by(|(a, _), (b, _)| (a.stage, &a.attr_path).cmp(&(b.stage, &b.attr_path)));
        Ok(stderr)
    }

    /// The stored stderr of one stage of a test (for `eval`, of one output).
    pub async fn stderr(
        &self,
        test_id: i64,
        stage: Stage,
        attr_path: &str,
    ) -> Result<Option<StoredStderr>, DataError> {
        let row = sqlx::query(
            "SELECT content, total_bytes FROM stderr
             WHERE test_id = $1 AND stage = $2 AND attr_path = $3",
        )
        .bind(test_id)
        .bind(stage.as_str())
        .bind(attr_path)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let content: Vec<u8> = row.try_get("content")?;
            Ok(StoredStderr {
                kept: decompress(&content)?,
                total_bytes: row.try_get("total_bytes")?,
            })
        })
        .transpose()
    }
}
