//! The vocabulary stored in the database, with the stable string forms used in SQL, the CLI
//! and reports. Changing a string here changes stored data: add, never rename.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DataError;

/// A name that is none of an enum's string forms: from the database, a flag or a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}' (known: {})", known.join(", "))]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
    pub known: &'static [&'static str],
}

/// Read back from the database, an unknown name means data this gnfc does not know.
impl From<UnknownName> for DataError {
    fn from(e: UnknownName) -> DataError {
        DataError::Corrupt(e.to_string())
    }
}

/// One mechanism for every stored vocabulary: variants with their stable string forms,
/// `ALL` in declaration order, `Display`/`FromStr`/serde all using the same strings.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident as $kind:literal {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// The string forms, in the order of `ALL`.
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownName {
                        kind: $kind,
                        value: other.to_owned(),
                        known: $name::NAMES,
                    }),
                }
            }
        }
    };
}

string_enum! {
    /// How one test (flake × implementation × resolver) ended.
    Outcome as "outcome" {
        /// Locked, enumerated, and every output evaluated.
        Pass = "pass",
        /// Some outputs evaluated, some failed.
        Partial = "partial",
        LockFail = "lock-fail",
        /// Locked, but the outputs could not even be listed.
        EnumerateFail = "enumerate-fail",
        /// The wall-clock limit ran out.
        Timeout = "timeout",
        /// gnfc's own fault (scratch dir, executor, missing binary): never blamed on a flake.
        HarnessError = "harness-error",
        /// The test does not apply: the resolver needs an artefact the flake does not have
        /// (the `committed` resolver and a repo without a flake.lock). Neither a pass nor a
        /// failure, so it counts in no share and never in a comparison.
        Skipped = "skipped",
    }
}

string_enum! {
    /// Who is to blame for a failure: the axis reports group by. An error class has one.
    Category as "category" {
        /// The Nix implementation misbehaves (crash, missing feature, regression).
        Implementation = "implementation",
        /// The flake itself is broken.
        Flake = "flake",
        /// Locking failed in a way specific to the resolver.
        Resolver = "resolver",
        /// Fetching failed: 404, TLS, rate limits, the proxy's offline misses.
        Network = "network",
        /// The flake uses something the implementation removed.
        Deprecated = "deprecated",
        /// gnfc's own fault, or the machine's.
        Harness = "harness",
        /// A resource limit ended the test: time, memory, processes.
        Limits = "limits",
        Unknown = "unknown",
    }
}

/// The class ids gnfc assigns itself, never a rule's (a rule file may not define them).
pub mod class {
    /// No rule matched.
    pub const UNKNOWN: &str = "unknown";
    /// The test's wall-clock limit ran out.
    pub const TIMEOUT: &str = "timeout";
    /// Killed at the container's memory limit.
    pub const OOM: &str = "oom";
    /// gnfc's own fault.
    pub const HARNESS_ERROR: &str = "harness-error";
}

impl Category {
    /// Whether a failure of this category says nothing about the flake or the
    /// implementation (the network's, gnfc's or a limit's fault): comparisons call a change
    /// to or from it spurious.
    pub fn is_spurious(self) -> bool {
        matches!(
            self,
            Category::Network | Category::Harness | Category::Limits
        )
    }
}

string_enum! {
    /// How one output's evaluation ended.
    OutputStatus as "output status" {
        Pass = "pass",
        Fail = "fail",
        Timeout = "timeout",
        /// Not evaluated because the test's time ran out before its turn.
        Skipped = "skipped",
    }
}

string_enum! {
    /// The steps of a test, in order; stderr is stored per stage.
    Stage as "stage" {
        /// Copying the source and making it a git tree: gnfc's work, not the flake's.
        Prepare = "prepare",
        Lock = "lock",
        Enumerate = "enumerate",
        Eval = "eval",
    }
}

string_enum! {
    /// How a result `b` relates to an earlier or reference result `a` of the same flake.
    /// Declared most alarming first: the order of tables and counts.
    Comparison as "comparison" {
        /// `a` passed, `b` fails for a reason of the flake or the implementation.
        Regressed = "regressed",
        /// `a` failed for a reason of the flake or the implementation, `b` passes.
        Fixed = "fixed",
        /// Both fail, with another error class.
        ChangedFailure = "changed-failure",
        /// `b` fails, but for the network, gnfc itself or a resource limit.
        SpuriousRegressed = "spurious-regressed",
        /// `b` passes where `a` failed for the network, gnfc itself or a resource limit.
        SpuriousFixed = "spurious-fixed",
        /// One side's result flipped when it was re-run: neither result is to be trusted.
        Flaky = "flaky",
        /// One side has no (recorded) result.
        Missing = "missing",
        /// One side's test did not apply (`skipped`): nothing to compare, never a regression.
        Skipped = "skipped",
        /// Both fail with the same class.
        SameFail = "same-fail",
        SamePass = "same-pass",
    }
}

impl Comparison {
    /// Whether the two sides differ in a way worth a person's look.
    pub fn is_change(self) -> bool {
        !matches!(
            self,
            Comparison::SamePass | Comparison::SameFail | Comparison::Skipped
        )
    }
}

/// How a test reads in lists and reports: `outcome (class)`, `pending` before it ran.
pub fn verdict(outcome: Option<Outcome>, class: Option<&str>) -> String {
    let outcome = outcome.map_or("pending", Outcome::as_str);
    match class {
        Some(class) => format!("{outcome} ({class})"),
        None => outcome.to_owned(),
    }
}

impl Outcome {
    /// Whether the test applied to its flake, so that it counts in pass and failure shares and
    /// in comparisons.
    pub fn applies(self) -> bool {
        self != Outcome::Skipped
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn string_forms_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), *o);
        }
        for s in OutputStatus::ALL {
            assert_eq!(s.as_str().parse::<OutputStatus>().unwrap(), *s);
        }
        for s in Stage::ALL {
            assert_eq!(s.as_str().parse::<Stage>().unwrap(), *s);
        }
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), *c);
        }
        for c in Comparison::ALL {
            assert_eq!(c.as_str().parse::<Comparison>().unwrap(), *c);
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        let err = "passed".parse::<Outcome>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown outcome 'passed' (known: pass, partial, lock-fail, enumerate-fail, \
             timeout, harness-error, skipped)"
        );
    }
}
