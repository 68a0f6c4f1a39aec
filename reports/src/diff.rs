//! Run against run: each combo of the new run compared with the same combo of the old one.

use std::collections::{BTreeMap, BTreeSet};

use gnfc_data::Db;
use serde::Serialize;

use crate::compare::Comparison;
use crate::dataset::RunData;
use crate::pairs::{compare_pair, PairComparison, PairSide};
use crate::stderr::{failing_stderr, first_error_line};
use crate::ReportError;

/// A flake that regressed (not spuriously) in the new run.
#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    /// The regressed test of the new run.
    #[serde(skip)]
    pub test_id: Option<i64>,
    pub flake: String,
    pub combo: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub class: Option<String>,
    pub first_error_line: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunDiff {
    pub old: String,
    pub new: String,
    /// One per combo of either run, old combo as side a.
    pub combos: Vec<PairComparison>,
    pub regressions: Vec<Regression>,
}

impl RunDiff {
    /// Whether any flake regressed for a reason of its own or of the implementation.
    pub fn has_regression(&self) -> bool {
        !self.regressions.is_empty()
    }
}

/// Compares every combo of `new` with the same combo of `old`.
pub async fn diff_runs(db: &Db, old: &RunData, new: &RunData) -> Result<RunDiff, ReportError> {
    let names: BTreeSet<&String> = old.combos.iter().chain(&new.combos).collect();
    let mut combos = Vec::new();
    let mut regressions = Vec::new();
    for name in names {
        let (ca, cb) = match (old.combo_named(name), new.combo_named(name)) {
            (Some(ca), Some(cb)) => (ca, cb),
            (one_a, one_b) => {
                // A combo only one run has: every flake of it is missing on the other side.
                let (data, combo) = match one_a {
                    Some(c) => (old, c),
                    None => (new, one_b.unwrap_or_default()),
                };
                let n = data.tests.iter().filter(|t| t.combo == combo).count();
                combos.push(PairComparison {
                    a: name.clone(),
                    b: name.clone(),
                    counts: BTreeMap::from([(Comparison::Missing, n)]),
                    changes: Vec::new(),
                });
                continue;
            }
        };
        let pair = compare_pair(
            PairSide {
                data: old,
                combo: ca,
            },
            PairSide {
                data: new,
                combo: cb,
            },
        );
        for change in pair
            .changes
            .iter()
            .filter(|c| c.comparison == Comparison::Regressed)
        {
            let test = new.flake_named(&change.flake).and_then(|f| new.test(f, cb));
            let line = match test {
                Some(t) => failing_stderr(db, new, t)
                    .await?
                    .and_then(|(_, _, text)| first_error_line(&text)),
                None => None,
            };
            regressions.push(Regression {
                test_id: change.b_test,
                flake: change.flake.clone(),
                combo: name.clone(),
                old: change.a.clone(),
                new: change.b.clone(),
                class: change.class.clone(),
                first_error_line: line,
            });
        }
        combos.push(pair);
    }
    Ok(RunDiff {
        old: old.run.name.clone(),
        new: new.run.name.clone(),
        combos,
        regressions,
    })
}
