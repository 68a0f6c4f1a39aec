//! What the rules leave `unknown`, grouped by kind.

use std::collections::HashMap;

use gnfc_data::{class, Classification, StderrRow};

use super::group_key;

/// One kind of unknown failure: its key and every stderr that has it.
#[derive(Debug)]
pub struct Group<'a> {
    pub key: String,
    pub rows: Vec<&'a StderrRow>,
}

/// The rows classed `unknown` (`classes[i]` is the class of `rows[i]`), grouped by
/// normalised first error line, biggest group first and equal ones by key, so the order is
/// the same on every call.
pub fn unknown_groups<'a>(rows: &'a [StderrRow], classes: &[Classification]) -> Vec<Group<'a>> {
    let mut by_key: HashMap<String, Vec<&StderrRow>> = HashMap::new();
    for (row, class) in rows.iter().zip(classes) {
        if class.class == class::UNKNOWN {
            by_key
                .entry(group_key(&row.text.kept))
                .or_default()
                .push(row);
        }
    }
    let mut groups: Vec<Group<'_>> = by_key
        .into_iter()
        .map(|(key, rows)| Group { key, rows })
        .collect();
    groups.sort_by(|a, b| b.rows.len().cmp(&a.rows.len()).then(a.key.cmp(&b.key)));
    groups
}

/// How many failures `groups` hold together.
pub fn unknown_count(groups: &[Group<'_>]) -> usize {
    groups.iter().map(|g| g.rows.len()).sum()
}

#[cfg(test)]
pub(super) mod unit {
    use gnfc_data::{Stage, StoredStderr};

    use super::*;

    pub(in crate::triage) fn row(test_id: i64, stderr: &str) -> StderrRow {
        StderrRow {
            test_id,
            implementation: "nix-2.26".to_owned(),
            stage: Stage::Eval,
            attr_path: String::new(),
            text: StoredStderr {
                kept: stderr.as_bytes().to_vec(),
                total_bytes: stderr.len() as i64,
            },
            class: None,
        }
    }

    pub(in crate::triage) fn classed(id: &str) -> Classification {
        Classification {
            class: id.to_owned(),
            category: "unknown".to_owned(),
            detail: None,
        }
    }

    #[test]
    fn unknown_rows_group_by_kind_biggest_first() {
        let rows = [
            row(1, "error: odd file '/tmp/a'"),
            row(2, "error: strange 1"),
            row(3, "error: odd file '/tmp/b'"),
            row(4, "error: odd file '/tmp/c'"),
            row(5, "error: strange 2"),
            row(6, "error: also rare"),
        ];
        let classes = [
            classed("unknown"),
            classed("unknown"),
            classed("unknown"),
            classed("known-rule"),
            classed("unknown"),
            classed("unknown"),
        ];
        let groups = unknown_groups(&rows, &classes);
        let shape: Vec<(&str, Vec<i64>)> = groups
            .iter()
            .map(|g| (g.key.as_str(), g.rows.iter().map(|r| r.test_id).collect()))
            .collect();
        assert_eq!(
            shape,
            [
                ("error: odd file '<path>'", vec![1, 3]),
                ("error: strange <n>", vec![2, 5]),
                ("error: also rare", vec![6]),
            ]
        );
        assert_eq!(unknown_count(&groups), 5);
    }
}
