//! The compiled rule set: one `RegexSet` per stage, first matching rule wins.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use gnfc_data::{Stage, StderrRow};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::spec::{parse_file, Category, RuleSpec};
use crate::{builtin, RuleError, RuleSetBuilder};

/// Rules match bytes, not text: stderr may hold any bytes (file names, binary garbage), and
/// with Unicode mode on a class such as `[^']` would not match an invalid UTF-8 byte, so a
/// detail containing one would turn a known failure into `unknown`. Patterns opt back in with
/// `(?u:...)` where they need Unicode classes; non-ASCII literals match their UTF-8 bytes.
///
/// Upper bound on the compiled size of one stage's rule set (and of each rule's own regex).
/// Rust's regex engine is linear in the input, but a pathological rule can still make the
/// automaton huge; refuse it at load time rather than eat memory at classification time.
pub const SET_SIZE_LIMIT: usize = 32 << 20;

/// Cache for each set's lazy DFA. The union of all rules, matched for every rule at once, has
/// many more states than one rule; with the crate's default 2 MiB cache it thrashed and fell
/// back to the slow engine (1 MiB/s on the benchmark), 16 MiB keeps it warm (see
/// docs/BENCHMARKS.md). It is a ceiling, grown only as states are needed.
const SET_DFA_CACHE: usize = 16 << 20;

/// The verdict on one stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// The winning rule's id, or `unknown`.
    pub id: String,
    pub category: Category,
    /// The text the rule's `detail` group captured, if it has one and it matched.
    pub detail: Option<String>,
}

impl Class {
    pub fn unknown() -> Class {
        Class {
            id: gnfc_data::class::UNKNOWN.to_owned(),
            category: Category::Unknown,
            detail: None,
        }
    }
}

/// One stderr to classify: where it came from and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub stage: Stage,
    /// The implementation that wrote it, when known (rules may be limited to some).
    pub implementation: Option<&'a str>,
    pub stderr: &'a [u8],
}

impl<'a> From<&'a StderrRow> for Input<'a> {
    fn from(row: &'a StderrRow) -> Input<'a> {
        Input {
            stage: row.stage,
            implementation: Some(&row.implementation),
            stderr: &row.text.kept,
        }
    }
}

/// A rule whose pattern matched, as [`RuleSet::explain`] reports it.
#[derive(Debug, Clone)]
pub struct Hit<'r> {
    pub rule: &'r RuleSpec,
    /// Whether the rule's implementation filter lets it name this test's failure.
    pub applies: bool,
    /// Byte range of the rule's first match in the stderr.
    pub span: std::ops::Range<usize>,
}

/// Every rule that matched one stderr, in precedence order, and the winner's class.
#[derive(Debug, Clone)]
pub struct Explanation<'r> {
    pub hits: Vec<Hit<'r>>,
    pub class: Class,
}

#[derive(Debug)]
struct Rule {
    spec: RuleSpec,
    regex: Regex,
    /// Whether the pattern has a `detail` group. Without one the set's verdict is final and
    /// the rule's regex never runs again: a capture search costs more than the set's scan of a
    /// typical stderr (see docs/BENCHMARKS.md).
    has_detail: bool,
}

/// One stage's compiled rules: a set over the patterns, and which rule each set slot is.
#[derive(Debug)]
struct StageSet {
    set: RegexSet,
    rule_of_slot: Vec<usize>,
}

/// An ordered list of rules, compiled per stage.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    stages: Vec<(Stage, StageSet)>,
}

impl RuleSet {
    /// The rules shipped with gnfc (`classifier/rules/*.toml`).
    pub fn builtin() -> Result<RuleSet, RuleError> {
        RuleSet::builtin_and(&[] as &[&Path])
    }

    /// The built-in rules followed by (at lower precedence) the rules of `files`.
    ///
    /// User rules come after the built-in ones so they catch what the defaults leave
    /// `unknown`; a user who wants to override a built-in rule writes a more specific one and
    /// reports it upstream.
    pub fn builtin_and(files: &[impl AsRef<Path>]) -> Result<RuleSet, RuleError> {
        RuleSetBuilder::new(files).build()
    }

