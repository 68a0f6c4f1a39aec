//! `gnfc classify`: re-classify stored stderr after the rules changed, without re-running.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use gnfc_classifier::RuleSet;
use gnfc_data::{ClassUpdate, Classification, Outcome, OutputStatus};

use super::{pick_run, Context};
use crate::procedure::to_record;

pub async fn classify(ctx: &Context, run: Option<&str>) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let rules = RuleSet::builtin()?;
    let rows = db.classified_stderr(run.id).await?;
    let mut updates = Vec::new();
    let mut moved: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut output_class: HashMap<(i64, &str), Classification> = HashMap::new();
    for row in &rows {
        let class = to_record(rules.classify(row.stage, &row.text.kept));
        if !row.attr_path.is_empty() {
            output_class.insert((row.test_id, row.attr_path.as_str()), class.clone());
        }
        let old = row.class.clone().unwrap_or_else(|| "none".to_owned());
        if old != class.class {
            *moved.entry((old, class.class.clone())).or_default() += 1;
            updates.push(ClassUpdate {
                test_id: row.test_id,
                attr_path: (!row.attr_path.is_empty()).then(|| row.attr_path.clone()),
                class,
            });
        }
    }
    // A partial test is named after its first failed output, so it follows that output.
    let outputs = db.outputs(run.id).await?;
    for test in db.tests(run.id).await? {
        if test.outcome != Some(Outcome::Partial) {
            continue;
        }
        let first_failed = outputs
            .iter()
            .find(|o| o.test_id == test.id && o.status == OutputStatus::Fail);
        let new = first_failed.and_then(|o| output_class.get(&(test.id, o.attr_path.as_str())));
        if let Some(new) = new.filter(|new| test.class.as_deref() != Some(new.class.as_str())) {
            updates.push(ClassUpdate {
                test_id: test.id,
                attr_path: None,
                class: new.clone(),
            });
        }
    }
    db.update_classes(&updates).await?;
    println!(
        "run '{}': {} stored stderr re-classified with {} rules; {} classes changed",
        run.name,
        rows.len(),
        rules.len(),
        updates.len()
    );
    for ((old, new), count) in &moved {
        println!("  {old} → {new}: {count}");
    }
    Ok(ExitCode::SUCCESS)
}
