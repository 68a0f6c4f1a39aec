//! Names every failure.
//!
//! A failing stage's stderr is matched against an ordered list of rules; the first rule that
//! matches names the error class. All rules of a stage are compiled into one
//! [`regex::bytes::RegexSet`], so stderr is scanned once however many rules there are; only
//! the winning rule's own regex runs again, to capture its `detail` group.
//!
//! Rules come from TOML files (`classifier/rules/*.toml` are built in, in name order; users add
//! their own, which come after). Order is precedence:
//!
//! ```toml
//! [[rule]]
//! id = "relative-path-outside-store"
//! pattern = '''relative path '(?P<detail>[^']*)' points outside of its parent's store path'''
//! category = "flake"
//! stage = "any"
//! implementation = ["nix-*"]      # optional
//! description = "a path: input reaches above the flake's own source tree"
//! tracking = "https://..."         # optional
//! ```
//!
//! Around the matching: [`Overrides`] pin reviewed tests to a class, [`RuleSetBuilder`] loads
//! the user's files (with a candidate rule, to try it), and [`triage`] groups what stays
//! `unknown` by its normalised first error line and scores candidate rules against it.

mod builder;
mod builtin;
mod error;
mod overrides;
mod rules;
mod spec;
pub mod triage;

pub use builder::RuleSetBuilder;
pub use error::RuleError;
pub use overrides::{Override, Overrides};
pub use rules::{builtin_sources, Class, Explanation, Hit, Input, RuleSet, SET_SIZE_LIMIT};
pub use spec::{Category, ImplementationFilter, RuleSpec, RuleStage};
