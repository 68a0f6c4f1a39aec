//! What a run found, for people (Markdown) and programs (JSON).
//!
//! Reports read the database only; they never re-run or re-classify anything.

mod json;
mod markdown;

pub use json::{json_report, JSON_SCHEMA_VERSION};
pub use markdown::summary_markdown;

use gnfc_data::{ComboCount, Outcome};

/// `implementation/resolver`: how a combo is written everywhere.
pub fn combo_name(implementation: &str, resolver: &str) -> String {
    format!("{implementation}/{resolver}")
}

/// Per combo: count of each outcome, in [`Outcome::ALL`] order, and the total.
pub(crate) fn outcome_table(counts: &[ComboCount]) -> Vec<(String, Vec<i64>, i64)> {
    let mut table: Vec<(String, Vec<i64>, i64)> = Vec::new();
    for c in counts {
        let combo = combo_name(&c.implementation, &c.resolver);
        if table.last().is_none_or(|(name, _, _)| *name != combo) {
            table.push((combo, vec![0; Outcome::ALL.len()], 0));
        }
        if let Some((_, row, total)) = table.last_mut() {
            if let Some(i) = Outcome::ALL.iter().position(|o| o.as_str() == c.key) {
                row[i] += c.count;
            }
            *total += c.count;
        }
    }
    table
}
