//! gnfc's exit statuses, so that a script or CI job tells a failed check from a broken
//! setup. An error's status comes from its type (the first cause in its chain that is one of
//! the crates' error types), never from its message.

use std::error::Error;
use std::process::ExitCode;

use gnfc_classifier::RuleError;
use gnfc_containers::{ExecError, PodmanError};
use gnfc_data::DataError;
use gnfc_reports::ReportError;
use gnfc_scrapers::ScrapeError;

use crate::config::ConfigError;

/// How gnfc ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// A check found what it checks for: `diff --fail-on-regression` a regression, `corpus
    /// check` a mismatch. Nothing else ends with 1.
    CheckFailed,
    /// The command line is wrong: clap's errors, or a run, test or flake the database does
    /// not hold, or a run name already taken.
    Usage,
    /// The configuration (gnfc.toml, a run's stored config, rules or overrides files) is
    /// invalid.
    Config,
    /// The database cannot be opened, read or written.
    Database,
    /// Podman (no socket, a missing image, no runtime) or the sandbox failed.
    Executor,
    /// Some of the work failed and the rest was done: paths `corpus add` or `forge add`
    /// could not take, repos `fetch` could not fetch, a scrape that stopped early.
    Partial,
    /// Interrupted (Ctrl-C, SIGTERM): `gnfc run --resume` finishes the run.
    Interrupted,
    /// Any other error.
    Other,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::CheckFailed => 1,
            Status::Usage => 2,
            Status::Config => 3,
            Status::Database => 4,
            Status::Executor => 5,
            Status::Partial => 6,
            Status::Other => 101,
            Status::Interrupted => 130,
        }
    }

    /// The status of an error: that of the first cause of a known type, else `Other`.
    pub fn of_error(error: &anyhow::Error) -> Status {
        error
            .chain()
            .find_map(status_of_cause)
            .unwrap_or(Status::Other)
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status.code())
    }
}

fn status_of_cause(cause: &(dyn Error + 'static)) -> Option<Status> {
    // The reports' and scrapers' database errors are transparent: their `source` skips the
    // `DataError` itself, so the chain never yields it and they are unwrapped here.
    let data = cause
        .downcast_ref::<DataError>()
        .or_else(|| match cause.downcast_ref::<ReportError>() {
            Some(ReportError::Data(e)) => Some(e),
            _ => None,
        })
        .or_else(|| match cause.downcast_ref::<ScrapeError>() {
            Some(ScrapeError::Data(e)) => Some(e),
            _ => None,
        });
    if let Some(data) = data {
        return Some(match data {
            DataError::NoSuchRun(_)
            | DataError::RunExists(_)
            | DataError::NoSuchTest { .. }
            | DataError::NoSuchFlake { .. } => Status::Usage,
            _ => Status::Database,
        });
    }
    if cause.is::<ConfigError>() || cause.is::<RuleError>() {
        return Some(Status::Config);
    }
    if cause.is::<PodmanError>() || cause.is::<ExecError>() {
        return Some(Status::Executor);
    }
    None
}

/// The exit statuses as `gnfc --help` ends with them; README.md has the same table.
pub const HELP: &str = "\
Exit status:
  0    success
  1    a check failed: `diff --fail-on-regression` found a regression, `corpus check` a mismatch
  2    usage: a wrong command line, or a run, test or flake the database does not hold
  3    configuration: gnfc.toml, a run's stored config, or a rules or overrides file is invalid
  4    database: it cannot be opened, read or written
  5    executor: podman (no socket, a missing image, no runtime) or the sandbox failed
  6    partly done: some paths or repos failed (corpus add, forge add, fetch) or a scrape stopped
  101  any other error
  130  interrupted: `gnfc run --resume RUN` finishes the run";

#[cfg(test)]
mod unit {
    use super::*;

    const ALL: [Status; 9] = [
        Status::Ok,
        Status::CheckFailed,
        Status::Usage,
        Status::Config,
        Status::Database,
        Status::Executor,
        Status::Partial,
        Status::Other,
        Status::Interrupted,
    ];

    #[test]
    fn every_status_is_documented_in_help_and_readme() {
        let readme = include_str!("../../README.md");
        for status in ALL {
            let code = status.code();
            assert!(
                HELP.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{code} "))),
                "{status:?} ({code}) is not in the --help table"
            );
            assert!(
                readme.contains(&format!("| {code} |")),
                "{status:?} ({code}) is not in README.md's table"
            );
        }
    }

    #[test]
    fn errors_map_by_type_through_context_and_wrappers() {
        let no_run = anyhow::Error::from(DataError::NoSuchRun("x".to_owned()));
        assert_eq!(Status::of_error(&no_run), Status::Usage);
        let wrapped = anyhow::Error::from(ReportError::Data(DataError::Corrupt("x".to_owned())))
            .context("loading the run");
        assert_eq!(Status::of_error(&wrapped), Status::Database);
        let config = anyhow::Error::from(ConfigError::one("gnfc.toml", None, "bad".to_owned()))
            .context("reading the config");
        assert_eq!(Status::of_error(&config), Status::Config);
        let podman = anyhow::Error::from(PodmanError::Config("x".to_owned()));
        assert_eq!(Status::of_error(&podman), Status::Executor);
        // The message names a database, but the type is what counts.
        let other = anyhow::anyhow!("cannot open the database");
        assert_eq!(Status::of_error(&other), Status::Other);
    }
}
