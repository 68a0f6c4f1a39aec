//! Rule sets from the built-in rules and the user's files, optionally with one rule more.
//!
//! Triage tries a candidate rule against everything that will be loaded next to it, read
//! afresh each time, so a rule appended a moment ago counts and the candidate is accepted only
//! if it compiles exactly as it will from the file it is appended to.

use std::path::{Path, PathBuf};

use crate::rules::builtin_sources;
use crate::{RuleError, RuleSet, RuleSpec};

/// The files a rule set is built from: the built-in rules, then `files` in order.
#[derive(Debug, Clone)]
pub struct RuleSetBuilder {
    files: Vec<PathBuf>,
    /// The file new rules are appended to, which need not exist yet.
    target: Option<PathBuf>,
}

impl RuleSetBuilder {
    pub fn new(files: &[impl AsRef<Path>]) -> RuleSetBuilder {
        RuleSetBuilder {
            files: files.iter().map(|f| f.as_ref().to_owned()).collect(),
            target: None,
        }
    }

    /// Also reads `target`, the file new rules go to, after the others unless it is one of
    /// them; a missing `target` holds no rules yet.
    pub fn with_target(mut self, target: &Path) -> RuleSetBuilder {
        if !self.files.iter().any(|f| f == target) {
            self.files.push(target.to_owned());
        }
        self.target = Some(target.to_owned());
        self
    }

    /// The built-in rules and the files' rules, compiled.
    pub fn build(&self) -> Result<RuleSet, RuleError> {
        RuleSet::from_sources(&self.sources()?)
    }

    /// The same with `rule` last, written out and read back as a file would be.
    pub fn build_with(&self, rule: &RuleSpec) -> Result<RuleSet, RuleError> {
        let mut sources = self.sources()?;
        sources.push((rule.origin.clone(), rule.to_toml()?));
        RuleSet::from_sources(&sources)
    }

    fn sources(&self) -> Result<Vec<(String, String)>, RuleError> {
        let mut sources = builtin_sources();
        for path in &self.files {
            match std::fs::read_to_string(path) {
                Ok(text) => sources.push((path.display().to_string(), text)),
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && self.target.as_ref() == Some(path) => {}
                Err(cause) => {
                    return Err(RuleError::Read {
                        path: path.display().to_string(),
                        cause,
                    })
                }
            }
        }
        Ok(sources)
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::Category;

    const ONE: &str = r#"
[[rule]]
id = "mine"
pattern = "my own failure"
category = "flake"
description = "mine"
"#;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gnfc-rule-builder-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn files_follow_the_builtin_rules_and_a_missing_target_is_empty() {
        let dir = scratch("files");
        let mine = dir.join("mine.toml");
        std::fs::write(&mine, ONE).unwrap();
        let builtin = RuleSet::builtin().unwrap().len();
        let rules = RuleSetBuilder::new(&[&mine])
            .with_target(&dir.join("new.toml"))
            .build()
            .unwrap();
        assert_eq!(rules.len(), builtin + 1);
        assert_eq!(rules.rules().last().unwrap().id, "mine");
        let missing = RuleSetBuilder::new(&[dir.join("absent.toml")]).build();
        assert!(matches!(missing, Err(RuleError::Read { .. })));
    }

    #[test]
    fn a_candidate_is_checked_against_every_file() {
        let dir = scratch("candidate");
        let mine = dir.join("mine.toml");
        std::fs::write(&mine, ONE).unwrap();
        let builder = RuleSetBuilder::new(&[] as &[&Path]).with_target(&mine);
        let rules = builder
            .build_with(&RuleSpec::new("new-one", "new", Category::Network, "new"))
            .unwrap();
        let last: Vec<&str> = rules.rules().map(|r| r.id.as_str()).collect();
        assert_eq!(last[last.len() - 2..], ["mine", "new-one"]);
        let clash = builder.build_with(&RuleSpec::new("mine", "x", Category::Flake, "x"));
        assert!(matches!(clash, Err(RuleError::DuplicateId { .. })));
        let bad = builder.build_with(&RuleSpec::new("bad", "(", Category::Flake, "x"));
        assert!(matches!(bad, Err(RuleError::Pattern { .. })));
    }
}
