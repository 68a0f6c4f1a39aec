//! What rules must not claim: every case of `classifier/samples/negatives.toml` (stderr that
//! looks like a rule's match but is not its, and errors of the machine, the network or gnfc
//! that must never be blamed on the flake), classified under every stage.

use gnfc_classifier::{Category, RuleSet};
use gnfc_data::Stage;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    text: String,
    #[serde(default)]
    not: Vec<String>,
    class: Option<String>,
    #[serde(default)]
    not_flake: bool,
}

#[derive(Debug, Deserialize)]
struct Cases {
    case: Vec<Case>,
}

fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/negatives.toml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    toml::from_str::<Cases>(&text)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .case
}

#[test]
fn no_rule_claims_what_is_not_its_own() {
    let rules = RuleSet::builtin().expect("built-in rules compile");
    let ids: Vec<String> = rules.rules().map(|r| r.id.clone()).collect();
    let cases = cases();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        // A case must say something, and only about rules that exist.
        assert!(
            !case.not.is_empty() || case.class.is_some() || case.not_flake,
            "a case that checks nothing: {:?}",
            case.text
        );
        for id in case.not.iter().chain(&case.class) {
            assert!(ids.contains(id), "no rule '{id}' (case {:?})", case.text);
        }
        for stage in Stage::ALL {
            let got = rules.classify(*stage, case.text.as_bytes());
            let wrong = if case.not.contains(&got.id) {
                Some("a rule it must not land in")
            } else if case.class.as_ref().is_some_and(|c| *c != got.id) {
                Some("not its class")
            } else if case.not_flake && got.category == Category::Flake {
                Some("blamed on the flake")
            } else {
                None
            };
            if let Some(why) = wrong {
                failures.push(format!(
                    "{:?} at stage {stage}: '{}' ({}): {why}",
                    case.text.lines().next().unwrap_or_default(),
                    got.id,
                    got.category
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
