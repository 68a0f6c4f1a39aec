use std::fmt;
use std::path::Path;

use gnfc_data::Stage;
use regex::bytes::{Regex, RegexSet, RegexSetBuilder};
use serde::Deserialize;

/// The rules shipped with gnfc, compiled in so the binary needs no data files.
const BUILTIN: &str = include_str!("../rules.toml");

/// Upper bound on the compiled size of one stage's rule set. Rust's regex engine is linear in
/// the input, but a pathological user rule can still make the automaton huge; refuse it at
/// load time rather than eat memory at classification time.
const SET_SIZE_LIMIT: usize = 64 << 20;

/// Who is to blame for a failure: the axis reports group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// The Nix implementation misbehaves (crash, missing feature, regression).
    Implementation,
    /// The flake itself is broken.
    Flake,
    /// Locking failed in a way specific to the resolver.
    Resolver,
    /// Fetching failed: 404, TLS, rate limits.
    Network,
    /// The flake uses something the implementation removed.
    Deprecated,
    /// gnfc's own fault.
    Harness,
    /// A resource limit ended the test: time, memory, processes.
    Limits,
    Unknown,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Implementation => "implementation",
            Category::Flake => "flake",
            Category::Resolver => "resolver",
            Category::Network => "network",
            Category::Deprecated => "deprecated",
            Category::Harness => "harness",
            Category::Limits => "limits",
            Category::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which stage's stderr a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStage {
    Prepare,
    Lock,
    Enumerate,
    Eval,
    Any,
}

impl RuleStage {
    fn covers(self, stage: Stage) -> bool {
        matches!(
            (self, stage),
            (RuleStage::Any, _)
                | (RuleStage::Prepare, Stage::Prepare)
                | (RuleStage::Lock, Stage::Lock)
                | (RuleStage::Enumerate, Stage::Enumerate)
                | (RuleStage::Eval, Stage::Eval)
        )
    }
}

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
            id: "unknown".to_owned(),
            category: Category::Unknown,
            detail: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: rule #{position} '{id}': invalid pattern: {source}")]
    Pattern {
        origin: String,
        position: usize,
        id: String,
        source: Box<regex::Error>,
    },
    #[error("{origin}: rule #{position}: id '{id}' is already used by rule #{first}; ids must be unique")]
    DuplicateId {
        origin: String,
        position: usize,
        first: usize,
        id: String,
    },
    #[error("{origin}: rule #{position}: id '{id}' must be lowercase kebab-case (a-z, 0-9, -)")]
    BadId {
        origin: String,
        position: usize,
        id: String,
    },
    #[error("the {stage} rules compile to more than {limit} bytes: simplify or remove the largest patterns ({source})")]
    TooLarge {
        stage: Stage,
        limit: usize,
        source: Box<regex::Error>,
    },
    #[error("cannot read rules file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    pattern: String,
    category: Category,
    #[serde(default = "any_stage")]
    stage: RuleStage,
    description: String,
}

fn any_stage() -> RuleStage {
    RuleStage::Any
}

