//! The only place that knows which database is underneath: URL parsing, connection set-up,
//! and the per-backend migration directories.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{ConnectOptions, Connection, Executor};

use crate::{DataError, Db};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which SQL server stores the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of_url(url: &str) -> Result<Backend, DataError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(DataError::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// The file behind a `sqlite:` URL, when there is one (not `sqlite::memory:`).
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

impl Db {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    ///
    /// A SQLite file that exists but is not a database is reported, never overwritten.
    pub async fn open(url: &str) -> Result<Db, DataError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let mut url = url.to_owned();
        if backend == Backend::Sqlite {
            if let Some(path) = sqlite_path(&url) {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| DataError::CreateDir {
                        path: dir.to_owned(),
                        source,
                    })?;
                }
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|source| DataError::Connect {
                url: url.clone(),
                source,
            })?
            .disable_statement_logging();
        if backend == Backend::Sqlite {
            // A file that is not a database only fails at its first statement, which in the
            // pool is `after_connect`; the pool retries those until its acquire timeout and
            // then reports a bare timeout. Probe once, read-only, so the error is immediate
            // and names the file.
            let mut probe = options
                .connect()
                .await
                .map_err(|source| classify_open_error(&url, source))?;
            // (Wait, as the pool does, rather than fail if a live run holds a lock.)
            let checked = match probe.execute("PRAGMA busy_timeout = 30000").await {
                Ok(_) => probe.execute("SELECT COUNT(*) FROM sqlite_master").await,
                Err(e) => Err(e),
            };
            let _ = probe.close().await;
            checked.map_err(|source| classify_open_error(&url, source))?;
        }
        let pool = AnyPoolOptions::new()
            // SQLite has one writer at a time; more connections only add lock contention.
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers (`gnfc status`, reports) run beside a live run;
                        // the busy timeout makes concurrent writers wait instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| classify_open_error(&url, source))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(source) => classify_open_error(&url, source),
            other => DataError::Migrate(other),
        })?;
        Ok(Db { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for in-flight writes; SQLite checkpoints its WAL here.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Turns SQLite's "file is not a database" (and friends) into an error naming the file.
fn classify_open_error(url: &str, source: sqlx::Error) -> DataError {
    let detail = source.to_string();
    let corrupt = ["file is not a database", "database disk image is malformed"];
    match sqlite_path(url) {
        Some(path) if corrupt.iter().any(|c| detail.contains(c)) => DataError::NotADatabase {
            path: path.clone(),
            detail: corrupt
                .iter()
                .find(|c| detail.contains(**c))
                .map_or(detail.clone(), |c| (*c).to_owned()),
        },
        _ => DataError::Connect {
            url: url.to_owned(),
            source,
        },
    }
}
