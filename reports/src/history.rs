//! One flake across runs: its result per run and combo, runs in the order they started, and
//! where a combo's result changed ("started failing in run X").

use std::collections::HashMap;
use std::fmt::Write as _;

use gnfc_data::{verdict, FlakeRow, Outcome, RunRow, TestRow};
use serde::Serialize;

use crate::combo_name;

/// A flake's results in every run that tested it.
#[derive(Debug, Clone, Serialize)]
pub struct FlakeHistory {
    pub flake: String,
    /// Every combo any run tested it with, sorted.
    pub combos: Vec<String>,
    /// Oldest first.
    pub runs: Vec<HistoryRun>,
    /// Every change of a combo's result from one run to the next that recorded it.
    pub changes: Vec<Change>,
}

/// One run's results of the flake, one cell per combo of [`FlakeHistory::combos`].
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRun {
    pub run_id: i64,
    pub name: String,
    pub started_at: i64,
    /// The snapshot the run tested.
    pub revision: String,
    pub results: Vec<Option<Cell>>,
}

/// One test's result.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub test_id: i64,
    /// `outcome (class)`, `pending` before it ran.
    pub verdict: String,
    /// Differs from this combo's result in the previous run that recorded one.
    pub changed: bool,
}

/// What a change of result means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    StartedFailing,
    StartedPassing,
    Changed,
}

/// A combo whose result in `run` differs from its result in the previous run.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub combo: String,
    pub kind: ChangeKind,
    pub run: String,
    pub test_id: i64,
    pub from: String,
    pub to: String,
}

/// A flake's history from its snapshots and tests (as [`gnfc_data::Db::flake_tests`] gives
/// them, runs in start order) and the runs.
pub fn flake_history(runs: &[RunRow], snapshots: &[FlakeRow], tests: &[TestRow]) -> FlakeHistory {
    let mut combos: Vec<String> = tests
        .iter()
        .map(|t| combo_name(&t.implementation, &t.resolver))
        .collect();
    combos.sort();
    combos.dedup();
    let revision: HashMap<i64, &str> = snapshots
        .iter()
        .map(|s| (s.id, s.revision.as_str()))
        .collect();
    let run_of: HashMap<i64, &RunRow> = runs.iter().map(|r| (r.id, r)).collect();
    let mut history = FlakeHistory {
        flake: snapshots.first().map(FlakeRow::label).unwrap_or_default(),
        combos,
        runs: Vec::new(),
        changes: Vec::new(),
    };
    // The last recorded result of each combo: (outcome, verdict).
    let mut last: Vec<Option<(Outcome, String)>> = vec![None; history.combos.len()];
    for test in tests {
        if history.runs.last().is_none_or(|r| r.run_id != test.run_id) {
            let run = run_of.get(&test.run_id);
            history.runs.push(HistoryRun {
                run_id: test.run_id,
                name: run.map_or_else(|| test.run_id.to_string(), |r| r.name.clone()),
                started_at: run.map_or(0, |r| r.started_at),
                revision: revision
                    .get(&test.flake_id)
                    .copied()
                    .unwrap_or("")
                    .to_owned(),
                results: vec![None; history.combos.len()],
            });
        }
        let combo = combo_name(&test.implementation, &test.resolver);
        let Ok(ci) = history.combos.binary_search(&combo) else {
            continue;
        };
        let now = verdict(test.outcome, test.class.as_deref());
        let mut changed = false;
        if let Some(outcome) = test.outcome {
            if let Some((before, was)) = last[ci].replace((outcome, now.clone())) {
                if was != now {
                    changed = true;
                    history.changes.push(Change {
                        combo,
                        kind: kind(before, outcome),
                        run: history
                            .runs
                            .last()
                            .map(|r| r.name.clone())
                            .unwrap_or_default(),
                        test_id: test.id,
                        from: was,
                        to: now.clone(),
                    });
                }
            }
        }
        if let Some(run) = history.runs.last_mut() {
            run.results[ci] = Some(Cell {
                test_id: test.id,
                verdict: now,
                changed,
            });
        }
    }
    history
}

fn kind(before: Outcome, now: Outcome) -> ChangeKind {
    let fails = |o: Outcome| o != Outcome::Pass && o.applies();
    match (before, now) {
        (Outcome::Pass, now) if fails(now) => ChangeKind::StartedFailing,
        (before, Outcome::Pass) if fails(before) => ChangeKind::StartedPassing,
        _ => ChangeKind::Changed,
    }
}