    /// Parses and compiles rule files, given as (origin for messages, TOML text), in order.
    pub fn from_sources(sources: &[(String, String)]) -> Result<RuleSet, RuleError> {
        let mut specs = Vec::new();
        for (origin, text) in sources {
            specs.extend(parse_file(origin, text)?);
        }
        RuleSet::compile(specs)
    }

    /// Compiles validated rules, in precedence order.
    pub fn compile(specs: Vec<RuleSpec>) -> Result<RuleSet, RuleError> {
        let mut rules: Vec<Rule> = Vec::with_capacity(specs.len());
        for spec in specs {
            if let Some(first) = rules.iter().find(|r| r.spec.id == spec.id) {
                return Err(RuleError::DuplicateId {
                    origin: spec.origin,
                    position: spec.position,
                    id: spec.id,
                    first_origin: first.spec.origin.clone(),
                    first: first.spec.position,
                });
            }
            let regex = RegexBuilder::new(&spec.pattern)
                .unicode(false)
                .size_limit(SET_SIZE_LIMIT)
                .build()
                .map_err(|cause| RuleError::Pattern {
                    origin: spec.origin.clone(),
                    position: spec.position,
                    id: spec.id.clone(),
                    cause: Box::new(cause),
                })?;
            let has_detail = regex.capture_names().any(|name| name == Some("detail"));
            rules.push(Rule {
                spec,
                regex,
                has_detail,
            });
        }
        let mut stages = Vec::new();
        for &stage in Stage::ALL {
            let rule_of_slot: Vec<usize> = (0..rules.len())
                .filter(|&i| rules[i].spec.stage.covers(stage))
                .collect();
            let patterns: Vec<&str> = rule_of_slot
                .iter()
                .map(|&i| rules[i].spec.pattern.as_str())
                .collect();
            let set = build_set(&patterns).map_err(|cause| {
                let culprit = &rules[rule_of_slot[first_too_large(&patterns)]].spec;
                RuleError::TooLarge {
                    origin: culprit.origin.clone(),
                    position: culprit.position,
                    id: culprit.id.clone(),
                    stage,
                    limit: SET_SIZE_LIMIT,
                    cause: Box::new(cause),
                }
            })?;
            stages.push((stage, StageSet { set, rule_of_slot }));
        }
        Ok(RuleSet { rules, stages })
    }

    /// Names the failure whose stage wrote `stderr`, when the implementation is not known
    /// (rules limited to some implementations do not apply).
    pub fn classify(&self, stage: Stage, stderr: &[u8]) -> Class {
        self.classify_input(Input {
            stage,
            implementation: None,
            stderr,
        })
    }

