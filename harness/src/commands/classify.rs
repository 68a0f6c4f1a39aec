//! `gnfc classify`: re-classify stored stderr after the rules changed, without re-running.
//! The triage views (`--explain`, `--unknown`, `--interactive`) live in `triage`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use gnfc_classifier::{Input, Overrides, RuleSet};
use gnfc_data::{ClassUpdate, Classification, Db, Outcome, OutputStatus, RunRow, StderrRow};
use indicatif::{ProgressBar, ProgressStyle};

use super::{pick_run, Context};
use crate::procedure::to_record;

/// The built-in rules followed by the user's files from `classifier.rules`.
pub(crate) fn load_rules(ctx: &Context) -> anyhow::Result<RuleSet> {
    RuleSet::builtin_and(&user_rule_files(ctx))
        .context("cannot load the classifier rules (classifier.rules in gnfc.toml)")
}

/// The user's rule files (`classifier.rules`), resolved against the config's directory.
pub(crate) fn user_rule_files(ctx: &Context) -> Vec<PathBuf> {
    let files = &ctx.config.config.classifier.rules;
    files.iter().map(|f| ctx.config.path(f)).collect()
}

/// The reviewed overrides named by `classifier.overrides`, if any.
pub(crate) fn load_overrides(ctx: &Context, rules: &RuleSet) -> anyhow::Result<Overrides> {
    match &ctx.config.config.classifier.overrides {
        Some(file) => Overrides::load(&ctx.config.path(file), rules)
            .context("cannot load the reviewed overrides (classifier.overrides in gnfc.toml)"),
        None => Ok(Overrides::default()),
    }
}

/// Classifies every row with `rules` on all cores, with a progress bar unless quiet.
pub(crate) fn classify_rows(
    rules: &RuleSet,
    rows: &[StderrRow],
    quiet: bool,
) -> Vec<Classification> {
    let inputs: Vec<Input<'_>> = rows
        .iter()
        .map(|row| Input {
            stage: row.stage,
            implementation: Some(&row.implementation),
            stderr: &row.text.kept,
        })
        .collect();
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

pub async fn classify(ctx: &Context, run: Option<&str>) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let rules = load_rules(ctx)?;
    let overrides = load_overrides(ctx, &rules)?;
    let moved = reclassify(&db, &run, &rules, &overrides, ctx.quiet).await?;
    print_moved(&run, &rules, &overrides, &moved);
    Ok(ExitCode::SUCCESS)
}

/// What a re-classification changed.
#[derive(Debug, Default)]
pub(crate) struct Moved {
    /// Stderr rows classified.
    pub rows: usize,
    /// (old class, new class) → how many tests and outputs moved.
    pub pairs: BTreeMap<(String, String), u64>,
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
    // A partial test is named after its first failed output, so it follows that output.
    let outputs = db.outputs(run.id).await?;
    let tests = db.tests(run.id).await?;
    for test in &tests {
        if test.outcome == Some(Outcome::Partial) {
            let first_failed = outputs
                .iter()
                .find(|o| o.test_id == test.id && o.status == OutputStatus::Fail);
            if let Some(class) =
                first_failed.and_then(|o| outputs_new.get(&(test.id, o.attr_path.as_str())))
            {
                tests_new.insert(test.id, (*class).clone());
            }
        }
        if let Some(pinned) = overrides.get(test.id) {
            tests_new.insert(test.id, to_record(pinned.class()));
        } else if test.outcome == Some(Outcome::Timeout) {
            // gnfc names timeouts itself; this also undoes a removed override.
            tests_new.insert(test.id, crate::procedure::timeout_class());
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

impl Moved {
    fn count(&mut self, old: Option<&str>, new: &str) {
        let old = old.unwrap_or("none").to_owned();
        *self.pairs.entry((old, new.to_owned())).or_default() += 1;
    }

    pub(crate) fn total(&self) -> u64 {
        self.pairs.values().sum()
    }
}

pub(crate) fn print_moved(run: &RunRow, rules: &RuleSet, overrides: &Overrides, moved: &Moved) {
    println!(
        "run '{}': {} stored stderr re-classified with {} rules and {} overrides; {} classes changed",
        run.name,
        moved.rows,
        rules.len(),
        overrides.len(),
        moved.total()
    );
    for ((old, new), count) in &moved.pairs {
        println!("  {old} → {new}: {count}");
    }
}