/// The history as a table (a changed result is marked `*`) and the list of changes.
pub fn history_text(history: &FlakeHistory) -> String {
    let mut header = vec![
        "run".to_owned(),
        "started (UTC)".to_owned(),
        "revision".to_owned(),
    ];
    header.extend(history.combos.iter().cloned());
    let mut rows = vec![header];
    for run in &history.runs {
        let mut row = vec![
            run.name.clone(),
            utc_minute(run.started_at),
            run.revision.chars().take(19).collect(),
        ];
        row.extend(run.results.iter().map(|cell| match cell {
            Some(c) => format!("{}{}", c.verdict, if c.changed { " *" } else { "" }),
            None => "-".to_owned(),
        }));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{}: {} run{}, {} combo{}\n\n",
        history.flake,
        history.runs.len(),
        if history.runs.len() == 1 { "" } else { "s" },
        history.combos.len(),
        if history.combos.len() == 1 { "" } else { "s" },
    );
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out.push('\n');
    if history.changes.is_empty() {
        out.push_str("no combo's result changed between runs\n");
    }
    for c in &history.changes {
        let what = match c.kind {
            ChangeKind::StartedFailing => "started failing",
            ChangeKind::StartedPassing => "started passing",
            ChangeKind::Changed => "changed",
        };
        let _ = writeln!(
            out,
            "* {}: {what} in run '{}' (test {}): {} → {}",
            c.combo, c.run, c.test_id, c.from, c.to
        );
    }
    out
}

/// `YYYY-MM-DD HH:MM` of a time in ms since the epoch.
fn utc_minute(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else {
        return ms.to_string();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    fn run(id: i64, name: &str) -> RunRow {
        RunRow {
            id,
            name: name.to_owned(),
            config: String::new(),
            host: String::new(),
            started_at: 1_796_000_000_000 + id * 60_000,
            finished_at: None,
            planned: 2,
            done: 2,
        }
    }

    fn test(
        id: i64,
        run_id: i64,
        resolver: &str,
        outcome: Outcome,
        class: Option<&str>,
    ) -> TestRow {
        TestRow {
            id,
            run_id,
            flake_id: run_id,
            flake: "o/r".to_owned(),
            implementation: "nix-2.8".to_owned(),
            resolver: resolver.to_owned(),
            outcome: Some(outcome),
            class: class.map(str::to_owned),
            category: None,
            detail: None,
            exit_code: None,
            lock_ms: None,
            enumerate_ms: None,
            eval_ms: None,
            total_ms: None,
            lockfile_hash: None,
            attempt: 1,
            outputs_total: 0,
            outputs_failed: 0,
            flaky: false,
            flaky_first_outcome: None,
            flaky_first_class: None,
        }
    }

    #[test]
    fn changes_are_found_per_combo_between_recorded_runs() {
        let runs = [run(1, "a"), run(2, "b"), run(3, "c")];
        let tests = [
            test(1, 1, "native", Outcome::Pass, None),
            test(2, 1, "committed", Outcome::LockFail, Some("x")),
            test(3, 2, "native", Outcome::EnumerateFail, Some("syntax")),
            test(4, 2, "committed", Outcome::LockFail, Some("x")),
            test(5, 3, "native", Outcome::Pass, None),
            test(6, 3, "committed", Outcome::LockFail, Some("y")),
        ];
        let h = flake_history(&runs, &[], &tests);
        assert_eq!(h.combos, ["nix-2.8/committed", "nix-2.8/native"]);
        assert_eq!(
            h.runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        let kinds: Vec<(&str, ChangeKind, &str)> = h
            .changes
            .iter()
            .map(|c| (c.combo.as_str(), c.kind, c.run.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("nix-2.8/native", ChangeKind::StartedFailing, "b"),
                ("nix-2.8/native", ChangeKind::StartedPassing, "c"),
                ("nix-2.8/committed", ChangeKind::Changed, "c"),
            ]
        );
        let text = history_text(&h);
        assert!(
            text.contains("* nix-2.8/native: started failing in run 'b' (test 3): pass → enumerate-fail (syntax)"),
            "{text}"
        );
        assert!(text.contains("enumerate-fail (syntax) *"), "{text}");
    }
}
