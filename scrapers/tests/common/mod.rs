//! What the scrapers' integration tests share: a fresh SQLite database in a temp dir.

use gnfc_data::Db;

pub struct TestDb {
    pub db: Db,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&TestDb::url_in(dir.path())).await.unwrap();
        TestDb { db, dir }
    }

    fn url_in(dir: &std::path::Path) -> String {
        format!("sqlite://{}", dir.join("g.db").display())
    }

    /// A scalar query run directly, for facts the typed API has no reason to expose.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::any::install_default_drivers();
        let mut conn =
            <sqlx::AnyConnection as sqlx::Connection>::connect(&TestDb::url_in(self.dir.path()))
                .await
                .unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}