#[derive(Debug)]
struct Rule {
    spec: RuleSpec,
    regex: Regex,
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
    /// The rules shipped with gnfc.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        RuleSet::from_sources(&[("built-in rules.toml".to_owned(), BUILTIN.to_owned())])
    }

    /// The built-in rules followed by (at lower precedence) the rules of `files`.
    ///
    /// User rules come after the built-in ones so they catch what the defaults leave
    /// `unknown`; a user who wants to override a built-in rule writes a more specific one and
    /// reports it upstream.
    pub fn builtin_and(files: &[impl AsRef<Path>]) -> Result<RuleSet, RuleError> {
        let mut sources = vec![("built-in rules.toml".to_owned(), BUILTIN.to_owned())];
        for file in files {
            let path = file.as_ref();
            let text = std::fs::read_to_string(path).map_err(|source| RuleError::Read {
                path: path.display().to_string(),
                source,
            })?;
            sources.push((path.display().to_string(), text));
        }
        RuleSet::from_sources(&sources)
    }

    /// Parses and compiles rule files, given as (origin for messages, TOML text), in order.
    pub fn from_sources(sources: &[(String, String)]) -> Result<RuleSet, RuleError> {
        let mut rules: Vec<Rule> = Vec::new();
        for (origin, text) in sources {
            let file: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse {
                origin: origin.clone(),
                message: e.message().to_owned()
                    + &e.span()
                        .map(|s| format!(" (at line {})", line_of(text, s.start)))
                        .unwrap_or_default(),
            })?;
            for (index, spec) in file.rule.into_iter().enumerate() {
                let position = index + 1;
                let kebab = !spec.id.is_empty()
                    && spec
                        .id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !kebab {
                    return Err(RuleError::BadId {
                        origin: origin.clone(),
                        position,
                        id: spec.id,
                    });
                }
                if let Some(first) = rules.iter().position(|r| r.spec.id == spec.id) {
                    return Err(RuleError::DuplicateId {
                        origin: origin.clone(),
                        position,
                        first: first + 1,
                        id: spec.id,
                    });
                }
                let regex = Regex::new(&spec.pattern).map_err(|source| RuleError::Pattern {
                    origin: origin.clone(),
                    position,
                    id: spec.id.clone(),
                    source: Box::new(source),
                })?;
                rules.push(Rule { spec, regex });
            }
        }
        let mut stages = Vec::new();
        for &stage in Stage::ALL {
            let rule_of_slot: Vec<usize> = (0..rules.len())
                .filter(|&i| rules[i].spec.stage.covers(stage))
                .collect();
            let set = RegexSetBuilder::new(rule_of_slot.iter().map(|&i| &rules[i].spec.pattern))
                .size_limit(SET_SIZE_LIMIT)
                .build()
                .map_err(|source| RuleError::TooLarge {
                    stage,
                    limit: SET_SIZE_LIMIT,
                    source: Box::new(source),
                })?;
            stages.push((stage, StageSet { set, rule_of_slot }));
        }
        Ok(RuleSet { rules, stages })
    }

    /// Names the failure whose stage wrote `stderr`.
    pub fn classify(&self, stage: Stage, stderr: &[u8]) -> Class {
        let Some((_, stage_set)) = self.stages.iter().find(|(s, _)| *s == stage) else {
            return Class::unknown();
        };
        // Set slots are in rule order, so the lowest matching slot is the winning rule.
        let Some(slot) = stage_set.set.matches(stderr).into_iter().next() else {
            return Class::unknown();
        };
        let rule = &self.rules[stage_set.rule_of_slot[slot]];
        let detail = rule
            .regex
            .captures(stderr)
            .and_then(|c| c.name("detail"))
            .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned());
        Class {
            id: rule.spec.id.clone(),
            category: rule.spec.category,
            detail,
        }
    }

    /// The ids of the rules in precedence order, with their descriptions.
    pub fn describe(&self) -> impl Iterator<Item = (&str, Category, &str)> {
        self.rules.iter().map(|r| {
            (
                r.spec.id.as_str(),
                r.spec.category,
                r.spec.description.as_str(),
            )
        })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
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
            e.contains("rule #3") && e.contains("already used by rule #1"),
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
    }

    #[test]
    fn oversized_rule_is_rejected_at_load() {
        let huge = "[[rule]]\nid = \"huge\"\npattern = '''\\w{1000}\\w{1000}\\w{1000}'''\ncategory = \"flake\"\ndescription = \"d\"\n";
        let e = set(huge).unwrap_err().to_string();
        assert!(
            e.contains("rule #1 'huge'") && e.contains("size limit"),
            "{e}"
        );
    }

    #[test]
    fn builtin_rules_compile() {
        let rules = RuleSet::builtin().unwrap();
        assert!(!rules.is_empty());
    }
}
