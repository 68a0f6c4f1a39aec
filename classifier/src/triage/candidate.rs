//! What a candidate rule would do to a run's classes, before it is written anywhere.

use gnfc_data::{class, Classification, StderrRow};

use crate::{Category, Input, RuleSet, RuleSpec};

/// The id a candidate rule is tried under, until it is given its own.
pub const CANDIDATE_ID: &str = "candidate";

/// A rule for `pattern` under [`CANDIDATE_ID`], to try with
/// [`RuleSetBuilder::build_with`](crate::RuleSetBuilder::build_with) and [`score`].
pub fn candidate_rule(pattern: &str) -> RuleSpec {
    RuleSpec::new(CANDIDATE_ID, pattern, Category::Unknown, CANDIDATE_ID)
}

/// How the candidate changes the classes of a run's stderr.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// Stderr classed `unknown` now.
    pub unknown: usize,
    /// Of those, the ones the candidate would name.
    pub caught: usize,
    /// Stderr an existing rule names now that the candidate would take: it comes before it.
    pub stolen: usize,
    /// Stderr the candidate matches too but that keeps its earlier rule.
    pub overlap: usize,
}

/// Scores `candidate`, a rule set holding a [`CANDIDATE_ID`] rule, against `rows` whose
/// current classes are `classes`.
pub fn score(candidate: &RuleSet, rows: &[StderrRow], classes: &[Classification]) -> Effect {
    let inputs: Vec<Input<'_>> = rows.iter().map(Input::from).collect();
    let new = candidate.classify_all(&inputs, &|_| {});
    let mut effect = Effect::default();
    for ((old, new), input) in classes.iter().zip(&new).zip(&inputs) {
        let caught = new.id == CANDIDATE_ID;
        if old.class == class::UNKNOWN {
            effect.unknown += 1;
            effect.caught += usize::from(caught);
        } else if caught {
            effect.stolen += 1;
        } else {
            let hits = candidate.explain(*input).hits;
            effect.overlap += usize::from(hits.iter().any(|h| h.rule.id == CANDIDATE_ID));
        }
    }
    effect
}

#[cfg(test)]
mod unit {
    use super::super::groups::unit::{classed, row};
    use super::*;

    const RULES: &str = r#"
[[rule]]
id = "early"
pattern = "early bird"
category = "flake"
description = "comes before the candidate"
"#;

    #[test]
    fn catches_unknowns_and_counts_what_it_steals_or_shares() {
        let mut sources = vec![("early.toml".to_owned(), RULES.to_owned())];
        sources.push((
            "the new rule".to_owned(),
            candidate_rule("bird|worm").to_toml().unwrap(),
        ));
        let candidate = RuleSet::from_sources(&sources).unwrap();
        let rows = [
            row(1, "error: a worm"),
            row(2, "error: nothing alike"),
            row(3, "error: a bird"),
            row(4, "error: early bird"),
        ];
        // Row 3 was named by a rule the candidate comes before (say a user's later file
        // changed); row 4 keeps `early`, which comes first.
        let classes = [
            classed("unknown"),
            classed("unknown"),
            classed("later-rule"),
            classed("early"),
        ];
        assert_eq!(
            score(&candidate, &rows, &classes),
            Effect {
                unknown: 2,
                caught: 1,
                stolen: 1,
                overlap: 1,
            }
        );
    }
}
