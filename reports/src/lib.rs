//! What a run found, for people (HTML, Markdown), programs (JSON) and researchers (CSV), and
//! how runs and combos compare.
//!
//! Reports read the database only; they never re-run or re-classify anything. Every
//! comparison goes through one model ([`compare::compare`]).

pub mod compare;
mod csv;
pub mod dataset;
mod diff;
mod error;
pub mod history;
mod html;
mod json;
pub mod lock_diff;
pub mod lockfiles;
mod markdown;
pub mod pairs;
mod plots;
mod retry;
mod stderr;

pub use compare::{Comparison, Side};
pub use csv::{outputs_csv, tests_csv};
pub use dataset::RunData;
pub use diff::{diff_runs, Regression, RunDiff};
pub use error::ReportError;
pub use history::{flake_history, history_text, FlakeHistory};
pub use html::html_report;
pub use json::{json_report, JSON_SCHEMA_VERSION};
pub use lock_diff::{lock_diff, lock_diff_text, LockDiff};
pub use markdown::{compare_markdown, diff_markdown, report_markdown, summary_markdown};
pub use pairs::{compare_pair, PairComparison, PairSide};
pub use retry::retry_list;

use gnfc_data::{ComboCount, Db, Outcome};
use serde::Serialize;

use crate::lockfiles::{DrvDivergence, LockAnalysis};

/// `implementation/resolver`: how a combo is written everywhere.
pub fn combo_name(implementation: &str, resolver: &str) -> String {
    format!("{implementation}/{resolver}")
}

/// Per combo: count of each outcome, in [`Outcome::ALL`] order, and the total.
pub(crate) fn outcome_table(counts: &[ComboCount]) -> Vec<(String, Vec<usize>, usize)> {
    let mut table: Vec<(String, Vec<usize>, usize)> = Vec::new();
    for c in counts {
        let combo = combo_name(&c.implementation, &c.resolver);
        if table.last().is_none_or(|(name, _, _)| *name != combo) {
            table.push((combo, vec![0; Outcome::ALL.len()], 0));
        }
        if let Some((_, row, total)) = table.last_mut() {
            let count = usize::try_from(c.count).unwrap_or(0);
            if let Some(i) = Outcome::ALL.iter().position(|o| o.as_str() == c.key) {
                row[i] += count;
            }
            *total += count;
        }
    }
    table
}

/// The tests of a row of outcome counts (in [`Outcome::ALL`] order) that applied: the base of
/// every share, since a skipped test is neither a pass nor a failure.
pub(crate) fn applicable(row: &[usize]) -> usize {
    Outcome::ALL
        .iter()
        .zip(row)
        .filter(|(o, _)| o.applies())
        .map(|(_, count)| count)
        .sum()
}

/// An outcome count's percentage of the tests that applied; `None` for skipped tests, which
/// every format shows apart, as a count only.
pub(crate) fn outcome_share(outcome: Outcome, count: usize, row: &[usize]) -> Option<f64> {
    outcome
        .applies()
        .then(|| 100.0 * count as f64 / applicable(row).max(1) as f64)
}

/// drvPath divergence between the two combos of a pair.
#[derive(Debug, Clone, Serialize)]
pub struct PairDivergence {
    pub a: String,
    pub b: String,
    pub count: usize,
    /// The first [`lockfiles::LIST_LIMIT`].
    pub outputs: Vec<DrvDivergence>,
}

/// Everything derived from a run beyond its raw results.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Combos that differ in implementation only or resolver only, compared.
    pub pairs: Vec<PairComparison>,
    pub lockfiles: LockAnalysis,
    pub drv_divergence: Vec<PairDivergence>,
}

/// Compares the natural pairs of combos, and analyses lockfiles and drvPaths.
pub async fn analyse(db: &Db, data: &RunData) -> Result<Analysis, ReportError> {
    let lockfiles = lockfiles::analyse_locks(db, data).await?;
    let mut pairs = Vec::new();
    let mut drv_divergence = Vec::new();
    for (a, b) in pairs::natural_pairs(data) {
        pairs.push(compare_pair(
            PairSide { data, combo: a },
            PairSide { data, combo: b },
        ));
        let (count, outputs) = lockfiles::drv_divergence(data, a, b);
        drv_divergence.push(PairDivergence {
            a: data.combos[a as usize].clone(),
            b: data.combos[b as usize].clone(),
            count,
            outputs,
        });
    }
    Ok(Analysis {
        pairs,
        lockfiles,
        drv_divergence,
    })
}

/// Outcome counts per combo (`combos × Outcome::ALL`) computed from loaded data.
pub(crate) fn outcome_counts(data: &RunData) -> Vec<Vec<usize>> {
    let mut counts = vec![vec![0usize; Outcome::ALL.len()]; data.combos.len()];
    for t in &data.tests {
        if let (Some(o), Some(row)) = (t.outcome, counts.get_mut(t.combo as usize)) {
            if let Some(i) = Outcome::ALL.iter().position(|x| *x == o) {
                row[i] += 1;
            }
        }
    }
    counts
}
