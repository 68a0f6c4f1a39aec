//! Checking a run against the expectations shipped with conformance flakes.
//!
//! A conformance flake carries an `expect.toml` beside its flake file: the outcome (and error
//! class) it must get, by default and per resolver, implementation or combo. `gnfc corpus
//! check` compares a run with them, so an implementation's behaviour change shows up as a
//! named mismatch rather than as a shifted percentage.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gnfc_data::{verdict, Db, FlakeRow, Outcome, TestRow};
use serde::Deserialize;

/// The file next to a flake that holds its expectations.
pub const EXPECT_FILE: &str = "expect.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Verdict {
    outcome: Outcome,
    #[serde(default)]
    class: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    /// What the flake exercises, for people.
    pub behaviour: String,
    #[serde(flatten)]
    default: Verdict,
    #[serde(default)]
    implementation: BTreeMap<String, Verdict>,
    #[serde(default)]
    resolver: BTreeMap<String, Verdict>,
    #[serde(default)]
    combo: BTreeMap<String, Verdict>,
}

impl ExpectFile {
    pub fn parse(text: &str) -> Result<ExpectFile, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    /// The expected (outcome, class) for a combo: combo beats resolver beats implementation
    /// beats the default.
    pub fn expected(&self, implementation: &str, resolver: &str) -> (Outcome, Option<&str>) {
        let v = self
            .combo
            .get(&format!("{implementation}/{resolver}"))
            .or_else(|| self.resolver.get(resolver))
            .or_else(|| self.implementation.get(implementation))
            .unwrap_or(&self.default);
        (v.outcome, v.class.as_deref())
    }
}

/// A test whose result differs from its flake's expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub flake: String,
    pub combo: String,
    pub expected: String,
    pub got: String,
}

/// Result of a check: the mismatches, how many tests had an expectation, and the flakes
/// that have none.
#[derive(Debug, Default)]
pub struct Check {
    pub checked: usize,
    pub without_expectation: usize,
    /// Flakes without an `expect.toml`, by name, once each.
    pub flakes_without_expectation: Vec<String>,
    pub mismatches: Vec<Mismatch>,
}

/// Compares every test of a run with the `expect.toml` in its flake's snapshot.
pub async fn check_run(db: &Db, run_id: i64) -> anyhow::Result<Check> {
    let flakes: HashMap<i64, _> = db
        .run_flakes(run_id)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut files: HashMap<i64, Option<ExpectFile>> = HashMap::new();
    let mut check = Check::default();
    for test in db.tests(run_id).await? {
        let Some(flake) = flakes.get(&test.flake_id) else {
            continue;
        };
        let file = match files.entry(flake.id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let file = read_expectations(flake)?;
                if file.is_none() {
                    check.flakes_without_expectation.push(test.flake.clone());
                }
                e.insert(file)
            }
        };
        let Some(file) = file else {
            check.without_expectation += 1;
            continue;
        };
        check.checked += 1;
        if let Some(mismatch) = compare(&test, file) {
            check.mismatches.push(mismatch);
        }
    }
    Ok(check)
}

/// A flake's expectations, `None` when it ships none.
fn read_expectations(flake: &FlakeRow) -> anyhow::Result<Option<ExpectFile>> {
    let path = Path::new(&flake.source_dir)
        .join(&flake.subdir)
        .join(EXPECT_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            ExpectFile::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

fn compare(test: &TestRow, file: &ExpectFile) -> Option<Mismatch> {
    let (outcome, class) = file.expected(&test.implementation, &test.resolver);
    let expected = verdict(Some(outcome), class);
    let got = verdict(test.outcome, test.class.as_deref());
    (expected != got).then(|| Mismatch {
        flake: test.flake.clone(),
        combo: format!("{}/{}", test.implementation, test.resolver),
        expected,
        got,
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    const FILE: &str = r#"
behaviour = "b"
outcome = "lock-fail"
class = "flake-edition"
[resolver.committed]
outcome = "skipped"
[implementation."nix-2.34"]
outcome = "pass"
[combo."nix-2.34/committed"]
outcome = "partial"
class = "x"
"#;

    #[test]
    fn precedence_is_combo_resolver_implementation_default() {
        let f = ExpectFile::parse(FILE).unwrap();
        assert_eq!(
            f.expected("nix-2.8", "native"),
            (Outcome::LockFail, Some("flake-edition"))
        );
        assert_eq!(f.expected("nix-2.8", "committed"), (Outcome::Skipped, None));
        assert_eq!(f.expected("nix-2.34", "native"), (Outcome::Pass, None));
        assert_eq!(
            f.expected("nix-2.34", "committed"),
            (Outcome::Partial, Some("x"))
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(
            ExpectFile::parse("behaviour = \"b\"\noutcome = \"pass\"\nclas = \"x\"\n").is_err()
        );
        assert!(ExpectFile::parse("behaviour = \"b\"\noutcome = \"passed\"\n").is_err());
    }
}