    /// Names one failure: the first rule in precedence order that covers the stage and the
    /// implementation and matches.
    pub fn classify_input(&self, input: Input<'_>) -> Class {
        let winner = self.matching_rules(input).find(|&i| {
            self.rules[i]
                .spec
                .implementation
                .allows(input.implementation)
        });
        let Some(index) = winner else {
            return Class::unknown();
        };
        let rule = &self.rules[index];
        let detail = rule
            .has_detail
            .then(|| rule.regex.captures(input.stderr))
            .flatten()
            .and_then(|c| c.name("detail"))
            .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned());
        Class {
            id: rule.spec.id.clone(),
            category: rule.spec.category,
            detail,
        }
    }

    /// Classifies many inputs on all cores; `done` is called with the number finished so far
    /// (for a progress bar). Results are in input order.
    pub fn classify_all(&self, inputs: &[Input<'_>], done: &(dyn Fn(usize) + Sync)) -> Vec<Class> {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(inputs.len().max(1));
        let next = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let mut results: Vec<(usize, Class)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(input) = inputs.get(i) else {
                                return mine;
                            };
                            mine.push((i, self.classify_input(*input)));
                            done(finished.fetch_add(1, Ordering::Relaxed) + 1);
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, class)| class).collect()
    }

    /// Every rule that matches, whether or not it wins, with where it matched.
    pub fn explain(&self, input: Input<'_>) -> Explanation<'_> {
        let hits = self
            .matching_rules(input)
            .filter_map(|i| {
                let rule = &self.rules[i];
                let found = rule.regex.find(input.stderr)?;
                Some(Hit {
                    rule: &rule.spec,
                    applies: rule.spec.implementation.allows(input.implementation),
                    span: found.range(),
                })
            })
            .collect();
        Explanation {
            hits,
            class: self.classify_input(input),
        }
    }

    /// Indexes of the rules covering the input's stage whose pattern matches, in order.
    fn matching_rules(&self, input: Input<'_>) -> impl Iterator<Item = usize> {
        let Some((_, stage_set)) = self.stages.iter().find(|(s, _)| *s == input.stage) else {
            return Vec::new().into_iter();
        };
        // Set slots are in rule order, so matches come out in precedence order.
        let matches = stage_set.set.matches(input.stderr);
        let rules: Vec<usize> = matches
            .into_iter()
            .map(|slot| stage_set.rule_of_slot[slot])
            .collect();
        rules.into_iter()
    }

    /// The rules in precedence order.
    pub fn rules(&self) -> impl Iterator<Item = &RuleSpec> {
        self.rules.iter().map(|r| &r.spec)
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&RuleSpec> {
        self.rules().find(|r| r.id == id)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn build_set(patterns: &[&str]) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(patterns)
        .unicode(false)
        .size_limit(SET_SIZE_LIMIT)
        .dfa_size_limit(SET_DFA_CACHE)
        .build()
}

/// The index of the pattern that takes a too-large set over the limit: the shortest prefix
/// that fails to build ends with it. Only runs on the error path, in O(log n) builds.
fn first_too_large(patterns: &[&str]) -> usize {
    // Invariant: patterns[..lo] builds, patterns[..hi] does not.
    let (mut lo, mut hi) = (0, patterns.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if build_set(&patterns[..mid]).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi - 1
}

/// The built-in rule files as (origin, text).
pub fn builtin_sources() -> Vec<(String, String)> {
    builtin::FILES
        .iter()
        .map(|(origin, text)| ((*origin).to_owned(), (*text).to_owned()))
        .collect()
}

#[cfg(test)]
mod unit {
    use super::*;

    fn set(text: &str) -> Result<RuleSet, RuleError> {
        RuleSet::from_sources(&[("test.toml".to_owned(), text.to_owned())])
    }

    const TWO: &str = r#"
[[rule]]
id = "warn-missing"
pattern = "attribute 'warn' missing"
category = "implementation"
description = "builtins.warn"

[[rule]]
id = "missing-attribute"
pattern = "attribute '(?P<detail>[^']+)' missing"
category = "flake"
stage = "eval"
description = "generic"
"#;

    fn eval<'a>(implementation: Option<&'a str>, stderr: &'a [u8]) -> Input<'a> {
        Input {
            stage: Stage::Eval,
            implementation,
            stderr,
        }
    }

    #[test]
    fn first_rule_in_order_wins() {
        let rules = set(TWO).unwrap();
        let c = rules.classify(Stage::Eval, b"error: attribute 'warn' missing\n");
        assert_eq!(c.id, "warn-missing");
        let c = rules.classify(Stage::Eval, b"error: attribute 'foo' missing\n");
        assert_eq!(c.id, "missing-attribute");
        assert_eq!(c.detail.as_deref(), Some("foo"));
    }

    #[test]
    fn stage_filter_applies() {
        let rules = set(TWO).unwrap();
        assert_eq!(
            rules.classify(Stage::Lock, b"attribute 'foo' missing").id,
            "unknown"
        );
    }

    #[test]
    fn implementation_filter_applies() {
        let text = format!(
            "[[rule]]\nid = \"lix-only\"\npattern = \"attribute 'warn'\"\ncategory = \"implementation\"\nimplementation = [\"lix-*\", \"nix-2.8\"]\ndescription = \"d\"\ntracking = \"https://example.org/1\"\n{TWO}"
        );
        let rules = set(&text).unwrap();
        let stderr = b"error: attribute 'warn' missing";
        assert_eq!(
            rules.classify_input(eval(Some("lix-2.93"), stderr)).id,
            "lix-only"
        );
        assert_eq!(
            rules.classify_input(eval(Some("nix-2.8"), stderr)).id,
            "lix-only"
        );
        assert_eq!(
            rules.classify_input(eval(Some("nix-2.26"), stderr)).id,
            "warn-missing"
        );
        assert_eq!(rules.classify_input(eval(None, stderr)).id, "warn-missing");
        let why = rules.explain(eval(Some("nix-2.26"), stderr));
        let ids: Vec<(&str, bool)> = why
            .hits
            .iter()
            .map(|h| (h.rule.id.as_str(), h.applies))
            .collect();
        assert_eq!(
            ids,
            [
                ("lix-only", false),
                ("warn-missing", true),
                ("missing-attribute", true)
            ]
        );
        assert_eq!(why.class.id, "warn-missing");
        assert_eq!(why.hits[0].span, 7..23);
        assert_eq!(
            why.hits[0].rule.tracking.as_deref(),
            Some("https://example.org/1")
        );
    }

    #[test]
    fn classify_all_keeps_input_order() {
        let rules = set(TWO).unwrap();
        let texts: Vec<Vec<u8>> = (0..200)
            .map(|i| match i % 3 {
                0 => b"attribute 'warn' missing".to_vec(),
                1 => format!("attribute 'a{i}' missing").into_bytes(),
                _ => b"nothing".to_vec(),
            })
            .collect();
        let inputs: Vec<Input<'_>> = texts.iter().map(|t| eval(None, t)).collect();
        let calls = AtomicUsize::new(0);
        let classes = rules.classify_all(&inputs, &|_| {
            calls.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(calls.into_inner(), 200);
        for (i, class) in classes.iter().enumerate() {
            assert_eq!(*class, rules.classify_input(inputs[i]), "input {i}");
        }
    }

    #[test]
    fn invalid_utf8_is_classified() {
        let rules = set(TWO).unwrap();
        let mut stderr = b"\xff\xfe garbage\nerror: attribute 'x' missing".to_vec();
        stderr.push(0xff);
        assert_eq!(rules.classify(Stage::Eval, &stderr).id, "missing-attribute");
    }

    #[test]
    fn bad_rules_are_rejected_with_position() {
        let dup = format!("{TWO}\n[[rule]]\nid = \"warn-missing\"\npattern = \"x\"\ncategory = \"flake\"\ndescription = \"d\"\n");
        let e = set(&dup).unwrap_err().to_string();
        assert!(
            e.contains("test.toml: rule #3") && e.contains("already used by rule #1 of test.toml"),
            "{e}"
        );
        let bad = "[[rule]]\nid = \"broken\"\npattern = \"(unclosed\"\ncategory = \"flake\"\ndescription = \"d\"\n";
        let e = set(bad).unwrap_err().to_string();
        assert!(
            e.contains("test.toml: rule #1 'broken': invalid pattern"),
            "{e}"
        );
        let typo =
            "[[rule]]\nid = \"x\"\npatern = \"x\"\ncategory = \"flake\"\ndescription = \"d\"\n";
        let e = set(typo).unwrap_err().to_string();
        assert!(
            e.contains("unknown field `patern`") && e.contains("line 3"),
            "{e}"
        );
        let filter = "[[rule]]\nid = \"f\"\npattern = \"x\"\ncategory = \"flake\"\nimplementation = []\ndescription = \"d\"\n";
        let e = set(filter).unwrap_err().to_string();
        assert!(e.contains("rule #1 'f': implementation = []"), "{e}");
        let id = "[[rule]]\nid = \"Not Kebab\"\npattern = \"x\"\ncategory = \"flake\"\ndescription = \"d\"\n";
        let e = set(id).unwrap_err().to_string();
        assert!(
            e.contains("rule #1: id 'Not Kebab' must be lowercase kebab-case"),
            "{e}"
        );
    }

    #[test]
    fn builtin_rules_compile() {
        let rules = RuleSet::builtin().unwrap();
        assert!(!rules.is_empty());
    }
}
