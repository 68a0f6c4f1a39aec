//! What the scrapers' integration tests share: a fresh SQLite database in a temp dir.

use gnfc_data::Db;

pub struct TestDb {
    pub db: Db,
    /// Holds the database's directory for the test's life; only some test binaries read it.
    #[allow(dead_code)]
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
}
