//! What can go wrong finding flakes; each message says what to do.

#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error(
        "cannot reach {url}: {detail}; check the endpoint, the network and the proxy settings"
    )]
    Transport { url: String, detail: String },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error(
        "{url} is still rate-limited after {attempts} attempts; wait a while and run the same \
         command again (it resumes where it stopped)"
    )]
    RateLimited { url: String, attempts: u32 },
    #[error(
        "{what} is not in the format gnfc reads ({detail}); nothing from it was stored. Run the \
         same command again to retry it; if it keeps failing, the API has changed"
    )]
    Malformed { what: String, detail: String },
    #[error(
        "{what} ended before its `done` event (connection cut?): what arrived was stored, the \
         query was not marked done; run the same command again to finish it"
    )]
    Truncated { what: String },
    #[error("{what} reported an error: {message}")]
    Remote { what: String, message: String },
    #[error(
        "the saved position of this {source_name} scrape is unreadable ({detail}); start it \
         over with --restart"
    )]
    Cursor { source_name: String, detail: String },
    #[error("cannot read the list {path}: {source}")]
    List {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("GitHub code search failed: {0}")]
    Github(String),
    #[error(transparent)]
    Data(#[from] gnfc_data::DataError),
}
