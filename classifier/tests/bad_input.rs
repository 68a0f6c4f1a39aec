//! Rules and stderr from outside: huge, malformed, hostile.

#![allow(clippy::unwrap_used)]

use gnfc_classifier::{triage, Input, RuleSet};
use gnfc_data::Stage;

fn rule(id: &str, pattern: &str) -> String {
    format!("[[rule]]\nid = \"{id}\"\npattern = '''{pattern}'''\ncategory = \"flake\"\ndescription = \"d\"\n\n")
}

fn user_files(files: &[(&str, String)]) -> Result<RuleSet, String> {
    let mut sources = gnfc_classifier::builtin_sources();
    sources.extend(
        files
            .iter()
            .map(|(name, text)| ((*name).to_owned(), text.clone())),
    );
    RuleSet::from_sources(&sources).map_err(|e| e.to_string())
}

/// The load error for rules that must be rejected.
fn rejected(files: &[(&str, String)]) -> String {
    match user_files(files) {
        Ok(_) => panic!("the rules were accepted"),
        Err(e) => e,
    }
}

#[test]
fn invalid_utf8_is_classified_explained_and_grouped() {
    let rules = RuleSet::builtin().unwrap();
    let stderr = b"\xc3\x28 warning: \xff\xfe bytes\nerror: undefined variable 'p\xffkgs'\n\n       at \xe2\x82 /x/flake.nix:4:7\n";
    let input = Input {
        stage: Stage::Lock,
        implementation: Some("nix-2.8"),
        stderr,
    };
    let class = rules.classify_input(input);
    assert_eq!(class.id, "undefined-variable");
    assert_eq!(class.detail.as_deref(), Some("p\u{fffd}kgs"));
    let why = rules.explain(input);
    assert_eq!(why.hits[0].rule.id, "undefined-variable");
    assert_eq!(
        &stderr[why.hits[0].span.clone()],
        b"undefined variable 'p\xffkgs'"
    );
    assert_eq!(
        triage::group_key(stderr),
        "error: undefined variable 'p\u{fffd}kgs'"
    );
}

#[test]
fn duplicate_ids_across_files_name_both() {
    let e = rejected(&[
        ("mine.toml", rule("my-rule", "a")),
        (
            "theirs.toml",
            format!("{}{}", rule("other", "b"), rule("my-rule", "c")),
        ),
    ]);
    assert_eq!(
        e,
        "theirs.toml: rule #2: id 'my-rule' is already used by rule #1 of mine.toml; ids must be unique"
    );
    let e = rejected(&[("mine.toml", rule("missing-attribute", "a"))]);
    assert!(
        e.starts_with("mine.toml: rule #1: id 'missing-attribute' is already used by rule #")
            && e.contains("of built-in rules/60-eval.toml"),
        "{e}"
    );
}

/// Rust's regex engine is linear in the input, but bounded repetitions (of Unicode classes above all) blow
/// up the automaton: one such rule alone, and several that fit alone but not together, are
/// both refused at load, naming the rule that crosses the limit.
#[test]
fn oversized_rules_are_rejected_at_load() {
    let e = rejected(&[("huge.toml", rule("huge", r"(?u:\w{1000})"))]);
    assert!(
        e.starts_with("huge.toml: rule #1 'huge': invalid pattern") && e.contains("size limit"),
        "{e}"
    );
    let text: String = (0..3)
        .map(|i| rule(&format!("wide-{i}"), &format!(r"x{i}(?u:\w){{300}}")))
        .collect();
    let e = rejected(&[("wide.toml", text)]);
    assert!(
        e.starts_with("wide.toml: rule #3 'wide-2': with this rule the prepare rules compile to more than 33554432 bytes"),
        "{e}"
    );
}

#[test]
fn unreadable_rules_file_is_named() {
    let e = RuleSet::builtin_and(&["/nonexistent/gnfc-rules.toml"])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cannot read /nonexistent/gnfc-rules.toml: "),
        "{e}"
    );
}
