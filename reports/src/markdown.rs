use std::fmt::Write;

use gnfc_data::{Db, Outcome, RunRow};

use crate::compare::Comparison;
use crate::diff::RunDiff;
use crate::pairs::PairComparison;
use crate::{combo_name, outcome_share, outcome_table, Analysis, ReportError};

/// How many flakes a Markdown list names before saying how many more there are.
const LIST_FLAKES: usize = 20;

/// How many error classes the summary lists.
const TOP_CLASSES: usize = 10;

/// The run summary: outcomes per combo (counts, and shares of the tests that applied) and the
/// most frequent error classes. Fits a CI comment.
pub async fn summary_markdown(db: &Db, run: &RunRow) -> Result<String, ReportError> {
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
        for (o, count) in Outcome::ALL.iter().zip(&row) {
            match outcome_share(*o, *count, &row) {
                Some(share) => write!(md, " {count} ({share:.0}%) |"),
                None => write!(md, " {count} |"),
            }
            .ok();
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

/// The summary, then the combo comparisons, lockfile analysis and drvPath divergence.
pub async fn report_markdown(
    db: &Db,
    run: &RunRow,
    analysis: &Analysis,
) -> Result<String, ReportError> {
    let mut md = summary_markdown(db, run).await?;
    if !analysis.pairs.is_empty() {
        md.push_str("\n### Combo comparisons\n\n");
        counts_table(&mut md, "a → b", &analysis.pairs);
    }
    let locks = &analysis.lockfiles;
    if locks.per_combo.iter().any(|s| s.locks > 0) {
        md.push_str("\n### Lockfiles\n\n| combo | locks | mean inputs | median | with duplicated inputs |\n|---|---:|---:|---:|---:|\n");
        for s in &locks.per_combo {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {} | {} |",
                s.combo, s.locks, s.mean, s.median, s.locks_with_duplicates
            );
        }
        let _ = writeln!(
            md,
            "\n{} of {} flakes locked by several combos got the same pins.",
            locks.flakes_agreeing, locks.flakes_compared
        );
    }
    for d in analysis.drv_divergence.iter().filter(|d| d.count > 0) {
        let _ = writeln!(
            md,
            "\n{} outputs evaluate to different drvPaths under {} and {}.",
            d.count, d.a, d.b
        );
    }
    Ok(md)
}

/// One row per pair: how many flakes fall in each comparison.
fn counts_table(md: &mut String, label: &str, pairs: &[PairComparison]) {
    let _ = write!(md, "| {label} |");
    for c in Comparison::ALL {
        let _ = write!(md, " {c} |");
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(Comparison::ALL.len()));
    md.push('\n');
    for p in pairs {
        let _ = write!(md, "| {} → {} |", p.a, p.b);
        for c in Comparison::ALL {
            let _ = write!(md, " {} |", p.count(*c));
        }
        md.push('\n');
    }
}

/// `gnfc compare`: counts, then the changed flakes grouped by comparison and error class.
pub fn compare_markdown(run: &str, pair: &PairComparison) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## `{}` vs `{}` in run `{run}`\n", pair.a, pair.b);
    counts_table(&mut md, "a → b", std::slice::from_ref(pair));
    let groups = pair.groups();
    if groups.is_empty() {
        md.push_str("\nNo flake differs.\n");
        return md;
    }
    md.push_str("\n| comparison | class | flakes | which |\n|---|---|---:|---|\n");
    for g in groups {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            g.comparison,
            g.class.as_deref().unwrap_or("-"),
            g.count,
            flake_list(&g.flakes)
        );
    }
    md
}

/// `gnfc diff`: counts per combo and comparison, then every regression.
pub fn diff_markdown(diff: &RunDiff) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## gnfc diff `{}` → `{}`\n", diff.old, diff.new);
    counts_table(&mut md, "combo", &diff.combos);
    if diff.regressions.is_empty() {
        md.push_str("\nNo regressions.\n");
        return md;
    }
    let _ = writeln!(md, "\n### {} regressions\n", diff.regressions.len());
    md.push_str("| flake | combo | was | now | first error line |\n|---|---|---|---|---|\n");
    for r in &diff.regressions {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            r.flake,
            r.combo,
            r.old.as_deref().unwrap_or("-"),
            r.new.as_deref().unwrap_or("-"),
            r.first_error_line
                .as_deref()
                .map_or("-".to_owned(), |l| format!(
                    "`{}`",
                    l.replace('|', "\\|").replace('`', "'")
                ))
        );
    }
    md
}

fn flake_list(flakes: &[String]) -> String {
    let mut s = flakes
        .iter()
        .take(LIST_FLAKES)
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if flakes.len() > LIST_FLAKES {
        let _ = write!(s, " and {} more", flakes.len() - LIST_FLAKES);
    }
    s
}
