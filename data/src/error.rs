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
    #[error("no test {id} ({})", held_tests(*held))]
    NoSuchTest {
        id: i64,
        /// The lowest and highest test ids the database holds, if any.
        held: Option<(i64, i64)>,
    },
    #[error("no flake '{name}' ({})", held_flakes(known, *corpus))]
    NoSuchFlake {
        name: String,
        /// A few flakes of the corpus, those whose name contains `name` first.
        known: Vec<String>,
        /// How many flakes the corpus holds.
        corpus: usize,
    },
    #[error("the database holds a value gnfc does not know: {0}")]
    Corrupt(String),
    #[error("cannot (de)compress stored stderr: {0}")]
    Compression(std::io::Error),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

fn held_tests(held: Option<(i64, i64)>) -> String {
    match held {
        Some((first, last)) => format!("the database holds tests {first}–{last}"),
        None => "the database holds no tests yet: start a run with `gnfc run`".to_owned(),
    }
}

fn held_flakes(known: &[String], corpus: usize) -> String {
    match corpus {
        0 => "the corpus is empty: add flakes with `gnfc corpus add`".to_owned(),
        n if n == known.len() => format!("the corpus holds {}", known.join(", ")),
        n => format!(
            "the corpus holds {n} flakes, among them {}; `gnfc corpus list` lists them all",
            known.join(", ")
        ),
    }
}
