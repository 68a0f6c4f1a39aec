use std::path::PathBuf;

/// Everything that can go wrong talking to the results database.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error(
        "{path} is not a gnfc database (SQLite says: {detail}); it was left untouched — move it \
         aside or pass --db with another file"
    )]
    NotADatabase { path: PathBuf, detail: String },
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a run named '{0}' already exists; pick another --name or resume it with --resume")]
    RunExists(String),
    #[error("no run named '{0}' (see `gnfc status` for the runs recorded)")]
    NoSuchRun(String),
    #[error("the database holds a value gnfc does not know: {0}")]
    Corrupt(String),
    #[error("cannot (de)compress stored stderr: {0}")]
    Compression(std::io::Error),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}
