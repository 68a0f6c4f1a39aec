//! Reviewed overrides: a test pinned to a class by a person, with a note saying why.
//!
//! Some failures are best named by hand (the seed kept a list of reviewed paths). An override
//! wins over every rule; it names a rule's class (taking its category) or a class of its own
//! (then it gives the category).
//!
//! ```toml
//! [[override]]
//! test = 1234
//! class = "network-flake-dns"
//! category = "network"
//! note = "upstream host was down during the run; re-run next week"
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::spec::{is_kebab, parse_error};
use crate::{Category, Class, RuleError, RuleSet};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    #[serde(default, rename = "override")]
    overrides: Vec<RawOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    test: i64,
    class: String,
    #[serde(default)]
    category: Option<Category>,
    note: String,
}

/// One reviewed verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub class: String,
    pub category: Category,
    pub note: String,
}

impl Override {
    /// The class a test gets: the note is its detail, so reports show why.
    pub fn class(&self) -> Class {
        Class {
            id: self.class.clone(),
            category: self.category,
            detail: Some(self.note.clone()),
        }
    }
}

/// Overrides by test id.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    by_test: HashMap<i64, Override>,
}

impl Overrides {
    /// Reads an overrides file; a missing file is no overrides.
    pub fn load(path: &Path, rules: &RuleSet) -> Result<Overrides, RuleError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Overrides::parse(&path.display().to_string(), &text, rules),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Overrides::default()),
            Err(cause) => Err(RuleError::Read {
                path: path.display().to_string(),
                cause,
            }),
        }
    }

    /// Parses overrides; `rules` gives the category of classes that are rule ids.
    pub fn parse(origin: &str, text: &str, rules: &RuleSet) -> Result<Overrides, RuleError> {
        let file: OverrideFile = toml::from_str(text).map_err(|e| parse_error(origin, text, &e))?;
        let mut by_test = HashMap::new();
        for (index, raw) in file.overrides.into_iter().enumerate() {
            let bad = |message: String| RuleError::BadOverride {
                origin: origin.to_owned(),
                position: index + 1,
                test: raw.test,
                message,
            };
            if !is_kebab(&raw.class) {
                return Err(bad(format!(
                    "class '{}' must be lowercase kebab-case (a-z, 0-9, -)",
                    raw.class
                )));
            }
            if raw.note.trim().is_empty() {
                return Err(bad("note is empty: say why the test is pinned".to_owned()));
            }
            let category = match (raw.category, rules.rule(&raw.class)) {
                (Some(given), Some(rule)) if given != rule.category => {
                    return Err(bad(format!(
                        "class '{}' is a rule of category {}, not {given}; drop `category` or use another class name",
                        raw.class, rule.category
                    )))
                }
                (_, Some(rule)) => rule.category,
                (Some(given), None) => given,
                (None, None) => {
                    return Err(bad(format!(
                        "class '{}' is not a rule id, so give its `category`",
                        raw.class
                    )))
                }
            };
            let pinned = Override {
                class: raw.class.clone(),
                category,
                note: raw.note.clone(),
            };
            if by_test.insert(raw.test, pinned).is_some() {
                return Err(bad("the test is pinned twice; keep one".to_owned()));
            }
        }
        Ok(Overrides { by_test })
    }

    pub fn get(&self, test_id: i64) -> Option<&Override> {
        self.by_test.get(&test_id)
    }

    pub fn len(&self) -> usize {
        self.by_test.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_test.is_empty()
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn parse(text: &str) -> Result<Overrides, RuleError> {
        Overrides::parse("o.toml", text, &RuleSet::builtin().unwrap())
    }

    #[test]
    fn rule_classes_take_the_rule_category() {
        let o = parse("[[override]]\ntest = 7\nclass = \"missing-attribute\"\nnote = \"n\"\n\n[[override]]\ntest = 8\nclass = \"upstream-down\"\ncategory = \"network\"\nnote = \"down\"\n").unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o.get(7).unwrap().category, Category::Flake);
        let c = o.get(8).unwrap().class();
        assert_eq!(
            (c.id.as_str(), c.category, c.detail.as_deref()),
            ("upstream-down", Category::Network, Some("down"))
        );
        assert!(o.get(9).is_none());
    }

    #[test]
    fn bad_overrides_name_their_position() {
        let e = parse("[[override]]\ntest = 7\nclass = \"new-class\"\nnote = \"n\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("o.toml: override #1 (test 7)") && e.contains("give its `category`"),
            "{e}"
        );
        let e = parse("[[override]]\ntest = 7\nclass = \"missing-attribute\"\ncategory = \"network\"\nnote = \"n\"\n").unwrap_err().to_string();
        assert!(e.contains("category flake, not network"), "{e}");
        let twice = "[[override]]\ntest = 7\nclass = \"missing-attribute\"\nnote = \"n\"\n";
        let e = parse(&format!("{twice}{twice}")).unwrap_err().to_string();
        assert!(
            e.contains("override #2 (test 7): the test is pinned twice"),
            "{e}"
        );
        let e = parse("[[override]]\ntest = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("o.toml") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn missing_file_is_no_overrides() {
        let rules = RuleSet::builtin().unwrap();
        let o = Overrides::load(Path::new("/nonexistent/overrides.toml"), &rules).unwrap();
        assert!(o.is_empty());
    }
}
