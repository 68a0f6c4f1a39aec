//! Re-classifying a run's stored stderr after the rules changed, without re-running, and the
//! policy for the tests whose class is not simply their own stderr's.

use std::collections::{BTreeMap, HashMap};

use gnfc_classifier::{Input, Override, Overrides, RuleSet};
use gnfc_data::{ClassUpdate, Classification, Db, Outcome, OutputStatus, RunRow, StderrRow};
use indicatif::{ProgressBar, ProgressStyle};

use crate::procedure::{timeout_class, to_record};

/// Classifies every row with `rules` on all cores, with a progress bar unless quiet.
pub(crate) fn classify_rows(
    rules: &RuleSet,
    rows: &[StderrRow],
    quiet: bool,
) -> Vec<Classification> {
    let inputs: Vec<Input<'_>> = rows.iter().map(Input::from).collect();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        let style =
            ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} stderr classified")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        ProgressBar::new(inputs.len() as u64).with_style(style.progress_chars("=> "))
    };
    let classes = rules.classify_all(&inputs, &|_| bar.inc(1));
    bar.finish_and_clear();
    classes.into_iter().map(to_record).collect()
}

/// What a re-classification changed.
#[derive(Debug, Default)]
pub(crate) struct Moved {
    /// Stderr rows classified.
    pub rows: usize,
    /// (old class, new class) → how many tests and outputs moved.
    pub pairs: BTreeMap<(String, String), u64>,
}

impl Moved {
    fn count(&mut self, old: Option<&str>, new: &str) {
        let old = old.unwrap_or("none").to_owned();
        *self.pairs.entry((old, new.to_owned())).or_default() += 1;
    }

    pub(crate) fn total(&self) -> u64 {
        self.pairs.values().sum()
    }

    /// Says on stdout what moved in `run`.
    pub(crate) fn print(&self, run: &RunRow, rules: &RuleSet, overrides: &Overrides) {
        println!(
            "run '{}': {} stored stderr re-classified with {} rules and {} overrides; {} classes changed",
            run.name,
            self.rows,
            rules.len(),
            overrides.len(),
            self.total()
        );
        for ((old, new), count) in &self.pairs {
            println!("  {old} → {new}: {count}");
        }
    }
}

/// The class a test takes when it is not its own stderr's (`None`: it keeps that one, if it
/// has one). An override wins over everything; gnfc names timeouts itself, which also undoes
/// a removed override; a partial test is named after its first failed output, so it follows
/// that output's new class.
fn decided_class(
    outcome: Option<Outcome>,
    pinned: Option<&Override>,
    first_failed_output: Option<&Classification>,
) -> Option<Classification> {
    if let Some(pinned) = pinned {
        return Some(to_record(pinned.class()));
    }
    match outcome {
        Some(Outcome::Timeout) => Some(timeout_class()),
        Some(Outcome::Partial) => first_failed_output.cloned(),
        _ => None,
    }
}

/// Re-classifies a run's stored stderr with `rules`, applies `overrides` (which win), stores
/// the classes that changed and says what moved.
pub(crate) async fn reclassify(
    db: &Db,
    run: &RunRow,
    rules: &RuleSet,
    overrides: &Overrides,
    quiet: bool,
) -> anyhow::Result<Moved> {
    let rows = db.classified_stderr(run.id).await?;
    let classes = classify_rows(rules, &rows, quiet);
    let mut outputs_new: HashMap<(i64, &str), &Classification> = HashMap::new();
    let mut tests_new: HashMap<i64, Classification> = HashMap::new();
    let mut moved = Moved {
        rows: rows.len(),
        ..Moved::default()
    };
    let mut updates = Vec::new();
    for (row, class) in rows.iter().zip(&classes) {
        if row.attr_path.is_empty() {
            tests_new.insert(row.test_id, class.clone());
            continue;
        }
        outputs_new.insert((row.test_id, row.attr_path.as_str()), class);
        if row.class.as_deref() != Some(class.class.as_str()) {
            moved.count(row.class.as_deref(), &class.class);
            updates.push(ClassUpdate {
                test_id: row.test_id,
                attr_path: Some(row.attr_path.clone()),
                class: class.clone(),
            });
        }
    }
    // Outputs come in recorded order per test, so the first failed one seen is the first.
    let outputs = db.outputs(run.id).await?;
    let mut first_failed_outputs: HashMap<i64, &str> = HashMap::new();
    for output in outputs.iter().filter(|o| o.status == OutputStatus::Fail) {
        first_failed_outputs
            .entry(output.test_id)
            .or_insert(output.attr_path.as_str());
    }
    let tests = db.tests(run.id).await?;
    for test in &tests {
        let first_failed = first_failed_outputs
            .get(&test.id)
            .and_then(|attr| outputs_new.get(&(test.id, *attr)).copied());
        if let Some(class) = decided_class(test.outcome, overrides.get(test.id), first_failed) {
            tests_new.insert(test.id, class);
        }
    }
    for test in &tests {
        let Some(new) = tests_new.remove(&test.id) else {
            continue;
        };
        let unchanged = test.class.as_deref() == Some(new.class.as_str())
            && test.detail == new.detail
            && test.category.as_deref() == Some(new.category.as_str());
        if !unchanged {
            if test.class.as_deref() != Some(new.class.as_str()) {
                moved.count(test.class.as_deref(), &new.class);
            }
            updates.push(ClassUpdate {
                test_id: test.id,
                attr_path: None,
                class: new,
            });
        }
    }
    db.update_classes(&updates).await?;
    Ok(moved)
}

#[cfg(test)]
mod unit {
    use gnfc_classifier::Category;

    use super::*;

    fn output_class() -> Classification {
        Classification {
            class: "missing-attribute".to_owned(),
            category: "flake".to_owned(),
            detail: Some("foo".to_owned()),
        }
    }

    #[test]
    fn partial_tests_follow_their_first_failed_output() {
        let class = output_class();
        assert_eq!(
            decided_class(Some(Outcome::Partial), None, Some(&class)),
            Some(class)
        );
        assert_eq!(decided_class(Some(Outcome::Partial), None, None), None);
        assert_eq!(
            decided_class(Some(Outcome::LockFail), None, Some(&output_class())),
            None
        );
    }

    #[test]
    fn timeouts_are_gnfcs_and_overrides_win() {
        assert_eq!(
            decided_class(Some(Outcome::Timeout), None, None),
            Some(timeout_class())
        );
        let pinned = Override {
            class: "reviewed".to_owned(),
            category: Category::Flake,
            note: "checked by hand".to_owned(),
        };
        for outcome in [Outcome::Timeout, Outcome::Partial, Outcome::LockFail] {
            let class = decided_class(Some(outcome), Some(&pinned), Some(&output_class()));
            assert_eq!(class, Some(to_record(pinned.class())));
        }
    }
}
