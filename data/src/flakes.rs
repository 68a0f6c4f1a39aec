//! Repos and the flakes inside them: the corpus.

use serde::Serialize;
use sqlx::Row;

use crate::{now_ms, DataError, Db};

/// A source repository as discovered (by a scraper, a list, or `gnfc corpus add`).
#[derive(Debug, Clone)]
pub struct NewRepo {
    /// `github`, `gitlab`, `sourcehut`, `local`, …
    pub forge: String,
    pub owner: String,
    pub name: String,
    /// Identity of the repo: the same URL is the same repo, whoever found it.
    pub url: String,
    pub stars: Option<i64>,
    pub default_branch: Option<String>,
}

/// One flake of a repo snapshot.
#[derive(Debug, Clone)]
pub struct NewFlake {
    /// Directory of the flake file relative to the repo root, `""` for the root.
    pub subdir: String,
    /// Name of the flake file as found (`flake.nix`, or e.g. `FLAKE.nix`).
    pub flake_file: String,
}

/// A stored copy of a repo's tree and the flakes in it.
#[derive(Debug, Clone, Copy)]
pub struct NewSnapshot<'a> {
    /// Content hash of the tree (`sha256-…`).
    pub revision: &'a str,
    /// Where the copy is.
    pub source_dir: &'a str,
    /// When the repo's own commit of this tree was made (ms since the epoch), if known.
    pub committed_at: Option<i64>,
    pub flakes: &'a [NewFlake],
}

/// A flake of the corpus, with what a test needs to find its source.
#[derive(Debug, Clone, Serialize)]
pub struct FlakeRow {
    pub id: i64,
    pub repo_id: i64,
    pub forge: String,
    pub owner: String,
    pub name: String,
    pub url: String,
    pub subdir: String,
    pub revision: String,
    pub flake_file: String,
    /// Immutable copy of the whole repo at `revision`.
    pub source_dir: String,
    /// The repo's own commit time of `revision` (ms since the epoch), if known; the
    /// snapshot first recorded keeps its time, so re-runs see the same one.
    pub committed_at: Option<i64>,
}

impl FlakeRow {
    /// `owner/name` or `owner/name/subdir`: how people refer to a flake.
    pub fn label(&self) -> String {
        if self.subdir.is_empty() {
            format!("{}/{}", self.owner, self.name)
        } else {
            format!("{}/{}/{}", self.owner, self.name, self.subdir)
        }
    }
}

/// The flake's id is named `flake_id` so that it can sit beside a test's own `id`.
pub(crate) const FLAKE_COLUMNS: &str = "f.id AS flake_id, f.repo_id, r.forge, r.owner, r.name, \
     r.url, f.subdir, f.revision, f.flake_file, f.source_dir, f.committed_at";

/// Reads the [`FLAKE_COLUMNS`] of a row, by name.
pub(crate) fn flake_from_row(row: &sqlx::any::AnyRow) -> Result<FlakeRow, sqlx::Error> {
    Ok(FlakeRow {
        id: row.try_get("flake_id")?,
        repo_id: row.try_get("repo_id")?,
        forge: row.try_get("forge")?,
        owner: row.try_get("owner")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        subdir: row.try_get("subdir")?,
        revision: row.try_get("revision")?,
        flake_file: row.try_get("flake_file")?,
        source_dir: row.try_get("source_dir")?,
        committed_at: row.try_get("committed_at")?,
    })
}

impl Db {
    /// Records a snapshot of a repo and its flakes; the snapshot becomes the repo's current one.
    ///
    /// Returns how many of the flakes were not known before. All or nothing: a failure leaves
    /// the database as it was.
    pub async fn add_snapshot(
        &self,
        repo: &NewRepo,
        snapshot: &NewSnapshot<'_>,
    ) -> Result<usize, DataError> {
        let mut tx = self.pool.begin().await?;
        let (_, added) = insert_snapshot(&mut tx, repo, snapshot, now_ms()).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// The corpus: every flake of every repo at the repo's current revision.
    pub async fn corpus(&self) -> Result<Vec<FlakeRow>, DataError> {
        let sql = format!(
            "SELECT {FLAKE_COLUMNS} FROM flakes f JOIN repos r ON r.id = f.repo_id
             WHERE f.revision = r.revision ORDER BY r.owner, r.name, f.subdir"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(flake_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// The flakes a run tests (at the revisions it planned).
    pub async fn run_flakes(&self, run_id: i64) -> Result<Vec<FlakeRow>, DataError> {
        let sql = format!(
            "SELECT {FLAKE_COLUMNS} FROM flakes f JOIN repos r ON r.id = f.repo_id
             WHERE f.id IN (SELECT flake_id FROM tests WHERE run_id = $1)
             ORDER BY r.owner, r.name, f.subdir"
        );
        let rows = sqlx::query(&sql).bind(run_id).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(flake_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }
}

/// The body of [`Db::add_snapshot`], inside the caller's transaction: returns the repo's id
/// and how many of the flakes were new.
pub(crate) async fn insert_snapshot(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    repo: &NewRepo,
    snapshot: &NewSnapshot<'_>,
    now: i64,
) -> Result<(i64, usize), DataError> {
    let repo_id: i64 = sqlx::query_scalar(
        "INSERT INTO repos (forge, owner, name, url, stars, default_branch, revision, added_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (url) DO UPDATE SET
             stars = COALESCE(excluded.stars, repos.stars),
             default_branch = COALESCE(excluded.default_branch, repos.default_branch),
             revision = excluded.revision
         RETURNING id",
    )
    .bind(&repo.forge)
    .bind(&repo.owner)
    .bind(&repo.name)
    .bind(&repo.url)
    .bind(repo.stars)
    .bind(&repo.default_branch)
    .bind(snapshot.revision)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let mut added = 0;
    for flake in snapshot.flakes {
        let result = sqlx::query(
            "INSERT INTO flakes (repo_id, subdir, revision, flake_file, source_dir, added_at,
                                 committed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (repo_id, subdir, revision) DO NOTHING",
        )
        .bind(repo_id)
        .bind(&flake.subdir)
        .bind(snapshot.revision)
        .bind(&flake.flake_file)
        .bind(snapshot.source_dir)
        .bind(now)
        .bind(snapshot.committed_at)
        .execute(&mut **tx)
        .await?;
        added += usize::try_from(result.rows_affected()).unwrap_or(0);
    }
    Ok((repo_id, added))
}
