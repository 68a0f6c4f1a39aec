//! Reads for reports over large runs: rows are streamed to a callback instead of collected,
//! so a million-test run never sits in memory twice (once as driver rows, once as ours).

use futures_util::TryStreamExt;
use sqlx::Row;

use crate::blob::decompress;
use crate::test_rows::{output_from_row, test_from_row, OUTPUT_SELECT, TEST_SELECT};
use crate::{DataError, Db, OutputRow, TestRow};

/// A lockfile used by a run, decompressed.
#[derive(Debug, Clone)]
pub struct LockfileRow {
    pub hash: String,
    /// Locked inputs (nodes less the root), as counted when it was stored.
    pub nodes: i64,
    pub content: Vec<u8>,
}

fn lockfile_from_row(row: &sqlx::any::AnyRow) -> Result<LockfileRow, DataError> {
    let content: Vec<u8> = row.try_get("content")?;
    Ok(LockfileRow {
        hash: row.try_get("hash")?,
        nodes: row.try_get("nodes")?,
        content: decompress(&content)?,
    })
}

impl Db {
    /// Streams the rows of `sql` (bound to `run_id`) through `map` into `each`.
    async fn scan<T>(
        &self,
        sql: &str,
        run_id: i64,
        map: fn(&sqlx::any::AnyRow) -> Result<T, DataError>,
        mut each: impl FnMut(T),
    ) -> Result<(), DataError> {
        let mut rows = sqlx::query(sql).bind(run_id).fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            each(map(&row)?);
        }
        Ok(())
    }

    /// Every test of a run, in plan order, one at a time.
    pub async fn scan_tests(
        &self,
        run_id: i64,
        each: impl FnMut(TestRow),
    ) -> Result<(), DataError> {
        self.scan(TEST_SELECT, run_id, test_from_row, each).await
    }

    /// Every recorded output of a run, by test, one at a time.
    pub async fn scan_outputs(
        &self,
        run_id: i64,
        each: impl FnMut(OutputRow),
    ) -> Result<(), DataError> {
        self.scan(OUTPUT_SELECT, run_id, output_from_row, each)
            .await
    }

    /// Every distinct lockfile the tests of a run produced, one at a time.
    pub async fn scan_lockfiles(
        &self,
        run_id: i64,
        each: impl FnMut(LockfileRow),
    ) -> Result<(), DataError> {
        self.scan(
            "SELECT l.hash, l.nodes, l.content FROM lockfiles l
             WHERE l.hash IN (SELECT t.lockfile_hash FROM tests t WHERE t.run_id = $1)
             ORDER BY l.hash",
            run_id,
            lockfile_from_row,
            each,
        )
        .await
    }

    /// One stored lockfile, decompressed.
    pub async fn lockfile(&self, hash: &str) -> Result<Option<LockfileRow>, DataError> {
        let row = sqlx::query("SELECT hash, nodes, content FROM lockfiles WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(lockfile_from_row).transpose()
    }
}
