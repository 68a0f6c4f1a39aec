//! What can go wrong making a report: reading the run, or writing the report out.

use gnfc_data::DataError;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run could not be read from the database.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The report could not be written; the cause is the `source`, so it is not repeated in
    /// the message (callers print the whole chain).
    #[error("cannot write {what}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}
