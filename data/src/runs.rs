//! Runs (experiments): a named execution of a plan, and the plan itself.

use serde::Serialize;
use sqlx::Row;

use crate::{now_ms, DataError, Db};

/// What a run records about itself when it starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub name: String,
    /// The configuration the run used, as the user wrote it, so a report can say what was run.
    pub config: String,
    /// Host facts (JSON): machine, executor, implementation versions.
    pub host: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub name: String,
    pub config: String,
    pub host: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub planned: i64,
    pub done: i64,
}

const RUN_SELECT: &str = "SELECT r.id, r.name, r.config, r.host, r.started_at, r.finished_at,
        (SELECT COUNT(*) FROM tests t WHERE t.run_id = r.id) AS planned,
        (SELECT COUNT(*) FROM tests t WHERE t.run_id = r.id AND t.outcome IS NOT NULL) AS done
     FROM runs r";

fn run_from_row(row: &sqlx::any::AnyRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        config: row.try_get("config")?,
        host: row.try_get("host")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        planned: row.try_get("planned")?,
        done: row.try_get("done")?,
    })
}

/// One planned test: which flake, with which implementation and resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTest {
    pub flake_id: i64,
    pub implementation: String,
    pub resolver: String,
}

impl Db {
    /// Creates a run and its whole plan in one transaction, so a run either exists with every
    /// test it will ever have (pending until recorded) or not at all. Resuming a run is then
    /// just running its pending tests.
    pub async fn create_run(&self, run: &NewRun, plan: &[PlannedTest]) -> Result<i64, DataError> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM runs WHERE name = $1")
            .bind(&run.name)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(DataError::RunExists(run.name.clone()));
        }
        let run_id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (name, config, host, started_at) VALUES ($1, $2, $3, $4)
             RETURNING id",
        )
        .bind(&run.name)
        .bind(&run.config)
        .bind(&run.host)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        for test in plan {
            sqlx::query(
                "INSERT INTO tests (run_id, flake_id, implementation, resolver)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(run_id)
            .bind(test.flake_id)
            .bind(&test.implementation)
            .bind(&test.resolver)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(run_id)
    }

    /// Finds a run by name, or by numeric id.
    pub async fn run(&self, name_or_id: &str) -> Result<RunRow, DataError> {
        let sql = format!("{RUN_SELECT} WHERE r.name = $1 OR CAST(r.id AS TEXT) = $1");
        let row = sqlx::query(&sql)
            .bind(name_or_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DataError::NoSuchRun(name_or_id.to_owned()))?;
        Ok(run_from_row(&row)?)
    }

    /// The most recently started run, if any.
    pub async fn latest_run(&self) -> Result<Option<RunRow>, DataError> {
        let sql = format!("{RUN_SELECT} ORDER BY r.id DESC LIMIT 1");
        let row = sqlx::query(&sql).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(run_from_row).transpose()?)
    }

    /// Every run, oldest first.
    pub async fn runs(&self) -> Result<Vec<RunRow>, DataError> {
        let sql = format!("{RUN_SELECT} ORDER BY r.id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(run_from_row).collect::<Result<_, _>>()?)
    }

    /// Marks a run finished (all its tests recorded).
    pub async fn finish_run(&self, run_id: i64) -> Result<(), DataError> {
        sqlx::query("UPDATE runs SET finished_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
