use std::fmt::Write;

use gnfc_data::{DataError, Db, Outcome, RunRow};

use crate::{combo_name, outcome_table};

/// How many error classes the summary lists.
const TOP_CLASSES: usize = 10;

/// The run summary: outcomes per combo (counts and shares) and the most frequent error
/// classes. Fits a CI comment.
pub async fn summary_markdown(db: &Db, run: &RunRow) -> Result<String, DataError> {
    let outcomes = db.outcome_counts(run.id).await?;
    let classes = db.class_counts(run.id).await?;
    let mut md = String::new();
    let state = if run.finished_at.is_some() {
        "finished".to_owned()
    } else {
        format!("unfinished — resume with `gnfc run --resume {}`", run.name)
    };
    let _ = writeln!(md, "## gnfc run `{}`\n", run.name);
    let _ = writeln!(
        md,
        "{} of {} tests recorded, {state}.\n",
        run.done, run.planned
    );

    md.push_str("| combo | tests |");
    for o in Outcome::ALL {
        let _ = write!(md, " {o} |");
    }
    md.push_str("\n|---|---:|");
    md.push_str(&"---:|".repeat(Outcome::ALL.len()));
    md.push('\n');
    for (combo, row, total) in outcome_table(&outcomes) {
        let _ = write!(md, "| {combo} | {total} |");
        for count in row {
            let share = if total > 0 {
                100.0 * count as f64 / total as f64
            } else {
                0.0
            };
            let _ = write!(md, " {count} ({share:.0}%) |");
        }
        md.push('\n');
    }

    if !classes.is_empty() {
        let _ = writeln!(md, "\n### Top error classes\n");
        md.push_str("| class | category | combo | tests |\n|---|---|---|---:|\n");
        for c in classes.iter().take(TOP_CLASSES) {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                c.key,
                c.category.as_deref().unwrap_or("-"),
                combo_name(&c.implementation, &c.resolver),
                c.count
            );
        }
        if classes.len() > TOP_CLASSES {
            let _ = writeln!(
                md,
                "\n…and {} more (class, combo) pairs: `gnfc report --format json`.",
                classes.len() - TOP_CLASSES
            );
        }
    }
    Ok(md)
}
