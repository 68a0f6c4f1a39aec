//! The comparison model: what changed for one flake between two results — two combos of one
//! run, or one combo in two runs. Every comparison in gnfc goes through [`compare`].

use std::fmt;
use std::str::FromStr;

use gnfc_data::class::TIMEOUT;
use gnfc_data::{Category, Outcome, OutputStatus};
use serde::{Serialize, Serializer};

/// How a result `b` relates to an earlier or reference result `a` of the same flake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Comparison {
    /// `a` passed, `b` fails for a reason of the flake or the implementation.
    Regressed,
    /// `a` failed for a reason of the flake or the implementation, `b` passes.
    Fixed,
    /// `b` fails, but for the network, gnfc itself or a resource limit.
    SpuriousRegressed,
    /// `b` passes where `a` failed for the network, gnfc itself or a resource limit.
    SpuriousFixed,
    /// Both fail, with another error class.
    ChangedFailure,
    /// Both fail with the same class.
    SameFail,
    SamePass,
    /// One side's result flipped when it was re-run: neither result is to be trusted.
    Flaky,
    /// One side has no (recorded) result.
    Missing,
    /// One side's test did not apply (`skipped`): nothing to compare, never a regression.
    Skipped,
}

impl Comparison {
    /// Every comparison, most alarming first: the order of tables and counts.
    pub const ALL: &'static [Comparison] = &[
        Comparison::Regressed,
        Comparison::Fixed,
        Comparison::ChangedFailure,
        Comparison::SpuriousRegressed,
        Comparison::SpuriousFixed,
        Comparison::Flaky,
        Comparison::Missing,
        Comparison::Skipped,
        Comparison::SameFail,
        Comparison::SamePass,
    ];

    /// The stable string form (JSON, CSV, CLI): add, never rename.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Regressed => "regressed",
            Comparison::Fixed => "fixed",
            Comparison::SpuriousRegressed => "spurious-regressed",
            Comparison::SpuriousFixed => "spurious-fixed",
            Comparison::ChangedFailure => "changed-failure",
            Comparison::SameFail => "same-fail",
            Comparison::SamePass => "same-pass",
            Comparison::Flaky => "flaky",
            Comparison::Missing => "missing",
            Comparison::Skipped => "skipped",
        }
    }

    /// Whether the two sides differ in a way worth a person's look.
    pub fn is_change(self) -> bool {
        !matches!(
            self,
            Comparison::SamePass | Comparison::SameFail | Comparison::Skipped
        )
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Comparison {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Comparison::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Comparison::ALL.iter().map(|c| c.as_str()).collect();
                format!("unknown comparison '{s}' (known: {})", known.join(", "))
            })
    }
}

impl Serialize for Comparison {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whether a stored category is one whose failures are the network's, gnfc's or a limit's
/// fault (see [`Category::is_spurious`]); an unknown string is not.
pub fn is_spurious_category(category: &str) -> bool {
    category
        .parse::<Category>()
        .is_ok_and(Category::is_spurious)
}

/// One result as the model sees it: a whole test, or one output of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side<'a> {
    pub passed: bool,
    /// The test did not apply to the flake.
    pub skipped: bool,
    pub class: Option<&'a str>,
    pub category: Option<&'a str>,
    pub flaky: bool,
}

impl<'a> Side<'a> {
    /// A test's side: anything but `pass` and `skipped` is a failure (a partial one fails
    /// some outputs).
    pub fn of_test(
        outcome: Outcome,
        class: Option<&'a str>,
        category: Option<&'a str>,
        flaky: bool,
    ) -> Side<'a> {
        Side {
            passed: outcome == Outcome::Pass,
            skipped: !outcome.applies(),
            class,
            category,
            flaky,
        }
    }

    /// An output's side. A timed-out or skipped output ran out of the test's time: a limit.
    pub fn of_output(
        status: OutputStatus,
        class: Option<&'a str>,
        category: Option<&'a str>,
    ) -> Side<'a> {
        let (class, category) = match status {
            OutputStatus::Pass | OutputStatus::Fail => (class, category),
            OutputStatus::Timeout => (class.or(Some(TIMEOUT)), Some(Category::Limits.as_str())),
            OutputStatus::Skipped => (Some("skipped"), Some(Category::Limits.as_str())),
        };
        Side {
            passed: status == OutputStatus::Pass,
            skipped: false,
            class,
            category,
            flaky: false,
        }
    }

    fn spurious(&self) -> bool {
        !self.passed && self.category.is_some_and(is_spurious_category)
    }
}

