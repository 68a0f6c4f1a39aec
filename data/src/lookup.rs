//! Finding one test or one flake by what a person types, for the triage commands: a missing
//! one is an error that names what the database does hold.

use sqlx::Row;

use crate::flakes::{flake_from_row, FLAKE_COLUMNS};
use crate::test_rows::{output_from_row, test_from_row, TEST_COLUMNS, TEST_OUTPUT_SELECT};
use crate::{DataError, Db, FlakeRow, OutputRow, TestRow};

/// How many flakes a [`DataError::NoSuchFlake`] names.
const FLAKES_NAMED: usize = 5;

impl Db {
    /// One test by id, whichever run it belongs to; a missing one is
    /// [`DataError::NoSuchTest`], naming the range of ids held.
    pub async fn get_test(&self, test_id: i64) -> Result<TestRow, DataError> {
        if let Some(test) = self.test(test_id).await? {
            return Ok(test);
        }
        let row = sqlx::query("SELECT MIN(id) AS first, MAX(id) AS last FROM tests")
            .fetch_one(&self.pool)
            .await?;
        let held = match (
            row.try_get::<Option<i64>, _>("first")?,
            row.try_get::<Option<i64>, _>("last")?,
        ) {
            (Some(first), Some(last)) => Some((first, last)),
            _ => None,
        };
        Err(DataError::NoSuchTest { id: test_id, held })
    }

    /// The recorded outputs of one test, in the order they were evaluated.
    pub async fn test_outputs(&self, test_id: i64) -> Result<Vec<OutputRow>, DataError> {
        let rows = sqlx::query(TEST_OUTPUT_SELECT)
            .bind(test_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(output_from_row).collect()
    }

    /// Every snapshot (revision) of one flake, oldest first. `name` is a flake's label
    /// (`owner/repo[/subdir]`, see [`FlakeRow::label`]) or the id of any of its snapshots; a
    /// flake the database does not hold is [`DataError::NoSuchFlake`].
    pub async fn flake_snapshots(&self, name: &str) -> Result<Vec<FlakeRow>, DataError> {
        let by_id = format!(
            "SELECT {FLAKE_COLUMNS} FROM flakes f JOIN repos r ON r.id = f.repo_id
             WHERE EXISTS (SELECT 1 FROM flakes same WHERE same.id = $1
                           AND same.repo_id = f.repo_id AND same.subdir = f.subdir)
             ORDER BY f.id"
        );
        let by_label = format!(
            "SELECT {FLAKE_COLUMNS} FROM flakes f JOIN repos r ON r.id = f.repo_id
             WHERE r.owner = $1 AND r.name = $2 AND f.subdir = $3 ORDER BY f.id"
        );
        // A label splits at its first two slashes: a subdir may hold more.
        let mut parts = name.splitn(3, '/');
        let rows = match (name.parse::<i64>(), parts.next(), parts.next()) {
            (Ok(id), _, _) => sqlx::query(&by_id).bind(id).fetch_all(&self.pool).await?,
            (Err(_), Some(owner), Some(repo)) => {
                sqlx::query(&by_label)
                    .bind(owner)
                    .bind(repo)
                    .bind(parts.next().unwrap_or(""))
                    .fetch_all(&self.pool)
                    .await?
            }
            _ => Vec::new(),
        };
        if rows.is_empty() {
            return Err(self.no_such_flake(name).await?);
        }
        Ok(rows
            .iter()
            .map(flake_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Every test of any snapshot of a flake (the `repo_id` and `subdir` of a [`FlakeRow`]),
    /// recorded or not, by run in the order the runs started, then by combo.
    pub async fn flake_tests(&self, repo_id: i64, subdir: &str) -> Result<Vec<TestRow>, DataError> {
        let sql = format!(
            "{TEST_COLUMNS} JOIN runs ru ON ru.id = t.run_id
             WHERE f.repo_id = $1 AND f.subdir = $2
             ORDER BY ru.started_at, ru.id, t.implementation, t.resolver"
        );
        let rows = sqlx::query(&sql)
            .bind(repo_id)
            .bind(subdir)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(test_from_row).collect()
    }

    /// The error for a flake name nothing matches, naming flakes of the corpus: those whose
    /// label contains `name` first, then the others in corpus order.
    async fn no_such_flake(&self, name: &str) -> Result<DataError, DataError> {
        let labels: Vec<String> = self.corpus().await?.iter().map(FlakeRow::label).collect();
        let needle = name.to_lowercase();
        let (mut known, others): (Vec<String>, Vec<String>) = labels
            .iter()
            .cloned()
            .partition(|l| !needle.is_empty() && l.to_lowercase().contains(&needle));
        known.extend(others);
        known.truncate(FLAKES_NAMED);
        Ok(DataError::NoSuchFlake {
            name: name.to_owned(),
            known,
            corpus: labels.len(),
        })
    }
}
