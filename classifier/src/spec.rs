//! The rule file format: what a rule says, before it is compiled.

pub use gnfc_data::Category;
use gnfc_data::Stage;
use serde::{Deserialize, Serialize};

use crate::RuleError;

/// Which stage's stderr a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStage {
    Prepare,
    Lock,
    Enumerate,
    Eval,
    Any,
}

impl RuleStage {
    pub(crate) fn covers(self, stage: Stage) -> bool {
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

/// `implementation = "lix-*"` or a list of such: exact names, or prefixes ending in `*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The implementations a rule applies to; empty means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImplementationFilter(Vec<String>);

impl ImplementationFilter {
    /// Whether a test of `implementation` may get this rule's class. When the implementation
    /// is not known, only unfiltered rules apply: a rule written for one implementation's
    /// message must not name another's failure.
    pub fn allows(&self, implementation: Option<&str>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(name) = implementation else {
            return false;
        };
        self.0.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == p,
        })
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    pattern: String,
    category: Category,
    #[serde(default = "any_stage")]
    stage: RuleStage,
    #[serde(default)]
    implementation: Option<OneOrMany>,
    description: String,
    #[serde(default)]
    tracking: Option<String>,
}

fn any_stage() -> RuleStage {
    RuleStage::Any
}

/// One rule as written, validated except for its pattern.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub id: String,
    pub pattern: String,
    pub category: Category,
    pub stage: RuleStage,
    pub implementation: ImplementationFilter,
    pub description: String,
    pub tracking: Option<String>,
    /// The file the rule came from (for messages).
    pub origin: String,
    /// 1-based position of the rule in its file.
    pub position: usize,
}

/// The origin of a rule made in code rather than read from a file.
const NEW_RULE_ORIGIN: &str = "the new rule";

impl RuleSpec {
    /// A rule for every stage and implementation, not yet in any file: what triage writes.
    pub fn new(id: &str, pattern: &str, category: Category, description: &str) -> RuleSpec {
        RuleSpec {
            id: id.to_owned(),
            pattern: pattern.to_owned(),
            category,
            stage: RuleStage::Any,
            implementation: ImplementationFilter::default(),
            description: description.to_owned(),
            tracking: None,
            origin: NEW_RULE_ORIGIN.to_owned(),
            position: 1,
        }
    }

    /// The rule as a rules file holding only it, ready to append to a user's file.
    pub fn to_toml(&self) -> Result<String, RuleError> {
        #[derive(Serialize)]
        struct File<'a> {
            rule: [Rule<'a>; 1],
        }
        #[derive(Serialize)]
        struct Rule<'a> {
            id: &'a str,
            pattern: &'a str,
            category: &'a str,
            stage: RuleStage,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            implementation: &'a [String],
            description: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            tracking: Option<&'a str>,
        }
        let file = File {
            rule: [Rule {
                id: &self.id,
                pattern: &self.pattern,
                category: self.category.as_str(),
                stage: self.stage,
                implementation: self.implementation.names(),
                description: &self.description,
                tracking: self.tracking.as_deref(),
            }],
        };
        toml::to_string(&file).map_err(|cause| RuleError::Serialise {
            id: self.id.clone(),
            cause,
        })
    }
}

/// Parses one rules file; `origin` names it in messages.
pub(crate) fn parse_file(origin: &str, text: &str) -> Result<Vec<RuleSpec>, RuleError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| parse_error(origin, text, &e))?;
    file.rule
        .into_iter()
        .enumerate()
        .map(|(index, raw)| validate(origin, index + 1, raw))
        .collect()
}

fn validate(origin: &str, position: usize, raw: RawRule) -> Result<RuleSpec, RuleError> {
    let bad = |message: String| RuleError::BadField {
        origin: origin.to_owned(),
        position,
        id: raw.id.clone(),
        message,
    };
    if !is_kebab(&raw.id) {
        return Err(RuleError::BadId {
            origin: origin.to_owned(),
            position,
            id: raw.id,
        });
    }
    let names = match &raw.implementation {
        None => Vec::new(),
        Some(OneOrMany::One(name)) => vec![name.clone()],
        Some(OneOrMany::Many(names)) if names.is_empty() => {
            return Err(bad(
                "implementation = [] matches nothing: name implementations or remove the key"
                    .to_owned(),
            ))
        }
        Some(OneOrMany::Many(names)) => names.clone(),
    };
    if let Some(empty) = names
        .iter()
        .find(|n| n.is_empty() || n.trim_end_matches('*').contains('*'))
    {
        return Err(bad(format!(
            "implementation filter '{empty}' must be a name or a prefix ending in `*`"
        )));
    }
    if raw.description.trim().is_empty() {
        return Err(bad(
            "description is empty: say what the failure means".to_owned()
        ));
    }
    if let Some(link) = raw.tracking.as_deref() {
        if !(link.starts_with("https://") || link.starts_with("http://")) {
            return Err(bad(format!("tracking '{link}' must be an http(s) link")));
        }
    }
    Ok(RuleSpec {
        id: raw.id,
        pattern: raw.pattern,
        category: raw.category,
        stage: raw.stage,
        implementation: ImplementationFilter(names),
        description: raw.description,
        tracking: raw.tracking,
        origin: origin.to_owned(),
        position,
    })
}

pub(crate) fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A TOML error in `origin`, located by line.
pub(crate) fn parse_error(origin: &str, text: &str, e: &toml::de::Error) -> RuleError {
    RuleError::Parse {
        origin: origin.to_owned(),
        message: e.message().trim().to_owned()
            + &e.span()
                .map(|s| format!(" (at line {})", line_of(text, s.start)))
                .unwrap_or_default(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn a_new_rule_reads_back_as_written() {
        let rule = RuleSpec::new(
            "odd-thing",
            r"error: odd '(?P<detail>[^']+)'",
            Category::Flake,
            "an odd \"thing\"",
        );
        let text = rule.to_toml().unwrap();
        assert_eq!(
            text,
            "[[rule]]\nid = \"odd-thing\"\npattern = \"error: odd '(?P<detail>[^']+)'\"\n\
             category = \"flake\"\nstage = \"any\"\ndescription = 'an odd \"thing\"'\n"
        );
        let back = parse_file("x.toml", &text).unwrap();
        assert_eq!(back.len(), 1);
        let back = &back[0];
        assert_eq!(
            (&back.id, &back.pattern, back.category, back.stage),
            (&rule.id, &rule.pattern, rule.category, RuleStage::Any)
        );
        assert_eq!(back.description, rule.description);
        assert!(back.implementation.names().is_empty() && back.tracking.is_none());
    }

    #[test]
    fn filters_and_links_are_written_when_set() {
        let mut rule = RuleSpec::new("lix-only", "boom", Category::Implementation, "boom");
        rule.stage = RuleStage::Eval;
        rule.implementation = ImplementationFilter(vec!["lix-*".to_owned()]);
        rule.tracking = Some("https://example.org/1".to_owned());
        let back = &parse_file("x.toml", &rule.to_toml().unwrap()).unwrap()[0];
        assert_eq!(back.stage, RuleStage::Eval);
        assert_eq!(back.implementation, rule.implementation);
        assert_eq!(back.tracking, rule.tracking);
    }
}