/// Compares `b` with `a` (`a` the old run, or the reference combo).
pub fn compare(a: Option<Side<'_>>, b: Option<Side<'_>>) -> Comparison {
    let (Some(a), Some(b)) = (a, b) else {
        return Comparison::Missing;
    };
    if a.skipped || b.skipped {
        return Comparison::Skipped;
    }
    if a.flaky || b.flaky {
        return Comparison::Flaky;
    }
    match (a.passed, b.passed) {
        (true, true) => Comparison::SamePass,
        (true, false) if b.spurious() => Comparison::SpuriousRegressed,
        (true, false) => Comparison::Regressed,
        (false, true) if a.spurious() => Comparison::SpuriousFixed,
        (false, true) => Comparison::Fixed,
        (false, false) if a.class == b.class => Comparison::SameFail,
        (false, false) => Comparison::ChangedFailure,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn pass() -> Option<Side<'static>> {
        Some(Side::of_test(Outcome::Pass, None, None, false))
    }

    fn skipped() -> Option<Side<'static>> {
        Some(Side::of_test(Outcome::Skipped, None, None, false))
    }

    fn fail(class: &'static str, category: &'static str) -> Option<Side<'static>> {
        Some(Side::of_test(
            Outcome::LockFail,
            Some(class),
            Some(category),
            false,
        ))
    }

    #[test]
    fn string_forms_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for c in Comparison::ALL {
            assert_eq!(c.as_str().parse::<Comparison>().unwrap(), *c);
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert!(seen.insert(c.as_str()));
        }
        assert_eq!(seen.len(), 10);
        let err = "regression".parse::<Comparison>().unwrap_err();
        assert!(err.contains("regressed"), "{err}");
    }

    #[test]
    fn every_pair_of_results_has_its_comparison() {
        let syntax = fail("syntax-error", "flake");
        let other = fail("follows-nonexistent", "flake");
        let net = fail("http-404", "network");
        let timeout = Some(Side::of_test(
            Outcome::Timeout,
            Some("timeout"),
            Some("limits"),
            false,
        ));
        let harness = fail("harness-error", "harness");
        let cases = [
            (pass(), pass(), Comparison::SamePass),
            (pass(), syntax, Comparison::Regressed),
            (syntax, pass(), Comparison::Fixed),
            (syntax, syntax, Comparison::SameFail),
            (syntax, other, Comparison::ChangedFailure),
            (pass(), net, Comparison::SpuriousRegressed),
            (pass(), timeout, Comparison::SpuriousRegressed),
            (pass(), harness, Comparison::SpuriousRegressed),
            (net, pass(), Comparison::SpuriousFixed),
            (net, syntax, Comparison::ChangedFailure),
            (timeout, timeout, Comparison::SameFail),
            (None, pass(), Comparison::Missing),
            (syntax, None, Comparison::Missing),
            (None, None, Comparison::Missing),
            (skipped(), pass(), Comparison::Skipped),
            (pass(), skipped(), Comparison::Skipped),
            (syntax, skipped(), Comparison::Skipped),
            (skipped(), skipped(), Comparison::Skipped),
            (skipped(), None, Comparison::Missing),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a:?} vs {b:?}");
        }
        let flaky = Some(Side::of_test(Outcome::Pass, None, None, true));
        assert_eq!(compare(syntax, flaky), Comparison::Flaky);
        assert_eq!(compare(flaky, pass()), Comparison::Flaky);
    }

    #[test]
    fn partial_is_a_failure_and_outputs_compare_on_their_own() {
        let partial = Some(Side::of_test(
            Outcome::Partial,
            Some("assertion-failed"),
            Some("flake"),
            false,
        ));
        assert_eq!(compare(pass(), partial), Comparison::Regressed);
        let ok = Side::of_output(OutputStatus::Pass, None, None);
        let bad = Side::of_output(OutputStatus::Fail, Some("assertion-failed"), Some("flake"));
        let slow = Side::of_output(OutputStatus::Timeout, None, None);
        let skipped = Side::of_output(OutputStatus::Skipped, None, None);
        assert_eq!(compare(Some(ok), Some(bad)), Comparison::Regressed);
        assert_eq!(compare(Some(bad), Some(ok)), Comparison::Fixed);
        assert_eq!(compare(Some(ok), Some(slow)), Comparison::SpuriousRegressed);
        assert_eq!(compare(Some(skipped), Some(ok)), Comparison::SpuriousFixed);
        assert_eq!(compare(Some(ok), None), Comparison::Missing);
    }
}
