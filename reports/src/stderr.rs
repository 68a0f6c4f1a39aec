//! The stored stderr that explains a failed test, and its first error line.

use gnfc_data::{Db, Outcome, OutputStatus, Stage};

use crate::dataset::{RunData, TestResult};
use crate::ReportError;

/// The stage (and output) whose stderr explains a test's outcome.
fn failing_stage(data: &RunData, test: &TestResult) -> Option<(Stage, String)> {
    match test.outcome? {
        Outcome::Pass | Outcome::Skipped => None,
        Outcome::LockFail => Some((Stage::Lock, String::new())),
        Outcome::EnumerateFail => Some((Stage::Enumerate, String::new())),
        Outcome::HarnessError => Some((Stage::Prepare, String::new())),
        Outcome::Partial | Outcome::Timeout => data
            .outputs_of(test)
            .iter()
            .find(|o| o.status != OutputStatus::Pass)
            .map(|o| (Stage::Eval, data.strings.get(o.attr).to_owned())),
    }
}

/// The failing stage's stderr as text (lossy), with its stage and output.
pub(crate) async fn failing_stderr(
    db: &Db,
    data: &RunData,
    test: &TestResult,
) -> Result<Option<(Stage, String, String)>, ReportError> {
    let Some((stage, attr)) = failing_stage(data, test) else {
        return Ok(None);
    };
    Ok(db
        .stderr(test.id, stage, &attr)
        .await?
        .map(|s| (stage, attr, String::from_utf8_lossy(&s.kept).into_owned())))
}

/// The first line that says `error:` (else the first non-empty line).
pub(crate) fn first_error_line(stderr: &str) -> Option<String> {
    let line = stderr
        .lines()
        .find(|l| l.contains("error:"))
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))?;
    let line = line.trim();
    Some(match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    })
}

#[cfg(test)]
mod unit {
    use super::first_error_line;

    #[test]
    fn first_error_line_skips_warnings_and_is_bounded() {
        let text = "warning: Git tree is dirty\n\nerror: syntax error, unexpected '}'\n  at x\n";
        assert_eq!(
            first_error_line(text).as_deref(),
            Some("error: syntax error, unexpected '}'")
        );
        assert_eq!(first_error_line("\n  hello \n").as_deref(), Some("hello"));
        assert_eq!(first_error_line(""), None);
        let long = format!("error: {}", "é".repeat(500));
        assert!(first_error_line(&long).unwrap().chars().count() <= 201);
    }
}
