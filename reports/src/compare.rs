//! The comparison model: what changed for one flake between two results — two combos of one
//! run, or one combo in two runs. Every comparison in gnfc goes through [`compare`].

use gnfc_data::class::TIMEOUT;
pub use gnfc_data::Comparison;
use gnfc_data::{Category, Outcome, OutputStatus};

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
    fn string_forms_are_distinct_and_name_the_known_ones() {
        let seen: std::collections::HashSet<_> = Comparison::NAMES.iter().collect();
        assert_eq!(seen.len(), 10);
        let err = "regression".parse::<Comparison>().unwrap_err().to_string();
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
