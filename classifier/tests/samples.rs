//! Every built-in rule against its sample stderr in `classifier/samples/<id>.txt`.
//!
//! A sample starts with one or more `#` header lines saying where the text came from, e.g.
//! `# captured: nix 2.8.0, corpus/syntax-error, stage lock, resolver native` or
//! `# written from Nix source: ...`; the rest is the stderr exactly as Nix printed it.
//!
//! The rule set returns the *first* matching rule, so a sample landing in its own rule proves
//! both that the rule matches real text and that no earlier rule steals it.
//!
//! Which stage a sample is classified under: the stage its header names (where it was
//! captured). A sample without a stage (written from Nix source, stage unknown) is classified
//! under every stage: the message can surface at any of them, so its rule must catch it at
//! all of them (the rules file says the same: rules are stage `any` on purpose).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gnfc_classifier::RuleSet;
use gnfc_data::Stage;

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// (id, path) of every `samples/*.txt`, sorted.
fn sample_files() -> Vec<(String, PathBuf)> {
    let dir = samples_dir();
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| {
            let id = p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("sample names are UTF-8")
                .to_owned();
            (id, p)
        })
        .collect();
    files.sort();
    files
}

/// A sample split into its `#` header lines and the stderr after them.
struct Sample {
    header: Vec<String>,
    stderr: Vec<u8>,
}

fn read_sample(path: &Path) -> Sample {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut header = Vec::new();
    let mut rest: &[u8] = &bytes;
    while rest.first() == Some(&b'#') {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        header.push(String::from_utf8_lossy(&rest[..end]).trim_end().to_owned());
        rest = &rest[end..];
    }
    Sample {
        header,
        stderr: rest.to_vec(),
    }
}

/// The stage named in the header (`..., stage lock, ...`), if any.
fn header_stage(header: &[String], path: &Path) -> Option<Stage> {
    let mut found = None;
    for line in header {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
            .filter(|w| !w.is_empty())
            .collect();
        for pair in words.windows(2) {
            if pair[0] == "stage" {
                let stage: Stage = pair[1].parse().unwrap_or_else(|_| {
                    panic!(
                        "{}: header names stage '{}', which is not one of {:?}",
                        path.display(),
                        pair[1],
                        Stage::ALL
                    )
                });
                assert!(
                    found.is_none() || found == Some(stage),
                    "{}: header names two different stages",
                    path.display()
                );
                found = Some(stage);
            }
        }
    }
    found
}

/// The stages a sample is classified under: the one it was captured at, else all of them.
fn sample_stages(sample: &Sample, path: &Path) -> Vec<Stage> {
    match header_stage(&sample.header, path) {
        Some(stage) => vec![stage],
        None => Stage::ALL.to_vec(),
    }
}

#[test]
fn every_sample_lands_in_its_own_rule() {
    let rules = RuleSet::builtin().expect("built-in rules compile");
    let samples = sample_files();
    assert!(
        !samples.is_empty(),
        "no samples in {}",
        samples_dir().display()
    );
    let mut failures = Vec::new();
    for (id, path) in &samples {
        let sample = read_sample(path);
        assert!(
            !sample.header.is_empty(),
            "{}: a sample starts with a `# captured: ...` or `# written from ...` line",
            path.display()
        );
        assert!(
            !sample.stderr.iter().all(u8::is_ascii_whitespace),
            "{}: no stderr after the header",
            path.display()
        );
        for stage in sample_stages(&sample, path) {
            let class = rules.classify(stage, &sample.stderr);
            if class.id != *id {
                failures.push(format!(
                    "{id}.txt classified under stage {stage} as '{}' (category {}, detail {:?})",
                    class.id, class.category, class.detail
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} sample(s) land in the wrong rule (an earlier rule steals them, or their own rule \
         does not match):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// Warnings Nix prints before the real failure, captured from Nix 2.8 on a host without a
/// `nixbld` group and from flakes in dirty git trees. A warning never names the failure.
const WARNINGS: &str = concat!(
    "warning: the group 'nixbld' specified in 'build-users-group' does not exist\n",
    "warning: Git tree '/build/source' is dirty\n",
);

#[test]
fn warnings_before_the_error_do_not_change_the_class() {
    let rules = RuleSet::builtin().expect("built-in rules compile");
    let mut failures = Vec::new();
    for (id, path) in sample_files() {
        let sample = read_sample(&path);
        let stderr = [WARNINGS.as_bytes(), &sample.stderr].concat();
        for stage in sample_stages(&sample, &path) {
            // The last rule names a lone `error:` line after warnings and traces; it still must.
            let class = rules.classify(stage, &stderr);
            if class.id != id {
                failures.push(format!(
                    "{id}.txt behind warnings, stage {stage}, lands in '{}'",
                    class.id
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rules_and_samples_correspond_one_to_one() {
    let rules = RuleSet::builtin().expect("built-in rules compile");
    let rule_ids: BTreeSet<String> = rules.rules().map(|r| r.id.clone()).collect();
    assert_eq!(rule_ids.len(), rules.len(), "rule ids are unique");
    let sample_ids: BTreeSet<String> = sample_files().into_iter().map(|(id, _)| id).collect();
    let without_sample: Vec<_> = rule_ids.difference(&sample_ids).collect();
    let without_rule: Vec<_> = sample_ids.difference(&rule_ids).collect();
    assert!(
        without_sample.is_empty() && without_rule.is_empty(),
        "rules without a samples/<id>.txt: {without_sample:?}; samples without a rule in \
         rules/*.toml: {without_rule:?}"
    );
}

/// The header parser itself, so a header typo cannot silently widen a sample to all stages.
#[test]
fn header_stage_is_read_from_the_captured_line() {
    let p = Path::new("x.txt");
    let h = |s: &str| vec![s.to_owned()];
    assert_eq!(
        header_stage(
            &h("# captured: nix 2.8.0, corpus/x, stage lock, resolver native"),
            p
        ),
        Some(Stage::Lock)
    );
    assert_eq!(
        header_stage(
            &h("# captured: nix 2.8.0, ad-hoc (nix eval --expr '1'), stage eval"),
            p
        ),
        Some(Stage::Eval)
    );
    assert_eq!(
        header_stage(&h("# written from Nix source: src/x.cc"), p),
        None
    );
    // Every captured sample names its stage.
    for (id, path) in sample_files() {
        let sample = read_sample(&path);
        if sample.header[0].starts_with("# captured:") {
            assert!(
                header_stage(&sample.header, &path).is_some(),
                "{id}.txt is captured but its header names no stage"
            );
        }
    }
}
