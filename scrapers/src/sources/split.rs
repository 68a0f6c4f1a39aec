//! Splitting a search by repository-name prefix, for search APIs that stop at a cap.
//!
//! The names are cut into sets — a prefix followed by one of a range of characters, or one
//! exact name — that partition whatever set they were split from, so the parts of a search
//! together find each file once. How a set becomes a filter is the source's business:
//! Sourcegraph writes any set as a `repo:` regex, grep.app only a plain prefix, so it splits
//! further, until every part is one ([`NameSet::split_until`]).

use serde::{Deserialize, Serialize};

/// Characters of repository names (lower-cased: forges compare names case-insensitively),
/// in the order their ranges are split.
pub(crate) const ALPHABET: &[u8] = b"-./0123456789_abcdefghijklmnopqrstuvwxyz";
/// Prefixes longer than this stop splitting (the results are kept, with a warning).
const MAX_PREFIX: usize = 100;

/// A set of repositories: names starting with `prefix` followed by one of
/// `ALPHABET[lo..=hi]`, or (`exact`) the name `prefix` itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NameSet {
    pub(crate) prefix: String,
    pub(crate) lo: usize,
    pub(crate) hi: usize,
    #[serde(default)]
    pub(crate) exact: bool,
}

impl NameSet {
    /// Every name.
    pub(crate) fn all() -> NameSet {
        NameSet {
            prefix: String::new(),
            lo: 0,
            hi: ALPHABET.len() - 1,
            exact: false,
        }
    }

    pub(crate) fn is_all(&self) -> bool {
        self == &NameSet::all()
    }

    /// The characters that may follow the prefix.
    pub(crate) fn next_chars(&self) -> &'static [u8] {
        &ALPHABET[self.lo..=self.hi]
    }

    /// The one prefix every name of the set starts with and no name outside it does, when
    /// there is one: an exact name, or a prefix followed by a single character. (For an exact
    /// name, longer names share the prefix too; [`NameSet::contains`] tells them apart.)
    pub(crate) fn literal(&self) -> Option<String> {
        if self.exact {
            Some(self.prefix.clone())
        } else if self.lo == self.hi {
            Some(format!("{}{}", self.prefix, ALPHABET[self.lo] as char))
        } else {
            None
        }
    }

    /// Whether `name` (any case) is in the set.
    pub(crate) fn contains(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        if self.exact {
            return name == self.prefix;
        }
        name.strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.bytes().next())
            .is_some_and(|b| self.next_chars().contains(&b))
    }

    /// Two or more smaller sets covering this one, or none when it cannot shrink: the range
    /// is halved, and a range of one character becomes the name ending there and the names
    /// going on.
    pub(crate) fn split(&self) -> Vec<NameSet> {
        if self.exact || self.prefix.len() >= MAX_PREFIX {
            return Vec::new();
        }
        if self.lo < self.hi {
            let mid = (self.lo + self.hi) / 2;
            return vec![
                NameSet {
                    hi: mid,
                    ..self.clone()
                },
                NameSet {
                    lo: mid + 1,
                    ..self.clone()
                },
            ];
        }
        let prefix = format!("{}{}", self.prefix, ALPHABET[self.lo] as char);
        vec![
            NameSet {
                prefix: prefix.clone(),
                lo: 0,
                hi: 0,
                exact: true,
            },
            NameSet {
                prefix,
                ..NameSet::all()
            },
        ]
    }

    /// [`NameSet::split`], each part split again until `fits` it: the sets a source whose
    /// filter expresses only some sets can search. None when some part cannot shrink.
    pub(crate) fn split_until(&self, fits: &dyn Fn(&NameSet) -> bool) -> Vec<NameSet> {
        let mut parts = Vec::new();
        for part in self.split() {
            if fits(&part) {
                parts.push(part);
                continue;
            }
            let deeper = part.split_until(fits);
            if deeper.is_empty() {
                return Vec::new();
            }
            parts.extend(deeper);
        }
        parts
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    /// Names with every character of the alphabet at the first, second and third place.
    fn names() -> Vec<String> {
        let mut names = Vec::new();
        for &a in ALPHABET {
            names.push((a as char).to_string());
            for &b in ALPHABET.iter().step_by(7) {
                names.push(format!("{}{}", a as char, b as char));
                names.push(format!("{}{}x", a as char, b as char));
            }
        }
        names.push("Github.com/NixOS/nix".to_owned());
        names
    }

    /// Each name in exactly one part, and only names of the whole in any part.
    fn assert_partition(whole: &NameSet, parts: &[NameSet]) {
        assert!(!parts.is_empty());
        for name in names() {
            let holders = parts.iter().filter(|p| p.contains(&name)).count();
            let expected = usize::from(whole.contains(&name));
            assert_eq!(holders, expected, "{name} in {holders} parts of {whole:?}");
        }
    }

    #[test]
    fn splits_partition_the_set_they_split() {
        let mut todo = vec![NameSet::all()];
        let mut checked = 0;
        while let Some(set) = todo.pop() {
            if set.prefix.len() > 1 {
                continue;
            }
            let parts = set.split();
            if parts.is_empty() {
                assert!(set.exact);
                continue;
            }
            assert_partition(&set, &parts);
            checked += 1;
            todo.extend(parts);
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn splitting_to_literal_prefixes_partitions_too() {
        let fits = |s: &NameSet| s.literal().is_some();
        let root = NameSet::all().split_until(&fits);
        assert_eq!(root.len(), ALPHABET.len(), "one part a first character");
        assert_partition(&NameSet::all(), &root);
        let a = root
            .iter()
            .find(|s| s.literal().as_deref() == Some("a"))
            .unwrap();
        let deeper = a.split_until(&fits);
        assert_eq!(
            deeper.len(),
            ALPHABET.len() + 1,
            "`a` itself, and `a` going on"
        );
        assert_eq!(deeper[0].literal().as_deref(), Some("a"));
        assert!(deeper[0].exact);
        assert_partition(a, &deeper);
        assert!(deeper.iter().all(|s| s.literal().is_some()));
    }

    #[test]
    fn long_prefixes_stop_splitting() {
        let long = NameSet {
            prefix: "x".repeat(MAX_PREFIX - 1),
            lo: 3,
            hi: 3,
            exact: false,
        };
        assert_eq!(long.split().len(), 2);
        assert!(long.split_until(&|s| s.literal().is_some()).is_empty());
    }
}
